r"""Claims about residual branch scalings: their documented law, and bounded growth with depth.

In a ReLU residual net with He branches the squared gradient norm grows by
:math:`\prod_l (1 + \alpha_l^2 v)` end to end (docs/theory.md §4.1; :math:`v` the branch
gain). A scaling declares ``law(depth, v)``, the documented value of
:math:`\sum_l \ln(1 + \alpha_l^2 v)` (e.g. :math:`L \ln(1 + v/L)` for
:math:`\alpha = 1/\sqrt L`; the remedy's parameters are passed too), written
independently of its ``alpha(layer, depth)``; and
``bounded``: whether the end-to-end growth stays bounded as the depth grows (true for
``1/sqrt(L)``, ``1/l``, the zero-initialized branches; false for a constant alpha).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gradbench.claims._registry import EQUIVALENCE_ALPHA, claim, unless_declared_false
from gradbench.claims._verdicts import equivalence, exact
from gradbench.records import Verdict

BOUNDED_MARGIN = 0.3
"""Allowed change of the end-to-end ln gradient-norm growth from depth L to 4L (factor 1.35)."""


def growth_from_alphas(alphas: np.ndarray, v: float) -> float:
    """End-to-end ln squared-gradient growth ``sum_l ln(1 + alpha_l^2 v)`` (docs/theory.md §4.1)."""
    return float(np.sum(np.log1p(np.asarray(alphas, dtype=float) ** 2 * v)))


def _declares_law(remedy: Any) -> str | None:
    return None if "law" in getattr(remedy, "meta", {}) else "the scaling declares no law"


@claim(
    "residual_scaling_law",
    statement="The branch scaling follows its documented law: sum_l ln(1 + alpha_l^2 v) from "
    "its alpha(layer, depth) equals the declared law(depth, v).",
    statistic="relative difference at the drawn depth and branch gain (exact, tolerance 1e-9)",
    domain="residual scalings declaring law; depths 1..256, v in [0.25, 4]",
    source="Hanin & Rolnick 2018; Yang & Schoenholz 2017; De & Smith 2020 (docs/theory.md §4)",
    subjects="residual",
    role="consistency",
    measure="gradbench.claim_probes:residual_alphas",
    applies=_declares_law,
    exact=True,
)
def residual_scaling_law(remedy: Any, data: Mapping[str, Any], alpha: float, depth: int,
                         v: float, **config: Any) -> Verdict:
    """Growth implied by the alphas vs the declared law."""
    gain = 0.0 if data["zero_out"] else v * data["w1_scale"] ** 2
    got = growth_from_alphas(data["alphas"], gain)
    want = float(remedy.meta["law"](depth, v, **remedy.params))
    worst = abs(got - want) / (1e-9 * max(1.0, abs(want)))
    return exact("residual_scaling_law", remedy, {"depth": depth, "v": v, **config},
                 predicted=want, measured=got, worst=worst, alpha=alpha, n=depth,
                 tolerance="relative 1e-9",
                 note="measured: sum ln(1 + alpha_l^2 v) from the scaling's alphas")



@claim(
    "residual_bounded_in_depth",
    statement="With this scaling the end-to-end gradient growth of a ReLU/He residual net "
    f"stays bounded in depth: going from L to 4L blocks changes it by less than a factor "
    f"e^{BOUNDED_MARGIN}.",
    statistic="per seed pair, ln-growth(4L) - ln-growth(L) of independent networks; TOST "
    f"across pairs with margins +-{BOUNDED_MARGIN}",
    domain="residual scalings not declaring bounded=False; ReLU, He branches, width 256, "
    "L in [4, 12]",
    source="Hanin & Rolnick 2018; Zhang, Dauphin & Ma 2019 (docs/theory.md §4)",
    subjects="residual",
    role="stability",
    measure="gradbench.claim_probes:residual_depth_pair",
    applies=unless_declared_false("bounded", "the scaling declares unbounded growth"),
    alpha=EQUIVALENCE_ALPHA,
)
def residual_bounded_in_depth(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                              depth: int, **config: Any) -> Verdict:
    """TOST on the change of end-to-end ln growth from depth L to 4L."""
    diff = data["deep"] - data["shallow"]
    return equivalence("residual_bounded_in_depth", remedy, {"depth": depth, **config}, diff,
                       0.0, BOUNDED_MARGIN, alpha=alpha,
                       what=f"ln-growth at depth {4 * depth} minus at depth {depth}")


__all__ = ["BOUNDED_MARGIN", "growth_from_alphas"]
