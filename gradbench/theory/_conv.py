r"""Mean field of deep 1-D convolutional nets with circular padding (Xiao et al. 2018).

For :math:`h^{l+1}[o, t] = \sum_{i,j} W[o, i, j]\,\phi(h^l[i, t + j - p]) + b[o]` with
i.i.d. kernel entries of variance :math:`\sigma_w^2 / (C k)` and circular padding, every
position is statistically alike, so each pre-activation sums :math:`C k` terms of second
moment :math:`E\phi(\sqrt{q^l} z)^2` and the length map is the fully connected one,
:math:`q^{l+1} = \sigma_w^2 E\phi^2 + \sigma_b^2`. Backward,
:math:`\delta^l[i, t'] = \phi'(h^l[i, t']) \sum_{o,j} W[o, i, j]\,\delta^{l+1}[o, t' - j + p]`;
under gradient independence each :math:`\delta^{l+1}` entry meets :math:`C k` weights of
variance :math:`\sigma_w^2/(Ck)` and the circular shifts preserve the sum over positions,
so :math:`E\|\delta^l\|^2 = \sigma_w^2 E\phi'(\sqrt{q^l} z)^2\,E\|\delta^{l+1}\|^2`: the
per-layer factor is the MLP's :math:`\chi` at :math:`q^l` (the diagonal of the CNN
covariance map evolves as the fully connected one; Xiao, Bahri, Sohl-Dickstein,
Schoenholz & Pennington 2018, "Dynamical Isometry and a Mean Field Theory of CNNs",
ICML). ``tests/quality/test_theory_mc.py`` checks it by Monte Carlo with ``nn.Conv1d``.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass
from typing import Any

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.records import Prediction
from gradbench.specs import (
    Conv1DSpec,
    Conv2DSpec,
    ResConv2DSpec,
    _init_variance,
    bias_variance,
    weight_variance,
)
from gradbench.theory._activation import _resolve, _slopes
from gradbench.theory._predict import (
    MEAN_FIELD_SOURCE,
    MIN_WIDTH,
    mean_field_chain,
    mean_field_issue,
    no_prediction,
    readonly,
    weights_issue,
    width_domain,
)


def _iid_kernels_issue(init: str) -> str | None:
    dist = registry.lookup("initializer", init).meta.get("distribution")
    if dist in ("normal", "uniform"):
        return None
    return (f"initializer {init!r} draws {dist} kernels; the convolutional mean field is "
            "derived (and checked) for i.i.d. kernel entries only")


def _conv2d_issue(spec: Any) -> str | None:
    """Why a 2-D convolutional spec is outside the derivation above, or None."""
    if spec.padding != "circular":
        return (f"padding={spec.padding!r}: border positions sum fewer inputs than inner ones, "
                "so the second moment differs between positions; the 2-D mean field is "
                "derived for circular padding (every position alike)")
    if spec.batchnorm:
        return ("batchnorm=True with a k x k kernel, k > 1: statistics per channel over the "
                "batch and every position of spatially correlated images; gradbench derives a "
                "2-D BatchNorm rate for 1 x 1 kernels only (every position an example)")
    return None


def _modulation_issue(spec: Any) -> str | None:
    """A modulated input (§11.2) gives one q per position: the chi chain needs one per layer,
    unless the activation is positively homogeneous (chi then does not depend on q)."""
    if spec.input_modulation != 0.0 and _slopes(_resolve(spec.activation)) is None:
        return (
            f"input_modulation={spec.input_modulation!r}: the input's variance depends on the "
            f"position, so q (and chi) differ between positions for {spec.activation!r}; the "
            "chi trajectory is derived for one q per layer (homogeneous activations excepted)"
        )
    return None


def _chain_prediction(spec: Any, fan_in: str, kernel_shape: str) -> Prediction:
    """The MLP's chi trajectory for a circular CNN of ``spec.channels`` channels (above)."""
    sw2, sb2 = weight_variance(spec), bias_variance(spec)
    L, c = spec.depth, spec.channels
    log_growth, chain, assumptions = mean_field_chain(
        _resolve(spec.activation), sw2, sb2, sw2 * spec.input_var + sb2, L
    )
    valid = c >= MIN_WIDTH
    reason = "" if valid else (
        f"channels={c} < {MIN_WIDTH}: outside the mean-field domain, O(1/channels) "
        "corrections are not small (log_growth is still given for reference)"
    )
    domain = (
        f"mean field (channels -> infinity at fixed depth): valid for channels >= {MIN_WIDTH}; "
        "per-layer log growth then carries O(1/channels) corrections; circular padding "
        "(every position alike); i.i.d. kernel entries"
    )
    quantities: dict[str, Any] = {"sigma_w2": sw2, "sigma_b2": sb2, "beta": L / c, **chain}
    assumptions = [
        f"h^l = W^l * x^(l-1) + b^l with circular padding, {kernel_shape} kernels i.i.d. with "
        f"variance sigma_w2 / ({fan_in}) = {sw2:.6g} / {spec.weight_fans[0]}: the length map "
        "and the per-layer gradient factor chi are those of an MLP of width C "
        "(channels -> infinity)",
        *assumptions[1:],
    ]
    return Prediction(
        spec=spec.to_dict(), log_growth=readonly(log_growth), valid=valid, reason=reason,
        assumptions=tuple(assumptions), domain=domain,
        source="Xiao et al. 2018 (ICML), mean field of CNNs; " + MEAN_FIELD_SOURCE,
        quantities=quantities,
    )


