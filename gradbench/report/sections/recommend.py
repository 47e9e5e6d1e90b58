"""Recommendation: for a setting (an activation, an initializer...) at the depth judged, which
remedies of each kind kept gradients stable, read from the stability verdicts.

The stability claims (``stable_as_declared``, ``stable_somewhere``; docs/theory.md §9) measure
each remedy in its settings and keep every setting's outcome in ``Verdict.settings``: stable
means the end-to-end gradient ratio over the depth lies within (1/K, K), K =
:data:`gradbench.stats.STABLE_WITHIN`, by a TOST across networks. Nothing here judges again;
the section only regroups those outcomes by setting and depth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradbench.claims.stability import CRITICAL, SLOTS
from gradbench.report.model import canonical
from gradbench.report.page import Page, Section

#: How a setting's outcome ranks when a remedy was judged more than once (several runs):
#: the worst outcome stands.
_RANK = {False: 0, None: 1, True: 2}


@dataclass(frozen=True)
class Outcome:
    """One remedy in one setting: stable (``True``/``False``, ``None``: not measured)."""

    name: str
    stable: bool | None
    klass: str = ""
    words: str = ""
    reason: str = ""


@dataclass
class Setting:
    """The remedies of one kind judged in one setting at one depth."""

    kind: str
    setting: dict[str, Any]
    depth: int
    width: int
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The setting in words: ``relu activation``, ``he_normal init, relu activation``
        (an activation's own critical initialization: ``its critical init``)."""
        return ", ".join(f"{'its critical' if v == CRITICAL else v} {k}"
                         for k, v in self.setting.items()) or "standard setting"

    def having(self, stable: bool | None) -> list[Outcome]:
        """The outcomes that were (not) stable, or not measured, by name."""
        return sorted((o for o in self.outcomes.values() if o.stable is stable),
                      key=lambda o: o.name)

    @property
    def words(self) -> str:
        """The row in one plain sentence."""
        good = [o.name for o in self.having(True)]
        bad = [o.name for o in self.having(False)]
        head = f"With {self.text} at depth {self.depth}, "
        if good:
            head += f"{', '.join(good)} kept gradients stable"
        else:
            head += f"no {self.kind} measured kept gradients stable"
        return head + (f"; {', '.join(bad)} did not." if bad else ".")


def _outcome(name: str, entry: Mapping[str, Any]) -> Outcome:
    stable = entry.get("stable")
    return Outcome(name, stable if isinstance(stable, bool) else None,
                   str(entry.get("class") or ""), str(entry.get("words") or ""),
                   str(entry.get("reason") or ""))


def settings(page: Page) -> list[Setting]:
    """Every (kind, setting, depth) the stability verdicts of the page's runs measured."""
    found: dict[tuple[str, str, int], Setting] = {}
    for run in page.runs:
        for case in run.cases:
            if case.remedy is None or case.verdict is None:
                continue
            kind, name = case.remedy["kind"], case.remedy["name"]
            for entry in case.verdict.settings:
                setting = entry.get("setting")
                depth, width = entry.get("depth"), entry.get("width")
                if not isinstance(setting, Mapping) or not isinstance(depth, int):
                    continue
                key = (kind, canonical(setting), depth)
                row = found.setdefault(key, Setting(kind, dict(setting), depth,
                                                    width if isinstance(width, int) else 0))
                new, old = _outcome(name, entry), row.outcomes.get(name)
                if old is None or _RANK[new.stable] < _RANK[old.stable]:
                    row.outcomes[name] = new
    kinds = list(SLOTS)
    return sorted(found.values(), key=lambda s: (
        kinds.index(s.kind) if s.kind in kinds else len(kinds), s.kind, s.depth, s.text))


def _context(page: Page) -> Mapping[str, Any] | None:
    rows = settings(page)
    if not rows:
        return None
    return {"rows": rows, "depths": sorted({r.depth for r in rows})}


SECTION = Section("recommend", "Which remedies keep gradients stable", _context,
                  template="recommend.html.j2", nav="Recommendation")
