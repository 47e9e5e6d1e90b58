"""Shared helpers of the gradbench suites: measure -> predict -> check -> record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import gradbench as gb
from gradbench import theory
from gradbench.check import check, get_claim
from gradbench.plugin import use_gradbench


def pytest_configure(config: pytest.Config) -> None:
    """These are the gradbench suites: the session uses gradbench (its Hypothesis profile,
    cores shared between xdist workers), and case ids are ``suites/<file>::<test>``
    wherever the suites are installed."""
    use_gradbench(config, "the gradbench suites", suites_root=Path(__file__).parent)


@pytest.fixture
def run_claim(
    gradbench_config: Any, gradbench_record: Any, gradbench_device: str
) -> Callable[..., gb.Verdict]:
    """``run_claim(spec, claim, seeds=None, batch=None, extra=None) -> Verdict``, recorded.

    Seeds of every network derive from (spec, base seed); alpha is the profile's
    per-case level (family-wise 0.01 over the run, Bonferroni).
    """
    profile = gradbench_config.profile

    def run(
        spec: Any,
        claim: str,
        *,
        seeds: int | None = None,
        batch: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> gb.Verdict:
        m = gb.measure(
            spec,
            seeds=seeds or profile.seeds,
            batch=batch or profile.batch,
            device=gradbench_device,
            dtype="float32",
            seed=gradbench_config.base_seed,
        )
        verdict = check(spec, claim, alpha=profile.case_alpha, measurement=m)
        gradbench_record(
            claim=claim,
            spec=spec,
            measurement=m,
            prediction=theory.predict(spec),
            verdict=verdict,
            source=get_claim(claim).source,
            extra=extra,
        )
        return verdict

    return run
