"""``predict(spec)``: a :class:`~gradbench.records.Prediction` for any spec, with its domain.

:func:`predict` dispatches to the function the spec class names in its
:class:`~gradbench.specs.FamilyInfo` (``predictor``): :func:`predict_mlp` here,
``predict_residual`` and ``predict_rnn`` in their theory modules. The pieces a family's
predictor is built from live here: :func:`no_prediction`, :func:`readonly`, the domain
checks (:func:`weights_issue`, :func:`norm_issue`, :func:`mean_field_issue`,
:func:`width_domain`, :data:`MIN_WIDTH`) and the chi trajectory :func:`mean_field_chain`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from gradbench import registry
from gradbench.errors import InvalidArgument, RemedyFailed
from gradbench.records import Prediction
from gradbench.specs import MLPSpec, Spec, bias_variance, spec_types, weight_variance
from gradbench.theory._activation import _Act, _is_identity, _moments, _relu_scale, _resolve
from gradbench.theory._finite_width import _check_width, relu_finite_width
from gradbench.theory._mean_field import _PHASE_TOL, _chi_at, _mean_field, q_trajectory
from gradbench.theory._normalization import normalization_statistics, normalizations_with_theory

Predictor = Callable[[Any, "int | None"], Prediction]

MIN_WIDTH = 32
"""Mean-field predictions are declared valid from this width (O(1/width) corrections)."""
BN_MIN_BATCH = 128
"""Large-batch BatchNorm rates are within ~0.3% of Monte Carlo from this batch
(docs/theory.md §6)."""
_RANDOM_WEIGHTS = ("normal", "uniform", "orthogonal")


def readonly(arr: np.ndarray) -> np.ndarray:
    """A float64 copy that cannot be written (predictions are cached and shared)."""
    out = np.array(arr, dtype=np.float64)
    out.setflags(write=False)
    return out


def no_prediction(spec: Any, reason: str, **fields: Any) -> Prediction:
    """``valid=False`` and no ``log_growth``, with the ``reason`` (theory does not apply)."""
    return Prediction(spec=spec.to_dict(), log_growth=None, valid=False, reason=reason, **fields)


def weights_issue(init: str, family: str) -> str | None:
    """Why an initializer is outside the theory (data-dependent, deterministic), or None."""
    remedy = registry.lookup("initializer", init)
    if remedy.meta.get("data_dependent"):
        return (
            f"initializer {init!r} is data-dependent (rescaled on a batch, e.g. LSUV), so its "
            f"weight variance is not known in advance and {family} theory does not apply"
        )
    if remedy.meta.get("centred") is False:
        return (
            f"initializer {init!r} draws weights with a non-zero mean; {family} theory "
            "assumes zero-mean weights"
        )
    dist = remedy.meta.get("distribution")
    if dist is not None and dist not in _RANDOM_WEIGHTS:
        return (
            f"initializer {init!r} draws deterministic weights (distribution {dist!r}); mean "
            "field averages over i.i.d. or Haar-random weights"
        )
    return None


def norm_issue(norm: str | None) -> str | None:
    """Why a normalization is outside the theory (it declares no ``statistics``), or None."""
    if norm is None or normalization_statistics(norm) is not None:
        return None
    return (
        f"normalization {norm!r} has no theory here: it declares no statistics (known: "
        f"{', '.join(normalizations_with_theory())}); registered user normalizations get no "
        "prediction unless they declare statistics='batch' or 'feature'"
    )


def width_domain(width: int, sites: int, name: str = "width") -> tuple[bool, str, str]:
    """(valid, domain text, reason) for a mean-field prediction at ``width`` (called ``name``
    in the texts: ``"channels"`` for CNNs)."""
    domain = (
        f"mean field ({name} -> infinity at fixed depth): valid for {name} >= {MIN_WIDTH}; "
        f"per-layer log growth then carries O(1/{name}) corrections (for ReLU given exactly in "
        "quantities['finite_width_bias']); statements about the whole depth (products, the "
        f"spread of log-norms across networks) also need depth <= {name}/4 (beta = "
        f"depth/{name}; Hanin & Rolnick 2018)"
    )
    if width < MIN_WIDTH:
        return False, domain, (
            f"{name}={width} < {MIN_WIDTH}: outside the mean-field domain, O(1/{name}) "
            "corrections are not small (log_growth is still given for reference)"
        )
    return True, domain, ""


def mean_field_chain(
    act: _Act, sw2: float, sb2: float, q1: float, depth: int
) -> tuple[np.ndarray, dict[str, Any], list[str]]:
    """Log growth between ``depth`` sites whose q follows the length map from ``q1``.

    The factor between sites l and l+1 is chi at q^l (docs/theory.md §1.1). Shared by every
    family whose layers are i.i.d. fan-in-scaled linear maps followed by phi.

    Returns:
        ``(log_growth, quantities, assumptions)``.
    """
    qs = q_trajectory(act, q1, sw2, sb2, depth)
    chis = np.array([_chi_at(act, sw2, float(q)) for q in qs[:-1]])
    with np.errstate(divide="ignore"):
        log_growth = 0.5 * np.log(chis)
    mf = _mean_field(act, sw2, sb2, q1, _PHASE_TOL)
    quantities = {
        "chi1": mf.chi1, "q_star": mf.q_star, "phase": mf.phase, "xi_q": mf.xi_q,
        "xi_c": mf.xi_c, "c_star": mf.c_star, "chi_c": mf.chi_c,
        "chi_per_layer": readonly(chis), "site_second_moment": readonly(qs),
    }
    assumptions = [
        _WEIGHTS_NOTE,
        "width -> infinity (mean field) with gradient independence (Schoenholz et al. 2017)",
        f"pre-activations follow the length map from q^1 = sigma_w2 * input_var + sigma_b2 "
        f"= {q1:.6g}; the factor between sites l and l+1 is chi at q^l",
        "ratio of expectations E||dL/dh^l||^2 / E||dL/dh^{l+1}||^2; the mean of logs differs "
        "by O(1/width)",
        "where the length map is nearly marginal away from its fixed point (GELU/SiLU at He "
        "init: slope near 1 at large q) finite-width fluctuations of q accumulate over layers "
        "and need larger widths (width 512, depth 20: measured q^20 several times the mean "
        "field; width 2048 agrees)",
    ]
    return log_growth, quantities, assumptions


_WEIGHTS_NOTE = (
    "weights i.i.d. with variance sigma_w2/fan_in (only the variance enters), or Haar "
    "orthogonal with the same scale"
)
MEAN_FIELD_SOURCE = ("Poole et al. 2016 (NeurIPS); Schoenholz et al. 2017 (ICLR); "
                     "docs/theory.md §1.1")


def mean_field_issue(spec: Any, theory: str, norm: str | None) -> str | None:
    """Why a feed-forward spec's weights or normalization are outside mean field, or None."""
    issue = weights_issue(spec.init, theory) or norm_issue(norm)
    if issue is None and weight_variance(spec) == 0.0:
        issue = (
            "sigma_w2=0: all weights are zero, so gradients below the top layer vanish "
            "identically (or the normalization divides by zero)"
        )
    return issue


