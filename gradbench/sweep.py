"""Large sweeps through any ``concurrent.futures.Executor``: a process pool, a dask.distributed
cluster (``Client.get_executor()``), submitit on SLURM, or none (serial, in this process).

A :class:`Task` is one case: a claim checked on a target (a network spec, a registered
remedy ``"kind:name"``, or a remedy by import path ``"pkg.mod:obj"``) at a configuration,
with its alpha and base seed. It is plain picklable data, and calling it gives a plain
:class:`~gradbench.records.CaseRecord`. Every random draw derives from the configuration
and the base seed (docs/design.md §6), so a task gives the same case and verdict wherever
it runs, and the same numbers up to floating-point rounding when the worker's torch thread
count differs. A :class:`Validation` is one ``gradbench validate`` run in a fresh
interpreter of the worker, its results document returned as data. Any picklable callable
without arguments is a task too.

Only ``executor.submit(fn, arg)`` and ``future.result()`` are used, so submitit's
executors (whose jobs are not ``concurrent.futures`` futures) work as they are, their job
arrays included: ``with executor.batch(): futures = submit(tasks, executor)``, then
``gather(futures)``. The recipes (process pool, Dask, SLURM) are in docs/sweeps.md.

Examples:
    >>> tasks = phase_diagram(["tanh"], [0.5, 1.0, 2.0], [0.0], depth=10, width=64, seeds=8)
    >>> records = run(tasks)                                    # doctest: +SKIP
    >>> with process_pool(2) as pool:                           # doctest: +SKIP
    ...     records = run(tasks, pool)
    >>> save(records, "reports", "phase")                       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradbench.errors import InvalidArgument
from gradbench.records import CaseRecord

#: Family-wise alpha a sweep builder splits over its cases (Bonferroni) when not told.
FAMILY_ALPHA = 0.05


@dataclass(frozen=True)
class Task:
    """One case of a sweep: ``claim`` on ``target`` at ``config``.

    Attributes:
        target: a spec, ``"kind:name"``, or ``"pkg.mod:obj"`` (importable where it runs).
        claim: a registered claim (docs/claims.md).
        config: the claim's configuration (network claims: ``seeds``, ``batch``,
            ``device``, ``dtype``; remedy claims: e.g. ``fan_in``, ``fan_out``).
        alpha: the level of this one test.
        seed: base seed every draw derives from.
        case: the case id (default :attr:`case_id`'s, from the fields above).
        extra: recorded with the case: a dict, or a picklable ``verdict -> dict``.
    """

    target: Any
    claim: str
    config: Mapping[str, Any] = field(default_factory=dict)
    alpha: float = 0.01
    seed: int = 0
    case: str = ""
    extra: Any = None

    @property
    def case_id(self) -> str:
        """``sweep::<claim>[<target>;<config>;seed=S,alpha=A]`` unless :attr:`case` is set."""
        if self.case:
            return self.case
        config = ",".join(f"{k}={v}" for k, v in sorted(self.config.items()))
        return f"sweep::{self.claim}[{_label(self.target)};{config};seed={self.seed}," \
               f"alpha={self.alpha:g}]"

    def __call__(self) -> CaseRecord:
        return evaluate(self)


def _label(target: Any) -> str:
    if hasattr(target, "family"):
        from gradbench.specs import spec_label

        return spec_label(target)
    return str(target)


def evaluate(task: Task) -> CaseRecord:
    """The case a task gives (a failed claim is a record with a failed verdict, not an error).

    Raises:
        InvalidArgument: an unknown claim, a target it does not apply to, a bad argument.
    """
    from gradbench import testing
    from gradbench.errors import ClaimFailed
    from gradbench.machine import environment

    kept: list[dict[str, Any]] = []
    with testing.claim_target(task.target) as target:
        try:
            testing.check_case(target, task.claim, alpha=task.alpha, seed=task.seed,
                               config=task.config, record=lambda **f: kept.append(f),
                               extra=task.extra)
        except ClaimFailed:
            pass
    fields = kept[0]
    device = (fields.pop("device") or getattr(fields["measurement"], "device", None)
              or task.config.get("device") or "cpu")
    return CaseRecord.build(case=task.case_id, label=_label(fields["spec"]),
                            env=environment(str(device)), **fields)


# --------------------------------------------------------------------------------------
# Running tasks through an executor
# --------------------------------------------------------------------------------------


class TaskFailed(Exception):
    """Tasks of a sweep raised; what the others gave is kept.

    Attributes:
        results: every task's result in task order, ``None`` where it raised (or where its
            chunk's worker died).
        errors: ``{index: exception}`` of the tasks that raised.
    """

    def __init__(self, message: str, results: list[Any], errors: dict[int, BaseException]):
        super().__init__(message)
        self.results, self.errors = results, errors


@dataclass(frozen=True)
class _Raised:
    """A task's exception, returned in place of its result so the rest of its chunk runs."""

    error: BaseException


def _call_all(chunk: Sequence[Callable[[], Any]]) -> list[Any]:
    out: list[Any] = []
    for task in chunk:
        try:
            out.append(task())
        except Exception as exc:  # the others' results must not be lost with it
            out.append(_Raised(exc))
    return out


def _kept(results: list[Any], tasks: Sequence[Any] | None = None) -> list[Any]:
    """``results`` as they are, or :class:`TaskFailed` naming the first task that raised."""
    errors = {i: r.error for i, r in enumerate(results) if isinstance(r, _Raised)}
    if not errors:
        return results
    first, error = next(iter(errors.items()))
    task = tasks[first] if tasks is not None else None
    name = f"task {first} ({task.case_id})" if isinstance(task, Task) else f"task {first}"
    raise TaskFailed(
        f"{len(errors)} of {len(results)} tasks raised, first {name}: "
        f"{type(error).__name__}: {error}; the other tasks' results are kept in "
        "TaskFailed.results (None where a task raised)",
        [None if i in errors else r for i, r in enumerate(results)], errors) from error


def submit(tasks: Iterable[Callable[[], Any]], executor: Any, chunk_size: int = 1) -> list[Any]:
    """Submit the tasks, ``chunk_size`` per call, to ``executor``: its futures, in order.

    Raises:
        InvalidArgument: ``chunk_size`` is not an integer >= 1, or ``executor`` is a
            process pool that forks this process after torch started its threads.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidArgument(f"chunk_size={chunk_size!r} is invalid: must be an integer >= 1")
    _refuse_fork(executor)
    items = list(tasks)
    return [executor.submit(_call_all, items[i:i + chunk_size])
            for i in range(0, len(items), chunk_size)]


def process_pool(workers: int) -> Any:
    """A ``ProcessPoolExecutor`` of ``workers`` fresh interpreters (the ``spawn`` start
    method: forking a process whose torch has started its OpenMP threads can hang the
    child), each running torch on its share of the cores (an explicit ``OMP_NUM_THREADS``
    wins)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgument(f"workers={workers!r} is invalid: must be an integer >= 1")
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_share_cores, initargs=(workers,))


