"""Sharded runs (gradbench.shards): the split, and the merge of the shards into one run.

The acceptance is end to end: ``gradbench run -k EXPR --shard 1/2`` and ``--shard 2/2``,
merged, equal ``gradbench run -k EXPR`` case for case and verdict for verdict (the JSON
identical apart from when and where it ran). Bad ``--shard`` values and merges of
shards that do not make one run end in one sentence, exit 2, with nothing written.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbench import records, shards, storage
from gradbench.cli import main
from gradbench.errors import InvalidArgument

# --------------------------------------------------------------------------------------
# --shard K/N
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "shard"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3 / 3 ", (3, 3))])
def test_parse_shard(text, shard):
    assert shards.parse_shard(text) == shards.Shard(*shard)
    assert str(shards.parse_shard(text)) == f"{shard[0]}/{shard[1]}"


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "-1/2", "1/2/3", "x", "", "1.5/2", "1"])
def test_bad_shard_is_one_sentence_exit_2(text, capsys, tmp_path):
    with pytest.raises(InvalidArgument, match=r"must be K/N, shard K of N with 1 <= K <= N"):
        shards.parse_shard(text)
    assert main(["run", "--out-dir", str(tmp_path / "out"), f"--shard={text}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gradbench: error: gradbench run: argument --shard: {text!r} is invalid: "
                   f"{shards.SHARD_RULE}"]
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------------------

_IDS = st.lists(st.from_regex(r"suites/test_[a-c]\.py::t[0-9]{1,2}(\[[xy]\])?", fullmatch=True),
                unique=True, max_size=40)
_TABLE = st.dictionaries(st.from_regex(r"suites/test_[a-c]\.py::t[0-9](\[[xy]\])?",
                                       fullmatch=True),
                         st.floats(0, 50, allow_nan=False), max_size=20)


@settings(max_examples=200, deadline=None)
@given(ids=_IDS, count=st.integers(1, 6), table=_TABLE, data=st.data())
def test_assign_is_a_deterministic_balanced_partition(ids, count, table, data):
    where = shards.assign(ids, count, table)
    assert len(where) == len(ids)
    assert set(where) <= set(range(1, count + 1))
    if len(ids) >= count:  # every shard runs something, zero-second tests included
        assert set(where) == set(range(1, count + 1))
    # the same tests in another order land in the same shards (collection order is free)
    order = data.draw(st.permutations(range(len(ids))))
    again = shards.assign([ids[i] for i in order], count, table)
    assert [again[order.index(i)] for i in range(len(ids))] == where
    # list scheduling's bound: no shard exceeds the mean load by more than one test
    expected = shards.weights(ids, table)
    loads = [sum(w for w, k in zip(expected, where) if k == s) for s in range(1, count + 1)]
    if ids:
        assert max(loads) <= sum(expected) / count + max(expected) + 1e-9


def test_longest_processing_time_first():
    table = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 3.0, "e": 3.0}
    # LPT: a->1, b->2, c->2 (4 < 5), d->1, e->2 -> loads 8 and 10 (best is 9; 10 <= 4/3 * 9)
    assert shards.assign(list(table), 2, table) == [1, 2, 2, 1, 2]


def test_weights_fall_back_to_the_function_then_the_table():
    table = {"suites/t.py::f[1]": 2.0, "suites/t.py::f[2]": 4.0, "suites/t.py::g": 9.0}
    assert shards.weights(["suites/t.py::f[1]", "suites/t.py::f[9]", "suites/t.py::h"],
                          table) == [2.0, 3.0, 5.0]
    assert shards.weights(["x"], {}) == [1.0]


def test_the_shipped_durations_cover_the_suites():
    """The table beside the suites loads, and names tests of the suites' files."""
    from gradbench.runner import suites_dir

    folder = suites_dir(None)
    table = shards.load_durations(folder)
    assert len(table) > 100
    files = {test.split("::")[0] for test in table}
    assert all((folder / f.removeprefix("suites/")).is_file() for f in files), files


@pytest.mark.parametrize(("seconds", "message"), [
    ('{"seconds": {"t": -1}}', "gives test 't' -1 seconds"),
    ('{"seconds": {"t": "1"}}', "gives test 't' '1' seconds"),
    ('{"seconds": {"t": true}}', "gives test 't' True seconds"),
    ('{"seconds": []}', "has no 'seconds' object"),
])
def test_bad_durations_table(tmp_path, seconds, message):
    (tmp_path / shards.DURATIONS_FILE).write_text(seconds)
    with pytest.raises(InvalidArgument, match=message):
        shards.load_durations(tmp_path)


def test_no_durations_table_weighs_every_test_alike(tmp_path):
    assert shards.load_durations(tmp_path) == {}


# --------------------------------------------------------------------------------------
# The merge, on documents built the way a run builds them
# --------------------------------------------------------------------------------------

