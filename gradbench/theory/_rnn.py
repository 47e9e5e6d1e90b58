"""Vanilla RNNs (Pascanu et al. 2013; Chen, Pennington & Schoenholz 2018), docs/theory.md §5.

Also the family's predictor, :func:`predict_rnn` (``RNNSpec.info.predictor``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradbench import registry
from gradbench.records import Prediction
from gradbench.specs import CELL_KINDS, RNNSpec, bias_variance, weight_variance
from gradbench.theory._activation import (
    Activation,
    _check_sigmas,
    _is_identity,
    _moments,
    _resolve,
)
from gradbench.theory._finite_width import _check_width
from gradbench.theory._mean_field import _PHASE_TOL, _chi_at, _fixed_point, _mean_field
from gradbench.theory._predict import no_prediction, readonly, weights_issue, width_domain
from gradbench.theory._quadrature import Q_HUGE, _check_q, gauss_expect


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
    r"""Mean-field recursion of a vanilla RNN, loss on :math:`h_T` (docs/theory.md §5.3).

    The pre-activation variance follows the feed-forward length map with an effective
    bias :math:`\sigma_u^2 q_x + \sigma_b^2`: :math:`q_1 = \sigma_w^2 q_{h_0} +
    \sigma_u^2 q_x + \sigma_b^2`, :math:`q_{t+1} = \sigma_w^2 E\phi(\sqrt{q_t}z)^2 +
    \sigma_u^2 q_x + \sigma_b^2`; and :math:`\partial L/\partial h_t = W^T(\phi'(a_{t+1})
    \odot \partial L/\partial h_{t+1})` gives the per-step factor
    :math:`\sigma_w^2 E\phi'(\sqrt{q_{t+1}}z)^2`. Weight tying across steps is ignored
    (gradient independence; Chen, Pennington & Schoenholz 2018, ICML, use the same
    description, and docs/theory.md §5.3 confirms it by tied-weight Monte Carlo).

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
        >>> round(float(r.factor[-1]), 8)  # docs/theory.md §5.3
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
    r"""Stationary :math:`(q^*, \chi)` of a vanilla RNN (docs/theory.md §5.3).

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
    width and for any inputs (docs/theory.md §5.2; Pascanu et al. 2013 for the linear criterion).

    Examples:
        >>> round(linear_rnn_log_growth(0.9) * 10, 12) == round(math.log(0.9 ** 10), 12)
        True
    """
    r = _check_q("rho", rho)
    return math.log(r) if r > 0 else -math.inf


_GATED_REASON = (
    "no verified mean-field oracle exists for gated cells (LSTM/GRU; Gilboa et al. 2019 give "
    "one, but its formulas could not be checked, docs/theory.md §5.4), so theory makes "
    "no prediction"
)


