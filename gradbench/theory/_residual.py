"""Mean field of residual networks (Yang & Schoenholz 2017; De & Smith 2020), docs/theory.md §4.

Also the family's predictor, :func:`predict_residual` (``ResidualSpec.info.predictor``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.records import Prediction
from gradbench.specs import ResidualSpec, bias_variance, branch_out_variance, weight_variance
from gradbench.theory._activation import Activation, _check_sigmas, _moments, _resolve
from gradbench.theory._normalization import normalization_statistics, normalizations_with_theory
from gradbench.theory._predict import (
    BN_MIN_BATCH,
    no_prediction,
    norm_issue,
    readonly,
    weights_issue,
    width_domain,
)
from gradbench.theory._quadrature import _check_q


@dataclass(frozen=True)
class ResidualMeanField:
    r"""Mean-field recursion of :math:`x_l = x_{l-1} + \alpha_l W_2 \phi(N(W_1 x_{l-1} + b))`.

    Attributes:
        p: ``[L+1]`` stream second moments :math:`p_l = E x_l^2` (per coordinate),
            l = 0..L.
        q: ``[L]`` second moment of block l's branch pre-activation
            :math:`\sigma_w^2 p_{l-1} + \sigma_b^2`, l = 1..L.
        factor: ``[L]`` per-block factor of the **squared** gradient norm,
            :math:`E\|\partial L/\partial x_{l-1}\|^2 / E\|\partial L/\partial x_l\|^2`.
        log_growth: ``[L]`` :math:`\tfrac12\ln` factor (log growth of the norm).
    """

    p: np.ndarray
    q: np.ndarray
    factor: np.ndarray
    log_growth: np.ndarray


def _check_alphas(alphas: object) -> np.ndarray:
    try:
        arr = np.asarray(alphas, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.array([math.nan])
    if arr.ndim != 1 or arr.size < 1 or not np.all(np.isfinite(arr)):
        raise InvalidArgument(
            f"alphas={alphas!r} must be a non-empty 1-D sequence of finite floats"
        )
    return arr


def residual_mean_field(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    sigma_v2: float,
    alphas: Sequence[float],
    p0: float = 1.0,
    norm: str | None = None,
) -> ResidualMeanField:
    r"""Mean-field forward and backward recursion of a residual MLP (docs/theory.md §4).

    Block l maps :math:`x_{l-1} \mapsto x_{l-1} + \alpha_l W_2 \phi(N(W_1 x_{l-1} + b))`
    with :math:`W_1 \sim N(0, \sigma_w^2/n)`, :math:`W_2 \sim N(0, \sigma_v^2/n)`,
    :math:`b \sim N(0, \sigma_b^2)`. The cross terms vanish because :math:`W_2` is
    independent and centred, so (gradient independence, width to infinity):

    * no normalization: :math:`q_l = \sigma_w^2 p_{l-1} + \sigma_b^2`,
      :math:`p_l = p_{l-1} + \alpha_l^2\sigma_v^2 E\phi(\sqrt{q_l}z)^2`, factor
      :math:`1 + \alpha_l^2\sigma_v^2\sigma_w^2 E\phi'(\sqrt{q_l}z)^2` -- for ReLU
      :math:`1 + \alpha_l^2 v` with :math:`v = \sigma_v^2\sigma_w^2/2` (docs/theory.md §4.1),
      for tanh the sub-exponential growth of Yang & Schoenholz 2017 (docs/theory.md §4.2);
    * LayerNorm/RMSNorm in the branch: the branch sees :math:`\hat h \sim N(0,1)`, factor
      :math:`1 + \alpha_l^2\sigma_v^2\sigma_w^2 E\phi'(z)^2 / q_l`;
    * BatchNorm in the branch (large batch): BN divides by the batch-centred variance
      :math:`\sigma_w^2\tilde p_{l-1}` of h, which grows by only
      :math:`\alpha_l^2\sigma_v^2\mathrm{Var}\,\phi(z)` per block, so the factor is
      :math:`1 + \alpha_l^2\sigma_v^2 E\phi'(z)^2/\tilde p_{l-1}` -- ReLU with
      :math:`\sigma_v^2 = 2`: :math:`\prod_l (1 + 1/(1 + (1 - 1/\pi) l))`, polynomial growth
      (docs/theory.md §4.3; De & Smith 2020).

    Zero branches (:math:`\alpha_l = 0`: SkipInit, ReZero; :math:`\sigma_v^2 = 0`: Fixup's
    zero-initialised output layer) give a factor of exactly 1.

    Args:
        activation: registry name or :class:`ActivationFunctions`.
        sigma_w2: variance times fan-in of the branch's first layer W1.
        sigma_b2: its bias variance.
        sigma_v2: variance times fan-in of the branch's output layer W2.
        alphas: branch scales :math:`\alpha_1, \dots, \alpha_L`.
        p0: second moment of the input stream :math:`x_0` (i.i.d. entries).
        norm: ``None`` or a registered normalization that declares its ``statistics``
            (``"batchnorm"``, ``"layernorm"``, ``"rmsnorm"``), applied before phi.

    Returns:
        A :class:`ResidualMeanField`.

    Examples:
        >>> r = residual_mean_field("relu", 2.0, 0.0, 1.0, [1.0] * 10)
        >>> float(np.prod(r.factor))  # (1 + v)^L with v = 1
        1024.0
    """
    sw2, sb2 = _check_sigmas(sigma_w2, sigma_b2)
    sv2 = _check_q("sigma_v2", sigma_v2)
    p_0 = _check_q("p0", p0)
    a = _check_alphas(alphas)
    kind = normalization_statistics(norm) if norm is not None else None
    if norm is not None and kind is None:
        raise InvalidArgument(
            f"norm={norm!r} declares no statistics, so it has no theory; must be None or one "
            f"of: {', '.join(normalizations_with_theory())}"
        )
    act = _resolve(activation)
    std = _moments(act, 1.0) if kind is not None else None
    p = np.empty(a.size + 1)
    q = np.empty(a.size)
    factor = np.empty(a.size)
    p[0] = p_0
    centred = p_0  # batch-centred variance of the stream (BatchNorm only)
    for i, alpha in enumerate(a):
        gain = alpha * alpha * sv2
        q[i] = sw2 * p[i] + sb2
        if std is None:
            m = _moments(act, q[i])
            p[i + 1] = p[i] + gain * m.phi2
            factor[i] = 1.0 + gain * sw2 * m.dphi2
        elif kind == "feature":
            p[i + 1] = p[i] + gain * std.phi2
            factor[i] = 1.0 + gain * sw2 * std.dphi2 / q[i] if gain else 1.0
        else:
            p[i + 1] = p[i] + gain * std.phi2
            factor[i] = 1.0 + gain * std.dphi2 / centred if gain else 1.0
            centred += gain * (std.phi2 - std.phi**2)
    with np.errstate(divide="ignore"):
        log_growth = 0.5 * np.log(factor)
    return ResidualMeanField(p=p, q=q, factor=factor, log_growth=log_growth)


def residual_log_growth(
    activation: Activation,
    sigma_w2: float,
    sigma_b2: float,
    sigma_v2: float,
    alphas: Sequence[float],
    p0: float = 1.0,
    norm: str | None = None,
) -> np.ndarray:
    r"""Per-block log growth of the gradient **norm**, :math:`\tfrac12\ln(\text{factor}_l)`.

    See :func:`residual_mean_field` (docs/theory.md §4). Entry l - 1 is
    :math:`\ln(\|\partial L/\partial x_{l-1}\| / \|\partial L/\partial x_l\|)`.

    Examples:
        >>> float(residual_log_growth("relu", 2.0, 0.0, 1.0, [0.0, 0.0]).sum())
        0.0
    """
    return residual_mean_field(
        activation, sigma_w2, sigma_b2, sigma_v2, alphas, p0, norm
    ).log_growth


def residual_quantities(mf: Any, sw2: float, sb2: float, sv2: float, alphas: Sequence[float],
                        width: int) -> dict[str, Any]:
    """A residual prediction's ``quantities`` over the stream sites x_0..x_{L-1} (the last
    entry of ``mf``, after block L, is no site); ``width`` counts features (channels)."""
    return {
        "sigma_w2": sw2, "sigma_b2": sb2, "sigma_v2": sv2, "alphas": readonly(np.array(alphas)),
        "chi_per_layer": readonly(mf.factor[:-1]), "site_second_moment": readonly(mf.p[:-1]),
        "total_log_growth": float(mf.log_growth[:-1].sum()), "beta": len(alphas) / width,
    }


def predict_residual(spec: ResidualSpec, batch: int | None = None) -> Prediction:
    """:class:`~gradbench.specs.ResidualSpec`: sites x_0..x_{L-1} (``batch`` is not used)."""
    from gradbench.records import Prediction

    for init in (spec.init, spec.out_init):
        issue = weights_issue(init, "residual mean-field")
        if issue:
            return no_prediction(spec, issue)
    issue = norm_issue(spec.norm)
    if issue:
        return no_prediction(spec, issue)
    scaling = registry.lookup("residual", str(spec.branch_scale))
    L, n = spec.depth, spec.width
    alphas = [float(scaling.fn(layer, L)) for layer in range(1, L + 1)]
    w1_scale = float(scaling.meta.get("branch_weight_scale", lambda depth: 1.0)(L))
    sw2 = weight_variance(spec) * w1_scale**2
    sb2 = bias_variance(spec)
    zero_out = bool(scaling.meta.get("zero_out"))
    sv2 = 0.0 if zero_out else branch_out_variance(spec)
    norm = spec.norm if spec.norm is None else str(spec.norm)
    if sw2 == 0.0 and norm is not None and not zero_out and any(alphas):
        return no_prediction(spec, "sigma_w2=0 with a normalized branch divides by zero")
    mf = residual_mean_field(spec.activation, sw2, sb2, sv2, alphas, spec.input_var, norm)
    exact = zero_out or not any(alphas)
    if exact:
        valid, reason = True, ""
        domain = "exact at any width: every branch outputs 0 at initialization"
    else:
        valid, domain, reason = width_domain(n, L)
        if norm is not None and normalization_statistics(norm) == "batch":
            domain += f"; BatchNorm in the branch: large batch (>= {BN_MIN_BATCH})"
    assumptions = [
        "x_l = x_{l-1} + alpha_l W2 phi(norm(W1 x_{l-1} + b)), W1 ~ sigma_w2/n, W2 ~ sigma_v2/n",
        "cross terms vanish because W2 is independent and centred; backward uses gradient "
        "independence (width -> infinity)",
        "the factor between sites x_{l-1} and x_l is block l's 1 + alpha_l^2 sigma_v2 sigma_w2 "
        "E[phi'(sqrt(q_l) z)^2], q_l = sigma_w2 p_{l-1} + sigma_b2 (norms: "
        "docs/theory.md §4.3, §6)",
    ]
    if zero_out:
        assumptions.append(f"{spec.branch_scale}: the branch output layer starts at zero")
    quantities = residual_quantities(mf, sw2, sb2, sv2, alphas, n)
    return Prediction(
        spec=spec.to_dict(), log_growth=readonly(mf.log_growth[:-1]), valid=valid,
        reason=reason, assumptions=tuple(assumptions), domain=domain,
        source=("Yang & Schoenholz 2017 (NeurIPS); Hanin & Rolnick 2018 (NeurIPS); De & Smith "
                "2020 (NeurIPS); Zhang, Dauphin & Ma 2019 (Fixup, ICLR); Bachlechner et al. 2020 "
                "(ReZero); docs/theory.md §4"),
        quantities=quantities,
    )
