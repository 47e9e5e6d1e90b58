"""Results folders: exclusive ``NNNN_<name>`` numbering, the per-case journal, recovery.

A results folder (``reports/`` by default) holds, per run::

    0004_quick.partial.jsonl   the journal, while the run is going (or after it was killed)
    0004_quick.json            the results, written atomically when the run ends
    0004_quick.html            its report

Numbering (pytest-benchmark's ``NNNN_<name>.json`` convention) is **exclusive**: a run
takes number ``N`` by creating its journal ``N_<name>.partial.jsonl`` with its header
already in it (a hard link of a finished temporary file, which fails if the name
exists), while holding an ``flock`` on the folder. Any file named ``NNNN_*`` takes its
number, so no two runs, processes or xdist controllers ever share one, whatever their
names; a run that crashes leaves its journal, and the next run simply takes the next
number.

The journal is one JSON object per line: a header (run and machine info), then one
line per finished case, each appended with a single ``write`` and ``fsync``\\ ed. At the
end the final JSON is written atomically (temporary file, ``fsync``, ``rename``) and
the journal removed. After a SIGKILL the journal stays; :func:`read_results` turns it
into a results document marked ``incomplete`` (a torn last line is skipped), which is
how ``gradbench report`` and ``gradbench compare`` read it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradbench.errors import InvalidArgument
from gradbench.records import (
    CaseRecord,
    MachineInfo,
    RunInfo,
    read_json,
    results_document,
    write_atomic,
)

JOURNAL_SUFFIX = ".partial.jsonl"
JOURNAL_FORMAT = 1
_NUMBERED = re.compile(r"^(\d{4,})_")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str) -> str:
    """``name`` reduced to characters every filesystem accepts (``"remedy"`` if none)."""
    return _SAFE_NAME.sub("_", name).strip("_.") or "remedy"


def journal_path(json_path: str | os.PathLike[str]) -> Path:
    """``out.json`` -> ``out.partial.jsonl`` (the journal beside a results file)."""
    p = Path(json_path)
    stem = p.name[: -len(".json")] if p.name.endswith(".json") else p.name
    return p.with_name(stem + JOURNAL_SUFFIX)


def is_journal(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a journal (``*.partial.jsonl``)."""
    return Path(path).name.endswith(JOURNAL_SUFFIX)


def final_path(journal: str | os.PathLike[str]) -> Path:
    """The results file a journal becomes: ``out.partial.jsonl`` -> ``out.json``."""
    p = Path(journal)
    return p.with_name(p.name[: -len(JOURNAL_SUFFIX)] + ".json")


def _cannot(what: str, path: Path, exc: OSError) -> InvalidArgument:
    return InvalidArgument(f"cannot {what} {str(path)!r}: {exc.strerror or exc}")


def _fsync_dir(folder: Path) -> None:
    """Make a create, rename or unlink in ``folder`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_writable(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if needed and prove a file can be created in it.

    Raises:
        InvalidArgument: one sentence naming the folder and the reason (read-only
            file system, permission denied, not a directory, ...).
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".gradbench-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _cannot("write results in", path, exc) from None
    return path


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (released by the kernel if we die)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: exclusive create alone
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _taken_numbers(folder: Path) -> set[int]:
    return {int(m.group(1)) for p in folder.iterdir() if (m := _NUMBERED.match(p.name))}


def journal_header(run: RunInfo, machine: MachineInfo, started: str) -> dict[str, Any]:
    """A journal's first line: what recovery needs to rebuild the results document."""
    return _header(run.to_dict(), machine.to_dict(), started)


def _header(run: Mapping[str, Any], machine: Mapping[str, Any], started: str) -> dict[str, Any]:
    return {
        "gradbench_journal": JOURNAL_FORMAT,
        "started": started,
        "pid": os.getpid(),
        "run": dict(run),
        "machine": dict(machine),
    }


