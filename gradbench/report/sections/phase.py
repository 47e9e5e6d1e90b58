"""Phase diagrams: measured against predicted phase over (σ_w², σ_b²), one chart per activation.

Reads ``extra["phase_point"]``: ``activation``, ``sigma_w2``, ``sigma_b2``,
``measured_log_growth``, ``predicted_log_growth`` and optionally ``critical_curve``
(``sigma_w2``/``sigma_b2`` arrays of the predicted order-to-chaos boundary).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from gradbench import stats
from gradbench.report import svg
from gradbench.report.growth import safe_exp
from gradbench.report.model import Case, Run, as_float, as_floats
from gradbench.report.page import CLASS_COLOR, CLASS_TEXT, Figures, Page, Section
from gradbench.report.text import config_label, num

INTRO = (
    "Each point is one measured (σ_w², σ_b²): filled by the class of the measured growth over "
    "its depth, ringed by the class of the predicted one; the dashed line is the predicted "
    "order-to-chaos boundary χ₁ = 1."
)

Point = tuple[Case, Mapping[str, Any]]


def _phase(log_growth: float, case: Case) -> str:
    """The class (:func:`gradbench.stats.classify_growth`) of a per-layer log growth over the
    L - 1 steps of the case's depth."""
    steps = int(case.spec.get("depth", 2)) - 1
    return stats.classify_growth(steps * log_growth, steps * log_growth)


def _critical_curve(
    ch: svg.Chart, items: Sequence[Point], xs: list[float], ys: list[float]
) -> None:
    """The predicted boundary, with the axes fitted to the measured grid (the curve clipped)."""
    curve = next(
        (pp["critical_curve"] for _, pp in items if isinstance(pp.get("critical_curve"), Mapping)),
        None,
    )
    if curve is None:
        return
    cx, cy = as_floats(curve.get("sigma_w2")), as_floats(curve.get("sigma_b2"))
    if cx is None or cy is None or cx.size != cy.size or not cx.size:
        return
    px = [v for v in xs if math.isfinite(v)]
    py = [v for v in ys if math.isfinite(v)]
    if px and py:
        xp = (max(px) - min(px)) * 0.07 or 0.5
        yp = (max(py) - min(py)) * 0.07 or 0.05
        ch.xlim = (min(px) - xp, max(px) + xp)
        ch.ylim = (min(py) - yp, max(py) + yp)
    ch.add(svg.Line(cx, cy, color="#222", dash=True, label="χ₁ = 1 (theory)"))


def phase_chart(page: Page, run: Run, activation: str, items: Sequence[Point]) -> svg.Chart:
    """One activation's phase points: fill = measured phase, ring = predicted phase."""
    xs = [as_float(pp.get("sigma_w2")) for _, pp in items]
    ys = [as_float(pp.get("sigma_b2")) for _, pp in items]
    measured = [as_float(pp.get("measured_log_growth")) for _, pp in items]
    predicted = [as_float(pp.get("predicted_log_growth")) for _, pp in items]
    meas = [_phase(v, c) for v, (c, _) in zip(measured, items)]
    pred = [_phase(v, c) for v, (c, _) in zip(predicted, items)]
    agree = sum(1 for a, b in zip(meas, pred) if a == b and a != "inconclusive")
    known = sum(1 for b in pred if b != "inconclusive")
    ch = svg.Chart(
        activation + page.suffix(run),
        "σ_w²",
        "σ_b²",
        width=540,
        height=290,
        legend_right=True,
        subtitle=f"theory's phase agrees at {agree} of {known} points"
        if known
        else "no predicted phases",
    )
    _critical_curve(ch, items, xs, ys)
    tips = [
        f"σ_w²={num(x)}, σ_b²={num(y)}: measured ×{num(safe_exp(lm))}/layer ({CLASS_TEXT[m]}), "
        f"predicted ×{num(safe_exp(lp))} ({CLASS_TEXT[p]}) — {config_label(c.label)}"
        for (c, _), x, y, lm, lp, m, p in zip(items, xs, ys, measured, predicted, meas, pred)
    ]
    ring = [CLASS_COLOR[p] for p in pred]
    ch.add(svg.Points(xs, ys, color="none", strokes=ring, radius=8.5, tips=tips))
    ch.add(svg.Points(xs, ys, color=[CLASS_COLOR[m] for m in meas], radius=5.5, tips=tips))
    for k in ("vanishing", "stable", "exploding"):
        ch.legend(f"measured {CLASS_TEXT[k]}", CLASS_COLOR[k])
    ch.legend("ring: predicted phase", "#555", "ring")
    return ch


def _context(page: Page) -> Mapping[str, Any] | None:
    charts = []
    for r in page.runs:
        by_activation: dict[str, list[Point]] = {}
        for c, pp in page.extras(r, "phase_point"):
            activation = str(pp.get("activation", c.spec.get("activation", "?")))
            by_activation.setdefault(activation, []).append((c, pp))
        charts += [phase_chart(page, r, a, by_activation[a]) for a in sorted(by_activation)]
    if not charts:
        return None
    return {"intro": INTRO, "blocks": [Figures(charts, wide=True)]}


SECTION = Section("phase", "Phase diagrams", _context)
