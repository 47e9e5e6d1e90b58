r"""Attention at initialization: the token Gram matrix under uniform attention, and the
collapse of the query/key gradients at rank one (docs/theory.md §10.3).

**Uniform attention's Gram recursion.** With ``W_Q = 0`` every score is 0 and each head's
attention matrix is the averaging matrix ``P`` (:func:`averaging_matrix`): ``1/n``
everywhere, or under a causal mask row ``i`` equal to ``1/(i+1)`` on positions ``<= i``. The
attention sublayer is then the linear map ``X -> P X M^T`` with ``M = W_O W_V`` (the heads
share ``P``), and for i.i.d. zero-mean weights independent of ``X``, with
``K = X X^T / d`` the token Gram matrix,

.. math::

    E[K' \mid X] = \alpha^2 K + s_V^2 s_O^2\, P K P^T
    \quad\text{(attention)},\qquad
    E[K' \mid X] = (\alpha^2 + s_1^2 s_2^2)\, K \quad\text{(linear FFN)},

for the update ``x <- alpha x + F(x)`` (placement ``"none"``). Both maps are linear in ``K``,
so the tower property makes ``E K_l`` exact at every depth and width
(:func:`uniform_attention_gram`).

**Query/key gradients at rank one.** Softmax is invariant to adding a constant to a row of
scores, so its backward ``dS = P * (G - rowsum(P * G))`` has rows summing to zero. When all
tokens are equal the keys are equal, so ``dQ = dS K / sqrt(d_h) = 0`` and
``dW_K = sum_j dK_j x_j^T = (sum_ij dS_ij) q x^T = 0``: the loss does not depend on W_Q or
W_K at all (Noci et al. 2022, arXiv:2206.03126, rank collapse). Near rank one, tokens
``x_j = b + s e_j`` give ``dS = O(s)`` and key deviations ``O(s)``, so
``||dW_{Q,K}|| = O(s^2)`` while ``||dW_V|| = O(1)``; the tokens' mean cosine similarity
``rho`` has ``1 - rho = O(s^2)`` (the cosine is stationary at equal vectors), hence
``||dW_{Q,K}|| / ||dW_V|| ~ c (1 - rho)``: slope 1 in log-log (:data:`QK_SLOPE`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbench import registry
from gradbench.specs import TransformerSpec, transformer_weight_variances
from gradbench.theory._predict import readonly

UNIFORM_SOURCE = ("Noci et al. 2022, 'Signal Propagation in Transformers: Theoretical "
                  "Perspectives and the Role of Rank Collapse', arXiv:2206.03126 (uniform "
                  "attention and rank collapse at initialization); the exact recursion with "
                  "skip scale and a linear FFN derived in docs/theory.md §10.3")
QK_SOURCE = ("Noci et al. 2022, arXiv:2206.03126 (query and key gradients vanish under rank "
             "collapse); the exact zero at rank one and the rate derived in docs/theory.md "
             "§10.3")
QK_SLOPE = 1.0
"""d ln(||grad W_Q,K|| / ||grad W_V||) / d ln(1 - rho) as the tokens approach rank one."""
PURE_SOURCE = ("Dong, Cordonnier & Loukas 2021, 'Attention is not all you need: pure attention "
               "loses rank doubly exponentially with depth', ICML, arXiv:2103.03404; the "
               "leading cubic term and the exponent of one sublayer derived in docs/theory.md "
               "§10.5")
PURE_SLOPE = 3.0
"""d ln r_out / d ln r_in of a softmax attention sublayer without skip as r -> 0."""
SKIP_SLOPE = 1.0
"""The same with a skip ``alpha x`` (alpha > 0): the skip carries the residual through."""
MIN_SKIP = 0.1
"""Smallest skip scale of the slope-1 domain: the cubic term overtakes ``alpha r`` near
``r ~ sqrt(alpha)``, far above the claim's spreads (docs/theory.md §10.5)."""
MAX_SCORE_SCALE = 8.0
"""Largest ``input_var sqrt(s_Q^2 s_K^2)`` of the domain: the slope's O(r) correction grows
with the scores' scale, and the band is calibrated up to 8 (docs/theory.md §10.5)."""


