"""Built-in activations: each is a plain torch function, registered once.

The derivative comes from autograd, so a user activation needs nothing but the
function: ``register("activation", "mine")(lambda x: x * torch.sigmoid(x))``.
``kinks`` lists the points where the function is not smooth, so that theory can
split its Gaussian quadrature there (Poole et al. 2016 mean-field integrals).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gradbench._lazy import lazy_import
from gradbench.registry import lookup, register

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import Tensor
else:  # registrations load without torch; it is imported when an activation is first called
    torch = lazy_import("torch")
    F = lazy_import("torch.nn.functional")


@register("activation", paper="identity map (deep linear networks, Saxe et al. 2014)")
def linear(x: Tensor) -> Tensor:
    """phi(x) = x."""
    return x


@register("activation", paper="Nair & Hinton 2010", kinks=(0.0,))
def relu(x: Tensor) -> Tensor:
    """phi(x) = max(x, 0)."""
    return torch.relu(x)


@register("activation", paper="Maas et al. 2013", kinks=(0.0,))
def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """phi(x) = x if x > 0 else negative_slope * x."""
    return F.leaky_relu(x, negative_slope)


@register("activation", paper="He et al. 2015, arXiv:1502.01852", kinks=(0.0,))
def prelu(x: Tensor, init: float = 0.25) -> Tensor:
    """PReLU at initialization: a leaky ReLU with learnable slope initialised to ``init``."""
    return F.leaky_relu(x, init)


@register("activation", paper="Clevert et al. 2016, arXiv:1511.07289", kinks=(0.0,))
def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """phi(x) = x if x > 0 else alpha * (exp(x) - 1)."""
    return F.elu(x, alpha)


@register("activation", paper="Klambauer et al. 2017, arXiv:1706.02515", kinks=(0.0,))
def selu(x: Tensor) -> Tensor:
    """Scaled ELU with lambda = 1.0507..., alpha = 1.6733... (self-normalizing)."""
    return F.selu(x)


@register("activation", paper="Hendrycks & Gimpel 2016, arXiv:1606.08415")
def gelu(x: Tensor) -> Tensor:
    """phi(x) = x * Phi(x), exact erf form."""
    return F.gelu(x)


@register("activation", paper="Ramachandran et al. 2017; Elfwing et al. 2018")
def silu(x: Tensor) -> Tensor:
    """phi(x) = x * sigmoid(x) (Swish-1)."""
    return F.silu(x)


@register("activation", paper="LeCun et al. 1998, Efficient BackProp")
def tanh(x: Tensor) -> Tensor:
    """phi(x) = tanh(x)."""
    return torch.tanh(x)


@register("activation", paper="logistic function; Glorot & Bengio 2010")
def sigmoid(x: Tensor) -> Tensor:
    """phi(x) = 1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


@register("activation", paper="Williams 1997, Computing with infinite networks")
def erf(x: Tensor) -> Tensor:
    """phi(x) = erf(x) (slope 2/sqrt(pi) at 0); its Gaussian kernel is known in closed form."""
    return torch.erf(x)


@register("activation", paper="Dugas et al. 2001")
def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    """phi(x) = log(1 + exp(beta x)) / beta."""
    return F.softplus(x, beta)


NumpyFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class NumpyActivation:
    """A registered activation evaluated on float64 NumPy arrays, with autograd derivatives.

    Attributes:
        phi: the activation.
        dphi: its first derivative (autograd).
        d2phi: its second derivative (autograd; 0 where the graph is piecewise linear).
        kinks: points where phi is not smooth, for quadrature splitting.
    """

    phi: NumpyFn
    dphi: NumpyFn
    d2phi: NumpyFn
    kinks: tuple[float, ...]


def _derivatives(fn: Callable[[Tensor], Tensor], x: np.ndarray, order: int) -> np.ndarray:
    """``order``-th derivative of ``fn`` at ``x`` by autograd (zeros once the graph is constant)."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float64)).requires_grad_(order > 0)
    y = fn(t)
    for _ in range(order):
        if not y.requires_grad:
            return np.zeros(t.shape)
        (y,) = torch.autograd.grad(y.sum(), t, create_graph=True)
    return np.asarray(y.detach().numpy(), dtype=np.float64)


def numpy_activation(name: str) -> NumpyActivation:
    """The activation registered as ``name`` as NumPy functions (for :mod:`gradbench.theory`).

    Examples:
        >>> act = numpy_activation("tanh")
        >>> round(float(act.dphi(np.array([0.0]))[0]), 6)
        1.0
    """
    remedy = lookup("activation", name)
    fn = remedy.fn
    return NumpyActivation(
        phi=lambda x: _derivatives(fn, x, 0),
        dphi=lambda x: _derivatives(fn, x, 1),
        d2phi=lambda x: _derivatives(fn, x, 2),
        kinks=tuple(float(k) for k in remedy.meta.get("kinks", ())),
    )


__all__ = ["NumpyActivation", "numpy_activation"]
