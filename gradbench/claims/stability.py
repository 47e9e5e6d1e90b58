"""Claims that a remedy keeps gradients stable at the depth judged: where it declares so, or
somewhere standard (docs/theory.md §9).

Stable means stable at the depth that matters: the end-to-end gradient ratio over the
L - 1 steps of depth L lies within (1/K, K), K = :data:`gradbench.stats.STABLE_WITHIN`,
shown by :func:`~gradbench.claims.network.stable_gradients` (a TOST across networks). The
depth is :data:`~gradbench.claims.network.STABLE_DEPTH` unless a ``depth`` is given
(``gradbench run/validate --depth``, ``gradbench.check(..., depth=...)``); the width grows
with it (:func:`stability_width`), so the finite-width drift stays what it is at depth 30.

A remedy may declare ``stable_for``: the settings (spec fields) in which it keeps the
gradient norm stable, e.g. He initialization ``({"activation": "relu"},)``, LayerNorm
``({"activation": "relu", "init": "he_normal"},)``; ``stable_for=()`` marks a known-bad
baseline (PyTorch's default init, an unscaled residual branch) that is stable nowhere.
``stable_as_declared`` checks every declared setting. A remedy that declares nothing is held
to ``stable_somewhere``: stable in at least one of the standard settings of its kind
(:data:`STANDARD_SETTINGS`). An activation's standard settings include its own critical
initialization (``{"init": CRITICAL}``), computed from its forward alone
(:func:`gradbench.theory.stable_critical_point` on finite differences of the forward); there
the measured growth must also agree with theory (chi_1 = 1) within the model-error band, so
an activation whose backward is not the derivative of its forward fails.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gradbench import registry, stats
from gradbench.claims._registry import CLAIMS, EQUIVALENCE_ALPHA, claim
from gradbench.claims._verdicts import t_test
from gradbench.claims.network import MODEL_ERROR, STABLE_DEPTH, stable_gradients
from gradbench.errors import InvalidArgument
from gradbench.records import Measurement, Verdict
from gradbench.specs import Spec, spec_types
from gradbench.theory import CRITICAL_BIASES, CriticalPoint

STABLE_WIDTH = 128
"""Width of the stability settings up to depth 32 (:func:`stability_width`)."""
MAX_STABLE_DEPTH = 200
"""Deepest setting judged (its width is 800: a setting's cost grows as depth^3)."""
CRITICAL = registry.CRITICAL
"""The setting value ``{"init": CRITICAL}``: the activation's own critical initialization."""
SLOTS = {kind: info.slot for kind, info in registry.REMEDY_KINDS.items() if info.slot}
"""Per remedy kind judged for stability, the spec field it fills (its descriptor's slot)."""
STANDARD_SETTINGS: dict[str, tuple[Mapping[str, Any], ...]] = {
    kind: info.standard_settings for kind, info in registry.REMEDY_KINDS.items()
    if info.standard_settings
}
"""The settings a remedy declaring nothing is tried in (each kind's descriptor)."""


def stability_depth(depth: object) -> int:
    """``depth`` checked: an integer from 2 to :data:`MAX_STABLE_DEPTH`.

    Raises:
        InvalidArgument: anything else (one sentence with the valid range).
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or not (
            2 <= depth <= MAX_STABLE_DEPTH):
        raise InvalidArgument(f"depth={depth!r} is invalid: the stability settings need an "
                              f"integer depth from 2 to {MAX_STABLE_DEPTH}")
    return depth


def stability_width(depth: int) -> int:
    """``max(128, 4 depth)``: width grows with depth, as Hanin & Rolnick 2018 prescribe, so
    sum 1/n_l, and with it the finite-width drift of the gradient norm (He + ReLU: x0.75 over
    depth 30 at width 128, one example per network; docs/theory.md §2.2), stays what it is
    at depth 30 whatever the depth judged (docs/theory.md §9.2)."""
    return max(STABLE_WIDTH, 4 * depth)


@dataclass(frozen=True)
class Tried:
    """One setting a stability claim tried (the data its measurement returns).

    Attributes:
        setting: the setting as declared or standard, e.g. ``{"activation": "relu"}``.
        spec: the network measured, or ``None`` (see ``reason``).
        measurement: its gradient probe.
        critical: for an ``{"init": CRITICAL}`` setting, the critical point computed from
            the activation's forward.
        reason: why the setting was not measured.
    """

    setting: Mapping[str, Any]
    spec: Spec | None = None
    measurement: Measurement | None = None
    critical: CriticalPoint | None = None
    reason: str = ""


def critical_activation(remedy: Any, setting: Mapping[str, Any]) -> str | None:
    """The activation whose critical initialization ``setting`` asks for, or ``None``."""
    if setting.get("init") != CRITICAL:
        return None
    fields = {**setting, SLOTS[remedy.kind]: remedy.label}
    return str(fields.get("activation", "relu"))


def setting_spec(remedy: Any, setting: Mapping[str, Any], depth: int = STABLE_DEPTH,
                 critical: CriticalPoint | None = None) -> Spec:
    """The network of ``setting`` at ``depth`` with ``remedy`` in its slot (a residual net for
    scalings); a critical setting starts at the fixed point ``q*`` of ``critical``.

    Raises:
        InvalidArgument: a bad depth, or a critical setting without its critical point.
    """
    depth = stability_depth(depth)
    fields = {**setting, SLOTS[remedy.kind]: remedy.label}
    if fields.get("init") == CRITICAL:
        if critical is None:
            raise InvalidArgument(
                f"setting {dict(setting)!r} needs the activation's critical point")
        fields.update(init="normal", sigma_w2=critical.sigma_w2, sigma_b2=critical.sigma_b2,
                      input_var=(critical.q_star - critical.sigma_b2) / critical.sigma_w2)
    cls = spec_types()[registry.REMEDY_KINDS[remedy.kind].family]
    return cls(depth=depth, width=stability_width(depth), **fields)  # type: ignore[call-arg,return-value]


def setting_problem(remedy: Any) -> str | None:
    """Why the remedy's declared ``stable_for`` is refused (the first setting naming a value the
    spec refuses, such as ``{"activation": "rleu"}``), or ``None``. Checked when a user's
    remedy is registered, after the remedies a setting may name are."""
    for setting in settings_of(remedy, True) if remedy.kind in SLOTS else ():
        plain = {k: v for k, v in setting.items() if not (k == "init" and v == CRITICAL)}
        try:
            setting_spec(remedy, plain)
        except InvalidArgument as exc:
            return f"declares the stable_for setting {dict(setting)!r}, which is refused: {exc}"
    return None


def declares_stability(remedy: Any) -> bool:
    """Whether the remedy declares ``stable_for`` (``()``: a known-bad baseline, stable nowhere)."""
    return "stable_for" in getattr(remedy, "meta", {})


def settings_of(remedy: Any, declared_only: bool) -> tuple[Mapping[str, Any], ...]:
    """The declared ``stable_for`` settings, or the standard ones for an undeclared remedy."""
    if declares_stability(remedy) or declared_only:
        return tuple(remedy.meta.get("stable_for", ()) or ())
    return STANDARD_SETTINGS.get(remedy.kind, ())


def _declared(remedy: Any) -> str | None:
    if remedy.kind not in SLOTS:
        return f"{remedy.kind}s are checked by optimizer_trains"
    if getattr(remedy, "params", None):
        return "declared settings hold for the remedy's default parameters"
    return None if settings_of(remedy, True) else "the remedy declares no stable_for settings"


def _undeclared(remedy: Any) -> str | None:
    if remedy.kind not in SLOTS:
        return f"{remedy.kind}s are checked by optimizer_trains"
    if declares_stability(remedy) or getattr(remedy, "params", None):
        return "the remedy declares its settings (stable_as_declared applies instead)"
    return None


# --------------------------------------------------------------------------------------
# Judging the settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Judged:
    """One measured setting: its stability verdict and, at a critical setting, theory's."""

    tried: Tried
    stable: Verdict
    theory: Verdict | None = None

    @property
    def passed(self) -> bool:
        return self.stable.passed and (self.theory is None or self.theory.passed)

    @property
    def deciding(self) -> Verdict:
        """The verdict to show: theory's when it failed, else the stability one."""
        return self.theory if self.theory is not None and not self.theory.passed else self.stable


