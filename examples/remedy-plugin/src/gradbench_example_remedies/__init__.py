"""Example gradbench remedies, registered once each with what they declare.

Importing this module registers them; gradbench imports it through the entry point
``gradbench.remedies`` in this package's ``pyproject.toml``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gradbench import register
from gradbench.remedies.activations import NumpyReference

A, B = 1.7159, 2.0 / 3.0  # LeCun et al. 1998, Efficient BackProp, section 4.4


@register("initializer", "lecun_uniform", paper="LeCun et al. 1998, Efficient BackProp",
          variance=lambda fan_in, fan_out: 1.0 / fan_in, distribution="uniform",
          stable_for=({"activation": "tanh"}, {"activation": "selu"}))
def lecun_uniform(w: torch.Tensor, *, generator: torch.Generator) -> None:
    """W_ij ~ U(-a, a), a = sqrt(3 / fan_in): variance 1/fan_in."""
    bound = math.sqrt(3.0 / w.shape[1])
    with torch.no_grad():
        w.uniform_(-bound, bound, generator=generator)


def _scaled_tanh_d(x: np.ndarray) -> np.ndarray:
    return A * B / np.cosh(B * x) ** 2


@register("activation", "scaled_tanh", paper="LeCun et al. 1998, Efficient BackProp",
          numpy=NumpyReference(
              phi=lambda x: A * np.tanh(B * x), dphi=_scaled_tanh_d,
              d2phi=lambda x: -2.0 * B * np.tanh(B * x) * _scaled_tanh_d(x)),
          stable_for=({"init": "lecun_normal"},))
def scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = 1.7159 tanh(2x/3): phi(1) = 1 and phi'(0) = 1.14."""
    return A * torch.tanh(B * x)


@register("normalization", "scalenorm", paper="Nguyen & Salazar 2019, arXiv:1910.05895",
          invariances=("scale",), statistics="feature",
          stable_for=({"activation": "relu", "init": "he_normal"},))
def scalenorm(h: torch.Tensor) -> torch.Tensor:
    """ScaleNorm with its gain at initialization, g = sqrt(features): h sqrt(n) / ||h||."""
    n = h.shape[-1]
    return h * math.sqrt(n) / h.norm(dim=-1, keepdim=True).clamp(min=1e-12)
