"""Hypothesis strategies over spec objects (small configs and integer seeds, never tensors).

Every bound can be narrowed by the caller, e.g.
``mlp_specs(depths=st.integers(10, 20), activations=["tanh"])``. Failing properties
then shrink to a minimal depth / width / remedy combination.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from gradbench.specs import CELLS, MLPSpec, ResidualSpec, RNNSpec

SMOOTH_ACTIVATIONS = ("tanh", "erf", "sigmoid", "gelu", "silu", "softplus", "elu", "selu")
ACTIVATIONS = ("linear", "relu", "leaky_relu", *SMOOTH_ACTIVATIONS)
INITS = (
    "he_normal",
    "he_uniform",
    "xavier_normal",
    "xavier_uniform",
    "lecun_normal",
    "orthogonal",
    "torch_default",
)
BRANCH_SCALES = ("1", "1/sqrt(L)", "1/l", "skipinit", "rezero", "fixup")
NORMS = (None, "batchnorm", "layernorm", "rmsnorm")

Choice = Sequence[Any] | st.SearchStrategy[Any]


def _strategy(value: Choice) -> st.SearchStrategy[Any]:
    return value if isinstance(value, st.SearchStrategy) else st.sampled_from(list(value))


def seeds() -> st.SearchStrategy[int]:
    """Base seeds: any 32-bit unsigned integer."""
    return st.integers(0, 2**32 - 1)


def sigma_b2s(max_value: float = 0.3) -> st.SearchStrategy[float]:
    """Bias variances, 0 included (shrinks towards 0)."""
    return st.one_of(st.just(0.0), st.floats(0.0, max_value, allow_nan=False))


def mlp_specs(
    depths: st.SearchStrategy[int] = st.integers(2, 30),
    widths: Choice = (32, 64, 128),
    activations: Choice = ACTIVATIONS,
    inits: Choice = INITS,
    sigma_w2s: st.SearchStrategy[float | None] = st.none(),
    sigma_b2: st.SearchStrategy[float | None] = st.just(0.0),
    norms: Choice = (None,),
) -> st.SearchStrategy[MLPSpec]:
    """Random :class:`MLPSpec` objects; every argument narrows one field."""
    return st.builds(
        MLPSpec,
        depth=depths,
        width=_strategy(widths),
        activation=_strategy(activations),
        init=_strategy(inits),
        sigma_w2=sigma_w2s,
        sigma_b2=sigma_b2,
        norm=_strategy(norms),
    )


def residual_specs(
    depths: st.SearchStrategy[int] = st.integers(2, 30),
    widths: Choice = (32, 64, 128),
    activations: Choice = ("relu", "tanh"),
    inits: Choice = ("he_normal",),
    branch_scales: Choice = BRANCH_SCALES,
    norms: Choice = (None,),
) -> st.SearchStrategy[ResidualSpec]:
    """Random :class:`ResidualSpec` objects."""
    return st.builds(
        ResidualSpec,
        depth=depths,
        width=_strategy(widths),
        activation=_strategy(activations),
        init=_strategy(inits),
        sigma_b2=st.just(0.0),
        norm=_strategy(norms),
        branch_scale=_strategy(branch_scales),
    )


def rnn_specs(
    cells: Choice = CELLS,
    hiddens: Choice = (32, 64, 128),
    steps: st.SearchStrategy[int] = st.integers(2, 40),
    inits: Choice = ("orthogonal", "xavier_normal", "torch_default"),
    recurrent_scales: st.SearchStrategy[float] = st.floats(0.5, 1.2),
) -> st.SearchStrategy[RNNSpec]:
    """Random :class:`RNNSpec` objects."""
    return st.builds(
        RNNSpec,
        cell=_strategy(cells),
        hidden=_strategy(hiddens),
        steps=steps,
        init=_strategy(inits),
        recurrent_scale=recurrent_scales,
        sigma_b2=st.just(0.0),
    )


def specs() -> st.SearchStrategy[MLPSpec | ResidualSpec | RNNSpec]:
    """Any spec family."""
    return st.one_of(mlp_specs(), residual_specs(), rnn_specs())
