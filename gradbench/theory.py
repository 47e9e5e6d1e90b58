r"""Theory predictions for gradient flow at initialization (numpy/scipy only, no torch).

Everything here is a deterministic function of numbers and activation functions; the
formulas and reference numbers are those of ``docs/theory.md`` (section numbers are
cited in each docstring). Conventions (docs/theory.md §1): fan-in scaling
``Var W_ij = sigma_w2 / fan_in``, bias variance ``sigma_b2``, pre-activation second moment
``q``, ``z ~ N(0, 1)``.

Contents:

* Gaussian expectations by composite Gauss-Legendre quadrature split at kinks
  (:func:`gauss_expect`, :func:`gauss_expect2`).
* Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017):
  :func:`q_map`, :func:`q_star`, :func:`chi1`, :func:`c_map`, :func:`c_star`,
  :func:`chi_c`, :func:`depth_scales`, :func:`phase`, :func:`critical_point`,
  :func:`critical_sigma_w2`, :func:`mean_field`.
* The exact finite-width law of ReLU gradient norms (Hanin 2018; Hanin & Nica 2020):
  :func:`relu_finite_width`, :func:`relu_log_norm_law`.
* The Jacobian spectrum (Pennington, Schoenholz & Ganguli 2017): :func:`jacobian_spectrum`.
* Residual networks (Yang & Schoenholz 2017; De & Smith 2020), vanilla RNNs (Pascanu et
  al. 2013; Chen et al. 2018), BatchNorm/LayerNorm (Yang et al. 2019).
* :func:`predict`: a :class:`~gradbench.records.Prediction` for any spec.

Activations are given by registry name (``"tanh"``, ``"leaky_relu(negative_slope=0.2)"``)
or as an object with ``phi``, ``dphi``, ``d2phi`` (float64 NumPy functions) and ``kinks``
(:class:`ActivationFunctions`, e.g. a
:class:`~gradbench.remedies.activations.NumpyActivation`). Names are resolved lazily, at
call time, so importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, Union

import numpy as np
from scipy import optimize, special

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.specs import (
    MLPSpec,
    ResidualSpec,
    RNNSpec,
    Spec,
    bias_variance,
    branch_out_variance,
    weight_variance,
)

if TYPE_CHECKING:
    from gradbench.records import Prediction

NumpyFn = Callable[[np.ndarray], np.ndarray]
Phase = Literal["ordered", "critical", "chaotic"]


class ActivationFunctions(Protocol):
    """What theory needs of an activation: float64 NumPy functions and kink locations."""

    @property
    def phi(self) -> NumpyFn:
        ...

    @property
    def dphi(self) -> NumpyFn:
        ...

    @property
    def d2phi(self) -> NumpyFn:
        ...

    @property
    def kinks(self) -> tuple[float, ...]:
        ...


Activation = Union[str, ActivationFunctions]

# --------------------------------------------------------------------------------------
# Gaussian quadrature
# --------------------------------------------------------------------------------------

Z_MAX = 12.0
"""Truncation of the standard normal: P(|z| > 12) = 3.6e-33."""
_PANEL = 2.0  # base panel width in z
_ORDER = 16  # Gauss-Legendre nodes per panel
_FEATURES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # x-scales resolved for any q
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_ORDER)
_PANEL2, _ORDER2 = 3.0, 12  # inner panels of the bivariate quadrature
_GL2_X, _GL2_W = np.polynomial.legendre.leggauss(_ORDER2)
_FEATURES2 = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
Q_TINY = 1e-250
"""Activation moments at q = 0 are taken as their right limits, evaluated at this q."""
Q_HUGE = 1e250
"""Activation moments at q = inf are taken as their limits, evaluated at this q."""


def _feature_points(kinks: Sequence[float], features: Sequence[float] = _FEATURES) -> np.ndarray:
    feats = [s * f for f in features for s in (1.0, -1.0)]
    return np.asarray([*feats, *kinks], dtype=np.float64)


def _panels(
    breaks: np.ndarray, gl_x: np.ndarray = _GL_X, gl_w: np.ndarray = _GL_W
) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and Gaussian-weighted weights on consecutive ``breaks`` (last axis)."""
    a, b = breaks[..., :-1, None], breaks[..., 1:, None]
    half = (b - a) / 2.0
    z = (half * gl_x + (a + b) / 2.0).reshape(*breaks.shape[:-1], -1)
    w = (half * gl_w).reshape(*breaks.shape[:-1], -1) * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return z, w


@functools.lru_cache(maxsize=8192)
def _nodes(q: float, kinks: tuple[float, ...], extra: tuple[float, ...] = ()) -> tuple[
    np.ndarray, np.ndarray
]:
    """Nodes z and weights w with ``sum(w * f(sqrt(q) z)) ~= E f(sqrt(q) z)``."""
    base = np.arange(-Z_MAX, Z_MAX + 1e-9, _PANEL)
    parts = [base, np.asarray(extra, dtype=np.float64)]
    if q > 0.0:
        parts.append(_feature_points(kinks) / math.sqrt(q))
    breaks = np.unique(np.clip(np.concatenate(parts), -Z_MAX, Z_MAX))
    z, w = _panels(breaks)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def _check_q(name: str, q: object) -> float:
    ok = isinstance(q, (int, float, np.floating, np.integer)) and not isinstance(q, bool)
    if not ok or not math.isfinite(float(q)) or float(q) < 0:  # type: ignore[arg-type]
        raise InvalidArgument(f"{name}={q!r} must be a finite number >= 0")
    return float(q)  # type: ignore[arg-type]


def gauss_expect(f: NumpyFn, q: float, kinks: Sequence[float] = ()) -> float:
    r"""Gaussian expectation :math:`\mathbb{E}_{z\sim N(0,1)} f(\sqrt{q}\,z)`.

    Composite Gauss-Legendre quadrature (16 nodes per panel) on :math:`|z| \le 12`,
    with panel breaks every 2 in ``z``, at the images ``x / sqrt(q)`` of the points
    ``x = 0, +-1/4, ..., +-16`` (so sharp features at any scale ``q`` are resolved), and
    at every kink ``x`` of ``f`` (``z = x / sqrt(q)``). For the closed forms of docs/theory.md
    1.2 (ReLU, erf) it agrees to about 1e-15 relative over ``q`` in [1e-8, 1e8].

    Args:
        f: vectorised float64 function of ``x``.
        q: variance of the Gaussian argument (``q = 0`` gives ``f(0)``).
        kinks: points (in ``x``) where ``f`` is not smooth.

    Returns:
        The expectation.

    Raises:
        InvalidArgument: ``q`` negative or not finite.

    Examples:
        >>> round(gauss_expect(lambda x: np.maximum(x, 0.0) ** 2, 3.0, kinks=(0.0,)), 12)
        1.5
    """
    q = _check_q("q", q)
    if q == 0.0:
        return float(np.asarray(f(np.zeros(1)), dtype=np.float64)[0])
    z, w = _nodes(q, tuple(float(k) for k in kinks))
    return float(w @ np.asarray(f(math.sqrt(q) * z), dtype=np.float64))


