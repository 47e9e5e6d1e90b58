"""Claims about a user's block stacked over depth (``gradbench validate --kind block``,
docs/blocks.md §4).

Measured once per block on its :class:`~gradbench.blocks.BlockSpec` (the stack over the
depth grid and seeds, :func:`gradbench.blocks.claim_report`); each claim's verdict is read
from that report by :func:`gradbench.blocks.verdicts`, at its own level :data:`ALPHA`
(99% t-intervals over seeds). Only ``block_depth_law`` fails with nothing declared; the
other three are reported, and fail only where the block declares a limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gradbench.claims._registry import claim
from gradbench.records import Verdict

ALPHA = 0.01
"""Level of the block claims: their intervals over seeds are at ``1 - ALPHA``."""
MEASURE = "gradbench.blocks:claim_report"


def _read(name: str) -> Callable[..., Verdict]:
    """``evaluate`` of block claim ``name``: its verdict of the block's report."""
    def evaluate(spec: Any, report: Any, alpha: float, **config: Any) -> Verdict:
        from gradbench.blocks import claim_verdict

        return claim_verdict(name, spec, report, **config)  # type: ignore[no-any-return]

    return evaluate


DECLARED = ("the block does not keep what it declares: fix the block, or its declaration "
            "when the block is right and the declaration is not (gradbench_meta, "
            "docs/blocks.md §1).")
"""What to do when a block fails a claim that checks one of its declarations."""


claim(
    "block_depth_law",
    statement="The gradient ratio r(L) = ||dL/dx_0|| / ||dL/dx_L|| of the stacked block is "
    "not exponential in depth L (bounded or power law), or no worse than the law the block "
    "declares (expect).",
    statistic="c L*, the exponential component of ln r at the judged depth L* (natural log "
    "units), from a per-seed least-squares fit ln r = a + p ln L + c L over the depth grid; "
    "exponential when its t-interval over seeds lies outside +-ln 2 (predicted: ln 2)",
    domain="block factories factory(width, *, layer, depth, generator) mapping "
    "(batch, seq, width) to the same shape; depths 4 to 64 doubling (more with --depth), "
    "float64",
    source="docs/blocks.md §4",
    subjects="block", role="stability", measure=MEASURE, alpha=ALPHA,
    advice="the gradient grows or shrinks exponentially with depth: scale the residual "
    "branches (1/sqrt(2 depth), DeepNet) or normalize them, and compare with --baseline; "
    "or, when that law is meant, declare it (gradbench_meta = {'expect': 'exponential'}, "
    "docs/blocks.md §1).",
)(_read("block_depth_law"))

claim(
    "block_stream_growth",
    statement="The residual stream ||x_L|| / ||x_0|| at the judged depth stays under the "
    "block's declared max_stream_growth (reported, not judged, when nothing is declared).",
    statistic="geometric mean over seeds of ||x_L|| / ||x_0|| at the judged depth, with its "
    "t-interval; fails when the interval lies above the declared limit",
    domain="block factories, as block_depth_law",
    source="docs/blocks.md §4",
    subjects="block", role="consistency", measure=MEASURE, alpha=ALPHA, advice=DECLARED,
)(_read("block_stream_growth"))

claim(
    "block_output_change",
    statement="The output's sensitivity to a small weight perturbation grows with depth no "
    "worse than the block's declared output_change law (reported, not judged, when nothing "
    "is declared).",
    statistic="ln delta^2(L*) - ln delta^2(L_min), delta^2 = ||F(W + dW) - F(W)||^2 / "
    "(eps^2 ||F(W)||^2) read from the weights' gradients; its law classified as the "
    "gradient ratio's",
    domain="block factories, as block_depth_law",
    source="docs/blocks.md §4.2",
    subjects="block", role="consistency", measure=MEASURE, alpha=ALPHA, advice=DECLARED,
)(_read("block_output_change"))

claim(
    "block_token_collapse",
    statement="Distinct tokens of x_L stay below the block's declared max_token_similarity "
    "(reported, not judged, when nothing is declared).",
    statistic="mean cosine similarity of distinct tokens of x_L at the judged depth, averaged "
    "over examples, with its t-interval over seeds; fails when the interval lies above the "
    "declared limit",
    domain="block factories with seq > 1, as block_depth_law",
    source="docs/blocks.md §4.2",
    subjects="block", role="consistency", measure=MEASURE, alpha=ALPHA, advice=DECLARED,
)(_read("block_token_collapse"))
