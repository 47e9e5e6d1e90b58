"""One registry for every kind of remedy: register by decorator, look up by name.

A remedy is registered once, where it is defined::

    @register("activation", "tanh", paper="LeCun et al. 1998")
    def tanh(x): return torch.tanh(x)

and looked up everywhere else by name (``lookup("activation", "tanh")``). A name
may carry float keyword parameters, ``"leaky_relu(negative_slope=0.2)"``; they
are checked against the remedy's signature and bound with ``functools.partial``.

Third-party remedies come from the entry-point group ``gradbench.remedies``
(skipped when ``GRADBENCH_NO_PLUGINS`` is set) or from an import path named on
the command line. Tests use :func:`temporary`. This module never imports torch; the
built-in remedies are imported on the first lookup, and their declarations load without
torch too (each remedy imports it when first called, :mod:`gradbench._lazy`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from gradbench.errors import InvalidArgument, choices_hint

Kind = Literal["activation", "initializer", "normalization", "residual", "optimizer",
               "depth_scheme"]
"""The remedy kinds, for type checkers; :data:`REMEDY_KINDS` declares them (a test keeps the
two equal)."""
CRITICAL = "critical"
"""The setting value ``{"init": CRITICAL}``: an activation's own critical initialization."""


@dataclass(frozen=True)
class KindInfo:
    """Everything gradbench needs to know of one remedy kind, declared once.

    Attributes:
        slot: the spec field a remedy of this kind fills in the networks its claims build
            (``None``: it acts on training, not on the network at initialization, or, a
            depth scheme, it fills several fields of its family's spec at once).
        family: the spec family (``"mlp"``, ``"residual"``) those networks belong to.
        baselines: the built-ins a candidate of this kind is validated next to.
        standard_settings: where a remedy that declares no ``stable_for`` is tried by
            ``stable_somewhere`` (fields of the network's spec; docs/theory.md §9).
        guard: ``"module:function"`` of ``guard(kind, name, fn) -> fn'``, which wraps a
            user's object so that a wrong output is one clear error (``gradbench validate``).
    """

    slot: str | None
    family: str
    baselines: tuple[str, ...]
    standard_settings: tuple[Mapping[str, str], ...]
    guard: str


REMEDY_KINDS: dict[str, KindInfo] = {
    "activation": KindInfo(
        slot="activation", family="mlp", baselines=("relu", "tanh"),
        standard_settings=({"init": "he_normal"}, {"init": "xavier_normal"}, {"init": CRITICAL}),
        guard="gradbench.candidate:same_shape_guard"),
    "initializer": KindInfo(
        slot="init", family="mlp", baselines=("he_normal", "xavier_normal", "orthogonal"),
        standard_settings=({"activation": "relu"}, {"activation": "tanh"},
                           {"activation": "linear"}),
        guard="gradbench.candidate:initializer_guard"),
    "normalization": KindInfo(
        slot="norm", family="mlp", baselines=("layernorm", "batchnorm"),
        standard_settings=({"activation": "relu", "init": "he_normal"},
                           {"activation": "tanh", "init": "xavier_normal"}),
        guard="gradbench.candidate:same_shape_guard"),
    "residual": KindInfo(
        slot="branch_scale", family="residual", baselines=("1", "1/sqrt(L)"),
        standard_settings=({"activation": "relu", "init": "he_normal"},),
        guard="gradbench.candidate:residual_guard"),
    "optimizer": KindInfo(
        slot=None, family="mlp", baselines=("sgd", "adam"), standard_settings=(),
        guard="gradbench.candidate:optimizer_guard"),
    "depth_scheme": KindInfo(
        slot=None, family="transformer", baselines=("post_ln", "deepnorm"),
        standard_settings=(), guard="gradbench.candidate:scheme_guard"),
}
"""The remedy kinds: one descriptor each, from which the registry's kinds, the claims'
subjects, the CLI's choices, validate's guards and baselines and the stability settings
derive (docs/design.md §4)."""
KINDS: tuple[Kind, ...] = tuple(cast(Kind, kind) for kind in REMEDY_KINDS)
ENTRY_POINT_GROUP = "gradbench.remedies"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Remedy:
    """A registered remedy, optionally with bound parameters.

    Attributes:
        kind: one of :data:`KINDS`.
        name: the registry name, e.g. ``"leaky_relu"``.
        obj: the registered callable (parameters not bound).
        params: the parameter values bound by :meth:`fn` (defaults overridden by the name).
        paper: where the remedy comes from, for reports.
        meta: kind-specific declarations (an initializer's ``variance``, an activation's ``kinks``).
    """

    kind: str
    name: str
    obj: Callable[..., Any]
    params: Mapping[str, float] = field(default_factory=dict)
    paper: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fn(self) -> Callable[..., Any]:
        """The registered callable with :attr:`params` bound."""
        return functools.partial(self.obj, **self.params) if self.params else self.obj

    @property
    def label(self) -> str:
        """Canonical text form, ``name`` or ``name(k=v, ...)``; parses back to the same remedy."""
        if not self.params:
            return self.name
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.name}({args})"