PLATFORM = {"node": "host", "machine": "x86_64", "system": "Linux", "python_version": "3.11"}


def _case(name: str, passed: bool = True, threads: int = 2) -> records.CaseRecord:
    verdict = records.Verdict(claim="demo", spec={"family": "mlp", "depth": 3}, predicted=0.0,
                              measured=0.1, statistic=1.0, pvalue=0.5 if passed else 1e-9,
                              ci_low=-0.1, ci_high=0.3, alpha=0.01, passed=passed)
    return records.CaseRecord.build(case=f"suites/test_x.py::{name}#0", claim="demo",
                                    spec={"family": "mlp", "depth": 3}, label=name,
                                    verdict=verdict, env={"device": "cpu",
                                                          "num_threads": threads})


def _document(cases: list[records.CaseRecord], shard: dict[str, Any] | None = None,
              **run: Any) -> dict[str, Any]:
    extra = {"shard": shard} if shard is not None else {}
    info = records.RunInfo(profile=run.pop("profile", "quick"), base_seed=run.pop("seed", 0),
                           extra=extra, **run)
    machine = records.MachineInfo.from_cases(cases, PLATFORM, {"device": "cpu"})
    return records.results_document(info, machine, cases, datetime="2026-12-01T00:00:00")


CASES = [_case(f"t{i}", passed=i != 3) for i in range(5)]
SELECTION = {"tests": 5, "digest": shards.digest(c.case.split("#")[0] for c in CASES)}


def _shards(tmp_path: Path, parts: list[list[int]], **run: Any) -> list[Path]:
    paths = []
    for k, part in enumerate(parts, start=1):
        block = {"index": k, "count": len(parts), "tests": len(part), "selection": SELECTION}
        path = tmp_path / f"000{k}_quick-shard{k}of{len(parts)}.json"
        records.write_json(path, _document([CASES[i] for i in part], block, **run))
        paths.append(path)
    return paths


def _without_when(document: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(document))
    out.pop("datetime")
    out["gradbench"].get("extra", {}).pop("merged", None)
    out["gradbench"].pop("merged", None)
    return out


def test_merged_shards_are_the_unsharded_run(tmp_path, capsys):
    paths = _shards(tmp_path, [[4, 1], [0, 2, 3]])
    output = tmp_path / "merged.json"
    assert main(["merge", str(paths[1]), str(paths[0]), "--output", str(output)]) == 1  # t3
    out = capsys.readouterr().out
    from gradbench import summary

    assert f"gradbench: {summary.outcome_line(CASES)} (2 shards merged)" in out
    assert summary.outcome_line(CASES).endswith("1 claim failed in 1 case")
    merged = json.loads(output.read_text())
    assert _without_when(merged) == _without_when(_document(CASES))
    assert merged["gradbench"]["merged"] == {"shards": 2, "selection": SELECTION,
                                             "files": [paths[0].name, paths[1].name]}
    assert output.with_suffix(".html").is_file()
    assert storage.load(output).run.status == "complete"


def test_machine_fields_of_different_shards_are_joined(tmp_path):
    """Shards on machines with other thread counts: one value each, joined as a run joins
    its cases' environments."""
    paths = _shards(tmp_path, [[0, 1], [2, 3, 4]])
    doc = json.loads(paths[1].read_text())
    for bench in doc["benchmarks"]:
        bench["extra_info"]["gradbench"]["env"]["num_threads"] = 8
    doc["machine_info"]["node"] = "other"
    records.write_json(paths[1], doc)
    merged = shards.merge(paths)
    assert merged["machine_info"]["gradbench"]["num_threads"] == "2, 8"
    assert merged["machine_info"]["node"] == "host, other"


def test_an_interrupted_shard_makes_the_merged_run_interrupted(tmp_path):
    paths = _shards(tmp_path, [[0, 1], [2, 3, 4]])
    doc = json.loads(paths[0].read_text())
    doc["gradbench"].update(status="interrupted", tests_not_run=3,
                            note="interrupted (SIGTERM): 3 of 5 tests did not run")
    records.write_json(paths[0], doc)
    run = shards.merge(paths)["gradbench"]
    assert run["status"] == "interrupted"
    assert run["tests_not_run"] == 3
    assert run["note"] == "shard 1/2: interrupted (SIGTERM): 3 of 5 tests did not run"


