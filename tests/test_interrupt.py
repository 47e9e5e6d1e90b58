"""Interrupted and crashing runs keep the finished results; files are never half-written."""

from __future__ import annotations

import json
import os

import pytest

from gradbench import records
from gradbench.errors import InvalidArgument

pytestmark = pytest.mark.integration  # starts subprocesses

pytest_plugins = ["pytester"]

INTERRUPTED = """
import gradbench as gb

def _case(gradbench_record, depth):
    gradbench_record(claim="demo", spec=gb.MLPSpec(depth=depth, width=4), extra={"depth": depth})

def test_1(gradbench_record):
    _case(gradbench_record, 2)

def test_2(gradbench_record):
    _case(gradbench_record, 3)

def test_3(gradbench_record):
    raise KeyboardInterrupt

def test_4(gradbench_record):
    _case(gradbench_record, 5)

def test_5(gradbench_record):
    _case(gradbench_record, 6)
"""

CRASHING = """
import gradbench as gb

def _case(gradbench_record, depth):
    gradbench_record(claim="demo", spec=gb.MLPSpec(depth=depth, width=4), extra={"depth": depth})

def test_1(gradbench_record):
    _case(gradbench_record, 2)

def test_2(gradbench_record):
    raise RuntimeError("boom")

def test_3(gradbench_record):
    _case(gradbench_record, 4)
"""


def _reject(token: str) -> None:
    raise AssertionError(f"non-strict JSON token {token}")


def _load(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject)


def _depths(doc: dict) -> list[int]:
    return sorted(b["extra_info"]["gradbench"]["extra"]["depth"] for b in doc["benchmarks"])


def test_keyboard_interrupt_keeps_finished_cases(pytester):
    """Ctrl-C in the 3rd test: the JSON exists, is strict, and holds the 2 finished cases."""
    pytester.makepyfile(test_suite=INTERRUPTED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradbench-json=out.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = pytester.path / "out.json"
    assert out.exists()
    assert _depths(_load(out)) == [2, 3]
    result.stdout.fnmatch_lines(
        [
            # the verdict line said 'every claim holds' alone; the HTML says 'not complete'
            "gradbench: 2 cases recorded, every claim holds, but the run is not complete "
            "(profile*out.json*",
            "gradbench: interrupted: 3 of 5 tests did not run; finished results kept in out.json",
        ]
    )
    assert not list(pytester.path.glob(".out.json.*.tmp"))


def test_crashing_test_keeps_other_cases(pytester):
    """A test raising between recorded tests fails alone; the other cases are in the JSON."""
    pytester.makepyfile(test_suite=CRASHING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradbench-json=out.json")
    result.assert_outcomes(passed=2, failed=1)
    assert _depths(_load(pytester.path / "out.json")) == [2, 4]
    assert "interrupted" not in result.stdout.str()


def test_failed_replace_leaves_old_file_intact(tmp_path, monkeypatch):
    """If the final rename fails, the old results file is unchanged and no temp file remains."""
    target = tmp_path / "results.json"
    records.write_json(target, {"benchmarks": [], "old": True})
    before = target.read_bytes()

    def broken_replace(src, dst, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InvalidArgument, match=r"cannot write '.*results\.json': No space left"):
        records.write_json(target, {"benchmarks": [{"name": "x" * 10_000}], "old": False})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_interrupt_during_write_leaves_old_file_intact(tmp_path, monkeypatch):
    """Ctrl-C during the write (here: at the rename) also leaves the old file and no temp."""
    target = tmp_path / "results.json"
    records.write_json(target, {"old": True})
    before = target.read_bytes()

    def interrupted(src, dst, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        records.write_json(target, {"old": False})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
