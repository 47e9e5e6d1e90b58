"""Network specifications: small frozen, validated dataclasses (no tensors, no torch import).

A spec is the whole description of a random network family; together with an
integer seed it determines every weight and input bit for bit. Field values are
checked once, on construction: a bad value raises :class:`InvalidArgument`
naming the field, the value and the valid choices. Remedy names (activation,
init, norm, branch scale) are registry names and may carry float parameters,
e.g. ``"leaky_relu(negative_slope=0.2)"`` or ``"orthogonal(gain=1.2)"``.

Conventions (docs/theory.md §1): fan-in scaling, ``Var W_ij = sigma_w2 / fan_in``;
biases ``b_i ~ N(0, sigma_b2)``; inputs have i.i.d. ``N(0, input_var)`` entries.

Each spec class is also the torch-free half of its network family: its
:class:`FamilyInfo` (report title and axis label, the theory function that predicts it)
and the sizes every layer needs (:attr:`~_Spec.n_sites`, :attr:`~_Spec.n_features`,
:attr:`~_Spec.weight_fans`). The torch half (drawing, forward, reference module, memory)
is its :class:`gradbench.models.Family`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, Union

from gradbench import registry
from gradbench.errors import InvalidArgument, as_integer, choices_hint

_S = TypeVar("_S", bound="_Spec")
Cell = Literal["rnn_tanh", "rnn_relu", "linear", "lstm", "gru"]


@dataclass(frozen=True)
class CellKind:
    """What is known of a recurrent cell without torch (its step function is in ``models``).

    Attributes:
        gates: number of H x H blocks in the recurrent weight (PyTorch's gate order).
        activation: the registered activation of a vanilla cell
            ``h_t = phi(W h_{t-1} + U x_t + b)``; ``None`` for a gated cell (LSTM, GRU).
        carry_gate: the block of the gate that carries the state on (LSTM's forget gate
            f in (i, f, g, o); GRU's update gate z in (r, z, n)), which ``forget_bias``
            shifts; ``None`` for a vanilla cell.
    """

    gates: int
    activation: str | None = None
    carry_gate: int | None = None


CELL_KINDS: dict[str, CellKind] = {
    "rnn_tanh": CellKind(1, "tanh"),
    "rnn_relu": CellKind(1, "relu"),
    "linear": CellKind(1, "linear"),
    "lstm": CellKind(4, carry_gate=1),
    "gru": CellKind(3, carry_gate=1),
}
CELLS: tuple[str, ...] = tuple(CELL_KINDS)


def _fail(spec: object, name: str, value: object, rule: str) -> InvalidArgument:
    return InvalidArgument(f"{type(spec).__name__}.{name}={value!r} is invalid: {rule}")


def _check_int(spec: object, name: str, low: int) -> None:
    value = getattr(spec, name)
    number = as_integer(value)
    if number is None or number < low:
        raise _fail(spec, name, value, f"must be an integer >= {low}")
    object.__setattr__(spec, name, number)


def _check_float(
    spec: object, name: str, *, optional: bool = False, positive: bool = False
) -> None:
    value = getattr(spec, name)
    if optional and value is None:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise _fail(spec, name, value, f"must be a finite number {bound}")
    object.__setattr__(spec, name, float(value))


def _check_remedy(spec: object, name: str, kind: str, *, optional: bool = False) -> None:
    value = getattr(spec, name)
    if optional and value in (None, "none"):
        object.__setattr__(spec, name, None)
        return
    if not isinstance(value, str):
        raise _fail(spec, name, value, f"must be the name of a registered {kind}")
    try:
        remedy = registry.lookup(kind, value)  # type: ignore[arg-type]
    except InvalidArgument as exc:
        raise _fail(spec, name, value, str(exc)) from None
    object.__setattr__(spec, name, remedy.label)


def _check_layers(spec: object) -> None:
    """The fields every feed-forward family shares: its activation and weight law."""
    _check_remedy(spec, "activation", "activation")
    _check_remedy(spec, "init", "initializer")
    _check_float(spec, "sigma_w2", optional=True)
    _check_float(spec, "sigma_b2", optional=True)


@dataclass(frozen=True)
class FamilyInfo:
    """Everything known of a network family, declared once on its spec class.

    The spec class, decorated with :func:`register_family`, is the family's one
    registration: :func:`spec_from_dict`, the report, :func:`gradbench.theory.predict`,
    :func:`gradbench.models.family_of` and :mod:`gradbench.strategies` all find the family
    through it. The torch-side parts are named by ``"module:attribute"`` paths and imported
    when first needed, so that specs, theory and the report stay torch-free.

    Attributes:
        title: heading of the family in reports, e.g. ``"MLP"``.
        x_label: axis label of its probe sites, e.g. ``"layer l"``.
        per_site: what one step between sites is called in growth rates (``"/layer"``).
        family: its :class:`gradbench.models.Family` subclass (drawing, batched forward,
            reference module), or its ``"module:Class"`` path.
        strategy: a function returning a Hypothesis strategy over its specs (used by
            ``strategies.specs()`` and the suite's reference check), or its path.
        predictor: the theory function ``f(spec, batch) -> Prediction`` that
            :func:`gradbench.theory.predict` dispatches to, or its path; ``None`` when there
            is no theory for the family (predict() then says so).
        over_time: its sites are time steps of one recurrence (the report draws such
            families in its section on decay over time, not with the depth panels).

    The built-in families give paths, so that this module imports neither torch nor
    Hypothesis; a family defined in a test file may give the objects themselves.
    """

    title: str
    x_label: str
    per_site: str
    family: str | type
    strategy: str | Callable[[], Any]
    predictor: str | Callable[..., Any] | None = None
    over_time: bool = False


_REGISTERED: dict[str, type[_Spec]] = {}


def register_family(cls: type[_S]) -> type[_S]:
    """Register a spec class, and with it its network family (its :class:`FamilyInfo`).

    Use as a class decorator on a frozen dataclass with class attributes ``family`` (the
    name in results files) and ``info``. Registering another class under a taken name is
    refused; :func:`temporary_family` registers one for a block of code (tests).

    Raises:
        InvalidArgument: ``family`` is not a non-empty string, ``info`` is not a
            :class:`FamilyInfo`, or the name is taken by another class.
    """
    name, info = getattr(cls, "family", None), getattr(cls, "info", None)
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"{cls.__name__}.family={name!r} must be a non-empty string")
    if not isinstance(info, FamilyInfo):
        raise InvalidArgument(f"{cls.__name__}.info={info!r} must be a FamilyInfo")
    taken = _REGISTERED.get(name)
    if taken is not None and (taken.__module__, taken.__qualname__) != (
        cls.__module__, cls.__qualname__
    ):
        raise InvalidArgument(
            f"spec family {name!r} is already registered by {taken.__name__}; choose another name"
        )
    _REGISTERED[name] = cls
    return cls


@contextlib.contextmanager
def temporary_family(cls: type[_S]) -> Iterator[type[_S]]:
    """Register ``cls`` (see :func:`register_family`) inside the ``with`` block only."""
    register_family(cls)
    try:
        yield cls
    finally:
        del _REGISTERED[cls.family]


def resolve(ref: Any) -> Any:
    """A :class:`FamilyInfo` reference: the object itself, or the one its path names."""
    return registry.import_object(ref) if isinstance(ref, str) else ref


def spec_types() -> dict[str, type[_Spec]]:
    """Every registered spec class by family name, in registration order (built-ins first)."""
    return dict(_REGISTERED)


@dataclass(frozen=True)
class _Spec:
    """Shared behaviour of the spec families."""

    family: ClassVar[str]
    info: ClassVar[FamilyInfo]
    label_prefixes: ClassVar[Mapping[str, str]]
    """Fields :func:`spec_label` always shows, as ``<prefix><value>`` (``depth`` -> ``L50``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with a ``family`` key; :func:`spec_from_dict` inverts it."""
        return {"family": self.family, **dataclasses.asdict(self)}

    def replace(self, **changes: Any) -> Spec:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[return-value]

    @property
    def n_sites(self) -> int:
        """Number of probe sites (layers, blocks or time steps)."""
        raise NotImplementedError

    @property
    def n_features(self) -> int:
        """Size of a site's feature axis per example and position (width, hidden, channels)."""
        raise NotImplementedError

    @property
    def weight_fans(self) -> tuple[int, int]:
        """``(fan_in, fan_out)`` of the main weight, the one :func:`weight_variance` reports."""
        return self.n_features, self.n_features

    @property
    def weight_scale(self) -> float:
        """Factor applied to the main weight after its initializer (1 but for RNNs)."""
        return 1.0


@dataclass(frozen=True)
class _DenseSpec(_Spec):
    """The fields and checks MLPSpec and ResidualSpec share: L layers of width n."""

    label_prefixes: ClassVar[Mapping[str, str]] = {"depth": "L", "width": "n"}
    depth: int
    width: int
    activation: str = "relu"
    init: str = "he_normal"
    sigma_w2: float | None = None
    sigma_b2: float | None = None
    norm: str | None = None

    def _check_dense(self) -> None:
        _check_int(self, "depth", 1)
        _check_int(self, "width", 1)
        _check_layers(self)
        _check_remedy(self, "norm", "normalization", optional=True)

    @property
    def n_sites(self) -> int:
        return self.depth

    @property
    def n_features(self) -> int:
        return self.width


@register_family
@dataclass(frozen=True)
class MLPSpec(_DenseSpec):
    """A deep fully connected network ``h^l = W^l x^{l-1} + b^l``, ``x^l = phi(norm(h^l))``.

    Attributes:
        depth: number of weight layers L (>= 1); the probe records h^1..h^L.
        width: width of every layer, input included (>= 1).
        activation: registered activation name, e.g. ``"tanh"``.
        init: registered initializer name, e.g. ``"he_normal"``.
        sigma_w2: weight variance times fan-in; ``None`` takes the initializer's own.
        sigma_b2: bias variance; ``None`` takes the initializer's own (0 for most).
        norm: registered normalization applied to h^l before phi, or ``None``.
        input_var: variance of the i.i.d. Gaussian input entries (> 0).
    """

    family: ClassVar[str] = "mlp"
    info: ClassVar[FamilyInfo] = FamilyInfo(
        "MLP", "layer l", "/layer", family="gradbench.models:MLPFamily",
        strategy="gradbench.strategies:mlp_specs",
        predictor="gradbench.theory._predict:predict_mlp",
    )
    input_var: float = 1.0

    def __post_init__(self) -> None:
        self._check_dense()
        _check_float(self, "input_var", positive=True)


@register_family
@dataclass(frozen=True)
class ResidualSpec(_DenseSpec):
    """A residual MLP ``x_l = x_{l-1} + alpha_l W2_l phi(norm(W1_l x_{l-1} + b_l))``.

    Attributes:
        depth: number of residual blocks L (>= 1); the probe records the stream x_0..x_{L-1}.
        width: width of the stream and of the branches (>= 1).
        activation: registered activation inside the branch.
        init: initializer of the first branch layer W1.
        sigma_w2: override of W1's weight variance times fan-in.
        sigma_b2: bias variance of the first branch layer (``None``: the initializer's own).
        norm: normalization inside the branch (before phi), or ``None``.
        branch_scale: registered residual scaling: ``"1"``, ``"1/sqrt(L)"``, ``"1/l"``,
            ``"skipinit"``, ``"rezero"``, ``"fixup"``, or a float alpha.
        out_init: initializer of the last branch layer W2 (LeCun keeps the branch gain
            ``v = sigma_v2 * sigma_w2 / 2`` equal to 1 under He/ReLU; docs/theory.md §4).
        input_var: variance of the i.i.d. Gaussian input entries (> 0).
    """

    family: ClassVar[str] = "residual"
    info: ClassVar[FamilyInfo] = FamilyInfo(
        "Residual", "block l", "/layer", family="gradbench.models:ResidualFamily",
        strategy="gradbench.strategies:residual_specs",
        predictor="gradbench.theory._residual:predict_residual",
    )
    branch_scale: Union[str, float] = "1"
    out_init: str = "lecun_normal"
    input_var: float = 1.0

    def __post_init__(self) -> None:
        self._check_dense()
        scale = self.branch_scale
        if isinstance(scale, (int, float)) and not isinstance(scale, bool):
            if not math.isfinite(scale):
                raise _fail(self, "branch_scale", scale, "a numeric branch scale must be finite")
            object.__setattr__(self, "branch_scale", f"scaled(alpha={float(scale)!r})")
        _check_remedy(self, "branch_scale", "residual")
        _check_remedy(self, "out_init", "initializer")
        _check_float(self, "input_var", positive=True)


@register_family
@dataclass(frozen=True)
class RNNSpec(_Spec):
    """A recurrent network unrolled for ``steps`` steps, loss on the last hidden state.

    Vanilla cells: ``h_t = phi(W h_{t-1} + U x_t + b)``; ``lstm`` and ``gru`` follow
    PyTorch's ``nn.LSTMCell``/``nn.GRUCell`` equations and gate order.

    Attributes:
        cell: one of ``rnn_tanh``, ``rnn_relu``, ``linear``, ``lstm``, ``gru``.
        hidden: hidden size H (also the input size).
        steps: number of time steps T (>= 1); the probe records h_1..h_T.
        init: initializer of each H x H block of the recurrent weight.
        sigma_w2: override of the recurrent weight variance times fan-in.
        recurrent_scale: factor applied to the recurrent weight after init
            (``orthogonal`` with scale rho gives W = rho Q).
        sigma_b2: bias variance (``None``: the initializer's own).
        sigma_u2: input-weight variance times fan-in (``U ~ N(0, sigma_u2 / H)``).
        input_var: variance of the i.i.d. Gaussian inputs x_t (>= 0; 0 means no input).
        h0_var: variance of the i.i.d. Gaussian initial hidden state.
        forget_bias: added to the bias of the carry gate of a gated cell (LSTM forget gate,
            GRU update gate), e.g. 1.0 (Gers et al. 2000; Jozefowicz et al. 2015); 0 for
            vanilla cells. Left out of :meth:`to_dict` when 0, so seeds of earlier specs stay.
    """

    family: ClassVar[str] = "rnn"
    info: ClassVar[FamilyInfo] = FamilyInfo(
        "RNN", "time step t", "/step", family="gradbench.models:RNNFamily",
        strategy="gradbench.strategies:rnn_specs", predictor="gradbench.theory._rnn:predict_rnn",
        over_time=True,
    )
    label_prefixes: ClassVar[Mapping[str, str]] = {"steps": "L", "hidden": "n"}
    cell: str
    hidden: int
    steps: int
    init: str = "orthogonal"
    sigma_w2: float | None = None
    recurrent_scale: float = 1.0
    sigma_b2: float | None = None
    sigma_u2: float = 1.0
    input_var: float = 1.0
    h0_var: float = 1.0
    forget_bias: float = 0.0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise _fail(self, "cell", self.cell, choices_hint(self.cell, CELLS))
        bias = self.forget_bias
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not math.isfinite(bias):
            raise _fail(self, "forget_bias", bias, "must be a finite number")
        if bias != 0 and CELL_KINDS[self.cell].carry_gate is None:
            gated = ", ".join(c for c, k in CELL_KINDS.items() if k.carry_gate is not None)
            raise _fail(self, "forget_bias", bias, f"a {self.cell} cell has no gate to shift; "
                        f"give it with a gated cell ({gated})")
        object.__setattr__(self, "forget_bias", float(bias))
        _check_int(self, "hidden", 1)
        _check_int(self, "steps", 1)
        _check_remedy(self, "init", "initializer")
        _check_float(self, "sigma_w2", optional=True)
        _check_float(self, "recurrent_scale")
        _check_float(self, "sigma_b2", optional=True)
        _check_float(self, "sigma_u2")
        _check_float(self, "input_var")
        _check_float(self, "h0_var")

    @property
    def n_sites(self) -> int:
        return self.steps

    @property
    def n_features(self) -> int:
        return self.hidden

    @property
    def weight_scale(self) -> float:
        return self.recurrent_scale

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if out["forget_bias"] == 0.0:
            del out["forget_bias"]  # specs written before the field keep their seeds
        return out


def _check_input_modulation(spec: Any, modes: Mapping[str, str]) -> None:
    """``modes`` maps each input-mode field to the size field of its axis: 0 <= m <= n // 2;
    ``input_modulation`` must be in (-1, 1) (docs/theory.md §11.2)."""
    for name, size in modes.items():
        value, n = getattr(spec, name), getattr(spec, size)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= n // 2:
            raise _fail(spec, name, value, f"must be an integer in [0, {size} // 2 = {n // 2}]")
    a = spec.input_modulation
    if isinstance(a, bool) or not isinstance(a, (int, float)) or not abs(a) < 1:
        raise _fail(spec, "input_modulation", a, "must be a number in (-1, 1)")
    object.__setattr__(spec, "input_modulation", float(a))


def _input_variances(spec: Any) -> tuple[Any, ...]:
    """Nested per-axis tuples of ``input_var (1 + a cos(2 pi sum_i m_i t_i / n_i))`` over the
    positions ``t`` of ``spec.spatial_shape``, modes ``spec.input_modes``."""
    a, modes, shape = spec.input_modulation, spec.input_modes, spec.spatial_shape

    def profile(index: tuple[int, ...]) -> Any:
        axis = len(index)
        if axis == len(shape):
            phase = sum(2 * math.pi * m * t / n for m, t, n in zip(modes, index, shape))
            return spec.input_var * (1.0 + a * math.cos(phase))
        return tuple(profile((*index, t)) for t in range(shape[axis]))

    return profile(())  # type: ignore[no-any-return]


def _drop_unmodulated(out: dict[str, Any], modes: tuple[str, ...]) -> dict[str, Any]:
    """Leave the input-modulation fields out of ``to_dict`` while they are 0, so specs written
    before the fields keep their seeds."""
    if out["input_modulation"] == 0.0 and all(out[m] == 0 for m in modes):
        for name in (*modes, "input_modulation"):
            del out[name]
    return out


@register_family
@dataclass(frozen=True)
class Conv1DSpec(_Spec):
    """A deep 1-D convolutional net with circular padding (periodic signals).

    ``h^l[:, t] = sum_j W^l[:, :, j] x^{l-1}[:, (t + j - p) mod T] + b^l`` with
    ``p = (k - 1) / 2`` and ``x^l = phi(h^l)``: every layer is
    ``nn.Conv1d(C, C, k, padding=p, padding_mode="circular")``, so the length T is kept
    and no position is special (a zero-padded border would be). Fan-in is ``C k``.

    Attributes:
        depth: number of conv layers L (>= 1); the probe records h^1..h^L.
        channels: channels C of every layer, input included (>= 1).
        length: positions T of the signal (>= 1).
        kernel: odd kernel size k, at most ``length``.
        activation: registered activation name.
        init: registered initializer of each ``(C, C, k)`` kernel.
        sigma_w2: kernel variance times fan-in ``C k``; ``None`` takes the initializer's own.
        sigma_b2: bias variance; ``None`` takes the initializer's own (0 for most).
        input_var: variance of the i.i.d. Gaussian input entries (> 0).
        input_mode: Fourier mode m of the input's variance profile (0 <= m <= length / 2).
        input_modulation: its amplitude a, |a| < 1: the input entry at position t has
            variance ``input_var * (1 + a cos(2 pi m t / T))`` (docs/theory.md §11.2). Both
            are left out of :meth:`to_dict` when 0, so seeds of earlier specs stay.
    """

    family: ClassVar[str] = "conv1d"
    info: ClassVar[FamilyInfo] = FamilyInfo(
        "1-D CNN", "layer l", "/layer", family="gradbench.models:Conv1DFamily",
        strategy="gradbench.strategies:conv1d_specs",
        predictor="gradbench.theory._conv:predict_conv1d",
    )
    label_prefixes: ClassVar[Mapping[str, str]] = {
        "depth": "L", "channels": "c", "length": "t", "kernel": "k"
    }
    depth: int
    channels: int
    length: int
    kernel: int = 3
    activation: str = "relu"
    init: str = "he_normal"
    sigma_w2: float | None = None
    sigma_b2: float | None = None
    input_var: float = 1.0
    input_mode: int = 0
    input_modulation: float = 0.0

    def __post_init__(self) -> None:
        _check_int(self, "depth", 1)
        _check_int(self, "channels", 1)
        _check_int(self, "length", 1)
        _check_int(self, "kernel", 1)
        if self.kernel % 2 == 0 or self.kernel > self.length:
            raise _fail(self, "kernel", self.kernel, f"must be odd and <= length={self.length}")
        _check_layers(self)
        _check_float(self, "input_var", positive=True)
        _check_input_modulation(self, {"input_mode": "length"})

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The positions of one channel: ``(T,)``."""
        return (self.length,)

    @property
    def input_modes(self) -> tuple[int, ...]:
        """The input's Fourier mode per spatial axis: ``(m,)``."""
        return (self.input_mode,)

    @property
    def input_variances(self) -> tuple[float, ...]:
        """Per position t, the input entries' variance ``input_var (1 + a cos(2 pi m t / T))``."""
        return _input_variances(self)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return _drop_unmodulated(super().to_dict(), ("input_mode",))

    @property
    def n_sites(self) -> int:
        return self.depth

    @property
    def n_features(self) -> int:
        return self.channels

    @property
    def weight_fans(self) -> tuple[int, int]:
        return self.channels * self.kernel, self.channels * self.kernel


# --- transformer family (issue 17) -------------------------------------------------------

PLACEMENTS: tuple[str, ...] = ("pre", "post", "none")
"""Where a transformer's LayerNorm sits: Pre-LN, Post-LN, or none (T-Fixup style)."""
ATTENTIONS: tuple[str, ...] = ("softmax", "uniform")
"""A transformer's attention at initialization: learned softmax, or uniform (W_Q = 0)."""
LAYERNORM_EPS = 1e-5
"""eps of every transformer LayerNorm (PyTorch's default): ``(x - mean) / sqrt(var + eps)``."""


def _check_choice(spec: object, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(spec, name)
    if not isinstance(value, str) or value not in choices:
        raise _fail(spec, name, value, choices_hint(value, choices))


@register_family
@dataclass(frozen=True)
class TransformerSpec(_Spec):
    """An encoder stack of ``depth`` blocks on inputs ``[batch, seq, width]``.

    Each block is an attention sublayer and an FFN sublayer. **Depth counts blocks, sites
    count sublayers**: the probe records the residual stream after every sublayer, so a
    spec has ``2 depth`` sites (site ``2b`` after block b's attention, ``2b + 1`` after its
    FFN). With ``F`` a sublayer and ``LN`` a LayerNorm without affine parameters
    (eps :data:`LAYERNORM_EPS`):

    * ``placement="pre"`` (Pre-LN): ``x <- alpha x + F(LN(x))``, and the output is ``LN(x)``;
    * ``placement="post"`` (Post-LN, DeepNorm when alpha != 1): ``x <- LN(alpha x + F(x))``;
    * ``placement="none"`` (no normalization, T-Fixup style): ``x <- alpha x + F(x)``.

    Attention is multi-head scaled dot-product, ``F(x) = concat_h(P_h x W_V,h) W_O^T``
    with ``P_h = softmax(x W_Q,h^T (x W_K,h^T)^T / sqrt(d/heads))`` (a causal mask keeps
    positions <= the query's). The FFN is ``F(x) = W2 phi(W1 x)``, ``W1`` of shape
    ``(ffn d, d)``. There are no biases. Every weight matrix is drawn by ``init`` at its own
    ``(fan_in, fan_out)``; ``branch_gain`` then multiplies W_V, W_O, W1 and W2 (not W_Q,
    W_K), at initialization only (DeepNorm's beta, Wang et al. 2022, arXiv:2203.00555), and
    ``layer_gain_exponent`` p multiplies all six matrices of block l (1-based) by ``l^-p``
    (DS-Init's per-layer law at p = 1/2, Zhang, Titov & Sennrich 2019, arXiv:1908.11365).
    The depth schemes of docs/remedies.md §8 (remedy kind ``depth_scheme``) set these fields.

    Attributes:
        depth: number of blocks N (>= 1); the probe records 2N sites.
        width: model width d (>= 1, a multiple of ``heads``).
        heads: number of attention heads (>= 1).
        seq: sequence length n (>= 1).
        ffn: FFN width multiple, ``d_ff = ffn * d`` (>= 1).
        activation: registered activation of the FFN.
        init: registered initializer of every weight matrix.
        placement: ``"pre"``, ``"post"`` or ``"none"``.
        skip_scale: alpha, the factor on the skip connection (DeepNorm/Admin), finite >= 0.
        branch_gain: beta, the factor on the initial W_V, W_O, W1, W2, finite >= 0.
        layer_gain_exponent: p, block l's weights are multiplied by ``l^-p`` at initialization
            (finite >= 0; 0, the default, changes nothing and is left out of :meth:`to_dict`,
            so the specs written before the field keep their seeds).
        attention: ``"softmax"``, or ``"uniform"`` (W_Q = 0 at initialization, so every
            query attends uniformly to the positions it sees).
        causal: mask the attention to positions <= the query's.
        input_var: variance of the i.i.d. Gaussian input entries (> 0).
    """

    family: ClassVar[str] = "transformer"
    info: ClassVar[FamilyInfo] = FamilyInfo(
        "Transformer", "sublayer", "/sublayer", family="gradbench.models:TransformerFamily",
        strategy="gradbench.strategies:transformer_specs",
        predictor="gradbench.theory._transformer:predict_transformer",
    )
    label_prefixes: ClassVar[Mapping[str, str]] = {
        "depth": "N", "width": "d", "heads": "h", "seq": "n", "placement": ""
    }
    depth: int
    width: int
    heads: int = 1
    seq: int = 8
    ffn: int = 4
    activation: str = "relu"
    init: str = "xavier_normal"
    placement: str = "pre"
    skip_scale: float = 1.0
    branch_gain: float = 1.0
    attention: str = "softmax"
    causal: bool = False
    input_var: float = 1.0
    layer_gain_exponent: float = 0.0

    def __post_init__(self) -> None:
        for name in ("depth", "width", "heads", "seq", "ffn"):
            _check_int(self, name, 1)
        if self.width % self.heads:
            raise _fail(self, "heads", self.heads,
                        f"must divide width={self.width} (each head has width/heads features)")
        _check_remedy(self, "activation", "activation")
        _check_remedy(self, "init", "initializer")
        _check_choice(self, "placement", PLACEMENTS)
        _check_choice(self, "attention", ATTENTIONS)
        _check_float(self, "skip_scale")
        _check_float(self, "branch_gain")
        if not isinstance(self.causal, bool):
            raise _fail(self, "causal", self.causal, "must be True or False")
        _check_float(self, "input_var", positive=True)
        _check_float(self, "layer_gain_exponent")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if out["layer_gain_exponent"] == 0.0:
            del out["layer_gain_exponent"]  # specs written before the field keep their seeds
        return out

    def layer_gain(self, block: int) -> float:
        """``block^-layer_gain_exponent``, the factor on every weight of 1-based ``block``."""
        return float(block) ** -self.layer_gain_exponent

    @property
    def n_sites(self) -> int:
        return 2 * self.depth

    @property
    def n_features(self) -> int:
        return self.width

    @property
    def d_ff(self) -> int:
        """Width of the FFN's hidden layer, ``ffn * width``."""
        return self.ffn * self.width


def transformer_weight_variances(spec: TransformerSpec) -> dict[str, float]:
    """Variance times fan-in of each weight of a block: ``{"Q", "K", "V", "O", "W1", "W2"}``.

    The initializer's declared variance at the matrix's ``(fan_in, fan_out)`` times fan-in,
    times ``branch_gain**2`` for V, O, W1, W2; Q is 0 under uniform attention. Block 1's:
    a ``layer_gain_exponent`` makes later blocks' smaller by ``l^(-2p)``.
    """
    d, d_ff, beta2 = spec.width, spec.d_ff, spec.branch_gain**2
    square = _init_variance(spec.init, d, d) * d
    out = {"Q": square, "K": square, "V": beta2 * square, "O": beta2 * square,
           "W1": beta2 * _init_variance(spec.init, d, d_ff) * d,
           "W2": beta2 * _init_variance(spec.init, d_ff, d) * d_ff}
    if spec.attention == "uniform":
        out["Q"] = 0.0
    return out


# --- end of the transformer family ----------------------------------------------------------


# --- 2-D convolutional families (issue 17) ---------------------------------------------------

PADDINGS: tuple[str, ...] = ("circular", "zeros")
"""Padding of a 2-D convolution: periodic images (no position special) or a zero border."""
BATCHNORM2D_EPS = 1e-5
"""eps of the 2-D BatchNorm: ``(h - mean) / sqrt(var + eps)`` per channel."""


def _check_conv2d(spec: Any) -> None:
    """The fields the 2-D convolutional families share."""
    for name in ("depth", "channels", "height", "width", "kernel"):
        _check_int(spec, name, 1)
    if spec.kernel % 2 == 0 or spec.kernel > min(spec.height, spec.width):
        raise _fail(spec, "kernel", spec.kernel,
                    f"must be odd and <= min(height, width) = {min(spec.height, spec.width)}")
    _check_choice(spec, "padding", PADDINGS)
    if not isinstance(spec.batchnorm, bool):
        raise _fail(spec, "batchnorm", spec.batchnorm, "must be True or False")
    _check_layers(spec)
    _check_float(spec, "input_var", positive=True)


@register_family
@dataclass(frozen=True)
class Conv2DSpec(_Spec):
    """A deep 2-D convolutional net on ``H x W`` images, stride 1, C channels throughout.

    ``h^l = W^l * x^{l-1} + b^l`` with ``(C, C, k, k)`` kernels and ``p = (k - 1) / 2``
    padding on every side (``nn.Conv2d(C, C, k, padding=p, padding_mode=padding)``, so H x W
    is kept), then ``x^l = phi(BN(h^l))``. BN (``batchnorm=True``) is BatchNorm in training
    mode without affine parameters: per channel, over the batch and all H W positions,
    ``(h - mean) / sqrt(var + eps)`` with the biased variance and ``eps = 1e-5``
    (``nn.BatchNorm2d(C, eps=1e-5, affine=False)``); otherwise the identity. Fan-in is
    ``C k^2``. Sites are the pre-activations h^1..h^L.

    Attributes:
        depth: number of conv layers L (>= 1).
        channels: channels C of every layer, input included (>= 1).
        height: image rows H (>= 1).
        width: image columns W (>= 1).
        kernel: odd kernel size k, at most ``min(height, width)``.
        padding: ``"circular"`` (periodic images) or ``"zeros"``.
        batchnorm: BatchNorm after every convolution (see above).
        activation: registered activation name.
        init: registered initializer of each ``(C, C, k, k)`` kernel.
        sigma_w2: kernel variance times fan-in ``C k^2``; ``None`` takes the initializer's.
        sigma_b2: bias variance; ``None`` takes the initializer's own (0 for most).
        input_var: variance of the i.i.d. Gaussian input entries (> 0).
        input_mode_h, input_mode_w: the input variance's Fourier mode ``(m, n)`` along rows
            (``0 <= m <= height // 2``) and columns (``0 <= n <= width // 2``).
        input_modulation: its amplitude a, |a| < 1: the input entry at row s, column t has
            variance ``input_var (1 + a cos(2 pi (m s / H + n t / W)))`` (docs/theory.md
            §11.4). The three are left out of :meth:`to_dict` when 0, so seeds of earlier
            specs stay.
    """

    family: ClassVar[str] = "conv2d"
    info: ClassVar[FamilyInfo] = FamilyInfo(
        "2-D CNN", "layer l", "/layer", family="gradbench.models:Conv2DFamily",
        strategy="gradbench.strategies:conv2d_specs",
        predictor="gradbench.theory._conv:predict_conv2d",
    )
    label_prefixes: ClassVar[Mapping[str, str]] = {
        "depth": "L", "channels": "c", "height": "h", "width": "w", "kernel": "k"
    }
    depth: int
    channels: int
    height: int
    width: int
    kernel: int = 3
    padding: str = "circular"
    batchnorm: bool = False
    activation: str = "relu"
    init: str = "he_normal"
    sigma_w2: float | None = None
    sigma_b2: float | None = None
    input_var: float = 1.0
    input_mode_h: int = 0
    input_mode_w: int = 0
    input_modulation: float = 0.0

    def __post_init__(self) -> None:
        _check_conv2d(self)
        _check_input_modulation(self, {"input_mode_h": "height", "input_mode_w": "width"})

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The positions of one channel: ``(H, W)``."""
        return (self.height, self.width)

    @property
    def input_modes(self) -> tuple[int, ...]:
        """The input's Fourier mode per spatial axis: ``(m, n)``."""
        return (self.input_mode_h, self.input_mode_w)

    @property
    def input_variances(self) -> tuple[tuple[float, ...], ...]:
        """Per row s and column t, the input entries' variance
        ``input_var (1 + a cos(2 pi (m s / H + n t / W)))``."""
        return _input_variances(self)

    def to_dict(self) -> dict[str, Any]:
        return _drop_unmodulated(super().to_dict(), ("input_mode_h", "input_mode_w"))

    @property
    def n_sites(self) -> int:
        return self.depth

    @property
    def n_features(self) -> int:
        return self.channels

    @property
    def weight_fans(self) -> tuple[int, int]:
        return self.channels * self.kernel**2, self.channels * self.kernel**2


@register_family
@dataclass(frozen=True)
class ResConv2DSpec(_Spec):
    """A residual 2-D CNN: ``x_l = x_{l-1} + alpha conv2(phi(BN(conv1(x_{l-1}))))``.

    Both convolutions are ``(C, C, k, k)``, stride 1, ``p = (k - 1) / 2`` padding of the
    given mode; conv1 has a bias, conv2 none (as :class:`ResidualSpec`'s ``W2``); BN is the
    same per-channel BatchNorm as :class:`Conv2DSpec`'s (training mode, no affine,
    ``eps = 1e-5``) or the identity. Sites are the stream ``x_0..x_{L-1}`` entering each
    block. conv1 is drawn by ``init`` (with ``sigma_w2``, ``sigma_b2``), conv2 by
    ``out_init`` at its own declared variance.

    Attributes:
        depth: number of residual blocks L (>= 1).
        channels, height, width, kernel, padding, batchnorm, activation, init, sigma_w2,
            sigma_b2, input_var: as in :class:`Conv2DSpec`.
        out_init: registered initializer of conv2.
        alpha: the branch scale (a finite number).
    """

    family: ClassVar[str] = "resconv2d"
    info: ClassVar[FamilyInfo] = FamilyInfo(
        "residual 2-D CNN", "block l", "/block", family="gradbench.models:ResConv2DFamily",
        strategy="gradbench.strategies:resconv2d_specs",
        predictor="gradbench.theory._conv:predict_resconv2d",
    )
    label_prefixes: ClassVar[Mapping[str, str]] = {
        "depth": "L", "channels": "c", "height": "h", "width": "w", "kernel": "k"
    }
    depth: int
    channels: int
    height: int
    width: int
    kernel: int = 3
    padding: str = "circular"
    batchnorm: bool = False
    activation: str = "relu"
    init: str = "he_normal"
    out_init: str = "he_normal"
    alpha: float = 1.0
    sigma_w2: float | None = None
    sigma_b2: float | None = None
    input_var: float = 1.0

    def __post_init__(self) -> None:
        _check_conv2d(self)
        _check_remedy(self, "out_init", "initializer")
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a):
            raise _fail(self, "alpha", a, "must be a finite number")
        object.__setattr__(self, "alpha", float(a))

    @property
    def n_sites(self) -> int:
        return self.depth

    @property
    def n_features(self) -> int:
        return self.channels

    @property
    def weight_fans(self) -> tuple[int, int]:
        return self.channels * self.kernel**2, self.channels * self.kernel**2


# --- end of the 2-D convolutional families ------------------------------------------------


BaseSpec = _Spec
"""The base class of spec dataclasses (``n_sites``, ``n_features``, ``to_dict``, labels)."""
Spec = Union[MLPSpec, ResidualSpec, RNNSpec, Conv1DSpec, TransformerSpec, Conv2DSpec,
             ResConv2DSpec]
"""The built-in spec classes, for type hints; :func:`spec_types` lists every registered one."""
WeightSpec = Union[MLPSpec, ResidualSpec, RNNSpec, Conv1DSpec, Conv2DSpec, ResConv2DSpec]
"""The built-in specs whose weights one initializer draws at ``sigma_w2``/``sigma_b2``."""


def _spec_type(family: object) -> type[_Spec]:
    cls = _REGISTERED.get(family) if isinstance(family, str) else None
    if cls is None:
        raise InvalidArgument(
            f"spec family {family!r} is unknown; {choices_hint(family, _REGISTERED)}"
        )
    return cls


def spec_from_dict(data: Mapping[str, Any]) -> Spec:
    """Rebuild a spec from :meth:`to_dict` output (validating every field).

    Raises:
        InvalidArgument: unknown family or fields, or an invalid value.
    """
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"a spec must be a JSON object, got {type(data).__name__}")
    fields = dict(data)
    cls = _spec_type(fields.pop("family", None))
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidArgument(
            f"{cls.__name__} has no field {unknown[0]!r}; "
            f"its fields are: {', '.join(sorted(known))}"
        )
    try:
        return cls(**fields)  # type: ignore[return-value]
    except TypeError as exc:
        raise InvalidArgument(f"{cls.__name__}: {exc}") from None


def spec_label(spec: Spec) -> str:
    """Short human-readable id, e.g. ``mlp-L50-n256-tanh-xavier_normal``, for test ids and plots.

    The spec class's ``label_prefixes`` fields come as ``<prefix><value>``; ``activation``,
    ``init`` and ``cell`` as their value; any other field only when it is not its default.
    """
    parts = [spec.family]
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        prefix = spec.label_prefixes.get(f.name)
        if prefix is not None:
            parts.append(f"{prefix}{value}")
        elif f.name in ("activation", "init", "cell"):
            parts.append(str(value))
        elif value != f.default:
            parts.append(f"{f.name}={value}")
    return "-".join(parts)


def _init_variance(init: str, fan_in: int, fan_out: int) -> float:
    remedy = registry.lookup("initializer", init)
    return float(remedy.meta["variance"](fan_in, fan_out, **remedy.params))


def weight_variance(spec: WeightSpec) -> float:
    """Effective ``sigma_w2`` (variance times fan-in) of the main weights of ``spec``.

    MLP: every layer; residual: the branch's first layer W1; RNN: the recurrent
    weight including ``recurrent_scale**2``. Uses the override when given, else the
    initializer's declared variance at the weight's :attr:`~_Spec.weight_fans`.
    """
    fan_in, fan_out = spec.weight_fans
    sw2 = spec.sigma_w2
    if sw2 is None:
        sw2 = _init_variance(spec.init, fan_in, fan_out) * fan_in
    return sw2 * spec.weight_scale**2


def branch_out_variance(spec: ResidualSpec) -> float:
    """``sigma_v2``: variance times fan-in of the residual branch's output layer W2."""
    return _init_variance(spec.out_init, spec.width, spec.width) * spec.width


def bias_variance(spec: WeightSpec) -> float:
    """Effective ``sigma_b2``: the override, else the initializer's bias variance, else 0."""
    if spec.sigma_b2 is not None:
        return spec.sigma_b2
    declared = registry.lookup("initializer", spec.init).meta.get("bias_variance")
    return float(declared(spec.weight_fans[0])) if declared else 0.0


def family_info(family: str) -> FamilyInfo:
    """The :class:`FamilyInfo` of the spec family named ``family`` (a spec's ``family`` key).

    Torch-free, for readers of results files (the report) that hold a spec as a dict.

    Raises:
        InvalidArgument: no spec family has that name.

    Examples:
        >>> family_info("rnn").x_label
        'time step t'
    """
    return _spec_type(family).info