def _line(obj: Mapping[str, Any]) -> bytes:
    text = json.dumps(obj, allow_nan=False, sort_keys=True, separators=(",", ":"))
    return text.encode("ascii") + b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class Journal:
    """The journal of one run: created exclusively, appended per case, finished once.

    Attributes:
        path: the journal, ``<stem>.partial.jsonl``.
        json_path: the results file it becomes, ``<stem>.json``.
        cases: how many case lines it holds.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.json_path = final_path(path)
        self.cases = 0
        self._fd: int | None = fd

    @classmethod
    def create(cls, path: Path, header: Mapping[str, Any]) -> Journal:
        """Create ``path`` holding ``header``, atomically and only if it does not exist.

        Raises:
            FileExistsError: the name is taken.
            InvalidArgument: the folder cannot be written.
        """
        data = _line(header)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise _cannot("write results in", path.parent, exc) from None
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, _file_mode())
            try:
                os.link(tmp, path)  # atomic and exclusive: FileExistsError if taken
            except FileExistsError:
                raise
            except OSError:  # no hard links here (some network/FUSE file systems)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _file_mode())
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except FileExistsError:
            raise
        except OSError as exc:
            raise _cannot("write", path, exc) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        _fsync_dir(path.parent)
        try:
            return cls(path, os.open(path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            raise _cannot("write", path, exc) from None

    def append(self, cases: Sequence[Mapping[str, Any]]) -> None:
        """Append one line per case with a single write, then ``fsync``.

        Raises:
            InvalidArgument: the write failed (disk full, ...); the journal keeps every
                line before this call (a torn tail is skipped when it is read).
        """
        if not cases or self._fd is None:
            return
        data = b"".join(_line({"case": case}) for case in cases)
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            raise _cannot("append to the journal", self.path, exc) from None
        self.cases += len(cases)

    def close(self) -> None:
        """Stop appending (the journal file stays)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Remove a journal that holds no case (its number is free again)."""
        self.close()
        if not self.cases:
            self.path.unlink(missing_ok=True)

    def finish(self, document: Mapping[str, Any]) -> Path:
        """Write the final results atomically, then remove the journal.

        Raises:
            InvalidArgument: the results file cannot be written; the journal is kept.
        """
        self.close()
        write_atomic(self.json_path, _dumps(document))
        _fsync_dir(self.json_path.parent)
        self.path.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)
        return self.json_path


def _dumps(document: Mapping[str, Any]) -> str:
    from gradbench.records import dumps

    return dumps(document) + "\n"


def reserve(folder: str | os.PathLike[str], name: str, header: Mapping[str, Any]) -> Journal:
    """Take the next free number in ``folder``: its journal ``NNNN_<name>.partial.jsonl``.

    ``header`` is :func:`journal_header`'s. Raises:
        InvalidArgument: the folder cannot be created or written.
    """
    path = check_writable(folder)
    with _locked(path):
        number = max(_taken_numbers(path), default=0) + 1
        while True:
            try:
                return Journal.create(path / f"{number:04d}_{safe_name(name)}{JOURNAL_SUFFIX}",
                                      header)
            except FileExistsError:  # taken without our lock (no flock here): next one
                number += 1


def claim(json_path: str | os.PathLike[str], header: Mapping[str, Any]) -> Journal:
    """The journal of an explicitly named results file (``--gradbench-json=PATH``).

    Raises:
        InvalidArgument: the folder cannot be written, or the journal exists (another
            run is writing this file, or one was killed: its cases are in there).
    """
    target = Path(json_path)
    check_writable(target.parent)
    journal = journal_path(target)
    try:
        return Journal.create(journal, header)
    except FileExistsError:
        raise InvalidArgument(stale_journal_message(journal)) from None


def check_no_journal(json_path: str | os.PathLike[str]) -> None:
    """Refuse a results path whose journal exists: another run is writing it, or one was
    stopped before it finished and the journal holds its cases (never overwritten).

    Raises:
        InvalidArgument: the journal exists.
    """
    journal = journal_path(json_path)
    if journal.exists():
        raise InvalidArgument(stale_journal_message(journal))


def stale_journal_message(journal: Path) -> str:
    """The sentence for a results path whose journal already exists."""
    return (
        f"journal {str(journal)!r} already exists: another run is writing "
        f"{str(final_path(journal))!r}, or one was stopped before it finished "
        "(`gradbench report` reads its cases); remove it or choose another path"
    )


def save(folder: str | os.PathLike[str], name: str, document: Mapping[str, Any]) -> Path:
    """Write a finished document under the next free number: ``folder/NNNN_<name>.json``.

    Raises:
        InvalidArgument: the folder or the file cannot be written.
    """
    header = _header(document.get("gradbench") or {}, document.get("machine_info") or {},
                     str(document.get("datetime", "")))
    journal = reserve(folder, name, header)
    try:
        return journal.finish(document)
    except BaseException:
        journal.discard()
        raise


def write(json_path: str | os.PathLike[str], document: Mapping[str, Any]) -> Path:
    """Write a finished document to an explicit path, atomically (as a run with
    ``--gradbench-json`` would: its journal claimed first, so no other run writes it).

    Raises:
        InvalidArgument: the folder or the file cannot be written, or the path's journal
            exists (a run is writing it).
    """
    header = _header(document.get("gradbench") or {}, document.get("machine_info") or {},
                     str(document.get("datetime", "")))
    journal = claim(json_path, header)
    try:
        return journal.finish(document)
    except BaseException:
        journal.discard()
        raise


# --------------------------------------------------------------------------------------
# Reading: results files and journals
# --------------------------------------------------------------------------------------

#: Schema versions (run level and per case) this gradbench reads, oldest first. A
#: results file says its own: ``document["gradbench"]["schema_version"]`` and each case's
#: ``extra_info["gradbench"]["schema_version"]`` (:data:`gradbench.records.SCHEMA_VERSION`).
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class Results:
    """One results file (or the journal of a run that did not finish), read and checked.

    What every command reads results through (:func:`load`): ``report``, ``compare`` and
    ``validate`` alike. A plain pytest-benchmark file (no ``gradbench`` block) reads with
    ``run=None`` and its benchmarks as ``timings``.

    Attributes:
        path: the file.
        run: the run-level block, or ``None`` for a plain pytest-benchmark file.
        machine: ``machine_info`` (pytest-benchmark's, with gradbench's block).
        cases: the gradbench records, in file order, each with the benchmark it came
            from (its ``fullname``).
        timings: the benchmarks that carry no gradbench record, as stored.
        document: the whole document as read (``datetime``, ``commit_info``, ...).
    """

    path: Path
    run: RunInfo | None
    machine: MachineInfo
    cases: list[tuple[str, CaseRecord]]
    timings: list[tuple[str, Mapping[str, Any]]]
    document: Mapping[str, Any]

    @property
    def records(self) -> list[CaseRecord]:
        """The cases alone."""
        return [case for _, case in self.cases]

    @property
    def notes(self) -> list[str]:
        """What a reader must be told: the note of an interrupted or recovered run."""
        from gradbench.records import run_notes

        return run_notes(self.document.get("gradbench") or {})


def load(path: str | os.PathLike[str]) -> Results:
    """Read a results file (or a journal) and check it: the one reader of results.

    Files written by every earlier gradbench whose schema version is in
    :data:`SUPPORTED_SCHEMA_VERSIONS` read the same way.

    Raises:
        InvalidArgument: one sentence naming the file: missing, empty, not JSON, not a
            pytest-benchmark/gradbench document, a schema version this gradbench does
            not read, a record that is not an object or lacks its spec, or two records
            with one case id.
    """
    p = Path(path)
    name = str(p)
    if p.is_dir():
        raise InvalidArgument(f"{name!r} is a directory, expected a pytest-benchmark JSON file")
    data = read_results(p)
    info = _run_block(data, name)
    cases: list[tuple[str, CaseRecord]] = []
    timings: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for index, bench in enumerate(data["benchmarks"]):
        if not isinstance(bench, Mapping):
            raise InvalidArgument(f"file {name!r} has benchmark #{index} that is not an object")
        bname = str(bench.get("fullname") or bench.get("name") or f"#{index}")
        extra_info = bench.get("extra_info")
        record = extra_info.get("gradbench") if isinstance(extra_info, Mapping) else None
        if record is None:
            timings.append((bname, bench))
            continue
        case = _case(record, info.get("schema_version"), bname, f"file {name!r} benchmark "
                     f"{bname!r}")
        if case.case in seen:
            raise InvalidArgument(
                f"file {name!r} has two gradbench records with case id {case.case!r}")
        seen.add(case.case)
        cases.append((bname, case))
    try:
        run = RunInfo.from_dict(info) if info else None
    except (InvalidArgument, TypeError, ValueError) as exc:
        raise InvalidArgument(f"file {name!r} has a malformed 'gradbench' block ({exc})") from None
    return Results(path=p, run=run, machine=MachineInfo.from_dict(data.get("machine_info")),
                   cases=cases, timings=timings, document=data)


def _supported() -> str:
    return ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)


def _schema_problem(where: str, version: Any) -> str | None:
    supported = _supported()
    if version is None:
        return f"{where} has no schema_version (supported: {supported})"
    if isinstance(version, bool) or not isinstance(version, int):
        return (f"{where} has schema_version {version!r}, which is not an integer "
                f"(supported: {supported})")
    if version > max(SUPPORTED_SCHEMA_VERSIONS):
        return (f"{where} has schema_version {version}, newer than this gradbench supports "
                f"(supported: {supported}); upgrade gradbench to read it")
    if version < min(SUPPORTED_SCHEMA_VERSIONS):
        return (f"{where} has schema_version {version}, older than this gradbench supports "
                f"(supported: {supported}); re-run the suite to regenerate it")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        return f"{where} has unsupported schema_version {version} (supported: {supported})"
    return None


def _run_block(data: Any, name: str) -> dict[str, Any]:
    """The checked run-level ``gradbench`` block (empty for a plain pytest-benchmark file)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
        raise InvalidArgument(
            f"file {name!r} is not a pytest-benchmark or gradbench JSON file "
            "(expected an object with a 'benchmarks' list)"
        )
    info = data.get("gradbench")
    if info is not None and not isinstance(info, Mapping):
        raise InvalidArgument(f"file {name!r} has a 'gradbench' entry that is not an object")
    info = dict(info or {})
    if info and info.get("schema_version") is None:
        raise InvalidArgument(
            f"file {name!r} has no gradbench schema_version (supported: {_supported()})")
    problem = _schema_problem(f"file {name!r}", info.get("schema_version")) if info else None
    if problem:
        raise InvalidArgument(problem)
    return info