def predict_mlp(spec: MLPSpec, batch: int | None) -> Prediction:
    """:class:`~gradbench.specs.MLPSpec`: the chi trajectory, or a normalization's rate."""
    issue = mean_field_issue(spec, "mean-field", spec.norm)
    if issue:
        return no_prediction(spec, issue)
    sw2, sb2 = weight_variance(spec), bias_variance(spec)
    act = _resolve(spec.activation)
    L, n = spec.depth, spec.width
    valid, domain, reason = width_domain(n, L)
    quantities: dict[str, Any] = {"sigma_w2": sw2, "sigma_b2": sb2, "beta": L / n}
    if spec.norm is not None:
        return _predict_normalized_mlp(
            spec, act, sw2, sb2, batch, valid, domain, reason, quantities
        )
    log_growth, chain, assumptions = mean_field_chain(
        act, sw2, sb2, sw2 * spec.input_var + sb2, L
    )
    quantities.update(chain)
    source = MEAN_FIELD_SOURCE
    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    if math.isfinite(_relu_scale(act)) and dist in ("normal", "uniform"):
        law = relu_finite_width(n)
        quantities["finite_width_bias"] = 0.5 * law.e_log
        quantities["finite_width_log_var"] = 0.25 * law.var_log
        assumptions.append(
            "finite_width_bias = E ln(||dL/dh^l|| / ||dL/dh^{l+1}||) - log_growth for one "
            "example (exact for Gaussian weights, docs/theory.md §2.2; uniform weights ~3% off); a "
            "batch Frobenius norm averages over examples and has a smaller bias"
        )
        source += "; Hanin 2018 (NeurIPS), Hanin & Nica 2020, docs/theory.md §2.2"
    return Prediction(
        spec=spec.to_dict(), log_growth=readonly(log_growth), valid=valid, reason=reason,
        assumptions=tuple(assumptions), domain=domain, source=source, quantities=quantities,
    )


