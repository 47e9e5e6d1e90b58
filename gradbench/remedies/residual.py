"""Built-in residual branch scalings ``x_l = x_{l-1} + alpha_l * branch_l(x_{l-1})``.

Each is registered once as ``alpha(layer, depth) -> float`` (layer is 1-based).
Declarations used by the model builder: ``zero_out`` (the branch's last layer starts
at 0) and ``branch_weight_scale(depth)`` (factor on the branch's first layer).
Theory (docs/theory.md §4.1): the gradient grows by prod_l (1 + alpha_l^2 v).

Declarations checked by the suite (``gradbench.claims.residual``), written from the
papers and independently of ``alpha``: ``law(depth, v)``, the documented end-to-end
ln squared-gradient growth ``sum_l ln(1 + alpha_l^2 v)`` of a ReLU/He residual net
with branch gain ``v``; ``bounded``, whether that growth stays bounded as the depth
grows; ``stable_for``, the settings where gradients stay stable at depth 30 (docs/theory.md §9).
"""

from __future__ import annotations

import math

from gradbench.registry import register

HE_RELU = ({"activation": "relu", "init": "he_normal"},)


def _basel_partial(depth: int, v: float) -> float:
    """``sum_{l=1..L} ln(1 + v/l^2)``, via ``ln prod (1 + v/l^2)`` in one pass."""
    return math.fsum(math.log1p(v / (layer * layer)) for layer in range(1, depth + 1))


@register("residual", "1", paper="He et al. 2016, arXiv:1512.03385",
          law=lambda depth, v: depth * math.log1p(v), bounded=False, stable_for=())
def plain(layer: int, depth: int) -> float:
    """alpha = 1: the gradient grows like (1 + v)^L."""
    return 1.0


@register("residual", "1/sqrt(L)", paper="Hanin & Rolnick 2018; Yang & Schoenholz 2017",
          law=lambda depth, v: depth * math.log1p(v / depth), bounded=True,
          stable_for=HE_RELU)
def inv_sqrt_depth(layer: int, depth: int) -> float:
    """alpha = 1/sqrt(L): growth (1 + v/L)^L -> e^v, bounded in depth."""
    return 1.0 / math.sqrt(depth)


@register("residual", "1/l", paper="Hanin & Rolnick 2018 (sum of alpha_l^2 finite)",
          law=_basel_partial, bounded=True, stable_for=HE_RELU)
def inv_layer(layer: int, depth: int) -> float:
    """alpha_l = 1/l: growth prod (1 + v/l^2) -> sinh(pi)/pi at v = 1."""
    return 1.0 / layer


@register("residual", "scaled", bounded=False, stable_for=(), examples=("scaled(alpha=0.5)",),
          law=lambda depth, v, alpha=1.0: depth * math.log1p(alpha**2 * v))
def scaled(layer: int, depth: int, alpha: float = 1.0) -> float:
    """A constant alpha, e.g. ``scaled(alpha=0.1)`` (a float ``branch_scale`` maps here)."""
    return alpha


@register("residual", "skipinit", paper="De & Smith 2020, arXiv:2002.10444",
          law=lambda depth, v: 0.0, bounded=True, stable_for=HE_RELU)
def skipinit(layer: int, depth: int) -> float:
    """A learnable scalar initialised at 0: the net starts as the identity."""
    return 0.0


@register("residual", "rezero", paper="Bachlechner et al. 2020, arXiv:2003.04887",
          law=lambda depth, v: 0.0, bounded=True, stable_for=HE_RELU)
def rezero(layer: int, depth: int) -> float:
    """x + alpha F(x) with alpha = 0 at init (no normalization)."""
    return 0.0


@register(
    "residual",
    "fixup",
    paper="Zhang, Dauphin & Ma 2019, arXiv:1901.09321",
    zero_out=True,
    branch_weight_scale=lambda depth: depth**-0.5,
    law=lambda depth, v: 0.0,
    bounded=True,
    stable_for=HE_RELU,
)
def fixup(layer: int, depth: int) -> float:
    """Branch output layer at 0, first layer scaled by L^(-1/(2m-2)) = L^(-1/2) for m = 2."""
    return 1.0
