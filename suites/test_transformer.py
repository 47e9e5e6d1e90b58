"""Transformers at initialization (the transformer family, gradbench.specs.TransformerSpec).

Claims (docs/claims.md; docs/theory.md sections in brackets):
- ``preln_stream_growth``: in a Pre-LN encoder stack the second moment of token 0's
  residual stream (causal mask, or one token) follows the exact law
  q <- alpha^2 q + s_V^2 s_O^2 (attention), q <- alpha^2 q + s_2^2 E phi(s_1 z)^2 (FFN),
  the refinement of Xiong et al. 2020, Lemma 2 [10]; drawn over depth, activation, Gaussian
  initializer, heads, FFN width (d_ff = 2d or 4d, where a weight drawn at the wrong fan
  shows), skip scale alpha and branch gain beta. An FFN output weight drawn at fan-in d in
  place of d_ff fails it (tests/mutants.py).
- ``preln_gradient_profile``: in a one-token Pre-LN stack with its final LayerNorm and a
  positively homogeneous FFN activation, E|g_l|^2 q_l is the same at every sublayer site
  and equals |R|^2 = 1, so the gradient falls as q_l^-1/2 (Xiong et al. 2020's L^-1/2)
  [10.4]; drawn over depth, homogeneous activation, Gaussian initializer, FFN width, skip
  scale and branch gain. Dropping the final LayerNorm fails it (tests/mutants.py).
- ``postln_sublayer_gain``: in a Post-LN stack the last sublayer (the FFN), under the
  isotropic random readout, multiplies E|g|^2 by (alpha^2 + c_J)/(alpha^2 + c_F)
  (1 - (2 - 3r)/d), r = c_F/(alpha^2 + c_F), within a calibrated band [10.6];
  drawn over depth, activation (homogeneous or not), Gaussian initializer, attention,
  mask, FFN width, skip scale and branch gain. LayerNorm statistics detached from the
  graph fail it (tests/mutants.py).
The probe of every transformer variant against its torch.nn reference is in
test_reference.py (``probe_equals_reference``).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import gradbench as gb
from gradbench.suite import budget

PRELN_SEEDS = 64
"""Networks per case: each is a few thousand multiply-adds, so 64 cost little."""
PRELN_BATCH = 4


@budget(3 / 15)
@given(depth=st.integers(1, 6), activation=st.sampled_from(["relu", "gelu", "tanh"]),
       init=st.sampled_from(["he_normal", "lecun_normal", "xavier_normal"]),
       heads=st.sampled_from([1, 2, 4]), ffn=st.sampled_from([2, 4]),
       one_token=st.booleans(), skip_scale=st.sampled_from([1.0, 0.8, 1.2]),
       branch_gain=st.sampled_from([1.0, 0.5, 1.5]))
def test_preln_stream_growth(depth, activation, init, heads, ffn, one_token, skip_scale,
                             branch_gain, run_claim):
    """Pre-LN: token 0's stream second moment follows the exact per-sublayer law."""
    spec = gb.TransformerSpec(depth=depth, width=32, heads=heads, seq=1 if one_token else 4,
                              ffn=ffn, activation=activation, init=init, placement="pre",
                              skip_scale=skip_scale, branch_gain=branch_gain,
                              causal=not one_token)
    run_claim(spec, "preln_stream_growth", seeds=PRELN_SEEDS, batch=PRELN_BATCH)


PROFILE_SEEDS = 64
"""Networks per case: one-token stacks of width 32 are cheap; the drift's standard error is
about 0.05 at 64 networks (docs/theory.md §10.4)."""


@budget(3 / 15)
@given(depth=st.integers(1, 6), activation=st.sampled_from(["relu", "leaky_relu", "linear"]),
       init=st.sampled_from(["he_normal", "lecun_normal", "xavier_normal"]),
       ffn=st.sampled_from([2, 4]), skip_scale=st.sampled_from([1.0, 0.8, 1.2]),
       branch_gain=st.sampled_from([1.0, 0.5, 1.5]))
def test_preln_gradient_profile(depth, activation, init, ffn, skip_scale, branch_gain,
                                run_claim):
    """Pre-LN, one token: |g_l|^2 q_l is conserved down the stack and equals |R|^2."""
    spec = gb.TransformerSpec(depth=depth, width=32, seq=1, ffn=ffn, activation=activation,
                              init=init, placement="pre", skip_scale=skip_scale,
                              branch_gain=branch_gain)
    run_claim(spec, "preln_gradient_profile", seeds=PROFILE_SEEDS, batch=PRELN_BATCH)


POSTLN_SEEDS = 256
"""Networks per case: the top sublayer's ln gain has a standard error of about 0.15/d at
256 networks of 8 examples of 8 tokens (docs/theory.md §10.6)."""
POSTLN_BATCH = 8


@budget(2 / 15)
@given(depth=st.integers(1, 4), activation=st.sampled_from(["relu", "gelu", "tanh", "linear"]),
       init=st.sampled_from(["he_normal", "lecun_normal", "xavier_normal"]),
       attention=st.sampled_from(["softmax", "uniform"]), causal=st.booleans(),
       ffn=st.sampled_from([2, 4]), skip_scale=st.sampled_from([1.0, 0.8, 1.2]),
       branch_gain=st.sampled_from([1.0, 0.5]))
def test_postln_sublayer_gain(depth, activation, init, attention, causal, ffn, skip_scale,
                              branch_gain, run_claim):
    """Post-LN: the last sublayer's squared backward gain is
    (alpha^2 + c_J)/(alpha^2 + c_F) (1 - (2 - 3r)/d) up to the calibrated O(1/d^2) band."""
    spec = gb.TransformerSpec(depth=depth, width=32, seq=8, ffn=ffn, activation=activation,
                              init=init, placement="post", attention=attention, causal=causal,
                              skip_scale=skip_scale, branch_gain=branch_gain)
    run_claim(spec, "postln_sublayer_gain", seeds=POSTLN_SEEDS, batch=POSTLN_BATCH)
