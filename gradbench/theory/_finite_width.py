"""The exact finite-width law of ReLU gradient norms (Hanin 2018; Hanin & Nica 2020)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special

from gradbench.errors import InvalidArgument


@dataclass(frozen=True)
class ReluLayerLaw:
    r"""Moments of one layer's factor :math:`X = (2/n)\chi^2_K`, :math:`K \sim B(n, 1/2)`.

    All conditional on :math:`K \ge 1` (the event :math:`K = 0`, probability
    :math:`2^{-n}`, kills the signal and makes the log infinite), as in docs/theory.md §2.2.

    Attributes:
        width: the layer width n.
        e_log: :math:`E\ln X = E_K\psi(K/2) + \ln(4/n) \approx -5/(2n)`.
        var_log: :math:`\mathrm{Var}\ln X = E_K\psi'(K/2) + \mathrm{Var}_K\psi(K/2) \approx 5/n`.
        e_x: :math:`E X = 1/(1 - 2^{-n})`.
        e_x2: :math:`E X^2 = (1 + 5/n)/(1 - 2^{-n})`.
        p_dead: :math:`P(K = 0) = 2^{-n}`.
    """

    width: int
    e_log: float
    var_log: float
    e_x: float
    e_x2: float
    p_dead: float


def _check_width(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:
        raise InvalidArgument(f"{name}={n!r} must be an integer >= 1")
    return int(n)


@functools.lru_cache(maxsize=1024)
def _relu_layer(n: int) -> ReluLayerLaw:
    k = np.arange(1, n + 1, dtype=np.float64)
    log_p = special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()  # conditional on K >= 1
    psi = special.digamma(k / 2.0)
    mean_psi = float(p @ psi)
    return ReluLayerLaw(
        width=n,
        e_log=mean_psi + math.log(4.0 / n),
        var_log=float(p @ special.polygamma(1, k / 2.0)) + float(p @ (psi - mean_psi) ** 2),
        e_x=2.0 / n * float(p @ k),
        e_x2=4.0 / n**2 * float(p @ (k * (k + 2.0))),
        p_dead=2.0**-n,
    )


def relu_finite_width(n: int) -> ReluLayerLaw:
    r"""Exact per-layer law of ReLU gradient norms at width ``n`` (docs/theory.md §2.2).

    For Gaussian He weights (biases zero or symmetric), the width-normalised squared norm
    of a Jacobian-vector product evolves as :math:`M_L/M_0 = \prod_j X_j` with independent
    :math:`X_j = (2/n_j)\chi^2_{K_j}`, :math:`K_j \sim \mathrm{Binomial}(n_j, 1/2)`
    [derived + MC in docs/theory.md; cf. Hanin 2018, NeurIPS; Hanin & Nica 2020, Commun. Math.
    Phys.]. The same law holds per backward step for one example. The moments are exact
    mixtures of digamma/trigamma values over K (K = 0 excluded).

    Args:
        n: layer width (>= 1).

    Returns:
        A :class:`ReluLayerLaw`.

    Examples:
        >>> round(relu_finite_width(64).e_log, 10), round(relu_finite_width(64).var_log, 10)
        (-0.0401085988, 0.0829973506)
    """
    return _relu_layer(_check_width("n", n))


class LogNormLaw(NamedTuple):
    r"""Law of :math:`\ln(M_L/M_0)` over a ReLU stack (docs/theory.md §2.2); indexable as a tuple.

    Attributes:
        mean: :math:`\sum_j E\ln X_j` (about :math:`-5\beta/2`, :math:`\beta = \sum 1/n_j`).
        var: :math:`\sum_j \mathrm{Var}\ln X_j` (about :math:`5\beta`).
        second_moment_ratio: :math:`E[M_L^2]/E[M_L]^2 = \prod_j (1 + 5/n_j)` (K = 0
            included; exact).
    """

    mean: float
    var: float
    second_moment_ratio: float


def relu_log_norm_law(widths: Sequence[int]) -> LogNormLaw:
    r"""Mean and variance of :math:`\ln(M_L/M_0)` through ReLU layers of the given widths.

    Sums of the per-layer values of :func:`relu_finite_width` (the factors are
    independent). For the gradient between sites :math:`h^1` and :math:`h^L` of an
    L-layer MLP pass the L - 1 widths in between. Halve the mean (quarter the variance)
    for the log of the norm instead of the squared norm.

    Args:
        widths: widths :math:`n_1, \dots, n_L` of the ReLU layers.

    Returns:
        ``LogNormLaw(mean, var, second_moment_ratio)``.

    Examples:
        >>> law = relu_log_norm_law([64] * 20)
        >>> round(law.mean, 10), round(law.var, 10), round(law.second_moment_ratio, 10)
        (-0.8021719767, 1.6599470111, 4.50175997)
    """
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise InvalidArgument(f"widths={widths!r} must be a sequence of integers >= 1")
    layers = [relu_finite_width(_check_width("widths[i]", n)) for n in widths]
    return LogNormLaw(
        mean=float(sum(x.e_log for x in layers)),
        var=float(sum(x.var_log for x in layers)),
        second_moment_ratio=float(np.prod([1.0 + 5.0 / x.width for x in layers])),
    )
