"""Claims about whole networks: theory vs measurement, and stability with depth.

The independent unit is the network (seed): per-seed statistics first, then a test
across seeds (:mod:`gradbench.stats`). Sites are the probe sites of a spec (layers,
residual blocks or time steps); growth of the gradient norm is measured by
:func:`gradbench.stats.gradient_growth`: per network, ``ln ||dL/ds_1|| - ln ||dL/ds_L||``
over the L - 1 steps of depth L.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from gradbench import registry, stats, theory
from gradbench.claims._registry import EQUIVALENCE_ALPHA, claim
from gradbench.claims._verdicts import equivalence, exact, t_test, verdict
from gradbench.errors import InvalidArgument
from gradbench.records import Measurement, Prediction, Verdict
from gradbench.specs import MLPSpec, Spec, bias_variance, spec_types, weight_variance

MODEL_ERROR = 2.0
"""Allowed mean-field model error of the per-layer log-norm slope, in units of 1/width.

Mean field is exact only at infinite width; at width n the mean per-layer log growth
deviates by O(1/n) (docs/theory.md §1.1, §2.2: -5/(4n) for one example through ReLU). Where
theory gives the bias exactly (ReLU, Gaussian weights, one example) it is subtracted and
no band is used; elsewhere the null is |deviation| <= MODEL_ERROR / n. Measured at width
1024, depth 20, 16 seeds, batch 32 (``tests/quality/test_power.py``): |deviation| * n
stays below 1.1 for relu, tanh, erf, selu, sigmoid and linear nets.
"""
STABLE_DEPTH = 30
"""Depth of the standard stability settings when no ``depth`` is given (``--depth``)."""


def growth_of(spec: Spec, m: Measurement, confidence: float = stats.GROWTH_CONFIDENCE
              ) -> stats.GradientGrowth:
    """The measured gradient growth of ``m`` (:func:`gradbench.stats.gradient_growth`), in the
    spec's unit (``layer``; ``step`` for RNNs)."""
    return stats.gradient_growth(m.act_grad_norms, confidence=confidence,
                                 unit=spec.info.per_site.lstrip("/"))


def growth_per_layer(m: Measurement) -> np.ndarray:
    """Per seed, the mean log growth per step towards the input, ``(ln g_1 - ln g_L)/(L-1)``."""
    return stats.log_ratios(m.act_grad_norms) / max(1, m.act_grad_norms.shape[1] - 1)


def _representative(target: Any) -> Spec:
    """A small spec with remedy ``target`` in its slot, to ask theory about the remedy."""
    if hasattr(target, "family"):  # a spec already
        return target  # type: ignore[no-any-return]
    info = registry.REMEDY_KINDS[target.kind]
    if info.slot is None:
        raise InvalidArgument(f"{target.kind}s do not change gradients at initialization")
    cls = spec_types()[info.family]
    return cls(depth=4, width=64, **{info.slot: target.label})  # type: ignore[call-arg,return-value]


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
    """Known finite-width drift of the per-seed growth (:func:`gradbench.theory.finite_width_drift`:
    batch 1, ReLU), else the model-error band."""
    drift = theory.finite_width_drift(prediction, batch)
    if drift is not None:
        return drift, 0.0
    return 0.0, MODEL_ERROR / spec.n_features


