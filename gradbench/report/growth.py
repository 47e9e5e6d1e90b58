"""Measured and predicted per-layer growth of the gradient norm, and its class.

The growth and its class come from :func:`gradbench.stats.gradient_growth`, the one estimator
the claims use too (docs/theory.md §9.1): per seed, the end-to-end log ratio
``ln ||dL/dh_1|| - ln ||dL/dh_L||`` over the L - 1 steps of the measured depth; across seeds,
its mean with a Student-t interval at :data:`gradbench.stats.GROWTH_CONFIDENCE`. The
per-layer factor is ``exp(mean / (L - 1))`` (below 1: the gradient shrinks going towards the
input), the factor over the depth ``exp(mean)``. The class is judged on the latter against
:data:`STABLE_WITHIN` (``stable``, ``vanishing``, ``exploding``, ``inconclusive``,
``nonfinite``: :data:`CLASSES`), so a label and a ``stable_gradients`` verdict agree. The
predicted factor is ``exp(mean(prediction.log_growth))``.

The per-site curves (mean over seeds of ``log10 ||dL/dh_l||`` with a 95% interval) use the
finite, positive norms of each site, so an exploding configuration still shows how far it
got.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from gradbench import records, stats

__all__ = [
    "CLASSES",
    "STABLE_WITHIN",
    "Growth",
    "mean_ci",
    "measured_growth",
    "predicted_factor",
    "safe_exp",
    "theory_log10",
]

#: A configuration is stable when its gradient changes by less than this factor over its
#: depth (:data:`gradbench.stats.STABLE_WITHIN`, the band of the stability claims).
STABLE_WITHIN = stats.STABLE_WITHIN
#: Every class a configuration can get, most alarming first.
CLASSES = stats.GROWTH_CLASSES

_LN10 = math.log(10.0)


@dataclass(frozen=True)
class Growth:
    """Measured growth of ``||dL/dh_l||`` for one measurement (the report's view of a
    :class:`gradbench.stats.GradientGrowth`, plus the per-site curves).

    Attributes:
        factor: per-layer factor (< 1: vanishing towards the input); NaN when no seed has
            finite norms at both ends.
        factor_low, factor_high: its interval across seeds (``growth.confidence``).
        seeds_used: seeds with finite norms at both ends.
        seeds, sites: shape of the measurement.
        n_inf, n_nan, n_zero: gradient norms that are infinite, NaN or exactly zero.
        klass: one of :data:`CLASSES`.
        mean_log10, low_log10, high_log10: per-site mean over seeds of
            ``log10 ||dL/dh_l||`` (finite seeds only) and its 95% CI (NaN if undefined).
        bad_sites: per site, the number of seeds whose norm there is not finite and > 0.
        growth: the shared estimate (end-to-end factor, interval, words).
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
    growth: stats.GradientGrowth

    @property
    def over_depth(self) -> float:
        """Total measured change from the top site to the bottom: the end-to-end factor."""
        return self.growth.end_to_end

    @property
    def words(self) -> str:
        """The growth in plain words (:func:`gradbench.stats.growth_in_words`)."""
        return self.growth.words


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


def measured_growth(m: records.Measurement, unit: str = "layer") -> Growth:
    """The growth of ``||dL/dh_l||`` of a measurement (:func:`gradbench.stats.gradient_growth`)
    with its per-site curves.

    Args:
        m: the measurement.
        unit: what a site is (``layer``, ``block``, ``step``), for the words.

    Returns:
        A :class:`Growth`.
    """
    norms = np.asarray(m.act_grad_norms, dtype=np.float64)
    if norms.ndim == 1:
        norms = norms[None, :]
    if norms.ndim != 2:
        norms = norms.reshape(norms.shape[0] if norms.size else 0, -1)
    seeds, sites = norms.shape
    logs = stats.log_norms(norms) if norms.size else np.empty((seeds, sites))
    g = (stats.gradient_growth(norms, unit=unit) if norms.size else
         stats.growth_of_ratios([], sites, unit=unit))
    low, high = g.per_step_interval
    per_site = np.array([mean_ci(site) for site in (logs / _LN10).T], dtype=np.float64)
    mean_l, low_l, high_l = per_site.reshape(sites, 3).T
    return Growth(
        factor=g.per_step,
        factor_low=low,
        factor_high=high,
        seeds_used=g.networks,
        seeds=seeds,
        sites=sites,
        n_inf=g.n_inf,
        n_nan=g.n_nan,
        n_zero=g.n_zero,
        klass=g.klass(),
        mean_log10=mean_l,
        low_log10=low_l,
        high_log10=high_l,
        bad_sites=(~np.isfinite(logs)).sum(axis=0),
        growth=g,
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


def theory_log10(p: records.Prediction | None, growth: Growth,
                 drift: float = 0.0) -> np.ndarray | None:
    """Predicted log10 norms per site, accumulated from the top site's measured mean; each
    step's predicted log growth plus ``drift`` (the finite-width drift theory knows,
    :func:`gradbench.theory.finite_width_drift`, as the claim tests it).

    ``None`` without a valid prediction of one log growth per step between sites.
    """
    lg = _usable_log_growth(p)
    lg = None if lg is None else lg + drift
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