def _predict_normalized_mlp(
    spec: MLPSpec, act: _Act, sw2: float, sb2: float, batch: int | None, valid: bool,
    domain: str, reason: str, quantities: dict[str, Any],
) -> Prediction:
    """Sites h^l with x^l = phi(norm(h^l)): factor sigma_w2 E[phi'^2] / s_l^2
    (docs/theory.md §6)."""
    L = spec.depth
    kind = normalization_statistics(str(spec.norm))
    std = _moments(act, 1.0)  # normalized pre-activations are N(0, 1)
    second = np.full(L, sw2 * std.phi2 + sb2)
    second[0] = sw2 * spec.input_var + sb2
    assumptions = [
        "width -> infinity; normalized pre-activations are standard normal; eps = 1e-5 of the "
        "normalization is negligible against the variance it divides by",
        "no affine parameters (identity at initialization)",
    ]
    if kind == "batch":
        first = std.dphi2 / spec.input_var  # s_1^2 = sigma_w2 * input_var (batch variance)
        if batch is not None and _is_identity(act):
            b = _check_width("batch", batch)
            if b < 4:
                return no_prediction(spec, f"batch={b} < 4: the BatchNorm gradient of a "
                                      "linear net has no finite expected rate", domain=domain)
            rate = (b - 2.0) / (b - 3.0)
            first = b * (b - 2.0) / ((b - 1.0) * (b - 3.0) * spec.input_var)
            assumptions.append(f"finite batch B={b}, identity activation: centred batch "
                               "vectors isotropic in B-1 dimensions, E[1/chi2_(B-1)] = 1/(B-3)")
        else:
            rate = std.dphi2 / (std.phi2 - std.phi**2)
            assumptions.append("large batch: BN divides by the batch variance, so "
                               "lambda = E[phi'^2]/Var[phi] (sigma_w and biases cancel)")
            if batch is not None and batch < BN_MIN_BATCH and not _is_identity(act):
                valid = False
                reason = (f"batch={batch} < {BN_MIN_BATCH}: finite-batch BatchNorm rates of "
                          "nonlinear activations have no closed form (docs/theory.md §6 "
                          "gives Monte "
                          "Carlo values only); the large-batch rate is given for reference")
        domain += (f"; BatchNorm: batch >= {BN_MIN_BATCH} for nonlinear activations (identity: "
                   "any batch >= 4 with predict(spec, batch=B)), and width >> batch (O(B/width) "
                   "corrections)")
        source = ("Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019 (ICLR), 'A Mean "
                  "Field Theory of Batch Normalization'; docs/theory.md §6")
    else:
        first = sw2 * std.dphi2 / (sw2 * spec.input_var + sb2)
        rate = sw2 * std.dphi2 / (sw2 * std.phi2 + sb2)
        assumptions.append("per-example feature statistics: the feature mean of h is ~0 at "
                           "large width, so LayerNorm and RMSNorm agree")
        source = "Ba et al. 2016 (LayerNorm); docs/theory.md §6 [derived]"
    factors = np.full(max(L - 1, 0), rate)
    if L > 1:
        factors[0] = first
    with np.errstate(divide="ignore"):
        log_growth = 0.5 * np.log(factors)
    quantities.update(rate=rate, chi_per_layer=readonly(factors),
                      site_second_moment=readonly(second))
    return Prediction(
        spec=spec.to_dict(), log_growth=readonly(log_growth), valid=valid, reason=reason,
        assumptions=tuple(assumptions), domain=domain, source=source, quantities=quantities,
    )


