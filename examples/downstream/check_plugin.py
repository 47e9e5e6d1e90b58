"""Gate: the installed example plugin's remedies are covered by a run, marked third-party.

Runs ``gradbench run -k "scaled_tanh or lecun_uniform or scalenorm"`` into a results
file and checks that each of the plugin's three remedies met claims there, all kept,
each recorded with origin ``third-party``. Exit 1 (with one sentence) otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PLUGIN_REMEDIES = {("initializer", "lecun_uniform"), ("activation", "scaled_tanh"),
                   ("normalization", "scalenorm")}


def main(out: str) -> int:
    path = Path(out)
    subprocess.run([sys.executable, "-m", "gradbench", "run", "--output", str(path), "-k",
                    "scaled_tanh or lecun_uniform or scalenorm"], check=True)
    seen: dict[tuple[str, str], list[bool]] = {}
    for bench in json.loads(path.read_text())["benchmarks"]:
        case = bench["extra_info"]["gradbench"]
        remedy = case.get("remedy") or {}
        if remedy.get("origin") == "third-party" and case.get("verdict"):
            seen.setdefault((remedy["kind"], remedy["name"]), []).append(
                case["verdict"]["passed"])
    missing = PLUGIN_REMEDIES - set(seen)
    broken = [k for k, v in seen.items() if not all(v)]
    if missing or broken:
        print(f"plugin remedies missing from the run: {sorted(missing)}; with broken claims: "
              f"{sorted(broken)}", file=sys.stderr)
        return 1
    print(f"plugin remedies covered as third-party: "
          f"{', '.join(f'{k}:{n} ({len(seen[(k, n)])} cases)' for k, n in sorted(seen))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
