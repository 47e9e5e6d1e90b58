"""Optimizer update ratios: per-layer ‖ΔW‖/‖W‖ and ‖dL/dW‖ of the first steps, per optimizer.

Reads ``extra["update_ratios"]``: ``optimizer``, ``layers``, ``update_weight_ratio`` and
``grad_norm`` (one value per layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradbench.report import svg
from gradbench.report.model import Case, Run, as_floats
from gradbench.report.page import Figures, Page, Section
from gradbench.report.text import config_label, num

INTRO = (
    "Per-layer size of the first optimizer steps relative to the weights, and the "
    "weight-gradient norms, per optimizer."
)
#: The charts drawn per configuration: extra key, y-axis label, subtitle.
QUANTITIES = (
    ("update_weight_ratio", "‖ΔW‖/‖W‖ (log scale)", "update / weight ratio per layer"),
    ("grad_norm", "‖dL/dW‖ (log scale)", "weight-gradient norm per layer"),
)

Updates = tuple[Case, Mapping[str, Any]]


def _layer_axis(layers: Any, n: int) -> list[float]:
    """The recorded integer layer indices, or 1..n."""
    if isinstance(layers, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in layers
    ):
        return [float(v) for v in layers][:n]
    return [float(j + 1) for j in range(n)]


def _log10(ys: np.ndarray) -> np.ndarray:
    """log10 of positive values; zero becomes -inf (drawn on the edge), the rest NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            ys > 0, np.log10(np.where(ys > 0, ys, 1.0)), np.where(ys == 0, -np.inf, np.nan)
        )


def update_chart(
    page: Page, run: Run, label: str, items: Sequence[Updates], quantity: tuple[str, str, str]
) -> svg.Chart | None:
    """One quantity of one configuration, a line per optimizer; ``None`` if none has data."""
    key, ylabel, subtitle = quantity
    ch = svg.Chart(
        f"{subtitle}: {config_label(label)}{page.suffix(run)}",  # two charts per configuration
        "layer",
        ylabel,
        ylog=True,
        xint=True,
        width=400,
        height=260,
        subtitle=subtitle,
    )
    for i, (_, ur) in enumerate(items):
        ys = as_floats(ur.get(key))
        if ys is None or ys.size == 0:
            continue
        layers = ur.get("layers")
        names = [str(v) for v in layers] if isinstance(layers, list) else []
        ly = _log10(ys)
        opt = str(ur.get("optimizer", "?"))
        tips = [
            f"{opt}, layer {names[j] if j < len(names) else j + 1}: {num(v)}"
            for j, v in enumerate(ys)
        ]
        color = svg.PALETTE[i % len(svg.PALETTE)]
        x = _layer_axis(layers, ys.size)[: len(ly)]
        ch.add(svg.Line(x, ly, color=color, label=opt, markers=True, tips=tips))
    return ch if ch.series else None


def _context(page: Page) -> Mapping[str, Any] | None:
    charts = []
    for r in page.runs:
        by_label: dict[str, list[Updates]] = {}
        for c, ur in page.extras(r, "update_ratios"):
            by_label.setdefault(c.label, []).append((c, ur))
        for label in sorted(by_label):
            items = sorted(by_label[label], key=lambda t: str(t[1].get("optimizer", "?")))
            for quantity in QUANTITIES:
                ch = update_chart(page, r, label, items, quantity)
                if ch is not None:
                    charts.append(ch)
    if not charts:
        return None
    return {"intro": INTRO, "blocks": [Figures(charts)]}


SECTION = Section("updates", "Optimizer update ratios", _context, nav="Updates")
