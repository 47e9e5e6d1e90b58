"""gradbench's pytest plugin: options, profiles, the result recorder and the JSON it writes.

Suites record what they measured with the ``gradbench_record`` fixture::

    def test_claim(gradbench_record):
        gradbench_record(claim="mean_field_slope", spec=spec, measurement=m,
                         prediction=p, verdict=v, source="Schoenholz et al. 2017")

Each recorded case travels with the test report (``user_properties``), so it
reaches the controlling process under pytest-xdist and is kept when benchmarks
are disabled. At the end of the session the controller writes one strict JSON
file in pytest-benchmark's layout (``benchmarks[i].extra_info["gradbench"]``),
atomically, to ``--gradbench-json``; ``--gradbench-report`` renders it to HTML.
When a test also uses pytest-benchmark's ``benchmark`` fixture, the case is put in
its ``extra_info`` too, so pytest-benchmark's own JSON carries it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gradbench.errors import InvalidArgument
from gradbench.profiles import PROFILES, Profile, get_profile
from gradbench.records import SCHEMA_VERSION, to_jsonable, write_json

_USER_PROPERTY = "gradbench_cases"


@dataclass
class RunState:
    """What the controlling process collects during a session."""

    profile: Profile
    base_seed: int
    devices: list[str]
    json_path: str | None
    report_path: str | None
    cases: list[dict[str, Any]] = field(default_factory=list)
    failed_claims: int = 0
    selection: Any = None


def _case_failed(case: dict[str, Any]) -> bool:
    return bool(case.get("verdict")) and not case["verdict"].get("passed", True)


@dataclass
class Progress:
    """A line per finished test that recorded cases: how far the run is and how it is going.

    Written by the controlling process, so it also follows xdist workers' results.
    """

    config: pytest.Config
    start: float = field(default_factory=time.monotonic)
    tests: int = 0

    @property
    def reporter(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def line(self, nodeid: str, cases: list[dict[str, Any]], run: list[dict[str, Any]]) -> str:
        """The test's cases, with the run's totals so far (``run`` includes ``cases``)."""
        total = int(getattr(self.reporter, "_numcollected", 0) or 0)  # 0 under xdist
        done = f"{self.tests}/{total} tests" if total else f"{self.tests} tests done"
        elapsed = int(time.monotonic() - self.start)
        return (
            f"gradbench [{done}, {elapsed // 60}:{elapsed % 60:02d}] "
            f"{nodeid}: {len(cases)} cases, {sum(map(_case_failed, cases))} failed "
            f"(run: {len(run)} cases, {sum(map(_case_failed, run))} failed claims)"
        )

    def show(self, nodeid: str, cases: list[dict[str, Any]], run: list[dict[str, Any]]) -> None:
        """Count one finished test; print its line if it recorded cases."""
        self.tests += 1
        reporter = self.reporter
        if reporter is None or not cases:
            return
        writer = getattr(reporter, "_tw", None)  # start a fresh line after pytest's "." marks
        if writer is not None and getattr(writer, "width_of_current_line", False):
            reporter.write("\n")
        reporter.write_line(self.line(nodeid, cases, run))


STATE = pytest.StashKey[RunState]()
ITEM_CASES = pytest.StashKey[list[dict[str, Any]]]()


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"gradbench_{name}")
    return value if value is not None else config.getini(f"gradbench_{name}")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--gradbench-*`` options, each mirrored as a ``gradbench_*`` ini option."""
    group = parser.getgroup("gradbench", "gradient-flow benchmark suite")
    options = [
        ("profile", "quick", f"work profile: {', '.join(PROFILES)} (default quick)"),
        ("seeds", "", "override the profile's number of networks per configuration"),
        ("devices", "cpu", "comma-separated devices to measure on, e.g. cpu,cuda (default cpu)"),
        ("base-seed", "0", "base seed every network seed is derived from (default 0)"),
        ("json", "", "write the gradbench results (pytest-benchmark JSON layout) to this path"),
        ("report", "", "also render the results as a self-contained HTML report at this path"),
        ("progress", "off", "on: a line per finished test with cases, failed claims, elapsed"),
        ("candidate", "", "validate this remedy (pkg.module:object or a registered name): "
         "only it and the baselines of its kind are covered"),
        ("candidate-kind", "", "the candidate's kind, when it cannot be inferred"),
    ]
    for name, default, help_text in options:
        dest = name.replace("-", "_")
        group.addoption(
            f"--gradbench-{name}", dest=f"gradbench_{dest}", default=None, help=help_text
        )
        parser.addini(f"gradbench_{dest}", help_text, default=default)
    group.addoption("--gradbench-remedy", dest="gradbench_remedy", action="append",
                    default=[], help="also cover this remedy (pkg.module:object); repeatable")


