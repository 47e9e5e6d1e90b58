"""Failures: at the top of the page, one block per failing claim and remedy, in plain words.

Each block names the claim and what it states, the remedy (or network) it failed for, the
configuration (the last failing case recorded for it: the example Hypothesis shrank the
failure to), predicted against measured with the interval and the growth in words when the
verdict carries it, and what to do, by the claim's role.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gradbench.report.model import Case, Run
from gradbench.report.page import Page, Section
from gradbench.report.text import num

#: What to do about a failed claim, by the claim's role (gradbench.claims ROLES).
WHAT_TO_DO = {
    "consistency": "the remedy does not do what it declares, or, under a standard claim, "
    "what every remedy of its kind does: fix the remedy, or its declaration (gradbench_meta, "
    "docs/remedies.md; the note above names the one that applies) when the remedy is right "
    "and the declaration is not.",
    "theory": "the measurement contradicts the theory computed for this very configuration: "
    "check the declaration the theory is computed from (a variance, an activation's "
    "moments) and whether the configuration lies inside the claim's domain (docs/claims.md).",
    "stability": "gradients do not stay stable here: use another remedy for this setting, or "
    "declare where the remedy is meant to keep them stable (stable_for) so that gradbench "
    "checks that instead.",
    "behaviour": "the remedy does not have the effect it documents: check its implementation "
    "against the source cited for the claim.",
}


def what_to_do(claim: Any) -> str:
    """What to do about a failure of ``claim``: its own advice (a claim whose subjects the
    role's advice does not fit, such as a block's), else its role's; ``""`` for none."""
    return str(claim.advice or WHAT_TO_DO.get(claim.role, ""))


#: Failure blocks shown per page; the rest are counted (all of them are in Verdicts).
SHOWN = 20


@dataclass
class Failure:
    """The failing cases of one claim for one remedy (or network family) in one run."""

    run: Run
    claim: str
    subject: str
    cases: list[Case]
    total: int
    context: bool = False
    """A baseline's failure in a validation: context, not the candidate's verdict."""

    @property
    def case(self) -> Case:
        """The case shown: the last failure recorded (Hypothesis's shrunk example)."""
        return self.cases[-1]


def _per_layer_log_growth(claim: str) -> bool:
    """The claim's Predicted and Measured are a per-layer log growth of the gradient norm."""
    from gradbench.claims import CLAIMS

    found = CLAIMS.get(claim)
    return found is not None and found.statistic.startswith("per-seed (ln ||dL/d")


def _growth(case: Case) -> Mapping[str, Any] | None:
    """The gradient growth the verdict carries, when it has words for it."""
    growth = getattr(case.verdict, "growth", None)
    return growth if isinstance(growth, Mapping) and growth.get("words") else None


def in_words(case: Case) -> str:
    """The failing verdict's numbers in words: the growth's own words when the verdict
    carries them, per-layer factors for a per-layer log growth, else predicted vs measured
    and what they are (the claim's statistic)."""
    from gradbench.claims import CLAIMS

    v = case.verdict
    if v is None:
        return ""
    growth = _growth(case)
    if growth is not None:
        return str(growth["words"])
    if _per_layer_log_growth(case.claim) and math.isfinite(v.measured):
        depth = case.spec.get("depth")
        text = f"the gradient changes by ×{num(math.exp(v.measured))} per layer towards the input"
        if isinstance(depth, int) and depth > 1 and abs(v.measured) * (depth - 1) < 700:
            text += (f", ×{num(math.exp(v.measured * (depth - 1)))} over the {depth - 1} "
                     f"layer-to-layer steps of depth {depth}")
        if math.isfinite(v.predicted):
            text += f"; theory predicts ×{num(math.exp(v.predicted))} per layer"
        return text
    found = CLAIMS.get(case.claim)
    what = f" ({found.statistic.split(';')[0]})" if found is not None else ""
    return f"predicted {num(v.predicted, 4)}, measured {num(v.measured, 4)}{what}"


def interval(case: Case) -> str:
    """``[low, high] at 1 − α``, or why there is none; in the units of :func:`in_words`
    (the growth's end-to-end factors when the words are the growth's)."""
    v = case.verdict
    if v is None:
        return ""
    p = f", p = {num(v.pvalue)}" if math.isfinite(v.pvalue) else ""  # an interval's verdict
    growth = _growth(case)
    if growth is not None and isinstance(growth.get("end_to_end_interval"), list):
        low, high = growth["end_to_end_interval"]
        level = growth.get("confidence")
        at = f" at {level:.0%}" if isinstance(level, float) else ""
        return (f"end to end ×{num(growth.get('end_to_end', math.nan))}, interval "
                f"[×{num(low)}, ×{num(high)}]{at}{p}")
    if not (math.isnan(v.ci_low) and math.isnan(v.ci_high)):
        return f"interval [{num(v.ci_low, 4)}, {num(v.ci_high, 4)}] at 1 − α{p}"
    return f"no interval (an exact check or a test without one){p}"


def failures(page: Page) -> list[Failure]:
    """Per run, claim and remedy (or family), its failing cases, in order of first failure;
    in a validation the candidate's first and its baselines' after, as context
    (:func:`gradbench.summary.judged`, as the verdict line).

    On a page of several runs, the runs no later run was compared with are the current
    state (every run of a conformance page, the latest of a series); the failures of the
    runs a later one replaced stay in the Verdicts table.
    """
    from gradbench.summary import judged

    found: dict[tuple[str, str, str], Failure] = {}
    totals: dict[tuple[str, str, str], int] = {}
    newer = {r.label for r in page.runs} - {c.base_label for c in page.comparisons}
    for run in page.runs:
        if page.multi and run.label not in newer:
            continue
        mine, context = judged([c for c in run.cases if c.verdict is not None])
        for is_context, group in ((False, mine), (True, context)):
            for c in group:
                who = c.remedy["name"] if c.remedy else c.subject
                key = (run.label, c.claim, who)
                totals[key] = totals.get(key, 0) + 1
                if c.verdict is not None and not c.verdict.passed:
                    found.setdefault(key, Failure(run, c.claim, who, [], 0, is_context)
                                     ).cases.append(c)
    for key, f in found.items():
        f.total = totals[key]
    return list(found.values())


def _context(page: Page) -> Mapping[str, Any] | None:
    from gradbench.claims import CLAIMS

    found = failures(page)
    if not found:
        return None
    return {
        "failures": found[:SHOWN],
        "more": len(found) - SHOWN if len(found) > SHOWN else 0,
        "claims": CLAIMS,
        "in_words": in_words,
        "interval": interval,
        "what_to_do": what_to_do,
    }


SECTION = Section("failures", "Failures", _context, template="failures.html.j2")