def predict_conv1d(spec: Conv1DSpec, batch: int | None = None) -> Prediction:
    """:class:`~gradbench.specs.Conv1DSpec`: the MLP's chi trajectory (``batch`` is not used).

    Valid for i.i.d. kernels (normal or uniform); a Haar-orthogonal ``(C, C k)`` kernel
    matrix is not covered by the derivation above and gets no prediction.
    """
    issue = (mean_field_issue(spec, "convolutional mean-field", None)
             or _iid_kernels_issue(spec.init) or _modulation_issue(spec))
    if issue:
        return no_prediction(spec, issue)
    return _chain_prediction(spec, "C k", "(C, C, k)")


def predict_conv2d(spec: Conv2DSpec, batch: int | None = None) -> Prediction:
    """:class:`~gradbench.specs.Conv2DSpec`: the MLP's chi trajectory at fan-in ``C k^2``.

    The derivation above holds unchanged on a torus of ``H x W`` positions: with circular
    padding every position is alike, each pre-activation sums ``C k^2`` terms, and the
    circular shifts keep the backward sum over positions (docs/theory.md §11.3). Zero padding
    (border positions differ) and BatchNorm with k > 1 get no prediction; nor do non-i.i.d.
    kernels (delta-orthogonal: §11.1 instead). BatchNorm with 1 x 1 kernels is the BatchNorm
    MLP at batch ``B H W`` (:func:`_pointwise_batchnorm`).
    """
    if spec.batchnorm and spec.kernel == 1:
        return _pointwise_batchnorm(spec, batch)
    issue = (mean_field_issue(spec, "2-D convolutional mean-field", None)
             or _iid_kernels_issue(spec.init) or _conv2d_issue(spec)
             or _modulation_issue(spec))
    if issue:
        return no_prediction(spec, issue)
    return _chain_prediction(spec, "C k^2", "(C, C, k, k)")


