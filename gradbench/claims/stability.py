"""Claims that a remedy keeps gradients stable: where it declares so, or somewhere standard.

A remedy may declare ``stable_for``: the settings (spec fields) in which it keeps the
gradient norm stable at depth :data:`~gradbench.claims.network.STABLE_DEPTH`, e.g. He
initialization ``({"activation": "relu"},)``, LayerNorm
``({"activation": "relu", "init": "he_normal"},)``; ``stable_for=()`` marks a known-bad
baseline (PyTorch's default init, an unscaled residual branch) that is stable nowhere.
``stable_as_declared`` checks every declared setting with
:func:`~gradbench.claims.network.stable_gradients`. A remedy that
declares nothing is held to ``stable_somewhere``: stable in at least one of the
standard settings of its kind (:data:`STANDARD_SETTINGS`) — the least a remedy for
vanishing or exploding gradients must do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from gradbench.claims._registry import EQUIVALENCE_ALPHA, claim
from gradbench.claims.network import STABLE_DEPTH, stable_gradients
from gradbench.errors import InvalidArgument
from gradbench.records import Measurement, Verdict
from gradbench.specs import MLPSpec, ResidualSpec, Spec

STABLE_WIDTH = 128
SLOTS = {"initializer": "init", "activation": "activation", "normalization": "norm",
         "residual": "branch_scale"}
STANDARD_SETTINGS: dict[str, tuple[dict[str, Any], ...]] = {
    "initializer": ({"activation": "relu"}, {"activation": "tanh"}, {"activation": "linear"}),
    "activation": ({"init": "he_normal"}, {"init": "xavier_normal"}),
    "normalization": ({"activation": "relu", "init": "he_normal"},
                      {"activation": "tanh", "init": "xavier_normal"}),
    "residual": ({"activation": "relu", "init": "he_normal"},),
}
"""The settings a remedy declaring nothing is tried in (MLPs of depth STABLE_DEPTH, width
STABLE_WIDTH)."""


def setting_spec(remedy: Any, setting: Mapping[str, Any], depth: int = STABLE_DEPTH,
                 width: int = STABLE_WIDTH) -> Spec:
    """The network of ``setting`` with ``remedy`` in its slot (a residual net for scalings)."""
    fields = {**setting, SLOTS[remedy.kind]: remedy.label}
    cls = ResidualSpec if remedy.kind == "residual" else MLPSpec
    return cls(depth=depth, width=width, **fields)  # type: ignore[return-value]


def declares_stability(remedy: Any) -> bool:
    """Whether the remedy declares ``stable_for`` (``()``: a known-bad baseline, stable nowhere)."""
    return "stable_for" in getattr(remedy, "meta", {})


def settings_of(remedy: Any, declared_only: bool) -> tuple[dict[str, Any], ...]:
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


def _setting_text(spec: Spec) -> str:
    fields = spec.to_dict()
    return ", ".join(f"{k}={fields[k]}" for k in ("activation", "init", "norm", "branch_scale")
                     if fields.get(k) is not None)


def _combine(name: str, remedy: Any, verdicts: Sequence[tuple[Spec, Verdict]], need_all: bool,
             config: Mapping[str, Any]) -> Verdict:
    """One verdict over settings: all must pass (the worst is shown) or one (the best is shown)."""
    ok = all(v.passed for _, v in verdicts) if need_all else any(v.passed for _, v in verdicts)
    deciding = [sv for sv in verdicts if sv[1].passed == ok]
    pick = max if need_all else min
    spec, chosen = pick(deciding, key=lambda sv: abs(sv[1].measured)
                        if sv[1].measured == sv[1].measured else float("inf"))
    summary = "; ".join(f"{_setting_text(s)}: {'stable' if v.passed else 'not stable'} "
                        f"({v.measured:+.4f} per layer)" for s, v in verdicts)
    return dataclasses.replace(
        chosen, claim=name, spec={**spec.to_dict(), "remedy": remedy.label, **config},
        passed=ok, note=f"settings: {summary}")


def _settings_verdicts(remedy: Any, data: Sequence[tuple[Spec, Measurement]], alpha: float
                       ) -> list[tuple[Spec, Verdict]]:
    return [(spec, stable_gradients(spec, m, alpha)) for spec, m in data]


@claim(
    "stable_as_declared",
    statement="The remedy keeps the gradient norm stable (stable_gradients) in every setting "
    "it declares in stable_for.",
    statistic="stable_gradients (TOST on the per-layer growth, margins +-ln 1.1) in each "
    "declared setting; the verdict shown is the worst setting's",
    domain=f"remedies declaring stable_for; depth {STABLE_DEPTH}, width {STABLE_WIDTH}",
    source="He et al. 2015; Glorot & Bengio 2010; Klambauer et al. 2017; Ba et al. 2016",
    subjects=("initializer", "activation", "normalization", "residual"),
    role="stability",
    measure="gradbench.claim_probes:stability_settings",
    applies=_declared,
    alpha=EQUIVALENCE_ALPHA,
)
def stable_as_declared(remedy: Any, data: Sequence[tuple[Spec, Measurement]], alpha: float,
                       **config: Any) -> Verdict:
    """Every declared setting is stable."""
    if not data:
        raise InvalidArgument(f"{remedy.label!r} declares no stable_for settings")
    return _combine("stable_as_declared", remedy, _settings_verdicts(remedy, data, alpha),
                    True, config)


@claim(
    "stable_somewhere",
    statement="A remedy that declares no setting keeps the gradient norm stable in at least one "
    "standard setting of its kind (e.g. an initializer with relu, tanh or linear).",
    statistic="stable_gradients in each standard setting of the kind; passes when one passes; "
    "the verdict shown is the best setting's",
    domain=f"remedies declaring no stable_for; depth {STABLE_DEPTH}, width {STABLE_WIDTH}; "
    "settings: " + "; ".join(f"{k}: {list(v)}" for k, v in STANDARD_SETTINGS.items()),
    source="Glorot & Bengio 2010; He et al. 2015 (what a remedy for vanishing gradients is for)",
    subjects=("initializer", "activation", "normalization", "residual"),
    role="stability",
    measure="gradbench.claim_probes:stability_settings",
    applies=_undeclared,
    alpha=EQUIVALENCE_ALPHA,
)
def stable_somewhere(remedy: Any, data: Sequence[tuple[Spec, Measurement]], alpha: float,
                     **config: Any) -> Verdict:
    """At least one standard setting is stable."""
    return _combine("stable_somewhere", remedy, _settings_verdicts(remedy, data, alpha),
                    False, config)


__all__ = ["SLOTS", "STABLE_WIDTH", "STANDARD_SETTINGS", "setting_spec", "settings_of"]
