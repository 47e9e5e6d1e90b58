"""Ecosystem conformance: validate every torch.nn.init / torch.optim remedy (and a few from PyPI).

Each target runs through ``gradbench validate`` (quick profile) into one folder; the
results are rendered into one HTML report (``index.html``) and a Markdown summary table
(``summary.md``, the table in the README). The validations run ``--jobs`` at a time (default
2), each on one thread, as separate processes writing into one folder (gradbench numbers
results files safely across processes). Run with ``tox -e conformance``, or::

    cd examples/conformance && python conformance.py OUT_DIR [--jobs N] [TARGET ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from targets import NOT_APPLICABLE, TARGETS

HERE = Path(__file__).resolve().parent
VERDICT = {0: "passes", 1: "fails", 2: "not validated"}


def validate(target: str, out: Path) -> dict[str, object]:
    """One ``gradbench validate`` run, on one thread: exit code, kind, failed claims (read
    from the results file it names on its ``gradbench: results PATH`` line)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "gradbench", "validate", "--out-dir", str(out),
                           target], cwd=HERE, capture_output=True, text=True, env=env)
    results = [line.removeprefix("gradbench: results ").strip()
               for line in proc.stdout.splitlines() if line.startswith("gradbench: results ")]
    failed: list[str] = []
    kind = "?"
    if results:
        doc = json.loads(Path(results[-1]).read_text())
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
    parser = argparse.ArgumentParser(prog="conformance.py")
    parser.add_argument("out", nargs="?", type=Path, default=HERE / "out")
    parser.add_argument("targets", nargs="*", default=TARGETS)
    parser.add_argument("--jobs", type=int, default=2,
                        help="validations run at once, one thread each (default 2)")
    args = parser.parse_intermixed_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs} is invalid: must be 1 or more")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    def one(target: str) -> dict[str, object]:
        row = validate(target, out)
        print(f"{row['target']}: {VERDICT.get(row['exit'], 'error')} {row['failed']}",  # type: ignore[arg-type]
              flush=True)
        return row

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, args.targets))  # the targets' order, whatever finishes first
    (out / "summary.md").write_text(summary(rows))
    subprocess.run([sys.executable, "-m", "gradbench", "report", str(out), "-o",
                    str(out / "index.html"), "--title", "gradbench ecosystem conformance"],
                   check=True)
    print(f"summary -> {out / 'summary.md'}; report -> {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
