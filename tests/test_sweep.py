"""Sweeps through executors (gradbench.sweep): the same cases and verdicts whatever runs them.

A serial run is the reference; a thread pool, an executor whose jobs are not
``concurrent.futures`` futures (as submitit's are), a process pool of fresh interpreters
and a local dask.distributed cluster must give the same case ids, verdicts and, up to
floating-point rounding (their torch thread counts differ), the same numbers.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

from gradbench import storage, sweep, theory
from gradbench.errors import InvalidArgument
from gradbench.specs import MLPSpec, RNNSpec


def _tasks() -> list[sweep.Task]:
    """A small phase diagram: ordered, chaotic and near-critical tanh, and ReLU at its edge."""
    return sweep.phase_diagram(["tanh", "relu"], [0.5, 2.0], [0.0], depth=5, width=32,
                               seeds=6, batch=8)


@pytest.fixture(scope="module")
def serial() -> list[Any]:
    return sweep.run(_tasks())


def _assert_same_cases(got: list[Any], want: list[Any]) -> None:
    """Same ids, claims, specs and verdicts; numbers equal up to rounding."""
    assert [c.case for c in got] == [c.case for c in want]
    for a, b in zip(got, want):
        assert (a.claim, a.spec, a.verdict["passed"]) == (b.claim, b.spec, b.verdict["passed"])
        for key in ("measured", "statistic", "pvalue"):
            assert math.isclose(a.verdict[key], b.verdict[key], rel_tol=1e-6, abs_tol=1e-9), key
        point_a, point_b = a.extra["phase_point"], b.extra["phase_point"]
        assert point_a["sigma_w2"] == point_b["sigma_w2"]
        assert math.isclose(point_a["measured_log_growth"], a.verdict["measured"])


def test_phase_diagram_builds_one_task_per_valid_point():
    tasks = sweep.phase_diagram(["tanh", "relu"], [0.5, 1.0, 2.0], [0.0, 0.1], depth=6,
                                width=32)
    assert len(tasks) == 12
    assert len({t.case_id for t in tasks}) == 12
    assert {t.claim for t in tasks} == {"mean_field_slope"}
    # Bonferroni: the whole diagram false-alarms with probability <= FAMILY_ALPHA
    assert math.isclose(sum(t.alpha for t in tasks), sweep.FAMILY_ALPHA)
    assert sweep.phase_diagram(["tanh"], [1.0], [0.0], depth=6, width=32, alpha=0.2)[0].alpha \
        == 0.2


def test_phase_point_is_the_theory_and_the_critical_curve():
    spec = MLPSpec(depth=8, width=64, activation="tanh", init="normal", sigma_w2=1.5,
                   sigma_b2=0.05)
    point = sweep.phase_point(spec)(type("V", (), {"measured": -0.25})())["phase_point"]
    prediction = theory.predict(spec)
    assert math.isclose(point["predicted_log_growth"], sum(prediction.log_growth) / 7)
    assert point["measured_log_growth"] == -0.25
    curve = point["critical_curve"]
    assert curve["sigma_b2"] == list(sweep.CURVE_SIGMA_B2)
    for w2, b2 in zip(curve["sigma_w2"], curve["sigma_b2"]):  # on the curve chi_1 = 1
        assert math.isclose(theory.chi1("tanh", w2, b2), 1.0, rel_tol=1e-6)


def test_serial_sweep_records_each_case(serial):
    assert len(serial) == 4
    for record in serial:
        assert record.case.startswith("sweep::mean_field_slope[mlp-L5-n32-")
        assert record.env["device"] == "cpu"
        assert record.verdict["alpha"] == pytest.approx(sweep.FAMILY_ALPHA / 4)
        assert record.prediction is not None
        assert record.measurement is not None
    # every draw derives from the configuration: the same sweep again is bit-identical
    again = sweep.run(_tasks()[:1])
    assert again[0].to_dict() == serial[0].to_dict()


def test_thread_pool_equals_serial(serial):
    with ThreadPoolExecutor(2) as pool:
        _assert_same_cases(sweep.run(_tasks(), pool, chunk_size=3), serial)


class _Job:
    """A job that is not a ``concurrent.futures.Future`` (as submitit's are): it runs when
    its result is asked for."""

    def __init__(self, fn: Any, arg: Any) -> None:
        self._call = lambda: fn(arg)

    def result(self) -> Any:
        return self._call()


class _JobExecutor:
    def __init__(self) -> None:
        self.jobs: list[_Job] = []

    def submit(self, fn: Any, arg: Any) -> _Job:
        self.jobs.append(_Job(fn, arg))
        return self.jobs[-1]


def test_any_submit_and_result_executor_equals_serial(serial):
    executor = _JobExecutor()
    futures = sweep.submit(_tasks(), executor, chunk_size=2)
    assert len(executor.jobs) == 2
    _assert_same_cases(sweep.gather(futures), serial)


def test_sweep_saves_a_results_file_the_readers_take(serial, tmp_path):
    path = sweep.save(serial, tmp_path, "phase")
    assert path.name == "0001_phase.json"
    loaded = storage.load(path)
    assert [c.case for c in loaded.records] == sorted(c.case for c in serial)
    assert loaded.run is not None
    assert loaded.run.profile == "sweep"
    from gradbench.cli import main

    assert main(["report", str(path), "-o", str(tmp_path / "phase.html")]) == 0
    assert "phase" in (tmp_path / "phase.html").read_text().lower()


class _Boom:
    """A picklable task that raises."""

    def __call__(self) -> Any:
        raise RuntimeError("out of memory in this task")


@pytest.mark.parametrize("executor", [None, ThreadPoolExecutor(2)], ids=["serial", "threads"])
@pytest.mark.parametrize("chunk_size", [1, 2])
def test_a_task_that_raises_keeps_every_other_result(serial, executor, chunk_size):
    """One task of a long sweep raising lost every result; now each other task runs and
    TaskFailed carries their results, naming the task that raised."""
    tasks = _tasks()
    mixed = [tasks[0], _Boom(), *tasks[1:]]
    with pytest.raises(sweep.TaskFailed, match=r"1 of 5 tasks raised, first task 1: "
                       r"RuntimeError: out of memory in this task; the other tasks' results "
                       r"are kept") as caught:
        sweep.run(mixed, executor, chunk_size=chunk_size)
    results = caught.value.results
    assert results[1] is None
    assert list(caught.value.errors) == [1]
    _assert_same_cases([results[0], *results[2:]], serial)


def test_a_worker_that_dies_loses_only_its_chunk():
    """A future whose result() raises (a killed worker) fails the tasks of its chunk only."""
    from concurrent.futures import Future

    class DiesOnSecond:
        calls = 0

        def submit(self, fn: Any, arg: Any) -> Future:
            future: Future = Future()
            DiesOnSecond.calls += 1
            if DiesOnSecond.calls == 2:
                future.set_exception(OSError("worker killed"))
            else:
                future.set_result(fn(arg))
            return future

    with pytest.raises(sweep.TaskFailed, match="2 of 5 tasks raised, first task 2: OSError"
                       ) as caught:
        sweep.run([lambda i=i: i for i in range(5)], DiesOnSecond(), chunk_size=2)
    assert caught.value.results == [0, 1, None, None, 4]


def test_a_sweep_that_measured_nothing_writes_no_file(tmp_path):
    """As a run that measured nothing: one sentence, no empty results file to report on."""
    with pytest.raises(InvalidArgument, match="no records to save as 'phase': the sweep "
                       "measured nothing"):
        sweep.save(sweep.run(sweep.phase_diagram([], [1.0], [0.0], depth=5, width=32)),
                   tmp_path, "phase")
    assert not list(tmp_path.iterdir())


def test_a_remedy_task_records_its_remedy():
    task = sweep.Task("initializer:he_normal", "initializer_variance",
                      {"fan_in": 64, "fan_out": 64}, alpha=0.01)
    (record,) = sweep.run([task])
    assert record.remedy == {"kind": "initializer", "name": "he_normal", "origin": "built-in"}
    assert record.verdict["passed"]
    assert record.case == task.case_id


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sweep.run(_tasks()[:1] * 2), "two tasks have case id"),
        (lambda: sweep.submit([], ThreadPoolExecutor(1), chunk_size=0), "chunk_size=0 is invalid"),
        (lambda: sweep.process_pool(0), "workers=0 is invalid"),
        (lambda: sweep.phase_point(RNNSpec(cell="rnn_tanh", hidden=64, steps=10,
                                           init="orthogonal")),
         "has no phase-diagram point: the phase diagram is of MLPs"),
        (lambda: sweep.phase_point(MLPSpec(depth=4, width=64, activation="tanh",
                                           init="lsuv")),
         "has no phase-diagram point: theory makes no prediction"),
        (lambda: sweep.phase_diagram(["tanh"], [1.0], [0.0], depth=5, width=16),
         "no point of the grid is in theory's validity domain, e.g. mlp-L5-n16.*width=16 < 32"),
        # refused when the sweep is built, not recorded as a failed claim in every worker
        (lambda: sweep.phase_diagram(["tanh"], [1.0], [0.0], depth=5, width=32, device="tpu"),
         r"device='tpu' is invalid; valid choices: cpu, cuda, cuda:N"),
        (lambda: sweep.phase_diagram(["tanh"], [1.0], [0.0], depth=5, width=32, seeds=1),
         "seeds=1 is invalid: claim 'mean_field_slope' compares independent networks"),
        (lambda: sweep.phase_diagram(["tanh"], [1.0], [0.0], depth=5, width=32, alpha=0.7),
         r"alpha=0.7 is invalid: must be in \(0, 0.5\)"),
        (lambda: sweep.phase_diagram(["tanh"], [1.0], [0.0], depth=5, width=32,
                                     dtype="float16"),
         r"dtype='float16' is invalid; did you mean 'bfloat16'\? valid choices: bfloat16, float32, "
         "float64"),
        (lambda: sweep.phase_diagram(["tanh"], [1.0], [0.0], depth=5, width=32, batch=0),
         r"batch=0 is invalid: must be an integer >= 1"),
    ],
    ids=["same-case-twice", "chunk-size", "workers", "not-mlp", "no-theory", "empty-grid",
         "device", "seeds", "alpha", "dtype", "batch"],
)
def test_bad_arguments(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_a_forking_pool_is_refused_before_anything_runs():
    import torch  # noqa: F401  (the refusal is about a process whose torch has started)

    ran: list[int] = []
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(InvalidArgument, match="start method 'fork'"):
            sweep.run([lambda: ran.append(1)], pool)
    assert ran == []


@pytest.mark.integration  # fresh interpreters
def test_process_pool_equals_serial(serial):
    with sweep.process_pool(2) as pool:
        got = sweep.run(_tasks(), pool)
    _assert_same_cases(got, serial)
    assert {r.env["num_threads"] for r in got} == {1}  # each of 2 workers on its share


@pytest.mark.integration  # a fresh interpreter
def test_a_validation_that_cannot_run_says_why(tmp_path):
    record = sweep.run([sweep.Validation("no_such_module_xyz:thing", cwd=str(tmp_path))])[0]
    assert record.exit_code == 2
    assert "no_such_module_xyz" in record.reason
    assert record.document is None


@pytest.mark.slow
@pytest.mark.integration
def test_dask_cluster_equals_serial(serial):
    """A local dask.distributed cluster of 2 worker processes (skipped without dask)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = sweep.run(_tasks(), client.get_executor())
    _assert_same_cases(got, serial)
