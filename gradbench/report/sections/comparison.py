"""Run comparison: every case of each comparison, with both verdicts and what changed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gradbench.report.compare import CaseDelta, Comparison
from gradbench.report.model import Case
from gradbench.report.page import Page, Section
from gradbench.report.text import num

#: Row order (and sort key) by status.
ORDER = {"regression": 0, "improvement": 1, "same": 2, "only_base": 3, "only_new": 4}


@dataclass(frozen=True)
class Row:
    """One row: a matched case (with its delta) or a case found in one run only."""

    status: str
    base: Case | None
    new: Case | None
    delta: CaseDelta | None = None

    @property
    def rank(self) -> int:
        return ORDER[self.status]

    @property
    def case(self) -> Case:
        case = self.new or self.base
        assert case is not None
        return case

    @property
    def delta_measured(self) -> float:
        return self.delta.delta_measured if self.delta else math.nan

    @property
    def delta_ci_width(self) -> float:
        return self.delta.delta_ci_width if self.delta else math.nan

    @property
    def factors(self) -> str:
        """``×before → ×after`` per-layer growth, or a dash."""
        d = self.delta
        if d is None or not (math.isfinite(d.base_factor) or math.isfinite(d.new_factor)):
            return "—"
        return f"×{num(d.base_factor)} → ×{num(d.new_factor)}"


def rows(comp: Comparison) -> list[Row]:
    """Matched cases (regressions first), then the removed ones, then the new ones."""
    out = [Row(d.status, d.base, d.new, d) for d in comp.deltas]
    out += [Row("only_base", c, None) for c in comp.only_base]
    out += [Row("only_new", None, c) for c in comp.only_new]
    return out


def _context(page: Page) -> Mapping[str, Any] | None:
    if not page.comparisons:
        return None
    return {"tables": [{"comparison": c, "rows": rows(c)} for c in page.comparisons]}


SECTION = Section(
    "comparison", "Run comparison", _context, template="comparison.html.j2", nav="Comparison"
)
