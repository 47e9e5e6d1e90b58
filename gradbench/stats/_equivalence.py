"""Equivalence by two one-sided t-tests (TOST; Schuirmann 1987)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from gradbench.errors import InvalidArgument
from gradbench.records import ConfidenceInterval
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
# Equivalence (TOST)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TOSTResult:
    """Result of :func:`tost`.

    Attributes:
        statistic: ``min(statistic_low, -statistic_high)``, the weaker of the two
            one-sided t statistics (large means equivalent); ``pvalue`` is its upper
            t tail.
        pvalue: ``max(pvalue_low, pvalue_high)``.
        estimate: sample mean of the finite values.
        low, high: the equivalence margins.
        standard_error: ``sd / sqrt(n)``.
        df: ``n - 1``.
        n: number of finite values used.
        n_nonfinite: values dropped as non-finite.
        alpha: significance level of each one-sided test.
        passed: ``pvalue < alpha``: equivalence (``low < mean < high``) is shown.
        statistic_low, pvalue_low: t statistic ``(mean - low)/se`` and p-value of the
            test of ``H0: mu <= low``.
        statistic_high, pvalue_high: t statistic ``(mean - high)/se`` and p-value of the
            test of ``H0: mu >= high``.
    """

    statistic: float
    pvalue: float
    estimate: float
    low: float
    high: float
    standard_error: float
    df: int
    n: int
    n_nonfinite: int
    alpha: float
    passed: bool
    statistic_low: float
    pvalue_low: float
    statistic_high: float
    pvalue_high: float

    def confidence_interval(self, confidence_level: float | None = None) -> ConfidenceInterval:
        """Student-t confidence interval for the mean.

        Args:
            confidence_level: coverage in (0, 1); default ``1 - 2 * alpha``, the
                interval that lies inside ``[low, high]`` exactly when the TOST passes.

        Returns:
            ``estimate -+ t_{df, (1+level)/2} * standard_error``.
        """
        level = 1.0 - 2.0 * self.alpha if confidence_level is None else confidence_level
        level = check_level("confidence_level", level)
        return t_interval(self.estimate, self.standard_error, self.df, level)

    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (feed to :func:`gradbench.records.dumps`)."""
        return plain(self)


def _tost_iv(
    values: ArrayLike, low: object, high: object, alpha: object
) -> tuple[NDArray[np.float64], int, float, float, float]:
    x, dropped = finite_sample("values", values)
    lo = check_real("low", low)
    hi = check_real("high", high)
    if not lo < hi:
        raise InvalidArgument(f"low={low!r} must be < high={high!r}")
    a = check_level("alpha", alpha)
    if a >= 0.5:
        raise InvalidArgument(f"alpha={alpha!r} must be in (0, 0.5) for an equivalence test")
    return x, dropped, lo, hi, a


def tost(values: ArrayLike, low: float, high: float, *, alpha: float = 0.05) -> TOSTResult:
    r"""Two one-sided t-tests (TOST) for equivalence: "the mean lies in ``(low, high)``".

    With sample mean :math:`\bar x`, :math:`SE = S/\sqrt n` and :math:`\nu = n - 1`:

    .. math::

        T_\ell = \frac{\bar x - \ell}{SE},\ p_\ell = \bar F_{t_\nu}(T_\ell)
        \quad (H_0: \mu \le \ell); \qquad
        T_h = \frac{\bar x - h}{SE},\ p_h = F_{t_\nu}(T_h) \quad (H_0: \mu \ge h),

    and the TOST p-value is :math:`\max(p_\ell, p_h)` (Schuirmann 1987). Equivalence is
    shown when it is below :math:`\alpha`, which happens exactly when the
    :math:`1 - 2\alpha` t-interval lies inside :math:`(\ell, h)`. By the
    intersection-union principle the size is :math:`\le \alpha` for every :math:`\mu`
    outside the margins (Berger & Hsu 1996), approaching :math:`\alpha` at a margin
    when :math:`h - \ell \gg SE`. Use it for "stable with depth" claims, e.g. the slope
    of log gradient norm against depth lies in :math:`(-\epsilon, \epsilon)`.

    Args:
        values: per-seed values; non-finite entries are dropped and counted.
        low: lower equivalence margin.
        high: upper equivalence margin, ``> low``.
        alpha: level of each one-sided test, in (0, 0.5).

    Returns:
        A :class:`TOSTResult`.

    Raises:
        InvalidArgument: fewer than 2 finite values, non-finite margins,
            ``low >= high``, or ``alpha`` outside (0, 0.5).

    Examples:
        >>> import numpy as np
        >>> x = np.random.default_rng(1).normal(0.0, 0.1, size=32)
        >>> tost(x, -0.1, 0.1).passed
        True
        >>> tost(x, 0.05, 0.1).passed
        False
    """
    x, dropped, lo, hi, a = _tost_iv(values, low, high, alpha)
    n = int(x.size)
    mean, sd = mean_sd(x)
    se = sd / math.sqrt(n)
    t_lo = t_ratio(mean - lo, se)
    t_hi = t_ratio(mean - hi, se)
    p_lo = float(sps.t.sf(t_lo, n - 1))
    p_hi = float(sps.t.cdf(t_hi, n - 1))
    pvalue = max(p_lo, p_hi)
    return TOSTResult(
        statistic=min(t_lo, -t_hi),
        pvalue=pvalue,
        estimate=mean,
        low=lo,
        high=hi,
        standard_error=se,
        df=n - 1,
        n=n,
        n_nonfinite=dropped,
        alpha=a,
        passed=pvalue < a,
        statistic_low=t_lo,
        pvalue_low=p_lo,
        statistic_high=t_hi,
        pvalue_high=p_hi,
    )
