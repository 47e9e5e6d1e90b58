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

from gradbench import records
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
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
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

    @property
    def claim(self) -> str:  # noqa: D102
        return self.key[0]

    @property
    def label(self) -> str:  # noqa: D102
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
        return f"{where} has schema_version {version!r}, which is not an integer (supported: {supported})"
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
    except (InvalidArgument, KeyError, TypeError, ValueError) as exc:
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
    data = records.read_json(p)
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
            raise InvalidArgument(f"file {name!r} has no gradbench schema_version (supported: {supported})")
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
            timings.append(Timing(
                name=str(bench.get("name") or bname),
                fullname=bname,
                group=str(bench.get("group") or ""),
                params=bench.get("params"),
                stats=dict(stats) if isinstance(stats, Mapping) else None,
            ))
            continue
        where = f"file {name!r} benchmark {bname!r}"
        if not isinstance(record, Mapping):
            raise InvalidArgument(f"{where} has a gradbench record that is not an object")
        cases.append(_decode_case(record, run_schema, bname, where))
    seen: set[str] = set()
    for c in cases:
        if c.case in seen:
            raise InvalidArgument(f"file {name!r} has two gradbench records with case id {c.case!r}")
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
    )


def _expand(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.json") if q.is_file())
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
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
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
        factor=factor, factor_low=f_lo, factor_high=f_hi, seeds_used=len(slopes),
        seeds=seeds, sites=sites, n_inf=n_inf, n_nan=n_nan, n_zero=n_zero, klass=klass,
        mean_log10=mean_l, low_log10=low_l, high_log10=high_l,
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
    if 1e-3 <= abs(v) < 1e5:
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
        out[(*base, k)] = c
    return out


def _major_minor(v: Any) -> str:
    parts = str(v).split(".")
    return ".".join(parts[:2])


def _dtypes(run: Run) -> list[str]:
    return sorted({c.measurement.dtype for c in run.cases if c.measurement is not None})


def _devices(run: Run) -> list[str]:
    return sorted({c.measurement.device for c in run.cases if c.measurement is not None})


def _env(run: Run) -> dict[str, Any]:
    gb = run.machine_info.get("gradbench")
    return dict(gb) if isinstance(gb, Mapping) else {}


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
        out.append(f"schema versions differ ({base.label}: {', '.join(bv) or '?'}, {new.label}: {', '.join(nv) or '?'})")
    be, ne = _env(base), _env(new)
    for key, what in (("device", "devices"), ("torch", "torch versions"), ("cuda", "CUDA versions"),
                      ("tf32_matmul", "TF32 settings"), ("deterministic", "determinism settings")):
        if be.get(key) != ne.get(key):
            out.append(f"{what} differ ({base.label}: {be.get(key)}, {new.label}: {ne.get(key)})")
    bd, nd = _devices(base), _devices(new)
    if bd and nd and bd != nd and be.get("device") == ne.get("device"):
        out.append(f"measurement devices differ ({base.label}: {', '.join(bd)}, {new.label}: {', '.join(nd)})")
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
        deltas.append(CaseDelta(
            key=key, base=b, new=n, status=status,
            delta_measured=_nan_safe(dm), delta_ci_low=_nan_safe(dlo), delta_ci_high=_nan_safe(dhi),
            delta_ci_width=_nan_safe(dw),
            base_factor=measured_growth(b.measurement).factor if b.measurement is not None else math.nan,
            new_factor=measured_growth(n.measurement).factor if n.measurement is not None else math.nan,
        ))
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
                p = k + math.log10(m)
                if lo - 1e-9 <= p <= hi + 1e-9:
                    ticks.append((p, num(m * 10.0**k, 3)))
        if len(ticks) >= 3:
            return ticks
    return [(p, num(10.0**p, 3)) for p in _linear_ticks(lo, hi, 4)]


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
    stroke: str = ""
    label: str | None = None
    dash: bool = False
    width: float = 1.6
    radius: float = 3.5
    opacity: float = 1.0
    tips: list[str] = field(default_factory=list)
    markers: bool = False
    colors: list[str] = field(default_factory=list)  # per point (points only)


class _Chart:
    """A small SVG chart: lines (with CI bands), points (with error bars), histograms.

    ``xlog``/``ylog`` mean the values given are already log10 of the data and the
    ticks are labelled as powers of ten. Non-finite values never raise: NaN breaks a
    line, +-inf is clamped to the edge of the plot.
    """

    def __init__(
        self, title: str, xlabel: str, ylabel: str, *, width: int = 380, height: int = 250,
        xlog: bool = False, ylog: bool = False, xlim: tuple[float, float] | None = None,
        ylim: tuple[float, float] | None = None, subtitle: str = "", xint: bool = False,
        tooltip: str = "",
    ) -> None:
        self.title, self.xlabel, self.ylabel, self.subtitle = title, xlabel, ylabel, subtitle
        self.w, self.h, self.xlog, self.ylog, self.xint = width, height, xlog, ylog, xint
        self.xlim, self.ylim, self.tooltip = xlim, ylim, tooltip
        self.series: list[_Series] = []
        self.legend_only: list[tuple[str, str, str]] = []

    # -- building ---------------------------------------------------------------------
    def line(self, x: Sequence[float], y: Sequence[float], *, color: str, label: str | None = None,
             dash: bool = False, width: float = 1.6, markers: bool = False,
             tips: Sequence[str] = ()) -> None:
        self.series.append(_Series("line", list(map(float, x)), list(map(float, y)), color=color,
                                   label=label, dash=dash, width=width, markers=markers, tips=list(tips)))

    def band(self, x: Sequence[float], lo: Sequence[float], hi: Sequence[float], *, color: str,
             opacity: float = 0.18) -> None:
        self.series.append(_Series("band", list(map(float, x)), [], y2=list(map(float, hi)),
                                   y0=list(map(float, lo)), color=color, opacity=opacity))

    def points(self, x: Sequence[float], y: Sequence[float], *, color: str | Sequence[str],
               stroke: str = "", label: str | None = None, radius: float = 3.5,
               tips: Sequence[str] = (), err_lo: Sequence[float] = (), err_hi: Sequence[float] = ()) -> None:
        colors = [color] * len(x) if isinstance(color, str) else list(color)
        s = _Series("points", list(map(float, x)), list(map(float, y)), y0=list(map(float, err_lo)),
                    y2=list(map(float, err_hi)), color=colors[0] if colors else "#000", stroke=stroke,
                    label=label, radius=radius, tips=list(tips), colors=colors)
        self.series.append(s)

    def bars(self, edges: Sequence[float], counts: Sequence[float], *, color: str,
             label: str | None = None, opacity: float = 0.55) -> None:
        self.series.append(_Series("bars", list(map(float, edges)), list(map(float, counts)),
                                   color=color, label=label, opacity=opacity))

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
        ml, mr, mb = 58, 12, 38
        mt = 30 + (14 if self.subtitle else 0)
        pw, ph = self.w - ml - mr, self.h - mt - mb
        x0, x1 = self._range("x")
        y0, y1 = self._range("y")

        def sx(v: float) -> float | None:
            if math.isnan(v):
                return None
            v = min(max(v, x0), x1)
            return ml + (v - x0) / (x1 - x0) * pw

        def sy(v: float) -> float | None:
            if math.isnan(v):
                return None
            v = min(max(v, y0), y1)
            return mt + ph - (v - y0) / (y1 - y0) * ph

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
        out.append(f'<text class="xl" x="{_c(ml + pw / 2)}" y="{self.h - 6}">{_esc(self.xlabel)}</text>')
        cy = _c(mt + ph / 2)
        out.append(f'<text class="yl" x="12" y="{cy}" transform="rotate(-90 12 {cy})">{_esc(self.ylabel)}</text>')
        occupied: list[tuple[float, float]] = []
        for s in self.series:
            out.extend(self._draw(s, sx, sy, occupied, y0))
        out.extend(self._legend(ml, mt, pw, ph, occupied))
        out.append("</svg>")
        return "".join(out)

    def _draw(self, s: _Series, sx: Any, sy: Any, occupied: list[tuple[float, float]], ybase: float) -> list[str]:
        out: list[str] = []
        if s.kind == "bars":
            base = sy(max(0.0, ybase))
            for i, cnt in enumerate(s.y):
                if i + 1 >= len(s.x) or not cnt > 0:
                    continue
                xa, xb, top = sx(s.x[i]), sx(s.x[i + 1]), sy(cnt)
                if None in (xa, xb, top, base):
                    continue
                out.append(
                    f'<rect x="{_c(xa)}" y="{_c(top)}" width="{_c(max(xb - xa, 0.5))}" '
                    f'height="{_c(max(base - top, 0))}" fill="{s.color}" fill-opacity="{s.opacity}"/>'
                )
                occupied.append(((xa + xb) / 2, top))
            return out
        if s.kind == "band":
            segs: list[list[tuple[float, float, float]]] = [[]]
            for x, lo, hi in zip(s.x, s.y0, s.y2):
                px, plo, phi = sx(x), sy(lo), sy(hi)
                if None in (px, plo, phi):
                    if segs[-1]:
                        segs.append([])
                    continue
                segs[-1].append((px, plo, phi))
            for seg in segs:
                if len(seg) < 2:
                    continue
                pts = [f"{_c(px)},{_c(phi)}" for px, _, phi in seg]
                pts += [f"{_c(px)},{_c(plo)}" for px, plo, _ in reversed(seg)]
                out.append(f'<polygon points="{" ".join(pts)}" fill="{s.color}" fill-opacity="{s.opacity}"/>')
            return out
        if s.kind == "line":
            d: list[str] = []
            pen = False
            pts: list[tuple[float, float, int]] = []
            for i, (x, y) in enumerate(zip(s.x, s.y)):
                px, py = sx(x), sy(y)
                if px is None or py is None:
                    pen = False
                    continue
                d.append(f"{'L' if pen else 'M'}{_c(px)} {_c(py)}")
                pen = True
                pts.append((px, py, i))
                occupied.append((px, py))
            if d:
                dash = ' stroke-dasharray="5 3"' if s.dash else ""
                out.append(f'<path d="{"".join(d)}" fill="none" stroke="{s.color}" '
                           f'stroke-width="{s.width}"{dash}/>')
            if s.markers:
                for px, py, i in pts:
                    tip = f"<title>{_esc(s.tips[i])}</title>" if i < len(s.tips) else ""
                    out.append(f'<circle cx="{_c(px)}" cy="{_c(py)}" r="2.6" fill="{s.color}">{tip}</circle>')
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
                    out.append(f'<line x1="{_c(px)}" x2="{_c(px)}" y1="{_c(plo)}" y2="{_c(phi)}" '
                               f'stroke="{colors[i]}" stroke-width="1.2" stroke-opacity="0.7"/>')
            stroke = f' stroke="{s.stroke}" stroke-width="1.8"' if s.stroke else ' stroke="#fff" stroke-width="0.8"'
            tip = f"<title>{_esc(s.tips[i])}</title>" if i < len(s.tips) else ""
            out.append(f'<circle cx="{_c(px)}" cy="{_c(py)}" r="{s.radius}" fill="{colors[i]}"{stroke}>{tip}</circle>')
            occupied.append((px, py))
        return out

    def _legend(self, ml: int, mt: int, pw: int, ph: int, occupied: list[tuple[float, float]]) -> list[str]:
        entries: list[tuple[str, str, str, bool]] = []
        for s in self.series:
            if s.label:
                entries.append((s.label, s.color, s.kind, s.dash))
        entries += [(lab, col, kind, kind == "dash") for lab, col, kind in self.legend_only]
        if not entries:
            return []
        more = len(entries) - 8
        if more > 0:
            entries = entries[:8] + [(f"+{more} more", "#999", "none", False)]
        labels = [e[0] if len(e[0]) <= 34 else e[0][:33] + "…" for e in entries]
        bw = min(pw - 8, 26 + 5.8 * max(len(lab) for lab in labels))
        bh = 6 + 13 * len(entries)
        corners = [(ml + pw - bw - 4, mt + 4), (ml + 4, mt + 4), (ml + pw - bw - 4, mt + ph - bh - 4),
                   (ml + 4, mt + ph - bh - 4)]

        def crowd(c: tuple[float, float]) -> int:
            return sum(1 for px, py in occupied if c[0] <= px <= c[0] + bw and c[1] <= py <= c[1] + bh)

        bx, by = min(corners, key=crowd)
        out = [f'<g class="lg"><rect x="{_c(bx)}" y="{_c(by)}" width="{_c(bw)}" height="{bh}" rx="3"/>']
        for i, ((_, color, kind, dash), lab) in enumerate(zip(entries, labels)):
            yy = by + 11 + 13 * i
            if kind in ("line", "dash"):
                da = ' stroke-dasharray="5 3"' if dash else ""
                out.append(f'<line x1="{_c(bx + 5)}" x2="{_c(bx + 19)}" y1="{_c(yy - 3.5)}" y2="{_c(yy - 3.5)}" '
                           f'stroke="{color}" stroke-width="2"{da}/>')
            elif kind == "bars" or kind == "band":
                out.append(f'<rect x="{_c(bx + 6)}" y="{_c(yy - 8)}" width="12" height="9" fill="{color}" fill-opacity="0.6"/>')
            elif kind == "ring":
                out.append(f'<circle cx="{_c(bx + 12)}" cy="{_c(yy - 3.5)}" r="3.6" fill="#fff" stroke="{color}" stroke-width="1.8"/>')
            elif kind != "none":
                out.append(f'<circle cx="{_c(bx + 12)}" cy="{_c(yy - 3.5)}" r="3.6" fill="{color}"/>')
            out.append(f'<text x="{_c(bx + 23)}" y="{_c(yy)}">{_esc(lab)}</text>')
        out.append("</g>")
        return out
