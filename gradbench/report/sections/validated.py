"""Validated remedies: on a page of several ``gradbench validate`` runs (the ecosystem
conformance report), one row per remedy under validation, first thing on the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gradbench.report.page import Page, Section
from gradbench.report.sections.remedies import RemedyRow, rows


def candidates(page: Page) -> list[RemedyRow]:
    """The candidate remedies' rows (failing ones first, then by kind and name)."""
    found = [r for r in rows(page) if r.origin == "candidate"]
    return sorted(found, key=lambda r: (not r.broken, r.kind, r.name, r.run))


def _context(page: Page) -> Mapping[str, Any] | None:
    found = candidates(page)
    if len({r.run for r in found}) < 2:
        return None
    return {"rows": found, "failing": sum(1 for r in found if r.broken)}


SECTION = Section("validated", "Validated remedies", _context, template="validated.html.j2",
                  nav="Validated")
