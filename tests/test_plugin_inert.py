"""Installed, the plugin changes nothing in a project that does not use gradbench.

A throwaway project under pytester (its own subprocess) with Hypothesis tests, a
benchmark and xdist: everything it can observe is compared with the same session
run with ``-p no:gradbench``. Then what does put gradbench in use, and what that does.
"""

from __future__ import annotations

import json
import os

import pytest
from ci_env import set_ci

pytestmark = pytest.mark.integration  # starts subprocesses

pytest_plugins = ["pytester"]

PROJECT = """
import json, os, sys
from hypothesis import given, settings, strategies as st

SEEN = {}

@given(st.integers())
def test_given(x):
    SEEN.setdefault("given", settings.default.max_examples)

def test_settings(benchmark):
    s = settings()
    benchmark(lambda: None)
    state = {
        "profile": settings.get_current_profile_name(),
        "max_examples": s.max_examples,
        "derandomize": s.derandomize,
        "deadline": str(s.deadline),
        "database": type(s.database).__name__,
        "print_blob": s.print_blob,
        "suppress": sorted(str(h) for h in s.suppress_health_check),
        "bound_at_definition": test_given.hypothesis.inner_test is not None
        and test_given._hypothesis_internal_use_settings.max_examples,
        "imported": sorted(m for m in ("torch", "numpy", "gradbench.records") if m in sys.modules),
        "omp": os.environ.get("OMP_NUM_THREADS"),
    }
    print("STATE " + json.dumps(state, sort_keys=True))
"""

THREADS = """
import os
def test_threads():
    import torch
    print("THREADS", torch.get_num_threads())
"""


def _clean_env(monkeypatch: pytest.MonkeyPatch, ci: bool) -> None:
    for var in ("HYPOTHESIS_PROFILE", "OMP_NUM_THREADS",
                "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(var, raising=False)  # the outer run's xdist must not leak in
    set_ci(monkeypatch, ci)


def _state(pytester: pytest.Pytester, *args: str) -> dict:
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "-p", "no:xdist",
                                           "--benchmark-json=bench.json", *args)
    result.assert_outcomes(passed=2)
    (line,) = [x.split("STATE ", 1)[1] for x in result.stdout.lines if "STATE " in x]
    bench = json.loads((pytester.path / "bench.json").read_text())
    (pytester.path / "bench.json").unlink()
    return {
        **json.loads(line),
        "bench_keys": sorted(bench),
        "bench_machine": sorted(bench["machine_info"]),
    }


@pytest.mark.parametrize("ci", [False, True], ids=["local", "CI=true"])
def test_hypothesis_and_everything_else_as_without_gradbench(pytester, monkeypatch, ci):
    """Hypothesis's settings, imports and pytest-benchmark's JSON are exactly as they are
    with the plugin disabled, locally and on CI."""
    _clean_env(monkeypatch, ci)
    pytester.makepyfile(test_project=PROJECT)
    with_plugin = _state(pytester)
    without = _state(pytester, "-p", "no:gradbench")
    assert with_plugin == without
    assert with_plugin["profile"] == ("ci" if ci else "default")
    assert with_plugin["max_examples"] == 100
    assert with_plugin["imported"] == []  # gradbench imported neither torch nor NumPy
    assert "gradbench" not in with_plugin["bench_keys"]
    assert "gradbench" not in with_plugin["bench_machine"]


def test_threads_as_without_gradbench(pytester, monkeypatch):
    """Under xdist, workers keep torch's own thread count when gradbench is not in use."""
    _clean_env(monkeypatch, ci=False)
    pytester.makepyfile(test_threads=THREADS)

    def threads(*args: str) -> str:
        result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "-n", "2", *args)
        result.assert_outcomes(passed=1)
        return "\n".join(x for x in result.stdout.lines if "THREADS" in x)

    assert threads() == threads("-p", "no:gradbench")