def _pointwise_batchnorm(spec: Conv2DSpec, batch: int | None) -> Prediction:
    r"""1 x 1 kernels with BatchNorm2d: exactly a BatchNorm MLP at batch ``B H W``.

    A 1 x 1 convolution applies the same ``C x C`` matrix at every position, and the inputs
    are i.i.d. over the batch and the positions, so the ``H W`` positions of the ``B``
    images are ``B H W`` examples of an MLP of width C; BatchNorm2d's statistics (per
    channel over the batch and the positions) are then BatchNorm's over those examples, and
    the Frobenius norms of the sites are the MLP's. The rate is §6's (Yang et al. 2019) at
    batch ``B H W`` (docs/theory.md §11.3). A modulated input makes the positions unlike
    examples, and gets no prediction.
    """
    from dataclasses import replace

    from gradbench.specs import MLPSpec
    from gradbench.theory._predict import predict

    if spec.input_modulation != 0.0:
        return no_prediction(spec, f"input_modulation={spec.input_modulation!r} with "
                             "BatchNorm2d: the positions' inputs are not alike, so they are "
                             "not examples of one MLP")
    positions = spec.height * spec.width
    mlp = MLPSpec(depth=spec.depth, width=spec.channels, activation=spec.activation,
                  init=spec.init, sigma_w2=spec.sigma_w2, sigma_b2=spec.sigma_b2,
                  norm="batchnorm", input_var=spec.input_var)
    examples = None if batch is None else batch * positions
    got = predict(mlp, batch=examples)
    if got.log_growth is None:
        return replace(got, spec=spec.to_dict())
    examples_text = "" if examples is None else f"B H W = {examples} examples: "
    return replace(
        got, spec=spec.to_dict(),
        assumptions=(f"1 x 1 kernels: the H W = {positions} positions of every image are "
                     "examples of an MLP of width C with BatchNorm over B H W of them"
                     + ("" if batch is None else f" (B H W = {examples})"), *got.assumptions),
        domain=got.domain + "; for 1 x 1 BatchNorm2d, batch means B H W and width channels",
        reason=examples_text + got.reason if got.reason else "",
        source="Yang et al. 2019 (ICLR), BatchNorm mean field, at batch B H W; "
               "docs/theory.md §6, §11.3",
    )


def predict_resconv2d(spec: ResConv2DSpec, batch: int | None = None) -> Prediction:
    r""":class:`~gradbench.specs.ResConv2DSpec`, circular padding without BatchNorm: the
    residual recursion of :func:`gradbench.theory.residual_mean_field` (docs/theory.md §4)
    with conv1 and conv2 at fan-in ``C k^2``,

        p_l = p_{l-1} + alpha^2 sigma_v2 E phi(sqrt(q_l) z)^2,   q_l = sigma_w2 p_{l-1} + sigma_b2,

    and the per-block gradient factor ``1 + alpha^2 sigma_v2 sigma_w2 E phi'(sqrt(q_l) z)^2``
    between the stream sites x_{l-1} and x_l: each branch is a circular CNN of two layers, so
    per position it is the dense branch at fan-in ``C k^2`` (above), and the skip adds no
    cross term (conv2 is centred and independent).
    """
    from gradbench.theory._residual import residual_mean_field, residual_quantities

    issue = (weights_issue(spec.init, "residual convolutional mean-field")
             or weights_issue(spec.out_init, "residual convolutional mean-field")
             or _iid_kernels_issue(spec.init) or _iid_kernels_issue(spec.out_init)
             or _conv2d_issue(spec))
    if issue:
        return no_prediction(spec, issue)
    fan = spec.weight_fans[0]
    sw2, sb2 = weight_variance(spec), bias_variance(spec)
    sv2 = _init_variance(spec.out_init, fan, fan) * fan
    L, c = spec.depth, spec.channels
    alphas = [float(spec.alpha)] * L
    mf = residual_mean_field(spec.activation, sw2, sb2, sv2, alphas, spec.input_var, None)
    if sv2 == 0.0 or spec.alpha == 0.0:
        valid, reason = True, ""
        domain = "exact at any width: every branch outputs 0 at initialization"
    else:
        valid, domain, reason = width_domain(c, L, "channels")
        domain += "; circular padding (every position alike); i.i.d. kernel entries"
    quantities = residual_quantities(mf, sw2, sb2, sv2, alphas, c)
    return Prediction(
        spec=spec.to_dict(), log_growth=readonly(mf.log_growth[:-1]), valid=valid,
        reason=reason, domain=domain, quantities=quantities,
        assumptions=(
            f"x_l = x_(l-1) + alpha conv2(phi(conv1(x_(l-1)) + b)), circular padding, (C, C, "
            f"k, k) kernels i.i.d. with variances sigma_w2 / (C k^2) and sigma_v2 / (C k^2) "
            f"(C k^2 = {fan})",
            "per position the branch is the dense residual branch of docs/theory.md §4 at "
            "fan-in C k^2; backward uses gradient independence (channels -> infinity)",
        ),
        source="Xiao et al. 2018 (ICML), mean field of CNNs; Yang & Schoenholz 2017 "
               "(NeurIPS); Hanin & Rolnick 2018 (NeurIPS); docs/theory.md §4, §11.3",
    )


