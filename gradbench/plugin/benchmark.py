"""pytest-benchmark's own JSON (``--benchmark-json``/``--benchmark-autosave``) carries
gradbench's run and machine blocks, when gradbench is in use."""

from __future__ import annotations

from typing import Any

import pytest

from gradbench.plugin import state


def _in_use(config: pytest.Config) -> bool:
    session = config.stash.get(state.KEY, None)
    return session is not None and session.in_use is not None


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    if _in_use(config):
        from gradbench.machine import environment, platform_info
        from gradbench.records import MachineInfo

        cases = state.get(config).cases
        machine_info["gradbench"] = MachineInfo.from_cases(
            cases, platform_info(), environment()
        ).to_dict()["gradbench"]


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]
) -> None:
    if _in_use(config):
        from gradbench.records import RunInfo

        s = state.get(config).settings
        output_json["gradbench"] = RunInfo(
            profile=s.profile.name, base_seed=s.base_seed, devices=s.devices
        ).to_dict()
