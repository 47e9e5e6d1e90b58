"""Residual branch scalings: the documented law, bounded growth in depth, mean field, stability.

- ``residual_scaling_law``: sum_l ln(1 + alpha_l^2 v) from the scaling's alphas equals its
  declared law (``1/sqrt(L)``: L ln(1 + v/L)), so ``1/L`` in place of ``1/sqrt(L)`` fails;
- ``residual_bounded_in_depth``: the end-to-end growth changes by < e^0.3 from L to 4L
  blocks (a ``1/sqrt(l)`` scaling grows like sqrt(L) and fails);
- ``mean_field_slope``: per-block gradient growth 1 + alpha_l^2 v (docs/theory.md §4);
- ``stable_as_declared`` / ``stable_somewhere``: stable where declared, end to end within
  x10 at depth 30 (or ``--depth``; docs/theory.md §9).
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from gradbench import theory
from gradbench.specs import ResidualSpec
from gradbench.suite import budget, for_each


@for_each("residual", ["residual_scaling_law"])
@given(depth=st.integers(1, 256), v=st.floats(0.25, 4.0))
def test_residual_scaling_law(remedy, claim, depth, v, run_claim):
    """The alphas follow the documented law."""
    run_claim(remedy, claim, depth=depth, v=v)


@for_each("residual", ["residual_bounded_in_depth"])
@budget(1 / 15)
@given(depth=st.integers(4, 12))
def test_residual_bounded_in_depth(remedy, claim, depth, run_claim):
    """End-to-end growth bounded as the depth quadruples."""
    run_claim(remedy, claim, depth=depth)


@for_each("residual", ["mean_field_slope"])
@budget(2 / 15)
@given(activation=st.sampled_from(["relu", "tanh"]), depth=st.integers(3, 20))
def test_residual_mean_field(remedy, claim, activation, depth, run_claim):
    """Per-block gradient growth matches prod (1 + alpha_l^2 v)."""
    spec = ResidualSpec(depth=depth, width=256, activation=activation,
                        branch_scale=remedy.label)
    assume(theory.predict(spec).valid)
    run_claim(spec, claim)


@for_each("residual", ["stable_as_declared", "stable_somewhere"])
def test_residual_stability(remedy, claim, run_claim):
    """Stable gradients at depth 30 (or --depth) where the scaling says (or somewhere standard)."""
    run_claim(remedy, claim)
