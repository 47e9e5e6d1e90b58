"""Fault tests: runs that overlap, are stopped, are killed, or meet a full or read-only disk.

Each runs a tiny throwaway suite (no torch) in its own pytest process: N tests, each
sleeping a little and recording one case; a fixture appends the test's number to a
side file at teardown when the test body returned (a body cut short by the signal is
still torn down by pytest at the end, but did not finish). So in a serial run
"finished" is exact: every test in the side file must have its case in what the run
left behind, whenever the signal came. Under xdist the side file is written by a
worker, possibly before the controller has the report: a test counts as finished
there when it ended at least ``XDIST_WINDOW`` seconds before the signal.

The fast cases run with the unit tests; the thorough ones (many random kill points,
10 overlapping runs, a real full tmpfs) are marked ``faults`` (``tox -e faults``)
and print how many runs or kill points they tried and how many cases were lost.
Kill points come from ``random.Random(GRADBENCH_FAULT_SEED)`` (default 0).
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gradbench import records, storage
from gradbench.cli import main

SEED = int(os.environ.get("GRADBENCH_FAULT_SEED", "0"))
XDIST_WINDOW = 0.25

SUITE = """
import os, time, pytest

N = int(os.environ["FAULT_TESTS"])
DELAY = float(os.environ["FAULT_DELAY"])
PAD = int(os.environ.get("FAULT_PAD", "0"))

COMPLETED = set()

@pytest.fixture
def finished(request):
    yield
    i = request.node.callspec.params["i"]
    if i in COMPLETED:  # not a body cut short (pytest still tears it down at the end)
        with open(os.environ["FAULT_DONE"], "a") as fh:
            fh.write(f"{i} {time.time()}\\n")
            fh.flush()
            os.fsync(fh.fileno())

@pytest.mark.parametrize("i", range(N))
def test_case(i, gradbench_record, finished):
    time.sleep(DELAY)
    gradbench_record(claim="fault", spec={"i": i}, extra={"i": i, "pad": "x" * PAD})
    COMPLETED.add(i)
