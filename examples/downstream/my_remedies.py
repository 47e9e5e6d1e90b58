"""A downstream project's own remedy: a fan-average He initializer for ReLU nets.

``W_ij ~ N(0, 4 / (fan_in + fan_out))``: He's 2/fan_in on square layers, Glorot's
averaging of the fans otherwise. It declares what it is, so gradbench checks it.
"""

from __future__ import annotations

import math

import torch


def fan_avg_he(w: torch.Tensor, *, generator: torch.Generator) -> None:
    """Fill ``w`` (fan_out x fan_in) with N(0, 4 / (fan_in + fan_out))."""
    fan_out, fan_in = w.shape[0], w[0].numel()
    with torch.no_grad():
        w.normal_(0.0, math.sqrt(4.0 / (fan_in + fan_out)), generator=generator)


fan_avg_he.gradbench_meta = {
    "variance": lambda fan_in, fan_out: 4.0 / (fan_in + fan_out),
    "distribution": "normal",
    "stable_for": [{"activation": "relu"}],
}