def _case(data: Any, run_schema: Any, name: str, where: str) -> CaseRecord:
    """A stored record as a :class:`CaseRecord` (its id defaults to the benchmark's name)."""
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"{where} has a gradbench record that is not an object")
    problem = _schema_problem(where, data.get("schema_version", run_schema))
    if problem:
        raise InvalidArgument(problem)
    if not isinstance(data.get("spec"), Mapping):
        raise InvalidArgument(f"{where} has no 'spec' object")
    label = data.get("label") or json.dumps(data["spec"], sort_keys=True, separators=(",", ":"),
                                            default=str)
    filled = {**data, "case": str(data.get("case") or name),
              "claim": str(data.get("claim") or "?"), "label": str(label)}
    for key in ("measurement", "prediction", "verdict", "remedy"):
        if filled.get(key) is not None and not isinstance(filled[key], Mapping):
            raise InvalidArgument(f"{where} is malformed ({key} is not an object)")
    for key in ("extra", "env"):
        if not isinstance(filled.get(key), Mapping):
            filled[key] = {}
    return CaseRecord.from_dict(filled)



def read_results(path: str | os.PathLike[str]) -> Any:
    """A results file's content; a journal becomes a document marked ``incomplete``.

    Raises:
        InvalidArgument: one sentence naming the file (missing, empty, torn, not JSON).
    """
    return read_journal(path) if is_journal(path) else read_json(path)