@claim(
    "mean_field_slope",
    statement="The mean per-layer log growth of ||dL/dh_l|| towards the input equals the "
    "mean-field prediction (chi_1 trajectory; residual and RNN growth; normalization rates).",
    statistic="per-seed (ln ||dL/ds_1|| - ln ||dL/ds_L||)/(L-1), the end-to-end gradient ratio "
    "per layer; two-sided t-test across seeds against the mean predicted log growth, with "
    "the exact ReLU finite-width bias at batch 1 and a model-error band of 2/width otherwise",
    domain="theory.predict(spec).valid: width (channels for CNNs) >= 32, i.i.d. or orthogonal "
    "weights, normalizations with declared statistics, vanilla RNN cells; 1-D, 2-D and "
    "residual 2-D CNNs with circular padding, i.i.d. kernels and no BatchNorm; 2-D CNNs with "
    "BatchNorm2d and 1 x 1 kernels (the BatchNorm MLP at batch B H W)",
    source="Poole et al. 2016; Schoenholz et al. 2017; Yang & Schoenholz 2017; Pascanu et "
    "al. 2013; Yang et al. 2019; Xiao et al. 2018 (docs/theory.md §1, §4, §5, §6, §11.3)",
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
    statement="The gradient norm neither vanishes nor explodes at the network's depth: the "
    f"end-to-end ratio ||dL/ds_1|| / ||dL/ds_L|| over its L - 1 steps lies in "
    f"(1/{stats.STABLE_WITHIN:g}, {stats.STABLE_WITHIN:g}).",
    statistic="per-seed ln ||dL/ds_1|| - ln ||dL/ds_L||; TOST across seeds with margins "
    f"+-ln {stats.STABLE_WITHIN:g} (docs/theory.md §9.2)",
    domain="any network with at least 2 sites; the standard settings use depth "
    f"{STABLE_DEPTH} (or --depth), width max(128, 4 depth), 16 networks of 16 examples",
    source="Glorot & Bengio 2010; He et al. 2015; Hanin & Rolnick 2018; Schuirmann 1987 (TOST)",
    subjects="network",
    role="stability",
    measure="gradbench.claim_probes:network",
    applies=lambda s: None if not hasattr(s, "n_sites") or s.n_sites >= 2 else "one site",
    alpha=EQUIVALENCE_ALPHA,
)
def stable_gradients(spec: Spec, m: Measurement, alpha: float, **config: Any) -> Verdict:
    """TOST: the mean end-to-end log ratio is within +-ln K of 0 (K = stats.STABLE_WITHIN)."""
    growth = growth_of(spec, m, confidence=1.0 - 2.0 * alpha)
    v = equivalence("stable_gradients", spec, {}, stats.log_ratios(m.act_grad_norms), 0.0,
                    math.log(stats.STABLE_WITHIN), alpha=alpha,
                    what="per-seed end-to-end ln ratio of the gradient norm towards the input",
                    note=growth.words)
    return dataclasses.replace(v, growth=growth.to_dict())


REFERENCE_RTOL = 1e-10
"""Relative tolerance of :func:`probe_equals_reference` (float64 on both sides)."""


@claim(
    "probe_equals_reference",
    statement="The batched probe measures what the family's torch.nn reference module "
    "computes: per-site gradient norms, pre-activation second moments and per-site "
    "weight-gradient norms are equal on the same networks.",
    statistic=f"largest relative difference over seeds, sites and quantities, in units of "
    f"{REFERENCE_RTOL:g} (float64 on both sides)",
    domain="every registered family; float64; RNN weight-gradient norms are not compared "
    "(nn.RNNCell hides the per-step contributions the probe reports)",
    source="the naive per-network loop of docs/design.md §5 (autograd through torch.nn)",
    subjects="network",
    role="consistency",
    measure="gradbench.claim_probes:reference_pair",
    standard=False,
    exact=True,
)
def probe_equals_reference(spec: Spec, data: dict[str, Measurement], alpha: float,
                           **config: Any) -> Verdict:
    """max |probe - reference| / |reference| over every compared entry, against 1e-10."""
    probe, ref = data["probe"], data["reference"]
    pairs = [(probe.act_grad_norms, ref.act_grad_norms),
             (probe.preact_second_moment, ref.preact_second_moment)]
    if not np.isnan(ref.weight_grad_norms).all():
        pairs.append((probe.weight_grad_norms, ref.weight_grad_norms))
    worst = 0.0
    for a, b in pairs:
        if a.shape != b.shape:
            worst = math.inf
            break
        relative = np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)
        worst = max(worst, float(np.max(relative, initial=0.0)) / REFERENCE_RTOL)
    if not math.isfinite(worst):
        worst = math.inf  # a shape mismatch, or NaN where the other side is finite
    return exact("probe_equals_reference", spec, {}, predicted=0.0,
                 measured=worst * REFERENCE_RTOL, worst=worst, alpha=alpha,
                 n=int(ref.act_grad_norms.shape[0]),
                 tolerance=f"relative difference <= {REFERENCE_RTOL:g}",
                 note="" if worst <= 1 else "the batched probe differs from the torch.nn "
                 "reference: a bug in the family's stacked forward or its weight gradients")