def averaging_matrix(seq: int, causal: bool) -> np.ndarray:
    """``P`` of uniform attention: ``1/n`` everywhere, or (causal) row i ``1/(i+1)`` on
    positions ``<= i`` and 0 after; every row sums to 1.

    Examples:
        >>> averaging_matrix(3, True).round(3).tolist()
        [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.333, 0.333, 0.333]]
    """
    if not causal:
        return readonly(np.full((seq, seq), 1.0 / seq))
    lower = np.tril(np.ones((seq, seq)))
    return readonly(lower / lower.sum(axis=1, keepdims=True))


def uniform_attention_gram(
    depth: int, seq: int, *, causal: bool, k0: float | np.ndarray, v: float, o: float,
    w1: float, w2: float, skip: float = 1.0, layer_gain_exponent: float = 0.0,
) -> np.ndarray:
    r"""Exact ``E K`` (``[2 depth, n, n]``) after each sublayer of a uniform-attention stack
    with a linear FFN and no normalization (docs/theory.md §10.3).

    ``K = X X^T / d`` is the token Gram matrix of one example; ``k0`` its input value (a
    scalar means ``k0 I``: i.i.d. inputs of that variance). Sites alternate:

    * attention: :math:`K' = \alpha^2 K + g_l^2\, v\, o\, P K P^T`;
    * FFN (identity activation): :math:`K' = (\alpha^2 + g_l^2\, w_1 w_2)\, K`,

    ``v, o, w1, w2`` each weight's variance times its fan-in (branch gain included),
    ``alpha = skip`` and ``g_l^2 = l^{-4 p}`` the layer gain of block ``l`` on both matrices
    of a product (``p = layer_gain_exponent``). Exact in expectation over i.i.d. zero-mean
    weights independent of the input, at any width.

    Examples:
        >>> k = uniform_attention_gram(1, 2, causal=False, k0=1.0, v=1.0, o=1.0, w1=1.0, w2=1.0)
        >>> k[0].tolist(), k[1].tolist()
        ([[1.5, 0.5], [0.5, 1.5]], [[3.0, 1.0], [1.0, 3.0]])
    """
    p = averaging_matrix(seq, causal)
    k = np.asarray(k0, dtype=np.float64) * (np.eye(seq) if np.ndim(k0) == 0 else 1.0)
    a2, out = skip * skip, []
    for block in range(1, depth + 1):
        g2 = float(block) ** (-4.0 * layer_gain_exponent)
        k = a2 * k + g2 * v * o * (p @ k @ p.T)
        out.append(k)
        k = (a2 + g2 * w1 * w2) * k
        out.append(k)
    return readonly(np.array(out))


def uniform_gram_domain(spec: Any) -> str | None:
    """Why :func:`uniform_gram_of` is not exact for ``spec``, or None."""
    if not isinstance(spec, TransformerSpec):
        return "the uniform-attention Gram law is for TransformerSpec"
    if spec.attention != "uniform":
        return (f"attention={spec.attention!r}: the law needs uniform attention (W_Q = 0), "
                "whose attention matrix does not depend on the tokens")
    if spec.placement != "none":
        return (f"placement={spec.placement!r}: LayerNorm divides each token by its own "
                "norm, which the Gram recursion does not track (use placement='none')")
    if spec.activation != "linear":
        return (f"activation={spec.activation!r}: only a linear FFN maps K linearly; a "
                "nonlinear one gives the arc-cosine map, exact given K but not in expectation "
                "over depth (use activation='linear')")
    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    if dist not in ("normal", "uniform"):
        return (f"initializer {spec.init!r} draws {dist!r} weights; the law needs i.i.d. "
                "zero-mean entries (distribution 'normal' or 'uniform')")
    return None


