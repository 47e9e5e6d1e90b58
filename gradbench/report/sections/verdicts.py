"""Verdicts: every case of every run, with its claim's numbers; failures first, collapsed
under a summary line, filterable and sortable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradbench.report.model import Case, Run
from gradbench.report.page import Page, Section

#: Row order: failures, then cases without a verdict, then passes (each in file order).
STATUS_ORDER = {"fail": 0, "none": 1, "pass": 2}


def quantity(claim: str) -> str:
    """What a claim's Predicted and Measured columns hold: its registered statistic."""
    from gradbench.claims import CLAIMS

    found = CLAIMS.get(claim)
    return found.statistic if found is not None else "not a registered claim"


def rows(page: Page) -> list[tuple[Run, Case]]:
    """Every case of every run, failures first (stable within a status)."""
    cases = [(r, c) for r in page.runs for c in r.cases]
    return sorted(cases, key=lambda rc: STATUS_ORDER[rc[1].status])


def _context(page: Page) -> Mapping[str, Any] | None:
    found = rows(page)
    if not found:
        return None
    failed = sum(1 for _, c in found if c.status == "fail")
    return {"rows": found, "failed": failed, "quantity": quantity}


SECTION = Section(
    "verdicts-section", "Verdicts", _context, template="verdicts.html.j2", nav="Verdicts"
)