# --- spatial modes of the second moment (docs/theory.md §11.2) --------------------------------


def spatial_mode_factor(kernel: int, length: int, mode: int) -> complex:
    r"""``lambda_m = (1/k) sum_j exp(2 pi i m (j - p) / T)``, ``p = (k - 1)/2``: the factor by
    which one circular convolution with i.i.d. taps of equal variance multiplies Fourier mode
    ``m`` of the expected per-position second moment.

    For odd ``k`` it is real, ``sin(pi m k / T) / (k sin(pi m / T))`` (1 at ``m = 0``), and
    may be negative (a phase of pi). Xiao et al. 2018 (ICML), the covariance map of CNNs
    averaged along its diagonal; docs/theory.md §11.2.
    """
    p = (kernel - 1) / 2
    return sum(cmath.exp(2j * math.pi * mode * (j - p) / length) for j in range(kernel)) / kernel


@dataclass(frozen=True)
class SpatialModes:
    """Expected Fourier coefficients of the per-position second moment ``q^l(t)`` of h^l.

    Positions ``t = (t_1, ..., t_d)`` on a torus of sides ``(T_1, ..., T_d)`` (d = 1 for
    Conv1DSpec, 2 for Conv2DSpec) and ``N = T_1 ... T_d`` of them:
    ``c_m(l) = (2 / N) sum_t E q^l(t) exp(-2 pi i sum_i m_i t_i / T_i)`` for ``m != 0`` and
    the mean over positions for ``m = 0`` (so an input variance
    ``v (1 + a cos(2 pi sum_i m_i t_i / T_i))`` has ``c_0 = v``, ``c_m = v a``).

    Attributes:
        mode: the input's Fourier mode, one integer ``m_i`` per spatial axis (not all 0).
        scale: per layer l = 1..L, ``c_0(l) = v sigma_w2^l kappa^(l - 1)``.
        coefficient: per layer, ``c_m(l) = scale(l) a lambda_m^l`` (complex).
        factor: ``lambda_m``, the product over axes of :func:`spatial_mode_factor`.
        kappa: ``E phi(h)^2 / E h^2`` for symmetric h: ``(s_+^2 + s_-^2) / 2`` for a
            positively homogeneous activation with slopes ``s_+``, ``s_-`` (1 linear, 1/2 ReLU).
    """

    mode: tuple[int, ...]
    scale: tuple[float, ...]
    coefficient: tuple[complex, ...]
    factor: complex
    kappa: float


