"""Built-in activations: each is a plain torch function, registered once.

A user activation needs nothing but the function:
``register("activation", "mine")(lambda x: x * torch.sigmoid(x))``; theory then takes its
derivatives from autograd (:func:`numpy_activation`, the explicit fallback). Declarations
a registration may carry:

* ``kinks``: the points where the function is not smooth, so that theory can split its
  Gaussian quadrature there (Poole et al. 2016 mean-field integrals);
* ``numpy``: a :class:`NumpyReference`, an independent float64 implementation of
  :math:`\\phi`, :math:`\\phi'` and :math:`\\phi''` with hand-written derivatives. Every
  built-in declares one: theory uses it (so theory neither imports torch nor rereads the
  implementation it checks), and tests hold the torch forward and autograd backward equal
  to it;
* ``homogeneous=True``: :math:`\\phi(cx) = c\\,\\phi(x)` for every :math:`c > 0` (linear,
  ReLU, leaky ReLU, PReLU), so :math:`\\phi` is fixed by its slopes on each side of 0. Theory
  uses it to recognise the identity (BatchNorm's finite-batch law) and scaled ReLUs (the
  exact finite-width law).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import special

from gradbench._lazy import lazy_import
from gradbench.registry import lookup, register

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import Tensor
else:  # registrations load without torch; it is imported when an activation is first called
    torch = lazy_import("torch")
    F = lazy_import("torch.nn.functional")

NumpyFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class NumpyReference:
    r"""An activation's own float64 NumPy implementation, declared as ``numpy=`` at registration.

    Each function maps a float64 array to an array of the same shape and takes the
    activation's parameters as keyword-only arguments **without defaults**
    (``lambda x, *, negative_slope: ...``): :func:`numpy_activation` binds the torch
    function's defaults and the name's parameters, so the two implementations cannot
    disagree on a default. The derivatives are written out by hand (silu:
    :math:`s + x s (1 - s)` with :math:`s = \sigma(x)`), never taken by autograd, so the
    reference is an oracle for the torch forward and backward (``tests/test_activations.py``
    holds them equal to about 1e-12 in float64).

    Attributes:
        phi: :math:`\phi(x)`.
        dphi: :math:`\phi'(x)` (at a kink, the value torch's backward uses).
        d2phi: :math:`\phi''(x)` (0 where :math:`\phi` is piecewise linear).
    """

    phi: Callable[..., np.ndarray]
    dphi: Callable[..., np.ndarray]
    d2phi: Callable[..., np.ndarray]


def _zeros(x: np.ndarray, **_: float) -> np.ndarray:
    return np.zeros_like(x, dtype=np.float64)


def _ones(x: np.ndarray, **_: float) -> np.ndarray:
    return np.ones_like(x, dtype=np.float64)


def _leaky(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x > 0.0, x, slope * x)


def _leaky_slope(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x > 0.0, 1.0, slope)


@register(
    "activation", paper="identity map (deep linear networks, Saxe et al. 2014)",
    homogeneous=True, numpy=NumpyReference(phi=lambda x: np.asarray(x, np.float64), dphi=_ones,
                                           d2phi=_zeros),
    stable_for=({"init": "lecun_normal"},),
)
def linear(x: Tensor) -> Tensor:
    """phi(x) = x."""
    return x


@register(
    "activation", paper="Nair & Hinton 2010", kinks=(0.0,), homogeneous=True,
    numpy=NumpyReference(phi=lambda x: np.maximum(x, 0.0),
                         dphi=lambda x: _leaky_slope(x, 0.0), d2phi=_zeros),
    stable_for=({"init": "he_normal"},),
)
def relu(x: Tensor) -> Tensor:
    """phi(x) = max(x, 0)."""
    return torch.relu(x)


@register(
    "activation", paper="Maas et al. 2013", kinks=(0.0,), homogeneous=True,
    numpy=NumpyReference(phi=lambda x, *, negative_slope: _leaky(x, negative_slope),
                         dphi=lambda x, *, negative_slope: _leaky_slope(x, negative_slope),
                         d2phi=_zeros),
    stable_for=({"init": "he_normal"},), examples=("leaky_relu(negative_slope=0.2)",),
)
def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """phi(x) = x if x > 0 else negative_slope * x."""
    return F.leaky_relu(x, negative_slope)


@register(
    "activation", paper="He et al. 2015, arXiv:1502.01852", kinks=(0.0,), homogeneous=True,
    numpy=NumpyReference(phi=lambda x, *, init: _leaky(x, init),
                         dphi=lambda x, *, init: _leaky_slope(x, init), d2phi=_zeros),
    stable_for=({"init": "he_normal"},),
)
def prelu(x: Tensor, init: float = 0.25) -> Tensor:
    """PReLU at initialization: a leaky ReLU with learnable slope initialised to ``init``."""
    return F.leaky_relu(x, init)


def _elu(x: np.ndarray, *, alpha: float) -> np.ndarray:
    return np.where(x > 0.0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _elu_d(x: np.ndarray, *, alpha: float) -> np.ndarray:
    return np.where(x > 0.0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def _elu_d2(x: np.ndarray, *, alpha: float) -> np.ndarray:
    # at the kink x = 0 torch's backward takes the left slope, its double backward the right
    return np.where(x < 0.0, alpha * np.exp(np.minimum(x, 0.0)), 0.0)


@register(
    "activation", paper="Clevert et al. 2016, arXiv:1511.07289", kinks=(0.0,),
    numpy=NumpyReference(phi=_elu, dphi=_elu_d, d2phi=_elu_d2),
    stable_for=({"init": "he_normal"},),
)
def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """phi(x) = x if x > 0 else alpha * (exp(x) - 1)."""
    return F.elu(x, alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
"""SELU's alpha (Klambauer et al. 2017, eq. 14), the constant torch uses."""
_SELU_SCALE = 1.0507009873554804934193349852946
"""SELU's lambda (Klambauer et al. 2017, eq. 14), the constant torch uses."""


def _selu_ref(elu_part: Callable[..., np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: _SELU_SCALE * elu_part(x, alpha=_SELU_ALPHA)


@register(
    "activation", paper="Klambauer et al. 2017, arXiv:1706.02515", kinks=(0.0,),
    numpy=NumpyReference(phi=_selu_ref(_elu), dphi=_selu_ref(_elu_d),
                         d2phi=_selu_ref(_elu_d2)),
    stable_for=({"init": "lecun_normal"},),
)
def selu(x: Tensor) -> Tensor:
    """Scaled ELU with lambda = 1.0507..., alpha = 1.6733... (self-normalizing)."""
    return F.selu(x)


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * np.square(x))


@register(
    "activation", paper="Hendrycks & Gimpel 2016, arXiv:1606.08415",
    numpy=NumpyReference(  # phi = x Phi(x): phi' = Phi + x pdf, phi'' = (2 - x^2) pdf
        phi=lambda x: x * special.ndtr(x),
        dphi=lambda x: special.ndtr(x) + x * _normal_pdf(x),
        d2phi=lambda x: (2.0 - np.square(x)) * _normal_pdf(x),
    ),
)
def gelu(x: Tensor) -> Tensor:
    """phi(x) = x * Phi(x), exact erf form."""
    return F.gelu(x)


def _silu_d(x: np.ndarray) -> np.ndarray:
    s = special.expit(x)
    return s + x * s * (1.0 - s)


def _silu_d2(x: np.ndarray) -> np.ndarray:
    s = special.expit(x)
    return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))


