"""The chi-square test of a variance."""

from __future__ import annotations

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
# Variance (chi-square)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VarianceTestResult:
    """Result of :func:`variance_test`.

    Attributes:
        statistic: ``(n - 1) * estimate / predicted``, chi-square with ``df`` degrees of
            freedom under the null.
        pvalue: two-sided, ``min(1, 2 * min(P(X <= stat), P(X >= stat)))``.
        estimate: unbiased sample variance (``ddof=1``) of the finite samples.
        predicted: the predicted variance.
        ratio: ``estimate / predicted``.
        df: ``n - 1``.
        n: number of finite samples used.
        n_nonfinite: samples dropped as non-finite.
        alpha: significance level the verdict uses.
        passed: ``pvalue >= alpha``, i.e. the predicted variance is *not* rejected.
    """

    statistic: float
    pvalue: float
    estimate: float
    predicted: float
    ratio: float
    df: int
    n: int
    n_nonfinite: int
    alpha: float
    passed: bool

    def confidence_interval(self, confidence_level: float = 0.95) -> ConfidenceInterval:
        r"""Chi-square confidence interval for the variance.

        Args:
            confidence_level: coverage in (0, 1).

        Returns:
            :math:`[\nu S^2/\chi^2_{\nu,(1+c)/2},\; \nu S^2/\chi^2_{\nu,(1-c)/2}]`.
        """
        level = check_level("confidence_level", confidence_level)
        ss = self.df * self.estimate
        upper_q = float(sps.chi2.ppf(0.5 + level / 2.0, self.df))
        lower_q = float(sps.chi2.ppf(0.5 - level / 2.0, self.df))
        return ConfidenceInterval(ss / upper_q, ss / lower_q)

    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (feed to :func:`gradbench.records.dumps`)."""
        return plain(self)


def _variance_test_iv(
    samples: ArrayLike, predicted_variance: object, alpha: object
) -> tuple[NDArray[np.float64], int, float, float]:
    x, dropped = finite_sample("samples", samples)
    pv = check_real("predicted_variance", predicted_variance)
    if pv <= 0.0:
        raise InvalidArgument(f"predicted_variance={predicted_variance!r} must be > 0")
    return x, dropped, pv, check_level("alpha", alpha)


def variance_test(
    samples: ArrayLike, predicted_variance: float, *, alpha: float = 0.01
) -> VarianceTestResult:
    r"""Two-sided chi-square test of :math:`\operatorname{Var}(X) = \sigma_0^2`.

    With :math:`n` i.i.d. Gaussian samples and unbiased sample variance :math:`S^2`,
    :math:`X = (n-1) S^2 / \sigma_0^2 \sim \chi^2_{n-1}` under the null, and the
    p-value is :math:`\min\{1, 2\min(F(X), \bar F(X))\}` (equal tails; e.g. Snedecor &
    Cochran 1989, sec. 5.7). Used for the finite-width law
    :math:`\operatorname{Var}[\ln\lVert g\rVert^2] \approx 5\beta`,
    :math:`\beta = \sum_j 1/n_j` (docs/theory.md §2.2; Hanin & Nica 2020), with one sample
    per seed.

    The chi-square test is exact only for Gaussian samples; its size is *not* robust
    to excess kurtosis (Box 1953). :math:`\ln\lVert g\rVert^2` is a sum of many
    independent per-layer terms and close to Gaussian at moderate depth, but check the
    size by simulation before trusting it on heavy-tailed data.

    Args:
        samples: one value per seed; non-finite entries are dropped and counted.
        predicted_variance: :math:`\sigma_0^2 > 0`.
        alpha: significance level in (0, 1).

    Returns:
        A :class:`VarianceTestResult`.

    Raises:
        InvalidArgument: fewer than 2 finite samples, a non-positive or non-finite
            ``predicted_variance``, or ``alpha`` outside (0, 1).

    Examples:
        >>> import numpy as np
        >>> x = np.random.default_rng(2).normal(0.0, 2.0, size=200)
        >>> variance_test(x, 4.0).passed, variance_test(x, 1.0).passed
        (True, False)
    """
    x, dropped, pv, a = _variance_test_iv(samples, predicted_variance, alpha)
    n = int(x.size)
    var = float(np.var(x, ddof=1))
    df = n - 1
    stat = df * var / pv
    tail = min(float(sps.chi2.cdf(stat, df)), float(sps.chi2.sf(stat, df)))
    pvalue = min(1.0, 2.0 * tail)
    return VarianceTestResult(
        statistic=stat,
        pvalue=pvalue,
        estimate=var,
        predicted=pv,
        ratio=var / pv,
        df=df,
        n=n,
        n_nonfinite=dropped,
        alpha=a,
        passed=pvalue >= a,
    )
