r"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017), docs/theory.md §1.

The length map, its fixed point and :math:`\chi_1`; the correlation map, depth scales and
phase; the critical line :math:`\chi_1 = 1`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize

from gradbench.errors import InvalidArgument
from gradbench.theory._activation import (
    Activation,
    _Act,
    _check_sigmas,
    _moments,
    _resolve,
)
from gradbench.theory._quadrature import Q_HUGE, _check_q, _grid2, gauss_expect

Phase = Literal["ordered", "critical", "chaotic"]

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
    return _correlations(activation, sigma_w2, sigma_b2, tol)[0]


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
    return _correlations(activation, sigma_w2, sigma_b2, tol)[1]


def _correlations(
    activation: Activation, sigma_w2: float, sigma_b2: float, tol: float
) -> tuple[float, float]:
    """``(c*, chi_c*)`` at the fixed point q* reached from q0 = 1; NaNs when it is 0 or inf."""
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    qs = _fixed_point(act, sw2, sb2, 1.0)
    if _degenerate(qs):
        return math.nan, math.nan
    return _correlations_at(act, sw2, sb2, qs, _chi_at(act, sw2, qs), tol)


def _correlations_at(
    act: _Act, sw2: float, sb2: float, qs: float, chi: float, tol: float
) -> tuple[float, float]:
    """``(c*, chi_c*)`` at a finite, non-zero q*: chi_c* is chi1 where c* = 1."""
    cs = _c_star(act, sw2, sb2, qs, chi, tol)
    return cs, chi if cs == 1.0 else sw2 * _kernel2(act, qs, cs)[1]


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
    cs, chic = _correlations_at(act, sw2, sb2, qs, chi, tol)
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
    pool = [p for p in _line_points(act, target) if p.stable or not require_stable]
    if not pool:
        return math.nan
    return min(pool, key=lambda p: p.q_star).sigma_w2


def _line_points(act: _Act, target: float) -> list[CriticalPoint]:
    """The points of the critical line at bias variance ``target``: the boundary q* = 0 of an
    odd-like activation at zero bias, and the roots of sigma_b2(q*) = target on a log grid."""
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
    return candidates


CRITICAL_BIASES = (0.0, 0.05, 0.1, 0.3, 1.0, 3.0)
"""Bias variances at which :func:`stable_critical_point` looks for a critical point, in order."""
MIN_CRITICAL_Q = 1e-3
"""Smallest fixed point :func:`stable_critical_point` accepts: below it the network sits in
the activation's linear regime, where the fixed point attracts only marginally (tanh at
sigma_b = 0: q^l ~ 1/(2l) and a polynomial decay, docs/theory.md §1.3)."""


def stable_critical_point(
    activation: Activation, sigma_b2s: tuple[float, ...] = CRITICAL_BIASES
) -> CriticalPoint | None:
    r"""The critical initialization gradbench tries an activation at (docs/theory.md §9.3).

    A point of the :math:`\chi_1 = 1` line whose fixed point :math:`q^*` attracts the length
    map, so a network started at :math:`q^*` stays critical at every layer:

    * when :math:`E\phi'(\sqrt q z)^2` does not depend on q (ReLU, leaky ReLU, linear):
      :math:`\sigma_w^2 = 1/E\phi'^2`, :math:`\sigma_b^2 = 0`, with the fixed point reached
      from q = 1 (any q is preserved for a positively homogeneous activation);
    * otherwise the first ``sigma_b2`` of ``sigma_b2s`` at which the line has a stable fixed
      point :math:`q^* \geq` :data:`MIN_CRITICAL_Q` with length-map slope below 1 (the
      smallest such :math:`q^*`). GELU and SiLU have none at :math:`\sigma_b = 0`
      (docs/theory.md §1.5): GELU's is at :math:`\sigma_b^2 = 0.3` (:math:`\sigma_w^2 =
      1.956`, :math:`q^* = 8.77`), SiLU's at 1.0 (1.967, 39.4); tanh's at 0.05 (1.761, 0.570).

    Only the forward enters (the activation's :math:`\phi` and the derivatives its
    :class:`ActivationFunctions` supplies: pass finite differences of the forward to keep a
    user's backward out).

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_b2s: bias variances to try, in order.

    Returns:
        A :class:`CriticalPoint`, or ``None`` when no bias variance of ``sigma_b2s`` gives one.

    Examples:
        >>> p = stable_critical_point("tanh")
        >>> round(p.sigma_w2, 9), p.sigma_b2, round(p.q_star, 9)
        (1.76095464, 0.05, 0.570047882)
        >>> p = stable_critical_point("relu")
        >>> p.q_star, p.sigma_w2, p.sigma_b2
        (1.0, 2.0, 0.0)
    """
    act = _resolve(activation)
    probe = [_moments(act, q).dphi2 for q in (1e-6, 1.0, 1e6)]
    if not max(probe) > 0.0:
        return None
    if max(probe) - min(probe) <= 1e-9 * max(probe):
        sw2 = 1.0 / probe[1]
        q = _fixed_point(act, sw2, 0.0, 1.0)
        if not MIN_CRITICAL_Q <= q < Q_HUGE:
            return None
        slope = length_map_slope(act, q, sw2)
        return CriticalPoint(q, sw2, 0.0, slope, slope <= 1.0 + _PHASE_TOL)
    for b2 in sigma_b2s:
        target = _check_q("sigma_b2", b2)
        good = [p for p in _line_points(act, target)
                if p.stable and p.q_star >= MIN_CRITICAL_Q and p.slope_q < 1.0]
        if good:
            return dataclasses.replace(min(good, key=lambda p: p.q_star), sigma_b2=target)
    return None