def read_journal(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Recover the results document of a run from its journal.

    Every complete case line is kept; a torn last line (the run was killed while
    appending) is skipped. The document's status is ``incomplete`` and its note says
    how many cases were recovered.

    Raises:
        InvalidArgument: the file is missing or unreadable, its header is not a
            gradbench journal header, or a line other than the last is corrupt.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InvalidArgument(f"file {str(p)!r} does not exist") from None
    except OSError as exc:
        raise _cannot("read", p, exc) from None
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    header = _parse_line(p, 1, lines[0] if lines else torn, what="header")
    if not isinstance(header, Mapping) or "gradbench_journal" not in header:
        raise InvalidArgument(f"file {str(p)!r} is not a gradbench journal (no header line)")
    cases: list[CaseRecord] = []
    for number, raw in enumerate(lines[1:], start=2):
        cases.append(_case_line(p, number, _parse_line(p, number, raw, what="line")))
    skipped = False
    if torn and lines:  # killed while appending: keep the line if it is whole after all
        try:
            cases.append(_case_line(p, len(lines) + 1, _parse_line(p, 0, torn, what="line")))
        except InvalidArgument:
            skipped = True
    run = RunInfo.from_dict(header.get("run") or {})
    note = (
        f"incomplete: recovered {len(cases)} finished cases from the journal of a run that "
        "did not finish (stopped before writing its results"
        + ("; its torn last line was skipped)" if skipped else ")")
    )
    machine = MachineInfo.from_dict(header.get("machine"))
    merged = MachineInfo.from_cases(
        cases, {"node": machine.node, "machine": machine.machine, "system": machine.system,
                "python_version": machine.python_version}, machine.gradbench,
    )
    recovered = RunInfo(**{**run.__dict__, "status": "incomplete", "note": note})
    return results_document(recovered, merged, cases, datetime=str(header.get("started") or ""))


def _case_line(path: Path, number: int, entry: Any) -> CaseRecord:
    try:
        return CaseRecord.from_dict(entry["case"])
    except (InvalidArgument, KeyError, TypeError) as exc:
        raise InvalidArgument(f"file {str(path)!r} line {number} is not a case ({exc})") from None


def _parse_line(path: Path, number: int, raw: bytes, *, what: str) -> Any:
    def reject(token: str) -> Any:
        raise ValueError(f"bare {token} is not strict JSON")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=reject)
    except (UnicodeDecodeError, ValueError) as exc:
        problem = "is empty" if not raw.strip() else f"is not valid JSON ({exc})"
        where = "its header" if what == "header" else f"line {number}"
        raise InvalidArgument(f"file {str(path)!r} {where} {problem}") from None


def results_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The runs in a folder (recursively): results files, plus journals of unfinished runs.

    A journal whose results file exists belongs to a run that finished (it was killed
    between writing its results and removing the journal) and is left out.
    """
    root = Path(folder)
    found = [q for q in root.rglob("*.json") if q.is_file() and not q.name.startswith(".")]
    found += [
        q for q in root.rglob(f"*{JOURNAL_SUFFIX}")
        if q.is_file() and not q.name.startswith(".") and not final_path(q).exists()
    ]
    return sorted(found)