@pytest.mark.parametrize("status", ["interrupted", "incomplete"])
def test_a_merge_that_is_not_complete_is_written_but_not_a_pass(status, tmp_path, capsys):
    """Shards whose claims all held, one of them not complete: the merge is written, says why
    it is not a pass, and exits 1 (a merge job must not turn green on less than its selection)."""
    paths = _shards(tmp_path, [[0, 1], [2, 4]])  # CASES[3] is the failing claim: left out
    note = "incomplete: 1 test failed outside its claims"
    _rewrite(paths[1], lambda d: d["gradbench"].update(status=status, tests_not_run=1, note=note))
    output = tmp_path / "merged.json"
    assert main(["merge", *map(str, paths), "--output", str(output)]) == 1
    captured = capsys.readouterr()
    assert "every claim holds, but the run is not complete (2 shards merged)" in captured.out
    assert (f"gradbench: the merged run is not complete, so it is not a pass: shard 2/2: {note}"
            in captured.err.splitlines())
    assert storage.load(output).run.status == status
    assert len(storage.load(output).records) == 4


def test_a_recovered_journal_makes_the_merged_run_incomplete(tmp_path):
    paths = _shards(tmp_path, [[0, 1], [2, 3, 4]])
    doc = json.loads(paths[1].read_text())
    header = storage.journal_header(records.RunInfo.from_dict(doc["gradbench"]),
                                    records.MachineInfo.from_dict(doc["machine_info"]),
                                    doc["datetime"])
    journal = storage.reserve(tmp_path / "killed", "quick-shard2of2", header)
    journal.append([b["extra_info"]["gradbench"] for b in doc["benchmarks"]])
    journal.close()
    merged = shards.merge([paths[0], journal.path])
    assert merged["gradbench"]["status"] == "incomplete"
    assert len(merged["benchmarks"]) == 5


def _rewrite(path: Path, change: Any) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    records.write_json(path, doc)
    return path


MISMATCHES = {
    "missing": ([[0, 1], [2], [3, 4]], lambda p: p[:2],
                "shard 3/3 is missing: 2 of 3 shards given; give the results of every shard"),
    "twice": ([[0, 1], [2, 3, 4]], lambda p: [p[0], p[0], p[1]],
              "shard 1/2 is given twice"),
    "other-count": ([[0, 1], [2, 3, 4]], lambda p: [p[0], _rewrite(
        p[1], lambda d: d["gradbench"]["shard"].update(count=3))],
        "the shards split the run into different numbers of shards"),
    "other-selection": ([[0, 1], [2, 3, 4]], lambda p: [p[0], _rewrite(
        p[1], lambda d: d["gradbench"]["shard"]["selection"].update(tests=9))],
        "the shards were cut from different selections"),
    "other-seed": ([[0, 1], [2, 3, 4]], lambda p: [p[0], _rewrite(
        p[1], lambda d: d["gradbench"].update(base_seed=7))],
        "the shards differ in base_seed"),
    "other-profile": ([[0, 1], [2, 3, 4]], lambda p: [p[0], _rewrite(
        p[1], lambda d: d["gradbench"].update(profile="full"))],
        "the shards differ in profile"),
    "other-candidate": ([[0, 1], [2, 3, 4]], lambda p: [p[0], _rewrite(
        p[1], lambda d: d["gradbench"].update(candidate=["initializer", "mine"]))],
        "the shards differ in their run options"),
    "other-depth": ([[0, 1], [2, 3, 4]], lambda p: [p[0], _rewrite(
        p[1], lambda d: d["gradbench"].update(depth=48))],
        "depth=48"),
    "not-a-shard": ([[0, 1], [2, 3, 4]], lambda p: [p[0], _rewrite(
        p[1], lambda d: d["gradbench"].pop("shard"))],
        "is not the results of a shard"),
    "case-twice": ([[0, 1], [1, 2, 3, 4]], lambda p: p, "is in two shards"),
}


