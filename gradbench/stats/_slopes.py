"""Per-seed slopes and the one-sample t-test with a tolerance band."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from gradbench.errors import InvalidArgument
from gradbench.records import ConfidenceInterval
from gradbench.stats._common import (
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
# Slopes
# --------------------------------------------------------------------------------------


def _fit_slopes_iv(log_norms: ArrayLike, skip: object) -> tuple[NDArray[np.float64], int]:
    arr = check_float_array("log_norms", log_norms, ndim=2)
    k = check_count("skip", skip, 0)
    used = arr.shape[1] - k
    if used < 2:
        raise InvalidArgument(
            f"skip={k!r} leaves {used} site(s) of {arr.shape[1]}; "
            f"need skip <= {arr.shape[1] - 2} so that at least 2 sites remain"
        )
    return arr, k


def fit_slopes(log_norms: ArrayLike, skip: int = 0) -> NDArray[np.float64]:
    r"""Per-seed OLS slope of the log gradient norm against the site index.

    For seed :math:`i` with log norms :math:`y_{il}` at sites :math:`l = s, \dots, L-1`
    (``s = skip``), the least-squares slope is

    .. math::

        \hat b_i = \frac{\sum_l (l - \bar l)(y_{il} - \bar y_i)}{\sum_l (l - \bar l)^2}.

    Under mean-field theory (docs/theory.md §1.1) :math:`y_{il} \approx y_{i0} + b\,l` with
    :math:`b = -\tfrac12 \ln\chi_1` for activation-gradient norms indexed from the input
    (a prediction's ``log_growth`` is the per-step growth *towards the input*, i.e.
    ``-b``). Use ``skip`` to drop the first sites while the forward pass settles to
    :math:`q^*` (about :math:`3\text{--}5\,\xi_q` layers).

    Args:
        log_norms: ``[seeds, sites]`` natural logs of per-site gradient norms, one row
            per independent seed (network).
        skip: number of leading sites to leave out of the fit.

    Returns:
        ``[seeds]`` slopes (float64); ``NaN`` for a row with any non-finite value among
        the fitted sites (e.g. an overflowed or exactly-zero norm).

    Raises:
        InvalidArgument: ``log_norms`` is not 2-D numeric, or fewer than 2 sites remain
            after ``skip``.

    Examples:
        >>> import numpy as np
        >>> y = np.array([[0.0, -0.5, -1.0, -1.5], [1.0, 1.1, np.inf, 1.3]])
        >>> fit_slopes(y).tolist()
        [-0.5, nan]
        >>> fit_slopes(y, skip=2).tolist()
        [-0.5, nan]
    """
    arr, k = _fit_slopes_iv(log_norms, skip)
    y = arr[:, k:]
    x = np.arange(k, arr.shape[1], dtype=np.float64)
    xc = x - x.mean()
    ok = np.all(np.isfinite(y), axis=1)
    y0 = np.where(ok[:, None], y, 0.0)
    slopes = (y0 - y0.mean(axis=1, keepdims=True)) @ xc / float(xc @ xc)
    return np.where(ok, slopes, np.nan)


# --------------------------------------------------------------------------------------
# One-sample t-test with an optional tolerance band
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlopeTestResult:
    """Result of :func:`slope_test`.

    Attributes:
        statistic: signed t statistic ``sign(d) * max(|d| - tolerance, 0) / se`` with
            ``d = estimate - predicted - bias``; with ``tolerance=0`` it equals
            ``scipy.stats.ttest_1samp(slopes, predicted + bias).statistic``.
        pvalue: ``min(1, 2 * P(T_df >= |statistic|))``.
        estimate: mean of the finite per-seed slopes.
        predicted: the theory prediction (without the bias).
        bias: known finite-width bias added to ``predicted`` before testing.
        tolerance: half-width of the allowed model-error band around
            ``predicted + bias``.
        standard_error: ``sd / sqrt(n)`` of the slopes.
        df: degrees of freedom, ``n - 1``.
        n: number of finite seeds used.
        n_nonfinite: seeds dropped because their slope was not finite.
        alpha: significance level the verdict uses.
        passed: ``pvalue >= alpha``, i.e. the claim is *not* rejected.
        effect_size: standardised deviation ``d / sd`` (Cohen's d; ``+-inf`` when the
            slopes have zero spread and ``d != 0``).
    """

    statistic: float
    pvalue: float
    estimate: float
    predicted: float
    bias: float
    tolerance: float
    standard_error: float
    df: int
    n: int
    n_nonfinite: int
    alpha: float
    passed: bool
    effect_size: float

    def confidence_interval(self, confidence_level: float = 0.95) -> ConfidenceInterval:
        """Student-t confidence interval for the mean slope (:attr:`estimate`).

        Args:
            confidence_level: coverage probability, in (0, 1).

        Returns:
            ``estimate -+ t_{df, (1+level)/2} * standard_error``.
        """
        level = check_level("confidence_level", confidence_level)
        return t_interval(self.estimate, self.standard_error, self.df, level)

    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (feed to :func:`gradbench.records.dumps`)."""
        return plain(self)


