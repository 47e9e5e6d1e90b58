"""Register a user's remedy (``pkg.module:object``) so the suites cover it.

Used by ``gradbench validate`` (the candidate) and ``gradbench run --remedy`` (an extra
remedy), through the plugin options ``--gradbench-candidate`` / ``--gradbench-remedy``,
so every process of a run (xdist workers included) registers the same remedy.

A remedy may declare, as attributes of the object:

* ``gradbench_kind``: ``initializer``, ``activation``, ``normalization``, ``residual``,
  ``optimizer`` or ``depth_scheme``; otherwise it is inferred where unambiguous (a
  ``torch.optim.Optimizer`` class or factory; ``scheme(depth) -> mapping`` of transformer
  fields; a function filling one tensor in place; an elementwise tensor-to-tensor function;
  a shape-preserving non-elementwise one; ``alpha(layer, depth) -> float``);
* ``gradbench_name``: the registry name (default: ``__name__``; for an instance, such as
  ``mish = torch.nn.Mish()``, the attribute name after the colon);
* ``gradbench_meta``: declarations, the same keys built-ins declare (``variance``,
  ``distribution``, ``stable_for``, ``invariances``, ``statistics``, ``law``, ``bounded``,
  ``reference``, ``first_step``, ``documented``, ``kinks``; a depth scheme's ``law``,
  ``output_change``, ``deepnet_identity``); each adds the claims that check it;
* ``gradbench_claims``: claim names; when given, only these claims are run.

A remedy that declares nothing is run through every standard claim of its kind. An
initializer without a declared variance gets its variance *measured* (mean square of a
float64 draw) so theory can still predict for it. Remedies run behind a guard that
turns a wrong shape, NaN or a wrong return type into one ``RemedyFailed`` sentence; an
activation, normalization, residual scaling or depth scheme whose output does not fit its
kind is refused at registration (:func:`check_fit`), before any test runs.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from gradbench import registry
from gradbench.errors import (
    CHECK_MODEL,
    InvalidArgument,
    RemedyFailed,
    RemedyMisfit,
    choices_hint,
    factory_form,
)

# --------------------------------------------------------------------------------------
# Guards: a misbehaving remedy becomes one RemedyFailed sentence
# --------------------------------------------------------------------------------------


def same_shape_guard(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """An activation or normalization returns a finite tensor of its input's shape."""

    @functools.wraps(fn)
    def guarded(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        y = fn(x, *args, **kwargs)
        if not isinstance(y, Tensor) or y.shape != x.shape:
            got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise RemedyMisfit(f"{kind} {name!r} returned {got} for an input of shape "
                               f"{tuple(x.shape)}")
        if not bool(torch.isfinite(y[torch.isfinite(x)]).all()):
            raise RemedyFailed(f"{kind} {name!r} returned NaN or inf for finite inputs")
        return y

    return guarded


def initializer_guard(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """An initializer fills (or returns) a finite tensor of the weight's shape."""

    @functools.wraps(fn)
    def guarded(w: Tensor, *args: Any, **kwargs: Any) -> None:
        out = fn(w, *args, **kwargs)
        if isinstance(out, Tensor) and out is not w:
            if out.shape != w.shape:
                raise RemedyFailed(f"initializer {name!r} returned shape {tuple(out.shape)} "
                                   f"for a weight of shape {tuple(w.shape)}")
            with torch.no_grad():
                w.copy_(out)
        if not bool(torch.isfinite(w).all()):
            raise RemedyFailed(f"initializer {name!r} filled the weight with NaN or inf")

    return guarded


def residual_guard(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A residual scaling returns a finite number for every layer."""

    @functools.wraps(fn)
    def guarded(layer: int, depth: int, *args: Any, **kwargs: Any) -> float:
        alpha = fn(layer, depth, *args, **kwargs)
        try:
            value = float(alpha)
        except (TypeError, ValueError):
            raise RemedyMisfit(f"residual scaling {name!r} returned a "
                               f"{type(alpha).__name__}, not a number") from None
        if not math.isfinite(value):
            raise RemedyFailed(f"residual scaling {name!r} returned {value} for layer {layer}")
        return value

    return guarded


def optimizer_guard(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """An optimizer factory takes ``lr`` and returns a ``torch.optim.Optimizer``."""
    try:
        parameters = inspect.signature(fn).parameters.values()
        takes_lr = any(p.name == "lr" or p.kind is p.VAR_KEYWORD for p in parameters)
    except (TypeError, ValueError):  # no signature to read: let the call tell
        takes_lr = True

    @functools.wraps(fn)
    def guarded(params: Any, *args: Any, **kwargs: Any) -> torch.optim.Optimizer:
        if "lr" in kwargs and not takes_lr:
            raise RemedyMisfit(f"optimizer {name!r} takes no lr keyword; an optimizer is "
                               "fn(params, *, lr=...) -> torch.optim.Optimizer, or an "
                               "Optimizer class")
        opt = fn(params, *args, **kwargs)
        if not isinstance(opt, torch.optim.Optimizer):
            raise RemedyMisfit(f"optimizer {name!r} returned a {type(opt).__name__}, "
                               "not a torch.optim.Optimizer")
        return opt

    return guarded


def scheme_guard(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A depth scheme returns a mapping of TransformerSpec fields it may set (the spec then
    checks each value)."""
    from gradbench.remedies.schemes import SCHEME_FIELDS
    from gradbench.specs import TransformerSpec

    @functools.wraps(fn)
    def guarded(depth: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
        fields = fn(depth, *args, **kwargs)
        if not isinstance(fields, Mapping):
            raise RemedyMisfit(f"depth scheme {name!r} returned a {type(fields).__name__} for "
                               f"depth={depth}, not a mapping of TransformerSpec fields")
        unknown = sorted(str(k) for k in fields if k not in SCHEME_FIELDS)
        if unknown:
            raise RemedyMisfit(f"depth scheme {name!r} set {', '.join(unknown)}; a scheme sets "
                               f"only: {', '.join(SCHEME_FIELDS)}")
        try:  # each value as the spec checks it (a misspelt placement, a negative scale)
            TransformerSpec(depth=depth, width=8, **fields)
        except InvalidArgument as exc:
            raise RemedyMisfit(f"depth scheme {name!r} at depth={depth}: {exc}") from None
        return dict(fields)

    return guarded


def _sample(*shape: int) -> Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))


FIT_CALLS: dict[str, Callable[[Callable[..., Any]], object]] = {
    "activation": lambda fn: [fn(_sample(416)), fn(_sample(4, 16))],
    "normalization": lambda fn: fn(_sample(4, 16)),
    "residual": lambda fn: [fn(layer, 4) for layer in range(4)],
    "depth_scheme": lambda fn: [fn(depth) for depth in (1, 4)],
    "optimizer": lambda fn: fn([torch.zeros(2, requires_grad=True)], lr=1e-3),
}
"""Calls of a guarded remedy that show, before any test runs, an output that does not fit
its kind (theory calls some of these kinds while the tests are collected; an optimizer
without an ``lr`` keyword would fail every claim in the run instead)."""


def check_fit(kind: str, guarded: Callable[..., Any], target: str, obj: Any) -> None:
    """Refuse a remedy whose output does not fit ``kind`` on :data:`FIT_CALLS`' inputs; one
    that raises or returns NaN there is let through (its claims fail in the run).

    Raises:
        InvalidArgument: one sentence with the guard's finding.
    """
    calls = FIT_CALLS.get(kind)
    if calls is None:
        return
    try:
        with torch.no_grad():
            calls(guarded)
    except RemedyMisfit as exc:
        hint = ("; it is a class: name an instance of it"  # an Optimizer class is valid
                if isinstance(obj, type) and kind != "optimizer" else "")
        raise InvalidArgument(f"{target!r} cannot be validated as {kind}: {exc}{hint}") from None
    except Exception:
        return


def guard_remedy(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` wrapped by the guard its kind declares (:data:`gradbench.registry.REMEDY_KINDS`)."""
    guard = registry.import_object(registry.REMEDY_KINDS[kind].guard)
    return guard(kind, name, fn)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------
# Kind inference
# --------------------------------------------------------------------------------------


def _is_optimizer(obj: Any) -> bool:
    if isinstance(obj, type):
        return issubclass(obj, torch.optim.Optimizer)
    try:
        return isinstance(obj([torch.zeros(2, requires_grad=True)]), torch.optim.Optimizer)
    except Exception:
        return False


def _is_residual(obj: Any) -> bool:
    try:
        value = obj(1, 4)
    except Exception:
        return False
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tensor_kind(obj: Any) -> str | None:
    """``initializer`` (fills its argument in place), ``activation`` (elementwise) or
    ``normalization`` (shape-preserving, not elementwise), or None."""
    w = torch.full((6, 8), math.nan, dtype=torch.float64)
    try:
        with torch.no_grad():
            out = obj(w, generator=torch.Generator().manual_seed(0))
    except TypeError:
        try:
            with torch.no_grad():
                out = obj(w)
        except Exception:
            return None
    except Exception:
        return None
    if bool(torch.isfinite(w).all()) and (out is None or out is w):
        return "initializer"
    x = torch.randn(4, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    try:
        y0 = obj(x.clone())
        bumped = x.clone()
        bumped[0, 0] += 0.5
        y1 = obj(bumped)
    except Exception:
        return None
    if not (isinstance(y0, Tensor) and isinstance(y1, Tensor) and y0.shape == x.shape):
        return None
    changed = (y1 - y0).abs() > 1e-12
    changed[0, 0] = False
    return "normalization" if bool(changed.any()) else "activation"


def infer_kind(obj: Any, target: str) -> str:
    """The remedy kind of ``obj``: declared, or inferred where unambiguous.

    Raises:
        InvalidArgument: the kind cannot be told (one sentence listing the kinds).
    """
    declared = getattr(obj, "gradbench_kind", None)
    if declared is not None:
        if declared not in registry.KINDS:
            raise InvalidArgument(f"gradbench_kind={declared!r} of {target!r} is unknown; "
                                  f"{choices_hint(declared, registry.KINDS)}")
        return str(declared)
    kind = _inferred(obj)
    if kind is None:
        _refuse_a_model(obj, target)
        failure = _failure(obj, target)
        why = f": {failure}" if failure is not None else ""
        raise InvalidArgument(
            f"cannot tell what kind of remedy {target!r} is{why}; set its attribute "
            f"gradbench_kind (valid choices: {', '.join(registry.KINDS)}), or pass --kind to "
            "gradbench validate")
    return kind


def _refuse_a_model(obj: Any, target: str) -> None:
    """One sentence for a block factory or a whole model's factory given where a remedy is
    needed (their calls as an initializer fail with a TypeError that says nothing useful).

    A block factory is ``factory(width, *, layer, depth, generator)``; a model factory
    takes only keywords (``model(*, generator)``, docs/blocks.md §6)."""
    form = factory_form(obj)
    if form == "block":
        raise InvalidArgument(f"{target!r} is a block factory, not a remedy: measure it with "
                              f"gradbench validate {target} (docs/blocks.md)")
    if form == "model":
        raise InvalidArgument(
            f"{target!r} takes only keywords, as a model factory model(*, generator) does, "
            f"not a remedy or a block factory(width, *, layer, depth, generator); check a "
            f"whole model from Python with {CHECK_MODEL}")


def _is_scheme(obj: Any) -> bool:
    try:
        value = obj(4)
    except Exception:
        return False
    return isinstance(value, Mapping)


def _inferred(obj: Any) -> str | None:
    """The kind ``obj`` behaves as, or ``None`` when no probe tells."""
    if _is_optimizer(obj):
        return "optimizer"
    if _is_scheme(obj):
        return "depth_scheme"
    return _tensor_kind(obj) or ("residual" if _is_residual(obj) else None)


def _failure(obj: Any, name: str) -> str | None:
    """How ``obj`` fails as the kind its signature suggests (``None``: it does not).

    A callable with a ``generator`` parameter is called as an initializer (behind its guard,
    so NaN is told); any other on a plain float64 tensor."""
    if _has_generator_parameter(obj):
        how, fn = "calling it as an initializer on a weight of shape (4, 16)", \
            initializer_guard("initializer", name, obj)
        args: tuple[Any, ...] = (torch.full((4, 16), math.nan, dtype=torch.float64),)
        kwargs: dict[str, Any] = {"generator": torch.Generator().manual_seed(0)}
    else:
        how, fn, kwargs = "calling it on a tensor of shape (4, 16)", obj, {}
        args = (torch.randn(4, 16, dtype=torch.float64,
                            generator=torch.Generator().manual_seed(1)),)
    try:
        with torch.no_grad():
            fn(*args, **kwargs)
    except RemedyFailed as exc:
        return f"{how}: {exc}"
    except Exception as exc:
        return f"{how} raised {_one_line(exc)}"
    return None


def _has_generator_parameter(obj: Any) -> bool:
    try:
        return "generator" in inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return False


def _one_line(exc: BaseException) -> str:
    """``ValueError: the message`` (its first line)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _check_kind(obj: Any, target: str, kind: str) -> None:
    """Refuse ``kind`` when ``obj`` declares or plainly behaves as another kind.

    Activation and normalization are told apart only by whether outputs mix features,
    which an unusual remedy of either kind may not show, so one is accepted as the other.

    Raises:
        InvalidArgument: one sentence naming both kinds, or what a block or model factory
            given a remedy kind is (:func:`_refuse_a_model`).
    """
    declared = getattr(obj, "gradbench_kind", None)
    if declared is None:
        _refuse_a_model(obj, target)
    behaves = declared if declared is not None else _inferred(obj)
    if behaves is None or behaves == kind or {behaves, kind} <= {"activation", "normalization"}:
        return
    how = "declares gradbench_kind" if declared is not None else "behaves as"
    raise KindMismatch(f"--kind {kind} does not fit {target!r}, which {how} {behaves!r}; "
                       f"pass --kind {behaves} or leave --kind out", target, kind, behaves, how)


class KindMismatch(InvalidArgument):
    """A kind given for a remedy that declares or plainly behaves as another
    (:func:`_check_kind`); its attributes let a caller that did not take ``--kind`` (such as
    :func:`gradbench.check`, whose claim gave the kind) word the sentence its own way."""

    def __init__(self, message: str, target: str, kind: str, behaves: str, how: str):
        super().__init__(message)
        self.target, self.kind, self.behaves, self.how = target, kind, behaves, how


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------


def measured_variance(fn: Callable[..., Any]) -> Callable[..., float]:
    """``variance(fan_in, fan_out)`` measured as the mean square of a float64 draw (cached)."""

    @functools.lru_cache(maxsize=64)
    def variance(fan_in: int, fan_out: int, **_: Any) -> float:
        w = torch.empty(fan_out, fan_in, dtype=torch.float64)
        fn(w, generator=torch.Generator().manual_seed(0))
        return float((w * w).mean())

    return variance


def _takes_generator(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "generator" or p.kind is p.VAR_KEYWORD for p in params)


def seeded_initializer(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(w, *, generator)`` for an initializer without a ``generator`` argument.

    ``torch.nn.init.eye_``, ``zeros_``, ``constant_`` and user functions drawing from the
    global generator are called with the global generator seeded from ``generator``
    (inside ``torch.random.fork_rng``, so the caller's global state is untouched): the
    draw stays a pure function of the configuration."""
    if _takes_generator(fn):
        return fn

    @functools.wraps(fn)
    def seeded(w: Tensor, *, generator: torch.Generator) -> Any:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return fn(w)

    return seeded


def _measured_law(fn: Callable[..., Any]) -> dict[str, Any]:
    """What theory must know of an undeclared initializer, from two 256 x 256 draws.

    Equal draws under different generators: ``distribution="deterministic"`` (eye_,
    constant_). A mean more than 6 standard errors from 0: ``centred=False`` (uniform_ on
    [0, 1)). Mean field assumes i.i.d. zero-mean weights, so neither gets a prediction.
    An initializer that raises declares nothing here: its claims fail in the run."""
    draws = []
    for seed in (0, 1):
        w = torch.empty(256, 256, dtype=torch.float64)
        try:
            with torch.no_grad():
                fn(w, generator=torch.Generator().manual_seed(seed))
        except Exception:
            return {}  # a remedy that raises fails its claims in the run, with the error
        draws.append(w)
    if torch.equal(draws[0], draws[1]):
        return {"distribution": "deterministic"}
    w = draws[0]
    if abs(float(w.mean())) > 6.0 * float(w.std()) / math.sqrt(w.numel()):
        return {"centred": False}
    return {}


def _optimizer_factory(obj: Any) -> Callable[..., Any]:
    """A ``torch.optim.Optimizer`` class as a factory ``fn(params, *, lr=None, **kw)``."""
    if not isinstance(obj, type):
        return obj  # type: ignore[no-any-return]

    @functools.wraps(obj, updated=())
    def factory(params: Any, **kwargs: Any) -> torch.optim.Optimizer:
        return obj(params, **{k: v for k, v in kwargs.items() if v is not None})

    return factory


def declarations(obj: Any, kind: str, fn: Callable[..., Any]) -> dict[str, Any]:
    """The registry metadata of a user remedy: its ``gradbench_meta``, plus what theory needs."""
    meta = dict(getattr(obj, "gradbench_meta", None) or {})
    if not all(isinstance(k, str) for k in meta):
        raise InvalidArgument(f"gradbench_meta={meta!r} must map declaration names to values")
    if kind == "initializer" and "variance" not in meta:
        meta.update(variance=measured_variance(fn), variance_measured=True)
    if kind == "initializer" and "distribution" not in meta:
        meta.update(_measured_law(fn))
    claims = getattr(obj, "gradbench_claims", None)
    if claims is not None:
        if isinstance(claims, str) or not all(isinstance(c, str) for c in claims):
            raise InvalidArgument(f"gradbench_claims={claims!r} must be a list of claim names")
        from gradbench.claims import get_claim

        for name in claims:
            get_claim(name)  # one sentence for an unknown claim name
        meta["claims"] = tuple(claims)
    return meta


def resolve_target(target: str, kind: str | None = None) -> tuple[str, str]:
    """``(kind, name)`` ``target`` is (or will be) registered under, without registering it.

    Raises:
        InvalidArgument: the target cannot be imported or its kind told.
    """
    return _resolve(target, kind)[:2]  # type: ignore[return-value]


def _resolve(target: str, kind: str | None) -> tuple[str, str, Any]:
    if kind is not None and kind not in registry.KINDS:
        raise InvalidArgument(f"kind={kind!r} is unknown; {choices_hint(kind, registry.KINDS)}")
    if ":" not in target:
        return (*_registered(target, kind), None)
    return _identify(registry.import_object(target), target, kind)


def _identify(obj: Any, target: str, kind: str | None) -> tuple[str, str, Any]:
    """``(kind, name, obj)`` of a user's remedy object (``target`` names it in messages; its
    name is :func:`gradbench.registry.object_name`)."""
    if not callable(obj):
        raise InvalidArgument(f"{target!r} is a {type(obj).__name__}, not a callable remedy")
    if kind is None:
        kind = infer_kind(obj, target)
    else:
        _check_kind(obj, target, kind)
    base = registry.object_name(obj, target)
    taken = set(registry.names(kind))  # type: ignore[arg-type]
    return kind, (base if base not in taken else f"{base}_candidate"), obj


def register_target(target: str, kind: str | None = None) -> tuple[str, str]:
    """Import ``target`` (``"pkg.module:object"``, or ``path/to/file.py:object``) and
    register it; returns ``(kind, name)``.

    A target naming an already registered remedy (``"he_normal"``, with ``kind``) is
    returned as is. Claims the remedy names in ``gradbench_claims`` must apply to it.

    Raises:
        InvalidArgument: the target cannot be imported, its kind is unknown or is not
            ``kind``, or it declares an unknown claim or one that does not apply to it.
    """
    kind, name, obj = _resolve(target, kind)
    if obj is None:
        return kind, name
    return _register(obj, target, kind, name)


def check_target(target: str, kind: str | None = None) -> tuple[str, str]:
    """``(kind, name)`` of ``target`` once it has passed every check of
    :func:`register_target` (import, kind, declarations, fit, claims), the registry left as
    it was: for a command whose run registers the target itself, in every process.

    Raises:
        InvalidArgument: as :func:`register_target`.
    """
    kind, name = register_target(target, kind)
    if ":" in target:
        registry.unregister(kind, name)  # type: ignore[arg-type]
    return kind, name


def register_object(obj: Any, kind: str | None = None) -> tuple[str, str]:
    """Register a remedy given as the object itself; returns ``(kind, name)``. An object
    without ``gradbench_name`` or ``__name__`` is named after its class (``torch.nn.Mish()``:
    ``"Mish"``), a ``functools.partial`` after its function.

    Raises:
        InvalidArgument: as :func:`register_target`.
    """
    wrapped = getattr(obj, "func", None)  # a functools.partial: named after its function
    shown = (getattr(obj, "__qualname__", None) or getattr(wrapped, "__name__", None)
             or type(obj).__name__)
    target = f"{getattr(obj, '__module__', '?')}:{shown}"
    if kind is not None and kind not in registry.KINDS:
        raise InvalidArgument(f"kind={kind!r} is unknown; {choices_hint(kind, registry.KINDS)}")
    kind, name, obj = _identify(obj, target, kind)
    return _register(obj, target, kind, name)


def _register(obj: Any, target: str, kind: str, name: str) -> tuple[str, str]:
    fn = {"optimizer": _optimizer_factory, "initializer": seeded_initializer}.get(
        kind, lambda f: f)(obj)
    guarded = guard_remedy(kind, name, fn)
    check_fit(kind, guarded, target, obj)
    meta = declarations(obj, kind, fn)
    doc = str(getattr(obj, "__doc__", "") or "").strip().split("\n")[0][:120]
    registry.register(kind, name, paper=doc, replace=True,  # type: ignore[arg-type]
                      **meta)(guarded)
    from gradbench.claims import applicable
    from gradbench.claims.stability import setting_problem

    remedy = registry.lookup(kind, name)  # type: ignore[arg-type]
    problem = setting_problem(remedy)
    for claim_name in meta.get("claims", ()):
        reason = applicable(remedy, claim_name)
        if problem is None and reason is not None:
            problem = f"declares claim {claim_name!r}, which does not apply to it: {reason}"
    if problem is not None:
        registry.unregister(kind, name)  # type: ignore[arg-type]
        raise InvalidArgument(f"{target!r} {problem}")
    return kind, name


def _registered(target: str, kind: str | None) -> tuple[str, str]:
    found = []
    for k in [kind] if kind else list(registry.KINDS):
        try:
            found.append((k, registry.lookup(k, target).label))  # type: ignore[arg-type]
        except InvalidArgument:
            continue
    if len(found) > 1:
        raise InvalidArgument(f"{target!r} is registered as {', '.join(k for k, _ in found)}; "
                              "pass --kind to choose one")
    if not found:
        where = f"{kind} " if kind else ""
        raise InvalidArgument(f"{target!r} is not a registered {where}remedy and not an import "
                              "path 'pkg.module:object'")
    return found[0]  # type: ignore[return-value]


__all__ = ["check_target", "declarations", "guard_remedy", "infer_kind", "measured_variance",
           "register_object", "register_target", "resolve_target"]
