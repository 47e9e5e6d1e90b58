"""What a remedy may declare, checked when it is registered (docs/remedies.md §4).

A remedy declares properties as ``obj.gradbench_meta = {...}`` (``gradbench validate``,
``gradbench run --remedy``) or as keywords of :func:`gradbench.register`; each key adds
the claims that check it. A key its kind does not know, or a value of the wrong form,
would silently drop those claims (a misspelt ``"variant"`` leaves the variance unchecked),
so it is refused at registration in one sentence naming the key or value and what it must
be. Values are checked for form only (a ``variance`` callable of ``(fan_in, fan_out)``, a
``distribution`` name, ``stable_for`` settings naming fields of the kind's networks);
whether they are *true* is what the claims measure.

Torch-free.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gradbench.errors import InvalidArgument, choices_hint
from gradbench.registry import KINDS, REMEDY_KINDS

DISTRIBUTIONS = ("normal", "uniform", "orthogonal", "identity", "deterministic")
"""An initializer's ``distribution``: i.i.d. normal or uniform entries, a (semi-)orthogonal
matrix times a gain, the identity, or any other weights that are the same under every
generator (``eye_``, ``constant_``; measured so for an initializer that declares none)."""
INVARIANCES = ("shift", "scale")
STATISTICS = ("feature", "batch")

def _calls(*names: str, keywords: tuple[str, ...] = ()) -> Callable[[Any, str], str | None]:
    """A function its claims can call with the arguments ``names``, positionally, and
    ``keywords`` by name (other keyword-only ones are hyper-parameters, passed too)."""

    def check(value: Any, kind: str) -> str | None:
        want = f"a function of ({', '.join([*names, *(f'{k}=' for k in keywords)])})"
        if not callable(value):
            return f"it must be {want}, not a {type(value).__name__}"
        try:
            signature = inspect.signature(value)
        except ValueError:  # a builtin without a signature: taken as is
            return None
        try:
            others = [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]
            signature.bind(*names, **dict.fromkeys([*keywords, *others]))
        except TypeError:
            return f"it must be {want}; it takes {signature}"
        return None

    return check


def _one_of(choices: tuple[str, ...]) -> Callable[[Any, str], str | None]:
    def check(value: Any, kind: str) -> str | None:
        return None if isinstance(value, str) and value in choices else choices_hint(
            value, choices)

    return check


def _subset_of(choices: tuple[str, ...]) -> Callable[[Any, str], str | None]:
    def check(value: Any, kind: str) -> str | None:
        if isinstance(value, str) or not isinstance(value, (tuple, list, set, frozenset)):
            return f"it must be a tuple of names from {', '.join(choices)}"
        bad = [v for v in value if v not in choices]
        return choices_hint(bad[0], choices) if bad else None

    return check


def _flag(value: Any, kind: str) -> str | None:
    return None if isinstance(value, bool) else "it must be True or False"


def _names(value: Any, kind: str) -> str | None:
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not all(
            isinstance(v, str) for v in value):
        return "it must be a tuple of names"
    return None


def _mapping(value: Any, kind: str) -> str | None:
    return None if isinstance(value, Mapping) else "it must be a dict"


def _registered_optimizer(value: Any, kind: str) -> str | None:
    """``reference``: a registered optimizer's name (possibly with parameters)."""
    from gradbench.registry import lookup

    if not isinstance(value, str):
        return "it must be the name of a registered optimizer"
    try:
        lookup("optimizer", value)
    except InvalidArgument as exc:
        return str(exc)
    return None


def _adaptive_needs(meta: Mapping[str, Any], obj: Any) -> str | None:
    """``adaptive=True``: its claim compares the first step with ``first_step`` and needs the
    optimizer's ``eps`` (documented, or a keyword default of the factory)."""
    if meta.get("adaptive") is not True:
        return None
    if "first_step" not in meta:
        return "it needs first_step, the closed-form first update its claim compares with"
    try:
        defaults = inspect.signature(obj).parameters if obj is not None else {}
    except (TypeError, ValueError):
        defaults = {}
    if "eps" not in meta.get("documented", {}) and "eps" not in defaults:
        return ("it needs the optimizer's eps: declare documented={'eps': ...} or give the "
                "factory an eps keyword")
    return None


def _settings(value: Any, kind: str) -> str | None:
    """``stable_for``: settings, each a mapping of fields of the kind's networks' spec."""
    from dataclasses import fields

    from gradbench.specs import spec_types

    family, own = REMEDY_KINDS[kind].family, REMEDY_KINDS[kind].slot
    sized = ("depth", "width")  # the stability claims set both (docs/theory.md §9.2)
    valid = sorted(f.name for f in fields(spec_types()[family]) if f.name not in sized)
    if isinstance(value, (str, Mapping)) or not isinstance(value, (tuple, list)):
        return ('it must be a list of settings, each a dict of spec fields, e.g. '
                '[{"activation": "relu"}] (or () for "stable nowhere")')
    for setting in value:
        if not isinstance(setting, Mapping):
            return f"its setting {setting!r} is a {type(setting).__name__}, not a dict"
        if own in setting:
            return (f"its setting {dict(setting)!r} names {own!r}, the field the "
                    f"{kind} itself fills; declare the other fields only")
        sizes = [k for k in setting if k in sized]
        if sizes:
            return (f"its setting {dict(setting)!r} names {sizes[0]!r}, which the stability "
                    "claims set themselves (the depth judged, --depth, and width "
                    "max(128, 4 depth)); declare the other fields only")
        unknown = [k for k in setting if k not in valid]
        if unknown:
            return (f"its setting {dict(setting)!r} names {unknown[0]!r}, which is not a "
                    f"field of the {family} networks; {choices_hint(unknown[0], valid)}")
    return None