"""


@dataclass
class Run:
    """One pytest process running the tiny suite."""

    proc: subprocess.Popen[str]
    out: Path
    done: Path
    tests: int

    def journal(self) -> Path | None:
        found = sorted(self.out.glob(f"*{storage.JOURNAL_SUFFIX}"))
        return found[0] if found else None

    def journaled(self) -> int:
        j = self.journal()
        try:
            return max(0, j.read_bytes().count(b"\n") - 1) if j is not None else 0
        except FileNotFoundError:  # finished in between
            return self.tests

    def finished(self, before: float = float("inf")) -> set[int]:
        if not self.done.exists():
            return set()
        pairs = [line.split() for line in self.done.read_text().splitlines() if line.strip()]
        return {int(i) for i, t in pairs if float(t) <= before}

    def wait(self, timeout: float = 120) -> tuple[int, str]:
        text, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, text


def start(tmp: Path, *args: str, tests: int = 8, delay: float = 0.15, pad: int = 0,
          out: Path | None = None, tag: str = "", limit_fsize: int | None = None) -> Run:
    """Start the tiny suite in ``tmp`` (its own process group), results under ``out``."""
    suite = tmp / "suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_tiny.py").write_text(SUITE)
    out = out or tmp / "out"
    done = tmp / f"done{tag}.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.update(FAULT_TESTS=str(tests), FAULT_DELAY=str(delay), FAULT_PAD=str(pad),
               FAULT_DONE=str(done))

    def limit() -> None:  # a file-size cap: writes past it fail (EFBIG), as on a full disk
        if limit_fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))

    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "no:randomly",
         str(suite), "--gradbench-save=quick", f"--gradbench-storage={out}", *args],
        cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, preexec_fn=limit if limit_fsize is not None else None,
    )
    return Run(proc, out, done, tests)


def left_behind(out: Path) -> tuple[dict | None, str]:
    """What a stopped run left: its document (final results, else the journal's) and which.

    Fails the test on a torn file: every results file parses strictly, every journal
    reads back, no temporary file is left by a run that was not SIGKILLed mid-write.
    """
    if not out.exists():
        return None, "nothing"
    finals = sorted(out.glob("[0-9]*.json"))
    journals = [j for j in out.glob(f"*{storage.JOURNAL_SUFFIX}")]
    docs = [records.read_json(p) for p in finals]  # raises on a torn file
    recovered = [storage.read_results(j) for j in journals]
    if docs:
        return docs[-1], "results"
    if recovered:
        return recovered[-1], "journal"
    return None, "nothing"


def cases_of(doc: dict | None) -> set[int]:
    if doc is None:
        return set()
    return {b["extra_info"]["gradbench"]["extra"]["i"] for b in doc["benchmarks"]}


def wait_for(predicate, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("the run did not get there in time")
        time.sleep(0.01)


# --------------------------------------------------------------------------------------
# Fast: with the unit tests
# --------------------------------------------------------------------------------------


def test_sigterm_writes_up_the_finished_cases(tmp_path: Path) -> None:
    """SIGTERM mid-run: the finished cases are written, one line says how many tests did
    not run, the exit status is non-zero and the journal is gone."""
    run = start(tmp_path, tests=8, delay=0.3)
    wait_for(lambda: run.journaled() >= 3)
    run.proc.send_signal(signal.SIGTERM)
    code, text = run.wait()
    assert code != 0, text
    doc, what = left_behind(run.out)
    assert what == "results", text
    assert run.finished() <= cases_of(doc)
    assert doc is not None
    assert doc["gradbench"]["status"] == "interrupted"
    not_run = doc["gradbench"]["tests_not_run"]
    assert not_run == 8 - len(cases_of(doc))  # one case per test that ran
    assert f"gradbench: stopped by SIGTERM: {not_run} of 8 tests did not run" in text
    assert run.journal() is None


def test_sigkill_leaves_a_journal_that_report_and_compare_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL mid-run: the journal holds every finished case; report and compare read it."""
    run = start(tmp_path, tests=8, delay=0.3)
    wait_for(lambda: run.journaled() >= 3)
    run.proc.send_signal(signal.SIGKILL)
    run.wait()
    doc, what = left_behind(run.out)
    assert what == "journal"
    assert run.finished() <= cases_of(doc)
    journal = run.journal()
    assert journal is not None
    assert main(["report", str(journal), "-o", str(tmp_path / "r.html")]) == 0
    assert "marked incomplete" in capsys.readouterr().err
    assert "incomplete: recovered" in (tmp_path / "r.html").read_text()
    base = records.write_json(tmp_path / "base.json", doc)
    assert main(["compare", str(base), str(journal), "-o", str(tmp_path / "c.html")]) == 1
    assert ("0001_quick.partial is not complete, so what it did not measure may hide "
            "regressions: incomplete: recovered") in capsys.readouterr().err


def test_gradbench_run_exits_143_on_sigterm(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_tiny.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.update(FAULT_TESTS="8", FAULT_DELAY="0.3", FAULT_DONE=str(tmp_path / "done.txt"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradbench", "run", "--suites", str(suite), "--out-dir", "out"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    wait_for(lambda: (tmp_path / "done.txt").exists())
    proc.send_signal(signal.SIGTERM)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, text
    assert (tmp_path / "out" / "0001_quick.json").exists()
    assert (tmp_path / "out" / "0001_quick.html").exists()


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[bool]:
    """A small tmpfs at ``where`` if this process may mount one (root); else ``False``."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield False
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(where)], capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only: remounted so for root (whom permissions do not stop), else chmod."""
    with tmpfs(folder, "1m") as mounted:
        (folder / "0001_quick.json").write_text('{"earlier": true}\n')
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            folder.chmod(0o555)
        try:
            yield
        finally:
            if not mounted:
                folder.chmod(0o755)


def test_read_only_results_folder_is_one_sentence(tmp_path: Path) -> None:
    """Nothing runs, exit 4 (gradbench run: 2), one sentence; the earlier file is untouched."""
    out = tmp_path / "ro"
    with read_only(out):
        before = (out / "0001_quick.json").read_bytes()
        run = start(tmp_path, out=out)
        code, text = run.wait()
        assert code == pytest.ExitCode.USAGE_ERROR, text
        errors = [line for line in text.splitlines() if line.startswith("ERROR:")]
        assert len(errors) == 1, text
        assert f"cannot write results in '{out}'" in errors[0]
        assert (out / "0001_quick.json").read_bytes() == before
        assert sorted(p.name for p in out.iterdir()) == ["0001_quick.json"]
        assert not run.finished()  # nothing was measured for nothing


def test_full_disk_stops_with_one_sentence(tmp_path: Path) -> None:
    """The disk fills mid-run: one sentence, non-zero exit, earlier files untouched, and
    the cases journaled before are still readable."""
    out = tmp_path / "small"
    with tmpfs(out, "64k") as mounted:
        earlier = out / "0001_quick.json"
        earlier.write_text('{"earlier": true}\n')
        before = earlier.read_bytes()
        run = start(tmp_path, out=out, tests=40, delay=0.0, pad=4000,
                    limit_fsize=None if mounted else 48_000)
        code, text = run.wait()
        assert code == pytest.ExitCode.USAGE_ERROR, text
        problem = "No space left on device" if mounted else "File too large"
        errors = [line for line in text.splitlines() if problem in line]
        assert errors, text
        assert all("cannot append to the journal" in e or "cannot write" in e
                   for e in errors), text
        assert "Traceback" not in text
        assert earlier.read_bytes() == before
        journal = run.journal()
        assert journal is not None
        kept = cases_of(storage.read_results(journal))
        assert kept
        assert kept <= set(range(40))


def test_truncated_results_file_is_one_sentence_at_every_byte(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    """A real results file cut at every byte offset: `gradbench report` says so in one line
    (exit 2) and never shows a traceback; only the whole file (or without its final
    newline) loads."""
    run = start(tmp_path, tests=1, delay=0.0)
    code, text = run.wait()
    assert code == 0, text
    data = (run.out / "0001_quick.json").read_bytes()  # about 2 KB: 2000 cuts
    cut = tmp_path / "cut.json"
    rejected = 0
    for offset in range(len(data)):
        cut.write_bytes(data[:offset])
        status = main(["report", str(cut), "-o", str(tmp_path / "cut.html")])
        err = capsys.readouterr().err
        if offset >= len(data.rstrip()):
            assert status == 0
            continue
        assert status == 2, offset
        assert len(err.strip().splitlines()) == 1, (offset, err)
        assert "cut.json" in err
        assert "Traceback" not in err
        rejected += 1
    assert rejected == len(data.rstrip())


# --------------------------------------------------------------------------------------
# Thorough: tox -e faults
# --------------------------------------------------------------------------------------

@pytest.mark.faults
def test_ten_overlapping_runs_keep_every_result(tmp_path: Path, fault_figures: list[str]) -> None:
    """10 runs started together into one folder: 10 numbers, every run's cases kept."""
    out = tmp_path / "shared"
    runs = []
    for i in range(10):
        (tmp_path / f"r{i}").mkdir()
        runs.append(start(tmp_path / f"r{i}", f"--gradbench-base-seed={i}", out=out, tests=4,
                          delay=0.05))
    results = [run.wait(300) for run in runs]
    assert [code for code, _ in results] == [0] * 10, results
    files = sorted(out.glob("*.json"))
    assert [f.name for f in files] == [f"{n:04d}_quick.json" for n in range(1, 11)]
    docs = [records.read_json(f) for f in files]
    assert sorted(d["gradbench"]["base_seed"] for d in docs) == list(range(10))
    lost = sum(4 - len(cases_of(d)) for d in docs)
    assert lost == 0
    fault_figures.append(f"overlapping runs: 10 runs into one folder, 10 distinct numbers, "
                   f"{lost} of 40 cases lost")


def _kill_points(rng: random.Random, count: int, tests: int) -> list[tuple[str, float]]:
    """Half after the k-th journaled case plus a random delay, half at a random time."""
    points = []
    for n in range(count):
        if n % 2 == 0:
            points.append(("after-case", rng.randrange(0, tests) + rng.random()))
        else:
            points.append(("at-time", rng.uniform(0.0, 5.0)))
    return points


def _stop_at(run: Run, how: str, where: float, delay: float) -> None:
    if how == "after-case":
        k = int(where)
        wait_for(lambda: run.journaled() >= k or run.proc.poll() is not None, timeout=120)
        time.sleep((where - k) * delay)
    else:
        time.sleep(where)


@pytest.mark.faults
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("workers", [0, 2], ids=["serial", "xdist"])
def test_stopped_at_random_moments(tmp_path: Path, sig: str, workers: int,
                                   fault_figures: list[str]) -> None:
    """SIGTERM/SIGKILL at random moments: after recovery every finished case is there, and
    no file is ever torn."""
    rng = random.Random(f"{SEED}-{sig}-{workers}")
    tests, delay = 12, 0.2
    points = _kill_points(rng, 12 if workers else 20, tests)
    lost_total, recovered_total, finished_total = 0, 0, 0
    for n, (how, where) in enumerate(points):
        folder = tmp_path / f"p{n}"
        folder.mkdir()
        extra = ("-n", str(workers)) if workers else ()
        run = start(folder, *extra, tests=tests, delay=delay)
        _stop_at(run, how, where, delay)
        when = time.time()
        with contextlib.suppress(ProcessLookupError):
            if workers and sig == "SIGTERM":
                os.killpg(run.proc.pid, signal.SIGTERM)  # as `timeout` or a CI runner does
            else:
                run.proc.send_signal(getattr(signal, sig))  # the OOM killer picks one
            if sig == "SIGKILL":
                run.proc.wait(60)
                os.killpg(run.proc.pid, signal.SIGKILL)  # orphaned xdist workers, if any
        code, text = run.wait(300)
        doc, _ = left_behind(run.out)  # fails on a torn file
        window = XDIST_WINDOW if workers else 0.0
        finished = run.finished(before=when - window)
        recovered = cases_of(doc)
        assert finished <= recovered, (how, where, sorted(finished - recovered), text)
        lost = run.finished() - recovered  # under xdist: may include reports in flight
        if sig == "SIGTERM" and doc is not None and len(recovered) < tests:
            assert code != 0, text
            assert doc["gradbench"]["status"] == "interrupted", text
            assert "stopped by SIGTERM" in text, text
        lost_total += len(lost)
        recovered_total += len(recovered)
        finished_total += len(run.finished())
    mode = f"xdist -n {workers}" if workers else "serial"
    window = f" (a case counts once it ended {XDIST_WINDOW}s before the signal)" if workers else ""
    fault_figures.append(
        f"{sig} ({mode}, seed {SEED}): {len(points)} kill points, {finished_total} finished "
        f"cases, {recovered_total} recovered, {lost_total} lost{window}"
    )


@pytest.mark.faults
def test_full_disk_at_every_size(tmp_path: Path, fault_figures: list[str]) -> None:
    """The journal meets a full disk (a file-size cap) at 12 sizes: each time one sentence,
    a non-zero exit, the earlier file untouched, and every case journaled before readable.

    Only the case whose own write met the full disk cannot be kept anywhere.
    """
    tried, unstorable, kept_total = 0, 0, 0
    for cap in range(6_000, 60_000, 4_500):
        folder = tmp_path / f"cap{cap}"
        (folder / "out").mkdir(parents=True)
        earlier = folder / "out" / "0001_quick.json"
        earlier.write_text('{"earlier": true}\n')
        run = start(folder, tests=30, delay=0.0, pad=2000, limit_fsize=cap)
        code, text = run.wait()
        tried += 1
        assert code == pytest.ExitCode.USAGE_ERROR, text
        assert "Traceback" not in text
        assert "File too large" in text
        assert earlier.read_text() == '{"earlier": true}\n'
        journal = run.journal()
        kept = cases_of(storage.read_results(journal)) if journal else set()
        missing = run.finished() - kept
        assert len(missing) <= 1, (cap, sorted(missing))
        unstorable += len(missing)
        kept_total += len(kept)
    fault_figures.append(
        f"full disk: {tried} disk sizes, {kept_total} journaled cases all readable, "
        f"{unstorable} cases whose own write met the full disk (one per run at most)"
    )
