"""The page model: what one report shows, and the :class:`Section` a page is made of.

A :class:`Page` holds the runs, their measured configurations (:class:`Config`: one
spec of one run, with its growth fit and prediction) and the run comparisons. A
:class:`Section` is one part of the page: an id (its anchor and navigation link), a
title, and a ``context`` function that picks what the section shows from the page, or
returns ``None`` when the page has nothing for it. The sections live in
:mod:`gradbench.report.sections`, one module each, and
:data:`gradbench.report.sections.SECTIONS` lists them in page order.

Sections build charts as :class:`gradbench.report.svg.Chart` objects; the templates
draw them with ``draw(chart)``, which gives each chart the page's next clip-path id, in
document order.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gradbench import records
from gradbench.errors import InvalidArgument
from gradbench.report import svg
from gradbench.report.compare import Comparison, compare_runs
from gradbench.report.growth import CLASSES, Growth, measured_growth, predicted_factor
from gradbench.report.model import Case, Run

__all__ = [
    "CLASS_COLOR",
    "CLASS_TEXT",
    "MAX_PANELS",
    "Config",
    "Family",
    "Figures",
    "Page",
    "Section",
    "configurations",
    "family",
    "family_order",
    "worst",
]

#: How each growth class is written and coloured.
CLASS_TEXT = {
    "exploding": "exploding",
    "nonfinite": "non-finite",
    "vanishing": "vanishing",
    "stable": "stable",
    "inconclusive": "inconclusive",
}
CLASS_COLOR = {
    "exploding": "#c0392b",
    "nonfinite": "#7d3c98",
    "vanishing": "#2471a3",
    "stable": "#1e8449",
    "inconclusive": "#7f8c8d",
}
#: Per-configuration panels drawn per section; the rest are listed by name.
MAX_PANELS = 120


# --------------------------------------------------------------------------------------
# Network families as the report shows them, from each spec family's FamilyInfo
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """How the report titles a network family and labels its per-site axis."""

    title: str
    site: str  # x-axis label of the per-site gradient plots
    per: str  # what one growth factor is per
    over_time: bool = False  # sites are time steps: drawn in the RNN section


def family(name: str) -> Family:
    """The report's view of a spec family, from the family's own declaration
    (``FamilyInfo`` on its spec class; unknown families: their name, per layer)."""
    from gradbench.specs import spec_types

    spec_type = spec_types().get(name)
    if spec_type is None:
        return Family(name, "layer l", "/layer")
    info = spec_type.info
    return Family(info.title, info.x_label, info.per_site, info.over_time)


def family_order(name: str) -> tuple[int, str]:
    """Sort key: the registered families in their order, then the others by name."""
    from gradbench.specs import spec_types

    order = list(spec_types())
    return (order.index(name) if name in order else len(order), name)


# --------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------


@dataclass
class Config:
    """One measured configuration of one run, with everything the page shows about it."""

    run: Run
    key: tuple[str, str]
    label: str
    family: str
    measurement: records.Measurement
    prediction: records.Prediction | None
    growth: Growth
    predicted: float
    cases: list[Case] = field(default_factory=list)

    @property
    def pred_note(self) -> str:
        """Why there is no per-layer prediction (empty when there is one)."""
        p = self.prediction
        if p is None:
            return "no prediction"
        if not p.valid:
            return f"outside theory's domain: {p.reason}" if p.reason else "outside theory's domain"
        if p.log_growth is None:
            return p.reason or "no per-layer prediction"
        return ""

    @property
    def drift(self) -> float | None:
        """The per-layer finite-width drift theory adds to its prediction for this
        measurement (:func:`gradbench.theory.finite_width_drift`), or ``None``."""
        from gradbench.theory import finite_width_drift

        p = self.prediction
        return None if p is None else finite_width_drift(p, self.measurement.batch)

    @property
    def has_prediction(self) -> bool:
        """A predicted factor to show (possibly non-finite, e.g. an overflow)."""
        return math.isfinite(self.predicted) or (
            self.prediction is not None and self.pred_note == ""
        )

    def verdicts(self, passed: bool) -> list[Case]:
        """This configuration's cases whose verdict passed (or failed)."""
        return [c for c in self.cases if c.verdict is not None and c.verdict.passed == passed]


