"""Hooks: every remedy meets every claim that applies to it; the candidate; ``run_claim``.

* ``--gradbench-remedy pkg.mod:obj`` registers a remedy for the run (in every process,
  xdist workers included); ``--gradbench-candidate`` registers the remedy under
  validation, and only the tests parametrized over its kind run, with it and the
  baselines of its kind (``gradbench validate``).
* A test marked ``gradbench_remedies(kind=..., claims=...)`` (:func:`gradbench.suite.for_each`)
  is parametrized over ``(remedy, claim)``: every covered remedy of that kind with each
  claim that applies to it.
* The ``run_claim`` fixture evaluates a claim through :func:`gradbench.claims.check`,
  records the case and fails the test with the claim's explanation.

Nothing here imports the registry or torch before a marked test or an option needs it.
"""

from __future__ import annotations

from typing import Any

import pytest

from gradbench.plugin import state
from gradbench.plugin.devices import HOME
from gradbench.plugin.devices import params as device_params

MARKER = "gradbench_remedies"


def pytest_configure(config: pytest.Config) -> None:
    """Register ``--gradbench-remedy`` and ``--gradbench-candidate`` remedies; the selection."""
    session = state.get(config)
    settings = session.settings
    from gradbench.suite import Selection

    if not settings.remedies and not settings.candidate:
        session.selection = Selection()
        return
    from gradbench.candidate import register_target
    from gradbench.errors import InvalidArgument

    try:
        added = [register_target(target) for target in settings.remedies]
        candidate = (register_target(settings.candidate, settings.candidate_kind)
                     if settings.candidate else None)
    except InvalidArgument as exc:
        raise pytest.UsageError(str(exc)) from None
    targets = [*settings.remedies, settings.candidate or ""]
    imported = tuple(r for t, r in zip(targets, [*added, candidate]) if r and ":" in t)
    session.selection = Selection(candidate=candidate, added=imported)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Unregister the remedies this session imported and registered."""
    session = config.stash.get(state.KEY, None)
    if session is None or session.selection is None or not session.selection.added:
        return
    from gradbench import registry

    for kind, name in session.selection.added:
        registry.unregister(kind, name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``(remedy, claim)`` of ``gradbench_remedies``-marked tests over the registry."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    from gradbench import registry
    from gradbench.suite import cases

    kind, claim_names = marker.kwargs["kind"], marker.kwargs["claims"]
    session = state.get(metafunc.config)
    pairs = cases(kind, claim_names, session.selection)
    if "gradbench_device" not in metafunc.fixturenames:
        metafunc.parametrize(("remedy", "claim"),
                             [(registry.lookup(kind, r), c) for r, c in pairs],
                             ids=[f"{r}-{c}" for r, c in pairs])
        return
    from gradbench import claims

    devices = session.settings.devices
    on_device = {c: claims.get_claim(c).on_device for c in claim_names}
    metafunc.parametrize(
        ("remedy", "claim", "gradbench_device"),
        [pytest.param(registry.lookup(kind, r), c, d.values[0], marks=d.marks,
                      id=f"{r}-{c}-{d.id}")
         for r, c in pairs for d in device_params(devices if on_device[c] else [HOME])],
        indirect=["gradbench_device"],
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A validation run keeps only the tests parametrized over the candidate's kind."""
    selection = state.get(config).selection
    if selection is None or selection.candidate is None:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker(MARKER)
        ours = marker is not None and marker.kwargs["kind"] == selection.candidate[0]
        (keep if ours else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def run_claim(request: pytest.FixtureRequest, gradbench_record: Any,
              gradbench_device: str) -> Any:
    """``run_claim(target, claim, *, extra=None, **config) -> Verdict``: check, record, assert.

    ``target`` is a spec or a remedy; network claims measure ``profile.seeds`` networks of
    ``profile.batch`` examples; a claim measured on a device (``Claim.on_device``) runs on
    the test's device, the others on the CPU, once per test (docs/design.md §7); a
    stability claim about a remedy is judged at ``--gradbench-depth`` when given; every
    seed derives from the configuration and ``--gradbench-base-seed``; alpha is the claim's
    own (equivalence claims) or the profile's per-case level. ``extra`` (a dict, or
    ``verdict -> dict``) is recorded with the case for the report. A failing claim raises
    :class:`~gradbench.errors.ClaimFailed` (an ``AssertionError``) naming the claim,
    prediction, measurement, interval and configuration; Hypothesis then shrinks it, and
    pytest shows that message alone for the smallest failing configuration.
    """
    from gradbench import claims
    from gradbench.claims.stability import SLOTS
    from gradbench.suite import origin
    from gradbench.testing import check_case

    session = state.get(request.config)
    profile, base_seed = session.settings.profile, session.settings.base_seed
    callspec = getattr(request.node, "callspec", None)
    covered = callspec.params.get("remedy") if callspec is not None else None
    remedy = None if covered is None else {
        "kind": covered.kind, "name": covered.label,
        "origin": origin(covered.kind, covered.label, session.selection)}

    def run(target: Any, claim: str, *, extra: Any = None, **config: Any) -> Any:
        __tracebackhide__ = True
        target = claims.resolve(target)
        network = claims.subject_of(target) == "network"
        on_device = claims.get_claim(claim).on_device
        if not on_device and _duplicate(request, session.settings.devices):
            pytest.skip(f"claim {claim!r} does not depend on the device: it is measured "
                        f"once, on {HOME}, in this test's {_home(session.settings.devices)} case")
        defaults: dict[str, Any] = (
            {"seeds": profile.seeds, "batch": profile.batch} if network else {})
        if on_device:
            defaults["device"] = gradbench_device
        if network:
            defaults["dtype"] = "float32"
        registered = claims.get_claim(claim)
        depth = session.settings.depth
        if (depth is not None and registered.role == "stability"
                and getattr(target, "kind", None) in SLOTS):
            defaults["depth"] = depth  # the stability settings only (not optimizer_trains)
        config = {**defaults, **config}
        device = config.get("device", HOME) if on_device else HOME
        level = registered.alpha or profile.case_alpha
        return check_case(target, claim, alpha=level, seed=base_seed, config=config,
                          record=gradbench_record, remedy=remedy, extra=extra, device=device)

    return run


def _home(devices: tuple[str, ...]) -> str:
    """The device case in which a test runs its device-independent claims."""
    return HOME if HOME in devices else devices[0]


def _duplicate(request: pytest.FixtureRequest, devices: tuple[str, ...]) -> bool:
    """Whether this case repeats, on another device, a device-independent claim that the
    test's home case measures (a ``for_each`` test has only that case, see ``devices``)."""
    callspec = getattr(request.node, "callspec", None)
    requested = callspec.params.get("gradbench_device") if callspec is not None else None
    return requested is not None and requested not in (HOME, _home(devices))