GATE_MODEL_ERROR = 0.15
"""Allowed mean-field error of the mean carry gate, in units of 1/hidden.

At t = 1 the gate's pre-activation is exactly N(b, v) given the input and h_0; later steps
see states that depend on the same weights. Measured at hidden 32 and 128, 20 steps, 16
networks of 16 examples, LSTM and GRU, orthogonal, Xavier and torch-default weights,
forget bias 0, 1, 3: |deviation| * hidden <= 0.083 (GRU, Xavier, hidden 32)."""


def _carry_gate_domain(spec: Any) -> str | None:
    from gradbench.specs import CELL_KINDS, RNNSpec

    if not isinstance(spec, RNNSpec) or CELL_KINDS[spec.cell].carry_gate is None:
        return "the carry gate is a gated cell's (RNNSpec with cell lstm or gru)"
    if spec.hidden < 32:
        return f"hidden={spec.hidden} < 32: the gate's pre-activation is not near Gaussian"
    return None


@claim(
    "carry_gate_mean",
    statement="At initialization the carry gate of a gated cell (LSTM forget gate f, GRU "
    "update gate z) has mean E sigma(b + sqrt(v) z), b the forget bias and v its "
    "pre-activation variance from the declared weight and bias variances: the per-step "
    "factor of the LSTM cell-state path and the share of h_{t-1} a GRU keeps.",
    statistic="per network, the mean over steps and examples of (mean gate over units - "
    "E sigma(b + sqrt(v) z)) with v from that step's |x_t|^2 and |h_{t-1}|^2; two-sided "
    f"t-test across networks, within a mean-field band of {GATE_MODEL_ERROR:g}/hidden",
    domain="RNNSpec, lstm or gru, hidden >= 32, i.i.d. or orthogonal recurrent blocks",
    source="Hochreiter & Schmidhuber 1997; Cho et al. 2014; Gers et al. 2000 and "
    "Jozefowicz et al. 2015 (forget bias); Chen, Pennington & Schoenholz 2018 (mean field); "
    "docs/theory.md §5.5",
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:carry_gates",
    applies=_carry_gate_domain,
)
def carry_gate_mean(spec: Any, data: dict[str, np.ndarray], alpha: float,
                    **config: Any) -> Verdict:
    """t-test of the per-network mean of gate - E sigma(b + sqrt(v) z) against 0."""
    expect = np.vectorize(lambda v: theory.carry_gate_mean(spec.forget_bias, float(v)))
    predicted = expect(data["v"])
    deviation = (data["gate"] - predicted).mean(axis=(1, 2))
    v = t_test("carry_gate_mean", spec, {}, deviation, 0.0, alpha=alpha,
               what="per-network mean deviation of the carry gate from E sigma(b + sqrt(v) z)",
               tolerance=GATE_MODEL_ERROR / spec.hidden)
    words = (f"mean carry gate {float(data['gate'].mean()):.4f}, theory "
             f"{float(predicted.mean()):.4f} (forget bias {spec.forget_bias:g})")
    return dataclasses.replace(v, note="; ".join(filter(None, [words, v.note])))


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
    ratio = 2.0 * stats.log_ratios(m.act_grad_norms)
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
    from gradbench.specs import Conv1DSpec

    meta = registry.lookup("initializer", spec.init).meta if hasattr(spec, "init") else {}
    if isinstance(spec, Conv1DSpec) and meta.get("kernel") == "delta":
        return None if meta.get("distribution") == "orthogonal" else (
            f"initializer {spec.init!r} has delta kernels that are not orthogonal")
    if not isinstance(spec, MLPSpec) or spec.norm is not None:
        return ("the free-probability spectrum is derived for plain MLPs (and delta-orthogonal "
                "1-D CNNs, an MLP per position)")
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
    "at the fixed point, depth/width <= 0.05; a Conv1DSpec with delta-orthogonal kernels "
    "(block-diagonal Jacobian: an orthogonal MLP of width C per position, depth/C <= 0.05)",
    source="Pennington, Schoenholz & Ganguli 2017 (docs/theory.md §3); Xiao et al. 2018 "
    "(docs/theory.md §11.1)",
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
    margin = rel_tol * predicted + 0.05 * spec.depth * spec.depth / spec.n_features
    return equivalence("jacobian_spectrum", spec, {}, per_seed, predicted, margin + 1e-12,
                       alpha=alpha, what="normalised spectral variance",
                       note=f"{weights} weights")


__all__ = ["MODEL_ERROR", "STABLE_DEPTH", "growth_of", "growth_per_layer"]