def _int_option(config: pytest.Config, name: str) -> int | None:
    text = str(_option(config, name)).strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise pytest.UsageError(
            f"--gradbench-{name.replace('_', '-')}={text!r} is invalid: "
            "must be a non-negative integer"
        )
    return value


def pytest_configure(config: pytest.Config) -> None:
    """Validate options, register markers and Hypothesis profiles, set up the run state."""
    for line in (
        "gradbench: a gradbench suite case",
        "gradbench_cuda: needs a CUDA device (skipped when none is available)",
        "gradbench_slow: long-running; only in the full profile",
        "gradbench_statistical: a calibrated statistical claim",
        "gradbench_remedies(kind, claims): parametrize (remedy, claim) over the registry",
    ):
        config.addinivalue_line("markers", line)
    try:
        profile = get_profile(str(_option(config, "profile")))
    except InvalidArgument as exc:
        raise pytest.UsageError(f"--gradbench-profile: {exc}") from None
    seeds = _int_option(config, "seeds")
    if seeds is not None:
        if seeds < 2:
            raise pytest.UsageError(f"--gradbench-seeds={seeds} is invalid: must be >= 2")
        profile = Profile(**{**profile.__dict__, "seeds": seeds})
    devices = [d.strip() for d in str(_option(config, "devices")).split(",") if d.strip()]
    bad = [d for d in devices if d.split(":")[0] not in ("cpu", "cuda")]
    if bad or not devices:
        raise pytest.UsageError(
            f"--gradbench-devices={_option(config, 'devices')!r} is invalid; "
            "valid choices: cpu, cuda"
        )
    config.stash[STATE] = RunState(
        profile=profile,
        base_seed=_int_option(config, "base_seed") or 0,
        devices=devices,
        json_path=str(_option(config, "json")) or None,
        report_path=str(_option(config, "report")) or None,
    )
    progress = str(_option(config, "progress")).strip().lower()
    if progress not in ("on", "off"):
        raise pytest.UsageError(
            f"--gradbench-progress={progress!r} is invalid; valid choices: on, off"
        )
    global _PROGRESS
    _PROGRESS = None
    if progress == "on" and not hasattr(config, "workerinput"):
        _PROGRESS = Progress(config)
    config.stash[STATE].selection = _selection(config)
    if hasattr(config, "workerinput"):
        _share_cores(int(config.workerinput.get("workercount", 1)))
    _register_hypothesis_profiles(profile, config.getoption("hypothesis_profile", None))


