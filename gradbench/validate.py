"""Validate a user remedy against the built-in ones: ``gradbench validate pkg.mod:obj``.

:func:`validate` imports the remedy (or takes a registered name), registers it
temporarily under its kind, and runs a fixed battery of configurations with the
candidate substituted and with the built-in baselines of that kind, on the same
configurations and seeds:

============== ======================================= ===============================
kind           battery (depths 10/30/50; more in full)  baselines
============== ======================================= ===============================
initializer    MLP x activation relu, tanh              he_normal, xavier_normal,
                                                        orthogonal
activation     MLP x init he_normal, xavier_normal      relu, tanh
normalization  MLP x (relu + He, tanh + Xavier)         none, batchnorm, layernorm
residual       residual relu + He x branch scale        1, 1/sqrt(L)
optimizer      MLP x (relu + He, tanh + Xavier),        sgd, adam
               training probe with the optimizer
============== ======================================= ===============================

Per configuration it measures the **per-layer gradient growth factor**
``g = exp(-mean_s b_s)``, where ``b_s`` is seed ``s``'s least-squares slope of
``log ||dL/dh_l||`` against the layer ``l`` (so ``g < 1`` means the gradient shrinks
towards the input), with the 95% t-interval across seeds; the configuration is
**stable** when that interval lies inside the band :data:`STABLE_BAND` = [0.9, 1.1]
(a TOST at 2.5% per side, Schuirmann 1987). Over 50 layers the band still allows an
end-to-end factor between 0.9^50 = 0.005 and 1.1^50 = 117, but it separates critical
initializations (g ~ 1 - O(1/width)) from the ordered/chaotic phases (ReLU + Xavier:
sqrt(1/2) = 0.71 per layer). It is wider than the report's display classes (0.95/1.05)
because it is a test on an interval, not a label for a point estimate. The **stable
depth** of a setting is the largest battery depth up to which every depth is stable.
A short training probe (:func:`gradbench.training.train_probe`) says whether the loss
decreased and whether any seed diverged.

A remedy declares its claims in an attribute ``gradbench_claims`` (see :data:`CLAIMS`);
every remedy implicitly claims ``runs``. :attr:`ValidationResult.exit_code` is 0 when
every declared claim is kept and 1 otherwise. A remedy that raises, returns NaN or
returns the wrong shape is reported as ``"error: <one sentence>"`` for that
configuration; the run goes on and nothing measured is lost.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gradbench import registry, storage
from gradbench.errors import InvalidArgument, RemedyFailed, choices_hint
from gradbench.machine import environment, platform_info
from gradbench.probe import measure
from gradbench.profiles import Profile, get_profile
from gradbench.records import CaseRecord, MachineInfo, Measurement, RunInfo, Verdict, to_jsonable
from gradbench.records import results_document as records_document
from gradbench.specs import MLPSpec, ResidualSpec, Spec, spec_label
from gradbench.stats import fit_slopes, tost
from gradbench.training import TrainingRecord, TrainSpec, train_probe

#: A configuration is stable when the 95% CI of its per-layer growth factor lies in here.
STABLE_BAND = (0.9, 1.1)
#: Significance of each one-sided test of the TOST (95% two-sided interval).
STABLE_ALPHA = 0.025
DEPTHS: dict[str, tuple[int, ...]] = {"quick": (10, 30, 50), "full": (10, 30, 50, 100)}
BASE_WIDTH = 32
TRAIN_SEEDS = 4
TRAIN = TrainSpec(optimizer="sgd", lr=0.05, steps=20)
SOURCE = "gradbench validate (THEORY.md sections 1, 4, 6, 7)"

SpecMaker = Callable[[str, int, int], tuple[Spec, TrainSpec]]


@dataclass(frozen=True)
class Setting:
    """One axis value of a battery: ``make(remedy_name, depth, width) -> (spec, train)``."""

    label: str
    make: SpecMaker


@dataclass(frozen=True)
class Battery:
    """The configurations and baselines used to validate one kind of remedy."""

    settings: tuple[Setting, ...]
    baselines: tuple[str, ...]


def _mlp(**fixed: Any) -> SpecMaker:
    """Setting maker for an MLP whose ``slot`` field is the remedy under test."""
    slot = fixed.pop("slot")

    def make(name: str, depth: int, width: int) -> tuple[Spec, TrainSpec]:
        fields: dict[str, Any] = {slot: name, **fixed}
        return MLPSpec(depth=depth, width=width, **fields), TRAIN

    return make


def _residual(name: str, depth: int, width: int) -> tuple[Spec, TrainSpec]:
    return ResidualSpec(depth=depth, width=width, activation="relu", branch_scale=name), TRAIN


def _optimizer(activation: str, init: str) -> SpecMaker:
    def make(name: str, depth: int, width: int) -> tuple[Spec, TrainSpec]:
        spec = MLPSpec(depth=depth, width=width, activation=activation, init=init)
        return spec, TRAIN.replace(optimizer=name, lr=None)

    return make


BATTERIES: dict[str, Battery] = {
    "initializer": Battery(
        (Setting("activation=relu", _mlp(slot="init", activation="relu")),
         Setting("activation=tanh", _mlp(slot="init", activation="tanh"))),
        ("he_normal", "xavier_normal", "orthogonal")),
    "activation": Battery(
        (Setting("init=he_normal", _mlp(slot="activation", init="he_normal")),
         Setting("init=xavier_normal", _mlp(slot="activation", init="xavier_normal"))),
        ("relu", "tanh")),
    "normalization": Battery(
        (Setting("relu+he_normal", _mlp(slot="norm", activation="relu", init="he_normal")),
         Setting("tanh+xavier_normal",
                 _mlp(slot="norm", activation="tanh", init="xavier_normal"))),
        ("none", "batchnorm", "layernorm")),
    "residual": Battery((Setting("relu+he_normal", _residual),), ("1", "1/sqrt(L)")),
    "optimizer": Battery(
        (Setting("relu+he_normal", _optimizer("relu", "he_normal")),
         Setting("tanh+xavier_normal", _optimizer("tanh", "xavier_normal"))),
        ("sgd", "adam")),
}


# --------------------------------------------------------------------------------------
# Guards: turn a misbehaving remedy into one RemedyFailed sentence
# --------------------------------------------------------------------------------------


def _same_shape(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Guard an elementwise remedy (activation, normalization): same shape, finite output."""

    @functools.wraps(fn)
    def guarded(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        y = fn(x, *args, **kwargs)
        if not isinstance(y, Tensor) or y.shape != x.shape:
            got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise RemedyFailed(
                f"{kind} {name!r} returned {got} for an input of shape {tuple(x.shape)}"
            )
        if not bool(torch.isfinite(y[torch.isfinite(x)]).all()):
            raise RemedyFailed(f"{kind} {name!r} returned NaN or inf for finite inputs")
        return y

    return guarded


def _guard_initializer(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def guarded(w: Tensor, *args: Any, **kwargs: Any) -> None:
        out = fn(w, *args, **kwargs)
        if isinstance(out, Tensor) and out is not w:  # returned a new tensor: accept if it fits
            if out.shape != w.shape:
                raise RemedyFailed(
                    f"initializer {name!r} returned shape {tuple(out.shape)} for a weight of "
                    f"shape {tuple(w.shape)}"
                )
            with torch.no_grad():
                w.copy_(out)
        if not bool(torch.isfinite(w).all()):
            raise RemedyFailed(f"initializer {name!r} filled the weight with NaN or inf")

    return guarded


def _guard_residual(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def guarded(layer: int, depth: int, *args: Any, **kwargs: Any) -> float:
        alpha = fn(layer, depth, *args, **kwargs)
        try:
            value = float(alpha)
        except (TypeError, ValueError):
            raise RemedyFailed(
                f"residual scaling {name!r} returned a {type(alpha).__name__}, not a number"
            ) from None
        if not math.isfinite(value):
            raise RemedyFailed(f"residual scaling {name!r} returned {value} for layer {layer}")
        return value

    return guarded


def _guard_optimizer(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def guarded(params: Any, *args: Any, **kwargs: Any) -> torch.optim.Optimizer:
        opt = fn(params, *args, **kwargs)
        if not isinstance(opt, torch.optim.Optimizer):
            raise RemedyFailed(
                f"optimizer {name!r} returned a {type(opt).__name__}, not a torch.optim.Optimizer"
            )
        return opt

    return guarded


GUARDS: dict[str, Callable[[str, Callable[..., Any]], Callable[..., Any]]] = {
    "initializer": _guard_initializer,
    "activation": functools.partial(_same_shape, "activation"),
    "normalization": functools.partial(_same_shape, "normalization"),
    "residual": _guard_residual,
    "optimizer": _guard_optimizer,
}


# --------------------------------------------------------------------------------------
# Rows and claims
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One (remedy, setting, depth) configuration.

    Attributes:
        remedy: registry name of the remedy in this row.
        role: ``"candidate"`` or ``"baseline"``.
        setting: the battery axis value, e.g. ``"activation=relu"``.
        depth: number of layers.
        spec: the network spec as a dict (``{}`` if it could not be built).
        status: ``"ok"`` or ``"error: <one sentence>"``.
        growth: per-layer gradient growth factor ``exp(-mean slope)`` (NaN if unknown).
        growth_low, growth_high: its 95% t-interval across seeds.
        stable: the interval lies inside :data:`STABLE_BAND`.
        loss_decreased: fraction of training seeds whose final loss is below the initial.
        diverged: number of training seeds that diverged.
        measurement: the gradient probe's :class:`Measurement` (``None`` on error).
        training: the :class:`TrainingRecord` (``None`` on error).
        verdict: the stability TOST as a :class:`Verdict` (candidate rows only).
    """

    remedy: str
    role: str
    setting: str
    depth: int
    spec: dict[str, Any]
    status: str = "ok"
    growth: float = math.nan
    growth_low: float = math.nan
    growth_high: float = math.nan
    stable: bool = False
    loss_decreased: float = math.nan
    diverged: int = 0
    measurement: Measurement | None = field(default=None, repr=False)
    training: TrainingRecord | None = field(default=None, repr=False)
    verdict: Verdict | None = field(default=None, repr=False)
    label: str = ""

    @property
    def ok(self) -> bool:
        """True unless the remedy failed in this configuration."""
        return self.status == "ok"

    @property
    def trains(self) -> bool:
        """Most training seeds decreased the loss and none diverged."""
        return self.ok and self.loss_decreased > 0.5 and self.diverged == 0

    def summary(self) -> dict[str, Any]:
        """The row without the bulky records (JSON-safe through ``to_jsonable``)."""
        keys = ("remedy", "role", "setting", "depth", "status", "growth", "growth_low",
                "growth_high", "stable", "loss_decreased", "diverged")
        return {k: getattr(self, k) for k in keys}


def _depths_all_stable(rows: Sequence[Row]) -> bool:
    by_depth: dict[int, bool] = {}
    for r in rows:
        by_depth[r.depth] = by_depth.get(r.depth, False) or r.stable
    return bool(by_depth) and all(by_depth.values())


#: Claims a remedy may declare in ``gradbench_claims``: ``check(candidate rows) -> kept``.
CLAIMS: dict[str, tuple[Callable[[Sequence[Row]], bool], str]] = {
    "runs": (lambda rows: all(r.ok for r in rows),
             "no configuration raised or returned NaN / a wrong shape"),
    "stable_gradients": (lambda rows: all(r.ok for r in rows) and _depths_all_stable(rows),
                         "at every depth, some setting keeps the per-layer growth CI in "
                         f"[{STABLE_BAND[0]}, {STABLE_BAND[1]}]"),
    "trains": (lambda rows: all(r.trains for r in rows),
               "in every configuration most seeds decrease the loss and none diverges"),
    "no_divergence": (lambda rows: all(r.ok and r.diverged == 0 for r in rows),
                      "no training seed diverges in any configuration"),
}


@dataclass(frozen=True)
class ClaimResult:
    """Whether the candidate kept one declared claim."""

    claim: str
    kept: bool
    meaning: str


@dataclass(frozen=True)
class ValidationResult:
    """Everything :func:`validate` found.

    Attributes:
        target: what was asked for (import path or name).
        kind: the remedy kind.
        name: the name the candidate was registered under.
        profile: the profile name.
        claims: results of the declared claims (``runs`` always first).
        rows: every configuration, candidate and baselines.
        json_path: where the JSON was written (``None`` if not written).
        html_path: where the HTML report was written (``None`` if not).
        html_note: why there is no HTML report, if there is none.
    """

    target: str
    kind: str
    name: str
    profile: str
    claims: tuple[ClaimResult, ...]
    rows: tuple[Row, ...]
    json_path: str | None = None
    html_path: str | None = None
    html_note: str = ""

    @property
    def exit_code(self) -> int:
        """0 when every declared claim is kept, 1 when one is broken."""
        return 0 if all(c.kept for c in self.claims) else 1

    def stable_depth(self, remedy: str, setting: str) -> int:
        """Largest battery depth up to which every depth is stable (0: not even the first)."""
        rows = sorted((r for r in self.rows if r.remedy == remedy and r.setting == setting),
                      key=lambda r: r.depth)
        best = 0
        for r in rows:
            if not r.stable:
                break
            best = r.depth
        return best

    def format_table(self) -> str:
        """A plain-text verdict table: one line per configuration, then the claims."""
        head = (f"{'remedy':<22} {'role':<9} {'setting':<20} {'depth':>5} {'growth/layer':>12} "
                f"{'95% CI':>17} {'stable':>6} {'loss down':>9} {'diverged':>8}")
        lines = [f"gradbench validate {self.target} (kind {self.kind}, profile {self.profile})",
                 head, "-" * len(head)]
        for r in self.rows:
            if not r.ok:
                lines.append(f"{r.remedy:<22} {r.role:<9} {r.setting:<20} {r.depth:>5} {r.status}")
                continue
            ci = f"[{r.growth_low:.3f}, {r.growth_high:.3f}]"
            lines.append(
                f"{r.remedy:<22} {r.role:<9} {r.setting:<20} {r.depth:>5} {r.growth:>12.4f} "
                f"{ci:>17} {'yes' if r.stable else 'no':>6} {r.loss_decreased:>9.2f} "
                f"{r.diverged:>8d}"
            )
        lines.append("")
        settings = sorted({(r.remedy, r.role, r.setting) for r in self.rows},
                          key=lambda t: (t[1] != "candidate", t[0], t[2]))
        for remedy, role, setting in settings:
            lines.append(f"stable depth: {remedy} ({role}) {setting}: "
                         f"{self.stable_depth(remedy, setting)}")
        lines.append("")
        for c in self.claims:
            lines.append(f"claim {c.claim}: {'kept' if c.kept else 'BROKEN'} ({c.meaning})")
        lines.append(f"exit code {self.exit_code}")
        if self.json_path:
            lines.append(f"results -> {self.json_path}")
        if self.html_path:
            lines.append(f"report -> {self.html_path}")
        elif self.html_note:
            lines.append(f"no HTML report: {self.html_note}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (rows without the per-seed records)."""
        return to_jsonable({
            "kind": "validation", "target": self.target, "remedy_kind": self.kind,
            "name": self.name, "profile": self.profile, "exit_code": self.exit_code,
            "claims": [{"claim": c.claim, "kept": c.kept, "meaning": c.meaning}
                       for c in self.claims],
            "rows": [r.summary() for r in self.rows],
            "json_path": self.json_path, "html_path": self.html_path,
            "html_note": self.html_note,
        })


# --------------------------------------------------------------------------------------
# Running the battery
# --------------------------------------------------------------------------------------


def _one_sentence(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, RemedyFailed):
        return text
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _growth(m: Measurement) -> tuple[float, float, float, bool, Any]:
    """Growth factor, its 95% CI and stability, from per-seed slopes (None: too few)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = fit_slopes(m.log_act_grad_norms)
    if np.isfinite(slopes).sum() < 2:
        return math.nan, math.nan, math.nan, False, None
    lo, hi = math.log(STABLE_BAND[0]), math.log(STABLE_BAND[1])
    res = tost(-slopes, lo, hi, alpha=STABLE_ALPHA)
    ci = res.confidence_interval()
    stable = res.passed and res.n_nonfinite == 0
    return math.exp(res.estimate), math.exp(ci.low), math.exp(ci.high), stable, res


def _run_row(
    remedy: str, role: str, setting: Setting, depth: int, width: int, profile: Profile,
    base_seed: int,
) -> Row:
    spec_dict: dict[str, Any] = {}
    try:
        spec, train = setting.make(remedy, depth, width)
        spec_dict = spec.to_dict()
        m = measure(spec, seeds=profile.seeds, batch=profile.batch, dtype="float64",
                    seed=base_seed)
        growth, low, high, stable, res = _growth(m)
        rec = train_probe(spec, train, seeds=TRAIN_SEEDS, dtype="float64", seed=base_seed)
    except (RemedyFailed, Exception) as exc:  # one configuration fails, the run goes on
        return Row(remedy, role, setting.label, depth, spec_dict,
                   status=f"error: {_one_sentence(exc)}")
    verdict = None
    if role == "candidate":
        verdict = Verdict(
            claim="stable_gradients", spec=spec_dict, predicted=1.0, measured=growth,
            statistic=res.statistic if res else math.nan,
            pvalue=res.pvalue if res else math.nan, ci_low=low, ci_high=high,
            alpha=STABLE_ALPHA, passed=stable, n=res.n if res else 0,
            method=f"TOST on per-seed log growth, band {list(STABLE_BAND)}",
            source=SOURCE, note="" if res else "fewer than 2 finite per-seed slopes",
        )
    return Row(
        remedy, role, setting.label, depth, spec_dict, "ok", growth, low, high, stable,
        float(rec.loss_decreased.mean()), int(rec.diverged.sum()), m, rec, verdict,
        spec_label(spec),
    )


def _resolve(target: str, kind: str | None) -> tuple[Any, str, str, bool]:
    """``(object, kind, name, needs_registration)`` for ``target``."""
    if kind is not None and kind not in registry.KINDS:
        raise InvalidArgument(f"kind={kind!r} is unknown; {choices_hint(kind, registry.KINDS)}")
    if ":" not in target:
        kinds = [kind] if kind else list(registry.KINDS)
        found = []
        for k in kinds:
            try:
                found.append((k, registry.lookup(k, target)))  # type: ignore[arg-type]
            except InvalidArgument:
                continue
        if len(found) > 1:
            raise InvalidArgument(
                f"{target!r} is registered as {', '.join(k for k, _ in found)}; pass kind= "
                "to choose one"
            )
        if found:
            k, remedy = found[0]
            return remedy.obj, k, remedy.label, False
        if "." not in target:
            where = f"{kind} " if kind else ""
            raise InvalidArgument(
                f"{target!r} is not a registered {where}remedy and not an import path "
                "'pkg.module:object'"
            )
    obj = registry.import_object(target)
    kind = kind or getattr(obj, "gradbench_kind", None)
    if kind not in registry.KINDS:
        raise InvalidArgument(
            f"cannot tell the kind of {target!r}: set its attribute gradbench_kind or pass "
            f"kind=; valid choices: {', '.join(registry.KINDS)}"
        )
    if not callable(obj):
        raise InvalidArgument(f"{target!r} is a {type(obj).__name__}, not a callable remedy")
    base = str(getattr(obj, "gradbench_name", getattr(obj, "__name__", "candidate")))
    taken = set(registry.names(kind))  # type: ignore[arg-type]
    name = base if base not in taken else f"{base}_candidate"
    return obj, kind, name, True


def _declared_claims(obj: Any) -> list[str]:
    claims = getattr(obj, "gradbench_claims", ()) or ()
    if isinstance(claims, str) or not all(isinstance(c, str) for c in claims):
        raise InvalidArgument(
            f"gradbench_claims={claims!r} must be a list of claim names; "
            f"valid choices: {', '.join(CLAIMS)}"
        )
    for c in claims:
        if c not in CLAIMS:
            raise InvalidArgument(f"claim {c!r} is unknown; {choices_hint(c, CLAIMS)}")
    return ["runs", *[c for c in claims if c != "runs"]]


def validate(
    target: str,
    kind: str | None = None,
    profile: str = "quick",
    out_dir: str | Path | None = "reports",
    base_seed: int = 0,
    depths: Sequence[int] | None = None,
    baselines: Sequence[str] | None = None,
) -> ValidationResult:
    """Validate a remedy against the built-in baselines of its kind (see the module docs).

    Args:
        target: ``"pkg.module:object"``, or the name of an already-registered remedy.
        kind: ``initializer``, ``activation``, ``normalization``, ``residual`` or
            ``optimizer``; default: the object's ``gradbench_kind`` attribute (or the kind
            it is registered under).
        profile: ``"quick"`` or ``"full"`` (depths, seeds, batch and width).
        out_dir: folder for ``NNNN_validate-<name>.json`` (and ``.html``); ``None``: no files.
        base_seed: base seed of every network.
        depths: override the profile's battery depths (e.g. ``(4, 8)`` for a smoke run).
        baselines: override the kind's built-in baselines (registry names).

    Returns:
        A :class:`ValidationResult`; its ``exit_code`` is 0 when every declared claim holds.

    Raises:
        InvalidArgument: the target cannot be imported or resolved, its kind is unknown,
            or it declares an unknown claim.

    Examples:
        >>> res = validate("he_normal", kind="initializer", out_dir=None)  # doctest: +SKIP
        >>> res.exit_code                                                 # doctest: +SKIP
        0
    """
    prof = get_profile(profile)
    obj, kind, name, register = _resolve(target, kind)
    claims = _declared_claims(obj)
    battery = BATTERIES[kind]
    depths = tuple(DEPTHS.get(prof.name, DEPTHS["full"]) if depths is None else depths)
    if not depths or any(isinstance(d, bool) or not isinstance(d, int) or d < 2 for d in depths):
        raise InvalidArgument(f"depths={depths!r} is invalid: must be integers >= 2")
    base_names = battery.baselines if baselines is None else tuple(baselines)
    for b in base_names:
        registry.lookup(kind, b)  # type: ignore[arg-type]
    width = BASE_WIDTH * prof.width_scale
    remedies = [(name, "candidate")] + [(b, "baseline") for b in base_names if b != name]
    rows: list[Row] = []

    def run_all() -> None:
        for remedy, role in remedies:
            for setting in battery.settings:
                for depth in depths:
                    rows.append(_run_row(remedy, role, setting, depth, width, prof, base_seed))

    if register:
        meta = dict(getattr(obj, "gradbench_meta", {}) or {})
        with registry.temporary(kind, name, GUARDS[kind](name, obj), **meta):  # type: ignore[arg-type]
            run_all()
    else:
        run_all()
    candidate_rows = [r for r in rows if r.role == "candidate"]
    results = tuple(ClaimResult(c, bool(CLAIMS[c][0](candidate_rows)), CLAIMS[c][1])
                    for c in claims)
    result = ValidationResult(target, kind, name, prof.name, results, tuple(rows))
    if out_dir is None:
        return result
    return _write(result, Path(out_dir), base_seed)


# --------------------------------------------------------------------------------------
# Output: the pytest plugin's JSON layout, plus HTML when gradbench.report can render it
# --------------------------------------------------------------------------------------


def _case(result: ValidationResult, row: Row, index: int) -> CaseRecord:
    label = row.label or f"{row.remedy}-{row.setting}-L{row.depth}"
    return CaseRecord.build(
        case=f"validate::{result.name}::{row.remedy}::{row.setting}::L{row.depth}#{index}",
        claim=f"validate:{result.kind}",
        spec=row.spec,
        label=label,
        measurement=row.measurement,
        verdict=row.verdict,
        source=SOURCE,
        extra={**row.summary(), "training": row.training},
        env=environment(row.measurement.device if row.measurement is not None else None),
    )


def results_document(result: ValidationResult, base_seed: int = 0) -> dict[str, Any]:
    """The results document (:func:`gradbench.records.results_document`) of a validation."""
    cases = [_case(result, row, i) for i, row in enumerate(result.rows)]
    run = RunInfo(
        profile=result.profile, base_seed=base_seed, devices=("cpu",),
        extra={"validate": {k: v for k, v in result.to_dict().items() if k != "rows"}},
    )
    machine = MachineInfo.from_cases(cases, platform_info(), environment())
    return records_document(run, machine, cases)


def _write(result: ValidationResult, out_dir: Path, base_seed: int) -> ValidationResult:
    json_path = storage.save(out_dir, f"validate-{storage.safe_name(result.name)}",
                             results_document(result, base_seed))
    html_path, note = None, ""
    try:
        from gradbench import report

        html_path = str(report.write_report([json_path], json_path.with_suffix(".html")))
    except Exception as exc:  # the JSON is already written; a rendering bug must not lose it
        note = f"rendering failed: {_one_sentence(exc)}"
    import dataclasses

    return dataclasses.replace(result, json_path=str(json_path), html_path=html_path,
                               html_note=note)
