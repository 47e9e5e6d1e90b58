"""A user's transformer block, as gradbench measures it (README, docs/blocks.md).

``block`` is a pre-LN transformer block written with torch.nn; ``gradbench validate
examples/blocks/my_block.py:block --depth 48`` stacks it up to depth 64 beside the
built-in baselines. ``scaled_block`` is the same block with each branch scaled by
``1/sqrt(2 depth)`` (a depth-scaled fix, as in DeepNet/T-Fixup): does it help?
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PreLNBlock(nn.Module):
    """``x + s MHA(LN(x))``, then ``x + s W2 gelu(W1 LN(x))`` (``s``: the branch scale)."""

    def __init__(self, width: int, heads: int, scale: float, generator: torch.Generator) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))
        self.scale = scale
        with torch.no_grad():  # every random weight from the generator; biases zero
            for name, p in self.named_parameters():
                if name.startswith("ln"):
                    continue
                if p.dim() == 1:
                    p.zero_()
                else:
                    bound = math.sqrt(6.0 / sum(p.shape))
                    p.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.scale * self.attn(h, h, h, need_weights=False)[0]
        return x + self.scale * self.mlp(self.ln2(x))


def block(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """The plain pre-LN block."""
    return PreLNBlock(width, 4, 1.0, generator)


def scaled_block(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """The pre-LN block with its branches scaled by 1/sqrt(2 depth)."""
    return PreLNBlock(width, 4, 1.0 / math.sqrt(2 * depth), generator)


scaled_block.gradbench_meta = {"expect": "bounded"}  # type: ignore[attr-defined]


def model(*, generator: torch.Generator, depth: int = 48, width: int = 32) -> nn.Module:
    """The whole 48-block model: ``gb.check(model, blocks=r"\\d+", example_input=tokens)``."""
    return nn.Sequential(*(block(width, layer=i, depth=depth, generator=generator)
                           for i in range(depth)))


def tokens(generator: torch.Generator) -> torch.Tensor:
    """An example input: 4 sequences of 8 tokens of width 32."""
    return torch.randn(4, 8, 32, generator=generator)
