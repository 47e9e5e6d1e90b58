"""Measured and predicted per-layer growth of the gradient norm, and its class.

The measured per-layer growth factor of a measurement is ``exp(-s)`` where ``s`` is the
mean over seeds of the least-squares slope of ``log ||dL/dh_l||`` against the layer (or
time step) index ``l``, so a factor below 1 means the gradient shrinks going towards the
input. It is classed as vanishing below :data:`VANISH_BELOW`, exploding above
:data:`EXPLODE_ABOVE`, and stable in between. The predicted factor is
``exp(mean(prediction.log_growth))``.

Seeds are the independent units, as in :mod:`gradbench.stats`: one slope per seed, and
a Student-t interval across seeds (quantiles from :data:`scipy.stats.t`). Unlike
:func:`gradbench.stats.fit_slopes`, which gives NaN for a seed with any non-finite site
(the right call for a test), the report fits each seed over the sites whose norm is
finite and positive, so an exploding configuration still shows how fast it explodes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from gradbench import records
from gradbench.claims.network import STABLE_GROWTH

__all__ = [
    "CLASSES",
    "EXPLODE_ABOVE",
    "VANISH_BELOW",
    "Growth",
    "classify",
    "mean_ci",
    "measured_growth",
    "predicted_factor",
    "safe_exp",
    "theory_log10",
]

#: Per-layer growth factors above this are "exploding": the band of the ``stable_gradients``
#: claim (:data:`gradbench.claims.network.STABLE_GROWTH`), so a label and a verdict agree.
EXPLODE_ABOVE = STABLE_GROWTH
#: Per-layer growth factors below this are "vanishing" (``1 / STABLE_GROWTH``).
VANISH_BELOW = 1.0 / STABLE_GROWTH
#: Every class a configuration can get, most alarming first.
CLASSES = ("explode", "nonfinite", "vanish", "stable", "unknown")

_LN10 = math.log(10.0)


@dataclass(frozen=True)
class Growth:
    """Measured per-layer growth of ``||dL/dh_l||`` for one measurement.

    Attributes:
        factor: ``exp(-mean slope)`` per layer (< 1: vanishing towards the input);
            NaN when no seed has two finite sites.
        factor_low, factor_high: 95% confidence interval of ``factor`` across seeds.
        seeds_used: seeds that entered the fit (those with >= 2 finite, non-zero sites).
        seeds, sites: shape of the measurement.
        n_inf, n_nan, n_zero: gradient norms that are infinite, NaN or exactly zero.
        klass: ``explode``, ``nonfinite``, ``vanish``, ``stable`` or ``unknown``.
        mean_log10, low_log10, high_log10: per-site mean over seeds of
            ``log10 ||dL/dh_l||`` (finite seeds only) and its 95% CI (NaN if undefined).
        bad_sites: per site, the number of seeds whose norm there is not finite and > 0.
    """

    factor: float
    factor_low: float
    factor_high: float
    seeds_used: int
    seeds: int
    sites: int
    n_inf: int
    n_nan: int
    n_zero: int
    klass: str
    mean_log10: np.ndarray
    low_log10: np.ndarray
    high_log10: np.ndarray
    bad_sites: np.ndarray

    @property
    def over_depth(self) -> float:
        """Total measured change from the top site to the bottom: ``factor ** (sites - 1)``."""
        if not math.isfinite(self.factor) or self.factor <= 0:
            return self.factor
        return math.exp(math.log(self.factor) * (self.sites - 1))


def classify(factor: float) -> str:
    """``vanish``, ``stable`` or ``explode`` for a per-layer factor; ``unknown`` for NaN."""
    if math.isnan(factor):
        return "unknown"
    if factor < VANISH_BELOW:
        return "vanish"
    if factor > EXPLODE_ABOVE:
        return "explode"
    return "stable"


def safe_exp(x: float) -> float:
    """``exp(x)`` that gives ``inf`` instead of raising on overflow (and NaN for NaN)."""
    if math.isnan(x):
        return math.nan
    if x > 709:
        return math.inf
    return math.exp(x)


@functools.lru_cache(maxsize=256)
def _t_quantile(probability: float, df: int) -> float:
    return float(sps.t.ppf(probability, df))


def mean_ci(values: np.ndarray, confidence_level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite entries of ``values`` and its Student-t confidence interval.

    Returns:
        ``(mean, low, high)``; the bounds are NaN with fewer than two finite entries,
        everything is NaN with none.

    Examples:
        >>> mean_ci(np.array([1.0, 2.0, 3.0, np.nan]))  # doctest: +ELLIPSIS
        (2.0, -0.48..., 4.48...)
    """
    v = values[np.isfinite(values)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1:
        return mean, math.nan, math.nan
    t = _t_quantile(0.5 + confidence_level / 2.0, v.size - 1)
    half = t * float(v.std(ddof=1)) / math.sqrt(v.size)
    return mean, mean - half, mean + half


def _seed_slopes(logs: np.ndarray) -> np.ndarray:
    """Per seed, the least-squares slope of ``logs`` over its finite sites (>= 2 of them)."""
    good = np.isfinite(logs)
    x_all = np.arange(logs.shape[1], dtype=np.float64)
    slopes = []
    for s in range(logs.shape[0]):
        ok = good[s]
        if ok.sum() < 2:
            continue
        x = x_all[ok]
        y = logs[s, ok]
        xc = x - x.mean()
        slopes.append(float((xc * (y - y.mean())).sum() / (xc * xc).sum()))
    return np.array(slopes, dtype=np.float64)


def measured_growth(m: records.Measurement) -> Growth:
    """Fit the per-layer growth of ``||dL/dh_l||`` of a measurement.

    Per seed, the least-squares slope of ``log ||dL/dh_l||`` against ``l`` over the
    sites where the norm is finite and positive (seeds with fewer than two such sites
    are left out); the factor is ``exp(-mean slope)`` with a 95% t-interval across seeds.
    A measurement with an infinite norm is ``explode``, with a NaN norm ``nonfinite``,
    with an exactly zero norm ``vanish``, whatever the fit says.

    Args:
        m: the measurement.

    Returns:
        A :class:`Growth`.
    """
    norms = np.asarray(m.act_grad_norms, dtype=np.float64)
    if norms.ndim == 1:
        norms = norms[None, :]
    if norms.ndim != 2:
        norms = norms.reshape(norms.shape[0] if norms.size else 0, -1)
    seeds, sites = norms.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(norms)
    slopes = _seed_slopes(logs)
    mean, lo, hi = mean_ci(slopes)
    n_inf = int(np.isposinf(norms).sum())
    n_nan = int(np.isnan(norms).sum())
    n_zero = int((norms == 0).sum())
    factor = safe_exp(-mean)
    klass = (
        "explode" if n_inf else "nonfinite" if n_nan else "vanish" if n_zero else classify(factor)
    )
    per_site = np.array([mean_ci(site) for site in (logs / _LN10).T], dtype=np.float64)
    mean_l, low_l, high_l = per_site.reshape(sites, 3).T
    return Growth(
        factor=factor,
        factor_low=safe_exp(-hi),
        factor_high=safe_exp(-lo),
        seeds_used=int(slopes.size),
        seeds=seeds,
        sites=sites,
        n_inf=n_inf,
        n_nan=n_nan,
        n_zero=n_zero,
        klass=klass,
        mean_log10=mean_l,
        low_log10=low_l,
        high_log10=high_l,
        bad_sites=(~np.isfinite(logs)).sum(axis=0),
    )


def _usable_log_growth(p: records.Prediction | None) -> np.ndarray | None:
    if p is None or p.log_growth is None or not p.valid:
        return None
    return np.asarray(p.log_growth, dtype=np.float64).ravel()


def predicted_factor(p: records.Prediction | None) -> float:
    """``exp(mean predicted per-layer log growth)``; NaN without a valid prediction."""
    lg = _usable_log_growth(p)
    if lg is None:
        return math.nan
    lg = lg[~np.isnan(lg)]
    if lg.size == 0:
        return math.nan
    with np.errstate(invalid="ignore", over="ignore"):
        return safe_exp(float(lg.mean()))


def theory_log10(p: records.Prediction | None, growth: Growth) -> np.ndarray | None:
    """Predicted log10 norms per site, accumulated from the top site's measured mean.

    ``None`` without a valid prediction of one log growth per step between sites.
    """
    lg = _usable_log_growth(p)
    n = growth.sites
    if lg is None or n < 2 or lg.size != n - 1:
        return None
    finite = np.flatnonzero(np.isfinite(growth.mean_log10))
    anchor_site = int(finite[-1]) if finite.size else n - 1
    anchor = float(growth.mean_log10[anchor_site]) if finite.size else 0.0
    out = np.full(n, np.nan)
    out[anchor_site] = anchor
    with np.errstate(invalid="ignore", over="ignore"):
        for i in range(anchor_site - 1, -1, -1):
            out[i] = out[i + 1] + lg[i] / _LN10
        for i in range(anchor_site + 1, n):
            out[i] = out[i - 1] - lg[i - 1] / _LN10
    return out
