"""Claims about transformer depth schemes (remedy kind ``depth_scheme``; docs/theory.md §10.2).

``remedy_constants`` (exact): the constants read off the network a scheme builds (each weight
group's factor over the base initializer per block, the input's factor, the skip factor
alpha from a forward, the LayerNorm placement) equal the documented law the scheme declares
from its paper; for DeepNorm also the DeepNet identity 2N (v^2 + w^2)/alpha^2 = 1.

``output_change_law`` (behaviour): the log-log slope in depth of the output change
E||F(W + dW) - F(W)||^2 under an update of fixed size per weight equals the slope of the
order the scheme declares (Post-LN n, Admin n ln(n+1)/(n+1), DeepNorm and T-Fixup 1), within
a band for the asymptotic orders' finite-depth error; a scheme that declares no order is
held to DeepNet's criterion, an output change independent of depth. A DeepNorm whose beta
has the wrong exponent, or whose alpha sits on the branch, fails it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from gradbench.claims._registry import claim
from gradbench.claims._verdicts import exact, t_test
from gradbench.records import Verdict

CONSTANTS_TOLERANCE = 1e-9
"""Relative tolerance of the constants read off a float64 network (rounding is about 1e-15)."""
SHALLOW, DEEP = 1, 4
"""The two depths (blocks) of ``output_change_law``: n = 2 and 8 sublayers."""
OUTPUT_CHANGE_WIDTH = 64
"""Width of its networks: n/d = 8/64 = 1/8 at the deeper one."""
OUTPUT_CHANGE_BAND = 0.25
"""Model-error band of the slope: the declared orders are asymptotic, up to constants, and at
n = 2..8 the built-ins' measured slopes lie within about 0.1 of theirs (docs/theory.md §10.2)."""
DEFAULT_ORDER = "DeepNet's criterion (no order declared): a change independent of depth"
GROUPS = ("Q", "K", "V", "O", "W1", "W2")


def _declares_law(remedy: Any) -> str | None:
    if "law" in getattr(remedy, "meta", {}) or "deepnet_identity" in getattr(remedy, "meta", {}):
        return None
    return "the scheme declares no documented law (law) and no DeepNet identity"


def _relative(got: float, want: float) -> float:
    if got == want:
        return 0.0
    return abs(got - want) / max(abs(want), 1e-300) if math.isfinite(got) else math.inf


@claim(
    "remedy_constants",
    statement="The network a depth scheme builds carries the constants of the law documented "
    "in its paper: the LayerNorm placement, the skip factor alpha, each weight group's factor "
    "per block and the input's factor; for DeepNorm also the DeepNet identity "
    "2N (v^2 + w^2)/alpha^2 = 1 with v, w the value/output (and FFN) factors.",
    statistic="largest relative difference between the measured and the declared constants "
    "(exact, tolerance 1e-9); weight factors are norms of the drawn matrices over the same "
    "draw at the base initializer, alpha is read off one forward with a probe branch",
    domain="depth schemes declaring law or deepnet_identity; depths 1..24 blocks, width 16, "
    "Xavier base initializer",
    source="Wang et al. 2022 (DeepNet); Liu et al. 2020 (Admin); Huang et al. 2020 (T-Fixup); "
    "Zhang, Titov & Sennrich 2019 (DS-Init) (docs/theory.md §10.2)",
    subjects="depth_scheme",
    role="consistency",
    measure="gradbench.scheme_probes:scheme_constants",
    applies=_declares_law,
    exact=True,
)
def remedy_constants(remedy: Any, data: Mapping[str, Any], alpha: float, depth: int,
                     **config: Any) -> Verdict:
    """Worst relative difference of the measured constants from the declared law."""
    errors: list[tuple[float, str]] = []
    law = remedy.meta.get("law")
    skip = float(data["skip"])
    gains = np.asarray(data["gains"], dtype=float)
    if law is not None:
        want = law(depth, **remedy.params)
        if data["placement"] != want["placement"]:
            errors.append((math.inf, f"placement {data['placement']!r}, documented "
                                     f"{want['placement']!r}"))
        errors.append((_relative(skip, float(want["skip"])),
                       f"skip alpha {skip:.6g} (documented {want['skip']:.6g})"))
        for b, block in enumerate(want["gains"]):
            for g, group in enumerate(GROUPS):
                target = float(block.get(group, 1.0))
                errors.append((_relative(gains[b, g], target),
                               f"block {b + 1} {group} factor {gains[b, g]:.6g} (documented "
                               f"{target:.6g})"))
        target = float(want.get("input_std", 1.0))
        errors.append((_relative(float(data["input_std"]), target),
                       f"input factor {data['input_std']:.6g} (documented {target:.6g})"))
    if remedy.meta.get("deepnet_identity"):
        n_sub = 2 * depth
        for b in range(depth):
            for pair in (("V", "O"), ("W1", "W2")):
                v, w = (gains[b, GROUPS.index(p)] for p in pair)
                value = n_sub * (v * v + w * w) / (skip * skip)
                errors.append((_relative(value, 1.0),
                               f"DeepNet identity 2N ({pair[0]}^2 + {pair[1]}^2)/alpha^2 = "
                               f"{value:.6g} at block {b + 1}"))
    worst_error, what = max(errors, key=lambda e: e[0])
    return exact("remedy_constants", remedy, {"depth": depth, **config}, predicted=0.0,
                 measured=worst_error, worst=worst_error / CONSTANTS_TOLERANCE, alpha=alpha,
                 n=len(errors), tolerance=f"relative {CONSTANTS_TOLERANCE:g}",
                 note=f"worst: {what}")


