r"""Transformers at initialization: the Pre-LN residual stream's second moment.

For a Pre-LN block ``x <- alpha x + F(LN(x))`` with LayerNorm without affine parameters,
the sublayer sees a vector of squared norm ``d var/(var + eps) ~ d`` whatever the stream's
scale, so each sublayer adds a fixed amount to the stream's second moment while the skip
multiplies it by ``alpha^2``. For token 0 under a causal mask (or a one-token sequence)
the attention row is ``e_0``, so the attention sublayer is the linear map ``W_O W_V``, and
with i.i.d. zero-mean weights independent of the stream, per coordinate of token 0
(docs/theory.md §10, which derives each step):

.. math::

    q_{\text{attn}} = \alpha^2 q + s_V^2 s_O^2, \qquad
    q_{\text{ffn}} = \alpha^2 q + s_2^2\, E\,\phi(s_1 z)^2,\quad z \sim N(0, 1),

where ``s^2`` is a weight's variance times its fan-in, branch gain included. This
refines Xiong et al. 2020 (arXiv:2002.04745), Lemma 2, where ``E|x_l|^2`` grows linearly
in l for Pre-LN (alpha = 1, ReLU FFN). Gradient growth through a transformer has no
prediction here (:func:`predict_transformer`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbench import registry
from gradbench.records import Prediction
from gradbench.specs import LAYERNORM_EPS, TransformerSpec, transformer_weight_variances
from gradbench.theory._activation import Activation, _moments, _resolve
from gradbench.theory._predict import no_prediction, readonly

PRELN_SOURCE = ("Xiong et al. 2020, 'On Layer Normalization in the Transformer Architecture', "
                "arXiv:2002.04745, Lemma 2; the exact refinement of docs/theory.md §10")


def predict_transformer(spec: TransformerSpec, batch: int | None = None) -> Prediction:
    """No prediction: gradbench has no gradient-growth theory for transformers.

    The forward second moment of a Pre-LN stream has an exact law
    (:func:`preln_stream_second_moment`, claim ``preln_stream_growth``), not its gradients.
    """
    return no_prediction(spec, "no mean-field theory of gradient growth through attention "
                         "and LayerNorm here; the Pre-LN stream's forward second moment has "
                         "its own law (theory.preln_stream_second_moment, claim "
                         "preln_stream_growth)")


def preln_stream_second_moment(
    depth: int, activation: Activation, *, q0: float, v: float, o: float, w1: float,
    w2: float, skip: float = 1.0,
) -> np.ndarray:
    r"""Exact ``E q`` per coordinate of token 0 of a Pre-LN stream after each sublayer.

    ``q`` is ``|x|^2 / d`` of the query at position 0 under a causal mask (or of the only
    token), ``q0`` the input's. Sites alternate attention and FFN sublayers, ``2 depth`` of
    them (docs/theory.md §10):

    * attention: :math:`q' = \alpha^2 q + v\,o` (the row of P is e_0: W_Q, W_K do not enter);
    * FFN: :math:`q' = \alpha^2 q + w_2\,E\,\phi(\sqrt{w_1} z)^2`, by Gaussian quadrature
      (:func:`gradbench.theory.gauss_expect`'s nodes).

    ``v, o, w1, w2`` are each weight's variance times its fan-in (``s^2``, branch gain
    included), ``skip`` is alpha. Exact in expectation for i.i.d. zero-mean Gaussian weights
    independent of the input, up to the LayerNorm's eps: the sublayer input has squared
    norm ``d var/(var + eps)``, a relative error below ``eps / var``. Source: Xiong et al.
    2020 (arXiv:2002.04745), Lemma 2 (alpha = 1, ReLU), refined in docs/theory.md §10.

    Examples:
        >>> [round(float(q), 12) for q in preln_stream_second_moment(
        ...     2, "relu", q0=1.0, v=1.0, o=1.0, w1=2.0, w2=1.0)]
        [2.0, 3.0, 4.0, 5.0]
    """
    act = _resolve(activation)
    ffn_term = w2 * _moments(act, w1).phi2  # E phi(sqrt(w1) z)^2 by quadrature
    alpha2, q, out = skip * skip, float(q0), []
    for _ in range(depth):
        q = alpha2 * q + v * o
        out.append(q)
        q = alpha2 * q + ffn_term
        out.append(q)
    return readonly(np.array(out))


def preln_domain(spec: Any) -> str | None:
    """Why :func:`preln_law_of` does not apply to ``spec`` exactly, or None."""
    if not isinstance(spec, TransformerSpec):
        return "the Pre-LN stream law is for TransformerSpec"
    if spec.placement != "pre":
        return (f"placement={spec.placement!r}: the law is for Pre-LN (placement='pre'), whose "
                "sublayers see a unit-variance LayerNorm output")
    if not (spec.causal or spec.seq == 1):
        return ("token 0 attends to itself alone only under a causal mask (or seq=1); "
                "bidirectional attention mixes tokens whose weights are not independent")
    if spec.layer_gain_exponent:
        return (f"layer_gain_exponent={spec.layer_gain_exponent}: the law takes one set of "
                "weight variances for every block")
    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    if dist != "normal":
        return (f"initializer {spec.init!r} draws {dist!r} weights; the FFN term "
                "E phi(s1 z)^2 needs Gaussian W1 (i.i.d. normal weights)")
    return None


def preln_law_of(spec: TransformerSpec) -> np.ndarray:
    """:func:`preln_stream_second_moment` with ``spec``'s declared variances (2 depth sites)."""
    s2 = transformer_weight_variances(spec)
    return preln_stream_second_moment(
        spec.depth, spec.activation, q0=spec.input_var, v=s2["V"],
        o=s2["O"], w1=s2["W1"], w2=s2["W2"], skip=spec.skip_scale)