def theory_band(spec: Spec) -> float:
    """Allowed end-to-end deviation from chi_1 = 1 at a critical setting: the mean-field model
    error MODEL_ERROR/width per step over the L - 1 steps (docs/theory.md §9.3)."""
    return MODEL_ERROR * (spec.n_sites - 1) / spec.n_features


def _judge(name: str, tried: Tried, alpha: float) -> _Judged:
    spec, m = tried.spec, tried.measurement
    if spec is None or m is None:
        raise InvalidArgument(f"setting {dict(tried.setting)!r} was not measured")
    stable = stable_gradients(spec, m, alpha)
    agreement = None
    if tried.critical is not None:
        agreement = t_test(
            name, spec, {}, stats.log_ratios(m.act_grad_norms), 0.0, alpha=alpha,
            what="per-seed end-to-end ln ratio at the critical initialization (theory: 0)",
            tolerance=theory_band(spec))
        agreement = dataclasses.replace(agreement, growth=stable.growth)
    return _Judged(tried, stable, agreement)


def _setting_text(tried: Tried) -> str:
    text = ", ".join(f"{k}={v}" for k, v in tried.setting.items())
    p = tried.critical
    if p is not None:
        text += (f" (from the forward: sigma_w2={p.sigma_w2:.4g}, sigma_b2={p.sigma_b2:g}, "
                 f"q*={p.q_star:.3g})")
    return text or "the standard setting"


