"""pytest-benchmark / gradbench JSON -> one self-contained HTML page.

The report reads the JSON files the pytest plugin writes (standard pytest-benchmark
files whose benchmarks carry ``extra_info["gradbench"]``) or plain gradbench JSON
written by :func:`gradbench.records.write_json`, and renders ONE HTML page with
inline CSS, inline SVG plots and a little inline JavaScript: nothing is fetched
over the network, and the same input always gives the same bytes.

The first screen answers "which configurations vanish or explode, by how much per
layer, and does theory agree". The measured per-layer growth factor of a
configuration is ``exp(-s)`` where ``s`` is the mean over seeds of the least-squares
slope of ``log ||dL/dh_l||`` against the layer (or time step) index ``l``; so a factor
below 1 means the gradient shrinks going towards the input. It is classed as
vanishing below :data:`VANISH_BELOW`, exploding above :data:`EXPLODE_ABOVE`, and
stable in between. The predicted factor is ``exp(mean(prediction.log_growth))``.

Two or more runs switch on comparison mode: every run after the first is compared
with the first (:func:`compare_runs`), regressions are flagged at the top, and the
per-configuration plots overlay the runs.

This module never imports torch.

Examples:
    >>> from gradbench import report
    >>> run = report.load_run("reports/0001_quick.json")          # doctest: +SKIP
    >>> html = report.render_report([run], title="quick profile")  # doctest: +SKIP
    >>> report.write_report(["a.json", "b.json"], "reports/diff.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradbench import records, storage
from gradbench.errors import InvalidArgument

__all__ = [
    "EXPLODE_ABOVE",
    "SUPPORTED_SCHEMA_VERSIONS",
    "VANISH_BELOW",
    "Case",
    "CaseDelta",
    "Comparison",
    "Growth",
    "Run",
    "Timing",
    "compare_runs",
    "load_run",
    "measured_growth",
    "render_comparison",
    "render_report",
    "write_report",
]

#: Schema versions (run level and per case) this reader understands, oldest first.
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = (1,)
#: Per-layer growth factors below this are "vanishing".
VANISH_BELOW = 0.95
#: Per-layer growth factors above this are "exploding".
EXPLODE_ABOVE = 1.05

_CLASSES = ("explode", "nonfinite", "vanish", "stable", "unknown")
_CLASS_TEXT = {
    "explode": "exploding",
    "nonfinite": "non-finite",
    "vanish": "vanishing",
    "stable": "stable",
    "unknown": "no data",
}
_CLASS_COLOR = {
    "explode": "#c0392b",
    "nonfinite": "#7d3c98",
    "vanish": "#2471a3",
    "stable": "#1e8449",
    "unknown": "#7f8c8d",
}
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_FAMILY_TITLE = {"mlp": "MLP", "residual": "Residual", "rnn": "RNN"}
_MAX_PANELS = 120  # per section; more are listed but not drawn


# --------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------


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

    @property
    def family(self) -> str:
        """The spec family (``mlp``, ``residual``, ``rnn``), or ``"?"``."""
        return str(self.spec.get("family", "?"))

    @property
    def config_key(self) -> tuple[str, str]:
        """``(label, canonical spec JSON)``: identifies the configuration across runs."""
        return (self.label, _canonical(self.spec))

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


@dataclass(frozen=True)
class Growth:
    """Measured per-layer growth of ``||dL/dh_l||`` for one measurement.

    Attributes:
        factor: ``exp(-mean slope)`` per layer (< 1: vanishing towards the input);
            NaN when no seed has two finite sites.
        factor_low, factor_high: 95% confidence interval of ``factor`` across seeds.
        seeds_used: seeds that entered the fit (those with >= 2 finite, non-zero sites).
        seeds, sites: shape of the measurement.
        n_inf, n_nan, n_zero: gradient norms that are infinite, NaN or exactly zero.
        klass: ``explode``, ``nonfinite``, ``vanish``, ``stable`` or ``unknown``.
        mean_log10, low_log10, high_log10: per-site mean over seeds of
            ``log10 ||dL/dh_l||`` (finite seeds only) and its 95% CI (NaN if undefined).
        bad_sites: per site, the number of seeds whose norm there is not finite and > 0.
    """

    factor: float
    factor_low: float
    factor_high: float
    seeds_used: int
    seeds: int
    sites: int
    n_inf: int
    n_nan: int
    n_zero: int
    klass: str
    mean_log10: np.ndarray
    low_log10: np.ndarray
    high_log10: np.ndarray
    bad_sites: np.ndarray

    @property
    def over_depth(self) -> float:
        """Total measured change from the top site to the bottom: ``factor ** (sites - 1)``."""
        if not math.isfinite(self.factor) or self.factor <= 0:
            return self.factor
        return math.exp(math.log(self.factor) * (self.sites - 1))


@dataclass(frozen=True)
class CaseDelta:
    """One case matched (or not) between a base and a new run.

    Attributes:
        key: ``(claim, configuration, occurrence)`` used for matching.
        base, new: the case in each run (``None`` if only in the other).
        status: ``regression`` (passed -> failed), ``improvement`` (failed -> passed),
            ``same`` (outcome unchanged, or no verdict on either side), ``only_base``,
            ``only_new``.
        delta_measured: ``new.measured - base.measured`` of the verdicts (NaN if either lacks one).
        delta_ci_low, delta_ci_high, delta_ci_width: changes of the verdict CI.
        base_factor, new_factor: measured per-layer growth factors (NaN without a measurement).
    """

    key: tuple[str, str, int]
    base: Case | None
    new: Case | None
    status: str
    delta_measured: float = math.nan
    delta_ci_low: float = math.nan
    delta_ci_high: float = math.nan
    delta_ci_width: float = math.nan
    base_factor: float = math.nan
    new_factor: float = math.nan

    def __str__(self) -> str:
        """One line: ``claim on label: 0 (passed) -> 0.08 (failed) [regression]``."""

        def side(c: Case | None) -> str:
            if c is None:
                return "absent"
            if c.verdict is None:
                return "no verdict"
            return f"{num(c.verdict.measured)} ({'passed' if c.verdict.passed else 'failed'})"

        return (
            f"{self.claim} on {self.label}: {side(self.base)} -> {side(self.new)} [{self.status}]"
        )

    @property
    def claim(self) -> str:
        return self.key[0]

    @property
    def label(self) -> str:
        case = self.new or self.base
        return case.label if case is not None else ""


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`.

    Attributes:
        base_label, new_label: the runs' labels.
        deltas: every matched case, regressions first, then by claim and label.
        only_base, only_new: cases present in one run only.
        warnings: why the two runs may not be comparable (empty if they are).
    """

    base_label: str
    new_label: str
    deltas: list[CaseDelta]
    only_base: list[Case]
    only_new: list[Case]
    warnings: list[str]

    @property
    def regressions(self) -> list[CaseDelta]:
        """Cases that passed in the base run and fail in the new one."""
        return [d for d in self.deltas if d.status == "regression"]

    @property
    def improvements(self) -> list[CaseDelta]:
        """Cases that failed in the base run and pass in the new one."""
        return [d for d in self.deltas if d.status == "improvement"]

    @property
    def warning(self) -> str | None:
        """All warnings as one string, or ``None`` when the runs are comparable."""
        return "; ".join(self.warnings) if self.warnings else None


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _schema_problem(where: str, version: Any) -> str | None:
    supported = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
    if isinstance(version, bool) or not isinstance(version, int):
        return (
            f"{where} has schema_version {version!r}, which is not an integer "
            f"(supported: {supported})"
        )
    if version > max(SUPPORTED_SCHEMA_VERSIONS):
        return (
            f"{where} has schema_version {version}, newer than this gradbench supports "
            f"(supported: {supported}); upgrade gradbench to read it"
        )
    if version < min(SUPPORTED_SCHEMA_VERSIONS):
        return (
            f"{where} has schema_version {version}, older than this gradbench supports "
            f"(supported: {supported}); re-run the suite to regenerate it"
        )
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        return f"{where} has unsupported schema_version {version} (supported: {supported})"
    return None


def _decode_case(data: Mapping[str, Any], run_schema: Any, name: str, where: str) -> Case:
    version = data.get("schema_version", run_schema)
    if version is None:
        supported = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        raise InvalidArgument(f"{where} has no schema_version (supported: {supported})")
    problem = _schema_problem(where, version)
    if problem:
        raise InvalidArgument(problem)
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"{where} has no 'spec' object")
    try:
        m = data.get("measurement")
        p = data.get("prediction")
        v = data.get("verdict")
        measurement = records.Measurement.from_dict(m) if m is not None else None
        prediction = records.Prediction.from_dict(p) if p is not None else None
        verdict = records.Verdict.from_dict(v) if v is not None else None
    except (InvalidArgument, AttributeError, KeyError, TypeError, ValueError) as exc:
        text = str(exc).rstrip(".") or type(exc).__name__
        raise InvalidArgument(f"{where} is malformed ({text})") from None
    extra = data.get("extra")
    label = data.get("label")
    return Case(
        case=str(data.get("case") or name),
        claim=str(data.get("claim") or "?"),
        source=str(data.get("source") or ""),
        spec=dict(spec),
        label=str(label) if label else _canonical(dict(spec)),
        measurement=measurement,
        prediction=prediction,
        verdict=verdict,
        extra=dict(extra) if isinstance(extra, Mapping) else {},
        benchmark=name,
    )