def configurations(run: Run) -> list[Config]:
    """The measured configurations of ``run``, in order of first appearance.

    Cases with the same :attr:`Case.config_key` share one configuration; its
    measurement is the first one met, its prediction the first one given.
    """
    found: dict[tuple[str, str], Config] = {}
    for c in run.cases:
        if c.measurement is None:
            continue
        cfg = found.get(c.config_key)
        if cfg is None:
            found[c.config_key] = Config(
                run=run,
                key=c.config_key,
                label=c.label,
                family=c.family,
                measurement=c.measurement,
                prediction=c.prediction,
                growth=measured_growth(c.measurement, family(c.family).per.lstrip("/")),
                predicted=predicted_factor(c.prediction),
            )
        elif cfg.prediction is None and c.prediction is not None:
            cfg.prediction = c.prediction
            cfg.predicted = predicted_factor(c.prediction)
    for c in run.cases:
        if c.config_key in found:
            found[c.config_key].cases.append(c)
    return list(found.values())


def _severity(cfg: Config) -> tuple[int, float, str]:
    order = {"exploding": 0, "nonfinite": 0, "vanishing": 0, "stable": 1, "inconclusive": 2}
    f = cfg.growth.factor
    mag = abs(math.log(f)) if math.isfinite(f) and f > 0 else math.inf
    if cfg.growth.n_inf or cfg.growth.n_nan or cfg.growth.n_zero:
        mag = math.inf
    return (order[cfg.growth.klass], -mag, cfg.label)


def worst(cfgs: Sequence[Config], limit: int) -> list[Config]:
    """The most severe non-stable configurations, exploding and vanishing ones shared fairly.

    Each side (exploding or non-finite; vanishing) gets up to half the rows, the other
    side's leftover rows go to whichever has more; the result is sorted by severity.
    """
    boom = sorted((c for c in cfgs if c.growth.klass in ("exploding", "nonfinite")),
                  key=_severity)
    fade = sorted((c for c in cfgs if c.growth.klass == "vanishing"), key=_severity)
    half = limit // 2
    take_boom = min(len(boom), max(half, limit - len(fade)))
    take_fade = min(len(fade), limit - take_boom)
    return sorted(boom[:take_boom] + fade[:take_fade], key=_severity)


def _unique_labels(runs: Sequence[Run]) -> list[Run]:
    seen: dict[str, int] = {}
    out: list[Run] = []
    for r in runs:
        n = seen.get(r.label, 0)
        seen[r.label] = n + 1
        if n:
            r = dataclasses.replace(r, label=f"{r.label}#{n + 1}")
        out.append(r)
    return out


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


def baseline_comparisons(runs: Sequence[Run], baseline: Run | None = None) -> list[Comparison]:
    """Each run compared with its baseline: ``baseline`` when given, else the latest run
    before it (in the order given: numbered results sort oldest first) that shares a
    case with it and validated the same remedy (``gradbench validate``'s candidate; none for
    ``gradbench run``). A run that shares no case with any earlier run (another selection),
    or validates another remedy (the conformance page: each run's built-in cases are shared,
    but a validation compares with nothing but itself), is compared with nothing rather than
    called free of regressions.
    """
    out: list[Comparison] = []
    for i, run in enumerate(runs):
        if baseline is not None:
            candidates = [] if run.path == baseline.path else [baseline]
        else:
            candidates = [base for base in reversed(runs[:i])
                          if base.gradbench_info.get("candidate")
                          == run.gradbench_info.get("candidate")]
        for base in candidates:
            comparison = compare_runs(base, run)
            if comparison.shared:
                out.append(comparison)
                break
    return out