def _outcome(j: _Judged) -> str:
    growth = stats.GradientGrowth.from_dict(j.stable.growth or {})
    text = f"{_setting_text(j.tried)}: {growth.words} ({growth.klass()}"
    if j.theory is not None and j.tried.spec is not None:
        band = math.exp(theory_band(j.tried.spec))
        text += (f"; theory, chi_1 = 1: x1 within x{1 / band:.2f}-x{band:.2f}, "
                 f"{'agrees' if j.theory.passed else 'DISAGREES'}")
    return text + ")"


def _hint(remedy: Any) -> str:
    """The declaration that states where a remedy is meant to be stable."""
    kinds = {slot: kind for kind, slot in SLOTS.items()}
    keys = dict.fromkeys(k for s in STANDARD_SETTINGS.get(remedy.kind, ()) for k in s)
    example = {k: f"<{kinds.get(k, k)}>" for k in keys}
    return f"gradbench_meta = {{\"stable_for\": [{json.dumps(example)}]}}"


def _record(tried: Tried, judged: _Judged | None, depth: int, width: int) -> dict[str, Any]:
    """One setting tried, as the verdict's ``settings`` keep it for the report: the setting,
    the depth judged, and whether the remedy kept gradients stable there (``None``: not
    measured), with the growth class and plain words."""
    out: dict[str, Any] = {"setting": dict(tried.setting), "depth": depth, "width": width}
    if judged is None:
        return {**out, "stable": None, "reason": tried.reason}
    growth = judged.stable.growth or {}
    words = str(growth.get("words", ""))
    if judged.theory is not None and not judged.theory.passed:
        words += "; disagrees with theory (chi_1 = 1) at the critical initialization"
    return {**out, "stable": judged.passed, "class": growth.get("class"), "words": words}


def _verdict(name: str, remedy: Any, judged: Sequence[_Judged], untried: Sequence[Tried],
             shown: _Judged, passed: bool, summary: str, config: Mapping[str, Any]) -> Verdict:
    spec = shown.tried.spec
    assert spec is not None
    depth, width = spec.n_sites, spec.n_features
    settings = tuple([_record(j.tried, j, depth, width) for j in judged]
                     + [_record(t, None, depth, width) for t in untried])
    tried = "; ".join([_outcome(j) for j in judged]
                      + [f"{_setting_text(t)}: not measured, {t.reason}" for t in untried])
    networks = (shown.stable.growth or {}).get("seeds", shown.stable.n)  # finite or not
    head = (f"depth {spec.n_sites}, width {spec.n_features}, "
            f"{networks} networks, stable within x{stats.STABLE_WITHIN:g} end to end")
    return dataclasses.replace(
        shown.deciding, claim=name, spec={**spec.to_dict(), "remedy": remedy.label, **config},
        passed=passed, note=f"{head}: {tried}. {summary}".strip(), source=CLAIMS[name].source,
        settings=settings)


def _measured(data: Sequence[Tried]) -> tuple[list[Tried], list[Tried]]:
    return ([t for t in data if t.measurement is not None],
            [t for t in data if t.measurement is None])


def _worst(judged: Sequence[_Judged]) -> _Judged:
    """The failing setting furthest from stable (else the one closest to the bounds)."""
    def distance(j: _Judged) -> float:
        measured = j.stable.measured
        return abs(measured) if measured == measured else math.inf
    failing = [j for j in judged if not j.passed]
    return max(failing or judged, key=distance)


