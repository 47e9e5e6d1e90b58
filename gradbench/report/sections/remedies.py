"""Remedies: every remedy the run covered, its origin, and the claims it kept or broke."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradbench.report.page import Page, Section

ORIGIN_ORDER = {"candidate": 0, "third-party": 1, "built-in": 2}


@dataclass
class RemedyRow:
    """One remedy of one run: cases passed per claim, and the claims it broke."""

    run: str
    kind: str
    name: str
    origin: str
    passed: int = 0
    total: int = 0
    broken: dict[str, int] = field(default_factory=dict)


def rows(page: Page) -> list[RemedyRow]:
    """Per run and remedy, sorted candidate, third-party, built-in, then kind and name."""
    table: dict[tuple[str, str, str], RemedyRow] = {}
    for run in page.runs:
        for case in run.cases:
            if case.remedy is None or case.verdict is None:
                continue
            r = case.remedy
            row = table.setdefault((run.label, r["kind"], r["name"]),
                                   RemedyRow(run.label, r["kind"], r["name"], r["origin"]))
            row.total += 1
            if case.verdict.passed:
                row.passed += 1
            else:
                row.broken[case.claim] = row.broken.get(case.claim, 0) + 1
    return sorted(table.values(), key=lambda r: (r.run, ORIGIN_ORDER.get(r.origin, 3),
                                                 r.kind, r.name))


def _context(page: Page) -> Mapping[str, Any] | None:
    found = rows(page)
    return {"rows": found} if found else None


SECTION = Section("remedies", "Remedies", _context, template="remedies.html.j2",
                  nav="Remedies")