@dataclass
class Page:
    """Everything one report page shows.

    Attributes:
        runs: the runs, labels made unique (``name#2``).
        configs: each run's measured configurations, by run label.
        comparisons: each run compared with its baseline (:func:`baseline_pairs`).
        title: the page title.
    """

    runs: list[Run]
    configs: dict[str, list[Config]]
    comparisons: list[Comparison]
    title: str

    @classmethod
    def from_runs(
        cls,
        runs: Sequence[Run],
        comparisons: Sequence[Comparison] | None = None,
        title: str | None = None,
        baseline: Run | None = None,
    ) -> Page:
        """The page for ``runs``; comparisons and title default as :func:`render_report` says.

        Raises:
            InvalidArgument: no runs.
        """
        unique = _unique_labels(list(runs))
        if not unique:
            raise InvalidArgument("render_report needs at least one run")
        if comparisons is None:
            comparisons = baseline_comparisons(unique, baseline)
        if title is None:
            validated = len(unique) > 1 and all(r.gradbench_info.get("candidate") for r in unique)
            title = "gradbench report" + (
                f": {unique[0].label}"
                if len(unique) == 1
                else f": {len(unique)} remedies validated"
                if validated
                else f": {unique[0].label} vs {', '.join(r.label for r in unique[1:])}"
            )
        return cls(
            runs=unique,
            configs={r.label: configurations(r) for r in unique},
            comparisons=list(comparisons),
            title=title,
        )

    @property
    def multi(self) -> bool:
        """More than one run: tables get a run column, plots overlay the runs."""
        return len(self.runs) > 1

    def suffix(self, run: Run) -> str:
        """`` (label)`` to tell a run's panels apart when the page has several runs."""
        return f" ({run.label})" if self.multi else ""

    def run_color(self, run: Run) -> str:
        """The colour of ``run``'s series where plots overlay the runs."""
        labels = [r.label for r in self.runs]
        return (
            svg.PALETTE[labels.index(run.label) % len(svg.PALETTE)]
            if self.multi
            else svg.PALETTE[0]
        )

    def extras(self, run: Run, key: str) -> list[tuple[Case, Mapping[str, Any]]]:
        """``run``'s cases that carry the ``extra[key]`` object, with that object."""
        out = []
        for c in run.cases:
            value = c.extra.get(key)
            if isinstance(value, Mapping):
                out.append((c, value))
        return out

    def all_configs(self) -> list[Config]:
        """Every configuration of every run, run by run."""
        return [c for r in self.runs for c in self.configs[r.label]]

    def counts(self, run: Run) -> dict[str, int]:
        """Cases by status and configurations by growth class, for ``run``."""
        out = {"cases": len(run.cases), "pass": 0, "fail": 0, "none": 0, "configurations": 0}
        for c in run.cases:
            out[c.status] += 1
        for k in CLASSES:
            out[k] = 0
        for cfg in self.configs[run.label]:
            out[cfg.growth.klass] += 1
            out["configurations"] += 1
        return out


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One part of the report page.

    Attributes:
        id: the ``<section>`` element's id, its link in the navigation and its anchor.
        title: the section heading.
        context: picks what the section shows from the page: the template's variables,
            or ``None`` to leave the section (and its navigation link) out.
        template: the template that renders it (in ``gradbench/report/templates``);
            the default draws the context's ``intro`` and ``blocks`` of figures.
        nav: the navigation link text (default: the title).
    """

    id: str
    title: str
    context: Callable[[Page], Mapping[str, Any] | None]
    template: str = "figures.html.j2"
    nav: str = ""

    @property
    def link(self) -> str:
        """The navigation link text."""
        return self.nav or self.title


@dataclass(frozen=True)
class Figures:
    """A grid of charts under an optional heading (one block of a figures section).

    Attributes:
        charts: the charts, drawn in this order.
        heading: an ``<h3>`` above the grid.
        wide: wider cells (for charts with the legend on the right).
        omitted: labels of configurations not drawn (more than :data:`MAX_PANELS`).
    """

    charts: Sequence[svg.Chart]
    heading: str = ""
    wide: bool = False
    omitted: Sequence[str] = ()
