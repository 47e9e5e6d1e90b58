"""Gradient rates with BatchNorm and LayerNorm at initialization (Yang et al. 2019),
docs/theory.md §6."""

from __future__ import annotations

import math
from typing import Literal

from gradbench import registry
from gradbench.theory._activation import (
    Activation,
    _check_sigmas,
    _is_identity,
    _moments,
    _resolve,
)
from gradbench.theory._finite_width import _check_width


def batchnorm_rate(activation: Activation, batch: int | None = None) -> float:
    r"""Per-layer factor :math:`\lambda` of the **squared** gradient norm with BatchNorm.

    For :math:`h^l = W^l x^{l-1}`, :math:`x^l = \phi(\mathrm{BN}(h^l))` (batch statistics,
    no affine), :math:`E\|\partial L/\partial x^{l-1}\|^2 = \lambda\,E\|\partial L/\partial
    x^l\|^2` with, for a large batch, :math:`\lambda = E[\phi'(z)^2]/\mathrm{Var}[\phi(z)]`
    (BN's backward divides by the batch variance of h; its forward removes the mean) --
    ReLU :math:`\pi/(\pi - 1)`, tanh 1.1778 -- and for the identity at batch size B,
    :math:`\lambda = (B - 2)/(B - 3)` [derived, docs/theory.md §6; Yang et al. 2019, "A Mean
    Field Theory of Batch Normalization", ICLR]. Independent of :math:`\sigma_w`.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        batch: batch size B; ``None`` for the large-batch limit.

    Returns:
        :math:`\lambda` (not a log: the norm's log growth is :math:`\tfrac12\ln\lambda`,
        see :func:`batchnorm_log_growth`). NaN when there is no formula: a finite batch
        with a non-identity activation (docs/theory.md §6 has MC values only), or B < 4 (the
        expected rate is infinite or the gradient degenerate).

    Examples:
        >>> round(batchnorm_rate("relu"), 10), batchnorm_rate("linear", batch=8)
        (1.4669422069, 1.2)
    """
    act = _resolve(activation)
    if batch is not None:
        b = _check_width("batch", batch)
        if not _is_identity(act) or b < 4:
            return math.nan
        return (b - 2.0) / (b - 3.0)
    m = _moments(act, 1.0)
    variance = m.phi2 - m.phi**2
    return m.dphi2 / variance if variance > 0.0 else math.nan


def batchnorm_log_growth(activation: Activation, batch: int | None = None) -> float:
    r"""Per-layer log growth of the gradient **norm** with BatchNorm, :math:`\tfrac12\ln\lambda`.

    See :func:`batchnorm_rate` for :math:`\lambda` and the domain (docs/theory.md §6).

    Examples:
        >>> round(batchnorm_log_growth("relu"), 6)
        0.19159
    """
    rate = batchnorm_rate(activation, batch)
    return 0.5 * math.log(rate) if rate > 0 else math.nan


def layernorm_rate(activation: Activation, sigma_w2: float = 1.0, sigma_b2: float = 0.0) -> float:
    r"""Per-layer factor :math:`\lambda` of the **squared** gradient norm with LayerNorm.

    LayerNorm (and RMSNorm, which differs only by not centring an already centred h) divides
    by the per-example feature RMS of :math:`h = Wx + b`, whose square is
    :math:`\sigma_w^2 E\phi(z)^2 + \sigma_b^2` at large width, so
    :math:`\lambda = \sigma_w^2 E[\phi'(z)^2] / (\sigma_w^2 E[\phi(z)^2] + \sigma_b^2)`;
    without bias :math:`E\phi'^2/E\phi^2` (1 for ReLU and the identity, 1.1778 for tanh)
    [derived, docs/theory.md §6]. Independent of the batch size.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2, sigma_b2: the variances (only their ratio matters).

    Returns:
        :math:`\lambda` (squared norm; the norm's log growth is :math:`\tfrac12\ln\lambda`).

    Examples:
        >>> round(layernorm_rate("tanh"), 10), round(layernorm_rate("relu"), 12)
        (1.1778072323, 1.0)
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    m = _moments(_resolve(activation), 1.0)
    denominator = sw2 * m.phi2 + sb2
    return sw2 * m.dphi2 / denominator if denominator > 0 else math.nan


def layernorm_log_growth(
    activation: Activation, sigma_w2: float = 1.0, sigma_b2: float = 0.0
) -> float:
    r"""Per-layer log growth of the gradient **norm** with LayerNorm, :math:`\tfrac12\ln\lambda`.

    See :func:`layernorm_rate` (docs/theory.md §6).
    """
    rate = layernorm_rate(activation, sigma_w2, sigma_b2)
    return 0.5 * math.log(rate) if rate > 0 else math.nan


Statistics = Literal["batch", "feature"]
"""What a normalization divides by: batch statistics (BatchNorm) or per-example feature
statistics (LayerNorm, RMSNorm); declared as ``statistics=`` on its registration."""


def normalization_statistics(norm: str) -> Statistics | None:
    """The ``statistics`` the registered normalization ``norm`` declares (None: no theory).

    Raises:
        InvalidArgument: ``norm`` is not a registered normalization.
    """
    stats = registry.lookup("normalization", norm).meta.get("statistics")
    return stats if stats in ("batch", "feature") else None


def normalizations_with_theory() -> list[str]:
    """Registered normalizations that declare their ``statistics`` (so theory covers them)."""
    return [n for n in registry.names("normalization") if normalization_statistics(n)]
