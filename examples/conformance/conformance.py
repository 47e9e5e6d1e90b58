"""Ecosystem conformance: validate every torch.nn.init / torch.optim remedy (and a few from PyPI).

Each target runs through ``gradbench validate`` (quick profile) into one folder; the
results are rendered into one HTML report (``index.html``) and a Markdown summary table
(``summary.md``, the table in the README). Run with ``tox -e conformance``, or::

    cd examples/conformance && python conformance.py OUT_DIR [TARGET ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from targets import NOT_APPLICABLE, TARGETS

HERE = Path(__file__).resolve().parent
VERDICT = {0: "passes", 1: "fails", 2: "not validated"}


def validate(target: str, out: Path) -> dict[str, object]:
    """One ``gradbench validate`` run: exit code, kind, failed claims."""
    before = set(out.glob("*.json"))
    proc = subprocess.run([sys.executable, "-m", "gradbench", "validate", "--out-dir", str(out),
                           target], cwd=HERE, capture_output=True, text=True)
    new = sorted(set(out.glob("*.json")) - before)
    failed: list[str] = []
    kind = "?"
    if new:
        doc = json.loads(new[-1].read_text())
        kind = (doc["gradbench"].get("candidate") or ["?"])[0]
        for bench in doc["benchmarks"]:
            case = bench["extra_info"]["gradbench"]
            if case.get("remedy", {}).get("origin") == "candidate" and case.get("verdict") \
                    and not case["verdict"]["passed"]:
                failed.append(case["claim"])
    reason = proc.stderr.strip().splitlines()[-1] if proc.returncode == 2 and proc.stderr else ""
    return {"target": target, "kind": kind, "exit": proc.returncode,
            "failed": sorted(set(failed)), "reason": reason}


def summary(rows: list[dict[str, object]]) -> str:
    """The Markdown table: target, kind, verdict, failed claims."""
    lines = ["| remedy | kind | verdict | failed claims |", "| --- | --- | --- | --- |"]
    for r in rows:
        detail = ", ".join(f"`{c}`" for c in r["failed"]) or str(r["reason"]) or "-"  # type: ignore[attr-defined]
        lines.append(f"| `{r['target']}` | {r['kind']} | {VERDICT.get(r['exit'], 'error')} "  # type: ignore[arg-type]
                     f"| {detail} |")
    for target, why in NOT_APPLICABLE.items():
        lines.append(f"| `{target}` | - | not applicable | {why} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else HERE / "out"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for target in argv[1:] or TARGETS:
        rows.append(validate(target, out))
        print(f"{rows[-1]['target']}: {VERDICT.get(rows[-1]['exit'], 'error')} "  # type: ignore[arg-type]
              f"{rows[-1]['failed']}", flush=True)
    (out / "summary.md").write_text(summary(rows))
    subprocess.run([sys.executable, "-m", "gradbench", "report", str(out), "-o",
                    str(out / "index.html"), "--title", "gradbench ecosystem conformance"],
                   check=True)
    print(f"summary -> {out / 'summary.md'}; report -> {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