@register(
    "activation", paper="Ramachandran et al. 2017; Elfwing et al. 2018",
    numpy=NumpyReference(phi=lambda x: x * special.expit(x), dphi=_silu_d, d2phi=_silu_d2),
)
def silu(x: Tensor) -> Tensor:
    """phi(x) = x * sigmoid(x) (Swish-1)."""
    return F.silu(x)


def _tanh_d(x: np.ndarray) -> np.ndarray:
    return 1.0 - np.square(np.tanh(x))


@register(
    "activation", paper="LeCun et al. 1998, Efficient BackProp",
    numpy=NumpyReference(phi=np.tanh, dphi=_tanh_d,
                         d2phi=lambda x: -2.0 * np.tanh(x) * _tanh_d(x)),
    stable_for=({"init": "xavier_normal"},),
)
def tanh(x: Tensor) -> Tensor:
    """phi(x) = tanh(x)."""
    return torch.tanh(x)


def _sigmoid_d(x: np.ndarray) -> np.ndarray:
    s = special.expit(x)
    return s * (1.0 - s)


@register(
    "activation", paper="logistic function; Glorot & Bengio 2010",
    numpy=NumpyReference(phi=special.expit, dphi=_sigmoid_d,
                         d2phi=lambda x: _sigmoid_d(x) * (1.0 - 2.0 * special.expit(x))),
)
def sigmoid(x: Tensor) -> Tensor:
    """phi(x) = 1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@register(
    "activation", paper="Williams 1997, Computing with infinite networks",
    numpy=NumpyReference(
        phi=special.erf,
        dphi=lambda x: _TWO_OVER_SQRT_PI * np.exp(-np.square(x)),
        d2phi=lambda x: -2.0 * x * _TWO_OVER_SQRT_PI * np.exp(-np.square(x)),
    ),
    stable_for=({"init": "lecun_normal"},),
)
def erf(x: Tensor) -> Tensor:
    """phi(x) = erf(x) (slope 2/sqrt(pi) at 0); its Gaussian kernel is known in closed form."""
    return torch.erf(x)


_SOFTPLUS_THRESHOLD = 20.0
"""``F.softplus``'s default ``threshold``: above ``beta * x > 20`` it returns ``x`` itself."""