def declared_slope(remedy: Any, shallow: int = SHALLOW, deep: int = DEEP) -> float:
    """The slope of ln(order) against ln(depth) between the two depths, n = 2N sublayers
    (0, DeepNet's criterion, for a scheme declaring no ``output_change``)."""
    order = remedy.meta.get("output_change")
    if order is None:
        return 0.0
    return math.log(order(2 * deep) / order(2 * shallow)) / math.log(deep / shallow)


@claim(
    "output_change_law",
    statement="Under an update of fixed size per weight (Adam-like, dW_ij ~ eps N(0, "
    "1/fan_in) on W_V, W_O, W1, W2) the output change E||F(W + dW) - F(W)||^2 of the "
    "transformer a depth scheme builds grows with the depth as the order the scheme "
    "documents (Post-LN n, Admin n ln(n+1)/(n+1), DeepNorm and T-Fixup independent of n, "
    "n = 2N sublayers); a scheme that documents none is held to DeepNet's criterion, an "
    "output change independent of depth.",
    statistic="per network pair (independent networks of 1 and 4 blocks), the slope "
    "[ln E_4 - ln E_1]/ln 4 of the per-network output change averaged over 4 one-token "
    "examples; two-sided t-test across 32 pairs of the mean slope against the declared "
    f"order's slope, outside a model-error band of +-{OUTPUT_CHANGE_BAND}",
    domain="depth schemes; one token (attention is then W_O W_V x), width 64, FFN 4d with "
    "ReLU, Xavier normal base initializer, 1 and 4 blocks (n/d <= 1/8), float64 finite "
    "difference at eps 1e-6",
    source="Liu et al. 2020 (Admin, arXiv:2004.08249); Wang et al. 2022 (DeepNet, "
    "arXiv:2203.00555); Huang et al. 2020 (T-Fixup) (docs/theory.md §10.2)",
    subjects="depth_scheme",
    role="behaviour",
    measure="gradbench.scheme_probes:output_change_pair",
)
def output_change_law(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                      shallow: int, deep: int, **config: Any) -> Verdict:
    """t-test (with a band) of the per-pair log-log slope against the declared order's."""
    slopes = (np.log(data["deep"]) - np.log(data["shallow"])) / math.log(deep / shallow)
    predicted = declared_slope(remedy, shallow, deep)
    declared = "the declared order" if "output_change" in remedy.meta else DEFAULT_ORDER
    out = t_test("output_change_law", remedy, {"shallow": shallow, "deep": deep, **config},
                 slopes, predicted, alpha=alpha, tolerance=OUTPUT_CHANGE_BAND,
                 what=f"the log-log slope of the output change from {shallow} to {deep} "
                 f"blocks (predicted: {declared})")
    ratio = float(np.exp(np.mean(np.log(data["deep"]) - np.log(data["shallow"]))))
    note = (f"output change x{ratio:.3g} from {shallow} to {deep} blocks (geometric mean); "
            f"slope {out.measured:.3f}, {declared} {predicted:.3f}")
    return dataclasses.replace(out, note="; ".join(filter(None, [note, out.note])))


__all__ = ["CONSTANTS_TOLERANCE", "DEEP", "OUTPUT_CHANGE_BAND", "OUTPUT_CHANGE_WIDTH",
           "SHALLOW", "declared_slope"]
