"""Verdicts: every case of every run, with its claim's numbers; filterable and sortable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradbench.report.page import Page, Section


def _context(page: Page) -> Mapping[str, Any] | None:
    rows = [(r, c) for r in page.runs for c in r.cases]
    return {"rows": rows} if rows else None


SECTION = Section(
    "verdicts-section", "Verdicts", _context, template="verdicts.html.j2", nav="Verdicts"
)
