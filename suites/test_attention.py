"""Attention at initialization (the transformer family, gradbench.specs.TransformerSpec).

Claims (docs/claims.md; docs/theory.md §10.3):
- ``uniform_attention_kernel``: with uniform attention (W_Q = 0), no normalization and a
  linear FFN the mean token Gram matrix follows the exact recursion
  K <- alpha^2 K + s_V^2 s_O^2 P K P^T, K <- (alpha^2 + s_1^2 s_2^2) K; drawn over depth,
  heads, sequence length, FFN width, i.i.d. initializers, skip scale alpha, branch gain beta,
  causal or bidirectional. A softmax over the query axis, or a causal mask applied after the
  softmax without renormalising, fails it (tests/mutants.py).
- ``qk_gradient_collapse``: on a rank-one input the gradients of W_Q and W_K are exactly 0,
  and near rank one ||grad W_{Q,K}|| / ||grad W_V|| ~ 1 - rho (slope 1); drawn over Pre-LN
  and Post-LN, mask, depth, activation and initializer. Elementwise sigmoid attention fails
  it.
- ``pure_attention_collapse`` (docs/theory.md §10.5, Dong et al. 2021): near rank one a
  bidirectional softmax attention sublayer without a skip cubes the tokens' residual ratio
  (exponent 3), with a skip it keeps it (exponent 1); drawn over placement, depth, heads,
  width, sequence length, initializer and branch gain. A hidden skip in the attention path
  (A + I) or identity attention weights fail it (tests/mutants.py).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradbench as gb
from gradbench.suite import budget

UNIFORM_SEEDS = 64
"""Networks per uniform-attention case: linear, d = 32, a few thousand multiply-adds each."""
UNIFORM_BATCH = 4
QK_SEEDS = 4
"""Networks per query/key case: the check is exact per network (no sampling error)."""
QK_BATCH = 2
COLLAPSE_SEEDS = 2
"""Networks per pure-attention case: the check is exact per (network, block, example)."""
COLLAPSE_BATCH = 2


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@budget(2 / 15)
@given(depth=st.integers(1, 4), heads=st.sampled_from([1, 2, 4]), seq=st.sampled_from([3, 4, 6]),
       ffn=st.sampled_from([1, 2, 4]),
       init=st.sampled_from(["lecun_normal", "xavier_normal", "xavier_uniform", "torch_default"]),
       skip_scale=st.sampled_from([1.0, 0.8]), branch_gain=st.sampled_from([1.0, 0.7]))
def test_uniform_attention_kernel(causal, depth, heads, seq, ffn, init, skip_scale, branch_gain,
                                  run_claim):
    """Uniform attention, linear FFN: the mean Gram matrix follows the exact recursion. The
    mask is a parameter, not drawn: the planted bugs on the query axis and on the causal
    mask show only with a mask, so every run has causal cases."""
    spec = gb.TransformerSpec(depth=depth, width=32, heads=heads, seq=seq, ffn=ffn,
                              activation="linear", init=init, placement="none",
                              attention="uniform", skip_scale=skip_scale,
                              branch_gain=branch_gain, causal=causal)
    run_claim(spec, "uniform_attention_kernel", seeds=UNIFORM_SEEDS, batch=UNIFORM_BATCH)


@budget(4 / 15)
@given(depth=st.integers(1, 4), heads=st.sampled_from([1, 2, 4]), seq=st.sampled_from([2, 4, 6]),
       ffn=st.sampled_from([1, 2]), activation=st.sampled_from(["relu", "gelu", "tanh"]),
       init=st.sampled_from(["he_normal", "xavier_normal", "xavier_uniform", "orthogonal"]),
       placement=st.sampled_from(["pre", "post"]), causal=st.booleans(),
       skip_scale=st.sampled_from([1.0, 0.8, 1.2]), branch_gain=st.sampled_from([1.0, 0.5]))
def test_qk_gradient_collapse(depth, heads, seq, ffn, activation, init, placement, causal,
                              skip_scale, branch_gain, run_claim):
    """Softmax attention: zero query/key gradients at rank one, ~ (1 - rho) near it."""
    spec = gb.TransformerSpec(depth=depth, width=16, heads=heads, seq=seq, ffn=ffn,
                              activation=activation, init=init, placement=placement,
                              causal=causal, skip_scale=skip_scale, branch_gain=branch_gain)
    run_claim(spec, "qk_gradient_collapse", seeds=QK_SEEDS, batch=QK_BATCH)


@pytest.mark.parametrize("skip_scale", [0.0, 1.0], ids=["skipless", "skip"])
@budget(2 / 15)
@given(depth=st.integers(1, 3), width=st.sampled_from([8, 16]), heads=st.sampled_from([1, 2, 4]),
       seq=st.sampled_from([2, 3, 4, 6]),
       init=st.sampled_from(["he_normal", "xavier_normal", "xavier_uniform", "orthogonal",
                             "torch_default"]),
       placement=st.sampled_from(["none", "pre", "post"]), branch_gain=st.sampled_from([1.0, 0.5]))
def test_pure_attention_collapse(skip_scale, depth, width, heads, seq, init, placement,
                                 branch_gain, run_claim):
    """Bidirectional softmax attention near rank one: exponent 3 without a skip, 1 with one.
    The skip is a parameter, not drawn, so every run has skipless cases (the planted skips
    show only there)."""
    spec = gb.TransformerSpec(depth=depth, width=width, heads=heads, seq=seq, ffn=1,
                              init=init, placement=placement, skip_scale=skip_scale,
                              branch_gain=branch_gain)
    run_claim(spec, "pure_attention_collapse", seeds=COLLAPSE_SEEDS, batch=COLLAPSE_BATCH)
