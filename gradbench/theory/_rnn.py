"""Vanilla RNNs (Pascanu et al. 2013; Chen, Pennington & Schoenholz 2018), THEORY.md 5."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradbench.theory._activation import Activation, _check_sigmas, _moments, _resolve
from gradbench.theory._finite_width import _check_width
from gradbench.theory._mean_field import _chi_at, _fixed_point
from gradbench.theory._quadrature import Q_HUGE, _check_q


@dataclass(frozen=True)
class RNNMeanField:
    r"""Mean field of :math:`h_t = \phi(W h_{t-1} + U x_t + b)` unrolled for T steps.

    Attributes:
        q: ``[T]`` pre-activation second moments :math:`q_t`, t = 1..T.
        h2: ``[T]`` hidden-state second moments :math:`E h_t^2 = E\phi(\sqrt{q_t}z)^2`.
        factor: ``[T-1]`` per-step factor of the **squared** gradient norm between
            :math:`h_t` and :math:`h_{t+1}`, :math:`\sigma_w^2 E\phi'(\sqrt{q_{t+1}}z)^2`.
        log_growth: ``[T-1]`` :math:`\tfrac12\ln` factor.
    """

    q: np.ndarray
    h2: np.ndarray
    factor: np.ndarray
    log_growth: np.ndarray


def rnn_mean_field(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    steps: int,
    sigma_u2: float = 1.0,
    input_var: float = 1.0,
    h0_var: float = 1.0,
) -> RNNMeanField:
    r"""Mean-field recursion of a vanilla RNN, loss on :math:`h_T` (THEORY.md 5.3).

    The pre-activation variance follows the feed-forward length map with an effective
    bias :math:`\sigma_u^2 q_x + \sigma_b^2`: :math:`q_1 = \sigma_w^2 q_{h_0} +
    \sigma_u^2 q_x + \sigma_b^2`, :math:`q_{t+1} = \sigma_w^2 E\phi(\sqrt{q_t}z)^2 +
    \sigma_u^2 q_x + \sigma_b^2`; and :math:`\partial L/\partial h_t = W^T(\phi'(a_{t+1})
    \odot \partial L/\partial h_{t+1})` gives the per-step factor
    :math:`\sigma_w^2 E\phi'(\sqrt{q_{t+1}}z)^2`. Weight tying across steps is ignored
    (gradient independence; Chen, Pennington & Schoenholz 2018, ICML, use the same
    description, and THEORY.md 5.3 confirms it by tied-weight Monte Carlo).

    Args:
        activation: registry name or :class:`ActivationFunctions` (tanh, relu, linear).
        sigma_w2: recurrent weight variance times H (including any recurrent scale).
        sigma_b2: bias variance.
        steps: T (>= 1).
        sigma_u2: input weight variance times H.
        input_var: variance :math:`q_x` of the inputs.
        h0_var: variance of the initial state.

    Returns:
        An :class:`RNNMeanField`.

    Examples:
        >>> r = rnn_mean_field("tanh", 1.0, 0.0, 200, sigma_u2=1.0, input_var=0.05)
        >>> round(float(r.factor[-1]), 8)  # THEORY.md 5.3
        0.75903165
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    su2, qx, h0 = (_check_q(n, v) for n, v in
                   (("sigma_u2", sigma_u2), ("input_var", input_var), ("h0_var", h0_var)))
    steps = _check_width("steps", steps)
    act = _resolve(activation)
    drive = su2 * qx + sb2
    q = np.empty(steps)
    h2 = np.empty(steps)
    chi = np.empty(steps)
    prev = h0
    for t in range(steps):
        q[t] = min(sw2 * prev + drive, math.inf)
        m = _moments(act, q[t])
        h2[t] = m.phi2 if q[t] <= Q_HUGE else math.inf
        chi[t] = sw2 * m.dphi2
        prev = h2[t]
    factor = chi[1:]
    with np.errstate(divide="ignore"):
        log_growth = 0.5 * np.log(factor)
    return RNNMeanField(q=q, h2=h2, factor=factor, log_growth=log_growth)


def rnn_fixed_point(
    activation: Activation, sigma_w2: float, sigma_b2: float = 0.0, input_drive: float = 0.0,
    q0: float = 1.0,
) -> tuple[float, float]:
    r"""Stationary :math:`(q^*, \chi)` of a vanilla RNN (THEORY.md 5.3).

    :math:`q^* = \sigma_w^2 E\phi(\sqrt{q^*}z)^2 + \sigma_u^2 q_x + \sigma_b^2` (the
    length map with effective bias ``input_drive + sigma_b2``, where ``input_drive`` is
    :math:`\sigma_u^2 q_x`) and :math:`\chi = \sigma_w^2 E\phi'(\sqrt{q^*}z)^2`; the gradient
    norm scales as :math:`\chi^{(T-t)/2}`.

    Examples:
        >>> [round(x, 8) for x in rnn_fixed_point("tanh", 2.0, 0.0, 0.5)]
        [1.41545329, 0.80888871]
    """
    drive = _check_q("input_drive", input_drive)
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    act = _resolve(activation)
    qs = _fixed_point(act, sw2, sb2 + drive, _check_q("q0", q0) or 1.0)
    return qs, _chi_at(act, sw2, qs)


def linear_rnn_log_growth(rho: float) -> float:
    r"""Per-step log growth :math:`\ln\rho` of the gradient norm of a linear orthogonal RNN.

    The cell is :math:`h_t = \rho Q h_{t-1} + U x_t + b` with Q orthogonal.

    :math:`\partial L/\partial h_t = (\rho Q^T)^{T-t}\,\partial L/\partial h_T`, so
    :math:`\|\partial L/\partial h_t\| = \rho^{T-t}\|\partial L/\partial h_T\|` exactly, at any
    width and for any inputs (THEORY.md 5.2; Pascanu et al. 2013 for the linear criterion).

    Examples:
        >>> round(linear_rnn_log_growth(0.9) * 10, 12) == round(math.log(0.9 ** 10), 12)
        True
    """
    r = _check_q("rho", rho)
    return math.log(r) if r > 0 else -math.inf
