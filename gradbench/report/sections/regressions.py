"""Regressions: at the top of a comparison page, what passed before and fails now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradbench.report.page import Page, Section

#: Regressions listed per comparison; the rest are counted.
SHOWN = 10


def _context(page: Page) -> Mapping[str, Any] | None:
    return {"shown": SHOWN} if page.comparisons else None


SECTION = Section("regressions", "Regressions", _context, template="regressions.html.j2")
