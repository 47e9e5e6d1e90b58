"""The gradbench suites: every session that collects them uses gradbench."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradbench.plugin import use_gradbench


def pytest_configure(config: pytest.Config) -> None:
    """These are the gradbench suites: the session uses gradbench (its Hypothesis profile,
    cores shared between xdist workers), and case ids are ``suites/<file>::<test>``
    wherever the suites are installed."""
    use_gradbench(config, "the gradbench suites", suites_root=Path(__file__).parent)
