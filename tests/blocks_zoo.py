"""Block factories the tests validate (docs/blocks.md), each ``f(width, *, layer, depth,
generator) -> nn.Module``; the wrong ones are wrong in exactly one planted way."""

from __future__ import annotations

import math

import torch
from torch import nn


def _fill(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Glorot-uniform weights from ``generator``, zero biases, norms left at (1, 0)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name or name.startswith("ln"):
                continue
            if p.dim() == 1:
                p.zero_()
            else:
                bound = math.sqrt(6.0 / sum(p.shape))
                p.uniform_(-bound, bound, generator=generator)
    return module


class PreLN(nn.Module):
    """A pre-LN transformer block: ``x + MHA(LN x)``, ``x + W2 gelu(W1 LN x)``."""

    def __init__(self, width: int, batch_first: bool = True) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, 4, batch_first=batch_first)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


def pre_ln(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """Pre-LN transformer block written with torch.nn (must pass: a power law)."""
    return _fill(PreLN(width), generator)


def torch_encoder(width: int, *, layer: int, depth: int,
                  generator: torch.Generator) -> nn.Module:
    """torch.nn.TransformerEncoderLayer, pre-LN (must pass)."""
    return _fill(nn.TransformerEncoderLayer(width, 4, dim_feedforward=4 * width, dropout=0.0,
                                            norm_first=True, batch_first=True), generator)


def torch_encoder_dropout(width: int, *, layer: int, depth: int,
                          generator: torch.Generator) -> nn.Module:
    """torch.nn.TransformerEncoderLayer, pre-LN, dropout 0.1, measured in train mode."""
    return _fill(nn.TransformerEncoderLayer(width, 4, dim_feedforward=4 * width, dropout=0.1,
                                            norm_first=True, batch_first=True), generator)


torch_encoder_dropout.gradbench_meta = {"dropout": True}  # type: ignore[attr-defined]


def batchnorm_residual(width: int, *, layer: int, depth: int,
                       generator: torch.Generator) -> nn.Module:
    """``x + W BN(x)`` with BatchNorm over the batch (and sequence) axis: in train mode it
    mixes the examples of a batch, which the guard must name."""
    return _fill(_BatchNormResidual(width), generator)


class _BatchNormResidual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm, self.lin = nn.BatchNorm1d(width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.lin(self.norm(x.transpose(1, 2)).transpose(1, 2))


class _Map(nn.Module):
    def __init__(self, lin: nn.Linear, fn: str) -> None:
        super().__init__()
        self.lin, self.fn = lin, fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(torch, self.fn)(self.lin(x))


def _gaussian(width: int, std: float, generator: torch.Generator) -> nn.Linear:
    lin = nn.Linear(width, width, bias=False)
    with torch.no_grad():
        lin.weight.normal_(0.0, std, generator=generator)
    return lin


def chaotic_tanh(width: int, *, layer: int, depth: int,
                 generator: torch.Generator) -> nn.Module:
    """``tanh(W x)``, no skip, ``sigma_w = 2.5``: chaotic phase, chi_1 = 1.61 (mean field),
    gradients grow x1.27 per block (must fail: exponential)."""
    return _Map(_gaussian(width, 2.5 / math.sqrt(width), generator), "tanh")


class Residual(nn.Module):
    """``x + alpha W2 relu(W1 x)``."""

    def __init__(self, w1: nn.Linear, w2: nn.Linear, alpha: float) -> None:
        super().__init__()
        self.w1, self.w2, self.alpha = w1, w2, alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.alpha * self.w2(torch.relu(self.w1(x)))


def he_residual(width: int, *, layer: int, depth: int,
                generator: torch.Generator) -> nn.Module:
    """``x + W2 relu(W1 x)``, He init, unscaled: the squared gradient grows x(1 + 2) per
    block (must fail: exponential)."""
    std = math.sqrt(2.0 / width)
    return Residual(_gaussian(width, std, generator), _gaussian(width, std, generator), 1.0)


def fixed_residual(alpha: float):  # type: ignore[no-untyped-def]
    """``x + alpha W2 relu(W1 x)`` with a fixed alpha: gradients grow
    ``sqrt(1 + 2 alpha^2)`` per block, an exponential law at any alpha > 0."""

    def factory(width: int, *, layer: int, depth: int,
                generator: torch.Generator) -> nn.Module:
        std = math.sqrt(2.0 / width)
        return Residual(_gaussian(width, std, generator), _gaussian(width, std, generator),
                        alpha)

    return factory


def scaled_residual(width: int, *, layer: int, depth: int,
                    generator: torch.Generator) -> nn.Module:
    """``x + W2 relu(W1 x) / sqrt(depth)``: the ratio stays bounded (declared)."""
    return fixed_residual(1.0 / math.sqrt(depth))(width, layer=layer, depth=depth,
                                                  generator=generator)


scaled_residual.gradbench_meta = {"expect": "bounded"}  # type: ignore[attr-defined]


def pre_ln_declared_bounded(width: int, *, layer: int, depth: int,
                            generator: torch.Generator) -> nn.Module:
    """The pre-LN block declaring a bounded law it does not have (must fail)."""
    return pre_ln(width, layer=layer, depth=depth, generator=generator)


pre_ln_declared_bounded.gradbench_meta = {"expect": "bounded"}  # type: ignore[attr-defined]


def stream_limited(width: int, *, layer: int, depth: int,
                   generator: torch.Generator) -> nn.Module:
    """The pre-LN block declaring its stream grows at most x2 (it grows ~x7: must fail)."""
    return pre_ln(width, layer=layer, depth=depth, generator=generator)


stream_limited.gradbench_meta = {"max_stream_growth": 2.0}  # type: ignore[attr-defined]


def ignores_generator(width: int, *, layer: int, depth: int,
                      generator: torch.Generator) -> nn.Module:
    """Pre-LN with torch's default init (the global RNG): ignores its generator."""
    return PreLN(width)


def mixes_batch(width: int, *, layer: int, depth: int,
                generator: torch.Generator) -> nn.Module:
    """Pre-LN with ``batch_first=False``: attends over the batch axis of (batch, seq, width)."""
    return _fill(PreLN(width, batch_first=False), generator)


def widens(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """A linear map width -> width + 1: the shape is not preserved."""
    return _fill(nn.Linear(width, width + 1), generator)


class _Pair(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return x, None


def returns_tuple(width: int, *, layer: int, depth: int,
                  generator: torch.Generator) -> nn.Module:
    """A block returning ``(hidden, attention weights)``, as many library blocks do."""
    return _Pair()


class _Log(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


def nan_block(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """``log(x)``: NaN for negative entries of a unit-variance input."""
    return _Log()


class _Scale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1e6 * x


def overflows(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """``1e6 x``: finite for one block, infinite gradients by depth ~52 (an explosion)."""
    return _Scale()


class PostLN(nn.Module):
    """``x <- LN(alpha x + MHA(x))``, ``x <- LN(alpha x + W2 gelu(W1 x))``: Post-LN at
    alpha = 1; DeepNorm (Wang et al. 2022) with alpha = (2N)^(1/4) and W_V, W_O, W1, W2
    multiplied by beta = (8N)^(-1/4) after the Glorot draw."""

    def __init__(self, width: int, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, 4, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ln1(self.alpha * x + self.attn(x, x, x, need_weights=False)[0])
        return self.ln2(self.alpha * x + self.mlp(x))


def _deep_norm(width: int, depth: int, generator: torch.Generator,
               beta_exponent: float) -> nn.Module:
    block = _fill(PostLN(width, alpha=(2 * depth) ** 0.25), generator)
    beta = (8 * depth) ** -beta_exponent
    with torch.no_grad():
        block.attn.in_proj_weight[2 * width:].mul_(beta)  # W_V (not W_Q, W_K)
        block.attn.out_proj.weight.mul_(beta)
        block.mlp[0].weight.mul_(beta)
        block.mlp[2].weight.mul_(beta)
    return block


def post_ln(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """Post-LN transformer block: its output change grows about linearly with depth."""
    return _fill(PostLN(width), generator)


def deep_norm(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """DeepNorm's Post-LN block: the output change is bounded in depth (declared)."""
    return _deep_norm(width, depth, generator, 0.25)


deep_norm.gradbench_meta = {"output_change": "bounded"}  # type: ignore[attr-defined]


def deep_norm_beta_exponent_half(width: int, *, layer: int, depth: int,
                                 generator: torch.Generator) -> nn.Module:
    """DeepNorm with beta = (8N)^(-1/2): the declared bounded output change shrinks."""
    return _deep_norm(width, depth, generator, 0.5)


deep_norm_beta_exponent_half.gradbench_meta = {"output_change": "bounded"}  # type: ignore[attr-defined]


def identity(width: int, *, layer: int, depth: int, generator: torch.Generator) -> nn.Module:
    """``x I``, a linear layer at the identity: rms(I) = width^(-1/2), so each of the L
    perturbed layers adds eps^2 ||x Z||^2 / width ~ eps^2 ||x||^2 and E delta^2 = L
    (exactly, the stack being linear in each perturbation to first order)."""
    lin = nn.Linear(width, width, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(width))
    return lin