def predict_rnn(spec: RNNSpec, batch: int | None = None) -> Prediction:
    """:class:`~gradbench.specs.RNNSpec`: sites h_1..h_T, loss on h_T (``batch`` is not used)."""
    from gradbench.records import Prediction

    act_name = CELL_KINDS[spec.cell].activation
    if act_name is None:
        return no_prediction(spec, f"cell {spec.cell!r}: {_GATED_REASON}",
                              source="Gilboa et al. 2019, arXiv:1901.08987; docs/theory.md §5.4")
    remedy = registry.lookup("initializer", spec.init)
    dist = remedy.meta.get("distribution")
    linear = _is_identity(_resolve(act_name))
    exact = linear and dist in ("orthogonal", "identity") and not remedy.meta.get("data_dependent")
    if not exact:
        issue = weights_issue(spec.init, "RNN mean-field")
        if issue:
            return no_prediction(spec, issue)
    sw2, sb2 = weight_variance(spec), bias_variance(spec)
    T, n = spec.steps, spec.hidden
    mf = rnn_mean_field(act_name, sw2, sb2, T, spec.sigma_u2, spec.input_var, spec.h0_var)
    drive = spec.sigma_u2 * spec.input_var + sb2
    quantities: dict[str, Any] = {
        "sigma_w2": sw2, "sigma_b2": sb2, "effective_sigma_b2": drive,
        "site_second_moment": readonly(mf.h2), "chi_per_layer": readonly(mf.factor),
    }
    if exact:
        rho = math.sqrt(sw2)
        log_growth = np.full(T - 1, linear_rnn_log_growth(rho))
        quantities.update(rho=rho, chi1=rho * rho)
        return Prediction(
            spec=spec.to_dict(), log_growth=readonly(log_growth), valid=True,
            assumptions=("W_hh = rho Q with Q orthogonal: dL/dh_t = (rho Q^T)^(T-t) dL/dh_T",
                         "loss on h_T only"),
            domain="exact at any width and for any inputs",
            source="Saxe et al. 2014; Pascanu, Mikolov & Bengio 2013 (ICML); docs/theory.md §5.2",
            quantities=quantities,
        )
    stationary = _mean_field(_resolve(act_name), sw2, drive, mf.q[0] or 1.0, _PHASE_TOL,
                             correlations=False)
    quantities.update(q_star=stationary.q_star, chi1=stationary.chi1, phase=stationary.phase,
                      xi_q=stationary.xi_q)
    valid, domain, reason = width_domain(n, T)
    domain = domain.replace("depth", "steps")
    return Prediction(
        spec=spec.to_dict(), log_growth=readonly(mf.log_growth), valid=valid, reason=reason,
        assumptions=(
            "h_t = phi(W h_{t-1} + U x_t + b) with W ~ sigma_w2/H (recurrent_scale included) or "
            "Haar orthogonal of the same scale, U ~ sigma_u2/H, x_t ~ N(0, input_var), "
            "h_0 ~ N(0, h0_var)",
            "weight tying across steps ignored (gradient independence, width -> infinity)",
            "the factor between h_t and h_{t+1} is sigma_w2 E[phi'(sqrt(q_{t+1}) z)^2], the "
            "pre-activation q following the length map with effective bias sigma_u2 * input_var "
            "+ sigma_b2",
        ),
        domain=domain,
        source=("Pascanu, Mikolov & Bengio 2013 (ICML); Chen, Pennington & Schoenholz 2018 "
                "(ICML); docs/theory.md §5.3"),
        quantities=quantities,
    )


def carry_gate_mean(bias: float, v: float) -> float:
    r"""Mean of a gate :math:`\sigma(a)` whose pre-activation is :math:`a \sim N(b, v)`.

    For a gated cell at initialization, conditional on the step's input :math:`x_t` and
    state :math:`h_{t-1}` (drawn independently of the gate's weights), the carry gate's
    pre-activation of each unit is :math:`a = b + u^\top x_t + w^\top h_{t-1} + \beta`,
    Gaussian with mean the forget bias ``bias`` and variance
    :math:`v = \sigma_u^2 \lVert x_t\rVert^2/H + \rho^2\sigma_w^2\lVert h_{t-1}\rVert^2/H
    + \sigma_b^2` (exact for Gaussian weights at t = 1; the usual mean-field step after,
    docs/theory.md §5.5). The mean :math:`E\,\sigma(b + \sqrt v z)` is the per-step factor
    of the LSTM's cell-state path (:math:`\partial c_t/\partial c_{t-1} = \mathrm{diag}\,
    f_t`) and the share of :math:`h_{t-1}` the GRU keeps (:math:`h_t = (1-z_t) n_t + z_t
    h_{t-1}`).

    Examples:
        >>> round(carry_gate_mean(0.0, 1.0), 12)  # sigma(-a) = 1 - sigma(a)
        0.5
        >>> round(carry_gate_mean(1.0, 0.0), 6)
        0.731059
    """
    v = _check_q("v", v)
    return gauss_expect(lambda a: 1.0 / (1.0 + np.exp(-(bias + a))), v)