_REMEDIES: dict[tuple[str, str], Remedy] = {}
_loaded = False
_plugin_problems: list[str] = []  # what was skipped while loading the plugins, in words
_loading_plugin: str | None = None  # the entry point being imported, while it is
_generation = 0
_NAME_RE = re.compile(r"^\s*([A-Za-z_][\w.\-/]*)\s*(?:\((.*)\))?\s*$")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidArgument(f"remedy kind {kind!r} is unknown; {choices_hint(kind, KINDS)}")


def register(
    kind: Kind, name: str | None = None, *, paper: str = "", replace: bool = False, **meta: Any
) -> Callable[[F], F]:
    """Register the decorated callable as remedy ``name`` of ``kind``.

    Args:
        kind: which registry.
        name: registry name; defaults to the callable's ``__name__``.
        paper: citation shown in reports.
        replace: allow overwriting an existing registration.
        **meta: kind-specific declarations, stored on :class:`Remedy`.

    Raises:
        InvalidArgument: the name is already taken and ``replace`` is false, or a
            declaration in ``meta`` is unknown for ``kind`` or of the wrong form
            (:mod:`gradbench.declarations`).
    """
    _check_kind(kind)

    def decorate(obj: F) -> F:
        key = (kind, name or obj.__name__)
        from gradbench.declarations import check

        try:
            check(kind, key[1], meta, obj)
        except InvalidArgument as exc:
            if _loading_plugin is None:
                raise
            # one bad remedy of a plugin is skipped, not the plugin's other remedies
            _skip_plugin_part(f"gradbench plugin {_loading_plugin!r}: {exc}; that remedy was "
                              "skipped")
            return obj
        if key in _REMEDIES and not replace:
            raise InvalidArgument(
                f"{kind} {key[1]!r} is already registered; pass replace=True to override it"
            )
        _REMEDIES[key] = Remedy(kind=kind, name=key[1], obj=obj, paper=paper, meta=dict(meta))
        _changed()
        return obj

    return decorate


def unregister(kind: Kind, name: str) -> None:
    """Remove a registration (used by :func:`temporary`)."""
    _REMEDIES.pop((kind, name), None)
    _changed()


def _changed() -> None:
    global _generation
    _generation += 1


def generation() -> int:
    """A counter that every registration change increases (never decreases).

    Caches of anything computed from registered remedies (``theory.predict``) key on it,
    so re-registering a name, even temporarily, is never served a stale result.
    """
    return _generation


def _ensure_loaded() -> None:
    """Import the built-in remedies and the entry-point plugins, once."""
    global _loaded, _loading_plugin
    if _loaded:
        return
    _loaded = True
    _plugin_problems.clear()
    importlib.import_module("gradbench.remedies")
    if os.environ.get("GRADBENCH_NO_PLUGINS"):
        return
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _loading_plugin = ep.name
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break gradbench itself
            _skip_plugin_part(
                f"gradbench plugin {ep.name!r} ({ep.value}) failed to load and was skipped: {exc}"
            )
        finally:
            _loading_plugin = None


def _skip_plugin_part(sentence: str) -> None:
    _plugin_problems.append(sentence)
    warnings.warn(sentence, stacklevel=3)


def plugin_problems() -> list[str]:
    """What loading the installed plugins skipped (a plugin that failed to import, a plugin
    remedy with a refused declaration), one sentence each; loads them if not yet done.

    Python use goes on with a warning; ``gradbench run`` counts the skipped remedies as
    not measured, so its run is incomplete and not a pass (docs/remedies.md §5).
    """
    _ensure_loaded()
    return list(_plugin_problems)


def names(kind: Kind) -> list[str]:
    """Sorted names registered under ``kind``."""
    _check_kind(kind)
    _ensure_loaded()
    return sorted(n for k, n in _REMEDIES if k == kind)


def parse_name(text: str) -> tuple[str, dict[str, float]]:
    """Split ``"name(k=1.5, j=2)"`` into ``("name", {"k": 1.5, "j": 2.0})``.

    Raises:
        InvalidArgument: the text is not of that form or a value is not a finite float.
    """
    match = _NAME_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidArgument(
            f"remedy name {text!r} is not of the form 'name' or 'name(param=value, ...)'"
        )
    name, arg_text = match.group(1), match.group(2)
    params: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (arg_text or "").split(","))):
        key, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not key.strip().isidentifier() or not math.isfinite(number):
            raise InvalidArgument(
                f"parameter {part!r} in remedy name {text!r} must be of the form "
                "name=<finite number>"
            )
        params[key.strip()] = number
    return name, params