@pytest.mark.parametrize("name", list(MISMATCHES))
def test_mismatched_shards_are_one_sentence_and_nothing_written(tmp_path, capsys, name):
    parts, pick, message = MISMATCHES[name]
    paths = pick(_shards(tmp_path, parts))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["merge", *map(str, paths), "--output", str(tmp_path / "merged.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("gradbench: error: ")
    assert message in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(("output", "message"), [
    ("0001_quick-shard1of2.json", "is one of the files to merge"),
    ("merged.html", "must end in .json"),
    ("nope/merged.json", "cannot"),
])
def test_bad_merge_output(tmp_path, capsys, output, message):
    paths = _shards(tmp_path, [[0, 1], [2, 3, 4]])
    (tmp_path / "nope").write_text("a file, not a folder")
    assert main(["merge", *map(str, paths), "--output", str(tmp_path / output)]) == 2
    assert message in capsys.readouterr().err
    assert json.loads(paths[0].read_text())["gradbench"]["shard"]["index"] == 1
    assert not (tmp_path / "merged.html").exists()


def test_merge_of_an_unreadable_file(tmp_path, capsys):
    paths = _shards(tmp_path, [[0, 1], [2, 3, 4]])
    paths[1].write_text("{not json")
    assert main(["merge", *map(str, paths), "--output", str(tmp_path / "m.json")]) == 2
    assert str(paths[1]) in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


# --------------------------------------------------------------------------------------
# End to end: gradbench run --shard, gradbench merge
# --------------------------------------------------------------------------------------

TINY_SUITE = """
import pytest

@pytest.mark.parametrize("depth", [2, 3, 4])
def test_one(depth, gradbench_record):
    gradbench_record(claim="demo", spec={"depth": depth}, extra={"depth": depth})

def test_two(gradbench_record):
    gradbench_record(claim="other", spec={"depth": 9})
"""


def _gradbench(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gradbench", *argv], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def _same_run(merged: dict[str, Any], whole: dict[str, Any]) -> None:
    """Identical JSON apart from when and where it ran (time, thread count, host)."""
    def strip(document: dict[str, Any]) -> dict[str, Any]:
        doc = _without_when(document)
        doc.pop("machine_info")
        for bench in doc["benchmarks"]:
            bench["extra_info"]["gradbench"]["env"].pop("num_threads", None)
        return doc

    assert [b["fullname"] for b in merged["benchmarks"]] == \
        [b["fullname"] for b in whole["benchmarks"]]
    assert strip(merged) == strip(whole)


@pytest.mark.integration
def test_tiny_suite_in_shards_with_and_without_xdist(tmp_path):
    """The shard's record reaches the controller of an xdist run; a shard past the tests
    is one sentence, exit 2, no file."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_tiny.py").write_text(TINY_SUITE)
    whole = _gradbench(tmp_path, "run", "--suites", str(suites), "--output", "whole.json")
    assert whole.returncode == 0, whole.stdout + whole.stderr
    one = _gradbench(tmp_path, "run", "--suites", str(suites), "--shard", "1/2",
                     "--output", "s1.json", "-n", "2")
    two = _gradbench(tmp_path, "run", "--suites", str(suites), "--shard", "2/2",
                     "--output", "s2.json")
    assert (one.returncode, two.returncode) == (0, 0), one.stdout + two.stdout
    blocks = [json.loads((tmp_path / f).read_text())["gradbench"]["shard"]
              for f in ("s1.json", "s2.json")]
    assert [(b["index"], b["count"], b["selection"]["tests"]) for b in blocks] == \
        [(1, 2, 4), (2, 2, 4)]
    assert sum(b["tests"] for b in blocks) == 4
    merge = _gradbench(tmp_path, "merge", "s2.json", "s1.json", "--output", "merged.json")
    assert merge.returncode == 0, merge.stdout + merge.stderr
    _same_run(json.loads((tmp_path / "merged.json").read_text()),
              json.loads((tmp_path / "whole.json").read_text()))

    past = _gradbench(tmp_path, "run", "--suites", str(suites), "--shard", "5/5",
                      "--out-dir", "past")
    assert past.returncode == 2, past.stdout + past.stderr
    assert ("gradbench: error: --shard 5/5 gets none of the 4 selected tests: split them into "
            "at most 4 shards; no results file was written") in past.stdout
    assert not list((tmp_path / "past").glob("*.json"))
    bad = subprocess.run([sys.executable, "-m", "pytest", str(suites), "-p", "no:cacheprovider",
                          "--gradbench-shard=3/2"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert bad.returncode == 4
    assert f"--gradbench-shard='3/2' is invalid: {shards.SHARD_RULE}" in bad.stderr


#: A small selection of the real suites: Hypothesis tests and remedy-parametrized tests.
SELECTION_K = "residual_scaling_law or normalization_invariance or finite_width_variance"


@pytest.mark.integration
def test_shards_of_the_suites_merged_equal_the_unsharded_run(tmp_path):
    """`gradbench run -k EXPR --shard 1/2` and `2/2`, merged, equal `gradbench run -k EXPR`."""
    whole = _gradbench(tmp_path, "run", "-k", SELECTION_K, "--output", "whole.json")
    assert whole.returncode == 0, whole.stdout + whole.stderr
    for k in (1, 2):
        part = _gradbench(tmp_path, "run", "-k", SELECTION_K, "--shard", f"{k}/2",
                          "--output", f"s{k}.json")
        assert part.returncode == 0, part.stdout + part.stderr
    merge = _gradbench(tmp_path, "merge", "s1.json", "s2.json", "--output", "merged.json")
    assert merge.returncode == 0, merge.stdout + merge.stderr
    merged = json.loads((tmp_path / "merged.json").read_text())
    whole_doc = json.loads((tmp_path / "whole.json").read_text())
    assert len(merged["benchmarks"]) > 20
    _same_run(merged, whole_doc)
    statistical = [line for line in whole.stdout.splitlines() if "statistical cases" in line]
    assert statistical
    assert statistical[0] in merge.stdout  # the family-wise bound over the merged cases
    assert math.isclose(len(merged["benchmarks"]), len(whole_doc["benchmarks"]))
