r"""Claims about normalizations: their declared invariances hold, their outputs are normalized.

A normalization declares ``invariances`` (a subset of ``("shift", "scale")``) and the
``statistics`` it divides by, i.e. the axis it normalizes over (``"feature"``: per
example, LayerNorm/RMSNorm; ``"batch"``: per feature over the batch, BatchNorm). Declared
``shift`` invariance means
:math:`f(h + b\mathbf 1) = f(h)` for a constant :math:`b` along that axis, and the output
has mean 0 along it; declared ``scale`` invariance means :math:`f(a h) = f(h)` for
:math:`a > 0`, and the output has mean square 1 along it (up to the normalization's
:math:`\epsilon`, negligible at the input variance used, :math:`10^4`). LayerNorm without
mean-centering (an RMSNorm) fails the shift invariance it declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gradbench.claims._registry import claim
from gradbench.claims._verdicts import exact
from gradbench.records import Verdict

INVARIANCE_RTOL = 1e-7
"""Allowed relative change of the output under a declared invariance (eps/variance ~ 1e-9)."""
AXES = {"feature": -1, "batch": -2}


def _declares_invariances(remedy: Any) -> str | None:
    meta: Mapping[str, Any] = getattr(remedy, "meta", {})
    if not meta.get("invariances"):
        return "the normalization declares no invariances"
    if meta.get("statistics") not in AXES:
        return (f"declared statistics {meta.get('statistics')!r} is not one of "
                f"{', '.join(AXES)}")
    return None


@claim(
    "normalization_invariance",
    statement="The normalization has the invariances it declares along the axis of its "
    "statistics "
    "(shift: f(h + b) = f(h), output mean 0; scale: f(a h) = f(h), output mean square 1).",
    statistic=f"largest relative violation over a [4, 32, 64] float64 input of variance 1e4 "
    f"(exact, tolerance {INVARIANCE_RTOL:g})",
    domain="normalizations declaring invariances and statistics (feature or batch)",
    source="Ioffe & Szegedy 2015; Ba et al. 2016; Zhang & Sennrich 2019",
    subjects="normalization",
    role="consistency",
    measure="gradbench.claim_probes:normalization_outputs",
    applies=_declares_invariances,
    exact=True,
)
def normalization_invariance(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                             **config: Any) -> Verdict:
    """Worst violation of each declared invariance and output moment."""
    axis = AXES[remedy.meta["statistics"]]
    base = data["out"]
    scale = 1.0 + np.abs(base)
    checks: dict[str, float] = {}
    declared = tuple(remedy.meta["invariances"])
    if "shift" in declared:
        checks["shift"] = float(np.max(np.abs(data["out_shifted"] - base) / scale))
        checks["mean 0"] = float(np.max(np.abs(base.mean(axis=axis))))
    if "scale" in declared:
        checks["scale"] = float(np.max(np.abs(data["out_scaled"] - base) / scale))
        checks["mean square 1"] = float(np.max(np.abs((base**2).mean(axis=axis) - 1.0)))
    worst_name = max(checks, key=checks.__getitem__)
    return exact("normalization_invariance", remedy, dict(config), predicted=0.0,
                 measured=checks[worst_name], worst=checks[worst_name] / INVARIANCE_RTOL,
                 alpha=alpha, n=int(base.size), tolerance=f"relative {INVARIANCE_RTOL:g}",
                 note=f"declared {', '.join(declared)} over {remedy.meta['statistics']} "
                 "statistics; worst: "
                 f"{worst_name}; " + ", ".join(f"{k} {v:.3g}" for k, v in checks.items()))
