"""Claims about whole networks: theory vs measurement, and stability with depth.

The independent unit is the network (seed): per-seed statistics first, then a test
across seeds (:mod:`gradbench.stats`). Sites are the probe sites of a spec (layers,
residual blocks or time steps); "growth towards the input" of the gradient norm is
``ln ||dL/ds_l|| - ln ||dL/ds_{l+1}||``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradbench import stats, theory
from gradbench.claims._registry import EQUIVALENCE_ALPHA, claim
from gradbench.claims._verdicts import equivalence, t_test, verdict
from gradbench.errors import InvalidArgument
from gradbench.records import Measurement, Prediction, Verdict
from gradbench.specs import MLPSpec, ResidualSpec, Spec, bias_variance, weight_variance

MODEL_ERROR = 2.0
"""Allowed mean-field model error of the per-layer log-norm slope, in units of 1/width.

Mean field is exact only at infinite width; at width n the mean per-layer log growth
deviates by O(1/n) (docs/theory.md §1.1, §2.2: -5/(4n) for one example through ReLU). Where
theory gives the bias exactly (ReLU, Gaussian weights, one example) it is subtracted and
no band is used; elsewhere the null is |deviation| <= MODEL_ERROR / n. Measured at width
1024, depth 20, 16 seeds, batch 32 (``tests/quality/test_power.py``): |deviation| * n
stays below 1.1 for relu, tanh, erf, selu, sigmoid and linear nets.
"""
STABLE_GROWTH = 1.1
"""A network is stable when its geometric-mean gradient growth per layer lies in
(1/STABLE_GROWTH, STABLE_GROWTH): at depth 30 the end-to-end factor then stays within
1.1^29 ~ 16, while every ordered or chaotic initialization (ReLU + Xavier: 0.71 per
layer; PyTorch's default: 0.41; N(0, 6/fan_in) + ReLU: 1.73) is outside and every
critical or near-critical one inside (He + ReLU: 1; Xavier + tanh: 0.94, a polynomial
decay; SELU + LeCun: 1.035; Mish + He: 0.94)."""
STABLE_DEPTH = 30
"""Depth of the standard stability settings (width 128: the ReLU finite-width bias,
-5/(8 width) per layer, is 7% of the margin)."""


def log_norms(m: Measurement) -> np.ndarray:
    """``[seeds, sites]`` natural log of ``||dL/d site||`` (NaN where not finite or zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(m.act_grad_norms)
    out[~np.isfinite(out)] = np.nan
    return out


def growth_per_layer(m: Measurement) -> np.ndarray:
    """Per seed, the mean log growth per layer towards the input, ``(ln g_1 - ln g_L)/(L-1)``."""
    logs = log_norms(m)
    return (logs[:, 0] - logs[:, -1]) / max(1, logs.shape[1] - 1)


def _representative(target: Any) -> Spec:
    """A small spec with remedy ``target`` in its slot, to ask theory about the remedy."""
    if isinstance(target, (MLPSpec, ResidualSpec)) or hasattr(target, "family"):
        return target  # type: ignore[no-any-return]
    slot = {"activation": "activation", "initializer": "init", "normalization": "norm"}
    if target.kind == "residual":
        return ResidualSpec(depth=4, width=64, branch_scale=target.label)
    if target.kind in slot:
        return MLPSpec(depth=4, width=64, **{slot[target.kind]: target.label})
    raise InvalidArgument(f"{target.kind}s do not change gradients at initialization")


def _has_prediction(target: Any) -> str | None:
    spec = _representative(target)
    prediction = theory.predict(spec)
    return None if prediction.log_growth is not None else prediction.reason


def _mean_field_domain(target: Any) -> str | None:
    if not hasattr(target, "family"):
        return _has_prediction(target)
    prediction = theory.predict(target)
    return None if prediction.valid else prediction.reason


def _bias_and_tolerance(spec: Spec, prediction: Prediction, batch: int) -> tuple[float, float]:
    """Known finite-width bias of the per-seed growth (batch 1, ReLU), else the model-error band."""
    bias = prediction.quantities.get("finite_width_bias")
    if batch == 1 and isinstance(bias, (int, float)) and math.isfinite(bias):
        return float(bias), 0.0
    return 0.0, MODEL_ERROR / spec.n_features


@claim(
    "mean_field_slope",
    statement="The mean per-layer log growth of ||dL/dh_l|| towards the input equals the "
    "mean-field prediction (chi_1 trajectory; residual and RNN growth; normalization rates).",
    statistic="per-seed (ln ||dL/ds_1|| - ln ||dL/ds_L||)/(L-1), the end-to-end gradient ratio "
    "per layer; two-sided t-test across seeds against the mean predicted log growth, with "
    "the exact ReLU finite-width bias at batch 1 and a model-error band of 2/width otherwise",
    domain="theory.predict(spec).valid: width >= 32, i.i.d. or orthogonal weights, "
    "normalizations with declared statistics, vanilla RNN cells",
    source="Poole et al. 2016; Schoenholz et al. 2017; Yang & Schoenholz 2017; Pascanu et "
    "al. 2013; Yang et al. 2019 (docs/theory.md §1, §4, §5, §6)",
    subjects=("network", "activation", "initializer", "normalization", "residual"),
    role="theory",
    measure="gradbench.claim_probes:network",
    applies=_mean_field_domain,
)
def mean_field_slope(spec: Spec, m: Measurement, alpha: float, **config: Any) -> Verdict:
    """Per-seed mean log growth per layer, t-tested against the mean predicted log growth.

    The end-to-end ratio is the efficient estimator of a random walk's drift: its per-seed
    spread is about 0.7 of the least-squares slope's, and it is the quantity a user meets
    (how much of the gradient reaches the input).
    """
    prediction = theory.predict(spec, batch=m.batch)
    if not prediction.valid or prediction.log_growth is None:
        raise InvalidArgument(f"no prediction for {spec!r}: {prediction.reason}")
    growth = np.asarray(prediction.log_growth, dtype=float)
    predicted = float(growth.mean()) if growth.size else 0.0
    measured = growth_per_layer(m) if m.act_grad_norms.shape[1] > 1 else np.zeros(1)
    bias, tolerance = _bias_and_tolerance(spec, prediction, m.batch)
    return t_test("mean_field_slope", spec, {}, measured, predicted, alpha=alpha,
                  what="per-seed mean ln-growth per layer", bias=bias, tolerance=tolerance)


@claim(
    "stable_gradients",
    statement="The gradient norm neither vanishes nor explodes: its geometric-mean growth "
    f"per layer towards the input lies in (1/{STABLE_GROWTH}, {STABLE_GROWTH}).",
    statistic="per-seed (ln ||dL/dh_1|| - ln ||dL/dh_L||)/(L-1); TOST across seeds with "
    f"margins +-ln {STABLE_GROWTH}",
    domain="any network with at least 2 sites; the standard settings use depth "
    f"{STABLE_DEPTH}, width 128, 16 networks of 16 examples",
    source="Glorot & Bengio 2010; He et al. 2015; Schuirmann 1987 (TOST)",
    subjects="network",
    role="stability",
    measure="gradbench.claim_probes:network",
    applies=lambda s: None if not hasattr(s, "n_sites") or s.n_sites >= 2 else "one site",
    alpha=EQUIVALENCE_ALPHA,
)
def stable_gradients(spec: Spec, m: Measurement, alpha: float, **config: Any) -> Verdict:
    """TOST: the mean per-layer log growth is within +-ln 1.1 of 0."""
    return equivalence("stable_gradients", spec, {}, growth_per_layer(m), 0.0,
                       math.log(STABLE_GROWTH), alpha=alpha,
                       what="per-seed mean ln-growth per layer towards the input")


def classify(m: Measurement, alpha: float = 0.05) -> str:
    """``"stable"``, ``"vanishing"``, ``"exploding"`` or ``"inconclusive"`` for a measurement.

    Stable when :func:`stable_gradients` passes at ``alpha``; vanishing (exploding) when
    the ``1 - alpha`` interval of the per-layer growth lies below 1/1.1 (above 1.1).
    """
    g = growth_per_layer(m)
    finite = g[np.isfinite(g)]
    if finite.size < g.size / 2 or finite.size < 2:
        return "exploding" if np.isinf(m.act_grad_norms).any() else "inconclusive"
    margin = math.log(STABLE_GROWTH)
    lo, hi = (finite.min(), finite.max()) if np.ptp(finite) < 1e-12 else tuple(
        stats.slope_test(finite, 0.0, alpha=alpha).confidence_interval(1 - 2 * alpha))
    if -margin < lo and hi < margin and finite.size == g.size:
        return "stable"
    if hi < -margin:
        return "vanishing"
    if lo > margin:
        return "exploding"
    return "inconclusive"


def _finite_width_domain(spec: Any) -> str | None:
    from gradbench import registry

    if not isinstance(spec, MLPSpec):
        return "the exact finite-width law is for MLPSpec (ReLU, Gaussian He weights)"
    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    ok = (spec.activation == "relu" and spec.norm is None and dist == "normal"
          and bias_variance(spec) == 0.0 and abs(weight_variance(spec) - 2.0) < 1e-12)
    return None if ok else (
        "finite_width_variance holds for ReLU MLPs with Gaussian He weights, no biases and "
        f"no normalization only, got {spec!r}")


@claim(
    "finite_width_variance",
    statement="For a ReLU net with Gaussian He weights, the variance over networks of "
    "ln(||dL/dh_1||^2/||dL/dh_L||^2) equals the exact finite-width law (about 5 sum 1/n_l).",
    statistic="chi-square test of the sample variance across seeds (one example per net)",
    domain="MLPSpec, relu, Gaussian weights of variance 2/fan_in, sigma_b2 = 0, no norm, batch 1",
    source="Hanin 2018; Hanin & Nica 2020 (docs/theory.md §2.2)",
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:network",
    applies=_finite_width_domain,
)
def finite_width_variance(spec: MLPSpec, m: Measurement, alpha: float,
                          **config: Any) -> Verdict:
    """Chi-square test of the variance of the log squared-norm ratio across seeds."""
    logs = 2.0 * log_norms(m)
    ratio = logs[:, 0] - logs[:, -1]
    predicted_var = float(theory.relu_log_norm_law([spec.width] * (spec.depth - 1))[1])
    r = stats.variance_test(ratio, predicted_var, alpha=alpha)
    lo, hi = r.confidence_interval(1 - alpha)
    return verdict("finite_width_variance", spec, {}, predicted=predicted_var,
                    measured=r.estimate, statistic=r.statistic, pvalue=r.pvalue, ci=(lo, hi),
                    alpha=alpha, passed=r.passed, effect=r.ratio - 1.0, n=r.n,
                    method="chi-square test of the variance across seeds")


def _jacobian_weights(spec: MLPSpec) -> str:
    from gradbench import registry

    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    return "orthogonal" if dist == "orthogonal" else "gaussian"


def _jacobian_domain(spec: Any) -> str | None:
    from gradbench import registry

    if not isinstance(spec, MLPSpec) or spec.norm is not None:
        return "the free-probability spectrum is derived for plain MLPs"
    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    if dist not in ("normal", "uniform", "orthogonal"):
        return f"initializer {spec.init!r} has distribution {dist!r}, not random weights"
    return None


@claim(
    "jacobian_spectrum",
    statement="The normalised variance m2/m1^2 - 1 of the spectrum of J J^T equals "
    "L (mu2/mu1^2 - 1 - s1): orthogonal weights reach near-isometry with tanh at small q*, "
    "ReLU cannot.",
    statistic="per-seed normalised spectral variance; TOST across seeds with margins "
    "predicted*(1 +- 0.25) + 0.05 L^2/N (the O(L/N) finite-width correction)",
    domain="MLPSpec without normalization, random (Gaussian or orthogonal) weights, inputs "
    "at the fixed point, depth/width <= 0.05",
    source="Pennington, Schoenholz & Ganguli 2017 (docs/theory.md §3)",
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:jacobian",
    applies=_jacobian_domain,
    alpha=EQUIVALENCE_ALPHA,
)
def jacobian_spectrum(spec: MLPSpec, eig: np.ndarray, alpha: float, rel_tol: float = 0.25,
                      **config: Any) -> Verdict:
    """Equivalence test of the per-seed normalised spectral variance against free probability."""
    per_seed = (eig**2).mean(axis=1) / eig.mean(axis=1) ** 2 - 1.0
    weights = _jacobian_weights(spec)
    predicted = float(theory.jacobian_normalized_variance(
        spec.activation, weight_variance(spec), bias_variance(spec), spec.depth,
        weights=weights))  # type: ignore[arg-type]
    margin = rel_tol * predicted + 0.05 * spec.depth * spec.depth / spec.width
    return equivalence("jacobian_spectrum", spec, {}, per_seed, predicted, margin + 1e-12,
                       alpha=alpha, what="normalised spectral variance",
                       note=f"{weights} weights")


__all__ = [
    "MODEL_ERROR", "STABLE_DEPTH", "STABLE_GROWTH", "classify",
    "growth_per_layer", "log_norms",
]
