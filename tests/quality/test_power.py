"""Power and false-alarm rate of the claims, and of whole quick-suite runs (slow).

Per claim (``tests/quality/power.py``): false alarms at alpha = 0.01 must lie within the
upper end of the central 99% interval of Binomial(n, 0.01), and the planted error must
be detected at the quick profile's per-case alpha with power >= 0.9; the measured
figures must equal ``gradbench/claims/calibration.json`` (trials are deterministic), so
the catalogue and the report never show stale numbers.

Whole suite: the quick suite over 20 consecutive base seeds fails in at most the upper
end of the central 99% interval of Binomial(20, family_alpha) runs (the quick profile's
family-wise alpha, 0.05).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from quality import power
from scipy import stats as sps

from gradbench.claims import counts_at_case_level
from gradbench.profiles import get_profile

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TRIALS = power.trials()


def upper(n: int, p: float, level: float = 0.99) -> int:
    return int(sps.binom.isf((1 - level) / 2, n, p))


@pytest.mark.parametrize("trial", TRIALS, ids=[f"{t.claim}-{i}" for i, t in enumerate(TRIALS)])
def test_claim_power_and_false_alarms(trial: power.Trial) -> None:
    r = power.rates(trial)
    print(power.table([r]))
    assert r.false_alarms <= upper(r.n, power.SIZE_ALPHA), r
    assert r.detected >= 0.9 * r.n, r
    stored = [d for d in json.loads(power.CALIBRATION.read_text())
              if d["claim"] == r.claim and d["error"] == r.error]
    assert stored == [r.to_dict()], "rerun python tests/quality/power.py"


def test_whole_quick_suite_false_alarms_over_20_base_seeds(tmp_path: Path) -> None:
    failing = 0
    for base in range(20):
        out = tmp_path / f"{base}.json"
        subprocess.run(
            [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-n", "2",
             "-p", "no:cacheprovider", f"--gradbench-base-seed={base}",
             f"--gradbench-json={out}",
             *(f"--ignore={p}" for p in sorted((ROOT / "suites").glob("bench_*.py")))],
            capture_output=True, cwd=ROOT)
        cases = [b["extra_info"]["gradbench"] for b in json.loads(out.read_text())["benchmarks"]]
        failed = [c["case"] for c in cases if c["verdict"] and not c["verdict"]["passed"]]
        failing += bool(failed)
        statistical = sum(counts_at_case_level(c["verdict"]) for c in cases)
        assert statistical <= get_profile("quick").statistical_cases, (base, statistical)
        print(f"base seed {base}: {len(cases)} cases, {len(failed)} failed {failed[:3]}")
    print(f"whole-suite false alarms: {failing}/20 runs")
    assert failing <= upper(20, get_profile("quick").family_alpha)