def _grid2(
    q1: float, q2: float, c: float, kinks: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nodes for :math:`E[f(u_1) g(u_2)]`: ``u1 (K,), w1 (K,), u2 (K, P), w2 (K, P)``.

    ``u1 = sqrt(q1) z1`` and ``u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2)``; the inner integral
    over ``z2`` is a 1-D Gaussian expectation of ``g(m + s z2)`` with ``m = sqrt(q2) c z1``,
    ``s = sqrt(q2 (1 - c^2))``, split at the kinks and features of ``g`` (which move with
    ``m``); the outer grid also resolves the smoothed kinks of the inner integral, which
    are sharp when ``c`` is near 1.
    """
    s = math.sqrt(max(q2 * (1.0 - c * c), 0.0))
    extra: list[float] = []
    if c != 0.0 and q2 > 0.0:
        scale = math.sqrt(q2) * abs(c)
        width = s / scale
        for k in (*kinks, 0.0):
            centre = k / (math.sqrt(q2) * c)
            extra.extend(centre + sign * a * width for a in _FEATURES2 for sign in (1.0, -1.0))
    z1, w1 = _nodes(q1, kinks, tuple(extra))
    u1 = math.sqrt(q1) * z1
    m = math.sqrt(q2) * c * z1
    if s == 0.0:
        return u1, w1, m[:, None], np.ones((z1.size, 1))
    base = np.arange(-Z_MAX, Z_MAX + 1e-9, _PANEL2)
    feats = _feature_points(kinks, _FEATURES2)
    moving = np.clip((feats[None, :] - m[:, None]) / s, -Z_MAX, Z_MAX)
    breaks = np.sort(
        np.concatenate([np.broadcast_to(base, (m.size, base.size)), moving], axis=1), axis=1
    )
    z2, w2 = _panels(breaks, _GL2_X, _GL2_W)
    return u1, w1, m[:, None] + s * z2, w2


def gauss_expect2(
    f: NumpyFn, g: NumpyFn, q1: float, q2: float, c: float, kinks: Sequence[float] = ()
) -> float:
    r"""Bivariate Gaussian expectation :math:`\mathbb{E}[f(u_1)\,g(u_2)]` (docs/theory.md §1.1).

    :math:`u_1 = \sqrt{q_1} z_1`, :math:`u_2 = \sqrt{q_2}(c z_1 + \sqrt{1-c^2} z_2)`, so
    :math:`\mathrm{Var}\,u_i = q_i` and :math:`\mathrm{Corr}(u_1, u_2) = c`. Nested
    quadrature (see :func:`gauss_expect`), split at ``kinks`` (shared by ``f`` and ``g``).
    Agrees with the arc-cosine (ReLU) and arcsine (erf) kernels of docs/theory.md §1.2 to about
    1e-15 for ``c`` in [-0.9, 1].

    Args:
        f, g: vectorised float64 functions (``g`` is called on 2-D arrays).
        q1, q2: variances (> 0).
        c: correlation in [-1, 1].
        kinks: points where ``f`` or ``g`` is not smooth.

    Returns:
        The expectation.

    Raises:
        InvalidArgument: a variance not > 0 or ``c`` outside [-1, 1].

    Examples:
        >>> relu = lambda x: np.maximum(x, 0.0)
        >>> round(gauss_expect2(relu, relu, 1.0, 1.0, 0.0, kinks=(0.0,)), 12)  # 1/(2 pi)
        0.159154943092
    """
    q1, q2 = _check_q("q1", q1), _check_q("q2", q2)
    if q1 == 0.0 or q2 == 0.0:
        raise InvalidArgument(f"q1={q1!r} and q2={q2!r} must be > 0")
    if not (isinstance(c, (int, float, np.floating)) and -1.0 <= float(c) <= 1.0):
        raise InvalidArgument(f"c={c!r} must be a correlation in [-1, 1]")
    u1, w1, u2, w2 = _grid2(q1, q2, float(c), tuple(float(k) for k in kinks))
    inner = (w2 * np.asarray(g(u2), dtype=np.float64)).sum(axis=1)
    return float(w1 @ (np.asarray(f(u1), dtype=np.float64) * inner))


# --------------------------------------------------------------------------------------
# Activations: resolution and cached Gaussian moments
# --------------------------------------------------------------------------------------


class _Act:
    """A resolved activation: NumPy functions plus a hashable identity for caching."""

    __slots__ = ("d2phi", "dphi", "key", "kinks", "label", "phi", "ref")

    def __init__(self, key: Hashable, label: str, funcs: Any, ref: object = None) -> None:
        self.key, self.label, self.ref = key, label, ref
        self.phi: NumpyFn = funcs.phi
        self.dphi: NumpyFn = funcs.dphi
        self.d2phi: NumpyFn = funcs.d2phi
        self.kinks: tuple[float, ...] = tuple(float(k) for k in funcs.kinks)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Act) and self.key == other.key


@functools.lru_cache(maxsize=256)
def _registered(key: Hashable, label: str) -> _Act:
    from gradbench.remedies.activations import numpy_activation  # imports torch (lazily)

    return _Act(key, label, numpy_activation(label))


def _resolve(activation: Activation) -> _Act:
    """A registry name (with parameters) or an :class:`ActivationFunctions` object."""
    if isinstance(activation, _Act):
        return activation
    if isinstance(activation, str):
        remedy = registry.lookup("activation", activation)
        key = ("registered", remedy.name, remedy.obj, tuple(sorted(remedy.params.items())))
        return _registered(key, remedy.label)
    missing = [a for a in ("phi", "dphi", "d2phi", "kinks") if not hasattr(activation, a)]
    if missing:
        raise InvalidArgument(
            f"activation={activation!r} must be a registered activation name or an object "
            f"with phi, dphi, d2phi and kinks (missing: {', '.join(missing)})"
        )
    label = str(getattr(activation, "label", type(activation).__name__))
    return _Act(("object", id(activation)), label, activation, ref=activation)


@dataclass(frozen=True)
class _Moments:
    """Gaussian moments of an activation at one q (all E over z ~ N(0,1), x = sqrt(q) z)."""

    phi: float  # E phi
    phi2: float  # E phi^2
    dphi: float  # E phi'
    dphi2: float  # E phi'^2
    dphi4: float  # E phi'^4
    phi_d2phi: float  # E phi phi''


def _clamp_q(q: float) -> float:
    if math.isnan(q):
        raise InvalidArgument("q is NaN")
    return min(max(q, Q_TINY), Q_HUGE)


@functools.lru_cache(maxsize=65536)
def _moments_at(act: _Act, q: float) -> _Moments:
    z, w = _nodes(q, act.kinks)
    x = math.sqrt(q) * z
    p = np.asarray(act.phi(x), dtype=np.float64)
    d = np.asarray(act.dphi(x), dtype=np.float64)
    dd = np.asarray(act.d2phi(x), dtype=np.float64)
    d2 = d * d
    return _Moments(
        phi=float(w @ p), phi2=float(w @ (p * p)), dphi=float(w @ d), dphi2=float(w @ d2),
        dphi4=float(w @ (d2 * d2)), phi_d2phi=float(w @ (p * dd)),
    )


def _moments(act: _Act, q: float) -> _Moments:
    """Moments at ``q``; ``q`` is clamped to [Q_TINY, Q_HUGE] (limits at 0 and inf)."""
    return _moments_at(act, _clamp_q(float(q)))


def _check_sigmas(sigma_w2: object, sigma_b2: object) -> tuple[float, float]:
    return _check_q("sigma_w2", sigma_w2), _check_q("sigma_b2", sigma_b2)


# --------------------------------------------------------------------------------------
# Mean field: length map, fixed point, chi1 (docs/theory.md §1.1)
# --------------------------------------------------------------------------------------


def q_map(activation: Activation, q: float, sigma_w2: float, sigma_b2: float) -> float:
    r"""The length map :math:`q \mapsto \sigma_w^2\,\mathbb{E}\,\phi(\sqrt{q} z)^2 + \sigma_b^2`.

    Poole et al. 2016 ("Exponential expressivity in deep neural networks through transient
    chaos", NeurIPS), docs/theory.md §1.1: the second moment of the next layer's pre-activations.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        q: pre-activation second moment (>= 0; ``q = 0`` is the right limit).
        sigma_w2: weight variance times fan-in.
        sigma_b2: bias variance.

    Returns:
        The next layer's ``q``.

    Raises:
        InvalidArgument: a negative or non-finite argument, or an unknown activation.

    Examples:
        >>> round(q_map("relu", 3.0, 2.0, 0.5), 12)
        3.5
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    q = _check_q("q", q)
    return sw2 * _moments(_resolve(activation), q).phi2 + sb2


_FP_RTOL = 1e-11  # |Q(q)/q - 1| below this is "a fixed point within quadrature precision"
_FP_STEP = 4.0
_FP_MAX = 1e50  # no fixed point below this: q* = inf
_FP_MIN = 1e-50  # no fixed point above this: q* = 0


def _fixed_point(act: _Act, sw2: float, sb2: float, q0: float) -> float:
    """Limit of ``q <- Q(q)`` from ``q0`` (0.0 or inf when it collapses or diverges).

    Assumes ``Q(q) = sw2 E phi(sqrt(q) z)^2 + sb2`` is non-decreasing in ``q`` (true for
    every activation whose ``|phi|`` grows with ``|x|`` on each side), so the iteration is
    monotone and converges to the nearest fixed point in the direction of ``Q(q0) - q0``.
    The root is bracketed by geometric steps on ``h(q) = Q(q)/q - 1`` (whose quadrature
    error is ~1e-15 whatever ``q``) and polished by Brent's method.
    """

    def h(q: float) -> float:
        return (sw2 * _moments(act, q).phi2 + sb2) / q - 1.0

    if sw2 == 0.0:
        return sb2 if sb2 > 0.0 else 0.0
    q0 = min(max(q0, _FP_MIN), _FP_MAX)
    h0 = h(q0)
    if not math.isfinite(h0):
        raise InvalidArgument(f"the length map is not finite at q={q0!r}")
    if abs(h0) <= _FP_RTOL:
        return q0
    up = h0 > 0.0
    strict, q = q0, q0  # `strict`: the last point with |h| > rtol on the starting side
    while True:
        nxt = q * _FP_STEP if up else q / _FP_STEP
        if nxt > _FP_MAX:
            return math.inf
        if nxt < _FP_MIN:
            return 0.0
        hn = h(nxt)
        if math.isnan(hn):
            raise InvalidArgument(f"the length map is NaN at q={nxt!r}")
        crossed = hn < -_FP_RTOL if up else hn > _FP_RTOL
        if crossed:
            lo, hi = (strict, nxt) if up else (nxt, strict)
            return float(optimize.brentq(h, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=500))
        if abs(hn) > _FP_RTOL:
            strict = nxt
        q = nxt


def q_star(activation: Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    r"""Fixed point :math:`q^*` of the length map reached from ``q0``
    (docs/theory.md §1.1, §1.4, §1.5).

    :math:`q^* = \sigma_w^2 \int Dz\,\phi(\sqrt{q^*} z)^2 + \sigma_b^2` (Poole et al. 2016),
    taken as the limit of :math:`q^{l+1} = \mathcal{Q}(q^l)` from :math:`q^0 =` ``q0``. The
    map is assumed non-decreasing in ``q`` (true for the registered activations), so the
    iteration is monotone and the limit is the nearest fixed point in its direction.

    Degenerate cases are reported, never approximated by a wrong finite number:

    * ``0.0`` when :math:`q^l \to 0` (tanh with :math:`\sigma_w^2 \le 1, \sigma_b = 0`;
      GELU/SiLU with :math:`\sigma_w^2 \le 2, \sigma_b = 0`; any fixed point below 1e-50);
    * ``math.inf`` when :math:`q^l \to \infty` (ReLU with :math:`\sigma_w^2 > 2`, or
      :math:`\sigma_w^2 = 2, \sigma_b^2 > 0`, which grows linearly; GELU/SiLU with
      :math:`\sigma_w^2 \ge 4, \sigma_b = 0`; any fixed point above 1e50);
    * ``q0`` itself when the map is the identity there to quadrature precision
      (ReLU at :math:`\sigma_w^2 = 2, \sigma_b = 0` preserves every ``q``; SELU/LeCun has
      :math:`q^* = 1` exactly).

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2: weight variance times fan-in (>= 0).
        sigma_b2: bias variance (>= 0).
        q0: the starting second moment (> 0), e.g. ``sigma_w2 * input_var + sigma_b2``.

    Returns:
        :math:`q^*`, ``0.0`` or ``math.inf``.

    Raises:
        InvalidArgument: a negative or non-finite argument, or an unknown activation.

    Examples:
        >>> round(q_star("tanh", 2.0, 0.0), 9)
        0.61796477
        >>> q_star("relu", 2.0, 0.1), q_star("tanh", 0.5, 0.0)
        (inf, 0.0)
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    q0 = _check_q("q0", q0)
    if q0 == 0.0:
        raise InvalidArgument("q0=0.0 must be > 0")
    return _fixed_point(_resolve(activation), sw2, sb2, q0)


def _chi_at(act: _Act, sw2: float, q: float) -> float:
    return sw2 * _moments(act, q).dphi2


def chi1(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    q: float | None = None,
    q0: float = 1.0,
) -> float:
    r""":math:`\chi_1 = \sigma_w^2 \int Dz\,[\phi'(\sqrt{q^*} z)]^2` (docs/theory.md §1.1).

    The slope of the correlation map at :math:`c = 1` (Poole et al. 2016) and the per-layer
    factor of the expected squared gradient norm, :math:`E\|\delta^l\|^2 /
    E\|\delta^{l+1}\|^2 = \chi_1` (Schoenholz et al. 2017, "Deep information
    propagation", ICLR), at any widths under fan-in scaling. When :math:`q^*` is 0 or
    infinite the limit is returned, e.g. :math:`\sigma_w^2 \phi'(0)^2` at :math:`q^* = 0`
    (tanh: :math:`\sigma_w^2`; GELU/SiLU at He init: :math:`\sigma_w^2/4 = 0.5`, docs/theory.md
    1.5) and :math:`\sigma_w^2/2` for GELU/SiLU when :math:`q^* = \infty`.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2: weight variance times fan-in.
        sigma_b2: bias variance.
        q: evaluate at this pre-activation second moment instead of :math:`q^*`.
        q0: starting point of the length map when ``q`` is not given (see :func:`q_star`).

    Returns:
        :math:`\chi_1`.

    Raises:
        InvalidArgument: a negative or non-finite argument, or an unknown activation.

    Examples:
        >>> round(chi1("tanh", 2.0, 0.0), 9), chi1("relu", 2.0, 0.0)
        (1.10552882, 1.0)
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    qq = _fixed_point(act, sw2, sb2, _check_q("q0", q0)) if q is None else _check_q("q", q)
    return _chi_at(act, sw2, qq)


def length_map_slope(activation: Activation, q: float, sigma_w2: float) -> float:
    r"""Slope :math:`d q^{l}/d q^{l-1} = \chi_1(q) + \sigma_w^2 \int Dz\,\phi''\phi` at ``q``.

    By Stein's lemma, :math:`\frac{d}{dq} E\phi(\sqrt q z)^2 = E[\phi'^2 + \phi\phi'']`
    (docs/theory.md §1.1). At a fixed point, ``-1 / ln(slope)`` is the depth scale
    :math:`\xi_q` and ``slope < 1`` means the fixed point is stable.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        q: pre-activation second moment (0 and inf are taken as limits).
        sigma_w2: weight variance times fan-in.

    Returns:
        The slope of the length map.

    Examples:
        >>> round(length_map_slope("relu", 1.0, 2.0), 12)
        1.0
    """
    sw2 = _check_q("sigma_w2", sigma_w2)
    if not (isinstance(q, (int, float)) and q >= 0):
        raise InvalidArgument(f"q={q!r} must be a number >= 0 (inf allowed)")
    m = _moments(_resolve(activation), float(q))
    return sw2 * (m.dphi2 + m.phi_d2phi)


def q_trajectory(
    activation: Activation, q1: float, sigma_w2: float, sigma_b2: float, depth: int
) -> np.ndarray:
    r"""Layer-by-layer second moments :math:`q^1..q^L`, :math:`q^{l+1} = \mathcal{Q}(q^l)`.

    Overflow is reported as ``inf``; once the map has converged (relative change below
    1e-14) the fixed point is repeated.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        q1: the first layer's second moment.
        sigma_w2, sigma_b2: the variances.
        depth: number of layers L (>= 1).

    Returns:
        ``[depth]`` float64 array.
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InvalidArgument(f"depth={depth!r} must be an integer >= 1")
    out = np.empty(depth)
    q = _check_q("q1", q1)
    for layer in range(depth):
        out[layer] = q
        if not math.isfinite(q) or q > Q_HUGE:
            out[layer:] = math.inf
            break
        nxt = sw2 * _moments(act, q).phi2 + sb2
        if abs(nxt - q) <= 1e-14 * q:
            out[layer + 1 :] = nxt
            break
        q = nxt
    return out


# --------------------------------------------------------------------------------------
# Correlation map, depth scales, phase (docs/theory.md §1.1, §1.3)
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _kernel2(act: _Act, q: float, c: float) -> tuple[float, float]:
    """``(E phi(u1) phi(u2), E phi'(u1) phi'(u2))`` at variance ``q`` and correlation ``c``."""
    u1, w1, u2, w2 = _grid2(q, q, c, act.kinks)
    p1 = np.asarray(act.phi(u1), dtype=np.float64)
    d1 = np.asarray(act.dphi(u1), dtype=np.float64)
    p2 = (w2 * np.asarray(act.phi(u2), dtype=np.float64)).sum(axis=1)
    d2 = (w2 * np.asarray(act.dphi(u2), dtype=np.float64)).sum(axis=1)
    return float(w1 @ (p1 * p2)), float(w1 @ (d1 * d2))


def _check_c(c: object) -> float:
    if not (isinstance(c, (int, float, np.floating)) and -1.0 <= float(c) <= 1.0):
        raise InvalidArgument(f"c={c!r} must be a correlation in [-1, 1]")
    return float(c)


def _degenerate(q: float) -> bool:
    return q == 0.0 or not math.isfinite(q)


def c_map(
    activation: Activation, c: float, sigma_w2: float, sigma_b2: float, q: float | None = None
) -> float:
    r"""The correlation map :math:`c^{l-1} \mapsto c^l` for two inputs of equal length q.

    :math:`c^l = (\sigma_w^2 \int Dz_1 Dz_2\,\phi(u_1)\phi(u_2) + \sigma_b^2) / q^l` with
    :math:`u_1 = \sqrt q z_1`, :math:`u_2 = \sqrt q (c z_1 + \sqrt{1-c^2} z_2)` and
    :math:`q^l = \mathcal{Q}(q)` (Poole et al. 2016; docs/theory.md §1.1). By default
    :math:`q = q^*`.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        c: the input correlation in [-1, 1].
        sigma_w2, sigma_b2: the variances.
        q: the inputs' second moment (default :math:`q^*` from ``q0 = 1``).

    Returns:
        The output correlation; NaN when :math:`q^*` is 0 or infinite (the map is then
        degenerate).

    Examples:
        >>> round(c_map("relu", 0.5, 2.0, 0.0), 10)  # docs/theory.md §1.2
        0.608997781
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    cc = _check_c(c)
    qq = _fixed_point(act, sw2, sb2, 1.0) if q is None else _check_q("q", q)
    if _degenerate(qq):
        return math.nan
    q_next = sw2 * _moments(act, qq).phi2 + sb2
    return (sw2 * _kernel2(act, qq, cc)[0] + sb2) / q_next


_PHASE_TOL = 1e-9


def _c_star(act: _Act, sw2: float, sb2: float, qs: float, chi: float, tol: float) -> float:
    if _degenerate(qs):
        return math.nan
    if chi <= 1.0 + tol:
        return 1.0

    def f(c: float) -> float:
        return (sw2 * _kernel2(act, qs, c)[0] + sb2) / qs - c

    f0 = f(0.0)
    if f0 <= 1e-14:
        return 0.0
    for delta in (0.5, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        if f(1.0 - delta) < 0.0:
            return float(optimize.brentq(f, 0.0, 1.0 - delta, xtol=1e-15, rtol=1e-15))
    return 1.0


def c_star(activation: Activation, sigma_w2: float, sigma_b2: float, tol: float = 1e-9) -> float:
    r"""Stable fixed point :math:`c^*` of the correlation map in [0, 1] (docs/theory.md §1.1, §1.3).

    Ordered or critical phase (:math:`\chi_1 \le 1 +` ``tol``): :math:`c^* = 1`. Chaotic
    phase: the unique root of :math:`c_{map}(c) = c` in [0, 1) (the map is a power series in
    c with non-negative coefficients, hence convex on [0, 1]); it is exactly 0 for an odd
    activation (or one with :math:`E\phi = 0`) at :math:`\sigma_b = 0`.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2, sigma_b2: the variances.
        tol: tolerance on :math:`\chi_1 - 1` for the critical case.

    Returns:
        :math:`c^*`; NaN when :math:`q^*` is 0 or infinite.

    Examples:
        >>> round(c_star("tanh", 2.0, 0.05), 8)
        0.74408242
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    qs = _fixed_point(act, sw2, sb2, 1.0)
    if _degenerate(qs):
        return math.nan
    return _c_star(act, sw2, sb2, qs, _chi_at(act, sw2, qs), tol)


def chi_c(activation: Activation, sigma_w2: float, sigma_b2: float, tol: float = 1e-9) -> float:
    r""":math:`\chi_{c^*} = \sigma_w^2 \int Dz_1 Dz_2\,\phi'(u_1)\phi'(u_2)` at :math:`(q^*, c^*)`.

    The slope of the correlation map at its stable fixed point (docs/theory.md §1.1); equals
    :math:`\chi_1` in the ordered phase.

    Returns:
        :math:`\chi_{c^*}`; NaN when :math:`q^*` is 0 or infinite.

    Examples:
        >>> round(chi_c("tanh", 2.0, 0.0), 8)  # c* = 0: sigma_w2 (E tanh')^2
        0.95501069
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    qs = _fixed_point(act, sw2, sb2, 1.0)
    if _degenerate(qs):
        return math.nan
    chi = _chi_at(act, sw2, qs)
    cs = _c_star(act, sw2, sb2, qs, chi, tol)
    return chi if cs == 1.0 else sw2 * _kernel2(act, qs, cs)[1]


def _depth_scale(slope: float, tol: float) -> float:
    if not math.isfinite(slope):
        return math.nan
    if slope >= 1.0 - tol:
        return math.inf
    if slope <= 0.0:
        return 0.0
    return -1.0 / math.log(slope)


@dataclass(frozen=True)
class MeanField:
    """Mean-field summary of one (activation, sigma_w2, sigma_b2) (docs/theory.md §1.1).

    Attributes:
        q_star: fixed point of the length map (0.0 / inf when it collapses / diverges).
        chi1: slope of the correlation map at c = 1 (its limit when q* is 0 or inf).
        phase: ``"ordered"`` (chi1 < 1), ``"critical"`` or ``"chaotic"`` (chi1 > 1).
        slope_q: slope of the length map at q* (limit at q* = 0; NaN at q* = inf).
        xi_q: depth scale of q, ``-1/ln(slope_q)`` (inf when marginal, NaN when q* = inf).
        c_star: stable fixed point of the correlation map (NaN when q* is 0 or inf).
        chi_c: slope of the correlation map at c* (NaN when q* is 0 or inf).
        xi_c: depth scale of correlations, ``-1/ln(chi_c)`` (inf at criticality).
    """

    q_star: float
    chi1: float
    phase: Phase
    slope_q: float
    xi_q: float
    c_star: float
    chi_c: float
    xi_c: float


def _phase_of(chi: float, tol: float) -> Phase:
    if chi < 1.0 - tol:
        return "ordered"
    if chi > 1.0 + tol:
        return "chaotic"
    return "critical"


def _mean_field(
    act: _Act, sw2: float, sb2: float, q0: float, tol: float, correlations: bool = True
) -> MeanField:
    qs = _fixed_point(act, sw2, sb2, q0)
    chi = _chi_at(act, sw2, qs)
    ph = _phase_of(chi, tol)
    if math.isinf(qs):
        return MeanField(qs, chi, ph, math.nan, math.nan, math.nan, math.nan, math.nan)
    m = _moments(act, qs)
    slope = sw2 * (m.dphi2 + m.phi_d2phi)
    xi_q = _depth_scale(slope, tol)
    if qs == 0.0 or not correlations:
        return MeanField(qs, chi, ph, slope, xi_q, math.nan, math.nan, math.nan)
    cs = _c_star(act, sw2, sb2, qs, chi, tol)
    chic = chi if cs == 1.0 else sw2 * _kernel2(act, qs, cs)[1]
    return MeanField(qs, chi, ph, slope, xi_q, cs, chic, _depth_scale(chic, tol))


def mean_field(
    activation: Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0,
    tol: float = _PHASE_TOL,
) -> MeanField:
    r"""All mean-field quantities of docs/theory.md §1.1 at once (see :class:`MeanField`).

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2, sigma_b2: the variances.
        q0: starting point of the length map (see :func:`q_star`).
        tol: tolerance on ``chi1 - 1`` (phase) and on ``1 - slope`` (marginal depth scales).

    Returns:
        A :class:`MeanField`.

    Examples:
        >>> mf = mean_field("tanh", 1.5, 0.0)
        >>> round(mf.q_star, 9), round(mf.xi_q, 4), mf.c_star, round(mf.xi_c, 2)
        (0.286894229, 2.7538, 0.0, 52.36)
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    q0 = _check_q("q0", q0)
    return _mean_field(_resolve(activation), sw2, sb2, q0, tol)


def depth_scales(
    activation: Activation, sigma_w2: float, sigma_b2: float, tol: float = _PHASE_TOL
) -> tuple[float, float]:
    r"""Depth scales :math:`(\xi_q, \xi_c)` (Schoenholz et al. 2017; docs/theory.md §1.1, §1.3).

    :math:`\xi_q^{-1} = -\ln[\chi_1 + \sigma_w^2\int Dz\,\phi''\phi]` at :math:`q^*` and
    :math:`\xi_c^{-1} = -\ln \chi_{c^*}` (so :math:`\xi_c = -1/\ln\chi_1` in the ordered
    phase). ``inf`` where the slope is 1 within ``tol`` (criticality; tanh at
    :math:`\sigma_w^2 = 1, \sigma_b = 0`; ReLU at He init). NaN where undefined: both
    when :math:`q^* = \infty`, and :math:`\xi_c` when :math:`q^* = 0` (degenerate c-map;
    "–" in the docs/theory.md §1.3 table).

    Returns:
        ``(xi_q, xi_c)``.

    Examples:
        >>> [round(x, 4) for x in depth_scales("tanh", 0.5, 0.05)]
        [1.0089, 1.1914]
    """
    mf = mean_field(activation, sigma_w2, sigma_b2, tol=tol)
    return mf.xi_q, mf.xi_c


def phase(
    activation: Activation, sigma_w2: float, sigma_b2: float, tol: float = _PHASE_TOL,
    q0: float = 1.0,
) -> Phase:
    r"""The phase: ``"ordered"``, ``"critical"`` or ``"chaotic"`` (docs/theory.md §1.1).

    ``"ordered"`` if :math:`\chi_1 < 1 -` ``tol``, ``"chaotic"`` if :math:`\chi_1 > 1 +`
    ``tol``, else ``"critical"``.
    :math:`\chi_1` is taken at the fixed point reached from ``q0`` (its limit when that is 0
    or infinite), docs/theory.md §1.1 (Poole et al. 2016; Schoenholz et al. 2017).

    Examples:
        >>> phase("tanh", 2.0, 0.0), phase("relu", 2.0, 0.0), phase("selu", 1.0, 0.0)
        ('chaotic', 'critical', 'chaotic')
    """
    return _phase_of(chi1(activation, sigma_w2, sigma_b2, q0=q0), tol)


# --------------------------------------------------------------------------------------
# The critical line chi1 = 1 (docs/theory.md §1.4, §1.5)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriticalPoint:
    r"""A point of the critical line :math:`\chi_1 = 1` parametrised by its fixed point.

    Attributes:
        q_star: the fixed point.
        sigma_w2: :math:`1 / \int Dz\,\phi'(\sqrt{q^*} z)^2`.
        sigma_b2: :math:`q^* - \sigma_w^2 \int Dz\,\phi(\sqrt{q^*} z)^2` (may be negative:
            then no real bias reaches this point).
        slope_q: slope of the length map at ``q_star``, :math:`1 + \sigma_w^2 E\phi\phi''`.
        stable: whether the fixed point attracts the length map (``slope_q <= 1``).
    """

    q_star: float
    sigma_w2: float
    sigma_b2: float
    slope_q: float
    stable: bool


def _critical_at(act: _Act, q: float) -> CriticalPoint:
    m = _moments(act, q)
    if not m.dphi2 > 0.0:  # phi' = 0 almost everywhere: chi1 = 0 for every sigma_w2
        return CriticalPoint(q, math.nan, math.nan, math.nan, False)
    sw2 = 1.0 / m.dphi2
    slope = 1.0 + sw2 * m.phi_d2phi
    return CriticalPoint(q, sw2, q - sw2 * m.phi2, slope, slope <= 1.0 + _PHASE_TOL)


def critical_point(activation: Activation, q_star: float) -> CriticalPoint:
    r"""The point of the :math:`\chi_1 = 1` line whose fixed point is ``q_star``
    (docs/theory.md §1.4).

    The Pennington et al. 2017 ("Resurrecting the sigmoid in deep learning through dynamical
    isometry", NeurIPS) parametrisation: :math:`\sigma_w^2 = 1/\int Dz\,\phi'(\sqrt{q^*}z)^2`,
    :math:`\sigma_b^2 = q^* - \sigma_w^2\int Dz\,\phi(\sqrt{q^*}z)^2`.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        q_star: the fixed point (> 0).

    Returns:
        A :class:`CriticalPoint`.

    Examples:
        >>> p = critical_point("tanh", 0.25)
        >>> round(p.sigma_w2, 10), round(p.sigma_b2, 10)
        (1.3939616283, 0.0081251542)
    """
    q = _check_q("q_star", q_star)
    if q == 0.0:
        raise InvalidArgument("q_star=0.0 must be > 0")
    return _critical_at(_resolve(activation), q)


_CRIT_GRID = np.logspace(-8.0, 8.0, 97)


def critical_sigma_w2(
    activation: Activation, sigma_b2: float, *, require_stable: bool = True
) -> float:
    r""":math:`\sigma_w^2` on the critical line :math:`\chi_1 = 1` at bias variance ``sigma_b2``.

    docs/theory.md §1.4 method: solve :math:`\sigma_b^2(q^*) =` ``sigma_b2`` along the
    :func:`critical_point` parametrisation (a log-spaced scan over :math:`q^*` in [1e-8, 1e8]
    for sign changes, polished by Brent's method), plus the boundary :math:`q^* \to 0`
    (tanh and erf at :math:`\sigma_b = 0`: :math:`1/\phi'(0)^2`, i.e. 1 and
    :math:`\pi/4`). Two special cases:

    * if :math:`\int Dz\,\phi'(\sqrt q z)^2` does not depend on q (ReLU, leaky ReLU, linear),
      :math:`\chi_1 = 1 \Leftrightarrow \sigma_w^2 = 1/E\phi'^2` for every ``sigma_b2``
      (ReLU: 2), although for ``sigma_b2 > 0`` the length map then has no fixed point
      (docs/theory.md §1.4);
    * with ``require_stable`` (default) only fixed points that attract the length map count
      (slope <= 1), the smallest such :math:`q^*` wins, and NaN means there is none: GELU
      and SiLU at :math:`\sigma_b = 0`, whose formal value 4 sits on the unstable trivial
      fixed point (docs/theory.md §1.5), and SiLU below :math:`\sigma_b^2 \approx 0.555`. With
      ``require_stable=False`` the smallest-:math:`q^*` solution is returned whatever its
      stability (GELU/SiLU at 0: 4).

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_b2: bias variance (>= 0).
        require_stable: only accept attracting fixed points.

    Returns:
        The critical :math:`\sigma_w^2`, or NaN when no (stable) critical point exists.

    Examples:
        >>> critical_sigma_w2("relu", 0.3), round(critical_sigma_w2("tanh", 0.0), 12)
        (2.0, 1.0)
        >>> round(critical_sigma_w2("tanh", 0.05), 12)
        1.760954639607
    """
    target = _check_q("sigma_b2", sigma_b2)
    act = _resolve(activation)
    probe = [_moments(act, q).dphi2 for q in (1e-6, 1.0, 1e6)]
    if not max(probe) > 0.0:
        return math.nan
    if max(probe) - min(probe) <= 1e-12 * max(probe):
        return 1.0 / probe[1]
    candidates: list[CriticalPoint] = []
    phi0 = gauss_expect(act.phi, 0.0)
    if target == 0.0 and phi0 == 0.0:
        a0 = _moments(act, 0.0).dphi2
        q_s = 1e-4
        stable0 = _moments(act, q_s).phi2 / a0 <= q_s
        candidates.append(CriticalPoint(0.0, 1.0 / a0, 0.0, 1.0, stable0))

    def excess(q: float) -> float:
        value = _critical_at(act, q).sigma_b2 - target
        return value if math.isfinite(value) else math.nan

    values = [excess(float(q)) for q in _CRIT_GRID]
    for i in range(len(values) - 1):
        if not (math.isfinite(values[i]) and math.isfinite(values[i + 1])):
            continue
        if values[i] == 0.0:
            candidates.append(_critical_at(act, float(_CRIT_GRID[i])))
        elif values[i] * values[i + 1] < 0.0:
            root = optimize.brentq(excess, _CRIT_GRID[i], _CRIT_GRID[i + 1], xtol=1e-300,
                                   rtol=1e-15, maxiter=500)
            candidates.append(_critical_at(act, float(root)))
    pool = [p for p in candidates if p.stable] if require_stable else candidates
    if not pool:
        return math.nan
    return min(pool, key=lambda p: p.q_star).sigma_w2


# --------------------------------------------------------------------------------------
# Closed forms, used only as checks in the tests (docs/theory.md §1.2, §1.5, §6)
# --------------------------------------------------------------------------------------


def _closed_relu_kernel(q1: float, q2: float, c: float) -> float:
    """E[relu(u1) relu(u2)] = sqrt(q1 q2)/(2 pi) (sin t + (pi - t) cos t), t = arccos c.

    Cho & Saul 2009 (arc-cosine kernel), docs/theory.md §1.2.
    """
    t = math.acos(c)
    return math.sqrt(q1 * q2) / (2 * math.pi) * (math.sin(t) + (math.pi - t) * c)


def _closed_relu_dkernel(c: float) -> float:
    """E[relu'(u1) relu'(u2)] = (pi - arccos c) / (2 pi)."""
    return (math.pi - math.acos(c)) / (2 * math.pi)


def _closed_erf_kernel(q1: float, q2: float, c: float) -> float:
    """E[erf(u1) erf(u2)] = (2/pi) arcsin(2 S12 / sqrt((1 + 2 q1)(1 + 2 q2))) (Williams 1997)."""
    s12 = c * math.sqrt(q1 * q2)
    return 2 / math.pi * math.asin(2 * s12 / math.sqrt((1 + 2 * q1) * (1 + 2 * q2)))


def _closed_erf_dkernel(q1: float, q2: float, c: float) -> float:
    """E[erf'(u1) erf'(u2)] = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 S12^2)."""
    s12 = c * math.sqrt(q1 * q2)
    return 4 / math.pi / math.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * s12 * s12)


def _closed_leaky_relu_second_moment(q: float, slope: float) -> float:
    """E[leaky_relu(sqrt(q) z)^2] = q (1 + slope^2) / 2; E[leaky_relu'^2] = (1 + slope^2) / 2."""
    return q * (1 + slope * slope) / 2


def _closed_selu_chi1() -> float:
    """chi1 of SELU at LeCun init: lambda^2 (1/2 + alpha^2 e^2 Phi(-2)) (docs/theory.md §1.5)."""
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    return lam * lam * (0.5 + alpha * alpha * math.e**2 * float(special.ndtr(-2.0)))


def _closed_relu_cmap_he(c: float) -> float:
    """ReLU c-map at He init: (sqrt(1 - c^2) + (pi - arccos c) c) / pi (docs/theory.md §1.2)."""
    return (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi


# --------------------------------------------------------------------------------------
# Exact finite-width law of ReLU nets (docs/theory.md §2.2)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReluLayerLaw:
    r"""Moments of one layer's factor :math:`X = (2/n)\chi^2_K`, :math:`K \sim B(n, 1/2)`.

    All conditional on :math:`K \ge 1` (the event :math:`K = 0`, probability
    :math:`2^{-n}`, kills the signal and makes the log infinite), as in docs/theory.md §2.2.

    Attributes:
        width: the layer width n.
        e_log: :math:`E\ln X = E_K\psi(K/2) + \ln(4/n) \approx -5/(2n)`.
        var_log: :math:`\mathrm{Var}\ln X = E_K\psi'(K/2) + \mathrm{Var}_K\psi(K/2) \approx 5/n`.
        e_x: :math:`E X = 1/(1 - 2^{-n})`.
        e_x2: :math:`E X^2 = (1 + 5/n)/(1 - 2^{-n})`.
        p_dead: :math:`P(K = 0) = 2^{-n}`.
    """

    width: int
    e_log: float
    var_log: float
    e_x: float
    e_x2: float
    p_dead: float


def _check_width(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:
        raise InvalidArgument(f"{name}={n!r} must be an integer >= 1")
    return int(n)


@functools.lru_cache(maxsize=1024)
def _relu_layer(n: int) -> ReluLayerLaw:
    k = np.arange(1, n + 1, dtype=np.float64)
    log_p = special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()  # conditional on K >= 1
    psi = special.digamma(k / 2.0)
    mean_psi = float(p @ psi)
    return ReluLayerLaw(
        width=n,
        e_log=mean_psi + math.log(4.0 / n),
        var_log=float(p @ special.polygamma(1, k / 2.0)) + float(p @ (psi - mean_psi) ** 2),
        e_x=2.0 / n * float(p @ k),
        e_x2=4.0 / n**2 * float(p @ (k * (k + 2.0))),
        p_dead=2.0**-n,
    )


def relu_finite_width(n: int) -> ReluLayerLaw:
    r"""Exact per-layer law of ReLU gradient norms at width ``n`` (docs/theory.md §2.2).

    For Gaussian He weights (biases zero or symmetric), the width-normalised squared norm
    of a Jacobian-vector product evolves as :math:`M_L/M_0 = \prod_j X_j` with independent
    :math:`X_j = (2/n_j)\chi^2_{K_j}`, :math:`K_j \sim \mathrm{Binomial}(n_j, 1/2)`
    [derived + MC in docs/theory.md; cf. Hanin 2018, NeurIPS; Hanin & Nica 2020, Commun. Math.
    Phys.]. The same law holds per backward step for one example. The moments are exact
    mixtures of digamma/trigamma values over K (K = 0 excluded).

    Args:
        n: layer width (>= 1).

    Returns:
        A :class:`ReluLayerLaw`.

    Examples:
        >>> round(relu_finite_width(64).e_log, 10), round(relu_finite_width(64).var_log, 10)
        (-0.0401085988, 0.0829973506)
    """
    return _relu_layer(_check_width("n", n))


class LogNormLaw(NamedTuple):
    r"""Law of :math:`\ln(M_L/M_0)` over a ReLU stack (docs/theory.md §2.2); indexable as a tuple.

    Attributes:
        mean: :math:`\sum_j E\ln X_j` (about :math:`-5\beta/2`, :math:`\beta = \sum 1/n_j`).
        var: :math:`\sum_j \mathrm{Var}\ln X_j` (about :math:`5\beta`).
        second_moment_ratio: :math:`E[M_L^2]/E[M_L]^2 = \prod_j (1 + 5/n_j)` (K = 0
            included; exact).
    """

    mean: float
    var: float
    second_moment_ratio: float


def relu_log_norm_law(widths: Sequence[int]) -> LogNormLaw:
    r"""Mean and variance of :math:`\ln(M_L/M_0)` through ReLU layers of the given widths.

    Sums of the per-layer values of :func:`relu_finite_width` (the factors are
    independent). For the gradient between sites :math:`h^1` and :math:`h^L` of an
    L-layer MLP pass the L - 1 widths in between. Halve the mean (quarter the variance)
    for the log of the norm instead of the squared norm.

    Args:
        widths: widths :math:`n_1, \dots, n_L` of the ReLU layers.

    Returns:
        ``LogNormLaw(mean, var, second_moment_ratio)``.

    Examples:
        >>> law = relu_log_norm_law([64] * 20)
        >>> round(law.mean, 10), round(law.var, 10), round(law.second_moment_ratio, 10)
        (-0.8021719767, 1.6599470111, 4.50175997)
    """
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise InvalidArgument(f"widths={widths!r} must be a sequence of integers >= 1")
    layers = [relu_finite_width(_check_width("widths[i]", n)) for n in widths]
    return LogNormLaw(
        mean=float(sum(x.e_log for x in layers)),
        var=float(sum(x.var_log for x in layers)),
        second_moment_ratio=float(np.prod([1.0 + 5.0 / x.width for x in layers])),
    )


# --------------------------------------------------------------------------------------
# Jacobian spectrum (docs/theory.md §3)
# --------------------------------------------------------------------------------------

Weights = Literal["gaussian", "orthogonal"]
_S1: dict[str, float] = {"gaussian": -1.0, "orthogonal": 0.0}


@dataclass(frozen=True)
class JacobianSpectrum:
    r"""First two moments of the spectrum of :math:`JJ^T`, :math:`J = \prod_l D^l W^l`.

    Attributes:
        q: the pre-activation second moment used (:math:`q^*` by default).
        mu1: :math:`\int Dz\,\phi'(\sqrt q z)^2`.
        mu2: :math:`\int Dz\,\phi'(\sqrt q z)^4`.
        chi: :math:`\sigma_w^2 \mu_1`.
        m1: mean eigenvalue :math:`\chi^L`.
        normalized_variance: :math:`m_2/m_1^2 - 1 = L(\mu_2/\mu_1^2 - 1 - s_1)`.
    """

    q: float
    mu1: float
    mu2: float
    chi: float
    m1: float
    normalized_variance: float


def jacobian_spectrum(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    weights: Weights = "gaussian",
    q: float | None = None,
) -> JacobianSpectrum:
    r"""Mean and normalised variance of the spectrum of :math:`JJ^T` (docs/theory.md §3.1).

    Free probability (Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid",
    NeurIPS, eq. 12): S-transforms multiply, so the normalised spectral variance
    :math:`v = m_2/m_1^2 - 1` adds over the free factors: :math:`-s_1` per weight matrix
    (Marchenko-Pastur: :math:`s_1 = -1`; orthogonal: 0) and :math:`\mu_2/\mu_1^2 - 1` per
    :math:`D^2`. Hence :math:`m_1 = \chi^L` and :math:`v = L(\mu_2/\mu_1^2 - 1 - s_1)`
    [derived in docs/theory.md]. Valid for width to infinity at fixed L, every layer at q.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2, sigma_b2: the variances.
        depth: number of layers L.
        weights: ``"gaussian"`` or ``"orthogonal"``.
        q: pre-activation second moment (default :math:`q^*`; its limit if 0 or inf).

    Returns:
        A :class:`JacobianSpectrum`.

    Examples:
        >>> jacobian_spectrum("relu", 2.0, 0.0, 10).normalized_variance
        20.0
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    depth = _check_width("depth", depth)
    if weights not in _S1:
        raise InvalidArgument(f"weights={weights!r} must be one of: gaussian, orthogonal")
    act = _resolve(activation)
    qq = _fixed_point(act, sw2, sb2, 1.0) if q is None else _check_q("q", q)
    m = _moments(act, qq)
    ratio = m.dphi4 / m.dphi2**2 if m.dphi2 > 0.0 else math.nan
    chi = sw2 * m.dphi2
    return JacobianSpectrum(
        q=qq, mu1=m.dphi2, mu2=m.dphi4, chi=chi, m1=chi**depth,
        normalized_variance=depth * (ratio - 1.0 - _S1[weights]),
    )


def jacobian_normalized_variance(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    weights: Weights = "gaussian",
    q: float | None = None,
) -> float:
    r""":math:`L(\mu_2/\mu_1^2 - 1 - s_1)`, see :func:`jacobian_spectrum` (docs/theory.md §3.2).

    Examples:
        >>> jacobian_normalized_variance("relu", 2.0, 0.0, 10, weights="orthogonal")
        10.0
    """
    spec = jacobian_spectrum(activation, sigma_w2, sigma_b2, depth, weights, q)
    return spec.normalized_variance


# --------------------------------------------------------------------------------------
# Normalization (docs/theory.md §6)
# --------------------------------------------------------------------------------------

_IDENTITY_PROBE = np.array([-3.0, -1.0, -0.3, 0.2, 1.0, 2.5])


def _is_identity(act: _Act) -> bool:
    x = _IDENTITY_PROBE
    return bool(
        np.allclose(act.phi(x), x, rtol=0, atol=1e-12)
        and np.allclose(act.dphi(x), 1.0, rtol=0, atol=1e-12)
    )


def _relu_scale(act: _Act) -> float:
    """``a`` if ``phi(x) = a max(x, 0)`` with ``a > 0`` (checked at probe points), else NaN."""
    x = np.concatenate([_IDENTITY_PROBE, [0.0, 10.0, -10.0]])
    y = np.asarray(act.phi(x), dtype=np.float64)
    a = float(y[-2] / 10.0)
    if a > 0 and np.allclose(y, a * np.maximum(x, 0.0), rtol=1e-12, atol=1e-14):
        return a
    return math.nan


def batchnorm_rate(activation: Activation, batch: int | None = None) -> float:
    r"""Per-layer factor :math:`\lambda` of the **squared** gradient norm with BatchNorm.

    For :math:`h^l = W^l x^{l-1}`, :math:`x^l = \phi(\mathrm{BN}(h^l))` (batch statistics,
    no affine), :math:`E\|\partial L/\partial x^{l-1}\|^2 = \lambda\,E\|\partial L/\partial
    x^l\|^2` with, for a large batch, :math:`\lambda = E[\phi'(z)^2]/\mathrm{Var}[\phi(z)]`
    (BN's backward divides by the batch variance of h; its forward removes the mean) --
    ReLU :math:`\pi/(\pi - 1)`, tanh 1.1778 -- and for the identity at batch size B,
    :math:`\lambda = (B - 2)/(B - 3)` [derived, docs/theory.md §6; Yang et al. 2019, "A Mean
    Field Theory of Batch Normalization", ICLR]. Independent of :math:`\sigma_w`.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        batch: batch size B; ``None`` for the large-batch limit.

    Returns:
        :math:`\lambda` (not a log: the norm's log growth is :math:`\tfrac12\ln\lambda`,
        see :func:`batchnorm_log_growth`). NaN when there is no formula: a finite batch
        with a non-identity activation (docs/theory.md §6 has MC values only), or B < 4 (the
        expected rate is infinite or the gradient degenerate).

    Examples:
        >>> round(batchnorm_rate("relu"), 10), batchnorm_rate("linear", batch=8)
        (1.4669422069, 1.2)
    """
    act = _resolve(activation)
    if batch is not None:
        b = _check_width("batch", batch)
        if not _is_identity(act) or b < 4:
            return math.nan
        return (b - 2.0) / (b - 3.0)
    m = _moments(act, 1.0)
    variance = m.phi2 - m.phi**2
    return m.dphi2 / variance if variance > 0.0 else math.nan


def batchnorm_log_growth(activation: Activation, batch: int | None = None) -> float:
    r"""Per-layer log growth of the gradient **norm** with BatchNorm, :math:`\tfrac12\ln\lambda`.

    See :func:`batchnorm_rate` for :math:`\lambda` and the domain (docs/theory.md §6).

    Examples:
        >>> round(batchnorm_log_growth("relu"), 6)
        0.19159
    """
    rate = batchnorm_rate(activation, batch)
    return 0.5 * math.log(rate) if rate > 0 else math.nan


def layernorm_rate(activation: Activation, sigma_w2: float = 1.0, sigma_b2: float = 0.0) -> float:
    r"""Per-layer factor :math:`\lambda` of the **squared** gradient norm with LayerNorm.

    LayerNorm (and RMSNorm, which differs only by not centring an already centred h) divides
    by the per-example feature RMS of :math:`h = Wx + b`, whose square is
    :math:`\sigma_w^2 E\phi(z)^2 + \sigma_b^2` at large width, so
    :math:`\lambda = \sigma_w^2 E[\phi'(z)^2] / (\sigma_w^2 E[\phi(z)^2] + \sigma_b^2)`;
    without bias :math:`E\phi'^2/E\phi^2` (1 for ReLU and the identity, 1.1778 for tanh)
    [derived, docs/theory.md §6]. Independent of the batch size.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2, sigma_b2: the variances (only their ratio matters).

    Returns:
        :math:`\lambda` (squared norm; the norm's log growth is :math:`\tfrac12\ln\lambda`).

    Examples:
        >>> round(layernorm_rate("tanh"), 10), round(layernorm_rate("relu"), 12)
        (1.1778072323, 1.0)
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    m = _moments(_resolve(activation), 1.0)
    denominator = sw2 * m.phi2 + sb2
    return sw2 * m.dphi2 / denominator if denominator > 0 else math.nan


def layernorm_log_growth(
    activation: Activation, sigma_w2: float = 1.0, sigma_b2: float = 0.0
) -> float:
    r"""Per-layer log growth of the gradient **norm** with LayerNorm, :math:`\tfrac12\ln\lambda`.

    See :func:`layernorm_rate` (docs/theory.md §6).
    """
    rate = layernorm_rate(activation, sigma_w2, sigma_b2)
    return 0.5 * math.log(rate) if rate > 0 else math.nan


_NORM_KINDS: dict[str, str] = {"batchnorm": "batch", "layernorm": "feature", "rmsnorm": "feature"}
"""Normalizations with a theory: batch statistics (BN) or per-example feature statistics."""
NormName = Literal["batchnorm", "layernorm", "rmsnorm"]


# --------------------------------------------------------------------------------------
# Residual networks (docs/theory.md §4)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidualMeanField:
    r"""Mean-field recursion of :math:`x_l = x_{l-1} + \alpha_l W_2 \phi(N(W_1 x_{l-1} + b))`.

    Attributes:
        p: ``[L+1]`` stream second moments :math:`p_l = E x_l^2` (per coordinate),
            l = 0..L.
        q: ``[L]`` second moment of block l's branch pre-activation
            :math:`\sigma_w^2 p_{l-1} + \sigma_b^2`, l = 1..L.
        factor: ``[L]`` per-block factor of the **squared** gradient norm,
            :math:`E\|\partial L/\partial x_{l-1}\|^2 / E\|\partial L/\partial x_l\|^2`.
        log_growth: ``[L]`` :math:`\tfrac12\ln` factor (log growth of the norm).
    """

    p: np.ndarray
    q: np.ndarray
    factor: np.ndarray
    log_growth: np.ndarray


def _check_alphas(alphas: object) -> np.ndarray:
    try:
        arr = np.asarray(alphas, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.array([math.nan])
    if arr.ndim != 1 or arr.size < 1 or not np.all(np.isfinite(arr)):
        raise InvalidArgument(
            f"alphas={alphas!r} must be a non-empty 1-D sequence of finite floats"
        )
    return arr


def residual_mean_field(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    sigma_v2: float,
    alphas: Sequence[float],
    p0: float = 1.0,
    norm: NormName | None = None,
) -> ResidualMeanField:
    r"""Mean-field forward and backward recursion of a residual MLP (docs/theory.md §4).

    Block l maps :math:`x_{l-1} \mapsto x_{l-1} + \alpha_l W_2 \phi(N(W_1 x_{l-1} + b))`
    with :math:`W_1 \sim N(0, \sigma_w^2/n)`, :math:`W_2 \sim N(0, \sigma_v^2/n)`,
    :math:`b \sim N(0, \sigma_b^2)`. The cross terms vanish because :math:`W_2` is
    independent and centred, so (gradient independence, width to infinity):

    * no normalization: :math:`q_l = \sigma_w^2 p_{l-1} + \sigma_b^2`,
      :math:`p_l = p_{l-1} + \alpha_l^2\sigma_v^2 E\phi(\sqrt{q_l}z)^2`, factor
      :math:`1 + \alpha_l^2\sigma_v^2\sigma_w^2 E\phi'(\sqrt{q_l}z)^2` -- for ReLU
      :math:`1 + \alpha_l^2 v` with :math:`v = \sigma_v^2\sigma_w^2/2` (docs/theory.md §4.1),
      for tanh the sub-exponential growth of Yang & Schoenholz 2017 (docs/theory.md §4.2);
    * LayerNorm/RMSNorm in the branch: the branch sees :math:`\hat h \sim N(0,1)`, factor
      :math:`1 + \alpha_l^2\sigma_v^2\sigma_w^2 E\phi'(z)^2 / q_l`;
    * BatchNorm in the branch (large batch): BN divides by the batch-centred variance
      :math:`\sigma_w^2\tilde p_{l-1}` of h, which grows by only
      :math:`\alpha_l^2\sigma_v^2\mathrm{Var}\,\phi(z)` per block, so the factor is
      :math:`1 + \alpha_l^2\sigma_v^2 E\phi'(z)^2/\tilde p_{l-1}` -- ReLU with
      :math:`\sigma_v^2 = 2`: :math:`\prod_l (1 + 1/(1 + (1 - 1/\pi) l))`, polynomial growth
      (docs/theory.md §4.3; De & Smith 2020).

    Zero branches (:math:`\alpha_l = 0`: SkipInit, ReZero; :math:`\sigma_v^2 = 0`: Fixup's
    zero-initialised output layer) give a factor of exactly 1.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2: variance times fan-in of the branch's first layer W1.
        sigma_b2: its bias variance.
        sigma_v2: variance times fan-in of the branch's output layer W2.
        alphas: branch scales :math:`\alpha_1, \dots, \alpha_L`.
        p0: second moment of the input stream :math:`x_0` (i.i.d. entries).
        norm: ``None``, ``"batchnorm"``, ``"layernorm"`` or ``"rmsnorm"`` (before phi).

    Returns:
        A :class:`ResidualMeanField`.

    Examples:
        >>> r = residual_mean_field("relu", 2.0, 0.0, 1.0, [1.0] * 10)
        >>> float(np.prod(r.factor))  # (1 + v)^L with v = 1
        1024.0
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    sv2 = _check_q("sigma_v2", sigma_v2)
    p_0 = _check_q("p0", p0)
    a = _check_alphas(alphas)
    if norm is not None and norm not in _NORM_KINDS:
        raise InvalidArgument(f"norm={norm!r} must be None or one of: {', '.join(_NORM_KINDS)}")
    act = _resolve(activation)
    kind = _NORM_KINDS.get(norm) if norm is not None else None
    std = _moments(act, 1.0) if kind is not None else None
    p = np.empty(a.size + 1)
    q = np.empty(a.size)
    factor = np.empty(a.size)
    p[0] = p_0
    centred = p_0  # batch-centred variance of the stream (BatchNorm only)
    for i, alpha in enumerate(a):
        gain = alpha * alpha * sv2
        q[i] = sw2 * p[i] + sb2
        if std is None:
            m = _moments(act, q[i])
            p[i + 1] = p[i] + gain * m.phi2
            factor[i] = 1.0 + gain * sw2 * m.dphi2
        elif kind == "feature":
            p[i + 1] = p[i] + gain * std.phi2
            factor[i] = 1.0 + gain * sw2 * std.dphi2 / q[i] if gain else 1.0
        else:
            p[i + 1] = p[i] + gain * std.phi2
            factor[i] = 1.0 + gain * std.dphi2 / centred if gain else 1.0
            centred += gain * (std.phi2 - std.phi**2)
    with np.errstate(divide="ignore"):
        log_growth = 0.5 * np.log(factor)
    return ResidualMeanField(p=p, q=q, factor=factor, log_growth=log_growth)


def residual_log_growth(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    sigma_v2: float,
    alphas: Sequence[float],
    p0: float = 1.0,
    norm: NormName | None = None,
) -> np.ndarray:
    r"""Per-block log growth of the gradient **norm**, :math:`\tfrac12\ln(\text{factor}_l)`.

    See :func:`residual_mean_field` (docs/theory.md §4). Entry l - 1 is
    :math:`\ln(\|\partial L/\partial x_{l-1}\| / \|\partial L/\partial x_l\|)`.

    Examples:
        >>> float(residual_log_growth("relu", 2.0, 0.0, 1.0, [0.0, 0.0]).sum())
        0.0
    """
    return residual_mean_field(
        activation, sigma_w2, sigma_b2, sigma_v2, alphas, p0, norm
    ).log_growth


# --------------------------------------------------------------------------------------
# Vanilla RNNs (docs/theory.md §5)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RNNMeanField:
    r"""Mean field of :math:`h_t = \phi(W h_{t-1} + U x_t + b)` unrolled for T steps.

    Attributes:
        q: ``[T]`` pre-activation second moments :math:`q_t`, t = 1..T.
        h2: ``[T]`` hidden-state second moments :math:`E h_t^2 = E\phi(\sqrt{q_t}z)^2`.
        factor: ``[T-1]`` per-step factor of the **squared** gradient norm between
            :math:`h_t` and :math:`h_{t+1}`, :math:`\sigma_w^2 E\phi'(\sqrt{q_{t+1}}z)^2`.
        log_growth: ``[T-1]`` :math:`\tfrac12\ln` factor.
    """

    q: np.ndarray
    h2: np.ndarray
    factor: np.ndarray
    log_growth: np.ndarray


def rnn_mean_field(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    steps: int,
    sigma_u2: float = 1.0,
    input_var: float = 1.0,
    h0_var: float = 1.0,
) -> RNNMeanField:
    r"""Mean-field recursion of a vanilla RNN, loss on :math:`h_T` (docs/theory.md §5.3).

    The pre-activation variance follows the feed-forward length map with an effective
    bias :math:`\sigma_u^2 q_x + \sigma_b^2`: :math:`q_1 = \sigma_w^2 q_{h_0} +
    \sigma_u^2 q_x + \sigma_b^2`, :math:`q_{t+1} = \sigma_w^2 E\phi(\sqrt{q_t}z)^2 +
    \sigma_u^2 q_x + \sigma_b^2`; and :math:`\partial L/\partial h_t = W^T(\phi'(a_{t+1})
    \odot \partial L/\partial h_{t+1})` gives the per-step factor
    :math:`\sigma_w^2 E\phi'(\sqrt{q_{t+1}}z)^2`. Weight tying across steps is ignored
    (gradient independence; Chen, Pennington & Schoenholz 2018, ICML, use the same
    description, and docs/theory.md §5.3 confirms it by tied-weight Monte Carlo).

    Args:
        activation: registry name or :class:`ActivationFunctions` (tanh, relu, linear).
        sigma_w2: recurrent weight variance times H (including any recurrent scale).
        sigma_b2: bias variance.
        steps: T (>= 1).
        sigma_u2: input weight variance times H.
        input_var: variance :math:`q_x` of the inputs.
        h0_var: variance of the initial state.

    Returns:
        An :class:`RNNMeanField`.

    Examples:
        >>> r = rnn_mean_field("tanh", 1.0, 0.0, 200, sigma_u2=1.0, input_var=0.05)
        >>> round(float(r.factor[-1]), 8)  # docs/theory.md §5.3
        0.75903165
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    su2, qx, h0 = (_check_q(n, v) for n, v in
                   (("sigma_u2", sigma_u2), ("input_var", input_var), ("h0_var", h0_var)))
    steps = _check_width("steps", steps)
    act = _resolve(activation)
    drive = su2 * qx + sb2
    q = np.empty(steps)
    h2 = np.empty(steps)
    chi = np.empty(steps)
    prev = h0
    for t in range(steps):
        q[t] = min(sw2 * prev + drive, math.inf)
        m = _moments(act, q[t])
        h2[t] = m.phi2 if q[t] <= Q_HUGE else math.inf
        chi[t] = sw2 * m.dphi2
        prev = h2[t]
    factor = chi[1:]
    with np.errstate(divide="ignore"):
        log_growth = 0.5 * np.log(factor)
    return RNNMeanField(q=q, h2=h2, factor=factor, log_growth=log_growth)


def rnn_fixed_point(
    activation: Activation, sigma_w2: float, sigma_b2: float = 0.0, input_drive: float = 0.0,
    q0: float = 1.0,
) -> tuple[float, float]:
    r"""Stationary :math:`(q^*, \chi)` of a vanilla RNN (docs/theory.md §5.3).

    :math:`q^* = \sigma_w^2 E\phi(\sqrt{q^*}z)^2 + \sigma_u^2 q_x + \sigma_b^2` (the
    length map with effective bias ``input_drive + sigma_b2``, where ``input_drive`` is
    :math:`\sigma_u^2 q_x`) and :math:`\chi = \sigma_w^2 E\phi'(\sqrt{q^*}z)^2`; the gradient
    norm scales as :math:`\chi^{(T-t)/2}`.

    Examples:
        >>> [round(x, 8) for x in rnn_fixed_point("tanh", 2.0, 0.0, 0.5)]
        [1.41545329, 0.80888871]
    """
    drive = _check_q("input_drive", input_drive)
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    qs = _fixed_point(act, sw2, sb2 + drive, _check_q("q0", q0) or 1.0)
    return qs, _chi_at(act, sw2, qs)


def linear_rnn_log_growth(rho: float) -> float:
    r"""Per-step log growth :math:`\ln\rho` of the gradient norm of a linear orthogonal RNN.

    The cell is :math:`h_t = \rho Q h_{t-1} + U x_t + b` with Q orthogonal.

    :math:`\partial L/\partial h_t = (\rho Q^T)^{T-t}\,\partial L/\partial h_T`, so
    :math:`\|\partial L/\partial h_t\| = \rho^{T-t}\|\partial L/\partial h_T\|` exactly, at any
    width and for any inputs (docs/theory.md §5.2; Pascanu et al. 2013 for the linear criterion).

    Examples:
        >>> round(linear_rnn_log_growth(0.9) * 10, 12) == round(math.log(0.9 ** 10), 12)
        True
    """
    r = _check_q("rho", rho)
    return math.log(r) if r > 0 else -math.inf


# --------------------------------------------------------------------------------------
# predict(spec) -> Prediction
# --------------------------------------------------------------------------------------

MIN_WIDTH = 32
"""Mean-field predictions are declared valid from this width (O(1/width) corrections)."""
BN_MIN_BATCH = 128
"""Large-batch BatchNorm rates are within ~0.3% of Monte Carlo from this batch
(docs/theory.md §6)."""
_RANDOM_WEIGHTS = ("normal", "uniform", "orthogonal")
_RNN_ACTIVATIONS: dict[str, str] = {"rnn_tanh": "tanh", "rnn_relu": "relu", "linear": "linear"}
_GATED_REASON = (
    "no verified mean-field oracle exists for gated cells (LSTM/GRU; Gilboa et al. 2019 give "
    "one, but its formulas could not be checked, docs/theory.md §5.4), so theory makes "
    "no prediction"
)


def _readonly(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, dtype=np.float64)
    out.setflags(write=False)
    return out


def _no_prediction(spec: Any, reason: str, **fields: Any) -> Prediction:
    from gradbench.records import Prediction

    return Prediction(spec=spec.to_dict(), log_growth=None, valid=False, reason=reason, **fields)


def _weights_issue(init: str, family: str) -> str | None:
    """Why an initializer is outside the theory (data-dependent, deterministic), or None."""
    remedy = registry.lookup("initializer", init)
    if remedy.meta.get("data_dependent"):
        return (
            f"initializer {init!r} is data-dependent (rescaled on a batch, e.g. LSUV), so its "
            f"weight variance is not known in advance and {family} theory does not apply"
        )
    dist = remedy.meta.get("distribution")
    if dist is not None and dist not in _RANDOM_WEIGHTS:
        return (
            f"initializer {init!r} draws deterministic weights (distribution {dist!r}); mean "
            "field averages over i.i.d. or Haar-random weights"
        )
    return None


def _width_domain(width: int, sites: int) -> tuple[bool, str, str]:
    """(valid, domain text, reason) for a mean-field prediction at ``width``."""
    domain = (
        f"mean field (width -> infinity at fixed depth): valid for width >= {MIN_WIDTH}; "
        "per-layer log growth then carries O(1/width) corrections (for ReLU given exactly in "
        "quantities['finite_width_bias']); statements about the whole depth (products, the "
        "spread of log-norms across networks) also need depth <= width/4 (beta = depth/width; "
        "Hanin & Rolnick 2018)"
    )
    if width < MIN_WIDTH:
        return False, domain, (
            f"width={width} < {MIN_WIDTH}: outside the mean-field domain, O(1/width) "
            "corrections are not small (log_growth is still given for reference)"
        )
    return True, domain, ""


def _predict_mlp(spec: MLPSpec, batch: int | None) -> Prediction:
    from gradbench.records import Prediction

    issue = _weights_issue(spec.init, "mean-field")
    if issue:
        return _no_prediction(spec, issue)
    if spec.norm is not None and spec.norm not in _NORM_KINDS:
        return _no_prediction(
            spec, f"normalization {spec.norm!r} has no theory here (known: "
            f"{', '.join(_NORM_KINDS)}); registered user normalizations get no prediction"
        )
    sw2, sb2 = weight_variance(spec), bias_variance(spec)
    if sw2 == 0.0:
        return _no_prediction(
            spec, "sigma_w2=0: all weights are zero, so gradients below the top layer vanish "
            "identically (or the normalization divides by zero)"
        )
    act = _resolve(spec.activation)
    L, n = spec.depth, spec.width
    q1 = sw2 * spec.input_var + sb2
    valid, domain, reason = _width_domain(n, L)
    quantities: dict[str, Any] = {"sigma_w2": sw2, "sigma_b2": sb2, "beta": L / n}
    weights_note = (
        "weights i.i.d. with variance sigma_w2/fan_in (only the variance enters), or Haar "
        "orthogonal with the same scale"
    )
    if spec.norm is None:
        qs = q_trajectory(act, q1, sw2, sb2, L)
        chis = np.array([_chi_at(act, sw2, float(q)) for q in qs[:-1]])
        with np.errstate(divide="ignore"):
            log_growth = 0.5 * np.log(chis)
        mf = _mean_field(act, sw2, sb2, q1, _PHASE_TOL)
        quantities.update(
            chi1=mf.chi1, q_star=mf.q_star, phase=mf.phase, xi_q=mf.xi_q, xi_c=mf.xi_c,
            c_star=mf.c_star, chi_c=mf.chi_c, chi_per_layer=_readonly(chis),
            site_second_moment=_readonly(qs),
        )
        assumptions = [
            weights_note,
            "width -> infinity (mean field) with gradient independence (Schoenholz et al. 2017)",
            f"pre-activations follow the length map from q^1 = sigma_w2 * input_var + sigma_b2 "
            f"= {q1:.6g}; the factor between sites l and l+1 is chi at q^l",
            "ratio of expectations E||dL/dh^l||^2 / E||dL/dh^{l+1}||^2; the mean of logs differs "
            "by O(1/width)",
            "where the length map is nearly marginal away from its fixed point (GELU/SiLU at He "
            "init: slope near 1 at large q) finite-width fluctuations of q accumulate over layers "
            "and need larger widths (width 512, depth 20: measured q^20 several times the mean "
            "field; width 2048 agrees)",
        ]
        source = "Poole et al. 2016 (NeurIPS); Schoenholz et al. 2017 (ICLR); docs/theory.md §1.1"
        scale = _relu_scale(act)
        dist = registry.lookup("initializer", spec.init).meta.get("distribution")
        if math.isfinite(scale) and dist in ("normal", "uniform"):
            law = relu_finite_width(n)
            quantities["finite_width_bias"] = 0.5 * law.e_log
            quantities["finite_width_log_var"] = 0.25 * law.var_log
            assumptions.append(
                "finite_width_bias = E ln(||dL/dh^l|| / ||dL/dh^{l+1}||) - log_growth for one "
                "example (exact for Gaussian weights, docs/theory.md §2.2; uniform weights "
                "~3% off); a "
                "batch Frobenius norm averages over examples and has a smaller bias"
            )
            source += "; Hanin 2018 (NeurIPS), Hanin & Nica 2020, docs/theory.md §2.2"
        return Prediction(
            spec=spec.to_dict(), log_growth=_readonly(log_growth), valid=valid, reason=reason,
            assumptions=tuple(assumptions), domain=domain, source=source, quantities=quantities,
        )
    return _predict_normalized_mlp(spec, act, sw2, sb2, batch, valid, domain, reason, quantities)


def _predict_normalized_mlp(
    spec: MLPSpec, act: _Act, sw2: float, sb2: float, batch: int | None, valid: bool,
    domain: str, reason: str, quantities: dict[str, Any],
) -> Prediction:
    """Sites h^l with x^l = phi(norm(h^l)): factor sigma_w2 E[phi'^2] / s_l^2
    (docs/theory.md §6)."""
    from gradbench.records import Prediction

    L = spec.depth
    kind = _NORM_KINDS[str(spec.norm)]
    std = _moments(act, 1.0)  # normalized pre-activations are N(0, 1)
    second = np.full(L, sw2 * std.phi2 + sb2)
    second[0] = sw2 * spec.input_var + sb2
    assumptions = [
        "width -> infinity; normalized pre-activations are standard normal; eps = 1e-5 of the "
        "normalization is negligible against the variance it divides by",
        "no affine parameters (identity at initialization)",
    ]
    if kind == "batch":
        first = std.dphi2 / spec.input_var  # s_1^2 = sigma_w2 * input_var (batch variance)
        if batch is not None and _is_identity(act):
            b = _check_width("batch", batch)
            if b < 4:
                return _no_prediction(spec, f"batch={b} < 4: the BatchNorm gradient of a "
                                      "linear net has no finite expected rate", domain=domain)
            rate = (b - 2.0) / (b - 3.0)
            first = b * (b - 2.0) / ((b - 1.0) * (b - 3.0) * spec.input_var)
            assumptions.append(f"finite batch B={b}, identity activation: centred batch "
                               "vectors isotropic in B-1 dimensions, E[1/chi2_(B-1)] = 1/(B-3)")
        else:
            rate = std.dphi2 / (std.phi2 - std.phi**2)
            assumptions.append("large batch: BN divides by the batch variance, so "
                               "lambda = E[phi'^2]/Var[phi] (sigma_w and biases cancel)")
            if batch is not None and batch < BN_MIN_BATCH and not _is_identity(act):
                valid = False
                reason = (f"batch={batch} < {BN_MIN_BATCH}: finite-batch BatchNorm rates of "
                          "nonlinear activations have no closed form (docs/theory.md §6 "
                          "gives Monte "
                          "Carlo values only); the large-batch rate is given for reference")
        domain += (f"; BatchNorm: batch >= {BN_MIN_BATCH} for nonlinear activations (identity: "
                   "any batch >= 4 with predict(spec, batch=B)), and width >> batch (O(B/width) "
                   "corrections)")
        source = ("Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019 (ICLR), 'A Mean "
                  "Field Theory of Batch Normalization'; docs/theory.md §6")
    else:
        first = sw2 * std.dphi2 / (sw2 * spec.input_var + sb2)
        rate = sw2 * std.dphi2 / (sw2 * std.phi2 + sb2)
        assumptions.append("per-example feature statistics: the feature mean of h is ~0 at "
                           "large width, so LayerNorm and RMSNorm agree")
        source = "Ba et al. 2016 (LayerNorm); docs/theory.md §6 [derived]"
    factors = np.full(max(L - 1, 0), rate)
    if L > 1:
        factors[0] = first
    with np.errstate(divide="ignore"):
        log_growth = 0.5 * np.log(factors)
    quantities.update(rate=rate, chi_per_layer=_readonly(factors),
                      site_second_moment=_readonly(second))
    return Prediction(
        spec=spec.to_dict(), log_growth=_readonly(log_growth), valid=valid, reason=reason,
        assumptions=tuple(assumptions), domain=domain, source=source, quantities=quantities,
    )


def _predict_residual(spec: ResidualSpec) -> Prediction:
    from gradbench.records import Prediction

    for init in (spec.init, spec.out_init):
        issue = _weights_issue(init, "residual mean-field")
        if issue:
            return _no_prediction(spec, issue)
    if spec.norm is not None and spec.norm not in _NORM_KINDS:
        return _no_prediction(
            spec, f"normalization {spec.norm!r} has no theory here (known: "
            f"{', '.join(_NORM_KINDS)})"
        )
    scaling = registry.lookup("residual", str(spec.branch_scale))
    L, n = spec.depth, spec.width
    alphas = [float(scaling.fn(layer, L)) for layer in range(1, L + 1)]
    w1_scale = float(scaling.meta.get("branch_weight_scale", lambda depth: 1.0)(L))
    sw2 = weight_variance(spec) * w1_scale**2
    sb2 = bias_variance(spec)
    zero_out = bool(scaling.meta.get("zero_out"))
    sv2 = 0.0 if zero_out else branch_out_variance(spec)
    norm = spec.norm if spec.norm is None else str(spec.norm)
    if sw2 == 0.0 and norm is not None and not zero_out and any(alphas):
        return _no_prediction(spec, "sigma_w2=0 with a normalized branch divides by zero")
    mf = residual_mean_field(spec.activation, sw2, sb2, sv2, alphas, spec.input_var,
                             norm)  # type: ignore[arg-type]
    exact = zero_out or not any(alphas)
    if exact:
        valid, reason = True, ""
        domain = "exact at any width: every branch outputs 0 at initialization"
    else:
        valid, domain, reason = _width_domain(n, L)
        if norm == "batchnorm":
            domain += f"; BatchNorm in the branch: large batch (>= {BN_MIN_BATCH})"
    assumptions = [
        "x_l = x_{l-1} + alpha_l W2 phi(norm(W1 x_{l-1} + b)), W1 ~ sigma_w2/n, W2 ~ sigma_v2/n",
        "cross terms vanish because W2 is independent and centred; backward uses gradient "
        "independence (width -> infinity)",
        "the factor between sites x_{l-1} and x_l is block l's 1 + alpha_l^2 sigma_v2 sigma_w2 "
        "E[phi'(sqrt(q_l) z)^2], q_l = sigma_w2 p_{l-1} + sigma_b2 (norms: "
        "docs/theory.md §4.3, §6)",
    ]
    if zero_out:
        assumptions.append(f"{spec.branch_scale}: the branch output layer starts at zero")
    quantities: dict[str, Any] = {
        "sigma_w2": sw2, "sigma_b2": sb2, "sigma_v2": sv2, "alphas": _readonly(np.array(alphas)),
        "chi_per_layer": _readonly(mf.factor[:-1]), "site_second_moment": _readonly(mf.p[:-1]),
        "total_log_growth": float(mf.log_growth[:-1].sum()), "beta": L / n,
    }
    return Prediction(
        spec=spec.to_dict(), log_growth=_readonly(mf.log_growth[:-1]), valid=valid,
        reason=reason, assumptions=tuple(assumptions), domain=domain,
        source=("Yang & Schoenholz 2017 (NeurIPS); Hanin & Rolnick 2018 (NeurIPS); De & Smith "
                "2020 (NeurIPS); Zhang, Dauphin & Ma 2019 (Fixup, ICLR); Bachlechner et al. 2020 "
                "(ReZero); docs/theory.md §4"),
        quantities=quantities,
    )


def _predict_rnn(spec: RNNSpec) -> Prediction:
    from gradbench.records import Prediction

    if spec.cell not in _RNN_ACTIVATIONS:
        return _no_prediction(spec, f"cell {spec.cell!r}: {_GATED_REASON}",
                              source="Gilboa et al. 2019, arXiv:1901.08987; docs/theory.md §5.4")
    remedy = registry.lookup("initializer", spec.init)
    dist = remedy.meta.get("distribution")
    linear = spec.cell == "linear"
    exact = linear and dist in ("orthogonal", "identity") and not remedy.meta.get("data_dependent")
    if not exact:
        issue = _weights_issue(spec.init, "RNN mean-field")
        if issue:
            return _no_prediction(spec, issue)
    sw2, sb2 = weight_variance(spec), bias_variance(spec)
    T, n = spec.steps, spec.hidden
    act_name = _RNN_ACTIVATIONS[spec.cell]
    mf = rnn_mean_field(act_name, sw2, sb2, T, spec.sigma_u2, spec.input_var, spec.h0_var)
    drive = spec.sigma_u2 * spec.input_var + sb2
    quantities: dict[str, Any] = {
        "sigma_w2": sw2, "sigma_b2": sb2, "effective_sigma_b2": drive,
        "site_second_moment": _readonly(mf.h2), "chi_per_layer": _readonly(mf.factor),
    }
    if exact:
        rho = math.sqrt(sw2)
        log_growth = np.full(T - 1, linear_rnn_log_growth(rho))
        quantities.update(rho=rho, chi1=rho * rho)
        return Prediction(
            spec=spec.to_dict(), log_growth=_readonly(log_growth), valid=True,
            assumptions=("W_hh = rho Q with Q orthogonal: dL/dh_t = (rho Q^T)^(T-t) dL/dh_T",
                         "loss on h_T only"),
            domain="exact at any width and for any inputs",
            source="Saxe et al. 2014; Pascanu, Mikolov & Bengio 2013 (ICML); docs/theory.md §5.2",
            quantities=quantities,
        )
    stationary = _mean_field(_resolve(act_name), sw2, drive, mf.q[0] or 1.0, _PHASE_TOL,
                             correlations=False)
    quantities.update(q_star=stationary.q_star, chi1=stationary.chi1, phase=stationary.phase,
                      xi_q=stationary.xi_q)
    valid, domain, reason = _width_domain(n, T)
    domain = domain.replace("depth", "steps")
    return Prediction(
        spec=spec.to_dict(), log_growth=_readonly(mf.log_growth), valid=valid, reason=reason,
        assumptions=(
            "h_t = phi(W h_{t-1} + U x_t + b) with W ~ sigma_w2/H (recurrent_scale included) or "
            "Haar orthogonal of the same scale, U ~ sigma_u2/H, x_t ~ N(0, input_var), "
            "h_0 ~ N(0, h0_var)",
            "weight tying across steps ignored (gradient independence, width -> infinity)",
            "the factor between h_t and h_{t+1} is sigma_w2 E[phi'(sqrt(q_{t+1}) z)^2], the "
            "pre-activation q following the length map with effective bias sigma_u2 * input_var "
            "+ sigma_b2",
        ),
        domain=domain,
        source=("Pascanu, Mikolov & Bengio 2013 (ICML); Chen, Pennington & Schoenholz 2018 "
                "(ICML); docs/theory.md §5.3"),
        quantities=quantities,
    )


def _remedy_identity(spec: Spec) -> tuple[object, ...]:
    """The registered objects a spec resolves to, so re-registering a name misses the cache."""
    kinds: list[tuple[str, str | None]] = [("initializer", spec.init)]
    if isinstance(spec, (MLPSpec, ResidualSpec)):
        kinds += [("activation", spec.activation), ("normalization", spec.norm)]
    if isinstance(spec, ResidualSpec):
        kinds += [("residual", str(spec.branch_scale)), ("initializer", spec.out_init)]
    out: list[object] = []
    for kind, name in kinds:
        if name is not None:
            remedy = registry.lookup(kind, name)  # type: ignore[arg-type]
            out += [remedy.obj, tuple(sorted(remedy.params.items()))]
    return tuple(out)


@functools.lru_cache(maxsize=512)
def _predict_cached(spec: Spec, batch: int | None, identity: tuple[object, ...]) -> Prediction:
    if isinstance(spec, MLPSpec):
        return _predict_mlp(spec, batch)
    if isinstance(spec, ResidualSpec):
        return _predict_residual(spec)
    return _predict_rnn(spec)


def predict(spec: Spec, *, batch: int | None = None) -> Prediction:
    r"""What theory predicts for ``spec``: per-site log gradient growth and its domain.

    ``log_growth[l]`` is the predicted :math:`\ln(\|\partial L/\partial s_l\| /
    \|\partial L/\partial s_{l+1}\|)` for consecutive probe sites (a norm, not a squared
    norm: half the log of the squared-norm factor), of length ``n_sites - 1``:

    * :class:`~gradbench.specs.MLPSpec`: sites :math:`h^1..h^L` with :math:`q^1 = \sigma_w^2
      \cdot` input_var :math:`+ \sigma_b^2` and the layer-by-layer length map; the factor
      between sites l and l+1 is :math:`\chi` at :math:`q^l` (docs/theory.md §1.1; Poole et al.
      2016; Schoenholz et al. 2017). With BatchNorm/LayerNorm/RMSNorm it is
      :math:`\sigma_w^2 E\phi'(z)^2/s_l^2` (docs/theory.md §6; Yang et al. 2019), where
      :math:`s_l^2` is the variance the normalization divides by.
    * :class:`~gradbench.specs.ResidualSpec`: sites :math:`x_0..x_{L-1}` (docs/theory.md §4).
    * :class:`~gradbench.specs.RNNSpec`: sites :math:`h_1..h_T`, loss on :math:`h_T`
      (docs/theory.md §5); LSTM/GRU get no prediction.

    ``quantities`` carries ``chi1``, ``q_star``, ``phase``, ``xi_q``, ``xi_c`` (MLP), the
    per-site squared-norm factors ``chi_per_layer``, the predicted ``site_second_moment``
    (what the probe records as ``preact_second_moment``), and for ReLU-like MLPs with
    i.i.d. weights ``finite_width_bias``, the exact per-layer offset of the mean log
    growth at that width for one example (docs/theory.md §2.2). Specs outside every domain
    (gated cells, a normalization without theory, data-dependent or deterministic
    initializers) get ``valid=False``, ``log_growth=None`` and a ``reason``; specs with
    width < :data:`MIN_WIDTH` get ``valid=False`` with the numbers kept for reference.
    Never raises for a valid spec: a numerical failure becomes ``valid=False``.

    Args:
        spec: an ``MLPSpec``, ``ResidualSpec`` or ``RNNSpec``.
        batch: batch size, used only by BatchNorm MLPs (``None``: the large-batch limit).

    Returns:
        A :class:`~gradbench.records.Prediction` (cached; its arrays are read-only, its
        ``quantities`` dict a fresh copy).

    Raises:
        InvalidArgument: ``spec`` is not a gradbench spec, or ``batch`` is not an int >= 1.

    Examples:
        >>> from gradbench.specs import MLPSpec
        >>> p = predict(MLPSpec(depth=4, width=256, activation="relu", init="he_normal"))
        >>> p.valid, [round(float(x), 12) for x in p.log_growth]
        (True, [0.0, 0.0, 0.0])
    """
    if not isinstance(spec, (MLPSpec, ResidualSpec, RNNSpec)):
        raise InvalidArgument(
            f"spec={spec!r} must be an MLPSpec, ResidualSpec or RNNSpec"
        )
    if batch is not None:
        batch = _check_width("batch", batch)
    try:
        cached = _predict_cached(spec, batch, _remedy_identity(spec))
        return dataclasses.replace(cached, quantities=dict(cached.quantities))
    except (ArithmeticError, ValueError, RuntimeError, TypeError) as exc:
        return _no_prediction(spec, f"theory failed numerically for this spec "
                              f"({type(exc).__name__}: {exc})")


__all__ = [
    "BN_MIN_BATCH", "MIN_WIDTH", "Q_HUGE", "Q_TINY", "Z_MAX", "Activation",
    "ActivationFunctions", "CriticalPoint", "JacobianSpectrum", "LogNormLaw", "MeanField",
    "RNNMeanField", "ReluLayerLaw", "ResidualMeanField", "batchnorm_log_growth",
    "batchnorm_rate", "c_map", "c_star", "chi1", "chi_c", "critical_point", "critical_sigma_w2",
    "depth_scales", "gauss_expect", "gauss_expect2", "jacobian_normalized_variance",
    "jacobian_spectrum", "layernorm_log_growth", "layernorm_rate", "length_map_slope",
    "linear_rnn_log_growth", "mean_field", "phase", "predict", "q_map", "q_star",
    "q_trajectory", "relu_finite_width", "relu_log_norm_law", "residual_log_growth",
    "residual_mean_field", "rnn_fixed_point", "rnn_mean_field",
]
