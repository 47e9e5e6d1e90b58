"""Correct remedies, written the way users write them, declaring nothing.

Each must pass ``gradbench validate`` (quick profile) with exit code 0:
``tests/quality/test_acceptance.py``.
"""

from __future__ import annotations

import functools
import math

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


TARGETS = (
    "torch.nn.init:kaiming_normal_",
    "acceptance_remedies:orthogonal_relu",
    "acceptance_remedies:xavier_uniform_tanh",
    "torch.nn.functional:mish",
    "torch.optim:Adam",
    "acceptance_remedies:layer_norm",
    "acceptance_remedies:inv_sqrt_depth",
)
