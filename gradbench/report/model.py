"""The loaded-run model: one pytest-benchmark / gradbench JSON file as plain objects.

:func:`load_run` reads one file into a :class:`Run` (its gradbench records as
:class:`Case` objects, its ordinary benchmarks as :class:`Timing` objects) and fails with
one sentence naming the file for anything it cannot read. Nothing here computes
statistics or writes HTML; :mod:`gradbench.report.growth` and the sections do that.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradbench import records, storage
from gradbench.errors import InvalidArgument

__all__ = [
    "SUPPORTED_SCHEMA_VERSIONS",
    "Case",
    "Run",
    "Timing",
    "as_float",
    "as_floats",
    "canonical",
    "expand_paths",
    "load_run",
]

#: Schema versions (run level and per case) the reader understands, oldest first.
SUPPORTED_SCHEMA_VERSIONS = storage.SUPPORTED_SCHEMA_VERSIONS


def canonical(obj: Any) -> str:
    """``obj`` as compact JSON with sorted keys: the identity of a spec across runs."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Case:
    """One gradbench record: a claim checked on one configuration.

    Attributes:
        case: id unique within the run (usually the test node id).
        claim: the claim's registered name.
        source: citation of the claim.
        spec: the spec as a dict (with a ``family`` key).
        label: short human-readable configuration id.
        measurement, prediction, verdict: the decoded records, or ``None``.
        extra: claim-specific series (``phase_point``, ``spectrum``, ``update_ratios``).
        benchmark: the pytest-benchmark ``fullname`` (or ``name``) it came from.
        remedy: the remedy the case covers, ``{"kind", "name", "origin"}`` (origin
            ``built-in``, ``third-party`` or ``candidate``), or ``None``.
    """

    case: str
    claim: str
    source: str
    spec: dict[str, Any]
    label: str
    measurement: records.Measurement | None
    prediction: records.Prediction | None
    verdict: records.Verdict | None
    extra: dict[str, Any]
    benchmark: str = ""
    remedy: dict[str, str] | None = None

    @property
    def family(self) -> str:
        """The spec family (``mlp``, ``residual``, ``rnn``), or ``"?"``."""
        return str(self.spec.get("family", "?"))

    @property
    def subject(self) -> str:
        """What the case is about: the network family (``mlp``, ``residual``, ``rnn``), or for
        a remedy's own test (no network) the remedy's kind (``activation``, ``initializer``);
        ``"—"`` when the record names neither."""
        if "family" in self.spec:
            return self.family
        kind = (self.remedy or {}).get("kind") or self.spec.get("kind")
        return str(kind) if kind else "—"

    @property
    def config_key(self) -> tuple[str, str]:
        """``(label, canonical spec JSON)``: identifies the configuration across runs."""
        return (self.label, canonical(self.spec))

    @property
    def status(self) -> str:
        """``"pass"``, ``"fail"`` or ``"none"`` (no verdict)."""
        if self.verdict is None:
            return "none"
        return "pass" if self.verdict.passed else "fail"


@dataclass(frozen=True)
class Timing:
    """An ordinary pytest-benchmark timing (a benchmark without a gradbench record)."""

    name: str
    fullname: str
    group: str
    params: Any
    stats: dict[str, Any] | None


@dataclass(frozen=True)
class Run:
    """One JSON file, decoded.

    Attributes:
        path: where it was read from.
        label: short name shown in the page (the file's stem).
        machine_info: pytest-benchmark ``machine_info`` (with its ``gradbench`` block).
        gradbench_info: the run-level ``gradbench`` block (versions, profile, seed).
        cases: the gradbench records, in file order.
        timings: benchmarks without a gradbench record.
        commit_info: pytest-benchmark ``commit_info`` (may be empty).
        datetime: the file's own ``datetime`` string (may be empty).
        version: the pytest-benchmark version that wrote it (may be empty).
        notes: problems met while reading that did not stop the report.
    """

    path: Path
    label: str
    machine_info: dict[str, Any]
    gradbench_info: dict[str, Any]
    cases: list[Case]
    timings: list[Timing]
    commit_info: dict[str, Any] = field(default_factory=dict)
    datetime: str = ""
    version: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def environment(self) -> dict[str, Any]:
        """The plugin's ``machine_info["gradbench"]`` block (torch, device, CUDA, TF32...)."""
        return dict(records.MachineInfo.from_dict(self.machine_info).gradbench)  # writer's keys

    @property
    def dtypes(self) -> list[str]:
        """The measurement dtypes in this run, sorted."""
        return sorted({c.measurement.dtype for c in self.cases if c.measurement is not None})

    @property
    def devices(self) -> list[str]:
        """The measurement devices in this run, sorted."""
        return sorted({c.measurement.device for c in self.cases if c.measurement is not None})