def _selection(config: pytest.Config) -> Any:
    """Register the ``--gradbench-remedy`` and ``--gradbench-candidate`` remedies; the selection."""
    from gradbench.suite import Selection

    targets = list(config.getoption("gradbench_remedy") or [])
    candidate = str(_option(config, "candidate")).strip()
    kind = str(_option(config, "candidate_kind")).strip() or None
    if not targets and not candidate:
        return Selection()
    from gradbench.candidate import register_target

    try:
        added = [register_target(target) for target in targets]
        chosen = register_target(candidate, kind) if candidate else None
    except InvalidArgument as exc:
        raise pytest.UsageError(str(exc)) from None
    imported = [r for t, r in zip([*targets, candidate], [*added, chosen]) if ":" in t and r]
    return Selection(candidate=chosen, added=tuple(imported))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Unregister the remedies this session registered (``--gradbench-remedy``/``-candidate``)."""
    if STATE not in config.stash or config.stash[STATE].selection is None:
        return
    from gradbench import registry

    for kind, name in config.stash[STATE].selection.added:
        registry.unregister(kind, name)


def _share_cores(workers: int) -> None:
    """Give each of ``workers`` xdist workers its share of the cores as torch threads.

    Without this every worker starts one intra-op thread per core, and N workers
    oversubscribe the machine N times over (measured: the quick suite ran 4x slower at
    ``-n 2`` than at ``-n 1`` on 2 cores). An explicit ``OMP_NUM_THREADS`` wins.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, (cores or 1) // max(1, workers)))


def _register_hypothesis_profiles(profile: Profile, requested: str | None) -> None:
    """``dev`` (fast, random) and ``ci`` (derandomized, no deadline) Hypothesis profiles.

    The active gradbench profile sets ``max_examples`` of both. Hypothesis loads ``ci``
    by itself on CI; ``--hypothesis-profile`` or ``HYPOTHESIS_PROFILE`` choose explicitly.
    """
    from hypothesis import HealthCheck, settings

    common: dict[str, Any] = dict(
        max_examples=profile.max_examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    )
    settings.register_profile("dev", **common)
    settings.register_profile(
        "ci", settings.get_profile("ci"), derandomize=True, database=None, print_blob=True, **common
    )
    # gradbench's default: derandomized, so every verdict is a pure function of the command line.
    settings.register_profile("gradbench", derandomize=True, database=None, **common)
    chosen = requested or os.environ.get("HYPOTHESIS_PROFILE")
    settings.load_profile(chosen or ("ci" if os.environ.get("CI") else "gradbench"))


@dataclass(frozen=True)
class GradbenchConfig:
    """What suites see of the run configuration (the ``gradbench_config`` fixture)."""

    profile: Profile
    base_seed: int
    devices: tuple[str, ...]


