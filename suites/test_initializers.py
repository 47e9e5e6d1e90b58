"""Initializers: the declared law of the weights, theory for the networks they make, stability.

Every registered initializer (built-in, plugin, ``--remedy`` or the candidate of
``gradbench validate``) meets each claim that applies to it (docs/claims.md):

- ``initializer_variance``, ``initializer_distribution``, ``initializer_orthogonal``: the
  drawn weights have the variance, distribution and singular values the initializer
  declares, on square and non-square layers (PyTorch ``test/nn/test_init.py`` style);
- ``mean_field_slope``: a deep MLP with this initializer has the gradient growth mean
  field predicts for its (declared or measured) variance (docs/theory.md §1);
- ``stable_as_declared`` / ``stable_somewhere``: the gradient norm is stable at depth 30 (or
  ``--depth``) in the settings the initializer declares (He: relu), or in some standard one.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from gradbench import theory
from gradbench.specs import MLPSpec
from gradbench.suite import budget, for_each

FANS = st.integers(96, 320)


@for_each("initializer", ["initializer_variance"])
@given(fan_in=FANS, fan_out=FANS)
def test_initializer_variance(remedy, claim, fan_in, fan_out, run_claim):
    """The drawn weight has the declared variance, on square and non-square layers."""
    run_claim(remedy, claim, fan_in=fan_in, fan_out=fan_out)


@for_each("initializer", ["initializer_distribution", "initializer_orthogonal"])
@budget(5 / 15)
@given(fan_in=FANS, fan_out=FANS)
def test_initializer_law(remedy, claim, fan_in, fan_out, run_claim):
    """The drawn weight has the declared distribution (or singular values)."""
    run_claim(remedy, claim, fan_in=fan_in, fan_out=fan_out)


@for_each("initializer", ["mean_field_slope"])
@budget(1 / 15)
@given(activation=st.sampled_from(["relu", "tanh"]), depth=st.integers(5, 20))
def test_initializer_mean_field(remedy, claim, activation, depth, run_claim):
    """Measured per-layer gradient growth matches mean field for this initializer."""
    spec = MLPSpec(depth=depth, width=256, activation=activation, init=remedy.label)
    assume(theory.predict(spec).valid)
    run_claim(spec, claim)


@for_each("initializer", ["stable_as_declared", "stable_somewhere"])
def test_initializer_stability(remedy, claim, run_claim):
    """Stable gradients at depth 30 (or --depth) where declared (or somewhere standard)."""
    run_claim(remedy, claim)
