"""Closed forms the theory's quadrature is checked against (docs/theory.md §1.2, §1.5).

Independent of :mod:`gradbench.theory`: each is a textbook formula, written out here so
that the tests compare the library's numerical integrals with something it does not
compute itself.
"""

from __future__ import annotations

import math

from scipy import special


def relu_kernel(q1: float, q2: float, c: float) -> float:
    """E[relu(u1) relu(u2)] = sqrt(q1 q2)/(2 pi) (sin t + (pi - t) cos t), t = arccos c.

    Cho & Saul 2009 (arc-cosine kernel), docs/theory.md §1.2.
    """
    t = math.acos(c)
    return math.sqrt(q1 * q2) / (2 * math.pi) * (math.sin(t) + (math.pi - t) * c)


def relu_dkernel(c: float) -> float:
    """E[relu'(u1) relu'(u2)] = (pi - arccos c) / (2 pi)."""
    return (math.pi - math.acos(c)) / (2 * math.pi)


def erf_kernel(q1: float, q2: float, c: float) -> float:
    """E[erf(u1) erf(u2)] = (2/pi) arcsin(2 S12 / sqrt((1 + 2 q1)(1 + 2 q2))) (Williams 1997)."""
    s12 = c * math.sqrt(q1 * q2)
    return 2 / math.pi * math.asin(2 * s12 / math.sqrt((1 + 2 * q1) * (1 + 2 * q2)))


def erf_dkernel(q1: float, q2: float, c: float) -> float:
    """E[erf'(u1) erf'(u2)] = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 S12^2)."""
    s12 = c * math.sqrt(q1 * q2)
    return 4 / math.pi / math.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * s12 * s12)


def leaky_relu_second_moment(q: float, slope: float) -> float:
    """E[leaky_relu(sqrt(q) z)^2] = q (1 + slope^2) / 2; E[leaky_relu'^2] = (1 + slope^2) / 2."""
    return q * (1 + slope * slope) / 2


def selu_chi1() -> float:
    """chi1 of SELU at LeCun init: lambda^2 (1/2 + alpha^2 e^2 Phi(-2)) (docs/theory.md §1.5)."""
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    return lam * lam * (0.5 + alpha * alpha * math.e**2 * float(special.ndtr(-2.0)))


def relu_cmap_he(c: float) -> float:
    """ReLU c-map at He init: (sqrt(1 - c^2) + (pi - arccos c) c) / pi (docs/theory.md §1.2)."""
    return (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi
