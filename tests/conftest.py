"""Shared fixtures for the unit tests (kept small on purpose)."""

from __future__ import annotations

import pytest
import torch._inductor.config  # noqa: F401  (see below)

# Imported once, here, before any in-process pytest run (pytester's runpytest_inprocess, the
# gpu check's verdict agreement): those runs drop the modules first imported inside them, and
# torch.use_deterministic_algorithms imports torch._inductor, which registers a torch library
# that cannot be registered twice in one process.


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gradbench_cuda)])
def device(request: pytest.FixtureRequest) -> str:
    """A torch device name; the CUDA case (marked ``gradbench_cuda``, which ``tox -e cuda``
    selects) is skipped cleanly when no GPU is usable."""
    if request.param == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("CUDA is not available on this machine")
    return str(request.param)


FAULT_FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def fault_figures(request: pytest.FixtureRequest) -> list[str]:
    """Lines the fault tests report (kill points tried, cases lost), shown in the summary.

    Collected per process: run the fault tests without xdist to see them (tox -e faults).
    """
    return request.config.stash.setdefault(FAULT_FIGURES, [])


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for line in config.stash.get(FAULT_FIGURES, []):
        terminalreporter.write_line(f"faults: {line}")