def _softplus(x: np.ndarray, *, beta: float) -> np.ndarray:
    z = beta * x
    return np.where(z > _SOFTPLUS_THRESHOLD, x, np.logaddexp(0.0, z) / beta)


def _softplus_d(x: np.ndarray, *, beta: float) -> np.ndarray:
    z = beta * x
    return np.where(z > _SOFTPLUS_THRESHOLD, 1.0, special.expit(z))


def _softplus_d2(x: np.ndarray, *, beta: float) -> np.ndarray:
    z = beta * x
    s = special.expit(z)
    return np.where(z >= _SOFTPLUS_THRESHOLD, 0.0, beta * s * (1.0 - s))  # as torch at z = 20


@register(
    "activation", paper="Dugas et al. 2001",
    numpy=NumpyReference(phi=_softplus, dphi=_softplus_d, d2phi=_softplus_d2),
    stable_for=(),  # no critical point with sigma_b2 >= 0; He and Glorot weights vanish
)
def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    """phi(x) = log(1 + exp(beta x)) / beta (and x itself where beta x > 20, as torch)."""
    return F.softplus(x, beta)


@dataclass(frozen=True)
class NumpyActivation:
    """A registered activation evaluated on float64 NumPy arrays, parameters bound.

    Attributes:
        phi: the activation.
        dphi: its first derivative.
        d2phi: its second derivative (0 where the graph is piecewise linear).
        kinks: points where phi is not smooth, for quadrature splitting.
        source: ``"reference"`` (the declared :class:`NumpyReference`), ``"autograd"``
            (the torch function and its autograd derivatives: the fallback for an
            activation that declares no reference; it imports torch) or ``"forward"``
            (the torch forward and its finite differences: :func:`forward_activation`).
        homogeneous: the registration declares ``homogeneous=True``.
    """

    phi: NumpyFn
    dphi: NumpyFn
    d2phi: NumpyFn
    kinks: tuple[float, ...]
    source: Literal["reference", "autograd", "forward"] = "reference"
    homogeneous: bool = False


