"""Transformer depth schemes (remedy kind ``depth_scheme``: DeepNorm, Admin, T-Fixup, DS-Init).

Claims (docs/claims.md; docs/theory.md §10.2):
- ``remedy_constants``: the network a scheme builds carries the constants documented in its
  paper (placement, skip alpha, each weight group's factor per block, input factor; DeepNorm's
  DeepNet identity), read off the drawn weights and a forward; exact.
- ``output_change_law``: the output change under a fixed-size update grows with depth as the
  scheme's documented order (Post-LN n, Admin n ln(n+1)/(n+1), DeepNorm and T-Fixup flat);
  undeclared schemes are held to a depth-independent change, so a DeepNorm with beta =
  (8N)^(-1/2) or with alpha on the branch fails it. One fixed configuration per scheme
  (1 and 4 blocks, width 64, one token, 32 network pairs): about half a second.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gradbench.claims.schemes import DEEP, OUTPUT_CHANGE_WIDTH, SHALLOW
from gradbench.suite import budget, for_each

OUTPUT_CHANGE_SEEDS = 32
OUTPUT_CHANGE_BATCH = 4


@for_each("depth_scheme", ["remedy_constants"])
@budget(2 / 15)
@given(depth=st.integers(1, 24))
def test_remedy_constants(remedy, claim, depth, run_claim):
    """The built network's constants equal the scheme's documented law."""
    run_claim(remedy, claim, depth=depth)


@for_each("depth_scheme", ["output_change_law"])
def test_output_change_law(remedy, claim, run_claim):
    """The output change's depth slope is the documented order's (flat when undeclared)."""
    run_claim(remedy, claim, shallow=SHALLOW, deep=DEEP, width=OUTPUT_CHANGE_WIDTH,
              seeds=OUTPUT_CHANGE_SEEDS, batch=OUTPUT_CHANGE_BATCH)