def _share_cores(workers: int) -> None:
    import os

    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, (cores or 1) // workers))


def _refuse_fork(executor: Any) -> None:
    """A process pool that forks this process after torch started its threads can hang:
    one sentence instead."""
    import sys

    context = getattr(executor, "_mp_context", None)
    if context is not None and context.get_start_method() == "fork" and "torch" in sys.modules:
        raise InvalidArgument(
            "a process pool that forks this process (start method 'fork') can hang once torch "
            "has started its threads; use gradbench.sweep.process_pool(N), or "
            "ProcessPoolExecutor(N, mp_context=multiprocessing.get_context('spawn'))")


def gather(futures: Iterable[Any]) -> list[Any]:
    """The tasks' results, in the order submitted.

    Raises:
        TaskFailed: a task raised (a worker that died raises its executor's error as it is).
    """
    return _kept([result for future in futures for result in future.result()])


def run(tasks: Iterable[Callable[[], Any]], executor: Any = None,
        chunk_size: int = 1) -> list[Any]:
    """Every task's result, in order: through ``executor`` (anything with ``submit``
    returning futures with ``result()``), or here, one after the other, without one.

    Raises:
        InvalidArgument: two tasks with one case id (they would be one case in the
            results), or a process pool that forks this process after torch started.
        TaskFailed: a task raised, or the worker running its chunk died; every other
            task ran, and its result is in ``TaskFailed.results``.
    """
    items = list(tasks)
    ids = [t.case_id for t in items if isinstance(t, Task)]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise InvalidArgument(f"two tasks have case id {twice!r}; give each task its own "
                              "configuration, seed or case id")
    if executor is None:
        return _kept(_call_all(items), items)
    _refuse_fork(executor)
    futures = submit(items, executor, chunk_size)
    results: list[Any] = []
    for start, future in zip(range(0, len(items), chunk_size), futures):
        try:
            results += future.result()
        except Exception as exc:  # the chunk's worker died (or its results did not pickle)
            results += [_Raised(exc)] * len(items[start:start + chunk_size])
    return _kept(results, items)


