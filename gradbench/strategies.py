"""Hypothesis strategies over spec objects (small configs and integer seeds, never tensors).

Remedy names are drawn from the registry when not given (built-ins, ``gradbench.remedies``
entry points and remedies registered at run time alike). Every bound can be narrowed by
the caller, e.g. ``mlp_specs(depths=st.integers(10, 20), activations=["tanh"])``.
Failing properties then shrink to a minimal depth / width / remedy combination. To
cover every remedy deterministically in a suite, parametrize over them with
:func:`gradbench.suite.for_each` and let Hypothesis draw the other axes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from gradbench import registry
from gradbench.specs import (
    ATTENTIONS,
    CELLS,
    PLACEMENTS,
    Conv1DSpec,
    Conv2DSpec,
    MLPSpec,
    ResConv2DSpec,
    ResidualSpec,
    RNNSpec,
    Spec,
    TransformerSpec,
    resolve,
    spec_types,
)

Choice = Sequence[Any] | st.SearchStrategy[Any]
MEAN_FIELD_INITS = ("xavier_normal", "lecun_normal")
"""Inits every activation's mean-field property is drawn with, besides those it declares
(He init puts GELU/SiLU on a nearly marginal length map whose finite-width fluctuations
mean field does not model; docs/theory.md §1.1)."""


def _strategy(value: Choice | None, kind: str) -> st.SearchStrategy[Any]:
    if value is None:
        return st.sampled_from(registry.names(kind))  # type: ignore[arg-type]
    return value if isinstance(value, st.SearchStrategy) else st.sampled_from(list(value))


def remedies(kind: str) -> st.SearchStrategy[str]:
    """Any registered remedy name of ``kind`` (resolved when drawn, so late registrations count)."""
    return st.deferred(lambda: st.sampled_from(registry.names(kind)))  # type: ignore[arg-type]


def mean_field_inits(activation: Any) -> list[str]:
    """Inits a mean-field property of ``activation`` (a Remedy) is drawn with."""
    declared = [s["init"] for s in activation.meta.get("stable_for", ()) if "init" in s]
    return list(dict.fromkeys([*MEAN_FIELD_INITS, *declared]))


def seeds() -> st.SearchStrategy[int]:
    """Base seeds: any 32-bit unsigned integer."""
    return st.integers(0, 2**32 - 1)


def sigma_b2s(max_value: float = 0.3) -> st.SearchStrategy[float]:
    """Bias variances, 0 included (shrinks towards 0)."""
    return st.one_of(st.just(0.0), st.floats(0.0, max_value, allow_nan=False))


def mlp_specs(
    depths: st.SearchStrategy[int] = st.integers(2, 30),
    widths: Choice = (32, 64, 128),
    activations: Choice | None = None,
    inits: Choice | None = None,
    sigma_w2s: st.SearchStrategy[float | None] = st.none(),
    sigma_b2: st.SearchStrategy[float | None] = st.just(0.0),
    norms: Choice = (None,),
) -> st.SearchStrategy[MLPSpec]:
    """Random :class:`MLPSpec` objects; every argument narrows one field (None: the registry)."""
    return st.builds(
        MLPSpec,
        depth=depths,
        width=_strategy(widths, ""),
        activation=_strategy(activations, "activation"),
        init=_strategy(inits, "initializer"),
        sigma_w2=sigma_w2s,
        sigma_b2=sigma_b2,
        norm=_strategy(norms, "normalization"),
    )


def residual_specs(
    depths: st.SearchStrategy[int] = st.integers(2, 30),
    widths: Choice = (32, 64, 128),
    activations: Choice = ("relu", "tanh"),
    inits: Choice = ("he_normal",),
    branch_scales: Choice | None = None,
    norms: Choice = (None,),
) -> st.SearchStrategy[ResidualSpec]:
    """Random :class:`ResidualSpec` objects (branch scales from the registry by default)."""
    return st.builds(
        ResidualSpec,
        depth=depths,
        width=_strategy(widths, ""),
        activation=_strategy(activations, "activation"),
        init=_strategy(inits, "initializer"),
        sigma_b2=st.just(0.0),
        norm=_strategy(norms, "normalization"),
        branch_scale=_strategy(branch_scales, "residual"),
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
        cell=_strategy(cells, ""),
        hidden=_strategy(hiddens, ""),
        steps=steps,
        init=_strategy(inits, "initializer"),
        recurrent_scale=recurrent_scales,
        sigma_b2=st.just(0.0),
    )


def conv1d_specs(
    depths: st.SearchStrategy[int] = st.integers(2, 30),
    channels: Choice = (8, 16, 32),
    lengths: Choice = (8, 16, 32),
    kernels: Choice = (1, 3, 5),
    activations: Choice = ("relu", "tanh"),
    inits: Choice = ("he_normal", "xavier_normal", "torch_default"),
) -> st.SearchStrategy[Conv1DSpec]:
    """Random :class:`Conv1DSpec` objects (odd kernels no longer than the signal)."""
    return st.builds(
        Conv1DSpec,
        depth=depths,
        channels=_strategy(channels, ""),
        length=_strategy(lengths, ""),
        kernel=_strategy(kernels, ""),
        activation=_strategy(activations, "activation"),
        init=_strategy(inits, "initializer"),
    )


# --- transformer family (issue 17) -------------------------------------------------------


def transformer_specs(
    depths: st.SearchStrategy[int] = st.integers(1, 6),
    widths: Choice = (16, 32, 64),
    heads: Choice = (1, 2, 4),
    seqs: Choice = (4, 6, 8),
    ffns: Choice = (1, 2, 4),
    activations: Choice = ("relu", "gelu", "tanh"),
    inits: Choice = ("xavier_normal", "he_normal", "lecun_normal", "xavier_uniform"),
    placements: Choice = PLACEMENTS,
    attentions: Choice = ATTENTIONS,
    causal: Choice = (False, True),
    skip_scales: Choice = (1.0, 0.7, 1.5),
    branch_gains: Choice = (1.0, 0.5, 1.3),
    layer_gain_exponents: Choice = (0.0, 0.5),
) -> st.SearchStrategy[TransformerSpec]:
    """Random small :class:`TransformerSpec` objects (every placement, attention, mask; skip
    scale, branch gain and per-block gain exponent (DS-Init) default or not), each well under
    a second to probe."""
    return st.builds(
        TransformerSpec,
        depth=depths,
        width=_strategy(widths, ""),
        heads=_strategy(heads, ""),
        seq=_strategy(seqs, ""),
        ffn=_strategy(ffns, ""),
        activation=_strategy(activations, "activation"),
        init=_strategy(inits, "initializer"),
        placement=_strategy(placements, ""),
        skip_scale=_strategy(skip_scales, ""),
        branch_gain=_strategy(branch_gains, ""),
        attention=_strategy(attentions, ""),
        causal=_strategy(causal, ""),
        layer_gain_exponent=_strategy(layer_gain_exponents, ""),
    )


# --- end of the transformer family ----------------------------------------------------------


# --- 2-D convolutional families (issue 17) ------------------------------------------------


def conv2d_specs(
    depths: st.SearchStrategy[int] = st.integers(1, 4),
    channels: Choice = (2, 4),
    sizes: Choice = (3, 4, 5),
    kernels: Choice = (3,),
    paddings: Choice = ("circular", "zeros"),
    batchnorms: Choice = (False, True),
    activations: Choice = ("relu", "tanh", "linear"),
    inits: Choice = ("he_normal", "xavier_normal", "delta_orthogonal"),
) -> st.SearchStrategy[Conv2DSpec]:
    """Random small :class:`Conv2DSpec` objects (both paddings, with and without BN)."""
    return st.builds(
        Conv2DSpec, depth=depths, channels=_strategy(channels, ""),
        height=_strategy(sizes, ""), width=_strategy(sizes, ""),
        kernel=_strategy(kernels, ""), padding=_strategy(paddings, ""),
        batchnorm=_strategy(batchnorms, ""),
        activation=_strategy(activations, "activation"), init=_strategy(inits, "initializer"),
    )


def resconv2d_specs(
    depths: st.SearchStrategy[int] = st.integers(1, 3),
    channels: Choice = (2, 4),
    sizes: Choice = (3, 4, 5),
    kernels: Choice = (3,),
    paddings: Choice = ("circular", "zeros"),
    batchnorms: Choice = (False, True),
    alphas: Choice = (1.0, 0.5, 0.25),
    activations: Choice = ("relu", "tanh"),
    inits: Choice = ("he_normal", "xavier_normal", "delta_orthogonal"),
) -> st.SearchStrategy[ResConv2DSpec]:
    """Random small :class:`ResConv2DSpec` objects."""
    return st.builds(
        ResConv2DSpec, depth=depths, channels=_strategy(channels, ""),
        height=_strategy(sizes, ""), width=_strategy(sizes, ""),
        kernel=_strategy(kernels, ""), padding=_strategy(paddings, ""),
        batchnorm=_strategy(batchnorms, ""), alpha=_strategy(alphas, ""),
        activation=_strategy(activations, "activation"), init=_strategy(inits, "initializer"),
        out_init=_strategy(inits, "initializer"),
    )



def family_strategies() -> dict[type, Callable[[], st.SearchStrategy[Any]]]:
    """Per registered spec class, the strategy function its ``info.strategy`` names
    (every family of :func:`gradbench.specs.register_family`, built-in or not)."""
    return {cls: resolve(cls.info.strategy)  # type: ignore[attr-defined]
            for cls in spec_types().values()}


def specs() -> st.SearchStrategy[Spec]:
    """Any registered spec family."""
    return st.one_of([strategy() for strategy in family_strategies().values()])
