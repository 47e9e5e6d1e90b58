"""gradbench's Hypothesis profiles keep a test's examples a function of that test alone."""

from __future__ import annotations

import sys

import pytest

providers = pytest.importorskip("hypothesis.internal.conjecture.providers")


def test_literals_of_local_modules_stay_out_of_the_draws_while_in_use(tmp_path,
                                                                      monkeypatch) -> None:
    """Hypothesis mixes literals of every local module imported so far into its draws: a
    remedy module beside the command would change other tests' examples (tests/
    test_packaging.py shows it end to end). While gradbench is in use the pool is empty;
    sessions nest, and the outermost one puts Hypothesis's collector back."""
    from gradbench.plugin import hypothesis_profiles

    original = providers._get_local_constants
    (tmp_path / "literal_remedies.py").write_text("SCALE = [6.25, 123457, 'needle']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "literal_remedies", raising=False)
    hypothesis_profiles._no_local_constants()
    hypothesis_profiles._no_local_constants()  # a nested session
    try:
        import literal_remedies  # noqa: F401

        pool = providers._get_local_constants()
        assert 6.25 not in pool.floats
        assert 123457 not in pool.integers
        hypothesis_profiles._restore_local_constants()
        assert providers._get_local_constants is not original
    finally:
        hypothesis_profiles._restore_local_constants()
    assert providers._get_local_constants is original
    assert 6.25 in original().floats  # what Hypothesis itself would have drawn from


def test_gradbench_profiles_report_one_bug_and_are_derandomized() -> None:
    """A failing test stops generating at its first failure (else how many examples it
    records would depend on wall-clock time), and draws are a function of the test."""
    from hypothesis import settings

    from gradbench.plugin import hypothesis_profiles
    from gradbench.profiles import PROFILES

    hypothesis_profiles.register(PROFILES["quick"])
    for name in hypothesis_profiles.NAMES:
        profile = settings.get_profile(name)
        assert profile.report_multiple_bugs is False
        assert profile.derandomize is (name != "gradbench-dev")


@pytest.mark.integration
def test_a_suite_test_draws_the_same_examples_whatever_the_rootdir(tmp_path) -> None:
    """Hypothesis's pytest plugin seeds a parametrized test's derandomized examples with its
    node id, which depends on the rootdir; gradbench seeds them with the suite id
    (``suites/<file>::<test>[...]``) instead. One parametrized suite test run from the
    checkout, with the suites folder as rootdir (as ``gradbench run`` runs it) and from a
    copy of the suites elsewhere (as tests/mutants.py runs it) draws the same specs. Without
    the seed, the copy drew a 1 x 1 kernel where the checkout drew a 5 x 5 one, and a flipped
    1-D kernel (a planted bug) went unseen."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    copy = tmp_path / "elsewhere" / "suites"
    shutil.copytree(root / "suites", copy, ignore=shutil.ignore_patterns("__pycache__"))
    runs = {"checkout": (root, ["suites/test_reference.py"]),
            "rootdir": (root / "suites", ["test_reference.py", f"--rootdir={root / 'suites'}"]),
            "copy": (tmp_path, [str(copy / "test_reference.py")])}
    drawn = {}
    for name, (cwd, args) in runs.items():
        out = tmp_path / f"{name}.json"
        proc = subprocess.run([sys.executable, "-m", "pytest", *args, "-q", "-p",
                               "no:cacheprovider", "-p", "no:xdist", "-k", "conv1d",
                               f"--gradbench-json={out}"], cwd=cwd, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stdout[-2000:]
        drawn[name] = {b["extra_info"]["gradbench"]["case"]: b["extra_info"]["gradbench"]["spec"]
                       for b in json.loads(out.read_text())["benchmarks"]}
    assert len(drawn["checkout"]) == 2
    assert drawn["rootdir"] == drawn["checkout"]
    assert drawn["copy"] == drawn["checkout"]
