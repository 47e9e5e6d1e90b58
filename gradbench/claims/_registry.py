"""The claim registry: every claim gradbench checks is registered here, once.

A claim is a pre-registered statistical (or exact) statement about a *subject*: a
network spec (``"network"`` claims such as ``mean_field_slope``) or a registered remedy
(``"initializer"``, ``"activation"``, ... claims such as ``initializer_variance``). It
carries its statement, test statistic, validity domain and source, says which subjects
it applies to, names the torch-side routine that measures what it needs, and turns that
measurement (plain NumPy data) into a :class:`~gradbench.records.Verdict`.

Suites, ``gradbench validate``, :func:`gradbench.check` and the report all go through
:func:`check` and :data:`CLAIMS`, so a verdict means the same thing everywhere. This
module never imports torch: measurements are imported lazily from the module named in
:attr:`Claim.measure`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gradbench import registry
from gradbench.errors import InvalidArgument, choices_hint
from gradbench.records import Verdict

Subject = Literal[
    "network", "activation", "initializer", "normalization", "residual", "optimizer",
    "depth_scheme", "block"
]
SUBJECTS: tuple[Subject, ...] = ("network", *registry.KINDS, "block")  # type: ignore[assignment]
"""What a claim can be about: networks, every remedy kind (registry.REMEDY_KINDS), and a
user's block stacked over depth (:class:`gradbench.blocks.BlockSpec`)."""
Role = Literal["consistency", "theory", "stability", "behaviour"]
ROLES: dict[Role, str] = {
    "consistency": "the remedy does what it declares (its own documented property)",
    "theory": "a measurement agrees with the theory computed for that configuration",
    "stability": "gradients neither vanish nor explode with depth",
    "behaviour": "a documented effect of the remedy on training or on gradients",
}


