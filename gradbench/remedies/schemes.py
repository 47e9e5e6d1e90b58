"""Built-in transformer depth schemes (remedy kind ``depth_scheme``; docs/remedies.md §8).

A depth scheme maps the depth N of a transformer encoder stack to the
:class:`~gradbench.specs.TransformerSpec` fields it sets::

    scheme(depth) -> {"placement": ..., "skip_scale": ..., "branch_gain": ...,
                      "layer_gain_exponent": ..., "input_var": ...}   # any subset

**N counts blocks** (one attention and one FFN sublayer each, so 2N residual sublayers)
everywhere: ``scheme(depth)``, ``law(depth)``. A constant that counts sublayers says so
(Admin's n = 2N; the ``output_change(n)`` order). Fields left out keep the spec's
defaults; the rest of the network (width, heads, activation, the base initializer, Xavier
in the suites) is the claim's.

Declarations, written from the papers apart from the fields above (the claims of
:mod:`gradbench.claims.schemes` compare the two, and the network's behaviour with the
second):

* ``law(depth) -> dict``: the documented constants at depth N: ``placement``; ``skip``,
  the factor alpha on the skip path; ``gains``, one mapping per block l = 1..N from weight
  group (``"Q" "K" "V" "O" "W1" "W2"``) to the factor on that matrix relative to the base
  initializer (groups left out: 1); ``input_std``, the factor on the input (default 1).
* ``output_change(n) -> float``: the documented order, up to a constant, of the output
  change E||F(W + dW) - F(W)||^2 under an update dW of fixed size per weight (Adam-like),
  as a function of the number n = 2N of sublayers (docs/theory.md §10.2). A scheme that
  declares none is held to DeepNet's criterion, an order independent of depth.
* ``deepnet_identity``: the DeepNet identity 2N (v^2 + w^2)/alpha^2 = 1 with v = w = beta
  holds (encoder-only DeepNorm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gradbench.registry import register

BRANCH_GROUPS = ("V", "O", "W1", "W2")
"""The weight groups of DeepNorm's and T-Fixup's beta (value, output and both FFN weights)."""
ALL_GROUPS = ("Q", "K", "V", "O", "W1", "W2")
"""Every weight matrix of a block."""
SCHEME_FIELDS = ("placement", "skip_scale", "branch_gain", "layer_gain_exponent", "input_var")
"""The TransformerSpec fields a depth scheme may set."""


def _same(groups: tuple[str, ...], factor: float) -> dict[str, float]:
    return {g: factor for g in groups}


def _harmonic_post_ln(n: int) -> float:
    """Sum over blocks l of the two sublayers' shares (2/l)/(1 + 1/l^2) (DS-Init; §10.2)."""
    return math.fsum(2.0 * (2.0 / block) / (1.0 + block**-2.0)
                     for block in range(1, n // 2 + 1))


# --- Post-LN, the unscaled baseline ---------------------------------------------------------


@register("depth_scheme", "post_ln", paper="Vaswani et al. 2017, arXiv:1706.03762; order: "
          "Liu et al. 2020, arXiv:2004.08249",
          law=lambda depth: {"placement": "post", "skip": 1.0, "gains": [{}] * depth},
          output_change=lambda n: float(n))
def post_ln(depth: int) -> dict[str, Any]:
    """Post-LN, ``x <- LN(x + F(x))``: each of the n sublayers moves the output by about the
    same amount, so the output change grows like n (Liu et al. 2020, beta_ii^2 ~ 1/2)."""
    return {"placement": "post"}


# --- DeepNorm (Wang et al. 2022), encoder-only ----------------------------------------------


def _deepnorm_law(depth: int) -> dict[str, Any]:
    beta = (8.0 * depth) ** -0.25
    return {"placement": "post", "skip": (2.0 * depth) ** 0.25,
            "gains": [_same(BRANCH_GROUPS, beta)] * depth}


@register("depth_scheme", "deepnorm", paper="Wang et al. 2022, DeepNet, arXiv:2203.00555",
          law=_deepnorm_law, output_change=lambda n: 1.0, deepnet_identity=True)
def deepnorm(depth: int) -> dict[str, Any]:
    """DeepNorm, encoder-only: ``x <- LN(alpha x + G(x))``, alpha = (2N)^(1/4), and W_V, W_O,
    W1, W2 drawn with gain beta = (8N)^(-1/4) (not W_Q, W_K). N counts blocks; the bound
    sums over the 2N sublayers: 2N (v^2 + w^2)/alpha^2 = 1 at v = w = beta."""
    return {"placement": "post", "skip_scale": (2 * depth) ** (1 / 4),
            "branch_gain": (8 * depth) ** (-1 / 4)}


# --- Admin (Liu et al. 2020), O(log n) -------------------------------------------------------


def _admin_law(depth: int) -> dict[str, Any]:
    sublayers = 2 * depth
    omega2 = (sublayers + 1) / math.log(sublayers + 1) - 1.0
    return {"placement": "post", "skip": math.sqrt(omega2), "gains": [{}] * depth}


@register("depth_scheme", "admin", paper="Liu et al. 2020, Admin, arXiv:2004.08249",
          law=_admin_law,
          output_change=lambda n: n * math.log(n + 1) / (n + 1))
def admin(depth: int) -> dict[str, Any]:
    """Admin at initialization, ``x <- LN(omega x + F(x))`` with the O(log n) closed form
    omega^2 = (n+1)/ln(n+1) - 1, **n = 2N the number of sublayers** (docs/theory.md §10.2:
    each sublayer then contributes 1/(omega^2 + 1), and n/(omega^2 + 1) = n ln(n+1)/(n+1))."""
    n = 2 * depth
    return {"placement": "post", "skip_scale": ((n + 1) / math.log(n + 1) - 1) ** 0.5}


# --- T-Fixup (Huang et al. 2020), encoder -----------------------------------------------------


def _tfixup_law(depth: int) -> dict[str, Any]:
    return {"placement": "none", "skip": 1.0,
            "gains": [_same(BRANCH_GROUPS, 0.67 * depth**-0.25)] * depth,
            "input_std": (9.0 * depth) ** -0.25}


@register("depth_scheme", "tfixup", paper="Huang, Perez, Ba & Volkovs 2020, T-Fixup, ICML "
          "(PMLR 119)", law=_tfixup_law, output_change=lambda n: 1.0)
def tfixup(depth: int) -> dict[str, Any]:
    """T-Fixup, encoder: no LayerNorm; W_V, W_O, W1, W2 of every block scaled by
    0.67 N^(-1/4) after Xavier, the input embedding by (9N)^(-1/4). The paper's extra
    sqrt(2) on W_V undoes the 1/sqrt(2) gain of fairseq's fused Q/K/V init; gradbench draws
    W_V with plain Xavier at (d, d), so it does not apply here."""
    return {"placement": "none", "branch_gain": 0.67 * depth ** (-1 / 4),
            "input_var": (9 * depth) ** (-1 / 2)}


# --- DS-Init (Zhang, Titov & Sennrich 2019) --------------------------------------------------


def _dsinit_law(depth: int) -> dict[str, Any]:
    return {"placement": "post", "skip": 1.0,
            "gains": [_same(ALL_GROUPS, 1.0 / math.sqrt(layer)) for layer in range(1, depth + 1)]}


@register("depth_scheme", "dsinit", paper="Zhang, Titov & Sennrich 2019, DS-Init, "
          "arXiv:1908.11365", law=_dsinit_law, output_change=_harmonic_post_ln)
def dsinit(depth: int) -> dict[str, Any]:
    """DS-Init: Post-LN kept, every weight of block l (1-based) drawn with its std scaled by
    1/sqrt(l) (the paper's U(+-gamma alpha/sqrt(l)) at alpha = 1). The authors' code scales
    the variance by l^(-1/2) instead; this is the paper's law."""
    return {"placement": "post", "layer_gain_exponent": 0.5}


def scheme_fields(remedy: Any, depth: int) -> dict[str, Any]:
    """The spec fields ``remedy`` (a registered ``depth_scheme``) sets at ``depth`` blocks."""
    fields = remedy.fn(depth)
    if not isinstance(fields, Mapping):
        from gradbench.errors import RemedyFailed

        raise RemedyFailed(f"depth scheme {remedy.label!r} returned a "
                           f"{type(fields).__name__}, not a mapping of TransformerSpec fields")
    return dict(fields)


def scheme_spec(remedy: Any, depth: int, **base: Any) -> Any:
    """The :class:`~gradbench.specs.TransformerSpec` of ``depth`` blocks that ``remedy``
    builds on ``base`` (width, seq, activation, ...): its fields override the base's."""
    from gradbench.specs import TransformerSpec

    return TransformerSpec(depth=depth, **{**base, **scheme_fields(remedy, depth)})


__all__ = ["ALL_GROUPS", "BRANCH_GROUPS", "SCHEME_FIELDS", "admin", "deepnorm", "dsinit",
           "post_ln", "scheme_fields", "scheme_spec", "tfixup"]