def test_options_markers_and_fixtures_are_registered(pytester):
    """What an installed, unused plugin does provide."""
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--gradbench-profile=*", "*--gradbench-save=*",
                                 "*gradbench_profile (string)*"])
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gradbench:*", "@pytest.mark.gradbench_cuda:*"])
    result = pytester.runpytest_subprocess("--fixtures")
    result.stdout.fnmatch_lines(["gradbench_record*", "gradbench_config*"])


SUITE_CONFTEST = """
from pathlib import Path
from gradbench.plugin import use_gradbench

def pytest_configure(config):
    use_gradbench(config, "a test suite", suites_root=Path(__file__).parent)
"""

SUITE_TEST = """
from hypothesis import given, settings, strategies as st

@given(st.integers())
def test_given(x):
    pass

def test_profile():
    print("PROFILE", settings.get_current_profile_name(),
          test_given._hypothesis_internal_use_settings.max_examples)
"""


@pytest.mark.parametrize(
    ("how", "args", "ci", "expected"),
    [
        ("conftest", (), False, "PROFILE gradbench-quick 15"),
        ("conftest", (), True, "PROFILE gradbench-ci 15"),
        ("conftest", ("--gradbench-profile=full",), False, "PROFILE gradbench-full 40"),
        ("option", ("--gradbench-profile=full",), False, "PROFILE gradbench-full 40"),
        ("ini", (), False, "PROFILE gradbench-full 40"),
        ("conftest", ("--hypothesis-profile=ci",), False, "PROFILE ci 100"),
    ],
    ids=["suites", "suites-CI", "suites-full", "option", "ini-key", "explicit-profile"],
)
def test_what_puts_gradbench_in_use(pytester, monkeypatch, how, args, ci, expected):
    """Suites that say they are gradbench's, an option or an ini key: the gradbench profile
    applies, bound before the test modules are imported; an explicit profile wins."""
    _clean_env(monkeypatch, ci)
    pytester.makepyfile(test_suite=SUITE_TEST)
    if how == "conftest":
        pytester.makeconftest(SUITE_CONFTEST)
    if how == "ini":
        pytester.makeini("[pytest]\ngradbench_profile = full\n")
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"*{expected}"])


def test_suites_collected_by_pyargs_put_gradbench_in_use(pytester, monkeypatch):
    """`pytest --pyargs pkg` loads the suites' conftest late (at collection): still in time."""
    _clean_env(monkeypatch, ci=False)
    pkg = pytester.mkpydir("my_suites")
    (pkg / "conftest.py").write_text(SUITE_CONFTEST)
    (pkg / "test_suite.py").write_text(SUITE_TEST)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path) + os.pathsep + os.environ.get(
        "PYTHONPATH", ""))
    other = pytester.mkdir("elsewhere")
    monkeypatch.chdir(other)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "--pyargs",
                                           "my_suites", "-m", "gradbench")
    result.assert_outcomes(passed=2)  # -m gradbench: the suites' tests carry the marker
    result.stdout.fnmatch_lines(["*PROFILE gradbench-quick 15"])


def test_a_gradbench_fixture_shares_cores_but_leaves_hypothesis_alone(pytester, monkeypatch):
    """A project's own test using gradbench_record: its Hypothesis tests were defined before
    that is known, so their settings stay the project's; xdist workers share the cores."""
    _clean_env(monkeypatch, ci=False)
    cores = len(os.sched_getaffinity(0))
    pytester.makepyfile(
        test_mine=f"""
from hypothesis import settings
def test_mine(gradbench_record):
    import torch
    assert settings.get_current_profile_name() == "default"
    assert torch.get_num_threads() == max(1, {cores} // 2)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=1)


def test_the_previous_profile_is_restored(pytester):
    """In-process sessions (gradbench run calls pytest.main) leave Hypothesis as found."""
    from hypothesis import settings

    before = settings.get_current_profile_name()
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--gradbench-profile=full")
    result.assert_outcomes(passed=1)
    assert settings.get_current_profile_name() == before
