"""Regressions: at the top of a comparison page, what passed before and fails now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradbench.report.page import Page, Section

#: Regressions listed per comparison; the rest are counted.
SHOWN = 10
#: With more comparisons than this, they are one table row each (warnings counted there).
TABLE_FROM = 3


def warning_groups(page: Page) -> list[tuple[str, list[str]]]:
    """Each distinct warning once, with the comparisons (``base → new``) it applies to."""
    groups: dict[str, list[str]] = {}
    for comp in page.comparisons:
        for warning in comp.warnings:
            groups.setdefault(warning, []).append(f"{comp.base_label} → {comp.new_label}")
    return list(groups.items())


def _context(page: Page) -> Mapping[str, Any] | None:
    if not page.comparisons:
        return None
    return {"shown": SHOWN, "table_from": TABLE_FROM, "warning_groups": warning_groups(page)}


SECTION = Section("regressions", "Regressions", _context, template="regressions.html.j2")