def _slope_test_iv(
    slopes: ArrayLike, predicted: object, bias: object, tolerance: object, alpha: object
) -> tuple[NDArray[np.float64], int, float, float, float, float]:
    x, dropped = finite_sample("slopes", slopes)
    pred = check_real("predicted", predicted)
    b = check_real("bias", bias)
    tol = check_real("tolerance", tolerance)
    if tol < 0.0:
        raise InvalidArgument(f"tolerance={tolerance!r} must be >= 0")
    return x, dropped, pred, b, tol, check_level("alpha", alpha)


def slope_test(
    slopes: ArrayLike,
    predicted: float,
    *,
    bias: float = 0.0,
    tolerance: float = 0.0,
    alpha: float = 0.01,
) -> SlopeTestResult:
    r"""Test "the mean per-seed slope equals ``predicted + bias``" (within ``tolerance``).

    Seeds are the independent units. With :math:`n` finite slopes :math:`s_i`, sample
    mean :math:`\bar s`, sample sd :math:`S` and :math:`SE = S/\sqrt n`, let
    :math:`d = \bar s - p - b` (``p = predicted``, ``b = bias``) and :math:`\tau \ge 0`
    the tolerance. The null is :math:`H_0: |\mu - p - b| \le \tau` and

    .. math::

        T = \operatorname{sign}(d)\,\frac{(|d| - \tau)_+}{SE}, \qquad
        p\text{-value} = \min\{1,\; 2\,\bar F_{t_{n-1}}(|T|)\}.

    With :math:`\tau = 0` this is exactly Student's two-sided one-sample t-test
    (Student 1908). For :math:`\tau > 0` it is the union of the two one-sided t-tests of
    :math:`\mu - p - b \le \tau` and :math:`\ge -\tau`, each at level
    :math:`\alpha/2`. If the true deviation :math:`\delta` satisfies
    :math:`|\delta| \le \tau`, then :math:`(d - \tau)/SE \le (d - \delta)/SE \sim
    t_{n-1}`, so each side rejects with probability at most :math:`\alpha/2` and the
    size is :math:`\le \alpha` for Gaussian slopes. The test is conservative: at the
    band edge the size falls from :math:`\alpha` at :math:`\tau = 0` to about
    :math:`\alpha/2` once :math:`\tau \gtrsim SE/2` (the far side stops contributing);
    ``tests/quality/test_stats_calibration.py`` measures this.

    Use ``bias`` for a known finite-width offset (docs/theory.md §1.1: :math:`E\ln X \ne
    \ln\chi_1` at :math:`O(1/N)`) and ``tolerance`` for unmodelled error of that size.
    The t-test needs approximately Gaussian slopes; slopes averaged over many sites are
    close to Gaussian by the central limit theorem (Hanin & Nica 2020).

    Args:
        slopes: per-seed slopes, e.g. from :func:`fit_slopes`; non-finite entries are
            dropped and counted in ``n_nonfinite``.
        predicted: predicted slope.
        bias: known bias added to ``predicted``.
        tolerance: half-width ``>= 0`` of the band of deviations that still count as
            agreement.
        alpha: significance level in (0, 1).

    Returns:
        A :class:`SlopeTestResult`.

    Raises:
        InvalidArgument: fewer than 2 finite slopes, a non-finite ``predicted``,
            ``bias`` or ``tolerance``, a negative ``tolerance``, or ``alpha`` outside
            (0, 1).

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> res = slope_test(rng.normal(-0.1, 0.02, size=16), predicted=-0.1)
        >>> res.passed, res.n
        (True, 16)
        >>> slope_test(rng.normal(-0.1, 0.02, 16), predicted=-0.2).passed
        False
    """
    x, dropped, pred, b, tol, a = _slope_test_iv(slopes, predicted, bias, tolerance, alpha)
    n = int(x.size)
    mean, sd = mean_sd(x)
    se = sd / math.sqrt(n)
    d = mean - pred - b
    excess = max(abs(d) - tol, 0.0)
    stat = t_ratio(math.copysign(excess, d), se)
    pvalue = min(1.0, 2.0 * float(sps.t.sf(abs(stat), n - 1)))
    return SlopeTestResult(
        statistic=stat,
        pvalue=pvalue,
        estimate=mean,
        predicted=pred,
        bias=b,
        tolerance=tol,
        standard_error=se,
        df=n - 1,
        n=n,
        n_nonfinite=dropped,
        alpha=a,
        passed=pvalue >= a,
        effect_size=t_ratio(d, sd),
    )