def _accepted_params(obj: Callable[..., Any]) -> set[str] | None:
    """Tunable parameters of ``obj``: those with a default (None: any, it takes ``**kwargs``)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n for n, p in sig.parameters.items() if p.default is not p.empty}


def lookup(kind: Kind, text: str) -> Remedy:
    """The remedy registered as ``kind``/``text``, with any parameters in ``text`` bound.

    Raises:
        InvalidArgument: unknown kind or name (the message lists the known names and
            the closest match), or a parameter the remedy does not take.
    """
    _check_kind(kind)
    _ensure_loaded()
    exact = _REMEDIES.get((kind, text)) if isinstance(text, str) else None
    if exact is not None:  # names such as "1/sqrt(L)" are taken literally
        return exact
    if isinstance(text, str) and _NAME_RE.match(text) is None:  # e.g. a typo in "1/sqrt(L)"
        raise InvalidArgument(f"{kind} {text!r} is unknown; {choices_hint(text, names(kind))}")
    name, params = parse_name(text)
    remedy = _REMEDIES.get((kind, name))
    if remedy is None:
        raise InvalidArgument(f"{kind} {name!r} is unknown; {choices_hint(name, names(kind))}")
    if not params:
        return remedy
    accepted = _accepted_params(remedy.obj)
    param_names = set(remedy.meta.get("params", ())) or accepted
    for key in params:
        if param_names is not None and key not in param_names:
            valid = ", ".join(sorted(param_names)) or "none"
            raise InvalidArgument(
                f"{kind} {name!r} has no parameter {key!r}; its parameters are: {valid}"
            )
    return Remedy(remedy.kind, remedy.name, remedy.obj, params, remedy.paper, remedy.meta)


@contextmanager
def temporary(kind: Kind, name: str, obj: Callable[..., Any], **meta: Any) -> Iterator[Remedy]:
    """Register ``obj`` as ``kind``/``name`` for the duration of a ``with`` block.

    A registration that existed before is restored afterwards.
    """
    _ensure_loaded()
    previous = _REMEDIES.get((kind, name))
    register(kind, name, replace=True, **meta)(obj)
    try:
        yield _REMEDIES[(kind, name)]
    finally:
        if previous is None:
            unregister(kind, name)
        else:
            _REMEDIES[(kind, name)] = previous
            _changed()


def import_object(path: str) -> Any:
    """Import ``"pkg.module:attr"`` (or ``"pkg.module"``) named by the user.

    As ``python -m`` does, the current directory is searched too, so a user's
    ``my_remedies.py`` beside them imports without installing it. The module may also
    be a file, ``path/to/my_remedies.py:attr`` (relative or absolute): that file is
    loaded, under a module name of its own (so a ``json.py`` is not the standard
    library's), with its folder searched first; naming it again reuses the module.

    Raises:
        InvalidArgument: the module, file or attribute does not exist, or importing it
            raised (one sentence with the exception).
    """
    module_name, _, attr = path.partition(":")
    folder, file = os.getcwd(), None
    if module_name.endswith(".py") or os.sep in module_name or "/" in module_name:
        file = Path(module_name).expanduser()
        if file.suffix != ".py" or not file.is_file():
            raise InvalidArgument(
                f"cannot import {path!r}: {str(file)!r} is not a Python file; give "
                "'path/to/module.py:object' or 'package.module:object' (its folder on "
                "the path or the current directory)")
        file = file.resolve()
        folder = str(file.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module = _import_file(file) if file is not None else importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise InvalidArgument(
            f"cannot import {path!r}: module {exc.name!r} not found; give "
            "'package.module:object' with its folder on the path (or the current "
            "directory), or a file 'path/to/module.py:object'") from None
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InvalidArgument(
            f"importing {path!r} raised {type(exc).__name__}" + (f": {first}" if first else "")
        ) from None
    finally:
        if added:
            sys.path.remove(folder)
    if not attr:
        return module
    try:
        return cast(Any, functools.reduce(getattr, attr.split("."), module))
    except AttributeError:
        raise InvalidArgument(f"module {module_name!r} has no attribute {attr!r}") from None


def object_name(obj: Any, target: str) -> str:
    """The name a user's object named ``target`` (``"pkg.module:attr"``) is shown and stored
    under: its ``gradbench_name``, else its ``__name__``, else (an instance, a
    ``functools.partial``, a lambda, whose ``__name__`` is ``<lambda>``) the attribute the
    target names, ``attr``; ``"candidate"`` when that is not an identifier either."""
    name = getattr(obj, "gradbench_name", None) or getattr(obj, "__name__", None)
    if isinstance(name, str) and name and not name.startswith("<"):
        return name
    attr = target.rpartition(":")[2].rpartition(".")[2]
    return attr if attr.isidentifier() else "candidate"


def _import_file(file: Path) -> Any:
    """The module of the Python file ``file`` (absolute), imported once under a name of its
    own, ``gradbench_file_<stem>_<hash of the path>``, so no other module shadows it."""
    import hashlib
    import importlib.util

    digest = hashlib.sha256(str(file).encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", file.stem)
    name = f"gradbench_file_{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {str(file)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, as an import does (dataclasses need it)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
