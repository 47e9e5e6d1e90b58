"""Exceptions raised by gradbench.

Every user-facing error is an :class:`InvalidArgument` (a ``ValueError``) whose
message is one sentence naming the bad value and the valid choices; the CLI
prints that sentence and exits with status 2 instead of showing a traceback.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
import operator
from collections.abc import Iterable


class GradbenchError(Exception):
    """Base class of every exception gradbench raises on purpose."""


class InvalidArgument(GradbenchError, ValueError):
    """A user-supplied value (spec field, remedy name, file, option) is invalid."""


class ClaimFailed(GradbenchError, AssertionError):
    """A claim does not hold. The message is :func:`gradbench.claims.explain` of ``verdict``
    (the failing :class:`~gradbench.records.Verdict`); pytest shows that message alone, no
    traceback, when gradbench is in use."""

    def __init__(self, message: str, verdict: object = None) -> None:
        super().__init__(message)
        self.verdict = verdict

    def __reduce__(self) -> tuple[type, tuple[str, object]]:
        return type(self), (str(self), self.verdict)


class RemedyFailed(GradbenchError):
    """A remedy raised, returned non-finite values or the wrong shape while measuring."""


class RemedyMisfit(RemedyFailed):
    """A remedy returned the wrong type or shape for its kind (not a numerical failure)."""


CHECK_MODEL = ("gb.check(model, blocks=r'layers\\.\\d+', example_input=lambda g: ...) "
               "(docs/blocks.md §6)")
"""How a whole model is checked, from a factory ``model(*, generator)``."""

MODEL_FACTORY = ("a factory model(*, generator) -> nn.Module instead (every seed needs a fresh "
                 f"copy), with the blocks and an input function: {CHECK_MODEL}")

SPEC = ("a spec such as gb.MLPSpec(...) to measure generated networks; measure your own model "
        "through a factory model(*, generator) -> nn.Module (every seed needs a fresh copy): "
        "gradbench.blocks.profile_model(model, blocks=r'layers\\.\\d+', example_input=lambda "
        "g: ...), or gb.check with the same arguments (docs/blocks.md §6)")


def is_module(obj: object) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` instance; torch-free (checks the MRO)."""
    return any(c.__name__ == "Module" and c.__module__ == "torch.nn.modules.module"
               for c in type(obj).__mro__)


def refuse_module(obj: object, api: str, instead: str) -> None:
    """Raise one sentence (not the module's repr) when ``obj`` is a ``torch.nn.Module``
    instance given where gradbench needs a spec or a factory: a model is measured through a
    factory, since every seed needs a fresh copy (docs/blocks.md); ``instead`` says which.
    Torch-free (checks the MRO)."""
    if is_module(obj):
        raise InvalidArgument(
            f"{api} got a torch.nn.Module instance ({type(obj).__name__}); pass {instead}")


def factory_form(obj: object) -> str | None:
    """``"block"`` for a block factory ``factory(width, *, layer, depth, generator)``
    (keyword parameters ``layer``, ``depth`` and ``generator``, or ``**kwargs`` and
    ``generator``), ``"model"`` for a whole model's factory ``model(*, generator)`` (keyword
    parameters only, one of them ``generator``), else ``None`` (docs/blocks.md §1, §6).
    Torch-free: a module instance is told by :func:`refuse_module`."""
    if not callable(obj):
        return None
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    names = {p.name for p in params}
    if "generator" not in names:
        return None
    if {"layer", "depth"} <= names or any(p.kind is p.VAR_KEYWORD for p in params):
        return "block"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                  inspect.Parameter.VAR_POSITIONAL)
    return None if any(p.kind in positional for p in params) else "model"


def check_alpha(alpha: object) -> float:
    """``alpha``, a significance level in (0, 0.5) (a two-sided interval at ``1 - 2 alpha``
    needs ``alpha < 0.5``); else one sentence."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not (
            0 < float(alpha) < 0.5):
        raise InvalidArgument(f"alpha={alpha!r} is invalid: must be in (0, 0.5)")
    return float(alpha)


def as_integer(value: object) -> int | None:
    """``value`` as a Python ``int`` when it is an integer (``int``, ``numpy.int64`` from
    ``np.arange``, ...; not a ``bool``, a bool array or tensor, or a float), else ``None``:
    the form a count or a seed is stored in, so a configuration and its seeds do not depend
    on the integer type."""
    if (isinstance(value, (bool, float)) or type(value).__name__ == "bool_"
            or str(getattr(value, "dtype", "")) in ("bool", "torch.bool")):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def choices_hint(value: object, choices: Iterable[str]) -> str:
    """Return ``"did you mean 'x'? valid choices: a, b, c"`` for an error message."""
    options = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}valid choices: {', '.join(options)}"
