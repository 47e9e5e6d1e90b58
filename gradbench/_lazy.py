"""A module imported on first use, so that remedy declarations load without torch.

The built-in remedies (:mod:`gradbench.remedies`) are torch functions, but their
registrations (names, papers, declared variances, NumPy references) are plain data that
the torch-free layers (specs, theory, report) read. Each remedy module therefore binds
``torch = lazy_import("torch")`` and only touches it inside function bodies: importing
the module registers everything, and torch is imported when a remedy is first *called*.

Unlike :class:`importlib.util.LazyLoader`, nothing is put in ``sys.modules`` before the
first attribute access, so ``"torch" in sys.modules`` still tells whether torch was
really imported (``tests/test_layering.py`` relies on this).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``; the first attribute access imports it."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_import(name: str) -> Any:
    """A stand-in for ``import name`` that imports the module on first attribute access.

    Examples:
        >>> math = lazy_import("math")
        >>> math
        <lazy module 'math' (not imported yet)>
        >>> math.sqrt(4.0)
        2.0
    """
    return LazyModule(name)
