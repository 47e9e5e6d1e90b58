"""Multiplicity corrections: Holm (family-wise) and Benjamini-Hochberg (FDR)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradbench.errors import InvalidArgument
from gradbench.stats._common import (  # noqa: F401
    check_count,
    check_float_array,
    check_level,
    check_real,
    finite_sample,
    mean_sd,
    plain,
    t_interval,
    t_ratio,
)

# --------------------------------------------------------------------------------------
# Multiplicity
# --------------------------------------------------------------------------------------


def _pvalues_iv(pvalues: ArrayLike) -> tuple[NDArray[np.float64], tuple[int, ...]]:
    """Flattened p-values with NaN replaced by 1, and the original shape."""
    p = check_float_array("pvalues", pvalues, ndim=None)
    bad = ~np.isnan(p) & ~((p >= 0.0) & (p <= 1.0))
    if np.any(bad):
        first = float(p[bad].ravel()[0])
        raise InvalidArgument(
            f"pvalues contains {first!r}; every p-value must be in [0, 1] (or NaN)"
        )
    return np.where(np.isnan(p), 1.0, p).ravel(), p.shape


def _holm_iv(
    pvalues: ArrayLike, alpha: object
) -> tuple[NDArray[np.float64], tuple[int, ...], float]:
    p, shape = _pvalues_iv(pvalues)
    return p, shape, check_level("alpha", alpha)


def holm(pvalues: ArrayLike, alpha: float) -> NDArray[np.bool_]:
    r"""Holm's step-down procedure: reject flags with family-wise error :math:`\le \alpha`.

    Sort the :math:`m` p-values :math:`p_{(1)} \le \dots \le p_{(m)}`; let :math:`k` be the
    first (1-based) index with :math:`p_{(k)} > \alpha / (m - k + 1)`; reject the
    hypotheses of :math:`p_{(1)}, \dots, p_{(k-1)}` (all if there is no such :math:`k`).
    The family-wise error rate is :math:`\le \alpha` under *any* dependence between the
    tests (Holm 1979), and it is uniformly more powerful than Bonferroni.

    Args:
        pvalues: p-values of any shape; ``NaN`` counts as 1 (never rejected, but still
            part of the family).
        alpha: family-wise error rate in (0, 1).

    Returns:
        Boolean reject flags with the shape of ``pvalues``.

    Raises:
        InvalidArgument: a p-value outside [0, 1] or ``alpha`` outside (0, 1).

    Examples:
        >>> holm([0.001, 0.02, 0.04, float("nan")], alpha=0.05).tolist()
        [True, False, False, False]
    """
    p, shape, a = _holm_iv(pvalues, alpha)
    m = p.size
    order = np.argsort(p, kind="stable")
    thresholds = a / (m - np.arange(m))
    above = p[order] > thresholds
    k = int(np.argmax(above)) if np.any(above) else m
    reject = np.zeros(m, dtype=bool)
    reject[order[:k]] = True
    return reject.reshape(shape)


def holm_adjusted(pvalues: ArrayLike) -> NDArray[np.float64]:
    r"""Holm-adjusted p-values: reject at family-wise level :math:`\alpha` iff :math:`\le \alpha`.

    .. math::

        \tilde p_{(i)} = \max_{j \le i} \min\{1, (m - j + 1)\, p_{(j)}\}

    (Holm 1979; Wright 1992, "Adjusted p-values for simultaneous inference").

    Args:
        pvalues: p-values of any shape; ``NaN`` counts as 1.

    Returns:
        Adjusted p-values with the shape of ``pvalues`` (1 where the input was NaN).

    Raises:
        InvalidArgument: a p-value outside [0, 1].

    Examples:
        >>> holm_adjusted([0.01, 0.04, 0.03]).round(4).tolist()
        [0.03, 0.06, 0.06]
    """
    p, shape = _pvalues_iv(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(scaled) if m else scaled
    return out.reshape(shape)


def _bh_iv(pvalues: ArrayLike, q: object) -> tuple[NDArray[np.float64], tuple[int, ...], float]:
    p, shape = _pvalues_iv(pvalues)
    return p, shape, check_level("q", q)


def benjamini_hochberg(pvalues: ArrayLike, q: float) -> NDArray[np.bool_]:
    r"""Benjamini-Hochberg step-up procedure: reject flags with false discovery rate :math:`\le q`.

    Sort :math:`p_{(1)} \le \dots \le p_{(m)}`; let :math:`k` be the largest index with
    :math:`p_{(k)} \le k q / m`; reject the hypotheses of :math:`p_{(1)}, \dots, p_{(k)}`.
    For independent (or positively regression dependent) tests the expected fraction of
    false rejections among all rejections is :math:`\le q\, m_0/m`
    (Benjamini & Hochberg 1995; Benjamini & Yekutieli 2001).

    Args:
        pvalues: p-values of any shape; ``NaN`` counts as 1.
        q: target false discovery rate in (0, 1).

    Returns:
        Boolean reject flags with the shape of ``pvalues``.

    Raises:
        InvalidArgument: a p-value outside [0, 1] or ``q`` outside (0, 1).

    Examples:
        >>> benjamini_hochberg([0.001, 0.02, 0.04, 0.5], q=0.05).tolist()
        [True, True, False, False]
    """
    p, shape, qq = _bh_iv(pvalues, q)
    m = p.size
    order = np.argsort(p, kind="stable")
    below = p[order] <= qq * np.arange(1, m + 1) / m
    k = int(np.nonzero(below)[0][-1]) + 1 if np.any(below) else 0
    reject = np.zeros(m, dtype=bool)
    reject[order[:k]] = True
    return reject.reshape(shape)


def benjamini_hochberg_adjusted(pvalues: ArrayLike) -> NDArray[np.float64]:
    r"""Benjamini-Hochberg adjusted p-values (q-values): reject at FDR :math:`q` iff :math:`\le q`.

    .. math::

        \tilde p_{(i)} = \min_{j \ge i} \min\{1, m\, p_{(j)} / j\}

    (Benjamini & Hochberg 1995; same as ``scipy.stats.false_discovery_control``).

    Args:
        pvalues: p-values of any shape; ``NaN`` counts as 1.

    Returns:
        Adjusted p-values with the shape of ``pvalues`` (1 where the input was NaN).

    Raises:
        InvalidArgument: a p-value outside [0, 1].

    Examples:
        >>> benjamini_hochberg_adjusted([0.01, 0.04, 0.03]).round(4).tolist()
        [0.03, 0.04, 0.04]
    """
    p, shape = _pvalues_iv(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, m * p[order] / np.arange(1, m + 1))
    out = np.empty(m)
    out[order] = np.minimum.accumulate(scaled[::-1])[::-1] if m else scaled
    return out.reshape(shape)
