"""``--gradbench-progress=on``: a line per finished test with its cases and the run's totals.

Written by the controlling process, so it also follows xdist workers' results.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from gradbench.plugin import state


def pytest_configure(config: pytest.Config) -> None:
    if not state.is_worker(config) and state.get(config).settings.progress:
        config.pluginmanager.register(Progress(config), "gradbench-progress")


class Progress:
    """Counts finished tests; prints a line for each that recorded cases."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.start = time.monotonic()
        self.tests = 0
        self.cases = 0
        self.failed = 0

    def line(self, nodeid: str, cases: list[dict[str, Any]]) -> str:
        """The test's cases, with the run's totals so far (including this test's)."""
        total = state.get(self.config).selected
        done = f"{self.tests}/{total} tests" if total else f"{self.tests} tests done"
        elapsed = int(time.monotonic() - self.start)
        return (
            f"gradbench [{done}, {elapsed // 60}:{elapsed % 60:02d}] "
            f"{nodeid}: {len(cases)} cases, {sum(map(state.case_failed, cases))} failed "
            f"(run: {self.cases} cases, {self.failed} failed)"
        )

    @pytest.hookimpl(trylast=True)  # after the terminal reporter has shown the outcome
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        self.tests += 1
        cases = state.cases_in(report)
        self.cases += len(cases)
        self.failed += sum(map(state.case_failed, cases))
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or not cases:
            return
        if self.config.get_terminal_writer().width_of_current_line:
            reporter.write("\n")  # start a fresh line after pytest's "." marks
        reporter.write_line(self.line(report.nodeid, cases))
