"""Slow calibration of gradbench.stats: size over a grid, and the finite-width pipeline.

Run with ``pytest -m slow tests/quality/test_stats_calibration.py`` (about 15 s). All
simulations use literal numpy seeds. A rate ``k/N`` counts as calibrated when its
nominal value lies in the 99% Clopper-Pearson interval of ``k/N``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps

from gradbench import stats

pytestmark = pytest.mark.slow

ALPHA = 0.01


def _rejection_interval(data: np.ndarray, predicted: float, **kwargs: float) -> tuple[float, ...]:
    k = sum(not stats.slope_test(row, predicted, alpha=ALPHA, **kwargs).passed for row in data)
    ci = stats.binomial_interval(k, len(data), 0.99)
    print(f"slope_test {kwargs}: {k / len(data):.4f}, 99% CP [{ci.low:.4f}, {ci.high:.4f}]")
    return (k / len(data), *ci)


@pytest.mark.parametrize("n", [4, 8, 32, 64])
def test_slope_test_size_over_seeds_and_tolerances(n: int) -> None:
    """Size of ``slope_test`` at alpha = 0.01 for n seeds, 10000 experiments per case.

    Validity domain: i.i.d. Gaussian per-seed slopes (sd 1). The true deviation sits at
    the band edge, ``tolerance = a * sd / sqrt(n)``:

    * a = 0 (plain t-test): alpha lies in the 99% CP interval of the rate.
    * a = 0.5: size between alpha/2 and alpha; the CP interval must start <= alpha.
    * a = 4: the conservative regime, size -> alpha/2 = 0.005, which must lie in the
      CP interval (and the interval must start below alpha).
    """
    rng = np.random.default_rng(1000 + n)
    n_exp = 10_000
    for a in (0.0, 0.5, 4.0):
        tol = a / math.sqrt(n)
        data = rng.normal(tol, 1.0, size=(n_exp, n))
        rate, low, high = _rejection_interval(data, 0.0, tolerance=tol)
        assert low <= ALPHA, (n, a, rate)
        if a == 0.0:
            assert low <= ALPHA <= high, (n, a, rate)
        if a == 4.0:
            assert low <= ALPHA / 2 <= high, (n, a, rate)


def _relu_he_layer_moments(width: int) -> tuple[float, float]:
    """Exact E ln X and Var ln X for X = (2/n) chi2_K, K ~ Binomial(n, 1/2), K >= 1.

    docs/theory.md §2.2: E ln X = E_K[psi(K/2)] + ln(4/n), Var ln X = E_K[psi'(K/2)] +
    Var_K[psi(K/2)]. Computed here independently of gradbench.theory.
    """
    k = np.arange(1, width + 1)
    w = sps.binom.pmf(k, width, 0.5)
    w = w / w.sum()
    psi = special.digamma(k / 2)
    mean = float(w @ psi) + math.log(4 / width)
    var = float(w @ special.polygamma(1, k / 2) + w @ psi**2 - (w @ psi) ** 2)
    return mean, var


def _log_sq_norms(rng: np.random.Generator, shape: tuple[int, ...], width: int) -> np.ndarray:
    """ln(M_l / M_0), l = 1..depth, under the exact product law of docs/theory.md §2.2."""
    k = rng.binomial(width, 0.5, size=shape)
    x = (2.0 / width) * rng.gamma(np.maximum(k, 1) / 2.0, 2.0)  # K = 0 has prob 2^-width
    return np.cumsum(np.log(x), axis=-1)


def test_finite_width_pipeline_fit_slopes_slope_test_variance_test() -> None:
    """End to end on the exact finite-width law: ReLU, Gaussian He init, width 64, 20 layers.

    alpha = 0.01, 4000 experiments. Validity domain: Gaussian He weights (docs/theory.md §2.2;
    uniform weights deviate by about 3%).

    * ``fit_slopes`` + ``slope_test`` with 16 seeds, predicted slope 0 (He keeps the
      mean-field norm, ln chi_1 = 0) and the exact finite-width bias
      ``E ln X / 2 = -0.02005`` per layer for log norms: size alpha (CP interval).
      Without the bias the same data are rejected in about 30% of the experiments:
      the bias matters at 16 seeds.
    * ``variance_test`` with 64 seeds of ln ||g_L||^2 against the exact
      ``Var = 20 Var ln X = 1.6599470111``: size alpha (CP interval).
    """
    width, depth, n_exp = 64, 20, 4000
    mean, var = _relu_he_layer_moments(width)
    assert mean == pytest.approx(-0.0401085988, abs=1e-10)  # docs/theory.md §2.2 table
    assert var == pytest.approx(0.0829973506, abs=1e-10)
    rng = np.random.default_rng(64_20)

    walks = _log_sq_norms(rng, (n_exp, 16, depth), width)
    log_norms = 0.5 * np.concatenate([np.zeros((n_exp, 16, 1)), walks], axis=-1)
    slopes = stats.fit_slopes(log_norms.reshape(-1, depth + 1)).reshape(n_exp, 16)
    rate, low, high = _rejection_interval(slopes, 0.0, bias=mean / 2)
    assert low <= ALPHA <= high, rate
    rate, low, _ = _rejection_interval(slopes, 0.0)
    assert low > 0.2, rate

    final = _log_sq_norms(rng, (n_exp, 64, depth), width)[..., -1]
    k = sum(not stats.variance_test(row, depth * var, alpha=ALPHA).passed for row in final)
    low, high = stats.binomial_interval(k, n_exp, 0.99)
    print(f"variance_test size, 64 seeds: {k / n_exp:.4f}, 99% CP [{low:.4f}, {high:.4f}]")
    assert low <= ALPHA <= high, k / n_exp


@pytest.mark.parametrize(("effect", "alpha", "power"), [(0.5, 0.05, 0.8), (1.0, 0.01, 0.9)])
def test_required_seeds_delivers_the_planned_power(
    effect: float, alpha: float, power: float
) -> None:
    """Simulated power at ``required_seeds`` matches the noncentral-t value (>= target).

    4000 experiments of Gaussian data with sd 1; validity domain i.i.d. Gaussian seeds.
    """
    n = stats.required_seeds(effect, 1.0, alpha, power)
    theory = stats.t_test_power(effect, 1.0, n, alpha)
    assert theory >= power
    rng = np.random.default_rng(int(100 * effect) + n)
    data = rng.normal(effect, 1.0, size=(4000, n))
    k = sum(not stats.slope_test(row, 0.0, alpha=alpha).passed for row in data)
    low, high = stats.binomial_interval(k, 4000, 0.99)
    print(f"power at n={n}: {k / 4000:.4f} (theory {theory:.4f})")
    assert low <= theory <= high, (n, k / 4000, theory)


@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_holm_familywise_error_with_many_null_tests(rho: float) -> None:
    """Holm at alpha = 0.05 over 4000 families of m = 50 true-null t-tests (n = 16).

    Equicorrelated test statistics (rho = 0 and 0.9); Holm's guarantee needs no
    independence. Passes when the 99% CP interval of the FWE starts at or below alpha,
    and, for independent tests, contains the exact FWE 1 - (1 - alpha/m)^m = 0.0488.
    """
    rng = np.random.default_rng(int(rho * 10) + 5)
    n_fam, m, n = 4000, 50, 16
    common = rng.normal(size=(n_fam, 1, n))
    data = math.sqrt(rho) * common + math.sqrt(1 - rho) * rng.normal(size=(n_fam, m, n))
    p = sps.ttest_1samp(data, 0.0, axis=-1).pvalue
    fwe = int(sum(stats.holm(row, 0.05).any() for row in p))
    ci = stats.binomial_interval(fwe, n_fam, 0.99)
    print(f"holm FWE m=50 rho={rho}: {fwe / n_fam:.4f}, 99% CP [{ci.low:.4f}, {ci.high:.4f}]")
    assert ci.low <= 0.05, fwe / n_fam
    if rho == 0.0:  # independent tests: FWE = 1 - (1 - alpha/m)^m exactly (= Bonferroni)
        assert ci.low <= 1 - (1 - 0.05 / m) ** m <= ci.high
