"""Declared laws equal the papers' numbers, independently of the code that draws.

Theory (mean field, stability) and ``initializer_variance`` read an initializer's declared
``variance``; if the declaration and the drawing code shared a constant, a slip in it would
move prediction and measurement together and no claim could see it (docs/design.md §5, item 10).
These checks pin each built-in declaration to its paper's formula evaluated by hand here.
"""

from __future__ import annotations

import math

import pytest

from gradbench import registry

FAN_IN, FAN_OUT = 40, 160

#: initializer -> its documented entry variance at (FAN_IN, FAN_OUT), from the paper.
DOCUMENTED = {
    "he_normal": 2 / FAN_IN,  # He et al. 2015, eq. 10
    "kaiming_normal": 2 / FAN_IN,
    "he_uniform": 2 / FAN_IN,
    "kaiming_uniform": 2 / FAN_IN,
    "he_normal_fan_out": 2 / FAN_OUT,  # He et al. 2015, eq. 14 (backward case)
    "he_uniform_fan_out": 2 / FAN_OUT,
    "xavier_normal": 2 / (FAN_IN + FAN_OUT),  # Glorot & Bengio 2010, eq. 12
    "glorot_normal": 2 / (FAN_IN + FAN_OUT),
    "xavier_uniform": 2 / (FAN_IN + FAN_OUT),  # eq. 16: U(+-sqrt(6 / (fan_in + fan_out)))
    "glorot_uniform": 2 / (FAN_IN + FAN_OUT),
    "lecun_normal": 1 / FAN_IN,  # LeCun et al. 1998
    "normal": 1 / FAN_IN,
    "torch_default": 1 / (3 * FAN_IN),  # nn.Linear: U(+-1/sqrt(fan_in))
    "orthogonal": 1 / FAN_OUT,  # semi-orthogonal: sum of squares min(fans), over fan_in fan_out
    "identity": 1 / FAN_OUT,
    # Xiao et al. 2018, Algorithm 2: a dense weight is orthogonal; a (C_out, C_in, k) kernel has
    # sum of squares g^2 C_in over C_out C_in k entries, g^2 / (C_out k) = g^2 / max(fans)
    "delta_orthogonal": 1 / FAN_OUT,
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_declared_variance_is_the_papers(name: str) -> None:
    remedy = registry.lookup("initializer", name)
    declared = remedy.meta["variance"](FAN_IN, FAN_OUT, **remedy.params)
    assert declared == pytest.approx(DOCUMENTED[name], rel=1e-12)


@pytest.mark.parametrize(("name", "gain"), [("he_normal", 1.5), ("xavier_uniform", 5 / 3),
                                            ("lecun_normal", 0.5), ("he_uniform_fan_out", 1.0)])
def test_a_given_gain_scales_the_documented_gain_one_law(name: str, gain: float) -> None:
    """``gain`` replaces the paper's own gain (sqrt 2 for He): variance gain^2 x the gain-1 law."""
    remedy = registry.lookup("initializer", f"{name}(gain={gain})")
    gain_one = registry.lookup("initializer", f"{name}(gain=1.0)")
    declared = remedy.meta["variance"](FAN_IN, FAN_OUT, **remedy.params)
    unit = gain_one.meta["variance"](FAN_IN, FAN_OUT, **gain_one.params)
    assert declared == pytest.approx(gain**2 * unit, rel=1e-12)
    assert not math.isclose(declared, DOCUMENTED[name], rel_tol=1e-6)


def test_every_built_in_initializer_with_a_fixed_law_is_pinned() -> None:
    """A new built-in initializer gets its paper's number here (or is data-dependent)."""
    built_in = {
        name for name in registry.names("initializer")
        if registry.lookup("initializer", name).obj.__module__ == "gradbench.remedies.initializers"
        and not registry.lookup("initializer", name).meta.get("data_dependent")
    }
    assert built_in == set(DOCUMENTED)
