"""Remedies written the way users write them: correct ones declaring nothing, and wrong ones.

Each correct one (:data:`TARGETS`) must pass ``gradbench validate`` (quick profile) with exit
code 0, each wrong one (:data:`WRONG`) must fail it with exit code 1:
``tests/quality/test_acceptance.py``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

orthogonal_relu = functools.partial(torch.nn.init.orthogonal_, gain=math.sqrt(2.0))
orthogonal_relu.__name__ = "orthogonal_relu"  # type: ignore[attr-defined]


def xavier_uniform_tanh(w: torch.Tensor, *, generator: torch.Generator) -> None:
    """Glorot & Bengio 2010 by hand: U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    fan_out, fan_in = w.shape
    a = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        w.uniform_(-a, a, generator=generator)


def layer_norm(h: torch.Tensor) -> torch.Tensor:
    """LayerNorm by hand, no affine parameters."""
    mean = h.mean(dim=-1, keepdim=True)
    var = h.var(dim=-1, unbiased=False, keepdim=True)
    return (h - mean) / torch.sqrt(var + 1e-5)


def inv_sqrt_depth(layer: int, depth: int) -> float:
    """Residual branch scale 1/sqrt(L)."""
    return 1.0 / math.sqrt(depth)


class _Gelu(torch.autograd.Function):
    """GELU, x Phi(x), with its own backward Phi(x) + x pdf(x) (Hendrycks & Gimpel 2016)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        cdf = 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
        pdf = torch.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return g * (cdf + x * pdf)


class _Silu(torch.autograd.Function):
    """SiLU, x s(x), with its own backward s + x s (1 - s) (Elfwing et al. 2018)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        x, s = ctx.saved_tensors
        return g * (s + x * s * (1.0 - s))


def my_gelu(x: torch.Tensor) -> torch.Tensor:
    return _Gelu.apply(x)  # type: ignore[no-any-return]


def my_silu(x: torch.Tensor) -> torch.Tensor:
    return _Silu.apply(x)  # type: ignore[no-any-return]


TARGETS = (
    "torch.nn.init:kaiming_normal_",
    "acceptance_remedies:orthogonal_relu",
    "acceptance_remedies:xavier_uniform_tanh",
    "torch.nn.functional:mish",
    "torch.optim:Adam",
    "acceptance_remedies:layer_norm",
    "acceptance_remedies:inv_sqrt_depth",
    "torch.nn.functional:gelu",
    "torch.nn.functional:silu",
    "acceptance_remedies:my_gelu",
    "acceptance_remedies:my_silu",
)


# Wrong remedies: each must make ``gradbench validate`` exit 1 (tests/quality/test_acceptance.py).


class _SiluDroppedTerm(torch.autograd.Function):
    """SiLU whose backward drops the x s (1 - s) term."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x)
        ctx.save_for_backward(s)
        return x * s

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        return g * s


def bad_silu(x: torch.Tensor) -> torch.Tensor:
    return _SiluDroppedTerm.apply(x)  # type: ignore[no-any-return]


xavier_tanh = functools.partial(torch.nn.init.xavier_normal_, gain=5 / 3)
xavier_tanh.__name__ = "xavier_tanh"  # type: ignore[attr-defined]
xavier_tanh.gradbench_meta = {"stable_for": [{"activation": "tanh"}]}  # type: ignore[attr-defined]
he_tanh = functools.partial(torch.nn.init.kaiming_normal_, nonlinearity="relu")
he_tanh.__name__ = "he_tanh"  # type: ignore[attr-defined]
he_tanh.gradbench_meta = {"stable_for": [{"activation": "tanh"}]}  # type: ignore[attr-defined]


def bad_he(w: torch.Tensor, *, generator: torch.Generator) -> None:
    """N(0, 6 / fan_in): per-layer growth sqrt(3) with ReLU."""
    with torch.no_grad():
        w.normal_(0.0, math.sqrt(6.0 / w.shape[1]), generator=generator)


WRONG = (
    # (target, extra arguments, what the output must say)
    ("acceptance_remedies:bad_silu", (), "DISAGREES"),
    ("acceptance_remedies:xavier_tanh", (),
     "per layer, x1"),  # x1.09 per layer, x12-x16 over the 29 steps of depth 30
    ("acceptance_remedies:he_tanh", ("--depth", "100"),
     "over the 99 layer-to-layer steps of depth 100 (exploding)"),
    ("acceptance_remedies:bad_he", (), "Stable in none of the settings tried"),
)
