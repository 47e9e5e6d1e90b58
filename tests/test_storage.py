"""Results folders: exclusive numbering, the journal, atomic finish and recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradbench import records, storage
from gradbench.errors import InvalidArgument

RUN = records.RunInfo(profile="quick", base_seed=0)
MACHINE = records.MachineInfo(node="n", gradbench={"torch": "2.13.0"})


def _case(i: int, device: str = "cpu") -> dict:
    return records.CaseRecord.build(
        case=f"suites/test_x.py::test_{i}#0", claim="demo", spec={"depth": i}, label=f"L{i}",
        extra={"i": i}, env={"device": device, "torch": "2.13.0"},
    ).to_dict()


def _header() -> dict:
    return storage.journal_header(RUN, MACHINE, "2026-12-01T00:00:00+00:00")


def _document(cases: list[dict]) -> dict:
    recs = [records.CaseRecord.from_dict(c) for c in cases]
    machine = records.MachineInfo.from_cases(recs, {"node": "n"}, {})
    return records.results_document(RUN, machine, recs)


def test_numbers_follow_every_numbered_file(tmp_path: Path) -> None:
    """The next number is one past the highest NNNN_ file of any name or kind."""
    first = storage.reserve(tmp_path, "quick", _header())
    assert first.path.name == "0001_quick.partial.jsonl"
    assert first.json_path.name == "0001_quick.json"
    (tmp_path / "0007_full.html").write_text("x")
    assert storage.reserve(tmp_path, "validate-my init", _header()).path.name == (
        "0008_validate-my_init.partial.jsonl"
    )
    (tmp_path / "12345_big.json").write_text("{}")
    assert storage.reserve(tmp_path, "q", _header()).path.name == "12346_q.partial.jsonl"


def test_a_journal_is_created_whole(tmp_path: Path) -> None:
    """The journal appears with its header already in it; no temporary file stays."""
    journal = storage.reserve(tmp_path, "quick", _header())
    lines = journal.path.read_bytes().split(b"\n")
    assert lines[1:] == [b""]
    assert json.loads(lines[0])["gradbench_journal"] == storage.JOURNAL_FORMAT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001_quick.partial.jsonl"]


RESERVE = """
import os, sys, time
from gradbench import records, storage
go = sys.argv[2]
while not os.path.exists(go):  # start together
    time.sleep(0.001)
header = storage.journal_header(records.RunInfo(profile="quick", base_seed=0),
                                records.MachineInfo(), "")