# --------------------------------------------------------------------------------------
# Reading (through gradbench.storage.load, the one reader of results)
# --------------------------------------------------------------------------------------


def _decode_case(record: records.CaseRecord, name: str, where: str) -> Case:
    """The report's view of a stored case: its records decoded."""
    try:
        m, p, v = record.measurement, record.prediction, record.verdict
        measurement = records.Measurement.from_dict(m) if m is not None else None
        prediction = records.Prediction.from_dict(p) if p is not None else None
        verdict = records.Verdict.from_dict(v) if v is not None else None
    except (InvalidArgument, AttributeError, KeyError, TypeError, ValueError) as exc:
        text = str(exc).rstrip(".") or type(exc).__name__
        raise InvalidArgument(f"{where} is malformed ({text})") from None
    remedy = record.remedy
    return Case(
        case=record.case,
        claim=record.claim,
        source=str(record.source or ""),
        spec=dict(record.spec),
        label=record.label,
        measurement=measurement,
        prediction=prediction,
        verdict=verdict,
        extra=dict(record.extra),
        benchmark=name,
        remedy={k: str(remedy.get(k, "?")) for k in ("kind", "name", "origin")}
        if isinstance(remedy, Mapping) else None,
    )


def _timing(bench: Mapping[str, Any], fullname: str) -> Timing:
    stats = bench.get("stats")
    return Timing(
        name=str(bench.get("name") or fullname),
        fullname=fullname,
        group=str(bench.get("group") or ""),
        params=bench.get("params"),
        stats=dict(stats) if isinstance(stats, Mapping) else None,
    )


def load_run(path: str | os.PathLike[str]) -> Run:
    """Read one pytest-benchmark (or plain gradbench) JSON file.

    Args:
        path: the JSON file (or the journal of a run that did not finish).

    Returns:
        The decoded :class:`Run`; its label is the file's stem.

    Raises:
        InvalidArgument: one sentence naming the file, when it is missing, empty, not
            valid JSON (e.g. truncated), not a pytest-benchmark/gradbench file, has a
            schema version this gradbench does not support, or holds a malformed record.

    Examples:
        >>> run = load_run("reports/0001_quick.json")  # doctest: +SKIP
        >>> [c.claim for c in run.cases]               # doctest: +SKIP
    """
    results = storage.load(path)
    p, name, data = results.path, str(results.path), results.document
    machine = data.get("machine_info")
    commit = data.get("commit_info")
    return Run(
        path=p,
        label=p.stem or name,
        machine_info=dict(machine) if isinstance(machine, Mapping) else {},
        gradbench_info=dict(data.get("gradbench") or {}),
        cases=[_decode_case(c, b, f"file {name!r} benchmark {b!r}") for b, c in results.cases],
        timings=[_timing(bench, b) for b, bench in results.timings],
        commit_info=dict(commit) if isinstance(commit, Mapping) else {},
        datetime=str(data.get("datetime") or ""),
        version=str(data.get("version") or ""),
        notes=results.notes,
    )


def expand_paths(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> list[Path]:
    """Input files: a directory stands for every ``*.json`` below it, sorted.

    Raises:
        InvalidArgument: no paths, or a directory without ``.json`` files.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = storage.results_files(p)
            if not found:
                raise InvalidArgument(f"directory {str(p)!r} holds no .json files")
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise InvalidArgument("no input files given; pass one or more pytest-benchmark JSON files")
    return out


# --------------------------------------------------------------------------------------
# Tolerant decoding of ``Case.extra``
# --------------------------------------------------------------------------------------


def as_float(x: Any) -> float:
    """A number from an ``extra`` series; ``None``, garbage and bools become NaN.

    A strict-JSON non-finite marker (``{"nonfinite": "inf"}``) decodes to its value.
    """
    if isinstance(x, Mapping) and "nonfinite" in x:
        try:
            return records.decode_float(x)
        except (InvalidArgument, KeyError):
            return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return math.nan
    return float(x)


def as_floats(x: Any) -> np.ndarray | None:
    """A 1-D float64 array from an ``extra`` series (a list or an encoded array), else ``None``."""
    if isinstance(x, Mapping) and "data" in x:
        try:
            return records.decode_array(x).astype(np.float64).ravel()
        except (InvalidArgument, ValueError, KeyError, TypeError):
            return None
    if isinstance(x, (list, tuple)):
        return np.array([as_float(v) for v in x], dtype=np.float64)
    return None
