"""Built-in weight initializers, each registered once with the weight variance it declares.

An initializer fills a weight ``w`` in place from an explicit ``torch.Generator`` (never
the global RNG): a dense ``(out, in)`` matrix or a convolution kernel ``(out, in, *kernel)``,
whose fans are read by one helper, :func:`fans` (``fan_in = in * prod(kernel)``, as
``torch.nn.init``). It declares
``variance(fan_in, fan_out, **params)``, the variance of one entry, so theory can
use ``sigma_w2 = variance * fan_in`` (docs/theory.md §1 table) and tests can
check the empirical variance (KS tests, as PyTorch's ``test/nn/test_init.py``).
``bias_variance(fan_in)`` is declared where the initializer also sets biases.
``data_dependent=True`` marks an initializer rescaled on a batch (LSUV).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradbench._lazy import lazy_import
from gradbench.errors import InvalidArgument
from gradbench.registry import register

if TYPE_CHECKING:
    import torch
    from torch import Tensor
else:  # registrations load without torch; it is imported when an initializer is first called
    torch = lazy_import("torch")

SQRT2 = math.sqrt(2.0)


def fans(shape: Sequence[int] | Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``.

    ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``, the convention of
    ``torch.nn.init._calculate_fan_in_and_fan_out`` (docs/theory.md §8): a dense ``(out, in)``
    weight has ``(in, out)``, a ``Conv1d`` kernel ``(out, in, k)`` has ``(in k, out k)``.
    Given the weight itself, as torch's function is, it reads :func:`weight_shape` of it.

    Raises:
        InvalidArgument: fewer than two dimensions.

    Examples:
        >>> fans((64, 32)), fans((8, 4, 3))
        ((32, 64), (12, 24))
    """
    if not isinstance(shape, Sequence):  # the weight, not its shape
        shape = weight_shape(shape)
    if len(shape) < 2:
        raise InvalidArgument(f"a weight of shape {tuple(shape)} has no fan-in and fan-out")
    receptive = math.prod(shape[2:])
    return int(shape[1]) * receptive, int(shape[0]) * receptive


STACK_MARK = "_gradbench_weights_stacked"
"""The attribute :meth:`gradbench.models.Draw.weights` sets on a stack of weights it hands to
an initializer registered with ``stacks=True``."""


def weight_shape(w: Tensor) -> tuple[int, ...]:
    """The shape of one weight in ``w``: ``w.shape``, or ``w.shape[1:]`` when ``w`` is a stack
    ``[k, *shape]`` of ``k`` weights to draw in one call (:data:`STACK_MARK`).

    An initializer that reads its fans as ``fans(weight_shape(w))`` and draws ``w`` in one
    pass of i.i.d. entries can be registered with ``stacks=True``: it then draws ``k``
    weights in one call, the numbers ``k`` calls in a row give (``tests/test_initializers.py``
    checks this bit for bit for every such initializer). Call it on ``w`` as passed in: a
    view of it, ``w.detach()`` included, does not carry the mark.
    """
    return tuple(w.shape[1:]) if getattr(w, STACK_MARK, False) else tuple(w.shape)


# Declared laws, written from the papers apart from the drawing code below: a slip in a
# constant the drawing uses (SQRT2, a gain, a fan) then moves the draw but not the
# declaration that initializer_variance and the mean-field theory read (docs/design.md §5, item 10).


def _he_law(fan: int, gain: float | None) -> float:
    """He et al. 2015, eq. 10 and 14: Var W = 2 / fan (ReLU); a given gain: gain^2 / fan."""
    return (2.0 if gain is None else gain * gain) / fan


def _he_fan_in_law(fan_in: int, fan_out: int, gain: float | None = None) -> float:
    return _he_law(fan_in, gain)


def _he_fan_out_law(fan_in: int, fan_out: int, gain: float | None = None) -> float:
    return _he_law(fan_out, gain)


