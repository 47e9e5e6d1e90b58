"""Claims: what each claim of the run states, how it fared, and its measured power."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gradbench.report.page import Page, Section


@dataclass(frozen=True)
class ClaimRow:
    """One claim met in the page's runs."""

    name: str
    statement: str
    source: str
    role: str
    passed: int
    total: int
    calibration: str


def rows(page: Page) -> list[ClaimRow]:
    """Every claim with a verdict in the page, with the registry's description and rates."""
    from gradbench.claims import CLAIMS
    from gradbench.claims.catalogue import calibration

    counts: dict[str, list[int]] = {}
    for run in page.runs:
        for case in run.cases:
            if case.verdict is not None:
                tally = counts.setdefault(case.claim, [0, 0])
                tally[0] += bool(case.verdict.passed)
                tally[1] += 1
    measured = calibration()
    out = []
    for name in sorted(counts):
        c = CLAIMS.get(name)
        rates = [f"power {r['detected']}/{r['n']} against {r['error']}; false alarms "
                 f"{r['false_alarms']}/{r['n']} at alpha {r['size_alpha']:g}"
                 for r in measured if r["claim"] == name]
        if not rates and c is not None and c.exact:
            rates = ["exact identity: no false alarm by construction"]
        passed, total = counts[name]
        out.append(ClaimRow(name, c.statement if c else "not a registered claim",
                            c.source if c else "", c.role if c else "?", passed, total,
                            "; ".join(rates) or "-"))
    return out


def _context(page: Page) -> Mapping[str, Any] | None:
    found = rows(page)
    return {"rows": found} if found else None


SECTION = Section("claims", "Claims", _context, template="claims.html.j2", nav="Claims")
