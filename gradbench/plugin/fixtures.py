"""The fixtures suites use (``gradbench_config``, ``gradbench_device``, ``gradbench_record``)
and the markers applied to them.

Suites record what they measured with ``gradbench_record``::

    def test_claim(gradbench_record):
        gradbench_record(claim="mean_field_slope", spec=spec, measurement=m,
                         prediction=p, verdict=v, source="Schoenholz et al. 2017")

Each case travels with its test's report to the controlling process (see
:mod:`gradbench.plugin.recording`). When the test also uses pytest-benchmark's
``benchmark`` fixture, the case goes into its ``extra_info`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gradbench.plugin import state
from gradbench.plugin.devices import HOME, pinned
from gradbench.plugin.devices import params as device_params
from gradbench.profiles import Profile

FIXTURES = ("gradbench_config", "gradbench_device", "gradbench_record")
REMEDIES_MARKER = "gradbench_remedies"  # gradbench.suite.for_each


@dataclass(frozen=True)
class GradbenchConfig:
    """What suites see of the run configuration (the ``gradbench_config`` fixture)."""

    profile: Profile
    base_seed: int
    devices: tuple[str, ...]


@pytest.fixture(scope="session")
def gradbench_config(request: pytest.FixtureRequest) -> GradbenchConfig:
    """The active profile, base seed and devices."""
    settings = state.get(request.config).settings
    return GradbenchConfig(settings.profile, settings.base_seed, settings.devices)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``gradbench_device`` over the requested devices; CUDA skips cleanly if absent.

    A ``for_each`` test gets its devices with its ``(remedy, claim)`` pairs instead (the
    ``remedies`` feature), since they depend on the claim.
    """
    if ("gradbench_device" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker(REMEDIES_MARKER) is None):
        devices = state.get(metafunc.config).settings.devices
        metafunc.parametrize("gradbench_device", device_params(devices), indirect=True)


@pytest.fixture
def gradbench_device(request: pytest.FixtureRequest) -> str:
    """The device this case runs on: as requested, ``cuda`` pinned to this xdist worker's GPU."""
    return pinned(request.config, str(getattr(request, "param", HOME)))


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so `-m gradbench` sees the marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the suites' tests ``gradbench``; a test using a gradbench fixture puts it in use."""
    session = state.get(config)
    for item in items:
        path = Path(str(item.path)).resolve()
        if any(path.is_relative_to(root) for root in session.suites_roots):
            item.add_marker(pytest.mark.gradbench)
    if session.in_use is None:
        names = {n for item in items for n in getattr(item, "fixturenames", ())}
        used = sorted(names.intersection(FIXTURES))
        if used:
            state.use_gradbench(config, f"fixture {used[0]}", hypothesis=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip CUDA cases without a CUDA device and ``gradbench_slow`` ones in the quick profile."""
    if item.get_closest_marker("gradbench_cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("CUDA is not available on this machine")
    if item.get_closest_marker("gradbench_slow") is not None:
        profile = state.get(item.config).settings.profile.name
        if profile != "full":
            pytest.skip(f"gradbench_slow: runs in the full profile only (this is {profile})")
    item.stash[state.ITEM_CASES] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """While a test runs in a session using gradbench, ``assert_claim`` records through it."""
    session = item.config.stash.get(state.KEY, None)
    if session is None or session.in_use is None:
        return (yield)
    with state.recording_into(Recorder(item)):
        return (yield)


@pytest.hookimpl(specname="pytest_runtest_call", hookwrapper=True, trylast=True)  # innermost
def pytest_runtest_call_examples_from_suite_id(item: pytest.Item) -> Any:
    """A suite test's Hypothesis examples derive from its suite id, not its node id.

    Hypothesis's pytest plugin adds a parametrized test's node id to the seed of its
    derandomized examples, and the node id depends on the rootdir: ``pytest suites`` in the
    checkout, ``gradbench run`` (rootdir the suites folder) and a copy of the suites elsewhere
    drew different examples for one test. The id ``suites/<file>::<test>[...]``
    (:func:`state.suite_node_id`), the one cases are recorded under, is the same everywhere.
    """
    session = item.config.stash.get(state.KEY, None)
    inner = getattr(getattr(getattr(item, "obj", None), "hypothesis", None), "inner_test", None)
    if (session is not None and session.in_use is not None and inner is not None
            and hasattr(inner, "_hypothesis_internal_add_digest")):
        suite_id = state.suite_node_id(session, item)
        if suite_id is not None:
            inner._hypothesis_internal_add_digest = suite_id.encode()
    yield


class Recorder:
    """The callable behind the ``gradbench_record`` fixture."""

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
        device: str | None = None,
    ) -> dict[str, Any]:
        """Record one case (a claim checked on one spec); returns it as stored in the JSON.

        ``remedy`` (``{"kind", "name", "origin"}``) names the remedy the case covers.
        ``device`` is where the case's tensors were; by default the measurement's own
        device, else the test's ``gradbench_device``, else torch's default device.
        """
        from gradbench.machine import environment
        from gradbench.records import CaseRecord

        item = self._item
        recorded = item.stash.setdefault(state.ITEM_CASES, [])
        device = (device or getattr(measurement, "device", None)
                  or getattr(item, "funcargs", {}).get("gradbench_device"))
        record = CaseRecord.build(
            case=state.case_id(state.get(item.config), item, len(recorded)),
            claim=claim,
            spec=spec,
            label=_label(spec),
            measurement=measurement,
            prediction=prediction,
            verdict=verdict,
            source=source,
            extra=extra,
            env=environment(device),
            remedy=remedy,
        )
        recorded.append(state.Recorded(record, *_example(item)))
        case = record.to_dict()
        bench = getattr(item, "funcargs", {}).get("benchmark")
        if bench is not None:
            bench.extra_info["gradbench"] = case
        return case


_EXAMPLE = pytest.StashKey["list[Any]"]()


def _example(item: pytest.Item) -> tuple[int | None, bool]:
    """Which Hypothesis example of ``item`` is running (counted from 0) and whether it is
    the replay of the failing example Hypothesis reports; ``(None, False)`` outside one."""
    import sys

    if "hypothesis" not in sys.modules:
        return None, False
    from hypothesis import currently_in_test_context
    from hypothesis.control import current_build_context

    if not currently_in_test_context():
        return None, False
    context = current_build_context()
    seen = item.stash.setdefault(_EXAMPLE, [None, -1])  # the last example's context, its number
    if seen[0] is not context:
        seen[0], seen[1] = context, seen[1] + 1
    return int(seen[1]), bool(getattr(context, "is_final", False))


def _label(spec: Any) -> str:
    if hasattr(spec, "family"):
        from gradbench.specs import spec_label

        return spec_label(spec)
    return str(spec)


@pytest.fixture
def gradbench_record(request: pytest.FixtureRequest) -> Recorder:
    """Record a case: ``gradbench_record(claim=..., spec=..., measurement=..., verdict=...)``."""
    return Recorder(request.node)