def _lecun_law(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """LeCun et al. 1998, Efficient BackProp §4.6: Var W = 1 / fan_in."""
    return gain * gain / fan_in


def _glorot_law(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Glorot & Bengio 2010, eq. 12 and 16: Var W = 2 / (fan_in + fan_out)."""
    return gain * gain * 2.0 / (fan_in + fan_out)


def _xavier_var(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """The variance xavier_normal and xavier_uniform draw (the drawing code's own formula)."""
    return gain**2 * 2.0 / (fan_in + fan_out)


def standard_normal(
    shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype | None = None
) -> Tensor:
    """I.i.d. ``N(0, 1)`` entries, generated in float32 and returned as ``dtype``.

    The CPU generator's float32 normals are about 6x faster than its float64 ones,
    which dominated the probe's cost, and they are exact in float64: a network is the
    same numbers in every dtype, up to the rounding of that dtype. Use it in your own
    initializer to get the same property. ``dtype=None`` means float64.
    """
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(dtype or torch.float64)


def standard_uniform(
    shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype | None = None
) -> Tensor:
    """I.i.d. ``U(0, 1)`` entries, generated in float32 (see :func:`standard_normal`)."""
    return torch.rand(shape, generator=generator, dtype=torch.float32).to(dtype or torch.float64)


def fill_standard_normal(w: Tensor, generator: torch.Generator, std: float = 1.0) -> Tensor:
    """``w`` filled in place with ``std`` times :func:`standard_normal`'s numbers for its
    shape; returns ``w`` (pass ``w.detach()``, or call it under ``torch.no_grad()``, if ``w``
    requires grad).

    A contiguous float32 ``w`` of at least 16 entries is drawn into directly and scaled in
    the same pass, with no temporary: ``randn`` is ``normal_`` on fresh memory of the same
    layout (the same kernel, the same bits), and for ``std > 0`` ATen's vectorised normal
    fill rounds ``z * std + 0`` once per entry, as ``mul_`` rounds ``z * std``. (Below 16
    entries ATen draws in float64, and ``+ 0`` would turn a ``-0.0`` from ``std = 0`` into
    ``+0.0``, so there the scale is applied afterwards.)
    """
    if w.dtype == torch.float32 and w.is_contiguous() and w.numel() >= 16 and std > 0:
        return w.normal_(0.0, std, generator=generator)
    w.copy_(standard_normal(tuple(w.shape), generator, w.dtype))
    return w if std == 1.0 else w.mul_(std)


def fill_standard_uniform(w: Tensor, generator: torch.Generator) -> Tensor:
    """``w`` filled in place with :func:`standard_uniform`'s numbers (see
    :func:`fill_standard_normal`); returns ``w``."""
    if w.dtype == torch.float32 and w.is_contiguous():
        return w.uniform_(generator=generator)
    return w.copy_(standard_uniform(tuple(w.shape), generator, w.dtype))


def _normal(w: Tensor, variance: float, generator: torch.Generator) -> None:
    fill_standard_normal(w.detach(), generator, math.sqrt(variance))  # detach: as no_grad


def _uniform(w: Tensor, variance: float, generator: torch.Generator) -> None:
    bound = math.sqrt(3.0 * variance)  # Var U(-a, a) = a^2 / 3
    fill_standard_uniform(w.detach(), generator).mul_(2 * bound).sub_(bound)


@register(
    "initializer",
    "he_normal",
    paper="He et al. 2015, arXiv:1502.01852",
    variance=_he_fan_in_law,
    distribution="normal",
    stable_for=({"activation": "relu"},),
    stacks=True,
)
@register(
    "initializer",
    "kaiming_normal",
    paper="He et al. 2015, arXiv:1502.01852",
    variance=_he_fan_in_law,
    distribution="normal",
    stable_for=({"activation": "relu"},),
    stacks=True,
)
def he_normal(w: Tensor, *, generator: torch.Generator, gain: float = SQRT2) -> None:
    """W_ij ~ N(0, gain^2 / fan_in); gain sqrt(2) preserves E||x||^2 through ReLU."""
    _normal(w, gain**2 / fans(weight_shape(w))[0], generator)


@register(
    "initializer",
    "he_uniform",
    paper="He et al. 2015, arXiv:1502.01852",
    variance=_he_fan_in_law,
    distribution="uniform",
    stable_for=({"activation": "relu"},),
    stacks=True,
)
@register(
    "initializer",
    "kaiming_uniform",
    paper="He et al. 2015, arXiv:1502.01852",
    variance=_he_fan_in_law,
    distribution="uniform",
    stable_for=({"activation": "relu"},),
    stacks=True,
)
def he_uniform(w: Tensor, *, generator: torch.Generator, gain: float = SQRT2) -> None:
    """W_ij ~ U(-a, a) with variance gain^2 / fan_in."""
    _uniform(w, gain**2 / fans(weight_shape(w))[0], generator)


@register(
    "initializer",
    "he_normal_fan_out",
    paper="He et al. 2015, arXiv:1502.01852",
    variance=_he_fan_out_law,
    distribution="normal",
    stable_for=({"activation": "relu"},),
    stacks=True,
)
def he_normal_fan_out(w: Tensor, *, generator: torch.Generator, gain: float = SQRT2) -> None:
    """W_ij ~ N(0, gain^2 / fan_out): preserves the backward pass instead of the forward one."""
    _normal(w, gain**2 / fans(weight_shape(w))[1], generator)


@register(
    "initializer",
    "he_uniform_fan_out",
    paper="He et al. 2015, arXiv:1502.01852",
    variance=_he_fan_out_law,
    distribution="uniform",
    stable_for=({"activation": "relu"},),
    stacks=True,
)
def he_uniform_fan_out(w: Tensor, *, generator: torch.Generator, gain: float = SQRT2) -> None:
    """W_ij ~ U(-a, a) with variance gain^2 / fan_out."""
    _uniform(w, gain**2 / fans(weight_shape(w))[1], generator)


@register(
    "initializer",
    "xavier_normal",
    paper="Glorot & Bengio 2010",
    variance=_glorot_law,
    distribution="normal",
    stable_for=({"activation": "tanh"},),
    stacks=True,
)
@register(
    "initializer",
    "glorot_normal",
    paper="Glorot & Bengio 2010",
    variance=_glorot_law,
    distribution="normal",
    stable_for=({"activation": "tanh"},),
    stacks=True,
)
def xavier_normal(w: Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
    """W_ij ~ N(0, gain^2 * 2 / (fan_in + fan_out))."""
    _normal(w, _xavier_var(*fans(weight_shape(w)), gain), generator)


@register(
    "initializer",
    "xavier_uniform",
    paper="Glorot & Bengio 2010",
    variance=_glorot_law,
    distribution="uniform",
    stable_for=({"activation": "tanh"},),
    stacks=True,
)
@register(
    "initializer",
    "glorot_uniform",
    paper="Glorot & Bengio 2010",
    variance=_glorot_law,
    distribution="uniform",
    stable_for=({"activation": "tanh"},),
    stacks=True,
)
def xavier_uniform(w: Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
    """W_ij ~ U(-a, a) with variance gain^2 * 2 / (fan_in + fan_out)."""
    _uniform(w, _xavier_var(*fans(weight_shape(w)), gain), generator)


@register(
    "initializer",
    "lecun_normal",
    paper="LeCun et al. 1998, Efficient BackProp",
    variance=_lecun_law,
    distribution="normal",
    stable_for=({"activation": "tanh"}, {"activation": "selu"}, {"activation": "linear"}),
    stacks=True,
)
def lecun_normal(w: Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
    """W_ij ~ N(0, gain^2 / fan_in)."""
    _normal(w, gain**2 / fans(weight_shape(w))[0], generator)


@register(
    "initializer",
    "normal",
    paper="fan-in scaled Gaussian (Poole et al. 2016)",
    variance=lambda fan_in, fan_out, sigma_w2=1.0: sigma_w2 / fan_in,
    distribution="normal",
    stable_for=({"activation": "tanh"},),
    stacks=True,
)
def normal(w: Tensor, *, generator: torch.Generator, sigma_w2: float = 1.0) -> None:
    """W_ij ~ N(0, sigma_w2 / fan_in): the mean-field parametrisation."""
    _normal(w, sigma_w2 / fans(weight_shape(w))[0], generator)


@register(
    "initializer",
    "torch_default",
    paper="torch.nn.Linear.reset_parameters",
    variance=lambda fan_in, fan_out: 1.0 / (3.0 * fan_in),
    distribution="uniform",
    bias_variance=lambda fan_in: 1.0 / (3.0 * fan_in),
    stable_for=(),  # a known-bad baseline: Var 1/(3 fan_in) vanishes with every activation
    stacks=True,
)
def torch_default(w: Tensor, *, generator: torch.Generator) -> None:
    """What ``nn.Linear`` does: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), var 1/(3n)."""
    _uniform(w, 1.0 / (3.0 * fans(weight_shape(w))[0]), generator)


def _orthogonal_var(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    return gain**2 / max(fan_in, fan_out)


@register(
    "initializer",
    "orthogonal",
    paper="Saxe et al. 2014, arXiv:1312.6120",
    variance=_orthogonal_var,
    distribution="orthogonal",
    stable_for=({"activation": "tanh"}, {"activation": "linear"}),
    examples=("orthogonal(gain=1.4142135623730951)",),
)
def orthogonal(w: Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
    """A Haar-random (semi-)orthogonal matrix times ``gain``: QR of a Gaussian, signs fixed.

    Every singular value equals ``gain``, so a deep linear net is an exact isometry. A
    kernel ``(out, in, *k)`` is the ``(out, in * prod(k))`` matrix reshaped (as
    ``torch.nn.init.orthogonal_``); its declared entry variance ``gain^2 / max(fans)`` is
    exact for dense weights and for kernels with ``in == out``.
    """
    rows = int(w.shape[0])
    cols = w.numel() // rows
    a = standard_normal((max(rows, cols), min(rows, cols)), generator)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)  # Haar measure (Mezzadri 2007)
    with torch.no_grad():
        w.copy_(((q if rows >= cols else q.T) * gain).reshape(w.shape))


@register(
    "initializer",
    "identity",
    paper="Le et al. 2015, IRNN, arXiv:1504.00941",
    variance=lambda fan_in, fan_out, gain=1.0: gain**2 / max(fan_in, fan_out),
    distribution="identity",
    stable_for=({"activation": "linear"},),
)
def identity(w: Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
    """W = gain * I (the IRNN initialization); deterministic.

    A kernel ``(out, in, *k)`` gets the identity convolution, ``gain`` at the centre tap
    of ``w[i, i]`` (the Dirac kernel of ``torch.nn.init.dirac_``).
    """
    with torch.no_grad():
        if w.dim() == 2:
            w.copy_(torch.eye(*w.shape, dtype=w.dtype) * gain)
            return
        w.zero_()
        centre = tuple(k // 2 for k in w.shape[2:])
        for i in range(min(w.shape[0], w.shape[1])):
            tap = (i, i, *centre)
            w[tap] = gain


@register(
    "initializer",
    "lsuv",
    paper="Mishkin & Matas 2016, arXiv:1511.06422",
    variance=_orthogonal_var,
    distribution="orthogonal",
    data_dependent=True,
)
def lsuv(w: Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
    """Layer-sequential unit variance: orthogonal, then rescaled on a batch so Var h^l = 1.

    The rescaling needs data, so the model builder applies it (``data_dependent=True``).
    """
    orthogonal(w, generator=generator, gain=gain)


# --- delta-orthogonal (issue 17: deep CNNs) ---------------------------------------------------


@register(
    "initializer",
    "delta_orthogonal",
    paper="Xiao et al. 2018, arXiv:1806.05393 (Algorithm 2)",
    variance=_orthogonal_var,
    distribution="orthogonal",
    kernel="delta",
    stable_for=({"activation": "tanh"}, {"activation": "linear"}),
)
def delta_orthogonal(w: Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
    """Delta-orthogonal kernel: every tap 0 but the centre, ``gain * H`` with H Haar-orthogonal.

    For a kernel ``(C_out, C_in, k[, k])`` with odd sizes and ``C_in <= C_out`` the
    convolution acts at every position as the same matrix ``gain * H`` (``H^T H = I``), so a
    linear net of such layers with circular or 'same' padding keeps ``||x||`` times
    ``gain`` exactly (Xiao et al. 2018, ICML, Algorithm 2; docs/remedies.md). The mean
    square over the whole kernel is ``gain^2 C_in / (C_out C_in k) = gain^2 / max(fans)``
    (``gain^2 / fan_in`` when ``C_in == C_out``), the declared variance; its
    ``(C_out, C_in k)`` matrix has every singular value equal to ``gain`` when
    ``C_in == C_out``. A dense ``(out, in)`` weight gets the plain :func:`orthogonal` init.

    Raises:
        InvalidArgument: ``C_in > C_out`` (no orthogonal centre), or an even kernel size
            (no centre tap).
    """
    if w.dim() == 2:
        orthogonal(w, generator=generator, gain=gain)
        return
    c_out, c_in, *taps = (int(s) for s in w.shape)
    if c_in > c_out:
        raise InvalidArgument(
            f"delta_orthogonal needs in_channels <= out_channels for an orthogonal centre tap, "
            f"got a kernel of shape {tuple(w.shape)} (in={c_in} > out={c_out})"
        )
    if any(k % 2 == 0 for k in taps):
        raise InvalidArgument(
            f"delta_orthogonal needs odd kernel sizes (a centre tap), got {tuple(taps)}"
        )
    centre = torch.empty(c_out, c_in, dtype=w.dtype)
    orthogonal(centre, generator=generator, gain=gain)
    with torch.no_grad():
        w.zero_()
        centre_tap: tuple[slice | int, ...] = (slice(None), slice(None), *(k // 2 for k in taps))
        w[centre_tap] = centre
