"""Hooks other plugins (and conftest files) implement to extend gradbench's results.

Called once per run in the controlling process, just before the results file is
written, in the pattern of pytest-benchmark's ``pytest_benchmark_update_*`` hooks (and,
like them, prefixed ``pytest_``: pytest picks up undecorated hook functions only with
that prefix).
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_gradbench_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    """Add to or change the results file's ``machine_info`` in place.

    gradbench's own block is ``machine_info["gradbench"]``: the devices the cases ran
    on, torch/CUDA/cuDNN versions and the TF32/determinism flags
    (:class:`gradbench.records.MachineInfo`).
    """


@pytest.hookspec
def pytest_gradbench_update_json(
    config: pytest.Config, cases: list[dict[str, Any]], output_json: dict[str, Any]
) -> None:
    """Change the results document in place (``output_json["gradbench"]`` is the run block).

    ``cases`` are the case records as they appear under ``extra_info["gradbench"]``.
    """