def document(records: Sequence[CaseRecord], base_seed: int = 0,
             profile: str = "sweep") -> dict[str, Any]:
    """The results document of a sweep's records (read by ``gradbench report``/``compare``)."""
    from gradbench.machine import environment, platform_info
    from gradbench.records import MachineInfo, RunInfo, results_document

    machine = MachineInfo.from_cases(records, platform_info(), environment())
    return results_document(RunInfo(profile=profile, base_seed=base_seed), machine, records)


def save(records: Sequence[CaseRecord], folder: str | Path, name: str = "sweep",
         base_seed: int = 0) -> Path:
    """Write the records as ``folder/NNNN_<name>.json`` (numbered, atomic, like a run).

    Raises:
        InvalidArgument: no records (a run that measured nothing writes no file), or the
            folder cannot be written.
    """
    from gradbench import storage

    if not records:
        raise InvalidArgument(f"no records to save as {name!r}: the sweep measured nothing, "
                              "so no results file is written")

    return storage.save(folder, name, document(records, base_seed))


# --------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhasePoint:
    """``extra`` of a phase-diagram case: the point, theory's growth per layer and the
    chi_1 = 1 curve, plus the growth measured (what the report's phase diagram draws)."""

    point: Mapping[str, Any]

    def __call__(self, verdict: Any) -> dict[str, Any]:
        return {"phase_point": {**self.point, "measured_log_growth": verdict.measured}}


#: sigma_b2 values at which the chi_1 = 1 curve is drawn.
CURVE_SIGMA_B2 = (0.0, 0.05, 0.1, 0.2, 0.3)


def phase_point(spec: Any) -> PhasePoint:
    """The phase-diagram data of an MLP spec (docs/theory.md §1): its (sigma_w2, sigma_b2),
    the predicted mean log growth per layer, and the critical curve chi_1 = 1."""
    from gradbench import theory
    from gradbench.specs import MLPSpec

    if not isinstance(spec, MLPSpec):
        raise InvalidArgument(f"spec={_label(spec)!r} has no phase-diagram point: the phase "
                              "diagram is of MLPs (gradbench.MLPSpec)")
    prediction = theory.predict(spec)
    if prediction.log_growth is None:
        raise InvalidArgument(f"{_label(spec)} has no phase-diagram point: theory makes no "
                              f"prediction for it ({prediction.reason})")
    return PhasePoint({
        "activation": spec.activation, "sigma_w2": spec.sigma_w2, "sigma_b2": spec.sigma_b2,
        "predicted_log_growth": float(sum(prediction.log_growth)) / (spec.depth - 1),
        "critical_curve": {"sigma_b2": list(CURVE_SIGMA_B2),
                           "sigma_w2": [theory.critical_sigma_w2(spec.activation, b)
                                        for b in CURVE_SIGMA_B2]},
    })


