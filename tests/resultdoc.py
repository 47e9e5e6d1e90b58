"""A minimal results file in the pytest-benchmark layout, built by hand for reader tests.

Written out literally (not by the plugin) so the readers are tested against the
documented layout. Importable from tests because pyproject puts ``tests`` on the path.
"""

from __future__ import annotations

from typing import Any

from gradbench import records


def results_doc(
    *,
    passed: bool = True,
    suite_version: str = "0.1",
    ci_high: float = 0.3,
    timing: bool = False,
) -> dict[str, Any]:
    """One "demo" case on an MLP with a verdict; ``timing`` adds a timed-only benchmark."""
    verdict = records.Verdict(
        claim="demo",
        spec={"family": "mlp", "depth": 3, "width": 8},
        predicted=0.0,
        measured=0.1,
        statistic=1.0,
        pvalue=0.5 if passed else 1e-9,
        ci_low=-0.1,
        ci_high=ci_high,
        alpha=0.01,
        passed=passed,
    )
    case = {
        "schema_version": 1,
        "case": "suite::test#0",
        "claim": "demo",
        "source": "",
        "spec": verdict.spec,
        "label": "mlp-L3-n8",
        "measurement": None,
        "prediction": None,
        "verdict": verdict.to_dict(),
        "extra": {},
    }
    benchmarks = [
        {
            "name": "t",
            "fullname": "t",
            "group": "demo",
            "params": None,
            "stats": None,
            "extra_info": {"gradbench": case},
        }
    ]
    if timing:
        benchmarks.append(
            {
                "name": "timing",
                "fullname": "timing",
                "group": "g",
                "params": None,
                "stats": {"mean": 0.1, "min": 0.05},
                "extra_info": {},
            }
        )
    return {
        "machine_info": {"gradbench": {"torch": "2.13.0", "device": "cpu"}},
        "gradbench": {
            "schema_version": 1,
            "version": "0.1.0",
            "suite_version": suite_version,
            "profile": "quick",
            "base_seed": 0,
        },
        "benchmarks": benchmarks,
    }
