"""Helpers for writing gradbench suites (the built-in ones and your own).

A suite test names the remedy kind and the claims it checks; the plugin parametrizes
it over every registered remedy of that kind (built-ins, ``gradbench.remedies`` entry
points, ``gradbench run --remedy``, the candidate of ``gradbench validate``) to which
the claim applies, so each remedy meets every property that applies to it at least
once per run, deterministically. Hypothesis explores the other axes::

    from gradbench.suite import budget, for_each

    @for_each("initializer", ["initializer_variance"])
    @given(fan_in=st.integers(128, 512), fan_out=st.integers(128, 512))
    def test_variance(remedy, claim, fan_in, fan_out, run_claim):
        run_claim(remedy, claim, fan_in=fan_in, fan_out=fan_out)

``run_claim`` (a fixture of the plugin) evaluates the claim through
:func:`gradbench.claims.check`, records the case and raises ``AssertionError`` with the
claim, prediction, measurement, interval and configuration when it fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from gradbench import registry
from gradbench.errors import InvalidArgument, choices_hint

MARKER = "gradbench_remedies"

BASELINES: dict[str, tuple[str, ...]] = {
    kind: info.baselines for kind, info in registry.REMEDY_KINDS.items()
}
"""The built-ins a candidate is validated next to, per kind (each kind's descriptor)."""


@dataclass(frozen=True)
class Selection:
    """Which remedies a run covers.

    Attributes:
        candidate: ``(kind, name)`` of the remedy under validation, or ``None`` (every
            registered remedy is covered).
        added: ``(kind, name)`` of remedies this run registered (candidate included).
    """

    candidate: tuple[str, str] | None = None
    added: tuple[tuple[str, str], ...] = ()


def for_each(kind: str, claim_names: Sequence[str]) -> pytest.MarkDecorator:
    """Parametrize ``(remedy, claim)`` over the remedies of ``kind`` each claim applies to.

    Raises:
        InvalidArgument: unknown kind or claim, or a claim that is not about ``kind``.
    """
    from gradbench import claims

    if kind not in registry.KINDS:
        raise InvalidArgument(f"kind {kind!r} is unknown; {choices_hint(kind, registry.KINDS)}")
    for name in claim_names:
        c = claims.get_claim(name)
        if kind not in c.subjects:
            raise InvalidArgument(f"claim {name!r} is about {', '.join(c.subjects)}, not {kind}")
    return pytest.mark.gradbench_remedies(kind=kind, claims=tuple(claim_names))


def remedy_names(kind: str, selection: Selection) -> list[str]:
    """The remedies of ``kind`` a run covers: all registered, each with the parametrized
    variants it declares in ``examples`` (e.g. ``"orthogonal(gain=1.414...)"``), or the
    candidate and its baselines."""
    if selection.candidate is None:
        names = registry.names(kind)  # type: ignore[arg-type]
        examples = [e for n in names
                    for e in registry.lookup(kind, n).meta.get("examples", ())]  # type: ignore[arg-type]
        return list(dict.fromkeys([*names, *examples]))
    cand_kind, cand_name = selection.candidate
    if cand_kind != kind:
        return []
    return [cand_name, *[b for b in BASELINES.get(kind, ()) if b != cand_name]]


def cases(kind: str, claim_names: Sequence[str], selection: Selection) -> list[tuple[str, str]]:
    """``(remedy name, claim)`` pairs of a ``for_each`` test, in a stable order.

    A remedy that names its claims (``gradbench_claims``, stored as ``meta["claims"]``)
    meets only those.
    """
    from gradbench import claims

    out = []
    for name in remedy_names(kind, selection):
        remedy = registry.lookup(kind, name)  # type: ignore[arg-type]
        named = remedy.meta.get("claims")
        out += [(name, c) for c in claim_names
                if (named is None or c in named) and claims.applicable(remedy, c) is None]
    return out


def origin(kind: str, name: str, selection: Selection) -> str:
    """``"candidate"``, ``"built-in"`` or ``"third-party"`` (an entry point or ``--remedy``)."""
    if selection.candidate == (kind, name):
        return "candidate"
    module = getattr(registry.lookup(kind, name).obj, "__module__", "") or ""  # type: ignore[arg-type]
    return "built-in" if module.startswith("gradbench.") else "third-party"


def budget(fraction: float) -> Any:
    """Hypothesis settings with ``fraction`` of the active profile's examples (at least 1).

    Network-level properties cost a gradient probe per example; they take a fraction of
    the examples the cheap properties get, so the quick profile stays within a minute.
    """
    from hypothesis import settings

    return settings(max_examples=max(1, round(settings().max_examples * fraction)))


__all__ = ["BASELINES", "MARKER", "Selection", "budget", "cases", "for_each", "origin",
           "remedy_names"]