def load_run(path: str | os.PathLike[str]) -> Run:
    """Read one pytest-benchmark (or plain gradbench) JSON file.

    Args:
        path: the JSON file.

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
    p = Path(path)
    name = str(p)
    if p.is_dir():
        raise InvalidArgument(f"{name!r} is a directory, expected a pytest-benchmark JSON file")
    data = storage.read_results(p)  # a .json, or the journal of an unfinished run
    if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
        raise InvalidArgument(
            f"file {name!r} is not a pytest-benchmark or gradbench JSON file "
            "(expected an object with a 'benchmarks' list)"
        )
    info = data.get("gradbench")
    if info is not None and not isinstance(info, Mapping):
        raise InvalidArgument(f"file {name!r} has a 'gradbench' entry that is not an object")
    info = dict(info or {})
    run_schema = info.get("schema_version")
    if info:
        if run_schema is None:
            supported = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
            raise InvalidArgument(
                f"file {name!r} has no gradbench schema_version (supported: {supported})"
            )
        problem = _schema_problem(f"file {name!r}", run_schema)
        if problem:
            raise InvalidArgument(problem)
    machine = data.get("machine_info")
    commit = data.get("commit_info")
    cases: list[Case] = []
    timings: list[Timing] = []
    for index, bench in enumerate(data["benchmarks"]):
        if not isinstance(bench, Mapping):
            raise InvalidArgument(f"file {name!r} has benchmark #{index} that is not an object")
        bname = str(bench.get("fullname") or bench.get("name") or f"#{index}")
        extra_info = bench.get("extra_info")
        record = extra_info.get("gradbench") if isinstance(extra_info, Mapping) else None
        if record is None:
            stats = bench.get("stats")
            timings.append(
                Timing(
                    name=str(bench.get("name") or bname),
                    fullname=bname,
                    group=str(bench.get("group") or ""),
                    params=bench.get("params"),
                    stats=dict(stats) if isinstance(stats, Mapping) else None,
                )
            )
            continue
        where = f"file {name!r} benchmark {bname!r}"
        if not isinstance(record, Mapping):
            raise InvalidArgument(f"{where} has a gradbench record that is not an object")
        cases.append(_decode_case(record, run_schema, bname, where))
    seen: set[str] = set()
    for c in cases:
        if c.case in seen:
            raise InvalidArgument(
                f"file {name!r} has two gradbench records with case id {c.case!r}"
            )
        seen.add(c.case)
    return Run(
        path=p,
        label=p.stem or name,
        machine_info=dict(machine) if isinstance(machine, Mapping) else {},
        gradbench_info=info,
        cases=cases,
        timings=timings,
        commit_info=dict(commit) if isinstance(commit, Mapping) else {},
        datetime=str(data.get("datetime") or ""),
        version=str(data.get("version") or ""),
        notes=records.run_notes(info),
    )


def _expand(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
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
# Numbers
# --------------------------------------------------------------------------------------

_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def _t975(df: int) -> float:
    """Two-sided 95% Student-t quantile (conservative table lookup above 30)."""
    if df <= 0:
        return math.nan
    if df <= 30:
        return _T975[df - 1]
    if df < 40:
        return 2.042
    if df < 60:
        return 2.021
    if df < 120:
        return 2.000
    return 1.980


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the finite entries of ``values``."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1:
        return mean, math.nan, math.nan
    half = _t975(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return mean, mean - half, mean + half


def _classify(factor: float) -> str:
    if math.isnan(factor):
        return "unknown"
    if factor < VANISH_BELOW:
        return "vanish"
    if factor > EXPLODE_ABOVE:
        return "explode"
    return "stable"


def _exp(x: float) -> float:
    if math.isnan(x):
        return math.nan
    if x > 709:
        return math.inf
    return math.exp(x)


def measured_growth(m: records.Measurement) -> Growth:
    """Fit the per-layer growth of ``||dL/dh_l||`` of a measurement.

    Per seed, the least-squares slope of ``log ||dL/dh_l||`` against ``l`` over the
    sites where the norm is finite and positive (seeds with fewer than two such sites
    are left out); the factor is ``exp(-mean slope)`` with a 95% t-interval across seeds.
    A measurement with an infinite norm is ``explode``, with a NaN norm ``nonfinite``,
    with an exactly zero norm ``vanish``, whatever the fit says.

    Args:
        m: the measurement.

    Returns:
        A :class:`Growth`.
    """
    norms = np.asarray(m.act_grad_norms, dtype=np.float64)
    if norms.ndim == 1:
        norms = norms[None, :]
    if norms.ndim != 2:
        norms = norms.reshape(norms.shape[0] if norms.size else 0, -1)
    seeds, sites = norms.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(norms)
    good = np.isfinite(logs)
    slopes = []
    x_all = np.arange(sites, dtype=np.float64)
    for s in range(seeds):
        ok = good[s]
        if ok.sum() < 2:
            continue
        x = x_all[ok]
        y = logs[s, ok]
        xc = x - x.mean()
        slopes.append(float((xc * (y - y.mean())).sum() / (xc * xc).sum()))
    mean, lo, hi = _mean_ci(np.array(slopes, dtype=np.float64))
    factor, f_lo, f_hi = _exp(-mean), _exp(-hi), _exp(-lo)
    n_inf = int(np.isposinf(norms).sum())
    n_nan = int(np.isnan(norms).sum())
    n_zero = int((norms == 0).sum())
    if n_inf:
        klass = "explode"
    elif n_nan:
        klass = "nonfinite"
    elif n_zero:
        klass = "vanish"
    else:
        klass = _classify(factor)
    log10 = logs / math.log(10.0)
    mean_l = np.full(sites, np.nan)
    low_l = np.full(sites, np.nan)
    high_l = np.full(sites, np.nan)
    for i in range(sites):
        mean_l[i], low_l[i], high_l[i] = _mean_ci(log10[:, i])
    return Growth(
        factor=factor,
        factor_low=f_lo,
        factor_high=f_hi,
        seeds_used=len(slopes),
        seeds=seeds,
        sites=sites,
        n_inf=n_inf,
        n_nan=n_nan,
        n_zero=n_zero,
        klass=klass,
        mean_log10=mean_l,
        low_log10=low_l,
        high_log10=high_l,
        bad_sites=(~good).sum(axis=0),
    )


def _predicted_factor(p: records.Prediction | None) -> float:
    if p is None or p.log_growth is None or not p.valid:
        return math.nan
    lg = np.asarray(p.log_growth, dtype=np.float64).ravel()
    lg = lg[~np.isnan(lg)]
    if lg.size == 0:
        return math.nan
    with np.errstate(invalid="ignore", over="ignore"):
        return _exp(float(lg.mean()))


def _theory_log10(p: records.Prediction | None, growth: Growth) -> np.ndarray | None:
    """Predicted log10 norms per site, accumulated from the top site's measured mean."""
    if p is None or p.log_growth is None or not p.valid:
        return None
    lg = np.asarray(p.log_growth, dtype=np.float64).ravel()
    n = growth.sites
    if n < 2 or lg.size != n - 1:
        return None
    finite = np.flatnonzero(np.isfinite(growth.mean_log10))
    anchor_site = int(finite[-1]) if finite.size else n - 1
    anchor = float(growth.mean_log10[anchor_site]) if finite.size else 0.0
    out = np.full(n, np.nan)
    out[anchor_site] = anchor
    ln10 = math.log(10.0)
    with np.errstate(invalid="ignore", over="ignore"):
        for i in range(anchor_site - 1, -1, -1):
            out[i] = out[i + 1] + lg[i] / ln10
        for i in range(anchor_site + 1, n):
            out[i] = out[i - 1] - lg[i - 1] / ln10
    return out


def _f(x: Any) -> float:
    """Tolerant float decoding for ``extra`` series (None/garbage -> NaN)."""
    if isinstance(x, Mapping) and "nonfinite" in x:
        try:
            return records.decode_float(x)
        except (InvalidArgument, KeyError):
            return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return math.nan
    return float(x)


def _floats(x: Any) -> np.ndarray | None:
    if isinstance(x, Mapping) and "data" in x:
        try:
            return records.decode_array(x).astype(np.float64).ravel()
        except (InvalidArgument, ValueError, KeyError, TypeError):
            return None
    if isinstance(x, (list, tuple)):
        return np.array([_f(v) for v in x], dtype=np.float64)
    return None


def num(x: Any, digits: int = 3) -> str:
    """Format a number for display: ``nan``/``inf``/``-inf`` for non-finite values."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x).lower()
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if 1e3 <= abs(v) < 1e5:
        return f"{v:.0f}"
    if 1e-3 <= abs(v) < 1e3:
        return f"{v:.{digits}g}"
    return f"{v:.{max(digits - 1, 1)}e}"


def _sort_value(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(float(x))


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------


def _keyed(cases: Sequence[Case]) -> dict[tuple[str, str, int], Case]:
    counts: dict[tuple[str, str], int] = {}
    out: dict[tuple[str, str, int], Case] = {}
    for c in cases:
        base = (c.claim, c.label if c.label else _canonical(c.spec))
        k = counts.get(base, 0)
        counts[base] = k + 1
        out[(base[0], base[1], k)] = c
    return out


def _major_minor(v: Any) -> str:
    parts = str(v).split(".")
    return ".".join(parts[:2])


def _dtypes(run: Run) -> list[str]:
    return sorted({c.measurement.dtype for c in run.cases if c.measurement is not None})


def _devices(run: Run) -> list[str]:
    return sorted({c.measurement.device for c in run.cases if c.measurement is not None})


def _env(run: Run) -> dict[str, Any]:
    return records.MachineInfo.from_dict(run.machine_info).gradbench  # the writer's keys


def _compat_warnings(base: Run, new: Run) -> list[str]:
    out: list[str] = []
    b, n = base.gradbench_info, new.gradbench_info
    bs, ns = b.get("suite_version"), n.get("suite_version")
    if bs is not None and ns is not None and _major_minor(bs) != _major_minor(ns):
        out.append(
            f"suite versions differ ({base.label}: {bs}, {new.label}: {ns}); results are "
            "comparable only within the same major.minor suite version"
        )
    elif (bs is None) != (ns is None):
        out.append(f"suite version known for one run only ({base.label}: {bs}, {new.label}: {ns})")
    bv = sorted({str(c) for c in [b.get("schema_version")] if c is not None})
    nv = sorted({str(c) for c in [n.get("schema_version")] if c is not None})
    if bv != nv:
        out.append(
            f"schema versions differ ({base.label}: {', '.join(bv) or '?'}, {new.label}: "
            f"{', '.join(nv) or '?'})"
        )
    be, ne = _env(base), _env(new)
    for key, what in (
        ("device", "devices"),
        ("torch", "torch versions"),
        ("cuda", "CUDA versions"),
        ("tf32_matmul", "TF32 settings"),
        ("deterministic", "determinism settings"),
    ):
        if be.get(key) != ne.get(key):
            out.append(f"{what} differ ({base.label}: {be.get(key)}, {new.label}: {ne.get(key)})")
    bd, nd = _devices(base), _devices(new)
    if bd and nd and bd != nd and be.get("device") == ne.get("device"):
        out.append(
            f"measurement devices differ ({base.label}: {', '.join(bd)}, {new.label}: "
            f"{', '.join(nd)})"
        )
    bt, nt = _dtypes(base), _dtypes(new)
    if bt and nt and bt != nt:
        out.append(f"dtypes differ ({base.label}: {', '.join(bt)}, {new.label}: {', '.join(nt)})")
    return out


def compare_runs(base: Run, new: Run) -> Comparison:
    """Match the cases of two runs and classify what changed.

    Cases match on ``(claim, label)`` (the canonical spec when there is no label; a
    repeated pair within a run matches by order of appearance). A case that passed in
    ``base`` and fails in ``new`` is a regression; the reverse is an improvement.

    Args:
        base: the reference run.
        new: the run to judge.

    Returns:
        A :class:`Comparison` with the deltas, the unmatched cases, and warnings when the
        suite major.minor versions, schema versions, device, dtype, torch/CUDA versions or
        TF32/determinism settings differ.
    """
    bk, nk = _keyed(base.cases), _keyed(new.cases)
    deltas: list[CaseDelta] = []
    for key in sorted(set(bk) & set(nk)):
        b, n = bk[key], nk[key]
        if b.verdict is not None and n.verdict is not None:
            bp, np_ = b.verdict.passed, n.verdict.passed
            status = "regression" if bp and not np_ else "improvement" if np_ and not bp else "same"
            dm = n.verdict.measured - b.verdict.measured
            dlo = n.verdict.ci_low - b.verdict.ci_low
            dhi = n.verdict.ci_high - b.verdict.ci_high
            with np.errstate(invalid="ignore"):
                dw = (n.verdict.ci_high - n.verdict.ci_low) - (b.verdict.ci_high - b.verdict.ci_low)
        else:
            status, dm, dlo, dhi, dw = "same", math.nan, math.nan, math.nan, math.nan
        deltas.append(
            CaseDelta(
                key=key,
                base=b,
                new=n,
                status=status,
                delta_measured=_nan_safe(dm),
                delta_ci_low=_nan_safe(dlo),
                delta_ci_high=_nan_safe(dhi),
                delta_ci_width=_nan_safe(dw),
                base_factor=measured_growth(b.measurement).factor
                if b.measurement is not None
                else math.nan,
                new_factor=measured_growth(n.measurement).factor
                if n.measurement is not None
                else math.nan,
            )
        )
    order = {"regression": 0, "improvement": 1, "same": 2}
    deltas.sort(key=lambda d: (order[d.status], d.key))
    return Comparison(
        base_label=base.label,
        new_label=new.label,
        deltas=deltas,
        only_base=[bk[k] for k in sorted(set(bk) - set(nk))],
        only_new=[nk[k] for k in sorted(set(nk) - set(bk))],
        warnings=_compat_warnings(base, new),
    )


def _nan_safe(x: float) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


# --------------------------------------------------------------------------------------
# A tiny SVG chart
# --------------------------------------------------------------------------------------

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _esc(s: Any) -> str:
    """HTML-escape any value (quotes included), for text and attribute values."""
    return html.escape(str(s), quote=True)


def _c(v: float) -> str:
    """An SVG coordinate, rounded so output is stable."""
    r = round(v, 1)
    return f"{r:.1f}".rstrip("0").rstrip(".") if r != 0 else "0"


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def _linear_ticks(lo: float, hi: float, target: int = 5, integer: bool = False) -> list[float]:
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return [lo]
    step = _nice_step(span, target)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks for an axis whose values are log10 of the data: (position, label)."""
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return [(lo, num(10.0**lo) if abs(lo) < 300 else f"1e{lo:.0f}")]
    if span >= 2:
        step = max(1, int(_nice_step(span, 6)))
        ticks = []
        for k in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1):
            p = k * step
            ticks.append((float(p), _pow10(p)))
        return ticks
    for mults in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = []
        for k in range(math.floor(lo) - 1, math.ceil(hi) + 1):
            for m in mults:
                pos = k + math.log10(m)
                if lo - 1e-9 <= pos <= hi + 1e-9:
                    ticks.append((pos, num(m * 10.0**k, 3)))
        if len(ticks) >= 3:
            return ticks
    vlo, vhi = 10.0**lo, 10.0**hi
    values = [v for v in _linear_ticks(vlo, vhi, 4) if v > 0]
    vstep = values[1] - values[0] if len(values) > 1 else vhi - vlo
    return [(math.log10(v), _tick_text(v, vstep)) for v in values]