print(storage.reserve(sys.argv[1], sys.argv[3], header).path.name)
"""


def test_concurrent_reservations_never_share_a_number(tmp_path: Path) -> None:
    """10 processes reserving at once in one folder (two names) get 10 distinct numbers."""
    folder, go = tmp_path / "reports", tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", RESERVE, str(folder), str(go), name],
                         stdout=subprocess.PIPE, text=True)
        for name in ["quick", "validate-x"] * 5
    ]
    time.sleep(1.0)  # let them all reach the start line (correctness does not depend on it)
    go.write_text("")
    names = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 10
    assert sorted(int(n[:4]) for n in names) == list(range(1, 11)), names


def test_finish_writes_the_results_and_removes_the_journal(tmp_path: Path) -> None:
    journal = storage.reserve(tmp_path, "quick", _header())
    cases = [_case(i) for i in range(3)]
    journal.append(cases[:2])
    journal.append(cases[2:])
    path = journal.finish(_document(cases))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001_quick.json"]
    doc = records.read_json(path)
    assert [b["extra_info"]["gradbench"]["extra"]["i"] for b in doc["benchmarks"]] == [0, 1, 2]
    assert doc["gradbench"]["status"] == "complete"


def test_a_journal_reads_back_as_an_incomplete_run(tmp_path: Path) -> None:
    """What a SIGKILL leaves: every appended case, status incomplete, a note saying so."""
    journal = storage.reserve(tmp_path, "quick", _header())
    journal.append([_case(0), _case(1, device="cuda:0")])
    journal.close()
    doc = storage.read_results(journal.path)
    assert doc["gradbench"]["status"] == "incomplete"
    assert "recovered 2 finished cases" in doc["gradbench"]["note"]
    assert records.run_notes(doc["gradbench"]) == [doc["gradbench"]["note"]]
    assert doc["machine_info"]["gradbench"]["device"] == "cpu, cuda:0"
    assert doc["machine_info"]["gradbench"]["devices"] == ["cpu", "cuda:0"]
    assert len(doc["benchmarks"]) == 2


def test_results_files_skip_the_journal_of_a_finished_run(tmp_path: Path) -> None:
    done = storage.reserve(tmp_path, "quick", _header())
    done.append([_case(0)])
    (tmp_path / "0001_quick.json").write_text("{}")  # killed between finish's two steps
    killed = storage.reserve(tmp_path, "quick", _header())
    killed.append([_case(1)])
    (tmp_path / ".0003_quick.json.abc.tmp").write_text("")  # a torn temporary: not a run
    assert [p.name for p in storage.results_files(tmp_path)] == [
        "0001_quick.json", "0002_quick.partial.jsonl",
    ]


def test_journal_truncated_at_every_byte(tmp_path: Path) -> None:
    """Cut anywhere, a journal yields the cases whose lines are whole, or one sentence."""
    journal = storage.reserve(tmp_path, "quick", _header())
    journal.append([_case(i) for i in range(3)])
    journal.close()
    data = journal.path.read_bytes()
    header_end = data.index(b"\n") + 1
    line_ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    cut = tmp_path / "cut.partial.jsonl"
    for offset in range(len(data) + 1):
        cut.write_bytes(data[:offset])
        if offset < header_end - 1:
            with pytest.raises(InvalidArgument, match=r"cut\.partial\.jsonl"):
                storage.read_results(cut)
            continue
        doc = storage.read_results(cut)
        whole = sum(end <= offset for end in line_ends) - 1  # lines after the header
        if offset in [end - 1 for end in line_ends]:  # only the newline is missing
            whole += 1
        assert len(doc["benchmarks"]) == max(whole, 0), offset


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"its header is empty"),
        (b"not json\n", r"its header is not valid JSON"),
        (b'{"x": 1}\n', r"is not a gradbench journal"),
        (b"HEADER\n{bad\n" + b'{"case": {}}\n', r"line 2 is not valid JSON"),
        (b'HEADER\n{"case": {"claim": "c"}}\n{"case": {}}\n', r"line 2 is not a case"),
        (b"HEADER\nNaN\n{}\n", r"line 2 is not valid JSON"),
    ],
)
def test_corrupt_journals_fail_with_one_sentence(tmp_path: Path, content: bytes,
                                                 match: str) -> None:
    header = json.dumps(_header()).encode()
    path = tmp_path / "0001_x.partial.jsonl"
    path.write_bytes(content.replace(b"HEADER", header))
    with pytest.raises(InvalidArgument, match=match):
        storage.read_results(path)


def test_an_explicit_path_refuses_a_live_journal(tmp_path: Path) -> None:
    """`--gradbench-json=out.json` twice at once: the second is told, nothing is overwritten."""
    first = storage.claim(tmp_path / "out.json", _header())
    assert first.path == tmp_path / "out.partial.jsonl"
    with pytest.raises(InvalidArgument, match=r"out\.partial\.jsonl' already exists"):
        storage.claim(tmp_path / "out.json", _header())


def test_save_numbers_a_finished_document(tmp_path: Path) -> None:
    path = storage.save(tmp_path, "validate-x", _document([_case(0)]))
    assert path.name == "0001_validate-x.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001_validate-x.json"]


def test_unwritable_folder_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidArgument, match=r"cannot write results in '.*file/sub'"):
        storage.reserve(blocker / "sub", "quick", _header())


def test_a_failed_append_keeps_the_earlier_lines(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A write error (disk full) is one sentence; the lines already there stay readable."""
    journal = storage.reserve(tmp_path, "quick", _header())
    journal.append([_case(0)])
    real_write = os.write

    def full(fd: int, data: bytes) -> int:  # half a line fits, then the disk is full
        if len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(InvalidArgument, match=r"cannot append to the journal .*No space left"):
        journal.append([_case(1)])
    monkeypatch.undo()
    doc = storage.read_results(journal.path)
    assert [b["extra_info"]["gradbench"]["extra"]["i"] for b in doc["benchmarks"]] == [0]
    assert "torn last line was skipped" in doc["gradbench"]["note"]


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`gradbench validate` meeting a full disk: one sentence, no file, no empty journal."""
    (tmp_path / "0001_quick.json").write_text("{}")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(InvalidArgument, match=r"0002_validate-x\.json': No space left"):
        storage.save(tmp_path, "validate-x", _document([_case(0)]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001_quick.json"]


# --------------------------------------------------------------------------------------
# The one reader: storage.load
# --------------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data"
#: Written by gradbench at main 880c548 (`gradbench run --remedy my_remedies:he_init -k
#: "(he_normal and (initializer_variance or mean_field)) or (he_init and stability)"`):
#: 32 passing cases, one failing, one with a measurement.
MAIN_880C548 = DATA / "main_880c548.json"


def test_load_reads_a_file_written_by_an_earlier_gradbench() -> None:
    results = storage.load(MAIN_880C548)
    assert results.run is not None
    assert results.run.schema_version == 1
    assert results.run.schema_version in storage.SUPPORTED_SCHEMA_VERSIONS
    assert len(results.cases) == 33
    assert [c.claim for c in results.records if c.failed] == ["stable_as_declared"]
    assert sum(c.measurement is not None for c in results.records) == 2
    assert all(name == case.case for name, case in results.cases)


def test_every_reader_goes_through_load(tmp_path: Path) -> None:
    """report, compare and validate see the same cases as storage.load."""
    from gradbench import report, validate

    results = storage.load(MAIN_880C548)
    run = report.load_run(MAIN_880C548)
    assert [c.case for c in run.cases] == [c.case for c in results.records]
    assert [c.label for c in run.cases] == [c.label for c in results.records]
    tallied = validate.result_from_results(results, "x", "quick", 0)
    assert tallied.tallies == ()  # not a validation run: no candidate kind to tally


def test_a_file_written_now_compares_with_one_written_by_main(tmp_path: Path) -> None:
    from gradbench import report

    old = storage.load(MAIN_880C548)
    assert old.run is not None
    doc = records.results_document(old.run, old.machine, old.records)
    new = records.write_json(tmp_path / "now.json", doc)
    comparison = report.compare_runs(report.load_run(MAIN_880C548), report.load_run(new))
    assert comparison.shared == 33
    assert comparison.regressions == []


def test_load_names_the_file_and_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    doc = json.loads(MAIN_880C548.read_text())
    doc["gradbench"]["base_seed"] = "zero"
    bad.write_text(json.dumps(doc))
    with pytest.raises(InvalidArgument, match=r"bad.json.*malformed 'gradbench' block"):
        storage.load(bad)
    doc["gradbench"]["base_seed"] = 0
    doc["benchmarks"][0]["extra_info"]["gradbench"]["verdict"] = [1]
    bad.write_text(json.dumps(doc))
    with pytest.raises(InvalidArgument, match=r"bad.json.*malformed \(verdict is not an object"):
        storage.load(bad)
