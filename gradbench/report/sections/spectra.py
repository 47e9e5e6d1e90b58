"""Jacobian spectra: histograms of the eigenvalues of J Jᵀ, per configuration and weights.

Reads ``extra["spectrum"]``: ``weights`` (e.g. ``gaussian``, ``orthogonal``),
``eigenvalues`` and ``predicted_normalized_variance``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradbench.report import svg
from gradbench.report.model import Case, Run, as_float, as_floats
from gradbench.report.page import Figures, Page, Section
from gradbench.report.text import config_label, num

#: Histogram bins per chart.
BINS = 30
_WEIGHT_COLORS = {"gaussian": "#e67e22", "orthogonal": "#2471a3"}

Spectrum = tuple[Case, Mapping[str, Any]]


def _normalized_variance(ev: np.ndarray) -> float:
    if not ev.size or not np.all(np.isfinite(ev)):
        return math.nan
    with np.errstate(all="ignore"):
        return float(np.var(ev) / np.mean(ev) ** 2)


def spectrum_chart(page: Page, run: Run, label: str, items: Sequence[Spectrum]) -> svg.Chart:
    """The log-eigenvalue histograms of one configuration, one series per weight kind."""
    hists = []
    notes = []
    for _, sp in items:
        ev = as_floats(sp.get("eigenvalues"))
        ev = ev if ev is not None else np.zeros(0)
        pos = ev[np.isfinite(ev) & (ev > 0)]
        hists.append((str(sp.get("weights", "?")), ev, np.log10(pos) if pos.size else pos))
        theory = num(as_float(sp.get("predicted_normalized_variance")))
        notes.append(
            f"{sp.get('weights', '?')}: var/mean² {num(_normalized_variance(ev))} (theory {theory})"
        )
    logs = np.concatenate([h[2] for h in hists]) if hists else np.zeros(0)
    note = "; ".join(notes)
    ch = svg.Chart(
        config_label(label) + page.suffix(run),
        "eigenvalue of J Jᵀ (log scale)",
        "count",
        xlog=True,
        width=420,
        height=270,
        subtitle=note,
        tooltip=note,
    )
    if not logs.size:
        return ch
    lo, hi = float(logs.min()), float(logs.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    for i, (weights, ev, lv) in enumerate(sorted(hists, key=lambda h: h[0])):
        counts, _ = np.histogram(lv, bins=edges)
        dropped = ev.size - lv.size
        name = weights + (f" ({dropped} ≤ 0 or non-finite)" if dropped else "")
        color = _WEIGHT_COLORS.get(weights, svg.PALETTE[i % len(svg.PALETTE)])
        ch.add(svg.Bars(edges, counts.astype(float), color=color, label=name))
    return ch


def _context(page: Page) -> Mapping[str, Any] | None:
    charts = []
    skipped = []
    for r in page.runs:
        by_label: dict[str, list[Spectrum]] = {}
        for c, sp in page.extras(r, "spectrum"):
            ev = as_floats(sp.get("eigenvalues"))
            if ev is None or ev.size == 0:
                skipped.append(c.label)
            else:
                by_label.setdefault(c.label, []).append((c, sp))
        charts += [spectrum_chart(page, r, label, by_label[label]) for label in sorted(by_label)]
    if not charts and not skipped:
        return None
    return {"blocks": [Figures(charts)], "skipped": skipped}


SECTION = Section(
    "spectra", "Jacobian spectra", _context, template="spectra.html.j2", nav="Spectra"
)