@dataclass(frozen=True)
class Declaration:
    """One declarable key: the kinds that may declare it and the check of its form
    (``check(value, kind)`` returns why the value is invalid, or ``None``), and what it
    needs beside it (``needs(meta, obj)``, the same, given every declaration and the
    remedy). An ``internal``
    key is one gradbench sets itself (a measured variance, ``gradbench_claims``): accepted,
    but not offered to users in error messages."""

    kinds: tuple[str, ...]
    check: Callable[[Any, str], str | None]
    internal: bool = False
    needs: Callable[[Mapping[str, Any], Any], str | None] | None = None


DECLARATIONS: dict[str, Declaration] = {
    # initializers
    "variance": Declaration(("initializer",), _calls("fan_in", "fan_out")),
    "bias_variance": Declaration(("initializer",), _calls("fan_in")),
    "distribution": Declaration(("initializer",), _one_of(DISTRIBUTIONS)),
    "stacks": Declaration(("initializer",), _flag),
    "data_dependent": Declaration(("initializer",), _flag),
    "kernel": Declaration(("initializer",), _one_of(("delta",))),
    "variance_measured": Declaration(("initializer",), _flag, internal=True),
    "centred": Declaration(("initializer",), _flag, internal=True),
    # activations
    "kinks": Declaration(("activation",), lambda v, k: None if isinstance(v, (tuple, list)) and all(
        isinstance(x, (int, float)) for x in v) else "it must be a tuple of numbers"),
    "homogeneous": Declaration(("activation",), _flag),
    "numpy": Declaration(("activation",), lambda v, k: None if all(
        callable(getattr(v, f, None)) for f in ("phi", "dphi")) else
        "it must be a gradbench.remedies.activations.NumpyReference (phi, dphi, d2phi)"),
    # normalizations
    "statistics": Declaration(("normalization",), _one_of(STATISTICS)),
    "invariances": Declaration(("normalization",), _subset_of(INVARIANCES)),
    "module": Declaration(("normalization",), _calls("width")),  # -> nn.Module
    # residual scalings
    "bounded": Declaration(("residual",), _flag),
    "zero_out": Declaration(("residual",), _flag),
    "branch_weight_scale": Declaration(("residual",), _calls("depth")),
    # residual law(depth, v); a depth scheme's law(depth)
    "law": Declaration(("residual", "depth_scheme"), lambda v, k: _calls(
        *(("depth", "v") if k == "residual" else ("depth",)))(v, k)),
    # optimizers
    "first_step": Declaration(("optimizer",), _calls("g", "w", keywords=("lr",))),
    "update_rule": Declaration(("optimizer",), _calls("w", "g", "state", "step",
                                                      keywords=("lr",))),
    "documented": Declaration(("optimizer",), _mapping),
    "reference": Declaration(("optimizer",), _registered_optimizer),
    "adaptive": Declaration(("optimizer",), _flag, needs=_adaptive_needs),
    "elementwise": Declaration(("optimizer",), _flag),
    "scales_with_lr": Declaration(("optimizer",), _flag),
    # depth schemes
    "output_change": Declaration(("depth_scheme",), _calls("n")),
    "deepnet_identity": Declaration(("depth_scheme",), _flag),
    # the kinds the stability claims judge (stable_as_declared, stable_somewhere)
    "stable_for": Declaration(("initializer", "activation", "normalization", "residual"),
                              _settings),
    # every kind
    "examples": Declaration(KINDS, _names),
    "params": Declaration(KINDS, _names, internal=True),
    "claims": Declaration(KINDS, _names, internal=True),  # from gradbench_claims
}
"""Every declarable key (docs/remedies.md §4 documents the ones users write)."""


def check(kind: str, name: str, meta: Mapping[str, Any], obj: Any = None) -> None:
    """Refuse a declaration ``kind`` does not know, a value of the wrong form, or one
    lacking what it needs beside it (of the other declarations, or of ``obj``).

    Raises:
        InvalidArgument: one sentence naming the key or value and what it must be.
    """
    valid = {k: d for k, d in DECLARATIONS.items() if kind in d.kinds}
    for key, value in meta.items():
        if key not in valid:
            offered = [k for k, d in valid.items() if not d.internal]
            raise InvalidArgument(f"{kind} {name!r} declares {key!r}, which {kind}s cannot "
                                  f"declare: {choices_hint(key, offered)}")
        declaration = valid[key]
        problem = declaration.check(value, kind)
        if problem is None and declaration.needs is not None:
            problem = declaration.needs(meta, obj)
        if problem is not None:
            shown = f"<function {value.__qualname__}>" if inspect.isfunction(value) else repr(value)
            raise InvalidArgument(f"{kind} {name!r} declares {key}={shown}, which is invalid: "
                                  f"{problem}")


__all__ = ["DECLARATIONS", "DISTRIBUTIONS", "Declaration", "check"]