def _pow10(k: int) -> str:
    if k == 0:
        return "1"
    if k == 1:
        return "10"
    return "10" + str(k).translate(_SUP)


def _tick_text(v: float, step: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.1e}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 2
    return f"{v:.{min(decimals, 6)}f}"


@dataclass
class _Series:
    kind: str  # line | band | points | bars | vline
    x: list[float]
    y: list[float]
    y2: list[float] = field(default_factory=list)  # band upper / bar counts unused / error hi
    y0: list[float] = field(default_factory=list)  # band lower / error lo
    color: str = "#1f77b4"
    label: str | None = None
    dash: bool = False
    width: float = 1.6
    radius: float = 3.5
    opacity: float = 1.0
    tips: list[str] = field(default_factory=list)
    markers: bool = False
    colors: list[str] = field(default_factory=list)  # per point fill (points only)
    strokes: list[str] = field(default_factory=list)  # per point outline (points only)


class _Chart:
    """A small SVG chart: lines (with CI bands), points (with error bars), histograms.

    ``xlog``/``ylog`` mean the values given are already log10 of the data and the
    ticks are labelled as powers of ten. Non-finite values never raise: NaN breaks a
    line, +-inf is clamped to the edge of the plot.
    """

    def __init__(
        self,
        title: str,
        xlabel: str,
        ylabel: str,
        *,
        width: int = 380,
        height: int = 250,
        xlog: bool = False,
        ylog: bool = False,
        xlim: tuple[float, float] | None = None,
        ylim: tuple[float, float] | None = None,
        subtitle: str = "",
        xint: bool = False,
        tooltip: str = "",
        legend_right: bool = False,
    ) -> None:
        self.title, self.xlabel, self.ylabel, self.subtitle = title, xlabel, ylabel, subtitle
        self.w, self.h, self.xlog, self.ylog, self.xint = width, height, xlog, ylog, xint
        self.xlim, self.ylim, self.tooltip = xlim, ylim, tooltip
        self.legend_right = legend_right
        self.series: list[_Series] = []
        self.legend_only: list[tuple[str, str, str]] = []

    # -- building ---------------------------------------------------------------------
    def line(
        self,
        x: Iterable[float],
        y: Iterable[float],
        *,
        color: str,
        label: str | None = None,
        dash: bool = False,
        width: float = 1.6,
        markers: bool = False,
        tips: Sequence[str] = (),
    ) -> None:
        self.series.append(
            _Series(
                "line",
                list(map(float, x)),
                list(map(float, y)),
                color=color,
                label=label,
                dash=dash,
                width=width,
                markers=markers,
                tips=list(tips),
            )
        )

    def band(
        self,
        x: Iterable[float],
        lo: Iterable[float],
        hi: Iterable[float],
        *,
        color: str,
        opacity: float = 0.18,
    ) -> None:
        self.series.append(
            _Series(
                "band",
                list(map(float, x)),
                [],
                y2=list(map(float, hi)),
                y0=list(map(float, lo)),
                color=color,
                opacity=opacity,
            )
        )

    def points(
        self,
        x: Iterable[float],
        y: Iterable[float],
        *,
        color: str | Sequence[str],
        strokes: Sequence[str] = (),
        label: str | None = None,
        radius: float = 3.5,
        tips: Sequence[str] = (),
        err_lo: Iterable[float] = (),
        err_hi: Iterable[float] = (),
    ) -> None:
        xs = list(map(float, x))
        colors = [color] * len(xs) if isinstance(color, str) else list(color)
        s = _Series(
            "points",
            xs,
            list(map(float, y)),
            y0=list(map(float, err_lo)),
            y2=list(map(float, err_hi)),
            color=colors[0] if colors else "#000",
            label=label,
            radius=radius,
            tips=list(tips),
            colors=colors,
            strokes=list(strokes),
        )
        self.series.append(s)

    def bars(
        self,
        edges: Iterable[float],
        counts: Iterable[float],
        *,
        color: str,
        label: str | None = None,
        opacity: float = 0.55,
    ) -> None:
        self.series.append(
            _Series(
                "bars",
                list(map(float, edges)),
                list(map(float, counts)),
                color=color,
                label=label,
                opacity=opacity,
            )
        )

    def legend(self, label: str, color: str, kind: str = "points") -> None:
        self.legend_only.append((label, color, kind))

    # -- ranges -----------------------------------------------------------------------
    def _range(self, axis: str) -> tuple[float, float]:
        fixed = self.xlim if axis == "x" else self.ylim
        if fixed is not None:
            return fixed
        vals: list[float] = []
        has_bars = False
        for s in self.series:
            if axis == "x":
                vals += s.x
            else:
                vals += s.y + s.y0 + s.y2
                if s.kind == "bars":
                    has_bars = True
                    vals.append(0.0)
        finite = [v for v in vals if math.isfinite(v)]
        log = self.xlog if axis == "x" else self.ylog
        if not finite:
            return (0.0, 1.0)
        lo, hi = min(finite), max(finite)
        if hi - lo < 1e-12:
            pad = 0.5 if log else (abs(lo) * 0.1 or 0.5)
            return lo - pad, hi + pad
        if axis == "x" and any(s.kind == "bars" for s in self.series):
            return lo, hi
        pad = (hi - lo) * 0.05
        return (lo if has_bars and lo == 0 else lo - pad), hi + pad

    # -- rendering --------------------------------------------------------------------
    def render(self) -> str:
        """The chart as an ``<svg>`` element (clip-path ids are ``__CLIP__`` placeholders)."""
        ml, mr, mb = 58, 12, 38
        mt = 30 + (14 if self.subtitle else 0)
        pw, ph = self.w - ml - mr, self.h - mt - mb
        if self.legend_right:
            pw -= int(self._legend_size()[0]) + 8
        x0, x1 = self._range("x")
        y0, y1 = self._range("y")

        def sx(v: float, clamp: bool = True) -> float | None:
            if math.isnan(v):
                return None
            if clamp or math.isinf(v):
                v = min(max(v, x0), x1)
            return ml + (v - x0) / (x1 - x0) * pw

        def sy(v: float, clamp: bool = True) -> float | None:
            if math.isnan(v):
                return None
            if clamp or math.isinf(v):
                v = min(max(v, y0), y1)
            return mt + ph - min(max((v - y0) / (y1 - y0), -50.0), 51.0) * ph

        out: list[str] = []
        aria = self.title + (f" — {self.subtitle}" if self.subtitle else "")
        out.append(
            f'<svg class="chart" width="{self.w}" height="{self.h}" '
            f'viewBox="0 0 {self.w} {self.h}" role="img" aria-label="{_esc(aria)}">'
        )
        if self.tooltip:
            out.append(f"<title>{_esc(self.tooltip)}</title>")
        title = self.title if len(self.title) <= 58 else self.title[:56] + "…"
        out.append(f'<text class="t" x="{ml}" y="16">{_esc(title)}</text>')
        if self.subtitle:
            sub = self.subtitle if len(self.subtitle) <= 70 else self.subtitle[:68] + "…"
            out.append(f'<text class="st" x="{ml}" y="30">{_esc(sub)}</text>')
        out.append(f'<rect class="pa" x="{ml}" y="{mt}" width="{pw}" height="{ph}"/>')
        # ticks and grid
        if self.ylog:
            yt = _log_ticks(y0, y1)
        else:
            ys = _linear_ticks(y0, y1, 5)
            step = ys[1] - ys[0] if len(ys) > 1 else 1.0
            yt = [(v, _tick_text(v, step)) for v in ys]
        for v, lab in yt:
            py = sy(v)
            if py is None or not (y0 - 1e-9 <= v <= y1 + 1e-9):
                continue
            out.append(f'<line class="g" x1="{ml}" x2="{ml + pw}" y1="{_c(py)}" y2="{_c(py)}"/>')
            out.append(f'<text class="yt" x="{ml - 4}" y="{_c(py + 3.5)}">{_esc(lab)}</text>')
        if self.xlog:
            xt = _log_ticks(x0, x1)
        else:
            xs = _linear_ticks(x0, x1, max(2, pw // 70), integer=self.xint)
            step = xs[1] - xs[0] if len(xs) > 1 else 1.0
            xt = [(v, _tick_text(v, step)) for v in xs]
        for v, lab in xt:
            px = sx(v)
            if px is None or not (x0 - 1e-9 <= v <= x1 + 1e-9):
                continue
            out.append(f'<line class="g" x1="{_c(px)}" x2="{_c(px)}" y1="{mt}" y2="{mt + ph}"/>')
            out.append(f'<text class="xt" x="{_c(px)}" y="{mt + ph + 13}">{_esc(lab)}</text>')
        out.append(
            f'<text class="xl" x="{_c(ml + pw / 2)}" y="{self.h - 6}">{_esc(self.xlabel)}</text>'
        )
        cy = _c(mt + ph / 2)
        out.append(
            f'<text class="yl" x="12" y="{cy}" transform="rotate(-90 12 '
            f'{cy})">{_esc(self.ylabel)}</text>'
        )
        occupied: list[tuple[float, float]] = []
        out.append(
            f'<clipPath id="__CLIP__"><rect x="{ml}" y="{mt}" width="{pw}" '
            f'height="{ph}"/></clipPath>'
        )
        for s in self.series:
            out.extend(self._draw(s, sx, sy, occupied, y0))
        out.extend(self._legend(ml, mt, pw, ph, occupied))
        out.append("</svg>")
        return "".join(out)

    def _draw(
        self, s: _Series, sx: Any, sy: Any, occupied: list[tuple[float, float]], ybase: float
    ) -> list[str]:
        out: list[str] = []
        clip = '<g clip-path="url(#__CLIP__)">'
        if s.kind == "bars":
            out.append(clip)
            base = sy(max(0.0, ybase))
            for i, cnt in enumerate(s.y):
                if i + 1 >= len(s.x) or not cnt > 0:
                    continue
                xa, xb, top = sx(s.x[i]), sx(s.x[i + 1]), sy(cnt)
                if None in (xa, xb, top, base):
                    continue
                out.append(
                    f'<rect x="{_c(xa)}" y="{_c(top)}" width="{_c(max(xb - xa, 0.5))}" '
                    f'height="{_c(max(base - top, 0))}" fill="{s.color}" '
                    f'fill-opacity="{s.opacity}"/>'
                )
                occupied.append(((xa + xb) / 2, top))
            out.append("</g>")
            return out
        if s.kind == "band":
            segs: list[list[tuple[float, float, float]]] = [[]]
            for x, lo, hi in zip(s.x, s.y0, s.y2):
                px, plo, phi = sx(x), sy(lo, False), sy(hi, False)
                if None in (px, plo, phi) or not (math.isfinite(lo) and math.isfinite(hi)):
                    if segs[-1]:
                        segs.append([])
                    continue
                segs[-1].append((px, plo, phi))
            polys = []
            for seg in segs:
                if len(seg) < 2:
                    continue
                corners = [f"{_c(px)},{_c(phi)}" for px, _, phi in seg]
                corners += [f"{_c(px)},{_c(plo)}" for px, plo, _ in reversed(seg)]
                polys.append(
                    f'<polygon points="{" ".join(corners)}" fill="{s.color}" '
                    f'fill-opacity="{s.opacity}"/>'
                )
            return [clip, *polys, "</g>"] if polys else []
        if s.kind == "line":
            d: list[str] = []
            pen = False
            pts: list[tuple[float, float, int]] = []
            edges: list[tuple[float, float, int]] = []
            for i, (x, y) in enumerate(zip(s.x, s.y)):
                px, py = sx(x, False), sy(y, False)
                if px is None or py is None or not math.isfinite(y):
                    pen = False
                    if px is not None and py is not None:  # +-inf: a marker on the edge, no line
                        edges.append((px, py, i))
                    continue
                d.append(f"{'L' if pen else 'M'}{_c(px)} {_c(py)}")
                pen = True
                pts.append((px, py, i))
                occupied.append((px, py))
            out.append(clip)
            if d:
                dash = ' stroke-dasharray="5 3"' if s.dash else ""
                out.append(
                    f'<path d="{"".join(d)}" fill="none" stroke="{s.color}" '
                    f'stroke-width="{s.width}"{dash}/>'
                )
            if s.markers:
                for px, py, i in pts:
                    tip = f"<title>{_esc(s.tips[i])}</title>" if i < len(s.tips) else ""
                    out.append(
                        f'<circle cx="{_c(px)}" cy="{_c(py)}" r="2.6" '
                        f'fill="{s.color}">{tip}</circle>'
                    )
            out.append("</g>")
            for px, py, i in edges:
                top = s.y[i] > 0
                tip = f"<title>{_esc(s.tips[i] if i < len(s.tips) else num(s.y[i]))}</title>"
                tri = (
                    f"{_c(px - 4)},{_c(py + 7)} {_c(px + 4)},{_c(py + 7)} {_c(px)},{_c(py)}"
                    if top
                    else f"{_c(px - 4)},{_c(py - 7)} {_c(px + 4)},{_c(py - 7)} {_c(px)},{_c(py)}"
                )
                out.append(f'<polygon points="{tri}" fill="{s.color}">{tip}</polygon>')
            return out
        # points
        colors = s.colors or [s.color] * len(s.x)
        for i, (x, y) in enumerate(zip(s.x, s.y)):
            px, py = sx(x), sy(y)
            if px is None or py is None:
                continue
            if i < len(s.y0) and i < len(s.y2):
                plo, phi = sy(s.y0[i]), sy(s.y2[i])
                if plo is not None and phi is not None:
                    out.append(
                        f'<line x1="{_c(px)}" x2="{_c(px)}" y1="{_c(plo)}" y2="{_c(phi)}" '
                        f'stroke="{colors[i]}" stroke-width="1.2" stroke-opacity="0.7"/>'
                    )
            if i < len(s.strokes):
                stroke = f' stroke="{s.strokes[i]}" stroke-width="2"'
            else:
                stroke = ' stroke="#fff" stroke-width="0.8"'
            tip = f"<title>{_esc(s.tips[i])}</title>" if i < len(s.tips) else ""
            out.append(
                f'<circle cx="{_c(px)}" cy="{_c(py)}" r="{s.radius}" '
                f'fill="{colors[i]}"{stroke}>{tip}</circle>'
            )
            occupied.append((px, py))
        return out

    def _legend_entries(self) -> tuple[list[tuple[str, str, str, bool]], list[str]]:
        entries: list[tuple[str, str, str, bool]] = []
        for s in self.series:
            if s.label:
                entries.append((s.label, s.color, s.kind, s.dash))
        entries += [(lab, col, kind, kind == "dash") for lab, col, kind in self.legend_only]
        more = len(entries) - 8
        if more > 0:
            entries = [*entries[:8], (f"+{more} more", "#999", "none", False)]
        labels = [e[0] if len(e[0]) <= 34 else e[0][:33] + "…" for e in entries]
        return entries, labels

    def _legend_size(self) -> tuple[float, float]:
        entries, labels = self._legend_entries()
        if not entries:
            return 0.0, 0.0
        return 26 + 5.8 * max(len(lab) for lab in labels), 6 + 13 * len(entries)

    def _legend(
        self, ml: int, mt: int, pw: int, ph: int, occupied: list[tuple[float, float]]
    ) -> list[str]:
        entries, labels = self._legend_entries()
        if not entries:
            return []
        bw, bh = self._legend_size()
        bw = min(bw, pw - 8) if not self.legend_right else bw
        corners = [
            (ml + pw - bw - 4, mt + 4),
            (ml + 4, mt + 4),
            (ml + pw - bw - 4, mt + ph - bh - 4),
            (ml + 4, mt + ph - bh - 4),
        ]
        if self.legend_right:
            corners = [(ml + pw + 8, mt)]

        def crowd(c: tuple[float, float]) -> int:
            return sum(
                1 for px, py in occupied if c[0] <= px <= c[0] + bw and c[1] <= py <= c[1] + bh
            )

        bx, by = min(corners, key=crowd)
        out = [
            f'<g class="lg"><rect x="{_c(bx)}" y="{_c(by)}" width="{_c(bw)}" height="{bh}" rx="3"/>'
        ]
        for i, ((_, color, kind, dash), lab) in enumerate(zip(entries, labels)):
            yy = by + 11 + 13 * i
            if kind in ("line", "dash"):
                da = ' stroke-dasharray="5 3"' if dash else ""
                out.append(
                    f'<line x1="{_c(bx + 5)}" x2="{_c(bx + 19)}" y1="{_c(yy - 3.5)}" '
                    f'y2="{_c(yy - 3.5)}" '
                    f'stroke="{color}" stroke-width="2"{da}/>'
                )
            elif kind == "bars" or kind == "band":
                out.append(
                    f'<rect x="{_c(bx + 6)}" y="{_c(yy - 8)}" width="12" height="9" '
                    f'fill="{color}" fill-opacity="0.6"/>'
                )
            elif kind == "ring":
                out.append(
                    f'<circle cx="{_c(bx + 12)}" cy="{_c(yy - 3.5)}" r="3.6" fill="#fff" '
                    f'stroke="{color}" stroke-width="1.8"/>'
                )
            elif kind != "none":
                out.append(
                    f'<circle cx="{_c(bx + 12)}" cy="{_c(yy - 3.5)}" r="3.6" fill="{color}"/>'
                )
            out.append(f'<text x="{_c(bx + 23)}" y="{_c(yy)}">{_esc(lab)}</text>')
        out.append("</g>")
        return out


# --------------------------------------------------------------------------------------
# Page model
# --------------------------------------------------------------------------------------


@dataclass
class _Config:
    """One measured configuration of one run, with everything the page shows about it."""

    run: Run
    key: tuple[str, str]
    label: str
    family: str
    measurement: records.Measurement
    prediction: records.Prediction | None
    growth: Growth
    predicted: float
    cases: list[Case] = field(default_factory=list)

    @property
    def pred_note(self) -> str:
        p = self.prediction
        if p is None:
            return "no prediction"
        if not p.valid:
            return f"outside theory's domain: {p.reason}" if p.reason else "outside theory's domain"
        if p.log_growth is None:
            return p.reason or "no per-layer prediction"
        return ""


def _configs(run: Run) -> list[_Config]:
    found: dict[tuple[str, str], _Config] = {}
    for c in run.cases:
        if c.measurement is None:
            continue
        cfg = found.get(c.config_key)
        if cfg is None:
            found[c.config_key] = _Config(
                run=run,
                key=c.config_key,
                label=c.label,
                family=c.family,
                measurement=c.measurement,
                prediction=c.prediction,
                growth=measured_growth(c.measurement),
                predicted=_predicted_factor(c.prediction),
            )
        elif cfg.prediction is None and c.prediction is not None:
            cfg.prediction = c.prediction
            cfg.predicted = _predicted_factor(c.prediction)
    for c in run.cases:
        if c.config_key in found:
            found[c.config_key].cases.append(c)
    return list(found.values())


def _severity(cfg: _Config) -> tuple[int, float, str]:
    order = {"explode": 0, "nonfinite": 0, "vanish": 0, "stable": 1, "unknown": 2}
    f = cfg.growth.factor
    mag = abs(math.log(f)) if math.isfinite(f) and f > 0 else math.inf
    if cfg.growth.n_inf or cfg.growth.n_nan or cfg.growth.n_zero:
        mag = math.inf
    return (order[cfg.growth.klass], -mag, cfg.label)


def _worst(cfgs: Sequence[_Config], limit: int) -> list[_Config]:
    """The most severe non-stable configurations, exploding and vanishing ones shared fairly.

    Each side (exploding or non-finite; vanishing) gets up to half the rows, the other
    side's leftover rows go to whichever has more; the result is sorted by severity.
    """
    boom = sorted((c for c in cfgs if c.growth.klass in ("explode", "nonfinite")), key=_severity)
    fade = sorted((c for c in cfgs if c.growth.klass == "vanish"), key=_severity)
    half = limit // 2
    take_boom = min(len(boom), max(half, limit - len(fade)))
    take_fade = min(len(fade), limit - take_boom)
    return sorted(boom[:take_boom] + fade[:take_fade], key=_severity)


@dataclass
class _Page:
    runs: list[Run]
    configs: dict[str, list[_Config]]  # by run label
    comparisons: list[Comparison]
    title: str
    chart_count: int = 0

    def counts(self, run: Run) -> dict[str, int]:
        out = {"cases": len(run.cases), "pass": 0, "fail": 0, "none": 0, "configurations": 0}
        for c in run.cases:
            out[c.status] += 1
        for k in _CLASSES:
            out[k] = 0
        for cfg in self.configs[run.label]:
            out[cfg.growth.klass] += 1
            out["configurations"] += 1
        return out


def _unique_labels(runs: Sequence[Run]) -> list[Run]:
    seen: dict[str, int] = {}
    out: list[Run] = []
    for r in runs:
        n = seen.get(r.label, 0)
        seen[r.label] = n + 1
        if n:
            r = Run(**{**r.__dict__, "label": f"{r.label}#{n + 1}"})
        out.append(r)
    return out


# --------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------


def _badge(status: str) -> str:
    text = {
        "pass": "pass",
        "fail": "FAIL",
        "none": "no verdict",
        "regression": "REGRESSION",
        "improvement": "improvement",
        "same": "unchanged",
        "only_base": "removed",
        "only_new": "new",
    }.get(status, status)
    return f'<span class="b b-{_esc(status)}">{_esc(text)}</span>'


def _cls_badge(klass: str) -> str:
    return f'<span class="k k-{klass}">{_CLASS_TEXT[klass]}</span>'


def _factor_ci(g: Growth) -> str:
    ci = ""
    if math.isfinite(g.factor_low) or math.isfinite(g.factor_high) or g.seeds_used > 1:
        ci = f' <span class="ci">[{num(g.factor_low)}, {num(g.factor_high)}]</span>'
    nf = []
    if g.n_inf:
        nf.append(f"{g.n_inf} inf")
    if g.n_nan:
        nf.append(f"{g.n_nan} nan")
    if g.n_zero:
        nf.append(f"{g.n_zero} zero")
    warn = (
        ' <span class="nf" title="gradient norms that are not finite and '
        f'positive">{", ".join(nf)}</span>'
        if nf
        else ""
    )
    return f"×{num(g.factor)}{ci}{warn}"


def _verdict_badges(cfg: _Config, compact: bool = False) -> str:
    if compact:  # one mark per outcome, the claims in the tooltip
        out = []
        for passed, mark in ((False, "✗"), (True, "✓")):
            claims = [
                c.claim for c in cfg.cases if c.verdict is not None and c.verdict.passed == passed
            ]
            if claims:
                cls = "pass" if passed else "fail"
                word = "passed" if passed else "failed"
                out.append(
                    f'<span class="v c v-{cls}" title="{_esc(word + ": " + ", ".join(claims))}">'
                    f"{mark} {len(claims)} {word}</span>"
                )
        return " ".join(out) if out else '<span class="muted">—</span>'
    parts = []
    for c in cfg.cases:
        if c.verdict is None:
            continue
        mark = "✓" if c.verdict.passed else "✗"
        cls = "pass" if c.verdict.passed else "fail"
        parts.append(
            f'<span class="v v-{cls}" title="{_esc(c.case)}">{mark} {_esc(c.claim)}</span>'
        )
    return " ".join(parts) if parts else '<span class="muted">—</span>'


def _lbl(label: str) -> str:
    """An escaped configuration label that may wrap after its hyphens."""
    return f'<span class="lbl">{_esc(label).replace("-", "-<wbr>")}</span>'


def _td(text: str, sort: str | None = None, cls: str = "") -> str:
    attr = f' data-sort="{_esc(sort)}"' if sort is not None else ""
    cattr = f' class="{cls}"' if cls else ""
    return f"<td{attr}{cattr}>{text}</td>"


def _th(text: str, kind: str = "text") -> str:
    return f'<th data-type="{kind}" tabindex="0">{_esc(text)}</th>'


def _predicted_cell(cfg: _Config) -> str:
    if math.isfinite(cfg.predicted) or (cfg.prediction is not None and cfg.pred_note == ""):
        return _td(f"×{num(cfg.predicted)}", sort=_sort_value(cfg.predicted), cls="n")
    return _td(f'<span class="muted" title="{_esc(cfg.pred_note)}">—</span>', sort="NaN", cls="n")


def _config_table(
    cfgs: Sequence[_Config],
    table_id: str,
    *,
    run_col: bool = False,
    compact: bool = False,
    before: tuple[str, dict[tuple[str, str], _Config]] | None = None,
) -> str:
    """Configurations table; ``compact`` (worst offenders) drops family and layer count,
    ``before`` adds the factor measured in an earlier run."""
    head = [_th("Run")] if run_col else []
    head += [_th("Configuration")] + ([] if compact else [_th("Family")])
    head += [_th("Class", "num"), _th("Measured ×/layer [95% CI]", "num")]
    if before is not None:
        head.append(
            f'<th data-type="num" tabindex="0" title="measured in {_esc(before[0])}">Before '
            "×/layer</th>"
        )
    head.append(_th("Predicted ×/layer", "num"))
    if not (compact and before):
        head.append(
            '<th data-type="num" tabindex="0" title="measured factor to the power layers − 1: '
            "the total "
            'change of the gradient norm from the top layer to the input">Top→input</th>'
        )
    head += ([] if compact else [_th("Layers", "num")]) + [_th("Verdicts")]
    rows = []
    for cfg in cfgs:
        g = cfg.growth
        cells = [_td(_esc(cfg.run.label))] if run_col else []
        cells.append(_td(_lbl(cfg.label)))
        if not compact:
            cells.append(_td(_esc(cfg.family)))
        cells += [
            _td(_cls_badge(g.klass), sort=str(_CLASSES.index(g.klass))),
            _td(_factor_ci(g), sort=_sort_value(g.factor), cls="n"),
        ]
        if before is not None:
            old = before[1].get(cfg.key)
            cells.append(
                _td(f"×{num(old.growth.factor)}", sort=_sort_value(old.growth.factor), cls="n")
                if old is not None
                else _td('<span class="muted">new</span>', sort="NaN", cls="n")
            )
        cells.append(_predicted_cell(cfg))
        if not (compact and before):
            cells.append(_td(f"×{num(g.over_depth, 2)}", sort=_sort_value(g.over_depth), cls="n"))
        if not compact:
            cells.append(_td(str(g.sites), sort=str(g.sites), cls="n"))
        cells.append(_td(_verdict_badges(cfg, compact), cls="verd"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="{table_id}" class="sortable"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _growth_scatter(page: _Page, cfgs: Sequence[_Config]) -> str:
    pts = [c for c in cfgs if math.isfinite(c.predicted) and c.predicted > 0]
    if not pts:
        return '<p class="muted">No configuration has a per-layer prediction to compare with.</p>'
    xs = [math.log10(c.predicted) for c in pts]
    ys = [math.log10(c.growth.factor) if c.growth.factor > 0 else -math.inf for c in pts]
    fin = [v for v in xs + ys if math.isfinite(v)] + [
        math.log10(VANISH_BELOW),
        math.log10(EXPLODE_ABOVE),
    ]
    lo, hi = min(fin), max(fin)
    pad = max((hi - lo) * 0.08, 0.01)
    lim = (lo - pad, hi + pad)
    ch = _Chart(
        "Measured vs predicted growth per layer",
        "predicted factor per layer",
        "measured factor per layer",
        width=385,
        height=300,
        xlog=True,
        ylog=True,
        xlim=lim,
        ylim=lim,
        subtitle="one point per configuration; diagonal = theory agrees",
    )
    ch.line([lim[0], lim[1]], [lim[0], lim[1]], color="#999", dash=True, width=1.0)
    for bound in (VANISH_BELOW, EXPLODE_ABOVE):
        ch.line([lim[0], lim[1]], [math.log10(bound)] * 2, color="#ccc", width=0.8)

    def lg(v: float) -> float:
        return math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)

    for klass in _CLASSES:
        sel = [c for c in pts if c.growth.klass == klass]
        if not sel:
            continue
        run_pre = len(page.runs) > 1
        tips = [
            f"{(c.run.label + ': ') if run_pre else ''}{c.label}: measured ×{num(c.growth.factor)} "
            f"[{num(c.growth.factor_low)}, {num(c.growth.factor_high)}], predicted "
            f"×{num(c.predicted)}"
            for c in sel
        ]
        ch.points(
            [math.log10(c.predicted) for c in sel],
            [lg(c.growth.factor) for c in sel],
            color=_CLASS_COLOR[klass],
            label=_CLASS_TEXT[klass],
            tips=tips,
            err_lo=[lg(c.growth.factor_low) for c in sel],
            err_hi=[lg(c.growth.factor_high) for c in sel],
        )
    missing = len(cfgs) - len(pts)
    note = (
        f'<p class="muted small">{missing} configuration(s) without a valid per-layer prediction '
        "are not shown.</p>"
        if missing
        else ""
    )
    return ch.render() + note


def _summary(page: _Page) -> str:
    multi = len(page.runs) > 1
    out = ['<section id="summary"><h2>Summary</h2>']
    if multi:
        rows = []
        for r in page.runs:
            k = page.counts(r)
            rows.append(
                f"<tr><td>{_esc(r.label)}</td><td class='n'>{k['pass']}</td><td "
                f"class='n'>{k['fail']}</td>"
                f"<td class='n'>{k['none']}</td><td class='n'>{k['configurations']}</td>"
                f"<td class='n'>{k['vanish']}</td><td class='n'>{k['stable']}</td><td "
                f"class='n'>{k['explode']}</td>"
                f"<td class='n'>{k['nonfinite']}</td></tr>"
            )
        out.append(
            '<table class="counts"><thead><tr><th>Run</th><th>passed</th><th>failed</th><th>no '
            "verdict</th>"
            "<th>configurations</th><th>vanishing</th><th>stable</th><th>exploding</th><th>non-finite</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    else:
        k = page.counts(page.runs[0])
        cards = [
            ("pass", k["pass"], "claims passed"),
            ("fail", k["fail"], "claims failed"),
            ("vanish", k["vanish"], f"vanishing (×&lt;{VANISH_BELOW}/layer)"),
            ("stable", k["stable"], "stable"),
            ("explode", k["explode"], f"exploding (×&gt;{EXPLODE_ABOVE}/layer)"),
        ]
        if k["nonfinite"]:
            cards.append(("nonfinite", k["nonfinite"], "non-finite (NaN)"))
        if k["none"]:
            cards.append(("none", k["none"], "cases without verdict"))
        out.append(
            '<div class="cards">'
            + "".join(
                f'<div class="card c-{cls}" id="count-{cls}"><b>{n}</b><span>{text}</span></div>'
                for cls, n, text in cards
            )
            + "</div>"
        )
    last = page.runs[-1]
    k = page.counts(last)
    sentence = (
        f"{k['configurations']} configuration(s) "
        f"measured{' in ' + _esc(last.label) if multi else ''}: "
        f"<b>{k['vanish']}</b> vanish, <b>{k['explode']}</b> explode"
        + (f", <b>{k['nonfinite']}</b> give NaN" if k["nonfinite"] else "")
        + f", {k['stable']} stay within [{VANISH_BELOW}, {EXPLODE_ABOVE}] per layer. "
        f"Theory's claims: <b>{k['pass']}</b> of {k['pass'] + k['fail']} passed."
    )
    out.append(f'<p class="lead">{sentence}</p>')
    all_cfgs = [c for r in page.runs for c in page.configs[r.label]]
    latest = page.configs[last.label]
    worst = _worst(latest, 10)
    n_bad = sum(1 for c in latest if c.growth.klass not in ("stable", "unknown"))
    before = (
        (page.runs[0].label, {c.key: c for c in page.configs[page.runs[0].label]})
        if multi
        else None
    )
    where = f" in {_esc(last.label)}" if multi else ""
    out.append(f'<div class="two"><div class="worst"><h3>Worst offenders{where}</h3>')
    if worst:
        out.append(_config_table(worst, "worst", compact=True, before=before))
        if n_bad > len(worst):
            out.append(
                f'<p class="muted small">…and {n_bad - len(worst)} more non-stable '
                "configuration(s); "
                "see all configurations below.</p>"
            )
    elif latest:
        out.append(
            f"<p>None: every configuration stays within [{VANISH_BELOW}, {EXPLODE_ABOVE}] per "
            "layer.</p>"
        )
    else:
        out.append('<p class="muted">No gradient measurements in the input.</p>')
    out.append('</div><div class="scatter">')
    out.append(_growth_scatter(page, latest) if latest else "")
    out.append("</div></div>")
    if all_cfgs:
        ordered = sorted(all_cfgs, key=lambda c: (c.family, c.label, c.run.label))
        out.append(
            f"<details><summary>All {len(ordered)} configurations</summary>"
            f"{_config_table(ordered, 'configs', run_col=multi)}</details>"
        )
    out.append(
        '<p class="muted small">Measured factor: exp(−mean over seeds of the least-squares slope '
        "of "
        "log‖dL/dh<sub>l</sub>‖ against l); below 1 the gradient shrinks towards the input. "
        "Predicted: exp(mean of the predicted per-layer log growth). Top→input: "
        "factor<sup>layers−1</sup>.</p>"
    )
    out.append("</section>")
    return "".join(out)


def _comparison_banner(page: _Page) -> str:
    if not page.comparisons:
        return ""
    out = ['<section id="regressions">']
    for comp in page.comparisons:
        head = f"{_esc(comp.base_label)} → {_esc(comp.new_label)}"
        for w in comp.warnings:
            out.append(f'<div class="warn"><b>Warning ({head}):</b> {_esc(w)}.</div>')
        regs = comp.regressions
        if regs:
            items = "".join(
                f"<li><b>{_esc(d.claim)}</b> on {_lbl(d.label)}: "
                f"measured {_verdict_value(d.base)} → {_verdict_value(d.new)}</li>"
                for d in regs[:10]
            )
            more = f"<li>…and {len(regs) - 10} more</li>" if len(regs) > 10 else ""
            out.append(
                f'<div class="bad"><b>{len(regs)} regression(s) {head}</b> '
                f"(passed before, fail now):<ul>{items}{more}</ul></div>"
            )
        else:
            out.append(
                f'<div class="good"><b>No regressions {head}</b>: {len(comp.improvements)} '
                "improvement(s), "
                f"{len(comp.deltas)} matched case(s), {len(comp.only_base)} removed, "
                f"{len(comp.only_new)} new.</div>"
            )
    out.append("</section>")
    return "".join(out)


def _verdict_value(c: Case | None) -> str:
    if c is None or c.verdict is None:
        return "—"
    v = c.verdict
    return f"{num(v.measured)} [{num(v.ci_low)}, {num(v.ci_high)}] {_badge(c.status)}"


def _comparison_section(page: _Page) -> str:
    if not page.comparisons:
        return ""
    out = ['<section id="comparison"><h2>Run comparison</h2>']
    for i, comp in enumerate(page.comparisons):
        out.append(f"<h3>{_esc(comp.base_label)} → {_esc(comp.new_label)}</h3>")
        head = [
            _th("Status", "num"),
            _th("Claim"),
            _th("Configuration"),
            _th(f"{comp.base_label}: measured [CI]"),
            _th(f"{comp.new_label}: measured [CI]"),
            _th("Δ measured", "num"),
            _th("Δ CI width", "num"),
            _th("×/layer before → after"),
        ]
        order = {"regression": 0, "improvement": 1, "same": 2, "only_base": 3, "only_new": 4}
        rows = []
        entries: list[tuple[str, Case | None, Case | None, CaseDelta | None]] = [
            (d.status, d.base, d.new, d) for d in comp.deltas
        ]
        entries += [("only_base", c, None, None) for c in comp.only_base]
        entries += [("only_new", None, c, None) for c in comp.only_new]
        for status, b, n, d in entries:
            case = n or b
            assert case is not None
            dm = d.delta_measured if d else math.nan
            dw = d.delta_ci_width if d else math.nan
            fac = (
                f"×{num(d.base_factor)} → ×{num(d.new_factor)}"
                if d and (math.isfinite(d.base_factor) or math.isfinite(d.new_factor))
                else "—"
            )
            rows.append(
                f'<tr class="s-{status}">'
                + _td(_badge(status), sort=str(order[status]))
                + _td(_esc(case.claim))
                + _td(_lbl(case.label))
                + _td(_verdict_value(b))
                + _td(_verdict_value(n))
                + _td(num(dm), sort=_sort_value(dm), cls="n")
                + _td(num(dw), sort=_sort_value(dw), cls="n")
                + _td(fac)
                + "</tr>"
            )
        out.append(
            f'<table id="comparison-{i}" class="sortable"><thead><tr>{"".join(head)}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    out.append("</section>")
    return "".join(out)


# -- plots ----------------------------------------------------------------------------


def _gradient_chart(page: _Page, cfgs: Sequence[_Config], xlabel: str) -> str:
    """One configuration (from one or more runs): mean log norm per site, CI band, theory."""
    first = cfgs[0]
    multi = len(page.runs) > 1
    per = "/step" if first.family == "rnn" else "/layer"
    measured = " → ".join(f"×{num(c.growth.factor)}" for c in cfgs)
    ch = _Chart(
        first.label,
        xlabel,
        "‖dL/dh‖ (log scale)",
        ylog=True,
        xint=True,
        subtitle=f"measured {measured}{per}"
        + (f" · theory ×{num(first.predicted)}" if math.isfinite(first.predicted) else ""),
        tooltip=f"{first.label}\n{first.family} spec: {_canonical(first.measurement.spec)}",
    )
    meas: list[float] = []
    theory = None
    for i, c in enumerate(cfgs):
        g = c.growth
        x = list(range(1, g.sites + 1))
        color = _PALETTE[page.runs.index(c.run) % len(_PALETTE)] if multi else _PALETTE[0]
        name = c.run.label if multi else f"measured (mean of {g.seeds} seeds, 95% CI)"
        ch.band(x, g.low_log10, g.high_log10, color=color)
        tips = [f"{xlabel} {t}: ‖dL/dh‖ = 10^{num(m, 4)}" for t, m in zip(x, g.mean_log10)]
        ch.line(x, g.mean_log10, color=color, label=name, markers=g.sites <= 40, tips=tips)
        meas += [
            v
            for v in list(g.mean_log10) + list(g.low_log10) + list(g.high_log10)
            if math.isfinite(v)
        ]
        bad = [(t, int(b)) for t, b in zip(x, g.bad_sites) if b]
        if bad:
            ch.points(
                [t for t, _ in bad],
                [math.inf if g.n_inf or g.n_nan else -math.inf for _ in bad],
                color=_CLASS_COLOR["explode" if g.n_inf or g.n_nan else "vanish"],
                radius=3,
                label="non-finite / zero (clipped)" if i == 0 else None,
                tips=[
                    f"{xlabel} {t}: {b} of {g.seeds} seeds not finite and positive" for t, b in bad
                ],
            )
        if theory is None:
            theory = _theory_log10(c.prediction, g)
    if theory is not None:
        ch.line(
            list(range(1, len(theory) + 1)), list(theory), color="#444", dash=True, label="theory"
        )
    if meas:
        lo, hi = min(meas), max(meas)
        span = max(hi - lo, 1.0)
        if theory is not None:
            tf = [v for v in theory if math.isfinite(v)]
            if tf:  # show theory, but never let it squash the measurement to a line
                lo = max(min(lo, min(tf)), lo - 2 * span)
                hi = min(max(hi, max(tf)), hi + 2 * span)
        pad = (hi - lo) * 0.06 or 0.5
        ch.ylim = (lo - pad, hi + pad)
    return ch.render()


def _panel_grid(page: _Page, groups: Sequence[list[_Config]], xlabel: str) -> str:
    out = ['<div class="grid">']
    for cfgs in groups[:_MAX_PANELS]:
        out.append(f"<figure>{_gradient_chart(page, cfgs, xlabel)}</figure>")
    out.append("</div>")
    if len(groups) > _MAX_PANELS:
        rest = ", ".join(_esc(g[0].label) for g in groups[_MAX_PANELS:])
        out.append(f'<p class="muted small">{len(groups) - _MAX_PANELS} more not drawn: {rest}</p>')
    return "".join(out)


def _grouped(
    page: _Page, families: set[str] | None, exclude: Iterable[str] = ()
) -> dict[str, list[list[_Config]]]:
    exclude = set(exclude)
    by: dict[tuple[str, str, str], list[_Config]] = {}
    for r in page.runs:
        for c in page.configs[r.label]:
            if (families is not None and c.family not in families) or c.family in exclude:
                continue
            by.setdefault((c.family, *c.key), []).append(c)
    out: dict[str, list[list[_Config]]] = {}
    for key in sorted(by, key=lambda k: (_family_order(k[0]), k[1], k[2])):
        out.setdefault(key[0], []).append(by[key])
    return out


def _family_order(f: str) -> tuple[int, str]:
    return ({"mlp": 0, "residual": 1, "rnn": 2}.get(f, 3), f)


def _gradients(page: _Page) -> str:
    fams = _grouped(page, None, exclude={"rnn"})
    if not fams:
        return ""
    out = [
        '<section id="gradients"><h2>Gradient norm vs layer</h2>',
        '<p class="muted small">Mean over seeds of log‖dL/dh<sub>l</sub>‖ with a 95% CI band '
        "across seeds; "
        "dashed: theory, the predicted per-layer log growth accumulated down from the top layer. "
        "Markers on the edge are non-finite or zero norms, clipped.</p>",
    ]
    for fam, groups in fams.items():
        xlabel = "block l" if fam == "residual" else "layer l"
        out.append(f"<h3>{_esc(_FAMILY_TITLE.get(fam, fam))} ({len(groups)})</h3>")
        out.append(_panel_grid(page, groups, xlabel))
    out.append("</section>")
    return "".join(out)


def _rnn(page: _Page) -> str:
    fams = _grouped(page, {"rnn"})
    groups = fams.get("rnn", [])
    if not groups:
        return ""
    out = [
        '<section id="rnn"><h2>RNN: gradient decay vs time step</h2>',
        '<p class="muted small">‖dL/dh<sub>t</sub>‖ for a loss on the last hidden state '
        "h<sub>T</sub>; "
        "factors are per time step going back in time.</p>",
        '<div class="grid">',
    ]
    for r in page.runs:
        cfgs = [c for c in page.configs[r.label] if c.family == "rnn"]
        for start in range(0, min(len(cfgs), 40), 8):
            chunk = cfgs[start : start + 8]
            title = "All RNN configurations" + (f" ({r.label})" if len(page.runs) > 1 else "")
            if len(cfgs) > 8:
                title += f" {start + 1}–{start + len(chunk)}"
            ch = _Chart(
                title,
                "time step t",
                "‖dL/dh_t‖ (log scale)",
                ylog=True,
                xint=True,
                width=460,
                height=280,
            )
            for j, c in enumerate(chunk):
                x = list(range(1, c.growth.sites + 1))
                ch.line(x, c.growth.mean_log10, color=_PALETTE[j % len(_PALETTE)], label=c.label)
            out.append(f"<figure>{ch.render()}</figure>")
    out.append("</div>")
    out.append(_panel_grid(page, groups, "time step t"))
    out.append("</section>")
    return "".join(out)


def _phase(page: _Page) -> str:
    panels: list[str] = []
    for r in page.runs:
        by_act: dict[str, list[tuple[Case, Mapping[str, Any]]]] = {}
        for c in r.cases:
            pp = c.extra.get("phase_point")
            if isinstance(pp, Mapping):
                by_act.setdefault(
                    str(pp.get("activation", c.spec.get("activation", "?"))), []
                ).append((c, pp))
        for act in sorted(by_act):
            items = by_act[act]
            title = f"{act}" + (f" ({r.label})" if len(page.runs) > 1 else "")
            xs = [_f(pp.get("sigma_w2")) for _, pp in items]
            ys = [_f(pp.get("sigma_b2")) for _, pp in items]
            meas = [_phase_class(_f(pp.get("measured_log_growth"))) for _, pp in items]
            pred = [_phase_class(_f(pp.get("predicted_log_growth"))) for _, pp in items]
            agree = sum(1 for a, b in zip(meas, pred) if a == b and a != "unknown")
            known = sum(1 for b in pred if b != "unknown")
            ch = _Chart(
                title,
                "σ_w²",
                "σ_b²",
                width=540,
                height=290,
                legend_right=True,
                subtitle=f"theory's phase agrees at {agree} of {known} points"
                if known
                else "no predicted phases",
            )
            curve = next(
                (
                    pp.get("critical_curve")
                    for _, pp in items
                    if isinstance(pp.get("critical_curve"), Mapping)
                ),
                None,
            )
            if isinstance(curve, Mapping):
                cx, cy = _floats(curve.get("sigma_w2")), _floats(curve.get("sigma_b2"))
                if cx is not None and cy is not None and cx.size == cy.size and cx.size:
                    px_ = [v for v in xs if math.isfinite(v)]
                    py_ = [v for v in ys if math.isfinite(v)]
                    if px_ and py_:  # axes follow the measured grid; the curve is clipped to it
                        xp = (max(px_) - min(px_)) * 0.07 or 0.5
                        yp = (max(py_) - min(py_)) * 0.07 or 0.05
                        ch.xlim = (min(px_) - xp, max(px_) + xp)
                        ch.ylim = (min(py_) - yp, max(py_) + yp)
                    ch.line(list(cx), list(cy), color="#222", dash=True, label="χ₁ = 1 (theory)")
            tips = [
                f"σ_w²={num(x)}, σ_b²={num(y)}: measured "
                f"×{num(_exp(_f(pp.get('measured_log_growth'))))}/layer "
                f"({_CLASS_TEXT[m]}), predicted ×{num(_exp(_f(pp.get('predicted_log_growth'))))} "
                f"({_CLASS_TEXT[p]}) — {c.label}"
                for (c, pp), x, y, m, p in zip(items, xs, ys, meas, pred)
            ]
            # predicted phase as a ring around each point, measured phase as its fill
            ch.points(
                xs, ys, color="none", strokes=[_CLASS_COLOR[p] for p in pred], radius=8.5, tips=tips
            )
            ch.points(xs, ys, color=[_CLASS_COLOR[m] for m in meas], radius=5.5, tips=tips)
            for k in ("vanish", "stable", "explode"):
                ch.legend(f"measured {_CLASS_TEXT[k]}", _CLASS_COLOR[k])
            ch.legend("ring: predicted phase", "#555", "ring")
            panels.append(f"<figure>{ch.render()}</figure>")
    if not panels:
        return ""
    return (
        '<section id="phase"><h2>Phase diagrams</h2><p class="muted small">Each point is one '
        "measured "
        "(σ_w², σ_b²): filled by the measured per-layer growth, ringed by the predicted one; "
        "the dashed line is the predicted order-to-chaos boundary χ₁ = 1.</p>"
        f'<div class="grid wide">{"".join(panels)}</div></section>'
    )


def _phase_class(log_growth: float) -> str:
    if math.isnan(log_growth):
        return "unknown"
    return _classify(_exp(log_growth))


def _spectra(page: _Page) -> str:
    panels: list[str] = []
    skipped: list[str] = []
    for r in page.runs:
        groups: dict[str, list[tuple[Case, Mapping[str, Any]]]] = {}
        for c in r.cases:
            sp = c.extra.get("spectrum")
            if not isinstance(sp, Mapping):
                continue
            ev = _floats(sp.get("eigenvalues"))
            if ev is None or ev.size == 0:
                skipped.append(c.label)
                continue
            groups.setdefault(c.label, []).append((c, sp))
        for label in sorted(groups):
            items = groups[label]
            vals = []
            subs = []
            for _, sp in items:
                ev = _floats(sp.get("eigenvalues"))
                ev = ev if ev is not None else np.zeros(0)
                pos = ev[np.isfinite(ev) & (ev > 0)]
                vals.append((str(sp.get("weights", "?")), ev, np.log10(pos) if pos.size else pos))
                with np.errstate(all="ignore"):
                    nv = (
                        float(np.var(ev) / np.mean(ev) ** 2)
                        if ev.size and np.all(np.isfinite(ev))
                        else math.nan
                    )
                subs.append(
                    f"{sp.get('weights', '?')}: var/mean² {num(nv)} (theory "
                    f"{num(_f(sp.get('predicted_normalized_variance')))})"
                )
            allv = np.concatenate([v[2] for v in vals]) if vals else np.zeros(0)
            title = label + (f" ({r.label})" if len(page.runs) > 1 else "")
            ch = _Chart(
                title,
                "eigenvalue of J Jᵀ (log scale)",
                "count",
                xlog=True,
                width=420,
                height=270,
                subtitle="; ".join(subs),
                tooltip="; ".join(subs),
            )
            if allv.size:
                lo, hi = float(allv.min()), float(allv.max())
                if hi - lo < 1e-9:
                    lo, hi = lo - 0.5, hi + 0.5
                edges = np.linspace(lo, hi, 31)
                for i, (weights, ev, lv) in enumerate(sorted(vals, key=lambda v: v[0])):
                    counts, _ = np.histogram(lv, bins=edges)
                    dropped = ev.size - lv.size
                    name = weights + (f" ({dropped} ≤ 0 or non-finite)" if dropped else "")
                    color = {"gaussian": "#e67e22", "orthogonal": "#2471a3"}.get(
                        weights, _PALETTE[i % len(_PALETTE)]
                    )
                    ch.bars(list(edges), list(counts.astype(float)), color=color, label=name)
            panels.append(f"<figure>{ch.render()}</figure>")
    if not panels and not skipped:
        return ""
    note = (
        (
            f'<p class="muted small">Skipped {len(skipped)} spectrum record(s) without usable '
            "eigenvalues: "
            f"{', '.join(_lbl(x) for x in skipped)}.</p>"
        )
        if skipped
        else ""
    )
    return (
        '<section id="spectra"><h2>Jacobian spectra</h2><p class="muted small">Histogram of the '
        "eigenvalues of the input-output Jacobian J Jᵀ (log scale); dynamical isometry "
        "concentrates them "
        "near 1. var/mean² is the normalized spectral variance.</p>"
        f'<div class="grid">{"".join(panels)}</div>{note}</section>'
    )


def _updates(page: _Page) -> str:
    panels: list[str] = []
    for r in page.runs:
        groups: dict[str, list[tuple[Case, Mapping[str, Any]]]] = {}
        for c in r.cases:
            ur = c.extra.get("update_ratios")
            if isinstance(ur, Mapping):
                groups.setdefault(c.label, []).append((c, ur))
        for label in sorted(groups):
            items = sorted(groups[label], key=lambda t: str(t[1].get("optimizer", "?")))
            for key, ylab in (
                ("update_weight_ratio", "‖ΔW‖/‖W‖ (log scale)"),
                ("grad_norm", "‖dL/dW‖ (log scale)"),
            ):
                title = f"{label}" + (f" ({r.label})" if len(page.runs) > 1 else "")
                ch = _Chart(
                    title,
                    "layer",
                    ylab,
                    ylog=True,
                    xint=True,
                    width=400,
                    height=260,
                    subtitle="update / weight ratio per layer"
                    if key == "update_weight_ratio"
                    else "weight-gradient norm per layer",
                )
                drawn = 0
                for i, (_, ur) in enumerate(items):
                    ys = _floats(ur.get(key))
                    if ys is None or ys.size == 0:
                        continue
                    layers = ur.get("layers")
                    names = [str(v) for v in layers] if isinstance(layers, list) else []
                    if isinstance(layers, list) and all(
                        isinstance(v, int) and not isinstance(v, bool) for v in layers
                    ):
                        x = [float(v) for v in layers][: ys.size]
                    else:
                        x = [float(j + 1) for j in range(ys.size)]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        ly = np.where(
                            ys > 0,
                            np.log10(np.where(ys > 0, ys, 1.0)),
                            np.where(ys == 0, -np.inf, np.nan),
                        )
                    opt = str(ur.get("optimizer", "?"))
                    tips = [
                        f"{opt}, layer {names[j] if j < len(names) else j + 1}: {num(v)}"
                        for j, v in enumerate(ys)
                    ]
                    ch.line(
                        x[: len(ly)],
                        list(ly),
                        color=_PALETTE[i % len(_PALETTE)],
                        label=opt,
                        markers=True,
                        tips=tips,
                    )
                    drawn += 1
                if drawn:
                    panels.append(f"<figure>{ch.render()}</figure>")
    if not panels:
        return ""
    return (
        '<section id="updates"><h2>Optimizer update ratios</h2><p class="muted small">Per-layer '
        "size of "
        "the first optimizer steps relative to the weights, and the weight-gradient norms, per "
        "optimizer.</p>"
        f'<div class="grid">{"".join(panels)}</div></section>'
    )


# -- tables ---------------------------------------------------------------------------


def _verdicts(page: _Page) -> str:
    multi = len(page.runs) > 1
    rows = []
    for r in page.runs:
        for c in r.cases:
            v = c.verdict
            cells = [_td(_esc(r.label))] if multi else []
            claim = (
                f'<span title="{_esc(c.source or (v.source if v else ""))}">{_esc(c.claim)}</span>'
            )
            cells += [
                _td(claim),
                _td(f'<span class="lbl" title="{_esc(c.case)}">{_esc(c.label)}</span>'),
                _td(_esc(c.family)),
            ]
            if v is not None:
                ci = f"[{num(v.ci_low)}, {num(v.ci_high)}]"
                note = f' title="{_esc(v.note)}"' if v.note else ""
                cells += [
                    _td(num(v.predicted, 4), sort=_sort_value(v.predicted), cls="n"),
                    _td(num(v.measured, 4), sort=_sort_value(v.measured), cls="n"),
                    _td(
                        ci,
                        sort=_sort_value(v.ci_high - v.ci_low)
                        if not (math.isnan(v.ci_high) or math.isnan(v.ci_low))
                        else "NaN",
                        cls="n",
                    ),
                    _td(num(v.pvalue), sort=_sort_value(v.pvalue), cls="n"),
                    _td(num(v.alpha), sort=_sort_value(v.alpha), cls="n"),
                    _td(str(v.n), sort=str(v.n), cls="n"),
                    f'<td data-sort="{"1" if v.passed else "0"}"{note}>{_badge(c.status)}</td>',
                ]
            else:
                cells += [_td("—", "NaN", "n")] * 6 + [_td(_badge("none"), "-1")]
            rows.append(f'<tr data-status="{c.status}">' + "".join(cells) + "</tr>")
    if not rows:
        return ""
    head = ([_th("Run")] if multi else []) + [
        _th("Claim"),
        _th("Configuration"),
        _th("Family"),
        _th("Predicted", "num"),
        _th("Measured", "num"),
        _th("CI", "num"),
        _th("p (raw)", "num"),
        _th("α", "num"),
        _th("n", "num"),
        _th("Result", "num"),
    ]
    return (
        '<section id="verdicts-section"><h2>Verdicts</h2>'
        '<div class="filters"><label>Filter <input id="verdict-filter" type="search" '
        'placeholder="claim, configuration, family…" autocomplete="off"></label> '
        '<label>Result <select id="verdict-status"><option value="all">all</option>'
        '<option value="pass">pass</option><option value="fail">fail</option>'
        '<option value="none">no verdict</option></select></label> '
        f'<span id="verdict-count" class="muted">{len(rows)} of {len(rows)} rows</span></div>'
        f'<table id="verdicts" class="sortable"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="muted small">Click a header to sort. CI: the confidence interval of the '
        "measured value at "
        "1 − α; p before multiplicity correction. Hover a claim for its source.</p></section>"
    )


def _seconds(x: Any) -> str:
    v = _f(x)
    if not math.isfinite(v):
        return num(v) if not math.isnan(v) else "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(v) >= scale or unit == "ns":
            return f"{v / scale:.3g} {unit}"
    return num(v)


def _timings(page: _Page) -> str:
    multi = len(page.runs) > 1
    rows = []
    for r in page.runs:
        for t in r.timings:
            st = t.stats or {}
            cells = ([_td(_esc(r.label))] if multi else []) + [
                _td(_esc(t.name)),
                _td(_esc(t.group)),
            ]
            for key in ("min", "median", "mean", "stddev", "max"):
                cells.append(_td(_seconds(st.get(key)), sort=_sort_value(_f(st.get(key))), cls="n"))
            rounds = st.get("rounds")
            cells.append(
                _td(
                    _esc(rounds if rounds is not None else "—"),
                    sort=_sort_value(_f(rounds)),
                    cls="n",
                )
            )
            rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        return ""
    head = (
        ([_th("Run")] if multi else [])
        + [_th("Benchmark"), _th("Group")]
        + [_th(k, "num") for k in ("min", "median", "mean", "stddev", "max", "rounds")]
    )
    return (
        '<section id="timings"><h2>Timings</h2><p class="muted small">Ordinary pytest-benchmark '
        "timings (benchmarks without a gradbench record); — when benchmarks were disabled.</p>"
        f'<table id="timing-table" class="sortable"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(obj, Mapping):
        for k in sorted(obj, key=str):
            out += _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list) and len(obj) > 12:
        out.append((prefix, f"[{len(obj)} items]"))
    else:
        text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, default=str)
        out.append((prefix, text))
    return out


_MACHINE_KEYS = (
    ("file", None),
    ("gradbench", "gradbench.version"),
    ("suite version", "gradbench.suite_version"),
    ("schema version", "gradbench.schema_version"),
    ("profile", "gradbench.profile"),
    ("base seed", "gradbench.base_seed"),
    ("datetime", "datetime"),
    ("pytest-benchmark", "version"),
    ("torch", "machine.gradbench.torch"),
    ("device", "machine.gradbench.device"),
    ("CUDA", "machine.gradbench.cuda"),
    ("cuDNN", "machine.gradbench.cudnn"),
    ("TF32 matmul", "machine.gradbench.tf32_matmul"),
    ("deterministic", "machine.gradbench.deterministic"),
    ("dtypes", "dtypes"),
    ("python", "machine.python_version"),
    ("platform", "machine.platform"),
    ("CPU", "machine.cpu.brand_raw"),
    ("node", "machine.node"),
    ("commit", "commit.id"),
    ("branch", "commit.branch"),
    ("dirty", "commit.dirty"),
)


def _run_fields(r: Run) -> dict[str, str]:
    flat: dict[str, str] = {}
    for k, v in _flatten(r.gradbench_info, "gradbench"):
        flat[k] = v
    for k, v in _flatten(r.machine_info, "machine"):
        flat[k] = v
    for k, v in _flatten(r.commit_info, "commit"):
        flat[k] = v
    flat["datetime"] = r.datetime
    flat["version"] = r.version
    flat["dtypes"] = ", ".join(_dtypes(r))
    return flat


def _machine(page: _Page) -> str:
    fields_ = [_run_fields(r) for r in page.runs]
    head = "<th></th>" + "".join(f"<th>{_esc(r.label)}</th>" for r in page.runs)
    rows = []
    for name, key in _MACHINE_KEYS:
        vals = (
            [str(r.path) for r in page.runs] if key is None else [f.get(key, "") for f in fields_]
        )
        if not any(vals):
            continue
        diff = ' class="diff"' if len(set(vals)) > 1 and key is not None else ""
        rows.append(
            f"<tr{diff}><th>{_esc(name)}</th>"
            + "".join(f"<td>{_esc(v)}</td>" for v in vals)
            + "</tr>"
        )
    details = []
    for r, f in zip(page.runs, fields_):
        items = "".join(
            f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in sorted(f.items()) if v
        )
        details.append(
            f"<details><summary>Everything recorded for {_esc(r.label)}</summary>"
            f'<table class="kv">{items}</table></details>'
        )
    notes = "".join(
        f'<p class="warn">{_esc(r.label)}: {_esc(n)}</p>' for r in page.runs for n in r.notes
    )
    return (
        '<section id="machine"><h2>Machine and versions</h2>'
        f'<table class="kv machine"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"{''.join(details)}{notes}</section>"
    )


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------

_CSS = """
:root{--fg:#1c2833;--muted:#6b7785;--line:#dfe3e8;--bg:#fff;--soft:#f5f7f9}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:var(--fg);background:var(--bg)}
main{max-width:1320px;margin:0 auto;padding:14px 22px 40px}
h1{font-size:22px;margin:0 0 2px}
h2{font-size:18px;margin:26px 0 8px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:14px 0 6px}
.meta{color:var(--muted);font-size:12.5px}
.meta span{margin-right:14px}
nav{margin:6px 0 4px;font-size:13px}
nav a{margin-right:12px;color:#2460a7;text-decoration:none}
.muted{color:var(--muted)}
.small{font-size:12px}
.lead{font-size:15px;margin:8px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.card{border:1px solid var(--line);border-left:5px solid #999;border-radius:6px;padding:6px 14px;
  min-width:130px;background:var(--soft)}
.card b{display:block;font-size:24px;line-height:1.1}
.card span{font-size:12px;color:var(--muted)}
.c-pass{border-left-color:#1e8449}
.c-fail{border-left-color:#c0392b}
.c-vanish{border-left-color:#2471a3}
.c-stable{border-left-color:#1e8449}
.c-explode{border-left-color:#c0392b}
.c-nonfinite{border-left-color:#7d3c98}
.two{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}
.two .worst{flex:1 1 640px;min-width:0;overflow-x:auto}
.two .scatter{flex:0 0 390px}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--soft);position:sticky;top:0;white-space:nowrap}
table.sortable thead th{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" ▲";font-size:9px}
th[aria-sort=descending]::after{content:" ▼";font-size:9px}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
.lbl{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;overflow-wrap:anywhere}
.ci{color:var(--muted)}
.nf{color:#7d3c98;font-weight:600}
.b,.k{display:inline-block;padding:0 6px;border-radius:9px;font-size:11.5px;font-weight:600;
  white-space:nowrap}
.b-pass,.b-improvement{background:#d5f5e3;color:#145a32}
.b-fail,.b-regression{background:#fadbd8;color:#922b21}
.b-none,.b-same{background:#eaeded;color:#515a5a}
.b-only_base,.b-only_new{background:#fdebd0;color:#7e5109}
.k-explode{background:#fadbd8;color:#922b21}
.k-vanish{background:#d6eaf8;color:#1b4f72}
.k-stable{background:#d5f5e3;color:#145a32}
.k-nonfinite{background:#e8daef;color:#5b2c6f}
.k-unknown{background:#eaeded;color:#515a5a}
.v{font-size:11.5px;margin-right:4px;display:inline-block;overflow-wrap:anywhere}
.v.c{white-space:nowrap}
td.verd{max-width:260px}
#worst td:first-child{min-width:170px}
.v-pass{color:#1e8449}
.v-fail{color:#c0392b;font-weight:600}
.warn{background:#fef5e7;border:1px solid #f5cba7;border-radius:6px;padding:6px 10px;margin:6px 0}
.bad{background:#fdedec;border:1px solid #f1948a;border-radius:6px;padding:6px 10px;margin:6px 0}
.good{background:#eafaf1;border:1px solid #a9dfbf;border-radius:6px;padding:6px 10px;margin:6px 0}
.bad ul{margin:4px 0 0 0;padding-left:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(390px,1fr));gap:10px}
.grid.wide{grid-template-columns:repeat(auto-fill,minmax(560px,1fr))}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:4px;background:#fff}
svg.chart{display:block;max-width:100%;height:auto}
svg text{font-size:10px;fill:#333}
svg text.t{font-size:12px;font-weight:600;fill:#1c2833}
svg text.st{font-size:10.5px;fill:#6b7785}
svg text.yt{text-anchor:end}
svg text.xt,svg text.xl{text-anchor:middle}
svg text.yl{text-anchor:middle}
svg .pa{fill:#fcfcfd;stroke:#c8ced6}
svg .g{stroke:#eceff3;stroke-width:1}
svg .lg rect{fill:#fff;fill-opacity:.85;stroke:#dfe3e8}
.filters{margin:6px 0;font-size:13px}
.filters input{width:260px;padding:3px 6px}
.filters select{padding:2px}
tr.diff td{background:#fef9e7}
table.kv th{background:none;font-weight:600;white-space:nowrap}
table.kv td{word-break:break-word}
details{margin:8px 0}
summary{cursor:pointer;color:#2460a7}
tr.s-regression td{background:#fdedec}
"""

_JS = r"""
(function () {
  "use strict";
  function key(td, num) {
    var raw = td.hasAttribute("data-sort") ? td.getAttribute("data-sort") : td.textContent;
    if (!num) { return raw.toLowerCase(); }
    var v = raw === "Infinity" ? Infinity : raw === "-Infinity" ? -Infinity : parseFloat(raw);
    return isNaN(v) ? null : v;
  }
  function sortBy(table, th, col) {
    var num = th.getAttribute("data-type") === "num";
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) { ths[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) { return [r, i]; });
    rows.sort(function (a, b) {
      var x = key(a[0].cells[col], num), y = key(b[0].cells[col], num);
      if (x === null && y === null) { return a[1] - b[1]; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var c = x < y ? -1 : x > y ? 1 : 0;
      return (asc ? c : -c) || a[1] - b[1];
    });
    rows.forEach(function (r) { body.appendChild(r[0]); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
  var table = document.getElementById("verdicts");
  var box = document.getElementById("verdict-filter");
  var sel = document.getElementById("verdict-status");
  var count = document.getElementById("verdict-count");
  if (!table || !box || !sel || !count) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  function apply() {
    var q = box.value.trim().toLowerCase(), s = sel.value, shown = 0;
    rows.forEach(function (r) {
      var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) &&
               (s === "all" || r.getAttribute("data-status") === s);
      r.hidden = !ok;
      if (ok) { shown++; }
    });
    count.textContent = shown + " of " + rows.length + " rows";
  }
  box.addEventListener("input", apply);
  sel.addEventListener("change", apply);
  try {
    var params = new URLSearchParams(window.location.search);
    if (params.has("q")) { box.value = params.get("q"); }
    if (params.has("status")) { sel.value = params.get("status"); }
  } catch (e) { /* no query string support: nothing to restore */ }
  apply();
})();
"""


def _script_json(obj: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', so no '</script>' or '<!--'."""
    text = json.dumps(
        records.to_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page_data(page: _Page) -> dict[str, Any]:
    runs = []
    for r in page.runs:
        runs.append(
            {
                "label": r.label,
                "file": r.path.name,
                "gradbench": r.gradbench_info,
                "counts": page.counts(r),
                "configurations": [
                    {
                        "label": c.label,
                        "family": c.family,
                        "class": c.growth.klass,
                        "factor": c.growth.factor,
                        "factor_ci": [c.growth.factor_low, c.growth.factor_high],
                        "predicted": c.predicted,
                        "sites": c.growth.sites,
                        "seeds": c.growth.seeds,
                    }
                    for c in page.configs[r.label]
                ],
                "verdicts": [
                    {
                        "case": c.case,
                        "claim": c.claim,
                        "label": c.label,
                        "status": c.status,
                        "measured": c.verdict.measured if c.verdict else None,
                        "predicted": c.verdict.predicted if c.verdict else None,
                        "pvalue": c.verdict.pvalue if c.verdict else None,
                    }
                    for c in r.cases
                ],
            }
        )
    comps = [
        {
            "base": c.base_label,
            "new": c.new_label,
            "warnings": c.warnings,
            "regressions": [[d.claim, d.label] for d in c.regressions],
            "improvements": [[d.claim, d.label] for d in c.improvements],
            "only_base": [[x.claim, x.label] for x in c.only_base],
            "only_new": [[x.claim, x.label] for x in c.only_new],
        }
        for c in page.comparisons
    ]
    return {"schema_version": 1, "runs": runs, "comparisons": comps}


def _header(page: _Page) -> str:
    chips = []
    for r in page.runs:
        gi, env = r.gradbench_info, _env(r)
        bits = [f"<b>{_esc(r.label)}</b>"]
        for name, val in (
            ("profile", gi.get("profile")),
            ("suite", gi.get("suite_version")),
            ("gradbench", gi.get("version")),
            ("torch", env.get("torch")),
            ("device", env.get("device")),
            ("", r.datetime),
        ):
            if val not in (None, ""):
                bits.append(f"{_esc(name)} {_esc(val)}".strip())
        chips.append(f"<span>{' · '.join(bits)}</span>")
    sections = [
        ("regressions", "Regressions"),
        ("summary", "Summary"),
        ("gradients", "Gradients"),
        ("phase", "Phase diagrams"),
        ("rnn", "RNN"),
        ("spectra", "Spectra"),
        ("updates", "Updates"),
        ("comparison", "Comparison"),
        ("verdicts-section", "Verdicts"),
        ("timings", "Timings"),
        ("machine", "Machine"),
    ]
    return (
        f'<header><h1>{_esc(page.title)}</h1><div class="meta">{"".join(chips)}</div>'
        + "<nav>"
        + "".join(f'<a href="#{sid}">{name}</a>' for sid, name in sections if sid)
        + "</nav></header>"
    )


def _build(runs: Sequence[Run], comparisons: Sequence[Comparison] | None, title: str | None) -> str:
    runs = _unique_labels(list(runs))
    if not runs:
        raise InvalidArgument("render_report needs at least one run")
    if comparisons is None:
        comparisons = [compare_runs(runs[0], r) for r in runs[1:]]
    if title is None:
        title = "gradbench report" + (
            f": {runs[0].label}"
            if len(runs) == 1
            else f": {runs[0].label} vs {', '.join(r.label for r in runs[1:])}"
        )
    page = _Page(
        runs=runs,
        configs={r.label: _configs(r) for r in runs},
        comparisons=list(comparisons),
        title=title,
    )
    body = [
        _header(page),
        _comparison_banner(page),
        _summary(page),
        _gradients(page),
        _phase(page),
        _rnn(page),
        _spectra(page),
        _updates(page),
        _comparison_section(page),
        _verdicts(page),
        _timings(page),
        _machine(page),
    ]
    present = {
        sid
        for sid in (
            "regressions",
            "summary",
            "gradients",
            "phase",
            "rnn",
            "spectra",
            "updates",
            "comparison",
            "verdicts-section",
            "timings",
            "machine",
        )
        if f'<section id="{sid}"' in "".join(body[1:])
    }
    body[0] = _header_links(body[0], present)
    main = _number_clips("\n".join(b for b in body if b))
    js_hash = base64.b64encode(hashlib.sha256(_JS.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{js_hash}'; "
        "img-src data:; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="gradbench report">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
        + main
        + '\n</main><script type="application/json" '
        f'id="gradbench-data">{_script_json(_page_data(page))}</script>'
        + f"<script>{_JS}</script></body></html>\n"
    )


def _number_clips(text: str) -> str:
    """Give every chart's clip path its own id, in document order (deterministic)."""
    import re

    n = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal n
        if m.group(0).startswith("id"):
            n += 1
            return f'id="clip{n}"'
        return f"url(#clip{n})"

    return re.sub(r'id="__CLIP__"|url\(#__CLIP__\)', sub, text)


def _header_links(header: str, present: set[str]) -> str:
    import re

    def keep(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1) in present else ""

    return re.sub(r'<a href="#([^"]+)">[^<]*</a>', keep, header)


def render_report(runs: Sequence[Run], title: str | None = None) -> str:
    """Render runs as one self-contained HTML page.

    With two or more runs the page is in comparison mode: every run after the first
    is compared with the first, regressions are flagged at the top, and plots overlay
    the runs.

    Args:
        runs: from :func:`load_run`; labels are made unique (``name#2``) if needed.
        title: page title; default ``"gradbench report: <labels>"``.

    Returns:
        The HTML text; identical input gives identical output.

    Raises:
        InvalidArgument: no runs.
    """
    return _build(runs, None, title)


def render_comparison(
    base: Run, new: Run, comparison: Comparison | None = None, title: str | None = None
) -> str:
    """Render the two runs side by side with ``comparison`` (computed when ``None``) at the top."""
    comp = comparison if comparison is not None else compare_runs(base, new)
    return _build([base, new], [comp], title)


def write_report(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Read JSON files and write the HTML report atomically.

    Args:
        paths: JSON files (a directory stands for every ``*.json`` below it, sorted).
        out_path: the HTML file to write (its folder is created).
        title: page title.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        InvalidArgument: a bad input file (see :func:`load_run`) or an unwritable output.
    """
    runs = [load_run(p) for p in _expand(paths)]
    return records.write_atomic(out_path, render_report(runs, title=title))