def uniform_gram_of(spec: TransformerSpec) -> np.ndarray:
    """:func:`uniform_attention_gram` with ``spec``'s declared variances (``[2 depth, n, n]``)."""
    s2 = transformer_weight_variances(spec)
    return uniform_attention_gram(
        spec.depth, spec.seq, causal=spec.causal, k0=spec.input_var, v=s2["V"], o=s2["O"],
        w1=s2["W1"], w2=s2["W2"], skip=spec.skip_scale,
        layer_gain_exponent=spec.layer_gain_exponent)


def qk_collapse_domain(spec: Any) -> str | None:
    """Why claim ``qk_gradient_collapse`` does not apply to ``spec``, or None."""
    if not isinstance(spec, TransformerSpec):
        return "the query/key gradient collapse is about TransformerSpec"
    if spec.seq < 2:
        return "seq=1: one token is always rank one; the claim needs seq >= 2"
    if spec.placement == "none":
        return ("placement='none': without LayerNorm the stream, hence the score scale, grows "
                "with depth, and the fixed token spreads 1e-4, 1e-5 are no longer near rank one "
                "on that scale (the slope's O(s) correction is unbounded); use 'pre' or 'post'")
    if spec.attention != "softmax":
        return (f"attention={spec.attention!r}: with W_Q = 0 the key gradient is 0 for every "
                "input; the claim is about softmax attention")
    return None


def collapse_slope(spec: TransformerSpec) -> float:
    """The exponent of ``r`` across one attention sublayer: :data:`PURE_SLOPE` without a
    skip (``skip_scale == 0``), :data:`SKIP_SLOPE` with one."""
    return PURE_SLOPE if spec.skip_scale == 0 else SKIP_SLOPE


def pure_collapse_domain(spec: Any) -> str | None:
    """Why claim ``pure_attention_collapse`` does not apply to ``spec``, or None."""
    if not isinstance(spec, TransformerSpec):
        return "the pure-attention collapse is about TransformerSpec"
    if spec.seq < 2:
        return "seq=1: one token is always rank one; the claim needs seq >= 2"
    if spec.attention != "softmax":
        return (f"attention={spec.attention!r}: with W_Q = 0 every row of the attention "
                "matrix is 1/n, so its output is exactly rank one; the claim is about softmax "
                "attention")
    if spec.causal:
        return ("causal=True: under a causal mask the rows of the attention matrix average "
                "different sets of keys and differ at O(1), so the exponent is 1, not 3 "
                "(docs/theory.md §10.5); the claim needs a bidirectional mask")
    if 0 < spec.skip_scale < MIN_SKIP:
        return (f"skip_scale={spec.skip_scale!r}: between 0 and {MIN_SKIP:g} the cubic term "
                "and the skip's linear one cross near the claim's spreads; use 0 (exponent 3) "
                f"or >= {MIN_SKIP:g} (exponent 1)")
    s2 = transformer_weight_variances(spec)
    scale = spec.input_var * float(np.sqrt(s2["Q"] * s2["K"]))
    if scale > MAX_SCORE_SCALE:
        return (f"input_var * sqrt(s_Q^2 s_K^2) = {scale:.3g} > {MAX_SCORE_SCALE:g}: the "
                "slope's O(r) correction grows with the scores' scale and the band is "
                f"calibrated up to {MAX_SCORE_SCALE:g}; use a smaller input_var or initializer")
    return None


__all__ = ["MAX_SCORE_SCALE", "MIN_SKIP", "PURE_SLOPE", "PURE_SOURCE", "QK_SLOPE", "QK_SOURCE",
           "SKIP_SLOPE", "UNIFORM_SOURCE", "averaging_matrix", "collapse_slope",
           "pure_collapse_domain", "qk_collapse_domain",
           "uniform_attention_gram", "uniform_gram_domain", "uniform_gram_of"]
