"""Optimizers and clipping: first-step identities, descent, training, layer-wise effects.

Every registered optimizer meets each claim that applies to it (docs/claims.md,
docs/theory.md §7):

- ``optimizer_first_step``: the first update equals the declared closed form with the
  documented hyper-parameters (Adam: -lr g/(|g| + 1e-8)), exactly in float64;
- ``optimizer_descent``: the first update is a descent direction for every network;
- ``optimizer_lr_scaling``: the first update at lr / 2 is half the update at lr;
- ``optimizer_matches_reference``: an optimizer declaring a reference takes its steps;
- ``optimizer_update_rule``: five steps equal those of the update rule it declares, written
  from the paper (a wrong beta2 or momentum shows from step 2);
- ``adaptive_first_step_invariance``: adaptive steps are depth and loss-scale invariant
  up to eps;
- ``optimizer_trains``: 20 steps decrease the loss and diverge nowhere.

Clipping (``clip_by_norm``, ``clip_by_value``) and ``first_layers_move`` (which remedies
make the first layers of a deep sigmoid net learn) are claims about networks.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradbench.specs import MLPSpec, ResidualSpec
from gradbench.strategies import mlp_specs
from gradbench.suite import budget, for_each

NEAR_CRITICAL = mlp_specs(
    depths=st.integers(2, 12), widths=(8, 16), activations=("relu", "tanh", "gelu", "linear"),
    inits=("he_normal", "xavier_normal", "orthogonal"),
)
LRS = st.sampled_from([1e-3, 0.1])


@for_each("optimizer", ["optimizer_first_step", "optimizer_descent",
                        "optimizer_matches_reference", "optimizer_update_rule"])
@budget(5 / 15)
@given(network=NEAR_CRITICAL, lr=LRS)
def test_optimizer_first_step(remedy, claim, network, lr, run_claim):
    """The first steps: the declared formula, a descent direction, the reference, the rule."""
    run_claim(remedy, claim, network=network, lr=lr)


@for_each("optimizer", ["optimizer_lr_scaling"])
@budget(5 / 15)
@given(network=NEAR_CRITICAL, lr=LRS)
def test_optimizer_lr_scaling(remedy, claim, network, lr, run_claim):
    """The first step at lr / 2 is half the first step at lr (its own test, so that the
    examples drawn for the other first-step claims stay those of earlier runs)."""
    run_claim(remedy, claim, network=network, lr=lr)


@for_each("optimizer", ["adaptive_first_step_invariance"])
@budget(5 / 15)
@given(network=NEAR_CRITICAL, lr=LRS, scale=st.sampled_from([1e-3, 1e3]))
def test_adaptive_invariance(remedy, claim, network, lr, scale, run_claim):
    """Adaptive first steps move every layer alike, whatever its gradient norm or the loss scale."""
    run_claim(remedy, claim, network=network, lr=lr, scale=scale)


@for_each("optimizer", ["optimizer_trains"])
@pytest.mark.parametrize("setting", [("relu", "he_normal"), ("tanh", "xavier_normal")],
                         ids=["relu-he_normal", "tanh-xavier_normal"])
def test_optimizer_trains(remedy, claim, setting, run_claim):
    """A short training run decreases the loss without divergence."""
    activation, init = setting
    run_claim(remedy, claim, network=MLPSpec(depth=10, width=32, activation=activation,
                                             init=init))


EXPLODING = mlp_specs(depths=st.integers(2, 12), widths=(8, 16), activations=("relu", "tanh"),
                      inits=("he_normal",), sigma_w2s=st.floats(2.0, 4.0))


@budget(5 / 15)
@given(spec=EXPLODING, fraction=st.sampled_from([0.01, 0.3, 3.0]))
def test_clip_by_norm(spec, fraction, run_claim):
    """Norm clipping bounds the global norm and keeps every layer's share."""
    run_claim(spec, "clip_by_norm", fraction=fraction)


@budget(5 / 15)
@given(spec=EXPLODING)
def test_clip_by_value(spec, run_claim):
    """Value clipping changes the gradient's direction."""
    run_claim(spec, "clip_by_value", fraction=1.0)


SIGMOID = MLPSpec(depth=10, width=32, activation="sigmoid", init="xavier_normal")
FIRST_LAYERS = {
    # name: (spec, optimizer, expected outcome)
    "sgd": (SIGMOID, "sgd", "barely"),
    "he_relu": (MLPSpec(depth=10, width=32, activation="relu", init="he_normal"), "sgd",
                "moves"),
    "residual_1/sqrt(L)": (ResidualSpec(depth=10, width=32, activation="sigmoid",
                                        branch_scale="1/sqrt(L)"), "sgd", "moves"),
    "batchnorm": (SIGMOID.replace(norm="batchnorm"), "sgd", "moves"),
    "adam(eps=1e-12)": (SIGMOID, "adam(eps=1e-12)", "moves"),
    "adam": (SIGMOID, "adam", "helps"),
    "layernorm": (SIGMOID.replace(norm="layernorm"), "sgd", "barely"),
}


@pytest.mark.gradbench_statistical
@pytest.mark.parametrize("case", list(FIRST_LAYERS))
def test_first_layers_move(case, run_claim):
    """Which remedies let the first layers of a deep sigmoid net learn at step 1."""
    spec, optimizer, expected = FIRST_LAYERS[case]
    run_claim(spec, "first_layers_move", optimizer=optimizer, expected=expected)
