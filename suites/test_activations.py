"""Activations: a consistent backward, moments theory gets right, mean field, stability.

Every registered activation meets each claim that applies to it (docs/claims.md):

- ``activation_backward``: autograd agrees with finite differences of the forward (a
  hand-written ``torch.autograd.Function`` with a wrong backward fails here);
- ``activation_reference``: the torch forward and backward equal the NumPy reference a
  built-in declares (the implementation theory uses);
- ``activation_moments``: theory's q_map and chi_1 at the fixed point agree with a
  Monte Carlo estimate over the torch function (docs/theory.md §1.1);
- ``mean_field_slope``: deep MLPs with this activation at width 512 have the predicted
  gradient growth, with Glorot/LeCun weights and the inits the activation declares;
- ``stable_as_declared`` / ``stable_somewhere``: stable where declared, end to end within
  x10 at depth 30 (or ``--depth``; docs/theory.md §9).
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from gradbench import strategies, theory
from gradbench.specs import MLPSpec
from gradbench.suite import budget, for_each


@for_each("activation", ["activation_backward", "activation_reference"])
@given(q=st.floats(0.1, 10.0))
def test_activation_backward(remedy, claim, q, run_claim):
    """Backward = derivative of the forward, and = the declared reference."""
    run_claim(remedy, claim, q=q)


@for_each("activation", ["activation_moments"])
@budget(3 / 15)
@given(sigma_w2=st.floats(0.5, 3.0), sigma_b2=st.floats(0.01, 0.5))
def test_activation_moments(remedy, claim, sigma_w2, sigma_b2, run_claim):
    """Theory's Gaussian moments of the activation vs Monte Carlo."""
    run_claim(remedy, claim, sigma_w2=sigma_w2, sigma_b2=sigma_b2)


@for_each("activation", ["mean_field_slope"])
@budget(2 / 15)
@given(data=st.data(), depth=st.integers(6, 12), sigma_b2=strategies.sigma_b2s(0.2))
def test_activation_mean_field(remedy, claim, data, depth, sigma_b2, run_claim):
    """Measured per-layer gradient growth matches mean field for this activation."""
    init = data.draw(st.sampled_from(strategies.mean_field_inits(remedy)), label="init")
    spec = MLPSpec(depth=depth, width=512, activation=remedy.label, init=init,
                   sigma_b2=sigma_b2)
    assume(theory.predict(spec).valid)
    run_claim(spec, claim)


@for_each("activation", ["stable_as_declared", "stable_somewhere"])
def test_activation_stability(remedy, claim, run_claim):
    """Stable gradients at depth 30 (or --depth) with the declared inits (or standard ones)."""
    run_claim(remedy, claim)
