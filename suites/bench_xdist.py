"""Wall time of the quick suite at ``-n 1`` vs ``-n 2``, side by side in one run.

Each benchmark runs the quick suite (the ``bench_*`` files excluded) in a fresh
``pytest`` subprocess with pytest-xdist, ``--benchmark-disable`` and
``--gradbench-json``; one round each, because one run takes minutes. The last test
reports the speed-up and checks what distribution must not change: the merged JSON
of the two runs holds the same cases with the same verdicts, and the same numbers up
to float rounding (each of N workers runs torch on cores/N threads, and the thread
count changes the order of CPU reductions; ``OMP_NUM_THREADS=1`` makes them
bit-identical). Nothing asserts on a timing. Run with (about 6 minutes on 2 cores)::

    pytest suites/bench_xdist.py -p no:xdist -q -s
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SUITES = Path(__file__).resolve().parent
WORKERS = (1, 2)
# worker count -> (wall seconds, path of the merged gradbench JSON)
RUNS: dict[int, tuple[float, Path]] = {}


def run_quick_suite(workers: int, out: Path) -> float:
    """Run the quick suite on ``workers`` xdist workers; return its wall time in seconds."""
    command = [
        sys.executable, "-m", "pytest", str(SUITES), "-q", "-p", "no:cacheprovider",
        "-n", str(workers), "--benchmark-disable", f"--gradbench-json={out}",
        *(f"--ignore={p}" for p in sorted(SUITES.glob("bench_*.py"))),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=SUITES.parent)
    return time.perf_counter() - start


def numbers_agree(a: Any, b: Any, rel: float = 1e-5, abs_: float = 1e-9) -> bool:
    """Same structure and strings; floats equal up to ``rel`` (or ``abs_`` near zero)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            numbers_agree(a[k], b[k], rel, abs_) for k in a
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(
            numbers_agree(x, y, rel, abs_) for x, y in zip(a, b)
        )
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
    return a == b


def cases(path: Path) -> dict[str, Any]:
    """The gradbench record of every case in a result file, keyed by test id."""
    doc = json.loads(path.read_text())
    return {b["fullname"]: b["extra_info"]["gradbench"] for b in doc["benchmarks"]}


@pytest.mark.parametrize("workers", WORKERS, ids=[f"n{w}" for w in WORKERS])
def test_bench_quick_suite(benchmark: Any, workers: int, tmp_path: Path) -> None:
    out = tmp_path / f"quick_n{workers}.json"
    benchmark.group = "quick-suite-xdist"
    seconds = benchmark.pedantic(run_quick_suite, args=(workers, out), rounds=1, iterations=1)
    RUNS[workers] = (seconds, out)
    benchmark.extra_info.update(workers=workers, wall_seconds=seconds)
    assert cases(out), "the run recorded no case"


def test_bench_xdist_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Speed-up of -n 2 over -n 1 (reported), and identical merged results (asserted)."""
    if set(WORKERS) - set(RUNS):
        pytest.skip("both worker counts must run in this session")
    (serial, serial_out), (parallel, parallel_out) = RUNS[1], RUNS[2]
    one, two = cases(serial_out), cases(parallel_out)
    verdicts = {k: (v.get("verdict") or {}).get("passed") for k, v in one.items()}
    with capsys.disabled():
        print(
            f"\nquick suite: -n 1 {serial:.1f} s, -n 2 {parallel:.1f} s, "
            f"speed-up {serial / parallel:.2f}x, {len(one)} cases"
        )
    assert sorted(one) == sorted(two)
    assert verdicts == {k: (v.get("verdict") or {}).get("passed") for k, v in two.items()}
    disagree = [k for k in one if not numbers_agree(one[k], two[k])]
    assert not disagree, disagree