def spatial_modes_issue(spec: Any) -> str | None:
    """Why the spatial-mode law does not hold exactly in expectation for ``spec``, or None."""
    if not isinstance(spec, (Conv1DSpec, Conv2DSpec)):
        return "the spatial-mode law is for Conv1DSpec and Conv2DSpec networks"
    if isinstance(spec, Conv2DSpec) and spec.padding != "circular":
        return (f"padding={spec.padding!r}: border positions sum fewer inputs than inner ones; "
                "the law is derived on a torus (padding='circular')")
    if isinstance(spec, Conv2DSpec) and spec.batchnorm:
        return ("batchnorm=True: BatchNorm divides by statistics pooled over all positions, "
                "so the second moments are no longer a linear map of the layer below")
    meta = registry.lookup("initializer", spec.init).meta
    if meta.get("distribution") not in ("normal", "uniform") or meta.get("centred") is False:
        return (f"initializer {spec.init!r} does not draw i.i.d. zero-mean kernel entries "
                "(distribution normal or uniform)")
    if bias_variance(spec) != 0.0:
        return f"sigma_b2={bias_variance(spec)!r}: the law is derived for sigma_b2 = 0"
    if _slopes(_resolve(spec.activation)) is None:
        return (f"activation {spec.activation!r} is not positively homogeneous: E phi(h)^2 is "
                "then not a fixed multiple of E h^2 at every position")
    if not any(spec.input_modes) or spec.input_modulation == 0.0:
        return "the input has no modulated variance (an input mode >= 1, input_modulation != 0)"
    return None


def conv_spatial_modes(spec: Conv1DSpec | Conv2DSpec) -> SpatialModes:
    r"""The exact expected spatial profile of a circular 1-D or 2-D CNN's second moments.

    For :math:`h^{l+1}[o, t] = \sum_{i,j} W[o, i, j]\, x^l[i, t + j - p]` with i.i.d.
    zero-mean entries of variance :math:`\sigma_w^2/(C k)` independent of :math:`x^l`,

    .. math:: E\,q^{l+1}(t) = \sigma_w^2 \frac{1}{k}\sum_j E\,Q^l(t + j - p),
       \qquad Q^l(s) = \frac{1}{C}\sum_i x^l[i, s]^2,

    exactly, at any width. With :math:`\sigma_b = 0`, :math:`h^l` is symmetric given the
    layer below, so a positively homogeneous :math:`\phi` gives :math:`E Q^l = \kappa E q^l`
    exactly for :math:`l \ge 1`; the input :math:`x^0` is not passed through :math:`\phi`, so
    the first layer has no :math:`\kappa`. Fourier mode m is multiplied by
    :math:`\lambda_m` per convolution, hence for input variance
    :math:`v(1 + a\cos(2\pi m t/T))`:

    .. math:: E\,q^L(t) = v\,\sigma_w^{2L}\kappa^{L-1}\,[1 + a|\lambda_m|^L
       \cos(2\pi m t/T + L\arg\lambda_m)].

    Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington 2018 (ICML, arXiv:1806.05393), the
    CNN covariance map, specialised to its diagonal; docs/theory.md §11.2.

    In 2-D the ``k x k`` taps have equal variance, so the average over the kernel's window is
    the product of one average per axis, and mode ``(m, n)`` of ``H x W`` positions is
    multiplied by :math:`\lambda^{(H)}_m \lambda^{(W)}_n` per convolution (docs/theory.md §11.4).

    Raises:
        InvalidArgument: outside the law's domain (:func:`spatial_modes_issue`).
    """
    issue = spatial_modes_issue(spec)
    if issue:
        raise InvalidArgument(f"no spatial-mode law for this {type(spec).__name__}: {issue}")
    up, down = _slopes(_resolve(spec.activation))  # type: ignore[misc]
    kappa = (up * up + down * down) / 2.0
    sw2 = weight_variance(spec)
    lam = math.prod(spatial_mode_factor(spec.kernel, n, m)
                    for n, m in zip(spec.spatial_shape, spec.input_modes))
    scale = tuple(spec.input_var * sw2**layer * kappa ** (layer - 1)
                  for layer in range(1, spec.depth + 1))
    coefficient = tuple(c * spec.input_modulation * lam**layer
                        for layer, c in enumerate(scale, start=1))
    return SpatialModes(spec.input_modes, scale, coefficient, lam, kappa)