def _check_config(specs: Sequence[Any], claim: str, alpha: float,
                  config: Mapping[str, Any]) -> None:
    """Refuse a bad level, seeds, batch, dtype or device name of a sweep's cases here, in one
    sentence, not in every worker (a bad device measured nothing and recorded a failed claim
    per case). Whether the device exists is the workers' to say: they may have a GPU where
    the sweep is built has none."""
    from gradbench.claims import _prepare
    from gradbench.devices import CHOICES, DEVICE
    from gradbench.errors import as_integer, choices_hint
    from gradbench.probe import DTYPES

    if specs:
        _prepare(specs[0], claim, alpha, dict(config))  # alpha, seeds, the claim's arguments
    if not DEVICE.fullmatch(str(config["device"])):
        raise InvalidArgument(f"device={config['device']!r} is invalid; valid choices: {CHOICES}")
    if config["dtype"] not in DTYPES:
        raise InvalidArgument(f"dtype={config['dtype']!r} is invalid; "
                              f"{choices_hint(config['dtype'], DTYPES)}")
    batch = as_integer(config["batch"])
    if batch is None or batch < 1:
        raise InvalidArgument(f"batch={config['batch']!r} is invalid: must be an integer >= 1")


def phase_diagram(activations: Sequence[str], sigma_w2s: Sequence[float],
                  sigma_b2s: Sequence[float], *, depth: int, width: int, seeds: int = 32,
                  batch: int = 64, dtype: str = "float32", device: str = "cpu",
                  seed: int = 0, alpha: float | None = None) -> list[Task]:
    """``mean_field_slope`` over a grid of the (sigma_w2, sigma_b2) phase diagram.

    Grid points outside theory's validity domain are left out (none inside: one sentence
    saying why, as :class:`~gradbench.errors.InvalidArgument`). ``alpha`` defaults to
    :data:`FAMILY_ALPHA` split over the grid's cases (Bonferroni), so the whole diagram
    false-alarms with probability at most 0.05.
    """
    from gradbench import theory
    from gradbench.specs import MLPSpec

    specs = [MLPSpec(depth=depth, width=width, activation=a, init="normal", sigma_w2=w,
                     sigma_b2=b)
             for a in activations for w in sigma_w2s for b in sigma_b2s]
    outside = [(s, theory.predict(s)) for s in specs]
    specs = [s for s, prediction in outside if prediction.valid]
    if not specs and outside:
        spec, prediction = outside[0]
        raise InvalidArgument(f"no point of the grid is in theory's validity domain, e.g. "
                              f"{_label(spec)}: {prediction.reason}")
    level = alpha if alpha is not None else FAMILY_ALPHA / max(1, len(specs))
    config = {"seeds": seeds, "batch": batch, "dtype": dtype, "device": device}
    _check_config(specs, "mean_field_slope", level, config)
    return [Task(s, "mean_field_slope", config, alpha=level, seed=seed, extra=phase_point(s))
            for s in specs]


@dataclass(frozen=True)
class ValidationRecord:
    """What one :class:`Validation` gave: the exit code (0 passes, 1 fails, 2 not
    validated), the last line of its error output when 2, its results document."""

    target: str
    exit_code: int
    reason: str = ""
    document: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Validation:
    """``gradbench validate TARGET`` in a fresh interpreter where the task runs (a cluster's
    worker), into a temporary folder; its results come back as a :class:`ValidationRecord`.

    Attributes:
        target: what ``validate`` takes (``pkg.mod:obj``), importable from ``cwd`` there.
        args: further arguments of ``gradbench validate`` (``--kind``, ``-k EXPR`` ...).
        cwd: the folder it runs in (``None``: the worker's own).
    """

    target: str
    args: tuple[str, ...] = ()
    cwd: str | None = None

    def __call__(self) -> ValidationRecord:
        import subprocess
        import sys
        import tempfile

        from gradbench.records import read_json

        with tempfile.TemporaryDirectory(prefix="gradbench-validate-") as tmp:
            proc = subprocess.run(
                [sys.executable, "-m", "gradbench", "validate", "--out-dir", tmp, self.target,
                 *self.args], cwd=self.cwd, capture_output=True, text=True, check=False)
            written = sorted(Path(tmp).glob("*.json"))
            doc = read_json(written[-1]) if written else None
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if proc.returncode == 2 and lines else ""
        return ValidationRecord(self.target, proc.returncode, reason, doc)


__all__ = ["FAMILY_ALPHA", "PhasePoint", "Task", "TaskFailed", "Validation", "ValidationRecord",
           "document", "evaluate", "gather", "phase_diagram", "phase_point", "process_pool", "run",
           "save", "submit"]
