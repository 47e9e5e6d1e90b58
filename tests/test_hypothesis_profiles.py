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