@pytest.fixture(scope="session")
def gradbench_config(request: pytest.FixtureRequest) -> GradbenchConfig:
    """The active profile, base seed and devices."""
    state = request.config.stash[STATE]
    return GradbenchConfig(state.profile, state.base_seed, tuple(state.devices))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``gradbench_device`` over the requested devices (CUDA skips cleanly if
    absent), and ``(remedy, claim)`` of ``gradbench_remedies``-marked tests over the registry."""
    marker = metafunc.definition.get_closest_marker("gradbench_remedies")
    if marker is not None:
        from gradbench import registry
        from gradbench.suite import cases

        kind, claims = marker.kwargs["kind"], marker.kwargs["claims"]
        pairs = cases(kind, claims, metafunc.config.stash[STATE].selection)
        metafunc.parametrize(("remedy", "claim"),
                             [(registry.lookup(kind, r), c) for r, c in pairs],
                             ids=[f"{r}-{c}" for r, c in pairs])
    if "gradbench_device" in metafunc.fixturenames:
        devices = metafunc.config.stash[STATE].devices
        metafunc.parametrize(
            "gradbench_device",
            [
                pytest.param(d, marks=[pytest.mark.gradbench_cuda] if d.startswith("cuda") else [])
                for d in devices
            ],
            ids=devices,
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validation runs keep only the tests parametrized over the candidate's kind."""
    if STATE not in config.stash:
        return
    candidate = config.stash[STATE].selection.candidate
    if candidate is None:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("gradbench_remedies")
        ours = marker is not None and marker.kwargs["kind"] == candidate[0]
        (keep if ours else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip CUDA cases when no CUDA device exists."""
    if item.get_closest_marker("gradbench_cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("CUDA is not available on this machine")
    item.stash[ITEM_CASES] = []


class Recorder:
    """Callable stored behind the ``gradbench_record`` fixture."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def __call__(
        self,
        *,
        claim: str,
        spec: Any,
        measurement: Any = None,
        prediction: Any = None,
        verdict: Any = None,
        source: str = "",
        extra: dict[str, Any] | None = None,
        remedy: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record one case (a claim checked on one spec) for the JSON and the report.

        ``remedy`` (``{"kind", "name", "origin"}``) names the remedy the case covers.
        """
        from gradbench.specs import spec_label

        cases = self._item.stash.setdefault(ITEM_CASES, [])
        case = {
            "schema_version": SCHEMA_VERSION,
            "case": f"{self._item.nodeid}#{len(cases)}",
            "claim": claim,
            "source": source,
            "spec": to_jsonable(spec.to_dict() if hasattr(spec, "to_dict") else spec),
            "label": spec_label(spec) if hasattr(spec, "family") else str(spec),
            "measurement": to_jsonable(measurement),
            "prediction": to_jsonable(prediction),
            "verdict": to_jsonable(verdict),
            "extra": to_jsonable(extra or {}),
        }
        if remedy is not None:
            case["remedy"] = dict(remedy)
        cases.append(case)
        bench = getattr(self._item, "funcargs", {}).get("benchmark")
        if bench is not None:
            bench.extra_info["gradbench"] = case
        return case


@pytest.fixture
def gradbench_record(request: pytest.FixtureRequest) -> Recorder:
    """Record a case: ``gradbench_record(claim=..., spec=..., measurement=..., verdict=...)``."""
    return Recorder(request.node)


@pytest.fixture
def run_claim(request: pytest.FixtureRequest, gradbench_record: Recorder,
              gradbench_device: str) -> Any:
    """``run_claim(target, claim, *, extra=None, **config) -> Verdict``: check, record, assert.

    ``extra`` (a dict, or ``verdict -> dict``) is recorded with the case for the report.

    ``target`` is a spec or a remedy; network claims measure ``profile.seeds`` networks of
    ``profile.batch`` examples on the test's device unless ``config`` says otherwise; every
    seed derives from the configuration and ``--gradbench-base-seed``; alpha is the
    profile's per-case level. A failing claim raises ``AssertionError`` naming the claim,
    prediction, measurement, interval and configuration (Hypothesis then shrinks it).
    """
    from gradbench import claims
    from gradbench.suite import origin

    state = request.config.stash[STATE]
    callspec = getattr(request.node, "callspec", None)
    covered = callspec.params.get("remedy") if callspec is not None else None
    remedy = None
    if covered is not None:
        remedy = {"kind": covered.kind, "name": covered.label,
                  "origin": origin(covered.kind, covered.label, state.selection)}

    def run(target: Any, claim: str, *, extra: Any = None, **config: Any) -> Any:
        target = claims.resolve(target)
        network = claims.subject_of(target) == "network"
        if network:
            config = {"seeds": state.profile.seeds, "batch": state.profile.batch,
                      "device": gradbench_device, "dtype": "float32", **config}
        level = claims.get_claim(claim).alpha or state.profile.case_alpha
        data, verdict = claims.evaluate_case(target, claim, alpha=level,
                                             seed=state.base_seed, **config)
        prediction = None
        if network and hasattr(data, "batch"):
            from gradbench import theory

            prediction = theory.predict(target, batch=data.batch)
        gradbench_record(claim=claim, spec=target if network else verdict.spec,
                         measurement=data if hasattr(data, "act_grad_norms") else None,
                         prediction=prediction, verdict=verdict, source=verdict.source,
                         extra=extra(verdict) if callable(extra) else extra, remedy=remedy)
        assert verdict.passed, claims.explain(verdict)
        return verdict

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the item's recorded cases to its call report (crosses xdist process borders)."""
    outcome: Any = yield
    report = outcome.get_result()
    cases = item.stash.get(ITEM_CASES, [])
    if report.when == "call" and cases:
        report.user_properties.append((_USER_PROPERTY, json.dumps(cases, allow_nan=False)))


@pytest.hookimpl(trylast=True)  # after the terminal reporter has shown the outcome
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect cases in the controlling process (no-op data path on xdist workers)."""
    if report.when == "teardown":
        _FINISHED.add(report.nodeid)
    if report.when != "call":
        return
    cases = [
        case
        for key, value in report.user_properties
        if key == _USER_PROPERTY
        for case in json.loads(str(value))
    ]
    _SESSION_CASES.extend(cases)
    if _PROGRESS is not None:
        _PROGRESS.show(report.nodeid, cases, _SESSION_CASES)


_SESSION_CASES: list[dict[str, Any]] = []
_FINISHED: set[str] = set()
_PROGRESS: Progress | None = None


def machine_info() -> dict[str, Any]:
    """torch, device and numerics flags that decide whether two runs are comparable."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
        "deterministic": bool(torch.are_deterministic_algorithms_enabled()),
        "num_threads": torch.get_num_threads(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


def run_info(config: pytest.Config) -> dict[str, Any]:
    """Run-level gradbench info stored at the top of the JSON."""
    from gradbench import SUITE_VERSION, __version__

    state = config.stash[STATE]
    return {
        "schema_version": SCHEMA_VERSION,
        "version": __version__,
        "suite_version": SUITE_VERSION,
        "profile": state.profile.name,
        "base_seed": state.base_seed,
        "devices": state.devices,
        "candidate": list(state.selection.candidate) if state.selection.candidate else None,
    }


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    machine_info["gradbench"] = globals()["machine_info"]()


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]
) -> None:
    output_json["gradbench"] = run_info(config)


