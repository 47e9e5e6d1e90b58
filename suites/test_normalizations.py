"""Normalizations: declared invariances, the mean-field rate, stability.

- ``normalization_invariance``: shift/scale invariance along the declared axis and
  normalized outputs (LayerNorm without mean-centering fails);
- ``mean_field_slope``: gradient growth at the rate of docs/theory.md §6 (BatchNorm
  explodes, Yang et al. 2019; LayerNorm/RMSNorm at sigma_w2 E[phi'^2]/E[phi^2]);
- ``stable_as_declared`` / ``stable_somewhere``: stable where declared, end to end within
  x10 at depth 30 (or ``--depth``; docs/theory.md §9).
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from gradbench import theory
from gradbench.specs import MLPSpec
from gradbench.suite import budget, for_each


@for_each("normalization", ["normalization_invariance"])
@budget(3 / 15)
@given(seed=st.integers(0, 2**16))
def test_normalization_invariance(remedy, claim, seed, run_claim):
    """The declared invariances hold and outputs are normalized."""
    run_claim(remedy, claim, draw=seed)


@for_each("normalization", ["mean_field_slope"])
@budget(2 / 15)
@given(activation=st.sampled_from(["linear", "relu", "tanh"]), depth=st.integers(5, 15))
def test_normalization_mean_field(remedy, claim, activation, depth, run_claim):
    """Gradient growth through normalized layers at the predicted rate (batch 128)."""
    spec = MLPSpec(depth=depth, width=256, activation=activation, init="he_normal",
                   norm=remedy.label)
    assume(theory.predict(spec, batch=128).valid)
    run_claim(spec, claim, batch=128)


@for_each("normalization", ["stable_as_declared", "stable_somewhere"])
def test_normalization_stability(remedy, claim, run_claim):
    """Stable gradients at depth 30 (or --depth) where declared (or somewhere standard)."""
    run_claim(remedy, claim)
