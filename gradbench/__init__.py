"""gradbench: a property-based benchmark and test suite for gradient flow in deep networks.

Public API (docs/design.md)::

    import gradbench as gb
    spec = gb.MLPSpec(depth=50, width=256, activation="tanh", init="xavier_normal")
    m = gb.measure(spec, seeds=16, batch=64)       # Measurement: [seeds, layers] arrays
    p = gb.theory.predict(spec)                     # Prediction with its validity domain
    v = gb.check(spec, claim="mean_field_slope")    # Verdict: passed, pvalue, CI, ...

Names are imported lazily, so ``import gradbench`` (and the torch-free modules
``theory``, ``stats``, ``report``, ``records``, ``specs``) do not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
SUITE_VERSION = "0.1"
"""Results are comparable only between runs with the same suite version (major.minor)."""

_LAZY = {
    "MLPSpec": "gradbench.specs",
    "ResidualSpec": "gradbench.specs",
    "RNNSpec": "gradbench.specs",
    "Conv1DSpec": "gradbench.specs",
    "TransformerSpec": "gradbench.specs",
    "Conv2DSpec": "gradbench.specs",
    "ResConv2DSpec": "gradbench.specs",
    "spec_from_dict": "gradbench.specs",
    "Measurement": "gradbench.records",
    "Prediction": "gradbench.records",
    "Verdict": "gradbench.records",
    "GradbenchError": "gradbench.errors",
    "InvalidArgument": "gradbench.errors",
    "register": "gradbench.registry",
    "lookup": "gradbench.registry",
    "measure": "gradbench.probe",
    "measure_reference": "gradbench.probe",
    "build_module": "gradbench.models",
    "check": "gradbench.claims",
}
_SUBMODULES = {
    "theory",
    "stats",
    "report",
    "records",
    "registry",
    "specs",
    "strategies",
    "probe",
    "models",
    "check",
    "errors",
    "training",
    "cli",
}

__all__ = sorted([*_LAZY, "SUITE_VERSION", "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from gradbench.claims import check
    from gradbench.errors import GradbenchError, InvalidArgument
    from gradbench.models import build_module
    from gradbench.probe import measure, measure_reference
    from gradbench.records import Measurement, Prediction, Verdict
    from gradbench.registry import lookup, register
    from gradbench.specs import (
        Conv1DSpec,
        Conv2DSpec,
        MLPSpec,
        ResConv2DSpec,
        ResidualSpec,
        RNNSpec,
        TransformerSpec,
        spec_from_dict,
    )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"gradbench.{name}")
    raise AttributeError(f"module 'gradbench' has no attribute {name!r}")
