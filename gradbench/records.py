"""Plain data that crosses layers: Measurement, Prediction, Verdict, and strict JSON.

Nothing here imports torch. Arrays are NumPy; ``to_dict`` gives strict JSON (no bare
NaN/Infinity): a non-finite float ``x`` is written as ``{"nonfinite": "nan"|"inf"|"-inf"}``
and arrays as ``{"shape": [...], "data": [...]}`` with those objects in place.
Files are written atomically (temporary file in the same folder, then rename), so a
crash or Ctrl-C never leaves a half-written file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradbench.errors import InvalidArgument

SCHEMA_VERSION = 1
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode_float(x: float) -> float | dict[str, str]:
    """A float, or ``{"nonfinite": ...}`` for NaN and infinities."""
    x = float(x)
    if math.isfinite(x):
        return x
    return {"nonfinite": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def decode_float(x: Any) -> float:
    """Inverse of :func:`encode_float`."""
    if isinstance(x, Mapping) and "nonfinite" in x:
        return _NONFINITE[str(x["nonfinite"])]
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InvalidArgument(f"expected a number or {{'nonfinite': ...}}, got {x!r}")
    return float(x)


def _decoded(obj: Any) -> Any:
    """A JSON value with every ``{"nonfinite": ...}`` turned back into a float."""
    if isinstance(obj, Mapping):
        if set(obj) == {"nonfinite"}:
            return decode_float(obj)
        return {k: _decoded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decoded(v) for v in obj]
    return obj


def to_jsonable(obj: Any) -> Any:
    """Convert numpy arrays and scalars, objects with ``to_dict`` and floats to strict JSON."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, np.ndarray):
        if obj.dtype == bool:
            return {"shape": list(obj.shape), "data": obj.ravel().tolist()}
        return {"shape": list(obj.shape), "data": [encode_float(v) for v in obj.ravel().tolist()]}
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return encode_float(float(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, str):
        return obj
    raise InvalidArgument(f"cannot store a {type(obj).__name__} in gradbench JSON")


def decode_array(obj: Any) -> np.ndarray:
    """Inverse of the array encoding of :func:`to_jsonable`."""
    if not isinstance(obj, Mapping) or "shape" not in obj or "data" not in obj:
        raise InvalidArgument("expected an encoded array {'shape': [...], 'data': [...]}")
    data = obj["data"]
    if data and all(isinstance(v, bool) for v in data):
        return np.array(data, dtype=bool).reshape(obj["shape"])
    return np.array([decode_float(v) for v in data], dtype=np.float64).reshape(obj["shape"])


def dumps(obj: Any) -> str:
    """Strict, deterministic JSON text (sorted keys; NaN impossible by construction)."""
    return json.dumps(to_jsonable(obj), allow_nan=False, sort_keys=True, indent=1)


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``.

    Raises:
        InvalidArgument: the folder cannot be created or written, or the write fails
            (a full disk, say); the file that was there is left as it was.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InvalidArgument(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidArgument(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as strict JSON, atomically."""
    return write_atomic(path, dumps(obj) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; any problem becomes one :class:`InvalidArgument` sentence.

    Bare ``NaN``/``Infinity`` tokens are rejected (gradbench never writes them).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidArgument(f"file {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read {str(p)!r}: {exc}") from None
    if not text.strip():
        raise InvalidArgument(f"file {str(p)!r} is empty, expected JSON")

    def reject(token: str) -> Any:
        raise ValueError(f"bare {token} is not strict JSON")

    try:
        return json.loads(text, parse_constant=reject)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InvalidArgument(f"file {str(p)!r} is not valid JSON ({exc})") from None


class ConfidenceInterval(NamedTuple):
    """A two-sided confidence interval (scipy.stats style)."""

    low: float
    high: float


@dataclass(frozen=True)
class Measurement:
    """Per-layer (or per-time-step) gradient and activation statistics for one spec, many seeds.

    Sites: MLP, the pre-activations h^1..h^L; residual, the stream entering each block
    x_0..x_{L-1}; RNN, the hidden states h_1..h_T. The loss is ``<R, y>`` for the top
    output ``y`` (``x^L``, ``x_L`` or ``h_T``) and a fixed random readout ``R`` with
    i.i.d. isotropic rows and unit Frobenius norm, so ``||dL/dy||_F = 1``.

    Attributes:
        spec: the spec as a dict (``spec.to_dict()``).
        seeds, batch, seed: how many networks, the batch size, and the base seed.
        device, dtype: where and in what precision it ran.
        act_grad_norms: ``[seeds, sites]`` Frobenius norm over the batch of dL/d(site).
        weight_grad_norms: ``[seeds, sites]`` ||dL/dW||_F of the layer at each site
            (RNN: the contribution of step t to the recurrent weight's gradient;
            residual: both branch weights of the block).
        preact_second_moment: ``[seeds, sites]`` mean of site**2 over batch and features.
        nonfinite: ``[seeds, sites]`` True where any of the above is NaN or infinite.
    """

    spec: dict[str, Any]
    seeds: int
    batch: int
    seed: int
    device: str
    dtype: str
    act_grad_norms: np.ndarray
    weight_grad_norms: np.ndarray
    preact_second_moment: np.ndarray
    nonfinite: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON-ready dict; :meth:`from_dict` inverts it exactly."""
        return {
            "kind": "measurement",
            **{f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Rebuild from :meth:`to_dict` output."""
        arrays = {"act_grad_norms", "weight_grad_norms", "preact_second_moment", "nonfinite"}
        try:
            kwargs: dict[str, Any] = {
                f.name: decode_array(data[f.name]) if f.name in arrays else data[f.name]
                for f in fields(cls)
            }
        except KeyError as exc:
            raise InvalidArgument(f"measurement record lacks field {exc.args[0]!r}") from None
        return cls(**kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Prediction:
    """What theory predicts for a spec, with the assumptions and domain it rests on.

    Attributes:
        spec: the spec as a dict.
        log_growth: predicted ``log(||dL/d site_l|| / ||dL/d site_{l+1}||)`` for each
            consecutive pair of sites (length ``sites - 1``), i.e. the per-layer (per-step)
            log growth of the gradient norm going towards the input; ``None`` when
            there is no prediction.
        valid: whether the spec lies inside the validity domain of the theory used.
        reason: why there is no prediction (empty when ``valid``).
        assumptions: the assumptions the numbers rest on.
        domain: the validity domain in words, e.g. ``"width >= 4 * depth"``.
        source: the paper (and docs/theory.md section) the formula comes from.
        quantities: further named predictions (``chi1``, ``q_star``, ``phase``, ...).
    """

    spec: dict[str, Any]
    log_growth: np.ndarray | None
    valid: bool
    reason: str = ""
    assumptions: tuple[str, ...] = ()
    domain: str = ""
    source: str = ""
    quantities: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "prediction",
            **{f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prediction:
        lg = data.get("log_growth")
        return cls(
            spec=dict(data["spec"]),
            log_growth=None if lg is None else decode_array(lg),
            valid=bool(data["valid"]),
            reason=str(data.get("reason", "")),
            assumptions=tuple(data.get("assumptions", ())),
            domain=str(data.get("domain", "")),
            source=str(data.get("source", "")),
            quantities=dict(data.get("quantities", {})),
        )


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one claim on one spec (scipy.stats result style).

    Attributes:
        claim: the claim's registered name, e.g. ``"mean_field_slope"``.
        spec: the spec as a dict.
        predicted: the predicted value of the tested quantity.
        measured: the point estimate of the same quantity.
        statistic: the test statistic.
        pvalue: its p-value (before multiplicity correction).
        ci_low, ci_high: confidence interval of ``measured`` at ``1 - alpha``.
        alpha: the pre-registered significance level.
        passed: whether the claim holds at ``alpha``.
        effect_size: standardised deviation from the prediction.
        n: number of independent units (seeds) behind the estimate.
        method: the statistical procedure, e.g. ``"t-test on per-seed slopes"``.
        source: citation of the claim.
        note: anything a reader must know (domain, skipped layers, failures).
        growth: for a verdict on gradient growth (the stability claims), the growth at the
            depth judged: per-step and end-to-end factors with their intervals and the
            plain words (``gradbench.stats.GradientGrowth.to_dict()``); ``None`` otherwise.
        settings: for a stability claim about a remedy, every setting it tried: ``{"setting":
            {...}, "depth", "width", "stable": bool or None (not measured), "class",
            "words", "reason"}`` (the report's recommendation reads it); empty otherwise.
    """

    claim: str
    spec: dict[str, Any]
    predicted: float
    measured: float
    statistic: float
    pvalue: float
    ci_low: float
    ci_high: float
    alpha: float
    passed: bool
    effect_size: float = math.nan
    n: int = 0
    method: str = ""
    source: str = ""
    note: str = ""
    growth: Mapping[str, Any] | None = None
    settings: tuple[Mapping[str, Any], ...] = ()

    def confidence_interval(self) -> ConfidenceInterval:
        """The ``1 - alpha`` confidence interval of :attr:`measured`."""
        return ConfidenceInterval(self.ci_low, self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "verdict",
            **{f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        floats = {
            "predicted",
            "measured",
            "statistic",
            "pvalue",
            "ci_low",
            "ci_high",
            "alpha",
            "effect_size",
        }
        growth = data.get("growth")
        try:
            return cls(
                **{  # type: ignore[arg-type]
                    f.name: decode_float(data[f.name]) if f.name in floats else data[f.name]
                    for f in fields(cls)
                    if f.name not in ("growth", "settings")
                    and (f.name in data or f.name in floats | {"claim", "spec", "passed"})
                },
                growth=None if growth is None else _decoded(growth),
                settings=_settings(data.get("settings")),
            )
        except KeyError as exc:
            raise InvalidArgument(f"verdict record lacks field {exc.args[0]!r}") from None


def _settings(raw: Any) -> tuple[dict[str, Any], ...]:
    """A verdict's ``settings`` as read (anything but a list of objects: none)."""
    if not isinstance(raw, list):
        return ()
    return tuple(_decoded(s) for s in raw if isinstance(s, Mapping))


# --------------------------------------------------------------------------------------
# Run records: what one results file says about its run, its machine and its cases
# --------------------------------------------------------------------------------------

#: Keys of a case's environment (``CaseRecord.env``): where and with what numerics it ran.
#: Written by :func:`gradbench.machine.environment`, merged into ``MachineInfo.gradbench``.
ENV_KEYS = (
    "device",  # the torch device the case measured on ("cpu", "cuda:0"), None if unknown
    "gpu",  # the GPU model behind a CUDA device
    "torch",  # torch version
    "cuda",  # CUDA version torch was built with (None for a CPU build)
    "cudnn",  # cuDNN version (None when cuDNN is unavailable)
    "tf32_matmul",  # torch.backends.cuda.matmul.allow_tf32
    "tf32_cudnn",  # torch.backends.cudnn.allow_tf32
    "float32_matmul_precision",  # torch.get_float32_matmul_precision()
    "deterministic",  # torch.are_deterministic_algorithms_enabled()
    "cudnn_deterministic",  # torch.backends.cudnn.deterministic
    "cudnn_benchmark",  # torch.backends.cudnn.benchmark
    "num_threads",  # torch.get_num_threads() in the process that measured
    "cublas_workspace_config",  # CUBLAS_WORKSPACE_CONFIG (deterministic cuBLAS)
)

RUN_STATUSES = ("complete", "interrupted", "incomplete")


@dataclass(frozen=True)
class CaseRecord:
    """One claim checked on one spec: the unit a results file is made of.

    Written by the plugin's ``gradbench_record`` fixture and by ``gradbench validate``;
    stored at ``benchmarks[i].extra_info["gradbench"]`` (pytest-benchmark's layout).

    Attributes:
        case: unique id, ``<node id>#<index>``.
        claim: the claim's name, e.g. ``"mean_field_slope"``.
        spec: the spec as a dict.
        label: a short human-readable name of the spec.
        source: citation of the claim.
        measurement, prediction, verdict: ``to_dict()`` of the records, or ``None``.
        extra: anything else the suite wants in the report (strict-JSON values).
        env: where it ran (:data:`ENV_KEYS`): device, torch/CUDA/cuDNN versions, TF32
            and determinism flags, taken in the process that measured it.
        remedy: the remedy the case covers, ``{"kind", "name", "origin"}`` with origin
            ``built-in``, ``third-party`` or ``candidate``; ``None`` for network cases.
    """

    case: str
    claim: str
    spec: dict[str, Any]
    label: str
    source: str = ""
    measurement: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    verdict: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    remedy: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def build(
        cls,
        *,
        case: str,
        claim: str,
        spec: Any,
        label: str,
        measurement: Any = None,
        prediction: Any = None,
        verdict: Any = None,
        source: str = "",
        extra: Mapping[str, Any] | None = None,
        env: Mapping[str, Any] | None = None,
        remedy: Mapping[str, Any] | None = None,
    ) -> CaseRecord:
        """A record from live objects (specs, Measurement, ...), converted to strict JSON."""
        return cls(
            case=case,
            claim=claim,
            spec=to_jsonable(spec.to_dict() if hasattr(spec, "to_dict") else spec),
            label=label,
            source=source,
            measurement=to_jsonable(measurement),
            prediction=to_jsonable(prediction),
            verdict=to_jsonable(verdict),
            extra=to_jsonable(dict(extra or {})),
            env=to_jsonable(dict(env or {})),
            remedy=dict(remedy) if remedy is not None else None,
        )

    @property
    def failed(self) -> bool:
        """Whether the case carries a verdict that did not pass."""
        return bool(self.verdict) and not self.verdict.get("passed", True)  # type: ignore[union-attr]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        """Rebuild from :meth:`to_dict` output (a journal line or a results file).

        Raises:
            InvalidArgument: not an object, or ``case``/``claim``/``spec`` is missing.
        """
        if not isinstance(data, Mapping):
            raise InvalidArgument(f"a case record must be an object, got {type(data).__name__}")
        for key in ("case", "claim", "spec"):
            if key not in data:
                raise InvalidArgument(f"case record lacks field {key!r}")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs.setdefault("label", str(data["case"]))
        return cls(**kwargs)


@dataclass(frozen=True)
class RunInfo:
    """The run-level block of a results file (``document["gradbench"]``).

    Attributes:
        profile: the gradbench work profile (``quick``, ``full``).
        base_seed: base seed every network seed derives from.
        devices: the devices the run was asked to measure on.
        version, suite_version: gradbench's version and its suite version (results
            are comparable within the same major.minor suite version).
        status: ``complete``; ``interrupted`` (stopped by Ctrl-C or SIGTERM, finished
            cases written); ``incomplete`` (recovered from the journal of a run that
            did not finish, e.g. after SIGKILL, or a run in which tests failed outside their
            claims, so that what they should have measured may be missing).
        tests_not_run: how many selected tests did not run (``None`` when complete).
        note: one sentence for the reader when the status is not ``complete``.
        extra: further run-level data, e.g. ``{"validate": {...}}``.
    """

    profile: str
    base_seed: int
    devices: tuple[str, ...] = ("cpu",)
    version: str = ""
    suite_version: str = ""
    status: str = "complete"
    tests_not_run: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in RUN_STATUSES:
            raise InvalidArgument(
                f"RunInfo.status={self.status!r} is invalid; valid choices: "
                f"{', '.join(RUN_STATUSES)}"
            )
        if not self.version or not self.suite_version:
            from gradbench import SUITE_VERSION, __version__

            object.__setattr__(self, "version", self.version or __version__)
            object.__setattr__(self, "suite_version", self.suite_version or SUITE_VERSION)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "version": self.version,
            "suite_version": self.suite_version,
            "profile": self.profile,
            "base_seed": self.base_seed,
            "devices": list(self.devices),
            "status": self.status,
        }
        if self.status != "complete":
            out["tests_not_run"] = self.tests_not_run
            out["note"] = self.note
        return {**out, **to_jsonable(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        """Rebuild from :meth:`to_dict` output; keys it does not know go to ``extra``."""
        known = {"schema_version", "version", "suite_version", "profile", "base_seed",
                 "devices", "status", "tests_not_run", "note"}
        status = str(data.get("status") or "complete")
        return cls(
            profile=str(data.get("profile", "")),
            base_seed=int(data.get("base_seed", 0)),
            devices=tuple(str(d) for d in data.get("devices") or ()),
            version=str(data.get("version", "")),
            suite_version=str(data.get("suite_version", "")),
            status=status if status in RUN_STATUSES else "incomplete",
            tests_not_run=data.get("tests_not_run"),
            note=str(data.get("note", "")),
            extra={k: v for k, v in data.items() if k not in known},
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
        )


def merge_values(values: list[Any]) -> Any:
    """One value when all agree, else the distinct values as one sorted string."""
    distinct: dict[str, Any] = {}
    for v in values:
        if v is not None:
            distinct.setdefault(json.dumps(v, sort_keys=True), v)
    if not distinct:
        return None
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    return ", ".join(sorted(str(v) for v in distinct.values()))


@dataclass(frozen=True)
class MachineInfo:
    """``document["machine_info"]``: the machine, plus what the cases ran on.

    ``gradbench`` holds every key of :data:`ENV_KEYS` (``None`` when unknown) and
    ``devices``, the sorted list of devices the cases measured on. Each key is the
    value all cases agree on, or the distinct values joined (``"cpu, cuda:0"``), so
    two runs compare with plain equality (the report's "devices differ" warning).

    Attributes:
        node, machine, system, python_version: as pytest-benchmark records them.
        gradbench: the merged environment of the cases.
    """

    node: str = ""
    machine: str = ""
    system: str = ""
    python_version: str = ""
    gradbench: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        block = {key: self.gradbench.get(key) for key in ENV_KEYS}
        block["devices"] = list(self.gradbench.get("devices") or [])
        block.update({k: v for k, v in self.gradbench.items() if k not in block})
        object.__setattr__(self, "gradbench", block)

    @property
    def device(self) -> str | None:
        """The device(s) the cases ran on, e.g. ``"cpu"`` or ``"cpu, cuda:0"``."""
        return self.gradbench.get("device")

    @classmethod
    def from_cases(
        cls,
        cases: Iterable[CaseRecord],
        platform_info: Mapping[str, str],
        fallback: Mapping[str, Any],
    ) -> MachineInfo:
        """Merge the cases' environments; ``fallback`` (this process) fills keys none has."""
        envs = [c.env for c in cases]
        merged = {key: merge_values([e.get(key) for e in envs]) for key in ENV_KEYS}
        for key in ENV_KEYS:
            if merged[key] is None and key not in ("device", "gpu"):
                merged[key] = fallback.get(key)
        merged["devices"] = sorted({str(e["device"]) for e in envs if e.get("device")})
        return cls(**{k: str(platform_info.get(k, "")) for k in
                      ("node", "machine", "system", "python_version")}, gradbench=merged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "machine": self.machine,
            "system": self.system,
            "python_version": self.python_version,
            "gradbench": to_jsonable(self.gradbench),
        }

    @classmethod
    def from_dict(cls, data: Any) -> MachineInfo:
        """Read ``machine_info`` as any writer left it (missing keys become ``None``)."""
        data = data if isinstance(data, Mapping) else {}
        block = data.get("gradbench")
        return cls(
            node=str(data.get("node") or ""),
            machine=str(data.get("machine") or ""),
            system=str(data.get("system") or ""),
            python_version=str(data.get("python_version") or ""),
            gradbench=dict(block) if isinstance(block, Mapping) else {},
        )


def _layout_version() -> str:
    """The pytest-benchmark version whose JSON layout the file follows (its ``version``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-benchmark")
    except PackageNotFoundError:
        return "unknown"


def results_document(
    run: RunInfo,
    machine: MachineInfo,
    cases: Iterable[CaseRecord],
    *,
    datetime: str | None = None,
) -> dict[str, Any]:
    """The results file: pytest-benchmark's JSON layout with each case in ``extra_info``.

    The one place a results document is built (the plugin, ``gradbench validate`` and
    journal recovery all call it). ``datetime`` defaults to now (UTC, ISO 8601).
    """
    import datetime as _dt

    when = datetime or _dt.datetime.now(_dt.timezone.utc).isoformat()
    return {
        "machine_info": machine.to_dict(),
        "commit_info": {},
        "datetime": when,
        "version": _layout_version(),
        "gradbench": run.to_dict(),
        "benchmarks": [
            {
                "name": c.case.split("::")[-1],
                "fullname": c.case,
                "group": c.claim,
                "params": None,
                "stats": None,
                "extra_info": {"gradbench": c.to_dict()},
            }
            for c in sorted(cases, key=lambda c: c.case)
        ],
    }


def run_notes(gradbench_info: Mapping[str, Any]) -> list[str]:
    """What a reader must be told about a run: its note when it is not complete."""
    status = gradbench_info.get("status", "complete")
    if status == "complete":
        return []
    return [str(gradbench_info.get("note") or f"this run is {status}")]
