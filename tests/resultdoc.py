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


def stability_bench(remedy: str, kind: str, claim: str,
                    settings: list[dict[str, Any]]) -> dict[str, Any]:
    """A benchmark holding one passing stability verdict of ``remedy`` with its ``settings``
    (as ``gradbench.claims.stability`` records them)."""
    spec = {"family": "mlp", "depth": 30, "width": 128, "remedy": remedy}
    verdict = records.Verdict(
        claim=claim, spec=spec, predicted=0.0, measured=0.01, statistic=9.0, pvalue=1e-9,
        ci_low=-0.1, ci_high=0.1, alpha=0.05, passed=True,
        settings=tuple({"depth": 30, "width": 128, **s} for s in settings))
    name = f"suite::test_{kind}_stability[{remedy}-{claim}]#0"
    case = {"schema_version": 1, "case": name, "claim": claim, "source": "", "spec": spec,
            "label": f"{kind}-{remedy}", "measurement": None, "prediction": None,
            "verdict": verdict.to_dict(), "extra": {},
            "remedy": {"kind": kind, "name": remedy, "origin": "built-in"}}
    return {"name": name, "fullname": name, "group": "stability", "params": None,
            "stats": None, "extra_info": {"gradbench": case}}


#: Two initializers' stability verdicts: he_normal stable with relu; lsuv stable with relu,
#: exploding with tanh (x11 over depth 30).
STABILITY_BENCHES = [
    stability_bench("he_normal", "initializer", "stable_as_declared", [
        {"setting": {"activation": "relu"}, "stable": True, "class": "stable",
         "words": "gradients shrink x0.998 per layer, x0.94 over the 29 layer-to-layer "
                  "steps of depth 30"}]),
    stability_bench("lsuv", "initializer", "stable_somewhere", [
        {"setting": {"activation": "relu"}, "stable": True, "class": "stable",
         "words": "gradients grow x1.001 per layer, x1 over the 29 layer-to-layer steps of "
                  "depth 30"},
        {"setting": {"activation": "tanh"}, "stable": False, "class": "exploding",
         "words": "gradients grow x1.09 per layer, x11 over the 29 layer-to-layer steps of "
                  "depth 30"}]),
]