@functools.lru_cache(maxsize=64)
def _predictor(path: str) -> Predictor:
    """The function a spec class's ``info.predictor`` (``"module:function"``) names."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=512)
def _predict_cached(spec: Spec, batch: int | None, generation: int) -> Prediction:
    """``generation`` (of the registry) keys the cache: re-registering a name misses it."""
    ref = type(spec).info.predictor
    if ref is None:
        return no_prediction(spec, f"gradbench has no theory for the {spec.family!r} family")
    return (_predictor(ref) if isinstance(ref, str) else ref)(spec, batch)


def predict(spec: Spec, *, batch: int | None = None) -> Prediction:
    r"""What theory predicts for ``spec``: per-site log gradient growth and its domain.

    ``log_growth[l]`` is the predicted :math:`\ln(\|\partial L/\partial s_l\| /
    \|\partial L/\partial s_{l+1}\|)` for consecutive probe sites (a norm, not a squared
    norm: half the log of the squared-norm factor), of length ``n_sites - 1``:

    * :class:`~gradbench.specs.MLPSpec`: sites :math:`h^1..h^L` with :math:`q^1 = \sigma_w^2
      \cdot` input_var :math:`+ \sigma_b^2` and the layer-by-layer length map; the factor
      between sites l and l+1 is :math:`\chi` at :math:`q^l` (docs/theory.md §1.1; Poole et al.
      2016; Schoenholz et al. 2017). With BatchNorm/LayerNorm/RMSNorm it is
      :math:`\sigma_w^2 E\phi'(z)^2/s_l^2` (docs/theory.md §6; Yang et al. 2019), where
      :math:`s_l^2` is the variance the normalization divides by.
    * :class:`~gradbench.specs.ResidualSpec`: sites :math:`x_0..x_{L-1}` (docs/theory.md §4).
    * :class:`~gradbench.specs.RNNSpec`: sites :math:`h_1..h_T`, loss on :math:`h_T`
      (docs/theory.md §5); LSTM/GRU get no prediction.

    Each spec class names its predictor in its :class:`~gradbench.specs.FamilyInfo`
    (``predictor="module:function"``), so a new family brings its own theory module.

    ``quantities`` carries ``chi1``, ``q_star``, ``phase``, ``xi_q``, ``xi_c`` (MLP), the
    per-site squared-norm factors ``chi_per_layer``, the predicted ``site_second_moment``
    (what the probe records as ``preact_second_moment``), and for ReLU-like MLPs with
    i.i.d. weights ``finite_width_bias``, the exact per-layer offset of the mean log
    growth at that width for one example (docs/theory.md §2.2). Specs outside every domain
    (gated cells, a normalization without theory, data-dependent or deterministic
    initializers) get ``valid=False``, ``log_growth=None`` and a ``reason``; specs with
    width < :data:`MIN_WIDTH` get ``valid=False`` with the numbers kept for reference.
    Never raises for a valid spec: a numerical failure becomes ``valid=False``.

    Args:
        spec: a gradbench spec (``MLPSpec``, ``ResidualSpec``, ``RNNSpec``, ...).
        batch: batch size, used only by BatchNorm MLPs (``None``: the large-batch limit).

    Returns:
        A :class:`~gradbench.records.Prediction` (cached; its arrays are read-only, its
        ``quantities`` dict a fresh copy).

    Raises:
        InvalidArgument: ``spec`` is not a gradbench spec, or ``batch`` is not an int >= 1.

    Examples:
        >>> from gradbench.specs import MLPSpec
        >>> p = predict(MLPSpec(depth=4, width=256, activation="relu", init="he_normal"))
        >>> p.valid, [round(float(x), 12) for x in p.log_growth]
        (True, [0.0, 0.0, 0.0])
    """
    registered = spec_types()
    if registered.get(str(getattr(spec, "family", ""))) is not type(spec):
        known = ", ".join(cls.__name__ for cls in registered.values())
        raise InvalidArgument(f"spec={spec!r} must be a gradbench spec: one of {known}")
    if batch is not None:
        batch = _check_width("batch", batch)
    try:
        cached = _predict_cached(spec, batch, registry.generation())
        return dataclasses.replace(cached, quantities=dict(cached.quantities))
    except (ArithmeticError, ValueError, RuntimeError, TypeError, RemedyFailed) as exc:
        # RemedyFailed: a user's remedy returned NaN where theory called it; no prediction,
        # and the claims that measure it fail with that error
        return no_prediction(spec, f"theory failed numerically for this spec "
                              f"({type(exc).__name__}: {exc})")


def finite_width_drift(prediction: Prediction, batch: int) -> float | None:
    """Per-step offset of the measured mean log growth from ``prediction.log_growth`` that
    theory knows exactly, for a measurement of ``batch`` examples per network, else ``None``.

    For ReLU-like MLPs with i.i.d. weights and one example per network it is
    ``quantities["finite_width_bias"]`` = E ln(||dL/dh^l|| / ||dL/dh^{l+1}||) - log_growth,
    about -5/(4n) per layer at width n (Hanin 2018; docs/theory.md §2.2): the gradient norm
    drifts down although chi_1 = 1. A batch's Frobenius norm averages over examples and has
    a smaller bias with no closed form, so there is none (``mean_field_slope`` then allows a
    model-error band instead). The claim tests, and the report draws, log_growth + drift.
    """
    bias = prediction.quantities.get("finite_width_bias")
    if batch == 1 and isinstance(bias, (int, float)) and math.isfinite(bias):
        return float(bias)
    return None
