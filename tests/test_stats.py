"""Tests for gradbench.stats: oracles (scipy.stats, brute force), bad inputs, calibration.

Calibration tests simulate many experiments with a literal numpy seed, so every outcome
is a deterministic function of the code. A measured rate ``k/N`` is compared with its
nominal value through the 99% Clopper-Pearson interval of ``k/N``: "calibrated" means
the nominal value lies inside that interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from gradbench import stats
from gradbench.errors import InvalidArgument
from gradbench.records import ConfidenceInterval

# ----------------------------------------------------------------------------------------
# fit_slopes
# ----------------------------------------------------------------------------------------


def test_fit_slopes_recovers_exact_lines_and_matches_polyfit() -> None:
    rng = np.random.default_rng(11)
    seeds, sites = 7, 12
    true = rng.normal(size=seeds)
    x = np.arange(sites)
    lines = rng.normal(size=(seeds, 1)) + true[:, None] * x
    np.testing.assert_allclose(stats.fit_slopes(lines), true, rtol=0, atol=1e-12)

    noisy = lines + rng.normal(scale=0.3, size=lines.shape)
    for skip in (0, 3, sites - 2):
        expected = [np.polyfit(x[skip:], row[skip:], 1)[0] for row in noisy]
        np.testing.assert_allclose(stats.fit_slopes(noisy, skip=skip), expected, atol=1e-12)


def test_fit_slopes_nonfinite_rows_give_nan_only_where_fitted() -> None:
    y = np.tile(np.arange(6.0) * 0.5, (4, 1))
    y[1, 4] = np.inf
    y[2, 0] = np.nan  # inside the skipped sites: must not matter when skip=1
    y[3, 5] = -np.inf  # log of an exactly-zero norm
    got = stats.fit_slopes(y, skip=1)
    assert np.isnan(got[[1, 3]]).all()
    np.testing.assert_allclose(got[[0, 2]], [0.5, 0.5], atol=1e-12)
    assert np.isnan(stats.fit_slopes(y)[2])


# ----------------------------------------------------------------------------------------
# slope_test against scipy
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [0.0, -0.03])
def test_slope_test_equals_scipy_ttest_1samp(bias: float) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(-0.2, 0.1, size=16)
    res = stats.slope_test(x, -0.25, bias=bias, alpha=0.05)
    ref = sps.ttest_1samp(x, -0.25 + bias)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    assert (res.df, res.n, res.n_nonfinite) == (15, 16, 0)
    assert res.estimate == pytest.approx(x.mean())
    assert res.effect_size == pytest.approx((x.mean() + 0.25 - bias) / x.std(ddof=1))
    assert res.passed == (ref.pvalue >= 0.05)
    for level in (0.9, 0.99):
        got = res.confidence_interval(level)
        want = ref.confidence_interval(level)
        assert isinstance(got, ConfidenceInterval)
        assert got == pytest.approx((want.low, want.high), rel=1e-12)


def test_slope_test_drops_nonfinite_seeds_and_counts_them() -> None:
    x = np.array([0.1, 0.3, np.nan, 0.2, np.inf, 0.25])
    res = stats.slope_test(x, 0.0)
    ref = sps.ttest_1samp(x[np.isfinite(x)], 0.0)
    assert (res.n, res.n_nonfinite) == (4, 2)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)


def test_slope_test_tolerance_is_a_shifted_t_test_outside_the_band() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 0.5, size=20)  # d = mean - 0 ~ 1.0
    tol = 0.4
    res = stats.slope_test(x, 0.0, tolerance=tol)
    ref = sps.ttest_1samp(x, tol)  # (|d| - tol)/se with d > tol
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    # Mirror image: negative deviations give the negative statistic and the same p-value.
    neg = stats.slope_test(-x, 0.0, tolerance=tol)
    assert neg.statistic == pytest.approx(-res.statistic)
    assert neg.pvalue == pytest.approx(res.pvalue)
    # Inside the band the claim cannot be rejected.
    inside = stats.slope_test(x, x.mean() - 0.1, tolerance=0.2)
    assert (inside.statistic, inside.pvalue, inside.passed) == (0.0, 1.0, True)
    # Tolerance never makes the test stricter.
    assert stats.slope_test(x, 0.5, tolerance=0.1).pvalue >= stats.slope_test(x, 0.5).pvalue


def test_slope_test_zero_spread_limits() -> None:
    same = np.full(8, 0.25)
    ok = stats.slope_test(same, 0.25)
    assert (ok.statistic, ok.pvalue, ok.passed, ok.effect_size) == (0.0, 1.0, True, 0.0)
    bad = stats.slope_test(same, 0.0)
    assert (bad.statistic, bad.pvalue, bad.passed) == (math.inf, 0.0, False)
    assert bad.confidence_interval() == (0.25, 0.25)


# ----------------------------------------------------------------------------------------
# TOST
# ----------------------------------------------------------------------------------------


def test_tost_equals_two_one_sided_scipy_tests() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0.05, 0.2, size=24)
    res = stats.tost(x, -0.1, 0.15, alpha=0.05)
    lo = sps.ttest_1samp(x, -0.1, alternative="greater")
    hi = sps.ttest_1samp(x, 0.15, alternative="less")
    assert res.pvalue_low == pytest.approx(lo.pvalue, rel=1e-10)
    assert res.pvalue_high == pytest.approx(hi.pvalue, rel=1e-10)
    assert res.statistic_low == pytest.approx(lo.statistic, rel=1e-12)
    assert res.statistic_high == pytest.approx(hi.statistic, rel=1e-12)
    assert res.pvalue == max(res.pvalue_low, res.pvalue_high)
    assert sps.t.sf(res.statistic, res.df) == pytest.approx(res.pvalue, rel=1e-10)
    ci = res.confidence_interval()  # default 1 - 2 alpha = 90%
    want = sps.ttest_1samp(x, 0.0).confidence_interval(0.90)
    assert ci == pytest.approx((want.low, want.high), rel=1e-12)


def test_tost_passes_iff_the_1_minus_2alpha_interval_is_inside_the_margins() -> None:
    rng = np.random.default_rng(8)
    decisions = []
    for _ in range(300):
        x = rng.normal(rng.uniform(-0.3, 0.3), 0.3, size=10)
        res = stats.tost(x, -0.2, 0.2, alpha=0.05)
        ci = res.confidence_interval()
        decisions.append(res.passed)
        assert res.passed == (-0.2 < ci.low and ci.high < 0.2)
    assert 0 < sum(decisions) < len(decisions)  # both outcomes were exercised


# ----------------------------------------------------------------------------------------
# Multiplicity
# ----------------------------------------------------------------------------------------


def _holm_brute(p: list[float], alpha: float) -> list[bool]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    reject = [False] * m
    for rank, i in enumerate(order):
        if p[i] > alpha / (m - rank):
            break
        reject[i] = True
    return reject


def _holm_adjusted_brute(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def test_holm_matches_brute_force_and_adjusted_pvalues() -> None:
    rng = np.random.default_rng(13)
    for m in (1, 2, 5, 30):
        for _ in range(50):
            p = (rng.uniform(size=m) ** 3).tolist()  # skewed towards small p
            got = stats.holm(p, alpha=0.05)
            assert got.tolist() == _holm_brute(p, 0.05)
            adj = stats.holm_adjusted(p)
            np.testing.assert_allclose(adj, _holm_adjusted_brute(p), rtol=1e-12)
            assert (adj <= 0.05).tolist() == got.tolist()


def test_benjamini_hochberg_matches_scipy_and_is_consistent() -> None:
    rng = np.random.default_rng(14)
    for m in (1, 3, 40):
        for _ in range(50):
            p = rng.uniform(size=m) ** 3
            adj = stats.benjamini_hochberg_adjusted(p)
            np.testing.assert_allclose(adj, sps.false_discovery_control(p), rtol=1e-12)
            flags = stats.benjamini_hochberg(p, q=0.1)
            assert flags.tolist() == (adj <= 0.1).tolist()
            assert (flags >= stats.holm(p, 0.1)).all()  # BH rejects a superset of Holm


def test_multiplicity_nan_counts_as_one_and_shapes_are_kept() -> None:
    p = np.array([[0.001, np.nan], [0.012, 0.5]])
    assert stats.holm(p, 0.05).tolist() == [[True, False], [True, False]]
    np.testing.assert_allclose(stats.holm_adjusted(p), [[0.004, 1.0], [0.036, 1.0]])
    assert stats.benjamini_hochberg(p, 0.05).tolist() == [[True, False], [True, False]]
    np.testing.assert_allclose(stats.benjamini_hochberg_adjusted(p), [[0.004, 1.0], [0.024, 2 / 3]])
    # NaN still counts towards m: with it, 0.02 is no longer significant at 0.05 / 2.
    assert stats.holm([0.03, 0.02], 0.05).tolist() == [True, True]
    assert stats.holm([0.03, 0.02, np.nan], 0.05).tolist() == [False, False, False]
    assert stats.holm([], 0.05).shape == (0,)
    assert stats.benjamini_hochberg_adjusted([]).shape == (0,)


# ----------------------------------------------------------------------------------------
# variance_test, binomial_interval, power
# ----------------------------------------------------------------------------------------


def test_variance_test_matches_chi2_formulas() -> None:
    rng = np.random.default_rng(21)
    x = rng.normal(0.0, 1.3, size=40)
    res = stats.variance_test(x, 1.5625, alpha=0.01)
    s2 = x.var(ddof=1)
    stat = 39 * s2 / 1.5625
    p = 2 * min(sps.chi2.cdf(stat, 39), sps.chi2.sf(stat, 39))
    assert res.statistic == pytest.approx(stat, rel=1e-12)
    assert res.pvalue == pytest.approx(p, rel=1e-10)
    assert res.ratio == pytest.approx(s2 / 1.5625)
    ci = res.confidence_interval(0.95)
    assert ci == pytest.approx(
        (39 * s2 / sps.chi2.ppf(0.975, 39), 39 * s2 / sps.chi2.ppf(0.025, 39))
    )
    # The test rejects exactly when the predicted variance is outside the 1 - alpha CI.
    for pred in np.linspace(0.5, 5.0, 40):
        r = stats.variance_test(x, float(pred), alpha=0.05)
        c = r.confidence_interval(0.95)
        assert r.passed == (c.low <= pred <= c.high)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (1, 2), (37, 4000), (500, 1000)])
@pytest.mark.parametrize("level", [0.95, 0.99])
def test_binomial_interval_matches_scipy_exact(k: int, n: int, level: float) -> None:
    got = stats.binomial_interval(k, n, confidence_level=level)
    want = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    assert got == pytest.approx((want.low, want.high), rel=1e-9, abs=1e-15)


def test_required_seeds_is_the_smallest_sufficient_n() -> None:
    for effect, sd, alpha, power in [
        (1.0, 1.0, 0.01, 0.9),
        (0.3, 1.0, 0.05, 0.8),
        (5.0, 1.0, 0.05, 0.5),
    ]:
        n = stats.required_seeds(effect, sd, alpha, power)
        assert stats.t_test_power(effect, sd, n, alpha) >= power
        if n > 2:
            assert stats.t_test_power(effect, sd, n - 1, alpha) < power
    assert stats.required_seeds(-1.0, 1.0, 0.01, 0.9) == stats.required_seeds(1.0, 1.0, 0.01, 0.9)
    # Large-n check against the normal approximation n ~ ((z_{1-a/2} + z_pw) sd / effect)^2.
    n = stats.required_seeds(0.05, 1.0, 0.05, 0.8)
    approx = ((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) / 0.05) ** 2
    assert approx < n < approx + 5
    assert stats.t_test_power(0.0, 1.0, 16, 0.01) == pytest.approx(0.01, rel=1e-9)


# ----------------------------------------------------------------------------------------
# Bad inputs: one table
# ----------------------------------------------------------------------------------------

_X = [0.1, 0.2, 0.3]

BAD_INPUTS = [
    pytest.param(
        stats.fit_slopes,
        {"log_norms": [1.0, 2.0, 3.0]},
        r"log_norms must be a 2-D array",
        id="fit_slopes-1d",
    ),
    pytest.param(
        stats.fit_slopes,
        {"log_norms": [["a", "b"]]},
        r"log_norms must be an array of real",
        id="fit_slopes-strings",
    ),
    pytest.param(
        stats.fit_slopes,
        {"log_norms": np.zeros((3, 4)), "skip": 3},
        r"skip=3 leaves 1 site",
        id="fit_slopes-skip=3_leaves_1_site",
    ),
    pytest.param(
        stats.fit_slopes,
        {"log_norms": np.zeros((3, 4)), "skip": -1},
        r"skip=-1 must be .*>= 0",
        id="fit_slopes-skip=-1",
    ),
    pytest.param(
        stats.fit_slopes,
        {"log_norms": np.zeros((3, 4)), "skip": 1.0},
        r"skip=1.0 must be an int",
        id="fit_slopes-skip=1.0",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": [0.1, np.nan], "predicted": 0.0},
        r"slopes has 1 finite",
        id="slope_test-slopes_has_1_finite",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": [[0.1, 0.2]], "predicted": 0.0},
        r"slopes must be a 1-D",
        id="slope_test-2d",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": _X, "predicted": np.nan},
        r"predicted=nan must be a finite",
        id="slope_test-predicted=nan",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": _X, "predicted": 0, "bias": math.inf},
        r"bias=inf must be",
        id="slope_test-bias=inf",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": _X, "predicted": 0, "tolerance": -0.1},
        r"tolerance=-0.1 must be >= 0",
        id="slope_test-tolerance=-0.1",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": _X, "predicted": 0, "alpha": 0},
        r"alpha=0 must be .*\(0, 1\)",
        id="slope_test-alpha=0",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": _X, "predicted": 0, "alpha": 1.0},
        r"alpha=1.0 must be .*\(0, 1\)",
        id="slope_test-alpha=1.0",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": _X, "predicted": 0, "alpha": True},
        r"alpha=True must be",
        id="slope_test-alpha=True",
    ),
    pytest.param(
        stats.slope_test,
        {"slopes": _X, "predicted": "0"},
        r"predicted='0' must be a finite",
        id="slope_test-predicted-str",
    ),
    pytest.param(
        stats.tost,
        {"values": _X, "low": 0.2, "high": 0.1},
        r"low=0.2 must be < high=0.1",
        id="tost-low=0.2",
    ),
    pytest.param(
        stats.tost,
        {"values": _X, "low": 0.1, "high": 0.1},
        r"low=0.1 must be < high=0.1",
        id="tost-low=0.1",
    ),
    pytest.param(
        stats.tost,
        {"values": _X, "low": -1, "high": 1, "alpha": 0.5},
        r"alpha=0.5 must be in \(0, 0.5\)",
        id="tost-alpha=0.5",
    ),
    pytest.param(
        stats.tost,
        {"values": [np.nan] * 5, "low": -1, "high": 1},
        r"values has 0 finite value\(s\) out of 5",
        id="tost-all-nan",
    ),
    pytest.param(
        stats.holm,
        {"pvalues": [0.1, 1.2], "alpha": 0.05},
        r"pvalues contains 1.2; .*\[0, 1\]",
        id="holm-pvalues_contains_1.2",
    ),
    pytest.param(
        stats.holm,
        {"pvalues": [-0.1], "alpha": 0.05},
        r"pvalues contains -0.1",
        id="holm-pvalues_contains_-0.1",
    ),
    pytest.param(
        stats.holm,
        {"pvalues": [np.inf], "alpha": 0.05},
        r"pvalues contains inf",
        id="holm-pvalues_contains_inf",
    ),
    pytest.param(
        stats.holm, {"pvalues": [0.1], "alpha": 1.5}, r"alpha=1.5 must be", id="holm-alpha=1.5"
    ),
    pytest.param(
        stats.holm_adjusted,
        {"pvalues": [2.0]},
        r"pvalues contains 2.0",
        id="holm_adjusted-pvalues_contains_2.0",
    ),
    pytest.param(
        stats.benjamini_hochberg,
        {"pvalues": [0.1], "q": 0.0},
        r"q=0.0 must be .*\(0, 1\)",
        id="benjamini_hochberg-q=0.0",
    ),
    pytest.param(
        stats.benjamini_hochberg_adjusted,
        {"pvalues": [-1.0]},
        r"pvalues contains -1.0",
        id="benjamini_hochberg_adjusted-pvalues_contains_-1.0",
    ),
    pytest.param(
        stats.variance_test,
        {"samples": _X, "predicted_variance": 0.0},
        r"predicted_variance=0.0 must be > 0",
        id="variance_test-predicted_variance=0.0",
    ),
    pytest.param(
        stats.variance_test,
        {"samples": _X, "predicted_variance": -2},
        r"predicted_variance=-2 must be > 0",
        id="variance_test-predicted_variance=-2",
    ),
    pytest.param(
        stats.variance_test,
        {"samples": [1.0], "predicted_variance": 1.0},
        r"samples has 1 finite",
        id="variance_test-samples_has_1_finite",
    ),
    pytest.param(
        stats.binomial_interval,
        {"k": 5, "n": 4},
        r"k=5 must be an integer in \[0, n=4\]",
        id="binomial_interval-k=5",
    ),
    pytest.param(
        stats.binomial_interval,
        {"k": -1, "n": 4},
        r"k=-1 must be an integer >= 0",
        id="binomial_interval-k=-1",
    ),
    pytest.param(
        stats.binomial_interval,
        {"k": 0, "n": 0},
        r"n=0 must be an integer >= 1",
        id="binomial_interval-n=0",
    ),
    pytest.param(
        stats.binomial_interval,
        {"k": 1.5, "n": 4},
        r"k=1.5 must be an integer",
        id="binomial_interval-k=1.5",
    ),
    pytest.param(
        stats.binomial_interval,
        {"k": 1, "n": 4, "confidence_level": 1.0},
        r"confidence_level=1.0 must be",
        id="binomial_interval-confidence_level=1.0",
    ),
    pytest.param(
        stats.t_test_power,
        {"effect": 1.0, "sd": 1.0, "n": 1},
        r"n=1 must be an integer >= 2",
        id="t_test_power-n=1",
    ),
    pytest.param(
        stats.t_test_power,
        {"effect": 1.0, "sd": 0.0, "n": 5},
        r"sd=0.0 must be > 0",
        id="t_test_power-sd=0.0",
    ),
    pytest.param(
        stats.required_seeds,
        {"effect": 0.0, "sd": 1.0},
        r"effect=0.0 must be non-zero",
        id="required_seeds-effect=0.0",
    ),
    pytest.param(
        stats.required_seeds,
        {"effect": 1.0, "sd": -1.0},
        r"sd=-1.0 must be > 0",
        id="required_seeds-sd=-1.0",
    ),
    pytest.param(
        stats.required_seeds,
        {"effect": 1.0, "sd": 1.0, "power": 1.0},
        r"power=1.0 must be .*\(0, 1\)",
        id="required_seeds-power=1.0",
    ),
    pytest.param(
        stats.required_seeds,
        {"effect": 1.0, "sd": 1.0, "alpha": 0.2, "power": 0.1},
        r"power=0.1 must exceed alpha=0.2",
        id="required_seeds-power=0.1",
    ),
    pytest.param(
        stats.required_seeds,
        {"effect": 0.01, "sd": 1.0, "max_seeds": 100},
        r"max_seeds=100 seeds are not enough",
        id="required_seeds-max_seeds=100_seeds_are_not_en",
    ),
    pytest.param(
        lambda **kw: stats.slope_test(_X, 0.0).confidence_interval(**kw),
        {"confidence_level": 0},
        r"confidence_level=0 must be",
        id="ci_slope_test-confidence_level=0",
    ),
    pytest.param(
        lambda **kw: stats.tost(_X, -1, 1).confidence_interval(**kw),
        {"confidence_level": 2.0},
        r"confidence_level=2.0 must be",
        id="ci_tost-confidence_level=2.0",
    ),
    pytest.param(
        lambda **kw: stats.variance_test(_X, 1.0).confidence_interval(**kw),
        {"confidence_level": -1},
        r"confidence_level=-1 must be",
        id="ci_variance_test-confidence_level=-1",
    ),
]


@pytest.mark.parametrize(("fn", "kwargs", "match"), BAD_INPUTS)
def test_bad_inputs_raise_invalid_argument(
    fn: Callable[..., Any], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidArgument, match=match) as info:
        fn(**kwargs)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------------------
# Calibration by simulation
# ----------------------------------------------------------------------------------------

N_EXPERIMENTS = 4000
N_SEEDS = 16


def _covers(ci: ConfidenceInterval, x: float) -> bool:
    """``ci.low <= x <= ci.high`` (``x in ci`` would test tuple membership)."""
    return bool(ci.low <= x <= ci.high)


def _show(label: str, k: int, n: int) -> ConfidenceInterval:
    """The 99% CP interval of ``k/n``, printed for ``pytest -s`` (calibration numbers)."""
    ci = stats.binomial_interval(k, n, 0.99)
    print(f"{label}: {k}/{n} = {k / n:.4f}, 99% CP [{ci.low:.4f}, {ci.high:.4f}]")
    return ci


def _rejections(data: np.ndarray, predicted: float, **kwargs: Any) -> int:
    return sum(not stats.slope_test(row, predicted, **kwargs).passed for row in data)


def test_slope_test_size_is_alpha_and_ci_covers() -> None:
    """Size of ``slope_test`` (tolerance 0) under the null.

    alpha = 0.01; 4000 experiments of n = 16 Gaussian slopes N(-0.3, 0.05^2) with
    predicted = -0.3. Validity domain: i.i.d. Gaussian per-seed slopes. Passes when
    alpha lies in the 99% Clopper-Pearson interval of the rejection rate, and the 95%
    t-interval covers the true mean with a rate whose 99% CP interval contains 0.95.
    """
    rng = np.random.default_rng(20240601)
    data = rng.normal(-0.3, 0.05, size=(N_EXPERIMENTS, N_SEEDS))
    results = [stats.slope_test(row, -0.3, alpha=0.01) for row in data]
    k = sum(not r.passed for r in results)
    assert _covers(_show("slope_test size, alpha=0.01, n=16", k, N_EXPERIMENTS), 0.01)
    covered = 0
    for r in results:
        ci = r.confidence_interval(0.95)
        covered += ci.low <= -0.3 <= ci.high
    assert _covers(_show("slope_test 95% CI coverage, n=16", covered, N_EXPERIMENTS), 0.95)


def test_slope_test_with_tolerance_is_conservative_at_the_band_edge() -> None:
    """Size of ``slope_test`` with tolerance when the true deviation equals the tolerance.

    alpha = 0.01; 4000 experiments of n = 16 Gaussian slopes with sd 1 and true mean
    predicted + tolerance. Two regimes, validity domain i.i.d. Gaussian slopes:

    * tolerance = 2 sd (8 standard errors): theory says size -> alpha/2 = 0.005.
      Expected *below* alpha: alpha/2 lies in the 99% CP interval of the measured rate
      and the interval's lower end is below alpha.
    * tolerance = 0.05 sd (0.2 standard errors): size between alpha/2 and alpha; the
      CP interval's lower end must be <= alpha (no excess false alarms).
    """
    rng = np.random.default_rng(777)
    wide = rng.normal(2.0, 1.0, size=(N_EXPERIMENTS, N_SEEDS))
    k = _rejections(wide, 0.0, tolerance=2.0)
    ci = _show("slope_test size at band edge, tolerance=8 SE, alpha=0.01", k, N_EXPERIMENTS)
    assert _covers(ci, 0.005)
    assert ci.low < 0.01
    narrow = rng.normal(-0.05, 1.0, size=(N_EXPERIMENTS, N_SEEDS))
    k = _rejections(narrow, 0.0, tolerance=0.05)
    ci = _show("slope_test size at band edge, tolerance=0.2 SE, alpha=0.01", k, N_EXPERIMENTS)
    assert ci.low <= 0.01


def test_slope_test_power_matches_noncentral_t() -> None:
    """Power of ``slope_test`` at a deviation of 1 sd.

    2000 experiments per case, Gaussian slopes, validity domain i.i.d. Gaussian slopes.
    Theory (noncentral t): n = 16 gives power 0.8346 at alpha = 0.01 (below 0.9!) and
    0.9619 at alpha = 0.05; ``required_seeds(1, 1, 0.01, 0.9)`` = 19 seeds give >= 0.9
    at alpha = 0.01. Passes when each theoretical power lies in the 99% CP interval of
    the measured one and the two planned cases have theoretical power >= 0.9.
    """
    rng = np.random.default_rng(4242)
    n_exp = 2000
    n_planned = stats.required_seeds(1.0, 1.0, alpha=0.01, power=0.9)
    assert n_planned == 19
    for n, alpha, need_09 in [(16, 0.01, False), (16, 0.05, True), (n_planned, 0.01, True)]:
        theory = stats.t_test_power(1.0, 1.0, n, alpha)
        data = rng.normal(1.0, 1.0, size=(n_exp, n))
        k = _rejections(data, 0.0, alpha=alpha)
        ci = _show(f"slope_test power, 1 sd, n={n}, alpha={alpha} (theory {theory:.4f})", k, n_exp)
        assert _covers(ci, theory), (n, alpha, k / n_exp, theory)
        assert (theory >= 0.9) == need_09
    assert stats.t_test_power(1.0, 1.0, 16, 0.01) == pytest.approx(0.8346, abs=1e-4)


def _tost_power(mu: float, low: float, high: float, sd: float, n: int, alpha: float) -> float:
    """Exact TOST rejection probability by 1-D quadrature over the sample sd."""
    df = n - 1
    c = sps.t.ppf(1 - alpha, df)
    root_n = math.sqrt(n)

    def integrand(u: float) -> float:  # u = df * S^2 / sd^2 ~ chi2(df)
        s = sd * math.sqrt(u / df)
        upper = (high - c * s / root_n - mu) * root_n / sd
        lower = (low + c * s / root_n - mu) * root_n / sd
        inside = max(sps.norm.cdf(upper) - sps.norm.cdf(lower), 0.0)
        return inside * sps.chi2.pdf(u, df)

    u_max = sps.chi2.ppf(1 - 1e-12, df)
    return float(integrate.quad(integrand, 0, u_max, limit=200)[0])


def test_tost_size_at_the_margin_and_power_at_the_center() -> None:
    """TOST size and power; alpha = 0.05, n = 16, sd = 1, 4000 experiments each.

    Validity domain: i.i.d. Gaussian values. Margins (-1, 1) = +-4 standard errors:
    at mean = high the size is alpha up to a negligible term (theory by quadrature),
    and alpha must lie in the 99% CP interval of the measured rate. Margins
    (-0.25, 0.25) are narrower than the critical distance, so the size is far below
    alpha (conservative): the CP upper end must be < alpha. Power at mean = 0 with
    margins (-1, 1) must match the quadrature value (0.9697) within the CP interval.
    """
    rng = np.random.default_rng(99)
    n_exp, n, alpha = N_EXPERIMENTS, N_SEEDS, 0.05

    def rate(mu: float, low: float, high: float) -> ConfidenceInterval:
        data = rng.normal(mu, 1.0, size=(n_exp, n))
        k = sum(stats.tost(row, low, high, alpha=alpha).passed for row in data)
        return _show(f"tost pass rate, alpha=0.05, n=16, mean={mu}, ({low}, {high})", k, n_exp)

    size_theory = _tost_power(1.0, -1.0, 1.0, 1.0, n, alpha)
    assert size_theory == pytest.approx(alpha, abs=1e-6)
    assert _covers(rate(1.0, -1.0, 1.0), size_theory)
    assert rate(0.25, -0.25, 0.25).high < alpha
    power_theory = _tost_power(0.0, -1.0, 1.0, 1.0, n, alpha)
    assert power_theory > 0.95
    assert _covers(rate(0.0, -1.0, 1.0), power_theory)


def test_holm_controls_familywise_error_under_dependence() -> None:
    """Family-wise error of ``holm`` at alpha = 0.05, and BH's FDR at q = 0.1.

    4000 families of m = 10 one-sample t-tests (n = 16 Gaussian seeds each); 7 true
    nulls, 3 false ones with effect 1.5 sd. Within a family the tests share a common
    Gaussian factor (correlation 0.5), so they are dependent; Holm needs no
    independence. Passes when the 99% CP interval of the measured FWE starts at or below
    alpha (no excess false alarms), and Holm keeps some power (rejects >= 1 false null
    in most families). The FDR check uses independent tests (rho = 0), where BH guarantees
    FDR <= q * m0 / m = 0.07; the mean false discovery proportion must be within
    3 standard errors of that bound or below it.
    """
    rng = np.random.default_rng(31337)
    n_fam, m, n = N_EXPERIMENTS, 10, N_SEEDS
    effects = np.array([0.0] * 7 + [1.5] * 3)

    def pvalues(rho: float) -> np.ndarray:
        common = rng.normal(size=(n_fam, 1, n))
        own = rng.normal(size=(n_fam, m, n))
        data = math.sqrt(rho) * common + math.sqrt(1 - rho) * own + effects[None, :, None]
        return sps.ttest_1samp(data, 0.0, axis=-1).pvalue

    p = pvalues(0.5)
    reject = np.array([stats.holm(row, 0.05) for row in p])
    fwe = int(np.any(reject[:, :7], axis=1).sum())
    assert _show("holm FWE, alpha=0.05, m=10 (7 null), rho=0.5", fwe, n_fam).low <= 0.05
    assert np.mean(np.any(reject[:, 7:], axis=1)) > 0.5

    p = pvalues(0.0)
    reject = np.array([stats.benjamini_hochberg(row, 0.1) for row in p])
    false_d = reject[:, :7].sum(axis=1)
    fdp = false_d / np.maximum(reject.sum(axis=1), 1)
    print(f"BH mean FDP, q=0.1, m0/m=0.7: {fdp.mean():.4f} (bound 0.07)")
    assert fdp.mean() <= 0.07 + 3 * fdp.std(ddof=1) / math.sqrt(n_fam)
