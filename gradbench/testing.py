"""Helpers for a user's own pytest suite: assert a gradbench claim on your remedy or network.

    from gradbench.testing import assert_claim

    def test_my_init_keeps_relu_nets_stable():
        assert_claim("my_remedies:my_init", "stable_as_declared")

    @given(fan_in=st.integers(96, 320), fan_out=st.integers(96, 320))
    def test_my_init_variance(fan_in, fan_out):
        assert_claim(my_init, "initializer_variance", fan_in=fan_in, fan_out=fan_out)

The target is what ``gradbench validate`` takes: ``"pkg.module:object"`` (or
``"path/to/file.py:object"``), the object itself, a registered name (``"he_normal"``,
``"initializer:he_normal"``), a :class:`~gradbench.registry.Remedy` or a network spec.
A remedy that is not registered yet is registered for the one check, its kind inferred
as ``validate`` infers it (or given as ``kind=``).

Under Hypothesis a failing claim shrinks to the minimal configuration, and the
:class:`~gradbench.errors.ClaimFailed` (an ``AssertionError``) states the claim, the
prediction, the measurement with its interval and that configuration. Inside a pytest
session where gradbench is in use (``--gradbench-save``, ``--gradbench-json``, or a
gradbench fixture requested), each verdict is also recorded with the test, like the
``run_claim`` fixture's, so it reaches the results file and ``--gradbench-report``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gradbench import claims
from gradbench.errors import ClaimFailed, InvalidArgument
from gradbench.records import Verdict


def assert_claim(target: Any, claim: str, *, alpha: float = 0.01, seed: int = 0,
                 kind: str | None = None, **config: Any) -> Verdict:
    """Check ``claim`` on ``target``; raise :class:`~gradbench.errors.ClaimFailed` if it fails.

    Args:
        target: what the claim is about (see the module docstring).
        claim: a registered claim name (``docs/claims.md``).
        alpha: significance level of this one test.
        seed: base seed of every random draw.
        kind: the remedy's kind, when ``target`` is a remedy not registered yet whose
            kind cannot be inferred.
        **config: the claim's configuration (e.g. ``fan_in``, ``seeds``).

    Returns:
        The passing :class:`~gradbench.records.Verdict`.

    Raises:
        ClaimFailed: the claim fails (message: :func:`gradbench.claims.explain`).
        InvalidArgument: unknown claim, a target that cannot be imported or told, or
            one outside the claim's domain.
    """
    __tracebackhide__ = True
    from gradbench.candidate import KindMismatch
    from gradbench.plugin import state

    try:
        with claim_target(target, kind) as resolved:
            return check_case(resolved, claim, alpha=alpha, seed=seed, config=config,
                              record=state.active_recorder())
    except KindMismatch as exc:  # its sentence names --kind, which assert_claim calls kind=
        raise InvalidArgument(f"kind={exc.kind!r} does not fit {exc.target!r}, which {exc.how} "
                              f"{exc.behaves!r}; pass kind={exc.behaves!r} or leave kind "
                              "out") from None


@contextmanager
def claim_target(target: Any, kind: str | None = None) -> Iterator[Any]:
    """``target`` as :func:`gradbench.claims.check` takes it: a spec or a registered Remedy.

    A user's remedy (an import path or the object) is registered for the ``with`` block
    only (:func:`gradbench.candidate.register_target`, the way ``validate`` does).
    """
    from gradbench import registry

    if isinstance(target, str) and target.partition(":")[0] in registry.KINDS:
        yield claims.resolve(target)  # "kind:name"
        return
    if isinstance(target, registry.Remedy) or (
            not isinstance(target, str) and not callable(target)):
        yield target  # a Remedy or a spec
        return
    from gradbench import candidate

    added = not isinstance(target, str) or ":" in target
    if not isinstance(target, str):
        kind, name = candidate.register_object(target, kind)
    elif added:
        kind, name = candidate.register_target(target, kind)
    else:
        kind, name = candidate.resolve_target(target, kind)
    try:
        yield registry.lookup(kind, name)  # type: ignore[arg-type]
    finally:
        if added:
            registry.unregister(kind, name)  # type: ignore[arg-type]


def check_case(target: Any, claim: str, *, alpha: float, seed: int,
               config: Mapping[str, Any], record: Callable[..., Any] | None = None,
               remedy: Mapping[str, str] | None = None, extra: Any = None,
               device: str | None = None) -> Verdict:
    """Evaluate one case, record it through ``record`` (a gradbench recorder) if given,
    and raise :class:`~gradbench.errors.ClaimFailed` when the claim fails.

    The one path of ``assert_claim`` and the plugin's ``run_claim``. A remedy that raises
    gives a failed verdict carrying the error. ``extra`` (a dict, or ``verdict -> dict``)
    is recorded with the case; ``remedy`` (``{"kind", "name", "origin"}``) defaults to
    the target's own when it is a remedy; ``device`` is where the case ran (default: the
    recorder's, from the measurement or the test's device).
    """
    __tracebackhide__ = True
    target = claims.resolve(target)
    data, verdict = claims.evaluate_case(target, claim, alpha=alpha, seed=seed, **config)
    if record is not None:
        network = claims.subject_of(target) == "network"
        prediction = None
        if network and hasattr(data, "batch"):
            from gradbench import theory

            prediction = theory.predict(target, batch=data.batch)
        record(claim=claim, spec=target if network else verdict.spec,
               measurement=data if hasattr(data, "act_grad_norms") else None,
               prediction=prediction, verdict=verdict, source=verdict.source,
               extra=extra(verdict) if callable(extra) else extra,
               remedy=dict(remedy) if remedy is not None else _remedy_of(target),
               device=device)
    if not verdict.passed:
        raise ClaimFailed(claims.explain(verdict), verdict)
    return verdict


def _remedy_of(target: Any) -> dict[str, str] | None:
    """``{"kind", "name", "origin"}`` of a remedy target (``None`` for a spec)."""
    from gradbench import registry

    if not isinstance(target, registry.Remedy):
        return None
    from gradbench.suite import Selection, origin

    return {"kind": target.kind, "name": target.label,
            "origin": origin(target.kind, target.name, Selection())}


__all__ = ["assert_claim", "check_case", "claim_target"]
