"""What the depth-scheme claims measure (torch side; :mod:`gradbench.claims.schemes`).

* :func:`scheme_constants`: the constants a scheme's network is built with, read off the
  built network: each weight's factor relative to the base initializer (the same draw
  made with the scheme's fields and without them, from one generator), the input's factor,
  and the skip factor alpha from one forward of the first sublayer with a probe branch.
* :func:`output_change_pair`: E||F(W + dW) - F(W)||^2 of networks of two depths under an
  update dW of fixed size per weight, one token per example (docs/theory.md §10.2).

Every draw derives from the configuration (:func:`gradbench.models.derive_seed`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from gradbench.models import Draw, derive_seed, family_of
from gradbench.remedies.schemes import ALL_GROUPS, scheme_spec

OUTPUT_CHANGE_EPS = 1e-6
"""Relative size of the finite difference: a float64 second-order error of about 1e-6."""
PERTURBED = ("V", "O", "W1_", "W2_")
"""The weights the update moves: at one token W_Q and W_K do not enter the output."""


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One intra-op thread: these networks are a few 64 x 256 matmuls per example, and on a
    busy machine two threads spin against each other (0.4 s against 1.6 s per case on 2
    loaded cores; as :mod:`gradbench.blocks` does)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _generator(spec: Any, seed: int, index: int, stream: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(spec, seed, index, stream))


def _base(spec: Any) -> Any:
    """``spec`` with the scheme's scale fields at their neutral values (placement and skip
    factor kept: they do not change what is drawn)."""
    return spec.replace(branch_gain=1.0, layer_gain_exponent=0.0, input_var=1.0)


def _skip_factor(spec: Any, params: dict[str, torch.Tensor]) -> float:
    """alpha read off the first sublayer's output with a probe branch ``F(x) = P x``.

    With W_V = I and W_O = P (the projection on the first d/2 coordinates) one token's
    attention sublayer is ``F(x) = P x``. The input has zero mean on each half, so a
    LayerNorm only rescales. Then the half P does not touch gives alpha directly without a
    LayerNorm after the add (``alpha x + F(.)``), and with one (Post-LN) the ratio of the
    halves' gains is (alpha + 1)/alpha.
    """
    d = spec.width
    half = d // 2
    probe = dict(params)
    p = torch.zeros(d, d, dtype=torch.float64)
    p[:half, :half] = torch.eye(half, dtype=torch.float64)
    probe["V0"], probe["O0"] = torch.eye(d, dtype=torch.float64), p
    g = torch.Generator().manual_seed(0)
    x = torch.randn(d, generator=g, dtype=torch.float64)
    x[:half] -= x[:half].mean()
    x[half:] -= x[half:].mean()
    one = spec.replace(seq=1)
    data = {"x": x.reshape(1, 1, d), "R": torch.zeros(1, 1, d, dtype=torch.float64)}
    with torch.no_grad():
        y = family_of(one).forward(one, probe, data).sites[0].reshape(d)
    kept = float(y[half:].norm() / x[half:].norm())
    if spec.placement != "post":
        return kept
    ratio = float(y[:half].norm() / x[:half].norm()) / kept
    return 1.0 / (ratio - 1.0) if ratio != 1.0 else math.inf


def scheme_constants(remedy: Any, *, depth: int, width: int = 16, seed: int = 0,
                     **_: Any) -> dict[str, Any]:
    """The built network's constants: ``placement``, ``skip`` (alpha), ``gains`` (``[depth,
    6]``, each weight group's norm over the same draw's norm at the base initializer, in
    :data:`~gradbench.remedies.schemes.ALL_GROUPS` order) and ``input_std``."""
    spec = scheme_spec(remedy, depth, width=width, heads=2, seq=2, ffn=2,
                       init="xavier_normal")
    base = _base(spec)
    family = family_of(spec)
    with _one_thread():
        made, ref = (family.draw_parameters(s, Draw(_generator(spec, seed, 0, "params")))
                     for s in (spec, base))
        xs = [family.draw_data(s, 1, Draw(_generator(spec, seed, 0, "data")))["x"]
              for s in (spec, base)]
        gains = np.array([[float(made[_key(g, b)].norm() / ref[_key(g, b)].norm())
                           for g in ALL_GROUPS] for b in range(depth)])
        skip = _skip_factor(spec, made)
    return {"placement": spec.placement, "skip": skip, "gains": gains,
            "input_std": float(xs[0].norm() / xs[1].norm())}


def _key(group: str, block: int) -> str:
    return f"{group}{block}" if group in ("Q", "K", "V", "O") else f"{group}_{block}"


def _output_change(spec: Any, seeds: int, batch: int, seed: int) -> np.ndarray:
    """Per network, ``||F(W + eps dW) - F(W)||^2 / (eps^2 d)`` averaged over the examples,
    ``dW`` with i.i.d. ``N(0, 1/fan_in)`` entries on W_V, W_O, W1, W2 (float64)."""
    from gradbench.models import _layer_norm
    from gradbench.probe import draw_stacked

    family = family_of(spec)
    params, data = draw_stacked(spec, seeds, batch, seed)
    eps = OUTPUT_CHANGE_EPS
    moved = {k: w.clone() if k.startswith(PERTURBED) else w for k, w in params.items()}
    for i in range(seeds):
        g = _generator(spec, seed, i, "update")
        for key in sorted(k for k in moved if k.startswith(PERTURBED)):
            w = moved[key][i]
            w += eps / math.sqrt(w.shape[-1]) * torch.randn(w.shape, generator=g,
                                                            dtype=torch.float64)

    def output(p: dict[str, torch.Tensor]) -> torch.Tensor:
        x = family.forward(spec, p, data).sites[-1]
        return _layer_norm(x) if spec.placement == "pre" else x

    with torch.no_grad():
        change = output(moved) - output(params)
    per_example = change.pow(2).sum(dim=(-2, -1)) / (eps**2 * spec.width)
    return per_example.mean(dim=-1).numpy()


def output_change_pair(remedy: Any, *, shallow: int, deep: int, width: int, seeds: int,
                       batch: int, activation: str = "relu", seed: int = 0,
                       **_: Any) -> dict[str, np.ndarray]:
    """``{"shallow": [seeds], "deep": [seeds]}``: the output change of independent networks
    of ``shallow`` and ``deep`` blocks built by the scheme (one token, FFN 4d, Xavier)."""
    out = {}
    with _one_thread():
        for name, depth in (("shallow", shallow), ("deep", deep)):
            spec = scheme_spec(remedy, depth, width=width, heads=1, seq=1, ffn=4,
                               activation=activation, init="xavier_normal")
            out[name] = _output_change(spec, seeds, batch, seed)
    return out


__all__ = ["OUTPUT_CHANGE_EPS", "output_change_pair", "scheme_constants"]