@claim(
    "stable_as_declared",
    statement="The remedy keeps the gradient norm stable at the depth judged (end-to-end "
    f"within x{stats.STABLE_WITHIN:g}, stable_gradients) in every setting it declares in "
    "stable_for.",
    statistic="stable_gradients (TOST on the per-seed end-to-end ln ratio, margins "
    f"+-ln {stats.STABLE_WITHIN:g}) in each declared setting; the verdict shown is the worst "
    "setting's",
    domain=f"remedies declaring stable_for; depth {STABLE_DEPTH} or --depth (2 to "
    f"{MAX_STABLE_DEPTH}), width max({STABLE_WIDTH}, 4 depth), 16 networks of 16 examples",
    source="He et al. 2015; Glorot & Bengio 2010; Klambauer et al. 2017; Ba et al. 2016; "
    "Hanin & Rolnick 2018 (docs/theory.md §9)",
    subjects=("initializer", "activation", "normalization", "residual"),
    role="stability",
    measure="gradbench.claim_probes:stability_settings",
    applies=_declared,
    alpha=EQUIVALENCE_ALPHA,
)
def stable_as_declared(remedy: Any, data: Sequence[Tried], alpha: float,
                       **config: Any) -> Verdict:
    """Every declared setting is stable at the depth judged."""
    tried, untried = _measured(data)
    if not tried:
        raise InvalidArgument(f"{remedy.label!r} declares no stable_for settings")
    judged = [_judge("stable_as_declared", t, alpha) for t in tried]
    passed = all(j.passed for j in judged) and not untried
    worst = _worst(judged)
    summary = ""
    if not passed and worst.passed:
        summary = (f"A declared setting could not be measured. Declare settings it can be "
                   f"measured in ({_hint(remedy)}).")
    elif not passed:
        growth = stats.GradientGrowth.from_dict(worst.stable.growth or {})
        reach = stats.stable_depth(growth.per_step)
        summary = (f"Not stable where declared at depth {growth.sites}: in "
                   f"{_setting_text(worst.tried)} gradients stay within "
                   f"x{stats.STABLE_WITHIN:g} up to depth {reach} at the measured rate. "
                   "Declare only the settings where it is stable at the depth you use "
                   f"({_hint(remedy)}); --depth sets the depth judged.")
    return _verdict("stable_as_declared", remedy, judged, untried, worst, passed, summary,
                    config)


@claim(
    "stable_somewhere",
    statement="A remedy that declares no setting keeps the gradient norm stable at the depth "
    "judged in at least one standard setting of its kind (an initializer with relu, tanh or "
    "linear); an activation is judged at its own critical initialization, computed from its "
    "forward, where the growth must also agree with theory (chi_1 = 1).",
    statistic="stable_gradients in each standard setting of the kind; passes when one passes; "
    "at an activation's critical initialization, a TOST of stability and a two-sided t-test "
    "of the per-seed end-to-end ln ratio against 0 within the model-error band 2(L-1)/width, "
    "both at alpha, decide",
    domain=f"remedies declaring no stable_for; depth {STABLE_DEPTH} or --depth (2 to "
    f"{MAX_STABLE_DEPTH}), width max({STABLE_WIDTH}, 4 depth); settings: "
    + "; ".join(f"{k}: {list(v)}" for k, v in STANDARD_SETTINGS.items())
    + f"; the critical point is the first sigma_b2 of {list(CRITICAL_BIASES)} with a stable "
    "fixed point q* >= 1e-3 (docs/theory.md §9.3)",
    source="Glorot & Bengio 2010; He et al. 2015; Schoenholz et al. 2017; Hayou et al. 2019 "
    "(docs/theory.md §9)",
    subjects=("initializer", "activation", "normalization", "residual"),
    role="stability",
    measure="gradbench.claim_probes:stability_settings",
    applies=_undeclared,
    alpha=EQUIVALENCE_ALPHA,
)
def stable_somewhere(remedy: Any, data: Sequence[Tried], alpha: float,
                     **config: Any) -> Verdict:
    """Stable in one standard setting; at an activation's critical setting, also as theory says."""
    tried, untried = _measured(data)
    if not tried:
        raise InvalidArgument(f"{remedy.label!r} was measured in no standard setting: "
                              + "; ".join(t.reason for t in untried))
    judged = [_judge("stable_somewhere", t, alpha) for t in tried]
    critical = [j for j in judged if j.theory is not None]
    deciding = critical or judged
    passed = any(j.passed for j in deciding)
    shown = (min((j for j in deciding if j.passed), key=lambda j: abs(j.stable.measured))
             if passed else _worst(deciding))
    summary = ""
    if not passed and critical:
        summary = ("At its own critical initialization the measured growth disagrees with "
                   "theory or is not stable: is the backward the derivative of the forward "
                   "(activation_backward)? To judge it in settings of your choice instead, "
                   f"declare them: {_hint(remedy)}.")
    elif not passed:
        summary = (f"Stable in none of the settings tried. If it is meant for another "
                   f"setting, declare it: {_hint(remedy)}.")
    return _verdict("stable_somewhere", remedy, judged, untried, shown, passed, summary, config)


__all__ = ["CRITICAL", "MAX_STABLE_DEPTH", "SLOTS", "STABLE_WIDTH", "STANDARD_SETTINGS", "Tried",
           "critical_activation", "setting_spec", "settings_of", "stability_depth",
           "stability_width", "theory_band"]
