"""The claims catalogue (``docs/claims.md``), generated from the registry.

``python -m gradbench.claims --mutants tests/mutants.py > docs/claims.md`` regenerates it
in a checkout; ``tests/test_docs.py`` fails when the file is stale. Measured power and
false-alarm rates come from ``calibration.json`` beside this module, written by
``tests/quality/power.py``; the planted bugs each claim must kill from the mutation list
(``tests/mutants.py``, not installed with the package).
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from gradbench.claims._registry import CLAIMS, ROLES, SUBJECTS


def calibration() -> list[dict[str, Any]]:
    """The measured rates (empty when not measured yet)."""
    path = resources.files("gradbench.claims").joinpath("calibration.json")
    return json.loads(path.read_text()) if path.is_file() else []


def _rates(claim: Any, measured: list[dict[str, Any]]) -> str:
    rows = [r for r in measured if r["claim"] == claim.name]
    if not rows and claim.exact:
        return ("exact identity: no false alarm by construction; planted bugs it catches: "
                "`tests/mutants.py`, `tests/test_claims.py`")
    if not rows:
        return ("not calibrated separately; planted bugs it catches: `tests/mutants.py`, "
                "`tests/test_claims.py`")
    return "; ".join(
        f"against *{r['error']}*: power {r['detected']}/{r['n']} at alpha {r['case_alpha']:g}, "
        f"false alarms {r['false_alarms']}/{r['n']} at alpha {r['size_alpha']:g}"
        for r in rows)


def mutants_from(path: str | Path) -> list[Any]:
    """The ``MUTANTS`` of a mutation list such as ``tests/mutants.py`` (each with ``name``,
    ``claim`` and ``bug``)."""
    return list(runpy.run_path(str(path), run_name="_gradbench_mutants")["MUTANTS"])


def _kills(claim: Any, mutants: Sequence[Any]) -> list[str]:
    mine = [m for m in mutants if m.claim == claim.name]
    if not mine:
        return []
    return ["- **planted bugs it must kill** (`tests/mutants.py`): "
            + "; ".join(f"`{m.name}` ({m.bug})" for m in mine)]


def markdown(mutants: Sequence[Any] = ()) -> str:
    """The catalogue as Markdown, grouped by subject; with ``mutants`` (see
    :func:`mutants_from`), each claim lists the planted bugs it is expected to kill."""
    measured = calibration()
    out = [
        "# Claims catalogue",
        "",
        "Generated from the claim registry (`gradbench.claims`) by "
        "`python -m gradbench.claims --mutants tests/mutants.py > docs/claims.md`; do not "
        "edit by hand. Every verdict "
        "in a run, in `gradbench validate` and in the report names one of these claims.",
        "",
        "Roles: " + "; ".join(f"**{k}**: {v}" for k, v in ROLES.items()) + ".",
        "",
        "A claim marked *standard* runs on a remedy that declares nothing; the others run "
        "when the remedy declares what they check (see [remedies.md](remedies.md)). Power "
        "and false-alarm rates are measured by `tests/quality/power.py` (deterministic "
        "trials; `tox -e slow` checks them).",
    ]
    number = 0
    for subject in SUBJECTS:
        members = [c for c in CLAIMS.values() if subject in c.subjects and
                   c.subjects[0] == subject]
        if not members:
            continue
        number += 1
        title = {"network": "networks", "residual": "residual scalings"}.get(subject,
                                                                         subject + "s")
        out += ["", f'<a id="s{number}"></a>', "", f"## {number}. About {title}", ""]
        for c in members:
            out += [
                f"### `{c.name}`", "",
                f"{c.statement}", "",
                f"- **role**: {c.role}{' (standard)' if c.standard else ''}; **about**: "
                f"{', '.join(c.subjects)}; **alpha**: "
                + (f"{c.alpha:g}" if c.alpha is not None else "the run's per-case level"),
                f"- **statistic**: {c.statistic}",
                f"- **domain**: {c.domain}",
                f"- **source**: {c.source}",
                f"- **measured**: {_rates(c, measured)}",
                *_kills(c, mutants),
                "",
            ]
    return "\n".join(out).rstrip() + "\n"