def _results_document(config: pytest.Config, cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "machine_info": {
            "node": platform.node(),
            "machine": platform.machine(),
            "system": platform.system(),
            "python_version": platform.python_version(),
            "gradbench": machine_info(),
        },
        "commit_info": {},
        "datetime": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "version": _benchmark_version(),
        "gradbench": run_info(config),
        "benchmarks": [
            {
                "name": case["case"].split("::")[-1],
                "fullname": case["case"],
                "group": case["claim"],
                "params": None,
                "stats": None,
                "extra_info": {"gradbench": case},
            }
            for case in sorted(cases, key=lambda c: c["case"])
        ],
    }


def _benchmark_version() -> str:
    try:
        from importlib.metadata import version

        return version("pytest-benchmark")
    except Exception:
        return "unknown"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the JSON (and the HTML report) in the controlling process, atomically."""
    config = session.config
    if hasattr(config, "workerinput") or STATE not in config.stash:
        return
    state = config.stash[STATE]
    state.cases = list(_SESSION_CASES)
    _SESSION_CASES.clear()
    state.failed_claims = sum(map(_case_failed, state.cases))
    if state.json_path:
        write_json(state.json_path, _results_document(config, state.cases))
    if state.report_path and state.json_path:
        from gradbench import report

        report.write_report([state.json_path], state.report_path)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line saying what was recorded and where it went."""
    if hasattr(config, "workerinput") or STATE not in config.stash:
        return
    state = config.stash[STATE]
    if not state.cases and not state.json_path:
        return
    where = f"; results -> {state.json_path}" if state.json_path else ""
    html = f"; report -> {state.report_path}" if state.report_path and state.json_path else ""
    terminalreporter.write_line(
        f"gradbench: {len(state.cases)} cases recorded, {state.failed_claims} failed claims"
        f" (profile {state.profile.name}, base seed {state.base_seed}){where}{html}"
    )
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        collected = int(getattr(terminalreporter, "_numcollected", 0) or 0)
        missing = max(0, collected - len(_FINISHED))
        kept = f"; finished results kept in {state.json_path}" if state.json_path else ""
        terminalreporter.write_line(
            f"gradbench: interrupted: {missing} of {collected} tests did not run{kept}"
        )
