"""The spectrum of the input-output Jacobian (Pennington, Schoenholz & Ganguli 2017)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from gradbench.errors import InvalidArgument
from gradbench.theory._activation import Activation, _check_sigmas, _moments, _resolve
from gradbench.theory._finite_width import _check_width
from gradbench.theory._mean_field import _fixed_point
from gradbench.theory._quadrature import _check_q

Weights = Literal["gaussian", "orthogonal"]
_S1: dict[str, float] = {"gaussian": -1.0, "orthogonal": 0.0}


@dataclass(frozen=True)
class JacobianSpectrum:
    r"""First two moments of the spectrum of :math:`JJ^T`, :math:`J = \prod_l D^l W^l`.

    Attributes:
        q: the pre-activation second moment used (:math:`q^*` by default).
        mu1: :math:`\int Dz\,\phi'(\sqrt q z)^2`.
        mu2: :math:`\int Dz\,\phi'(\sqrt q z)^4`.
        chi: :math:`\sigma_w^2 \mu_1`.
        m1: mean eigenvalue :math:`\chi^L`.
        normalized_variance: :math:`m_2/m_1^2 - 1 = L(\mu_2/\mu_1^2 - 1 - s_1)`.
    """

    q: float
    mu1: float
    mu2: float
    chi: float
    m1: float
    normalized_variance: float


def jacobian_spectrum(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    weights: Weights = "gaussian",
    q: float | None = None,
) -> JacobianSpectrum:
    r"""Mean and normalised variance of the spectrum of :math:`JJ^T` (docs/theory.md §3.1).

    Free probability (Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid",
    NeurIPS, eq. 12): S-transforms multiply, so the normalised spectral variance
    :math:`v = m_2/m_1^2 - 1` adds over the free factors: :math:`-s_1` per weight matrix
    (Marchenko-Pastur: :math:`s_1 = -1`; orthogonal: 0) and :math:`\mu_2/\mu_1^2 - 1` per
    :math:`D^2`. Hence :math:`m_1 = \chi^L` and :math:`v = L(\mu_2/\mu_1^2 - 1 - s_1)`
    [derived in docs/theory.md]. Valid for width to infinity at fixed L, every layer at q.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2, sigma_b2: the variances.
        depth: number of layers L.
        weights: ``"gaussian"`` or ``"orthogonal"``.
        q: pre-activation second moment (default :math:`q^*`; its limit if 0 or inf).

    Returns:
        A :class:`JacobianSpectrum`.

    Examples:
        >>> jacobian_spectrum("relu", 2.0, 0.0, 10).normalized_variance
        20.0
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    depth = _check_width("depth", depth)
    if weights not in _S1:
        raise InvalidArgument(f"weights={weights!r} must be one of: gaussian, orthogonal")
    act = _resolve(activation)
    qq = _fixed_point(act, sw2, sb2, 1.0) if q is None else _check_q("q", q)
    m = _moments(act, qq)
    ratio = m.dphi4 / m.dphi2**2 if m.dphi2 > 0.0 else math.nan
    chi = sw2 * m.dphi2
    return JacobianSpectrum(
        q=qq, mu1=m.dphi2, mu2=m.dphi4, chi=chi, m1=chi**depth,
        normalized_variance=depth * (ratio - 1.0 - _S1[weights]),
    )


def jacobian_normalized_variance(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    weights: Weights = "gaussian",
    q: float | None = None,
) -> float:
    r""":math:`L(\mu_2/\mu_1^2 - 1 - s_1)`, see :func:`jacobian_spectrum` (docs/theory.md §3.2).

    Examples:
        >>> jacobian_normalized_variance("relu", 2.0, 0.0, 10, weights="orthogonal")
        10.0
    """
    spec = jacobian_spectrum(activation, sigma_w2, sigma_b2, depth, weights, q)
    return spec.normalized_variance