PROFILE_SOURCE = ("Xiong et al. 2020, 'On Layer Normalization in the Transformer Architecture', "
                  "arXiv:2002.04745, Theorem 1 (the last FFN's gradient ~ L^-1/2); the "
                  "conserved product E|g_l|^2 q_l of docs/theory.md §10.4")


def profile_domain(spec: Any) -> str | None:
    """Why the Pre-LN gradient profile (docs/theory.md §10.4) does not hold for ``spec``.

    It needs every branch's forward gain to equal its backward gain: one token (attention
    is the linear map ``W_O W_V``) and a positively homogeneous FFN activation
    (``E phi(z)^2 = E phi'(z)^2 z^2 = E phi'(z)^2 E z^2``), plus the forward law's domain.
    """
    why = preln_domain(spec)
    if why is not None:
        return why
    if spec.seq != 1:
        return (f"seq={spec.seq}: with several tokens attention mixes them, and its forward "
                "and backward gains differ (the profile is for one token)")
    if not registry.lookup("activation", spec.activation).meta.get("homogeneous", False):
        return (f"activation {spec.activation!r} is not positively homogeneous: the FFN's "
                "forward gain E phi^2 and backward gain E phi'^2 differ")
    return None


def branch_shares(spec: TransformerSpec) -> np.ndarray:
    """``r_l = 1 - alpha^2 q_{l-1} / q_l`` per site (the law's): the branch's share of the
    stream's second moment after sublayer l; the profile's finite-width drift from site 1
    to site ``2N`` is O(sum_{l >= 2} r_l / d) (docs/theory.md §10.4)."""
    law = preln_law_of(spec)
    before = np.concatenate([[spec.input_var], law[:-1]])
    return readonly(1.0 - spec.skip_scale**2 * before / law)


POSTLN_SOURCE = ("Xiong et al. 2020, 'On Layer Normalization in the Transformer Architecture', "
                 "arXiv:2002.04745, §3 (Post-LN gradients); the per-sublayer gain and its "
                 "finite-width correction of docs/theory.md §10.6")


def postln_domain(spec: Any) -> str | None:
    """Why the Post-LN top-sublayer gain (docs/theory.md §10.6) does not apply to ``spec``."""
    if not isinstance(spec, TransformerSpec):
        return "the Post-LN sublayer gain is for TransformerSpec"
    if spec.placement != "post":
        return (f"placement={spec.placement!r}: the gain is for Post-LN (placement='post'), "
                "x <- LN(alpha x + F(x))")
    if spec.layer_gain_exponent:
        return (f"layer_gain_exponent={spec.layer_gain_exponent}: the law takes block 1's "
                "weight variances for the last block")
    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    if dist != "normal":
        return (f"initializer {spec.init!r} draws {dist!r} weights; the FFN gains "
                "E phi(s1 z)^2 and E phi'(s1 z)^2 need Gaussian W1 (i.i.d. normal weights)")
    if spec.width < 32:
        return (f"width={spec.width}: the O(1/d^2) remainder is calibrated at width 32 and 64 "
                "(width >= 32)")
    if 8 * spec.depth > spec.width:
        return (f"depth={spec.depth} > width/8: keep N/d <= 1/8 (the domain the band was "
                "calibrated in)")
    return None


def postln_branch_gains(spec: TransformerSpec) -> tuple[float, float]:
    r"""``(c_F, c_J)`` of a Post-LN FFN sublayer: forward and backward gains per coordinate,

    :math:`c_F = s_2^2 E\,\phi(s_1 z)^2`, :math:`c_J = s_2^2 s_1^2 E\,\phi'(s_1 z)^2`, z ~ N(0, 1)
    (the sublayer's input is a LayerNorm output, ``|x|^2 = d``), by Gaussian quadrature.
    """
    s2 = transformer_weight_variances(spec)
    m = _moments(_resolve(spec.activation), s2["W1"])
    return s2["W2"] * m.phi2, s2["W2"] * s2["W1"] * m.dphi2


def postln_top_gain(spec: TransformerSpec) -> tuple[float, float]:
    r"""``(ln G, r)``: the predicted squared backward gain of a Post-LN stack's last sublayer
    (its FFN) under an isotropic readout, and the branch's share ``r = c_F/(alpha^2 + c_F)``.

    .. math::

        G = \frac{\alpha^2 + c_J}{\alpha^2 + c_F}\Big(1 - \frac{2 - 3r}{d}\Big)
            + O(d^{-2}),

    ``1 - 2/d`` the LayerNorm's projection off the mean and radial directions and ``3r/d``
    the fluctuation of ``|alpha x + F(x)|`` (docs/theory.md §10.6 derives both).

    Examples:
        >>> round(postln_top_gain(TransformerSpec(depth=1, width=32, placement="post",
        ...     activation="linear", init="lecun_normal"))[1], 12)
        0.5
    """
    c_f, c_j = postln_branch_gains(spec)
    a2, d = spec.skip_scale ** 2, spec.width
    r = c_f / (a2 + c_f)
    return float(np.log((a2 + c_j) / (a2 + c_f) * (1 - (2 - 3 * r) / d))), float(r)


__all__ = ["LAYERNORM_EPS", "POSTLN_SOURCE", "PRELN_SOURCE", "PROFILE_SOURCE", "branch_shares",
           "postln_branch_gains", "postln_domain", "postln_top_gain", "predict_transformer",
           "preln_domain", "preln_law_of", "preln_stream_second_moment", "profile_domain"]
