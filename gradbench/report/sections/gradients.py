"""Gradient norm vs layer: one panel per configuration, the runs overlaid (MLP, residual).

:func:`gradient_chart`, :func:`grouped` and :func:`panels` also draw the per-configuration
panels of the RNN section.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gradbench.report import svg
from gradbench.report.growth import theory_log10
from gradbench.report.model import canonical
from gradbench.report.page import (
    CLASS_COLOR,
    MAX_PANELS,
    Config,
    Figures,
    Page,
    Section,
    family,
    family_order,
)
from gradbench.report.text import config_label, num

#: The least vertical range of a panel, in decades: a flat curve (a norm-preserving remedy)
#: is drawn flat in the middle of a factor-of-2 range, not stretched over rounding noise.
MIN_DECADES = math.log10(2.0)


def _fit_theory(ch: svg.Chart, measured: list[float], theory: Iterable[float] | None) -> None:
    """Fit the y range to the measurement; show theory, but never let it squash the data."""
    if not measured:
        return
    lo, hi = min(measured), max(measured)
    span = max(hi - lo, 1.0)
    tf = [v for v in theory if math.isfinite(v)] if theory is not None else []
    if tf:
        lo = max(min(lo, min(tf)), lo - 2 * span)
        hi = min(max(hi, max(tf)), hi + 2 * span)
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    if hi - lo < MIN_DECADES:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_DECADES / 2, mid + MIN_DECADES / 2
    ch.ylim = (lo, hi)


def _add_run(page: Page, ch: svg.Chart, cfg: Config, xlabel: str, first: bool) -> list[float]:
    """Band, mean line and clipped non-finite markers of one run; returns the finite values."""
    g = cfg.growth
    x = list(range(1, g.sites + 1))
    color = page.run_color(cfg.run)
    name = cfg.run.label if page.multi else f"measured (mean of {g.seeds} seeds, 95% CI)"
    tips = [f"{xlabel} {t}: ‖dL/dh‖ = 10^{num(m, 4)}" for t, m in zip(x, g.mean_log10)]
    ch.add(svg.Band(x, g.low_log10, g.high_log10, color=color))
    ch.add(svg.Line(x, g.mean_log10, color=color, label=name, markers=g.sites <= 40, tips=tips))
    bad = [(t, int(b)) for t, b in zip(x, g.bad_sites) if b]
    if bad:
        up = bool(g.n_inf or g.n_nan)
        ch.add(
            svg.Points(
                [t for t, _ in bad],
                [math.inf if up else -math.inf for _ in bad],
                color=CLASS_COLOR["exploding" if up else "vanishing"],
                radius=3,
                label="non-finite / zero (clipped)" if first else None,
                tips=[
                    f"{xlabel} {t}: {b} of {g.seeds} seeds not finite and positive" for t, b in bad
                ],
            )
        )
    values = [*g.mean_log10, *g.low_log10, *g.high_log10]
    return [float(v) for v in values if math.isfinite(v)]


def gradient_chart(page: Page, cfgs: Sequence[Config], xlabel: str) -> svg.Chart:
    """One configuration (from one or more runs): mean log norm per site, CI band, theory."""
    first = cfgs[0]
    measured = " → ".join(f"×{num(c.growth.factor)}" for c in cfgs)
    drift = first.drift
    theory_text = f" · theory ×{num(first.predicted)}" if math.isfinite(first.predicted) else ""
    if theory_text and drift is not None:
        theory_text += f", ×{num(first.predicted * math.exp(drift))} with finite-width drift"
    ch = svg.Chart(
        config_label(first.label),
        xlabel,
        "‖dL/dh‖ (log scale)",
        ylog=True,
        xint=True,
        subtitle=f"measured {measured}{family(first.family).per}{theory_text}",
        tooltip=f"{config_label(first.label)}\n{first.family} spec: "
        f"{canonical(first.measurement.spec)}",
    )
    values: list[float] = []
    theory = None
    for i, c in enumerate(cfgs):
        values += _add_run(page, ch, c, xlabel, first=i == 0)
        if theory is None:
            drift = c.drift
            theory = theory_log10(c.prediction, c.growth, drift or 0.0)
    if theory is not None:
        x = list(range(1, len(theory) + 1))
        label = "theory" if drift is None else "theory + finite-width drift"
        ch.add(svg.Line(x, theory, color="#444", dash=True, label=label))
    _fit_theory(ch, values, theory)
    return ch


def grouped(page: Page, keep: Callable[[str], bool]) -> dict[str, list[list[Config]]]:
    """Configurations of the kept families, the runs of each one together, by family."""
    by: dict[tuple[str, str, str], list[Config]] = {}
    for c in page.all_configs():
        if keep(c.family):
            by.setdefault((c.family, *c.key), []).append(c)
    out: dict[str, list[list[Config]]] = {}
    for key in sorted(by, key=lambda k: (family_order(k[0]), k[1], k[2])):
        out.setdefault(key[0], []).append(by[key])
    return out


def panels(page: Page, groups: Sequence[list[Config]], xlabel: str, heading: str = "") -> Figures:
    """A grid of :func:`gradient_chart` panels (at most :data:`MAX_PANELS`, the rest named)."""
    return Figures(
        charts=[gradient_chart(page, cfgs, xlabel) for cfgs in groups[:MAX_PANELS]],
        heading=heading,
        omitted=[config_label(g[0].label) for g in groups[MAX_PANELS:]],
    )


def _context(page: Page) -> Mapping[str, Any] | None:
    families = grouped(page, lambda name: not family(name).over_time)
    if not families:
        return None
    blocks = [
        panels(page, groups, family(name).site, f"{family(name).title} ({len(groups)})")
        for name, groups in families.items()
    ]
    return {"blocks": blocks}


SECTION = Section(
    "gradients", "Gradient norm vs layer", _context, template="gradients.html.j2", nav="Gradients"
)
