"""Statistical tests for gradient-flow claims; NumPy/SciPy only (never imports torch).

The independent unit everywhere is the *seed*: one random network (weights and inputs)
yields one row of per-site log gradient norms, :func:`fit_slopes` turns each row into
one slope, and the tests below treat those per-seed values as i.i.d. draws. Sites
within one network are correlated and are never counted as independent samples.

Every test returns a ``@dataclass(frozen=True)`` result with ``statistic``, ``pvalue``,
``passed`` and ``confidence_interval(confidence_level)`` (scipy.stats style). Inputs are
validated once, in a ``_<fn>_iv`` helper, and a bad value raises
:class:`~gradbench.errors.InvalidArgument` with one sentence naming the argument, its
value and the valid range.

Conventions:
    * ``alpha`` is the pre-registered false-alarm rate of one test; correct for many
      tests with :func:`holm` (family-wise error) or :func:`benjamini_hochberg` (FDR).
    * ``slope_test`` *passes* when the claim is not rejected (``pvalue >= alpha``);
      ``tost`` *passes* when equivalence is shown (``pvalue < alpha``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from gradbench.errors import InvalidArgument
from gradbench.records import ConfidenceInterval

__all__ = [
    "SlopeTestResult",
    "TOSTResult",
    "VarianceTestResult",
    "benjamini_hochberg",
    "benjamini_hochberg_adjusted",
    "binomial_interval",
    "fit_slopes",
    "holm",
    "holm_adjusted",
    "required_seeds",
    "slope_test",
    "t_test_power",
    "tost",
    "variance_test",
]


# --------------------------------------------------------------------------------------
# Shared validation helpers
# --------------------------------------------------------------------------------------


def _real(name: str, value: object) -> float:
    """``value`` as a finite float, or raise naming ``name``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not ok or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise InvalidArgument(f"{name}={value!r} must be a finite real number")
    return float(value)  # type: ignore[arg-type]


