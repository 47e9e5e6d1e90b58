"""Timings: ordinary pytest-benchmark results (benchmarks without a gradbench record)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gradbench.report.model import Run, Timing, as_float
from gradbench.report.page import Page, Section

#: The pytest-benchmark statistics shown, in seconds.
STATISTICS = ("min", "median", "mean", "stddev", "max")


@dataclass(frozen=True)
class Row:
    """One benchmark of one run."""

    run: Run
    timing: Timing

    @property
    def values(self) -> list[float]:
        stats = self.timing.stats or {}
        return [as_float(stats.get(key)) for key in STATISTICS]

    @property
    def rounds(self) -> Any:
        return (self.timing.stats or {}).get("rounds")

    @property
    def rounds_value(self) -> float:
        return as_float(self.rounds)


def _context(page: Page) -> Mapping[str, Any] | None:
    rows = [Row(r, t) for r in page.runs for t in r.timings]
    return {"rows": rows, "statistics": STATISTICS} if rows else None


SECTION = Section("timings", "Timings", _context, template="timings.html.j2")
