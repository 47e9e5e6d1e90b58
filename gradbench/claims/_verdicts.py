"""Verdict builders shared by every claim: exact identities, t-tests, TOST, z-tests.

Each builder turns per-seed (or per-sample) numbers into a
:class:`~gradbench.records.Verdict` with the claim's name and source, the predicted
and measured values, the test statistic, the p-value, the confidence interval at
``1 - alpha`` (``1 - 2 alpha`` for equivalence tests, as TOST's duality gives) and the
method in words. Exact identities (float64 comparisons, all seeds agreeing) pass when
the largest error is within its stated tolerance; their ``pvalue`` is 1 or 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from gradbench import stats
from gradbench.claims._registry import CLAIMS, subject_dict
from gradbench.records import Verdict

EXACT_SPREAD = 1e-12
"""Per-seed values closer than this are "all seeds agree": the test degenerates to a comparison."""


def verdict(
    name: str, target: Any, config: Mapping[str, Any], *, predicted: float, measured: float,
    statistic: float, pvalue: float, ci: tuple[float, float], alpha: float, passed: bool,
    effect: float = math.nan, n: int = 0, method: str, note: str = "",
) -> Verdict:
    return Verdict(
        claim=name, spec=subject_dict(target, config), predicted=float(predicted),
        measured=float(measured), statistic=float(statistic), pvalue=float(pvalue),
        ci_low=float(ci[0]), ci_high=float(ci[1]), alpha=float(alpha), passed=bool(passed),
        effect_size=float(effect), n=int(n), method=method, source=CLAIMS[name].source,
        note=note,
    )


def exact(
    name: str, target: Any, config: Mapping[str, Any], *, predicted: float, measured: float,
    worst: float, alpha: float, n: int, tolerance: str, note: str = "",
    ci: tuple[float, float] | None = None,
) -> Verdict:
    """A deterministic identity: ``worst`` is the largest error in units of its tolerance."""
    ok = bool(worst <= 1.0)
    return verdict(
        name, target, config, predicted=predicted, measured=measured, statistic=worst,
        pvalue=1.0 if ok else 0.0, ci=ci or (measured, measured), alpha=alpha, passed=ok,
        effect=worst, n=n, method=f"exact comparison ({tolerance}); statistic = worst error "
        "in units of the tolerance", note=note,
    )


def _too_few(values: np.ndarray, finite: np.ndarray) -> bool:
    """No test is possible: no finite value, or one left where other seeds overflowed."""
    return finite.size == 0 or (finite.size < 2 and values.size > finite.size)


def _nonfinite(name: str, target: Any, config: Mapping[str, Any], predicted: float,
               alpha: float, method: str, finite: int = 0) -> Verdict:
    return verdict(
        name, target, config, predicted=predicted, measured=math.nan, statistic=math.nan,
        pvalue=0.0, ci=(math.nan, math.nan), alpha=alpha, passed=False, n=finite,
        method=method, note=("every seed produced non-finite gradients" if not finite else
                             f"only {finite} seed produced finite gradients: no test across "
                             "seeds is possible"),
    )


def t_test(
    name: str, target: Any, config: Mapping[str, Any], values: np.ndarray, predicted: float, *,
    alpha: float, what: str, bias: float = 0.0, tolerance: float = 0.0,
) -> Verdict:
    """Two-sided t-test across seeds of ``mean(values) = predicted + bias`` (within ``tolerance``).

    Degenerates to an exact comparison (within ``tolerance`` + 1e-9) when every seed gives
    the same value, e.g. orthogonal linear networks, or when one value is all there is (a
    one-site network's slope). Seeds whose networks overflowed leaving fewer than 2 finite
    ones allow no test: the claim fails, as with none.
    """
    finite = values[np.isfinite(values)]
    method = f"t-test across seeds on {what}"
    if _too_few(values, finite):
        return _nonfinite(name, target, config, predicted, alpha, method, finite.size)
    if finite.size < 2 or np.ptp(finite) < EXACT_SPREAD:
        dev = float(finite.mean() - predicted - bias)
        return exact(
            name, target, config, predicted=predicted, measured=float(finite.mean()),
            worst=abs(dev) / (tolerance + 1e-9), alpha=alpha, n=int(finite.size),
            tolerance=f"|{what} - prediction| <= {tolerance:.3g} + 1e-9; all seeds agree",
        )
    r = stats.slope_test(finite, predicted, bias=bias, tolerance=tolerance, alpha=alpha)
    lo, hi = r.confidence_interval(1 - alpha)
    notes = [f"finite-width bias {bias:+.3g} applied"] if bias else []
    if tolerance:
        notes.append(f"model-error band +-{tolerance:.3g}")
    if values.size > finite.size:
        notes.append(f"{values.size - finite.size} seeds non-finite, excluded")
    return verdict(
        name, target, config, predicted=predicted, measured=r.estimate, statistic=r.statistic,
        pvalue=r.pvalue, ci=(lo, hi), alpha=alpha, passed=r.passed, effect=r.effect_size,
        n=r.n, method=method, note="; ".join(notes),
    )


def equivalence(
    name: str, target: Any, config: Mapping[str, Any], values: np.ndarray, predicted: float,
    margin: float, *, alpha: float, what: str, note: str = "",
) -> Verdict:
    """TOST across seeds: ``mean(values)`` lies in ``predicted +- margin`` (Schuirmann 1987).
    A non-finite seed means the network blew up: equivalence cannot be claimed."""
    finite = values[np.isfinite(values)]
    method = f"TOST across seeds on {what}, margin +-{margin:.3g}"
    if _too_few(values, finite):
        return _nonfinite(name, target, config, predicted, alpha, method, finite.size)
    if values.size > finite.size:
        note = "; ".join(filter(None, [note, f"{values.size - finite.size} seeds non-finite"]))
    if finite.size < 2 or np.ptp(finite) < EXACT_SPREAD:
        dev = float(finite.mean() - predicted)
        return exact(
            name, target, config, predicted=predicted, measured=float(finite.mean()),
            worst=abs(dev) / margin if finite.size == values.size else math.inf, alpha=alpha,
            n=int(finite.size), note=note,
            tolerance=f"|{what} - {predicted:.3g}| < {margin:.3g}; all "
            f"{'' if finite.size == values.size else 'finite '}seeds agree",
        )
    r = stats.tost(finite, predicted - margin, predicted + margin, alpha=alpha)
    lo, hi = r.confidence_interval()
    passed = r.passed and finite.size == values.size
    return verdict(
        name, target, config, predicted=predicted, measured=r.estimate, statistic=r.statistic,
        pvalue=r.pvalue if passed or not r.passed else 1.0, ci=(lo, hi), alpha=alpha,
        passed=passed, effect=(r.estimate - predicted) / margin, n=r.n, method=method,
        note=note,
    )


def one_sided(
    name: str, target: Any, config: Mapping[str, Any], values: np.ndarray, threshold: float,
    alternative: Literal["less", "greater"], *, alpha: float, what: str,
) -> Verdict:
    """One-sided one-sample t-test: passes when the mean is shown ``alternative`` the threshold."""
    x = values[np.isfinite(values)]
    method = f"one-sided t-test ({alternative} than {threshold:.3g}) across seeds on {what}"
    if x.size < 2:
        return _nonfinite(name, target, config, threshold, alpha, method, x.size)
    if np.ptp(x) < EXACT_SPREAD:
        ok = x.mean() < threshold if alternative == "less" else x.mean() > threshold
        return exact(name, target, config, predicted=threshold, measured=float(x.mean()),
                     worst=0.0 if ok else math.inf, alpha=alpha, n=int(x.size),
                     tolerance=f"{what} {alternative} than {threshold:.3g}; all seeds agree")
    test = sps.ttest_1samp(x, threshold, alternative=alternative)
    ci = sps.ttest_1samp(x, threshold).confidence_interval(1 - alpha)
    return verdict(
        name, target, config, predicted=threshold, measured=float(x.mean()),
        statistic=float(test.statistic), pvalue=float(test.pvalue), ci=(ci.low, ci.high),
        alpha=alpha, passed=bool(test.pvalue < alpha),
        effect=float((x.mean() - threshold) / x.std(ddof=1)), n=int(x.size), method=method,
    )


def z_test(
    name: str, target: Any, config: Mapping[str, Any], *, estimate: float, se: float,
    predicted: float, alpha: float, n: int, what: str, note: str = "",
) -> Verdict:
    """Two-sided z-test of ``estimate = predicted`` with a known standard error ``se``.

    A zero ``se`` (every sample equal, e.g. the derivative of a linear map) makes it an
    exact comparison to a relative 1e-9.
    """
    if se <= 0:
        return exact(name, target, config, predicted=predicted, measured=estimate,
                     worst=abs(estimate - predicted) / (1e-9 * max(1.0, abs(predicted))),
                     alpha=alpha, n=n, tolerance="relative 1e-9 (zero sampling error)",
                     note=note)
    z = (estimate - predicted) / se
    p = float(2 * sps.norm.sf(abs(z)))
    half = float(sps.norm.isf(alpha / 2)) * se
    return verdict(
        name, target, config, predicted=predicted, measured=estimate, statistic=z, pvalue=p,
        ci=(estimate - half, estimate + half), alpha=alpha, passed=p >= alpha, effect=z, n=n,
        method=f"two-sided z-test on {what}", note=note,
    )


def failure(name: str, target: Any, config: Mapping[str, Any], exc: BaseException,
            alpha: float) -> Verdict:
    """A failed verdict for a case whose measurement raised (the remedy broke)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    sentence = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return verdict(name, target, config, predicted=math.nan, measured=math.nan,
                   statistic=math.nan, pvalue=0.0, ci=(math.nan, math.nan), alpha=alpha,
                   passed=False, method="the measurement raised", note=f"error: {sentence[:300]}")


def explain(verdict: Verdict) -> str:
    """One paragraph for a failure message: claim and the remedy it is about (a baseline's
    failure beside a candidate says whose it is), predicted vs measured with CI, configuration."""
    config = ", ".join(f"{k}={v!r}" for k, v in verdict.spec.items())
    remedy = verdict.spec.get("remedy")
    status = ("holds" if verdict.passed else "FAILS") + (f" for {remedy}" if remedy else "")
    ci = ("no interval" if math.isnan(verdict.ci_low) and math.isnan(verdict.ci_high)
          else f"CI [{verdict.ci_low:.6g}, {verdict.ci_high:.6g}]")
    return (
        f"claim {verdict.claim} {status}: predicted {verdict.predicted:.6g}, measured "
        f"{verdict.measured:.6g}, {ci}, statistic {verdict.statistic:.4g}, p={verdict.pvalue:.3g} "
        f"(alpha {verdict.alpha:.3g}; {verdict.method})"
        + (f"; {verdict.note}" if verdict.note else "")
        + f"\n  configuration: {config}\n  source: {verdict.source}"
    )
