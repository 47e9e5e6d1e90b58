"""Built-in normalizations, applied to pre-activations of shape ``(..., batch, features)``.

Leading dimensions are independent networks (seeds), so the same function serves a
single model and a stack of models. No affine parameters (identity at init).
``module`` builds the equivalent standard ``torch.nn`` layer, used by the reference
``nn.Module`` and checked against the function in the tests. ``statistics`` declares what
the normalization divides by, which is all theory needs to know of it (docs/theory.md §6):
``"batch"`` (per feature, over the batch: needs a batch of at least 2) or ``"feature"``
(per example, over the features). A normalization that declares none gets no prediction.
``invariances`` declares what it is invariant to along that axis (``"shift"``: adding a
constant; ``"scale"``: multiplying by a positive constant), checked by the suite;
``stable_for`` the settings where it keeps gradients stable (docs/theory.md §6).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gradbench._lazy import lazy_import
from gradbench.registry import register

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn
else:  # registrations load without torch; it is imported when a normalization is first used
    torch = lazy_import("torch")
    nn = lazy_import("torch.nn")

EPS = 1e-5


@register("normalization", "none", module=lambda n: nn.Identity())
def none(h: Tensor) -> Tensor:
    """No normalization."""
    return h


@register(
    "normalization",
    "batchnorm",
    statistics="batch",
    paper="Ioffe & Szegedy 2015, arXiv:1502.03167",
    module=lambda n: nn.BatchNorm1d(n, eps=EPS, affine=False, track_running_stats=False),
    invariances=("shift", "scale"),
    stable_for=(),  # gradients explode with depth at initialization (Yang et al. 2019)
)
def batchnorm(h: Tensor) -> Tensor:
    """(h - mean_batch) / sqrt(var_batch + eps), batch statistics (training mode)."""
    mean = h.mean(dim=-2, keepdim=True)
    var = h.var(dim=-2, unbiased=False, keepdim=True)
    return (h - mean) / torch.sqrt(var + EPS)


@register(
    "normalization",
    "layernorm",
    statistics="feature",
    paper="Ba et al. 2016, arXiv:1607.06450",
    module=lambda n: nn.LayerNorm(n, eps=EPS, elementwise_affine=False),
    invariances=("shift", "scale"),
    stable_for=({"activation": "relu", "init": "he_normal"},),
)
def layernorm(h: Tensor) -> Tensor:
    """(h - mean_features) / sqrt(var_features + eps), per example."""
    mean = h.mean(dim=-1, keepdim=True)
    var = h.var(dim=-1, unbiased=False, keepdim=True)
    return (h - mean) / torch.sqrt(var + EPS)


@register(
    "normalization",
    "rmsnorm",
    statistics="feature",
    paper="Zhang & Sennrich 2019, arXiv:1910.07467",
    module=lambda n: nn.RMSNorm(n, eps=EPS, elementwise_affine=False),
    invariances=("scale",),
    stable_for=({"activation": "relu", "init": "he_normal"},),
)
def rmsnorm(h: Tensor) -> Tensor:
    """h / sqrt(mean_features(h^2) + eps), per example."""
    return h * torch.rsqrt(h.pow(2).mean(dim=-1, keepdim=True) + EPS)
