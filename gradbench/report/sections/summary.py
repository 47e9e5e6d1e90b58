"""Summary: counts, the worst offenders, and measured against predicted growth per layer."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gradbench.report import svg
from gradbench.report.growth import CLASSES, STABLE_WITHIN, Growth
from gradbench.report.page import CLASS_COLOR, CLASS_TEXT, Config, Page, Section, worst
from gradbench.report.text import num

#: Rows in the worst-offenders table.
WORST_ROWS = 10


@dataclass(frozen=True)
class Mark:
    """One verdict mark in a configuration's row (``grouped``: one mark per outcome)."""

    cls: str
    title: str
    text: str
    grouped: bool


def marks(cfg: Config, grouped: bool) -> list[Mark]:
    """The verdicts of a configuration: one mark per claim, or one per outcome."""
    if not grouped:
        return [
            Mark(
                "pass" if c.verdict.passed else "fail",
                c.case,
                f"{'✓' if c.verdict.passed else '✗'} {c.claim}",
                False,
            )
            for c in cfg.cases
            if c.verdict is not None
        ]
    out = []
    for passed, mark, word in ((False, "✗", "failed"), (True, "✓", "passed")):
        claims = [c.claim for c in cfg.verdicts(passed)]
        if claims:
            cls = "pass" if passed else "fail"
            out.append(
                Mark(cls, f"{word}: {', '.join(claims)}", f"{mark} {len(claims)} {word}", True)
            )
    return out


def bad_norms(g: Growth) -> list[str]:
    """``["3 inf", "1 nan"]``: the gradient norms that are not finite and positive."""
    counts = ((g.n_inf, "inf"), (g.n_nan, "nan"), (g.n_zero, "zero"))
    return [f"{n} {what}" for n, what in counts if n]


def _cards(page: Page) -> list[tuple[str, int, str]]:
    k = page.counts(page.runs[0])
    cards = [("pass", k["pass"], "checks passed"), ("fail", k["fail"], "checks failed")]
    if k["configurations"]:  # the classes of configurations, when the run measured some
        cards += [
            ("vanishing", k["vanishing"], f"vanishing (×<1/{STABLE_WITHIN:g} over the depth)"),
            ("stable", k["stable"], "stable"),
            ("exploding", k["exploding"], f"exploding (×>{STABLE_WITHIN:g} over the depth)"),
        ]
    if k["nonfinite"]:
        cards.append(("nonfinite", k["nonfinite"], "non-finite (NaN)"))
    if k["inconclusive"]:
        cards.append(("inconclusive", k["inconclusive"], "inconclusive"))
    if k["none"]:
        cards.append(("none", k["none"], "cases without verdict"))
    return cards


def _log10(v: float) -> float:
    return math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)


def _plottable(cfg: Config) -> bool:
    """A predicted factor the log-log scatter can place."""
    return math.isfinite(cfg.predicted) and cfg.predicted > 0


def growth_scatter(page: Page, cfgs: Sequence[Config]) -> svg.Chart | None:
    """Measured against predicted factor per layer, one point per configuration (log-log)."""
    pts = [c for c in cfgs if _plottable(c)]
    if not pts:
        return None
    xs = [math.log10(c.predicted) for c in pts]
    ys = [math.log10(c.growth.factor) if c.growth.factor > 0 else -math.inf for c in pts]
    fin = [v for v in xs + ys if math.isfinite(v)]
    lo, hi = min(fin), max(fin)
    pad = max((hi - lo) * 0.08, 0.01)
    lim = (lo - pad, hi + pad)
    ch = svg.Chart(
        "Measured vs predicted growth per layer",
        "predicted factor per layer",
        "measured factor per layer",
        width=385,
        height=300,
        xlog=True,
        ylog=True,
        xlim=lim,
        ylim=lim,
        subtitle="one point per configuration; diagonal = theory agrees",
    )
    ch.add(svg.Line(lim, lim, color="#999", dash=True, width=1.0))
    for klass in CLASSES:
        sel = [c for c in pts if c.growth.klass == klass]
        if not sel:
            continue
        tips = [
            f"{c.run.label + ': ' if page.multi else ''}{c.label}: "
            f"measured ×{num(c.growth.factor)} "
            f"[{num(c.growth.factor_low)}, {num(c.growth.factor_high)}], predicted "
            f"×{num(c.predicted)}; {c.growth.words}"
            for c in sel
        ]
        ch.add(
            svg.Points(
                [math.log10(c.predicted) for c in sel],
                [_log10(c.growth.factor) for c in sel],
                color=CLASS_COLOR[klass],
                label=CLASS_TEXT[klass],
                tips=tips,
                err_lo=[_log10(c.growth.factor_low) for c in sel],
                err_hi=[_log10(c.growth.factor_high) for c in sel],
            )
        )
    return ch


def _context(page: Page) -> Mapping[str, Any]:
    # the latest run that measured gradients (a validation of an optimizer measures none)
    last = next((r for r in reversed(page.runs) if page.configs[r.label]), page.runs[-1])
    latest = page.configs[last.label]
    shown = worst(latest, WORST_ROWS)
    n_bad = sum(1 for c in latest if c.growth.klass not in ("stable", "inconclusive"))
    first = page.runs[0]
    scatter = growth_scatter(page, latest)
    everything = sorted(page.all_configs(), key=lambda c: (c.family, c.label, c.run.label))
    return {
        "cards": _cards(page),
        "last": last,
        "latest": latest,
        "worst": shown,
        "not_shown": n_bad - len(shown) if n_bad > len(shown) else 0,
        "before": (first.label, {c.key: c for c in page.configs[first.label]})
        if page.multi and last is not first  # the base alone measured: no before
        else None,
        "scatter": scatter,
        "unpredicted": sum(1 for c in latest if not _plottable(c)),
        "everything": everything,
        "marks": marks,
        "bad_norms": bad_norms,
    }


SECTION = Section("summary", "Summary", _context, template="summary.html.j2")