@dataclass(frozen=True)
class Claim:
    """A registered claim.

    Attributes:
        name: registry name, e.g. ``"initializer_variance"``.
        statement: what is claimed, in one sentence.
        statistic: the test statistic and the test, in one sentence.
        domain: where the claim is valid (and where it is not applied).
        source: the paper the claim comes from (and the docs section).
        subjects: what the claim is about: ``"network"`` (a spec) and/or remedy kinds.
        role: ``consistency``, ``theory``, ``stability`` or ``behaviour`` (:data:`ROLES`).
        measure: ``"module:function"`` of the torch-side routine that measures what the
            claim needs, called as ``measure(subject, **config)``; imported lazily.
        evaluate: ``evaluate(subject, data, alpha, **config) -> Verdict``; torch-free.
        applies: ``applies(remedy_or_spec) -> reason or None``: why the claim does not
            apply to that subject (``None``: it applies).
        standard: a standard claim of its kind, run on a remedy that declares nothing.
        exact: a deterministic identity checked to a stated float64 tolerance (no
            sampling error, so no false alarms by construction).
        alpha: the claim's own level, or ``None`` for the run's per-case level. An
            equivalence claim (TOST) fails when equivalence is *not shown*, so its
            false alarms are governed by its power, not its alpha: it runs at
            :data:`EQUIVALENCE_ALPHA` with enough seeds, not at a level split over cases.
        advice: what to do when it fails, where its role's advice (the report's
            ``WHAT_TO_DO``, written for remedies) does not fit its subjects; ``""``: the
            role's.
    """

    name: str
    statement: str
    statistic: str
    domain: str
    source: str
    subjects: tuple[Subject, ...]
    role: Role
    measure: str
    evaluate: Callable[..., Verdict]
    applies: Callable[[Any], str | None]
    standard: bool = True
    exact: bool = False
    alpha: float | None = None
    advice: str = ""

    @property
    def at_case_level(self) -> bool:
        """Tested at the run's per-case level: a statistical test whose false alarms add
        up over a run's cases (exact identities have none; a claim with its own alpha
        fails only when a property is not shown, so it errs by power, not by alpha)."""
        return not self.exact and self.alpha is None

    def measure_fn(self) -> Callable[..., Any]:
        """The measuring routine (imports its module, which may import torch)."""
        module, _, attr = self.measure.partition(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    @property
    def on_device(self) -> bool:
        """Measured on the device it is asked for: its routine takes a ``device`` argument.

        The others are device-independent (docs/design.md §7): measured on the CPU
        whatever devices a run names, so a run checks them once. Imports the routine.
        """
        import inspect

        return "device" in inspect.signature(self.measure_fn()).parameters

    def arguments(self) -> tuple[set[str], list[str]]:
        """``(accepted, required)``: the configuration names its measuring routine and its
        evaluation take after their subject (and data, alpha), and those without a default.
        Imports the routine."""
        import inspect

        accepted, required = set(), []
        for fn, skip in ((self.measure_fn(), 1), (self.evaluate, 3)):
            for p in list(inspect.signature(fn).parameters.values())[skip:]:
                if p.kind is not p.VAR_KEYWORD:
                    accepted.add(p.name)
                    required += [p.name] if p.default is p.empty else []
        return accepted, list(dict.fromkeys(required))

    def to_dict(self) -> dict[str, Any]:
        """The claim's description as JSON-safe data (for docs and reports)."""
        keys = ("name", "statement", "statistic", "domain", "source", "role", "standard",
                "exact", "alpha")
        return {**{k: getattr(self, k) for k in keys}, "subjects": list(self.subjects)}


CLAIMS: dict[str, Claim] = {}
EQUIVALENCE_ALPHA = 0.05
"""Level of the equivalence (TOST) claims: a type-I error there declares a property
(stability, boundedness) that does not hold, so it is not split over cases."""


def _always(subject: Any) -> str | None:
    return None


def unless_declared_false(key: str, reason: str) -> Callable[[Any], str | None]:
    """An ``applies`` for a claim a remedy opts out of by declaring ``key=False`` (a residual
    scaling's ``bounded``, an optimizer's ``scales_with_lr``): ``reason`` when it does."""

    def applies(remedy: Any) -> str | None:
        return None if getattr(remedy, "meta", {}).get(key, True) else f"{reason} ({key}=False)"

    return applies


def claim(
    name: str,
    *,
    statement: str,
    statistic: str,
    domain: str,
    source: str,
    subjects: Subject | tuple[Subject, ...],
    role: Role,
    measure: str,
    applies: Callable[[Any], str | None] = _always,
    standard: bool = True,
    exact: bool = False,
    alpha: float | None = None,
    advice: str = "",
) -> Callable[[Callable[..., Verdict]], Callable[..., Verdict]]:
    """Register the decorated ``evaluate(subject, data, alpha, **config)`` as claim ``name``.

    Raises:
        InvalidArgument: ``name`` is already registered, or ``subject``/``role`` unknown.
    """
    subject_tuple = (subjects,) if isinstance(subjects, str) else tuple(subjects)
    for subject in subject_tuple:
        if subject not in SUBJECTS:
            raise InvalidArgument(
                f"subject={subject!r} is unknown; {choices_hint(subject, SUBJECTS)}"
            )
    if role not in ROLES:
        raise InvalidArgument(f"role={role!r} is unknown; {choices_hint(role, ROLES)}")

    def decorate(fn: Callable[..., Verdict]) -> Callable[..., Verdict]:
        if name in CLAIMS:
            raise InvalidArgument(f"claim {name!r} is already registered")
        CLAIMS[name] = Claim(name, statement, statistic, domain, source, subject_tuple, role,
                             measure, fn, applies, standard, exact, alpha, advice)
        return fn

    return decorate


def _ensure_loaded() -> None:
    importlib.import_module("gradbench.claims")


def get_claim(name: str) -> Claim:
    """The claim registered as ``name``.

    Raises:
        InvalidArgument: unknown name (the message lists the known ones).
    """
    _ensure_loaded()
    try:
        return CLAIMS[name]
    except KeyError:
        raise InvalidArgument(f"claim {name!r} is unknown; {choices_hint(name, CLAIMS)}") from None


def counts_at_case_level(verdict: Mapping[str, Any] | None) -> bool:
    """Whether a recorded verdict (a ``Verdict.to_dict()``) is of a registered claim tested at
    the run's per-case level (:attr:`Claim.at_case_level`): one of the cases a profile
    splits its family-wise alpha over."""
    _ensure_loaded()
    name = (verdict or {}).get("claim")
    return name in CLAIMS and CLAIMS[name].at_case_level


def claims_for(subject: Subject) -> Iterator[Claim]:
    """Registered claims about ``subject``, in registration order."""
    _ensure_loaded()
    return (c for c in CLAIMS.values() if subject in c.subjects)


def why_not(claim_: Claim, target: Any) -> str | None:
    """Why ``claim_`` does not apply to ``target`` (a spec or remedy), or ``None``."""
    try:
        return claim_.applies(target)
    except InvalidArgument as exc:
        return str(exc)


def subject_dict(target: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Verdict.spec`` of a case: the spec's dict, or the remedy plus its configuration."""
    if hasattr(target, "to_dict") and hasattr(target, "family"):
        base = target.to_dict()
    else:
        base = {"kind": target.kind, "remedy": target.label}
    def plain(value: Any) -> Any:
        return value.to_dict() if hasattr(value, "to_dict") else value

    return {**base, **{k: plain(v) for k, v in config.items() if not k.startswith("_")}}
