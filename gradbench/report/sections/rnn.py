"""RNN: gradient decay vs time step, all cells of a run in one chart, then one per cell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradbench.report import svg
from gradbench.report.page import Figures, Page, Section, family
from gradbench.report.sections.gradients import grouped, panels
from gradbench.report.text import config_label

#: Cells per overview chart, and at most this many cells in the overview of a run.
PER_CHART, OVERVIEW = 8, 40


def _overview(page: Page) -> list[svg.Chart]:
    charts = []
    for r in page.runs:
        cfgs = [c for c in page.configs[r.label] if family(c.family).over_time]
        for start in range(0, min(len(cfgs), OVERVIEW), PER_CHART):
            chunk = cfgs[start : start + PER_CHART]
            title = "All RNN configurations" + page.suffix(r)
            if len(cfgs) > PER_CHART:
                title += f" {start + 1}–{start + len(chunk)}"
            ch = svg.Chart(
                title,
                family("rnn").site,
                "‖dL/dh_t‖ (log scale)",
                ylog=True,
                xint=True,
                width=460,
                height=280,
            )
            for j, c in enumerate(chunk):
                x = list(range(1, c.growth.sites + 1))
                color = svg.PALETTE[j % len(svg.PALETTE)]
                ch.add(svg.Line(x, c.growth.mean_log10, color=color, label=config_label(c.label)))
            charts.append(ch)
    return charts


def _context(page: Page) -> Mapping[str, Any] | None:
    over_time = grouped(page, lambda name: family(name).over_time)
    groups = [g for name in over_time for g in over_time[name]]
    if not groups:
        return None
    return {"blocks": [Figures(_overview(page)), panels(page, groups, family("rnn").site)]}


SECTION = Section(
    "rnn", "RNN: gradient decay vs time step", _context, template="rnn.html.j2", nav="RNN"
)