def _derivatives(fn: Callable[[Tensor], Tensor], x: np.ndarray, order: int) -> np.ndarray:
    """``order``-th derivative of ``fn`` at ``x`` by autograd (zeros once the graph is constant)."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float64)).requires_grad_(order > 0)
    y = fn(t)
    for _ in range(order):
        if not y.requires_grad:
            return np.zeros(t.shape)
        (y,) = torch.autograd.grad(y.sum(), t, create_graph=True)
    return np.asarray(y.detach().numpy(), dtype=np.float64)


FD_STEP = 1e-5
"""Relative step of the central differences of :func:`forward_activation` (the second
derivative uses ten times it)."""


def forward_activation(remedy: Any) -> NumpyActivation:
    """A registered activation as NumPy functions from its torch *forward* alone.

    phi is the forward in float64 without autograd; its first and second derivatives are
    central differences of it (step :data:`FD_STEP` times ``1 + |x|``), so a hand-written
    backward never enters: theory computed from this object (the activation's critical
    initialization, :func:`gradbench.theory.stable_critical_point`) is independent of the
    backward the network's gradients go through.

    Examples:
        >>> act = forward_activation(lookup("activation", "tanh"))
        >>> act.source, round(float(act.dphi(np.array([0.5]))[0]), 8)
        ('forward', 0.78644773)
    """
    fn = remedy.fn

    def phi(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = fn(torch.as_tensor(np.asarray(x, dtype=np.float64)))
        return np.asarray(y.detach().numpy(), dtype=np.float64)

    def dphi(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        h = FD_STEP * (1.0 + np.abs(x))
        return (phi(x + h) - phi(x - h)) / (2.0 * h)

    def d2phi(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        h = 10.0 * FD_STEP * (1.0 + np.abs(x))
        return (phi(x + h) - 2.0 * phi(x) + phi(x - h)) / (h * h)

    kinks = tuple(float(k) for k in remedy.meta.get("kinks", ()))
    return NumpyActivation(phi, dphi, d2phi, kinks, "forward",
                           bool(remedy.meta.get("homogeneous", False)))


def _parameters(obj: Callable[..., Any], bound: dict[str, float]) -> dict[str, Any]:
    """The keyword defaults of the torch function ``obj``, then the name's parameters."""
    sig = inspect.signature(obj)
    out = {n: p.default for n, p in sig.parameters.items() if p.default is not p.empty}
    return out | bound


def numpy_activation(name: str) -> NumpyActivation:
    """The activation registered as ``name`` as NumPy functions (for :mod:`gradbench.theory`).

    Uses the registration's :class:`NumpyReference` (no torch) when it declares one, else
    the explicit fallback: the torch function with autograd derivatives.

    Examples:
        >>> act = numpy_activation("tanh")
        >>> act.source, round(float(act.dphi(np.array([0.0]))[0]), 6)
        ('reference', 1.0)
    """
    remedy = lookup("activation", name)
    kinks = tuple(float(k) for k in remedy.meta.get("kinks", ()))
    homogeneous = bool(remedy.meta.get("homogeneous", False))
    ref: NumpyReference | None = remedy.meta.get("numpy")
    if ref is None:
        fn = remedy.fn
        return NumpyActivation(
            phi=lambda x: _derivatives(fn, x, 0),
            dphi=lambda x: _derivatives(fn, x, 1),
            d2phi=lambda x: _derivatives(fn, x, 2),
            kinks=kinks, source="autograd", homogeneous=homogeneous,
        )
    params = _parameters(remedy.obj, dict(remedy.params))
    phi, dphi, d2phi = (functools.partial(f, **params) if params else f
                        for f in (ref.phi, ref.dphi, ref.d2phi))
    return NumpyActivation(phi, dphi, d2phi, kinks, "reference", homogeneous)


__all__ = ["NumpyActivation", "NumpyReference", "forward_activation", "numpy_activation"]
