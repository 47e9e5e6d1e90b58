"""What a run's cases add up to, for the terminal: claims failed, and a claims x remedies table.

Counted from the cases as recorded (:class:`gradbench.records.CaseRecord`), so ``gradbench
run``, ``gradbench validate`` and a plain ``pytest --gradbench-save`` session print the
same thing. A *claim* here is one claim on one remedy (or, for cases about networks
rather than a remedy, one claim in one test): "75 cases recorded, 4 claims failed in 4
cases".
Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from gradbench.profiles import Profile
from gradbench.records import CaseRecord

C = TypeVar("C")

#: The row of cases that cover no remedy (a suite's claims about networks).
NETWORKS = "networks"


@dataclass(frozen=True)
class Tally:
    """How one remedy fared on one claim: ``passed`` of ``total`` cases.

    ``kind`` is the remedy's kind (``"networks"`` with ``remedy`` and ``origin`` empty
    for cases that cover no remedy).
    """

    remedy: str
    origin: str
    claim: str
    passed: int
    total: int
    kind: str = ""

    @property
    def failed(self) -> int:
        """Cases that failed."""
        return self.total - self.passed


def tally(cases: Iterable[CaseRecord]) -> list[Tally]:
    """Cases with a verdict, counted per (kind, remedy, claim); candidate first, then by name."""
    counts: dict[tuple[str, str, str, str], list[int]] = {}
    for case in cases:
        if not case.verdict:
            continue
        remedy = case.remedy or {}
        key = (str(remedy.get("kind", NETWORKS)), str(remedy.get("name", "")),
               str(remedy.get("origin", "")), case.claim)
        count = counts.setdefault(key, [0, 0])
        count[0] += not case.failed
        count[1] += 1
    order = sorted(counts, key=lambda k: (k[0] == NETWORKS, k[0], k[2] != "candidate", k[1]))
    return [Tally(r, o, c, counts[(k, r, o, c)][0], counts[(k, r, o, c)][1], kind=k)
            for k, r, o, c in order]


def failed_claims(cases: Iterable[CaseRecord]) -> int:
    """How many claims failed: distinct (remedy, claim), or (test, claim) without a remedy."""
    keys = set()
    for case in cases:
        if case.failed:
            remedy = case.remedy or {}
            where = remedy.get("name") or case.case.split("[")[0].split("#")[0]
            keys.add((str(remedy.get("kind", "")), str(where), case.claim))
    return len(keys)


def is_candidate(case: object) -> bool:
    """Whether a case (a :class:`CaseRecord` or the report's case) covers the remedy under
    validation: its remedy's origin is ``candidate``."""
    return (getattr(case, "remedy", None) or {}).get("origin") == "candidate"


def judged(cases: Sequence[C]) -> tuple[list[C], list[C]]:
    """``(judged, context)``: in a validation run (a case :func:`is_candidate`) the
    candidate's cases, which the verdict is about, and the rest (its baselines: context,
    not the verdict); otherwise every case, and no context."""
    mine = [c for c in cases if is_candidate(c)]
    if not mine:
        return list(cases), []
    return mine, [c for c in cases if not is_candidate(c)]


def _failures(cases: Sequence[CaseRecord]) -> str:
    """``"every claim holds"`` or ``"4 claims failed in 4 cases"``."""
    failed = sum(c.failed for c in cases)
    if not failed:
        return "every claim holds"
    claims = failed_claims(cases)
    return (f"{claims} claim{'s' * (claims != 1)} failed in {failed} "
            f"case{'s' * (failed != 1)}")


def outcome_line(cases: Sequence[CaseRecord], complete: bool = True) -> str:
    """``"75 cases recorded, every claim holds"`` or ``"... 4 claims failed in 4 cases"``; in a
    validation run the candidate's verdict first, its baselines' failures after it as context
    (:func:`judged`); ``", but the run is not complete"`` after it when it is not."""
    recorded = f"{len(cases)} case{'s' * (len(cases) != 1)} recorded"
    mine, context = judged(cases)
    if not any(map(is_candidate, mine)):
        line = f"{recorded}, {_failures(cases)}"
    else:
        line = f"{recorded}; candidate {(mine[0].remedy or {}).get('name')!r}: {_failures(mine)}"
        line += (f"; baselines (context, not the verdict): {_failures(context)}"
                 if context else "")
    return line if complete else f"{line}, but the run is not complete"


def unverdicted_line(node_ids: list[str]) -> str:
    """``"2 tests failed outside their claims ..."``: what the terminal, the results' note
    and validate say of tests that raised with no failed verdict to account for it
    (:attr:`gradbench.plugin.state.Outcome.unverdicted`)."""
    count, one = len(node_ids), len(node_ids) == 1
    return (f"{count} test{'' if one else 's'} failed outside {'its' if one else 'their'} "
            f"claims, so what {'it' if one else 'they'} should have measured may be missing "
            f"(pytest's report of the run shows the error): {node_ids[0]}"
            + ("" if one else f" and {count - 1} more"))


def statistical_line(cases: Sequence[CaseRecord], profile: Profile) -> str | None:
    """``"439 statistical cases at alpha 0.0001 each: family-wise false-alarm rate <= 0.044"``
    (Bonferroni over the cases of registered claims tested at the per-case level), or
    ``None`` when there is none."""
    from gradbench.claims import counts_at_case_level

    count = sum(counts_at_case_level(c.verdict) for c in cases)
    if not count:
        return None
    over = (f"; more than the {profile.statistical_cases} the profile's level assumes"
            if count > profile.statistical_cases else "")
    return (f"{count} statistical cases at alpha {profile.case_alpha:.2g} each: "
            f"family-wise false-alarm rate <= {count * profile.case_alpha:.2g}{over}")


def _short(claim: str, kind: str) -> str:
    """A claim's name as a column title: the kind's prefix dropped (``variance``)."""
    prefix = f"{kind}_"
    return claim[len(prefix):] if claim.startswith(prefix) and claim != prefix else claim


def table(tallies: Sequence[Tally], width: int = 28) -> list[str]:
    """One block per kind: a row per remedy (its origin beside it), a column per claim.

    A cell is ``passed/total``, marked ``*`` when a case failed; ``-`` where the claim
    does not apply. Cases that cover no remedy get one row per claim at the end.
    """
    lines: list[str] = []
    kinds = list(dict.fromkeys(t.kind for t in tallies))
    for kind in kinds:
        rows = [t for t in tallies if t.kind == kind]
        if kind == NETWORKS:
            lines += ["", f"{'suite claims about networks':<{width}} cases"]
            lines += [f"  {t.claim:<{width - 2}} {_cell(t)}" for t in rows]
            continue
        claims = list(dict.fromkeys(t.claim for t in rows))
        titles = [_short(c, kind) for c in claims]
        cells = {(t.remedy, t.origin, t.claim): _cell(t) for t in rows}
        widths = [max(len(title), 7) for title in titles]
        lines += ["", f"{kind:<{width}} " + " ".join(f"{t:>{w}}" for t, w in zip(titles, widths))]
        for remedy, origin in dict.fromkeys((t.remedy, t.origin) for t in rows):
            tag = f" ({origin})" if origin in ("candidate", "third-party") else ""
            name = _clip(remedy, width - 2 - len(tag)) + tag
            lines.append(f"  {name:<{width - 2}} " + " ".join(
                f"{cells.get((remedy, origin, c), '-'):>{w}}" for c, w in zip(claims, widths)))
    if any(t.failed for t in tallies):
        lines += ["", "  * some cases of this claim failed"]
    return lines[1:] if lines and not lines[0] else lines


def _cell(t: Tally) -> str:
    return f"{t.passed}/{t.total}" + ("*" if t.failed else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 3)] + "..."


__all__ = ["NETWORKS", "Tally", "failed_claims", "is_candidate", "judged", "outcome_line",
           "statistical_line", "table", "tally", "unverdicted_line"]
