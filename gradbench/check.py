"""Claims: pre-registered statistical checks of a theory prediction against a measurement.

Each claim is registered once (:func:`claim`) with the statement it tests, its source,
its statistic, alpha and validity domain, and turns ``(spec, measurement)`` into a
:class:`~gradbench.records.Verdict`. The independent unit is the network (seed):
per-seed statistics are computed first, then tested across seeds (``gradbench.stats``).
Seeds derive from the spec and the base seed, so a verdict is a pure function of
``(spec, claim, seeds, batch, alpha, dtype, seed)``.

Calibration (false-alarm rate under true claims, power against a 10% mis-scaled
initializer) is measured in ``tests/quality/test_calibration.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gradbench import stats, theory
from gradbench.errors import InvalidArgument, choices_hint
from gradbench.records import Measurement, Prediction, Verdict
from gradbench.specs import MLPSpec, Spec, bias_variance, weight_variance

MODEL_ERROR = 2.0
"""Allowed mean-field model error of the per-layer log-norm slope, in units of 1/width.

Mean-field predictions are exact only at infinite width; at width n the per-layer log
growth deviates by O(1/n) (docs/theory.md §1.1 "finite-width bias", §2.2: 5/(4n) for ReLU).
Where theory gives the finite-width bias exactly (ReLU, Gaussian weights) it is
corrected for and no band is used; elsewhere the null is |deviation| <= MODEL_ERROR/n.
"""
EQUIVALENCE_ALPHA = 0.05
"""Level of equivalence (TOST) tests in suites: their type-I error is declaring a property
(stability, a spectrum) that does not hold, so it is not split over cases; their failures
under a true claim are controlled by power (seeds and margins), measured in the tests."""
EXACT = 1e-9  # |deviation| allowed when every seed gives the same value (exact identities)


@dataclass(frozen=True)
class Claim:
    """A registered claim.

    Attributes:
        name: registry name.
        statement: what is claimed, in one sentence.
        source: the paper (and docs/theory.md section).
        evaluate: ``(spec, measurement, alpha) -> Verdict``.
        needs_measurement: whether :func:`check` must run the gradient probe first.
    """

    name: str
    statement: str
    source: str
    evaluate: Callable[..., Verdict]
    needs_measurement: bool = True


CLAIMS: dict[str, Claim] = {}


def claim(
    name: str, statement: str, source: str, *, needs_measurement: bool = True
) -> Callable[[Callable[..., Verdict]], Callable[..., Verdict]]:
    """Register the decorated evaluator as claim ``name``."""

    def decorate(fn: Callable[..., Verdict]) -> Callable[..., Verdict]:
        CLAIMS[name] = Claim(name, statement, source, fn, needs_measurement)
        return fn

    return decorate


def get_claim(name: str) -> Claim:
    """The claim registered as ``name``; unknown names list the valid ones."""
    try:
        return CLAIMS[name]
    except KeyError:
        raise InvalidArgument(f"claim {name!r} is unknown; {choices_hint(name, CLAIMS)}") from None


def log_norms(m: Measurement) -> np.ndarray:
    """``[seeds, sites]`` natural log of ||dL/d site|| (NaN where not finite or zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(m.act_grad_norms)
    out[~np.isfinite(out)] = np.nan
    return out


def predicted_curve(prediction: Prediction) -> np.ndarray:
    """Predicted log ||dL/d site_l|| relative to the top site, from per-layer log growth."""
    growth = np.asarray(prediction.log_growth, dtype=float)
    return np.concatenate([np.cumsum(growth[::-1])[::-1], [0.0]])


def ols_slope(curve: np.ndarray) -> float:
    """Least-squares slope of ``curve`` against its index."""
    x = np.arange(curve.size, dtype=float)
    return float(np.polyfit(x, curve, 1)[0]) if curve.size > 1 else 0.0


def _verdict(
    name: str,
    spec: Spec,
    *,
    predicted: float,
    measured: float,
    statistic: float,
    pvalue: float,
    ci: tuple[float, float],
    alpha: float,
    passed: bool,
    effect: float,
    n: int,
    method: str,
    note: str = "",
) -> Verdict:
    return Verdict(
        claim=name,
        spec=spec.to_dict(),
        predicted=float(predicted),
        measured=float(measured),
        statistic=float(statistic),
        pvalue=float(pvalue),
        ci_low=float(ci[0]),
        ci_high=float(ci[1]),
        alpha=alpha,
        passed=bool(passed),
        effect_size=float(effect),
        n=n,
        method=method,
        source=CLAIMS[name].source,
        note=note,
    )


def _exact_or_t(
    name: str,
    spec: Spec,
    values: np.ndarray,
    predicted: float,
    *,
    bias: float,
    tolerance: float,
    alpha: float,
    what: str,
) -> Verdict:
    """Slope test across seeds; an exact comparison when all seeds agree to rounding."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return _verdict(
            name,
            spec,
            predicted=predicted,
            measured=math.nan,
            statistic=math.nan,
            pvalue=0.0,
            ci=(math.nan, math.nan),
            alpha=alpha,
            passed=False,
            effect=math.nan,
            n=0,
            method=what,
            note="every seed produced non-finite gradients",
        )
    if finite.size < 2 or np.ptp(finite) < 1e-12:
        dev = float(finite.mean() - predicted - bias)
        ok = abs(dev) <= tolerance + EXACT
        return _verdict(
            name,
            spec,
            predicted=predicted,
            measured=float(finite.mean()),
            statistic=dev,
            pvalue=1.0 if ok else 0.0,
            ci=(float(finite.min()), float(finite.max())),
            alpha=alpha,
            passed=ok,
            effect=math.inf if not ok else 0.0,
            n=int(finite.size),
            method=f"exact comparison of {what} (all seeds agree)",
        )
    r = stats.slope_test(finite, predicted, bias=bias, tolerance=tolerance, alpha=alpha)
    lo, hi = r.confidence_interval(1 - alpha)
    note = f"finite-width bias {bias:+.3g} applied" if bias else ""
    if tolerance:
        note = (note + "; " if note else "") + f"model-error band +-{tolerance:.3g}"
    if values.size > finite.size:
        note += f"; {values.size - finite.size} seeds non-finite, excluded"
    return _verdict(
        name,
        spec,
        predicted=predicted,
        measured=r.estimate,
        statistic=r.statistic,
        pvalue=r.pvalue,
        ci=(lo, hi),
        alpha=alpha,
        passed=r.passed,
        effect=r.effect_size,
        n=r.n,
        method=f"t-test across seeds on {what}",
        note=note.strip("; "),
    )


def _slope_bias_and_tolerance(
    spec: Spec, prediction: Prediction, batch: int
) -> tuple[float, float]:
    """Known finite-width bias of the per-seed log-norm slope, or the model-error band.

    The exact ReLU law (docs/theory.md §2.2) is for one example; a batch Frobenius norm averages
    over examples and has a smaller, unknown bias, so the bias is applied only at
    ``batch == 1`` and the band ``MODEL_ERROR / width`` is used otherwise.
    """
    bias = prediction.quantities.get("finite_width_bias")
    if batch == 1 and isinstance(bias, (int, float)) and math.isfinite(bias):
        return -float(bias), 0.0  # bias is in log growth towards the input; slope is minus it
    width = int(getattr(spec, "width", 0) or getattr(spec, "hidden", 1))
    return 0.0, MODEL_ERROR / width


@claim(
    "mean_field_slope",
    "The mean per-layer slope of log ||dL/dh_l|| equals the mean-field prediction "
    "(chi_1 trajectory; residual and RNN growth; normalization rates).",
    "Poole et al. 2016; Schoenholz et al. 2017 (docs/theory.md §1, §4, §5, §6)",
)
def mean_field_slope(spec: Spec, m: Measurement, alpha: float) -> Verdict:
    """Per-seed OLS slope of log-norm vs site, t-tested against the predicted curve's slope."""
    prediction = theory.predict(spec, batch=m.batch)
    if not prediction.valid or prediction.log_growth is None:
        raise InvalidArgument(f"no prediction for {spec!r}: {prediction.reason}")
    slopes = stats.fit_slopes(log_norms(m)) if m.act_grad_norms.shape[1] > 1 else np.zeros(1)
    predicted = ols_slope(predicted_curve(prediction))
    bias, tolerance = _slope_bias_and_tolerance(spec, prediction, m.batch)
    return _exact_or_t(
        "mean_field_slope",
        spec,
        slopes,
        predicted,
        bias=bias,
        tolerance=tolerance,
        alpha=alpha,
        what="per-seed log-norm slopes",
    )


def stability_margin(spec: Spec) -> float:
    """Per-layer slope margin of the stability claim: total growth within a factor 2."""
    return math.log(2.0) / max(1, spec.n_sites - 1)


@claim(
    "stable_gradients",
    "||dL/dh_l|| stays within a factor 2 across all layers: the per-layer log-norm slope "
    "lies in (-ln 2/(L-1), ln 2/(L-1)) (equivalence test, TOST).",
    "He et al. 2015 (variance preservation); Schuirmann 1987 (TOST)",
)
def stable_gradients(spec: Spec, m: Measurement, alpha: float) -> Verdict:
    """TOST on per-seed slopes: equivalence to 0 within the stability margin."""
    slopes = stats.fit_slopes(log_norms(m))
    margin = stability_margin(spec)
    finite = slopes[np.isfinite(slopes)]
    if finite.size >= 2 and np.ptp(finite) < 1e-12:
        return _exact_or_t(
            "stable_gradients",
            spec,
            slopes,
            0.0,
            bias=0.0,
            tolerance=margin,
            alpha=alpha,
            what="per-seed log-norm slopes",
        )
    if finite.size < 2:
        return _exact_or_t(
            "stable_gradients",
            spec,
            slopes,
            0.0,
            bias=0.0,
            tolerance=margin,
            alpha=alpha,
            what="per-seed log-norm slopes",
        )
    return _tost_verdict(
        "stable_gradients",
        spec,
        finite,
        0.0,
        margin,
        alpha,
        method=f"TOST across seeds, margin +-{margin:.3g} per layer",
    )


def _tost_verdict(
    name: str,
    spec: Spec,
    values: np.ndarray,
    predicted: float,
    margin: float,
    alpha: float,
    *,
    method: str,
    note: str = "",
) -> Verdict:
    """Equivalence test of ``mean(values)`` in ``predicted +- margin`` as a Verdict."""
    r = stats.tost(values, predicted - margin, predicted + margin, alpha=alpha)
    lo, hi = r.confidence_interval()
    return _verdict(
        name,
        spec,
        predicted=predicted,
        measured=r.estimate,
        statistic=r.statistic,
        pvalue=r.pvalue,
        ci=(lo, hi),
        alpha=alpha,
        passed=r.passed,
        effect=(r.estimate - predicted) / margin,
        n=r.n,
        method=method,
        note=note,
    )


def classify(m: Measurement, spec: Spec, alpha: float = 0.01) -> str:
    """``"stable"``, ``"vanishing"``, ``"exploding"`` or ``"inconclusive"`` for a measurement.

    Stable when the TOST of :func:`stable_gradients` passes; vanishing (exploding) when
    the upper (lower) ``1 - alpha`` confidence bound of the per-layer growth towards the
    input is below ``-margin`` (above ``+margin``). The TOST runs at
    :data:`EQUIVALENCE_ALPHA` (or ``alpha`` if larger).
    """
    slopes = stats.fit_slopes(log_norms(m))
    finite = slopes[np.isfinite(slopes)]
    if finite.size < slopes.size / 2:
        return "exploding" if np.isinf(m.act_grad_norms).any() else "inconclusive"
    margin = stability_margin(spec)
    if finite.size >= 2 and np.ptp(finite) < 1e-12:
        growth = -float(finite.mean())
        return "stable" if abs(growth) < margin else ("vanishing" if growth < 0 else "exploding")
    verdict = stable_gradients(spec, m, max(alpha, EQUIVALENCE_ALPHA))
    if verdict.passed:
        return "stable"
    r = stats.slope_test(finite, 0.0, alpha=alpha)
    lo, hi = r.confidence_interval(1 - alpha)
    # slope vs layer index > 0 means the norm shrinks towards the input: vanishing
    if lo > margin:
        return "vanishing"
    if hi < -margin:
        return "exploding"
    return "inconclusive"


@claim(
    "finite_width_variance",
    "For a ReLU net with Gaussian He weights, Var over networks of ln(||dL/dh_1||^2/"
    "||dL/dh_L||^2) equals the exact finite-width law (about 5 * sum 1/n_l).",
    "Hanin 2018; Hanin & Nica 2020 (docs/theory.md §2.2)",
)
def finite_width_variance(spec: Spec, m: Measurement, alpha: float) -> Verdict:
    """Chi-square test of the variance of the log squared-norm ratio across seeds."""
    if not (
        isinstance(spec, MLPSpec)
        and spec.activation == "relu"
        and spec.norm is None
        and spec.init == "he_normal"
        and bias_variance(spec) == 0.0
        and abs(weight_variance(spec) - 2.0) < 1e-12
    ):
        raise InvalidArgument(
            "finite_width_variance holds for MLPSpec(activation='relu', init='he_normal', "
            f"sigma_b2=0, norm=None) only, got {spec!r}"
        )
    logs = 2.0 * log_norms(m)
    ratio = logs[:, 0] - logs[:, -1]
    law = theory.relu_log_norm_law([spec.width] * (spec.depth - 1))
    predicted_var = float(law[1])
    r = stats.variance_test(ratio, predicted_var, alpha=alpha)
    lo, hi = r.confidence_interval(1 - alpha)
    return _verdict(
        "finite_width_variance",
        spec,
        predicted=predicted_var,
        measured=r.estimate,
        statistic=r.statistic,
        pvalue=r.pvalue,
        ci=(lo, hi),
        alpha=alpha,
        passed=r.passed,
        effect=r.ratio - 1.0,
        n=r.n,
        method="chi-square test of the variance across seeds",
    )


def jacobian_check(
    spec: MLPSpec,
    seeds: int = 8,
    alpha: float = 0.01,
    seed: int = 0,
    rel_tol: float = 0.25,
    device: str = "cpu",
) -> tuple[Verdict, np.ndarray]:
    """Normalised spectral variance m2/m1^2 - 1 of J J^T vs free probability (docs/theory.md §3).

    Equivalence test across seeds with margins ``predicted * (1 +- rel_tol)`` plus an
    absolute margin ``0.05 * depth`` for the O(L/N) finite-width correction.
    Returns the verdict and the eigenvalues (``[seeds, width]``).
    """
    from gradbench.probe import jacobian_eigenvalues

    eig = jacobian_eigenvalues(spec, seeds=seeds, device=device, seed=seed)
    per_seed = (eig**2).mean(axis=1) / eig.mean(axis=1) ** 2 - 1.0
    weights: Literal["gaussian", "orthogonal"] = (
        "orthogonal" if spec.init.startswith("orthogonal") else "gaussian"
    )
    predicted = float(
        theory.jacobian_normalized_variance(
            spec.activation, weight_variance(spec), bias_variance(spec), spec.depth, weights=weights
        )
    )
    margin = rel_tol * predicted + 0.05 * spec.depth * spec.depth / spec.width
    name = "jacobian_spectrum"
    if np.ptp(per_seed) < 1e-12:
        verdict = _exact_or_t(
            name,
            spec,
            per_seed,
            predicted,
            bias=0.0,
            tolerance=margin,
            alpha=alpha,
            what="normalised spectral variance",
        )
        return verdict, eig
    verdict = _tost_verdict(
        name,
        spec,
        per_seed,
        predicted,
        margin + 1e-12,
        alpha,
        method=f"TOST across seeds, margin +-{margin:.3g}",
        note=f"{weights} weights",
    )
    return verdict, eig


claim(
    "jacobian_spectrum",
    "The normalised variance of the spectrum of J J^T equals L (mu2/mu1^2 - 1 - s1): "
    "orthogonal weights reach near-isometry with tanh at small q*, ReLU cannot.",
    "Pennington, Schoenholz & Ganguli 2017 (docs/theory.md §3)",
    needs_measurement=False,
)(lambda spec, m, alpha: jacobian_check(spec, alpha=alpha)[0])


def check(
    spec: Spec,
    claim: str = "mean_field_slope",
    seeds: int = 32,
    batch: int = 64,
    alpha: float = 0.01,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    measurement: Measurement | None = None,
) -> Verdict:
    """Check one registered claim on ``spec``: measure (unless given), predict, test.

    Args:
        spec: the network family.
        claim: a registered claim name (``gradbench.check.CLAIMS``).
        seeds, batch, device, dtype, seed: passed to :func:`gradbench.measure`.
        alpha: pre-registered significance level of this single test (correct for
            multiplicity across claims with :func:`gradbench.stats.holm`).
        measurement: reuse an existing measurement of ``spec``.

    Returns:
        A :class:`~gradbench.records.Verdict`.

    Raises:
        InvalidArgument: unknown claim, bad arguments, or a spec outside the claim's
            validity domain (theory has no prediction for it).
    """
    entry = get_claim(claim)
    if not 0.0 < alpha < 0.5:
        raise InvalidArgument(f"alpha={alpha!r} is invalid: must be in (0, 0.5)")
    if entry.needs_measurement and measurement is None:
        from gradbench.probe import measure

        measurement = measure(spec, seeds=seeds, batch=batch, device=device, dtype=dtype, seed=seed)
    return entry.evaluate(spec, measurement, alpha)


def measurement_summary(m: Measurement) -> dict[str, Any]:
    """Per-layer growth factor with CI across seeds, for reports and validation tables."""
    slopes = stats.fit_slopes(log_norms(m))
    finite = slopes[np.isfinite(slopes)]
    if finite.size < 2:
        return {"growth_per_layer": math.nan, "ci": (math.nan, math.nan), "n": int(finite.size)}
    r = stats.slope_test(finite, 0.0)
    lo, hi = r.confidence_interval(0.95)
    return {
        "growth_per_layer": math.exp(-r.estimate),
        "ci": (math.exp(-hi), math.exp(-lo)),
        "n": r.n,
    }


def explain(verdict: Verdict) -> str:
    """One-line account of a verdict: predicted vs measured with CI and p-value."""
    return (
        f"{verdict.claim}: predicted {verdict.predicted:.5g}, measured {verdict.measured:.5g}"
        f" CI [{verdict.ci_low:.5g}, {verdict.ci_high:.5g}], p={verdict.pvalue:.3g},"
        f" alpha={verdict.alpha:.3g}; {verdict.note}"
    )