def _level(name: str, value: object) -> float:
    """A probability strictly inside (0, 1), e.g. ``alpha`` or ``confidence_level``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not ok or not 0.0 < float(value) < 1.0:  # type: ignore[arg-type]
        raise InvalidArgument(f"{name}={value!r} must be a number in the open interval (0, 1)")
    return float(value)  # type: ignore[arg-type]


def _count(name: str, value: object, low: int) -> int:
    """An integer ``>= low`` (bools rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {low}")
    if value < low:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {low}")
    return int(value)


def _float_array(name: str, value: ArrayLike, ndim: int | None) -> NDArray[np.float64]:
    """``value`` as a float64 array with ``ndim`` dimensions (any when ``None``)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"{name} must be an array of real numbers, got {type(value).__name__}"
        ) from None
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgument(
            f"{name} must be a {ndim}-D array, got shape {arr.shape} ({arr.ndim}-D)"
        )
    return arr


def _finite_sample(name: str, value: ArrayLike, min_n: int = 2) -> tuple[NDArray[np.float64], int]:
    """The finite entries of a 1-D sample and how many were dropped as non-finite."""
    arr = _float_array(name, value, ndim=1)
    finite = arr[np.isfinite(arr)]
    if finite.size < min_n:
        raise InvalidArgument(
            f"{name} has {finite.size} finite value(s) out of {arr.size}, "
            f"need at least {min_n} finite seeds"
        )
    return finite, int(arr.size - finite.size)


def _t_ratio(numerator: float, se: float) -> float:
    """``numerator / se`` with the limits ``0/0 = 0`` and ``x/0 = +-inf`` (zero spread)."""
    if se > 0.0:
        return numerator / se
    if numerator == 0.0:
        return 0.0
    return math.copysign(math.inf, numerator)


def _mean_sd(x: NDArray[np.float64]) -> tuple[float, float]:
    return float(np.mean(x)), float(np.std(x, ddof=1))


def _t_interval(estimate: float, se: float, df: int, confidence_level: float) -> ConfidenceInterval:
    half = float(sps.t.ppf(0.5 + confidence_level / 2.0, df)) * se
    return ConfidenceInterval(estimate - half, estimate + half)


def _plain(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


# --------------------------------------------------------------------------------------
# Slopes
# --------------------------------------------------------------------------------------


def _fit_slopes_iv(log_norms: ArrayLike, skip: object) -> tuple[NDArray[np.float64], int]:
    arr = _float_array("log_norms", log_norms, ndim=2)
    k = _count("skip", skip, 0)
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
        level = _level("confidence_level", confidence_level)
        return _t_interval(self.estimate, self.standard_error, self.df, level)

    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (feed to :func:`gradbench.records.dumps`)."""
        return _plain(self)


def _slope_test_iv(
    slopes: ArrayLike, predicted: object, bias: object, tolerance: object, alpha: object
) -> tuple[NDArray[np.float64], int, float, float, float, float]:
    x, dropped = _finite_sample("slopes", slopes)
    pred = _real("predicted", predicted)
    b = _real("bias", bias)
    tol = _real("tolerance", tolerance)
    if tol < 0.0:
        raise InvalidArgument(f"tolerance={tolerance!r} must be >= 0")
    return x, dropped, pred, b, tol, _level("alpha", alpha)


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
    mean, sd = _mean_sd(x)
    se = sd / math.sqrt(n)
    d = mean - pred - b
    excess = max(abs(d) - tol, 0.0)
    stat = _t_ratio(math.copysign(excess, d), se)
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
        effect_size=_t_ratio(d, sd),
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
        level = _level("confidence_level", level)
        return _t_interval(self.estimate, self.standard_error, self.df, level)

    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (feed to :func:`gradbench.records.dumps`)."""
        return _plain(self)


def _tost_iv(
    values: ArrayLike, low: object, high: object, alpha: object
) -> tuple[NDArray[np.float64], int, float, float, float]:
    x, dropped = _finite_sample("values", values)
    lo = _real("low", low)
    hi = _real("high", high)
    if not lo < hi:
        raise InvalidArgument(f"low={low!r} must be < high={high!r}")
    a = _level("alpha", alpha)
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
    mean, sd = _mean_sd(x)
    se = sd / math.sqrt(n)
    t_lo = _t_ratio(mean - lo, se)
    t_hi = _t_ratio(mean - hi, se)
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


# --------------------------------------------------------------------------------------
# Multiplicity
# --------------------------------------------------------------------------------------


def _pvalues_iv(pvalues: ArrayLike) -> tuple[NDArray[np.float64], tuple[int, ...]]:
    """Flattened p-values with NaN replaced by 1, and the original shape."""
    p = _float_array("pvalues", pvalues, ndim=None)
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
    return p, shape, _level("alpha", alpha)


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
    return p, shape, _level("q", q)


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
        level = _level("confidence_level", confidence_level)
        ss = self.df * self.estimate
        upper_q = float(sps.chi2.ppf(0.5 + level / 2.0, self.df))
        lower_q = float(sps.chi2.ppf(0.5 - level / 2.0, self.df))
        return ConfidenceInterval(ss / upper_q, ss / lower_q)

    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (feed to :func:`gradbench.records.dumps`)."""
        return _plain(self)


def _variance_test_iv(
    samples: ArrayLike, predicted_variance: object, alpha: object
) -> tuple[NDArray[np.float64], int, float, float]:
    x, dropped = _finite_sample("samples", samples)
    pv = _real("predicted_variance", predicted_variance)
    if pv <= 0.0:
        raise InvalidArgument(f"predicted_variance={predicted_variance!r} must be > 0")
    return x, dropped, pv, _level("alpha", alpha)


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


# --------------------------------------------------------------------------------------
# Binomial interval, power and sample size
# --------------------------------------------------------------------------------------


def _binomial_interval_iv(k: object, n: object, confidence_level: object) -> tuple[int, int, float]:
    nn = _count("n", n, 1)
    kk = _count("k", k, 0)
    if kk > nn:
        raise InvalidArgument(f"k={k!r} must be an integer in [0, n={nn}]")
    return kk, nn, _level("confidence_level", confidence_level)


def binomial_interval(k: int, n: int, confidence_level: float = 0.99) -> ConfidenceInterval:
    r"""Clopper-Pearson (exact) confidence interval for a binomial proportion.

    With :math:`k` successes in :math:`n` trials and :math:`a = 1 - c`:

    .. math::

        \text{low} = B^{-1}(a/2;\, k, n - k + 1), \qquad
        \text{high} = B^{-1}(1 - a/2;\, k + 1, n - k),

    with ``low = 0`` when ``k = 0`` and ``high = 1`` when ``k = n`` (Clopper & Pearson
    1934). Coverage is at least ``c`` for every true proportion. Used to check that a
    measured false-alarm rate is consistent with the nominal ``alpha``.

    Args:
        k: number of successes, ``0 <= k <= n``.
        n: number of trials, ``>= 1``.
        confidence_level: coverage in (0, 1).

    Returns:
        ``ConfidenceInterval(low, high)``.

    Raises:
        InvalidArgument: ``n < 1``, ``k`` outside [0, n], or ``confidence_level``
            outside (0, 1).

    Examples:
        >>> ci = binomial_interval(10, 1000)
        >>> round(ci.low, 5), round(ci.high, 5)
        (0.00373, 0.02128)
    """
    kk, nn, level = _binomial_interval_iv(k, n, confidence_level)
    a = 1.0 - level
    low = 0.0 if kk == 0 else float(sps.beta.ppf(a / 2.0, kk, nn - kk + 1))
    high = 1.0 if kk == nn else float(sps.beta.ppf(1.0 - a / 2.0, kk + 1, nn - kk))
    return ConfidenceInterval(low, high)


def _t_test_power_iv(
    effect: object, sd: object, n: object, alpha: object
) -> tuple[float, float, int, float]:
    e = _real("effect", effect)
    s = _real("sd", sd)
    if s <= 0.0:
        raise InvalidArgument(f"sd={sd!r} must be > 0")
    return e, s, _count("n", n, 2), _level("alpha", alpha)


def _power(effect_over_sd: float, n: int, alpha: float) -> float:
    df = n - 1
    crit = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    nc = effect_over_sd * math.sqrt(n)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def t_test_power(effect: float, sd: float, n: int, alpha: float = 0.01) -> float:
    r"""Power of the two-sided one-sample t-test (:func:`slope_test` with ``tolerance=0``).

    With noncentrality :math:`\lambda = \sqrt n\, \delta/\sigma` and critical value
    :math:`c = t_{n-1, 1-\alpha/2}`, the power is
    :math:`P(T' > c) + P(T' < -c)`, :math:`T' \sim t'_{n-1}(\lambda)` (noncentral t;
    e.g. Cohen 1988, ch. 2).

    Args:
        effect: true deviation :math:`\delta` of the mean from the tested value.
        sd: per-seed standard deviation :math:`\sigma > 0`.
        n: number of seeds, ``>= 2``.
        alpha: significance level in (0, 1).

    Returns:
        The rejection probability (equal to ``alpha`` when ``effect == 0``).

    Raises:
        InvalidArgument: non-finite ``effect``, ``sd <= 0``, ``n < 2`` or ``alpha``
            outside (0, 1).

    Examples:
        >>> round(t_test_power(1.0, 1.0, 16, alpha=0.01), 4)
        0.8346
    """
    e, s, nn, a = _t_test_power_iv(effect, sd, n, alpha)
    return _power(e / s, nn, a)


def _required_seeds_iv(
    effect: object, sd: object, alpha: object, power: object, max_seeds: object
) -> tuple[float, float, float, int]:
    e = _real("effect", effect)
    if e == 0.0:
        raise InvalidArgument(f"effect={effect!r} must be non-zero")
    s = _real("sd", sd)
    if s <= 0.0:
        raise InvalidArgument(f"sd={sd!r} must be > 0")
    a = _level("alpha", alpha)
    pw = _level("power", power)
    if pw <= a:
        raise InvalidArgument(f"power={power!r} must exceed alpha={alpha!r}")
    return abs(e) / s, a, pw, _count("max_seeds", max_seeds, 2)


def required_seeds(
    effect: float,
    sd: float,
    alpha: float = 0.01,
    power: float = 0.9,
    *,
    max_seeds: int = 1_000_000,
) -> int:
    r"""Smallest number of seeds for the two-sided one-sample t-test to reach ``power``.

    Returns the least :math:`n \ge 2` with :func:`t_test_power` ``(effect, sd, n, alpha)
    >= power`` (noncentral t; Cohen 1988, ch. 2), found by doubling then bisection on
    the power, which increases with :math:`n`. Use it to plan ``n_seeds`` for
    :func:`slope_test` from a pilot estimate of the per-seed slope sd.

    Args:
        effect: smallest deviation worth detecting (its sign is irrelevant), non-zero.
        sd: per-seed standard deviation, ``> 0``.
        alpha: significance level in (0, 1).
        power: target power in (``alpha``, 1).
        max_seeds: give up above this many seeds.

    Returns:
        The required number of seeds.

    Raises:
        InvalidArgument: ``effect == 0``, ``sd <= 0``, ``alpha`` or ``power`` outside
            (0, 1), ``power <= alpha``, or more than ``max_seeds`` seeds would be needed.

    Examples:
        >>> required_seeds(1.0, 1.0, alpha=0.01, power=0.9)
        19
    """
    ratio, a, pw, cap = _required_seeds_iv(effect, sd, alpha, power, max_seeds)
    if _power(ratio, 2, a) >= pw:
        return 2
    lo, hi = 2, 4  # invariant: power(lo) < pw
    while _power(ratio, min(hi, cap), a) < pw:
        if hi >= cap:
            raise InvalidArgument(
                f"max_seeds={cap!r} seeds are not enough for power={pw!r} at "
                f"effect/sd={ratio:.3g} and alpha={a!r}; raise max_seeds or the effect"
            )
        lo, hi = hi, 2 * hi
    hi = min(hi, cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _power(ratio, mid, a) >= pw:
            hi = mid
        else:
            lo = mid
    return hi
