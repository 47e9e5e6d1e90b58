r"""Mean field of deep 1-D convolutional nets with circular padding (Xiao et al. 2018).

For :math:`h^{l+1}[o, t] = \sum_{i,j} W[o, i, j]\,\phi(h^l[i, t + j - p]) + b[o]` with
i.i.d. kernel entries of variance :math:`\sigma_w^2 / (C k)` and circular padding, every
position is statistically alike, so each pre-activation sums :math:`C k` terms of second
moment :math:`E\phi(\sqrt{q^l} z)^2` and the length map is the fully connected one,
:math:`q^{l+1} = \sigma_w^2 E\phi^2 + \sigma_b^2`. Backward,
:math:`\delta^l[i, t'] = \phi'(h^l[i, t']) \sum_{o,j} W[o, i, j]\,\delta^{l+1}[o, t' - j + p]`;
under gradient independence each :math:`\delta^{l+1}` entry meets :math:`C k` weights of
variance :math:`\sigma_w^2/(Ck)` and the circular shifts preserve the sum over positions,
so :math:`E\|\delta^l\|^2 = \sigma_w^2 E\phi'(\sqrt{q^l} z)^2\,E\|\delta^{l+1}\|^2`: the
per-layer factor is the MLP's :math:`\chi` at :math:`q^l` (the diagonal of the CNN
covariance map evolves as the fully connected one; Xiao, Bahri, Sohl-Dickstein,
Schoenholz & Pennington 2018, "Dynamical Isometry and a Mean Field Theory of CNNs",
ICML). ``tests/quality/test_theory_mc.py`` checks it by Monte Carlo with ``nn.Conv1d``.
"""

from __future__ import annotations

from typing import Any

from gradbench import registry
from gradbench.records import Prediction
from gradbench.specs import Conv1DSpec, bias_variance, weight_variance
from gradbench.theory._activation import _resolve
from gradbench.theory._predict import (
    MEAN_FIELD_SOURCE,
    MIN_WIDTH,
    mean_field_chain,
    mean_field_issue,
    no_prediction,
    readonly,
)


def predict_conv1d(spec: Conv1DSpec, batch: int | None = None) -> Prediction:
    """:class:`~gradbench.specs.Conv1DSpec`: the MLP's chi trajectory (``batch`` is not used).

    Valid for i.i.d. kernels (normal or uniform); a Haar-orthogonal ``(C, C k)`` kernel
    matrix is not covered by the derivation above and gets no prediction.
    """
    issue = mean_field_issue(spec, "convolutional mean-field", None)
    dist = registry.lookup("initializer", spec.init).meta.get("distribution")
    if issue is None and dist not in ("normal", "uniform"):
        issue = (
            f"initializer {spec.init!r} draws {dist} kernels; the convolutional mean field is "
            "derived (and checked) for i.i.d. kernel entries only"
        )
    if issue:
        return no_prediction(spec, issue)
    sw2, sb2 = weight_variance(spec), bias_variance(spec)
    L, c = spec.depth, spec.channels
    log_growth, chain, assumptions = mean_field_chain(
        _resolve(spec.activation), sw2, sb2, sw2 * spec.input_var + sb2, L
    )
    valid = c >= MIN_WIDTH
    reason = "" if valid else (
        f"channels={c} < {MIN_WIDTH}: outside the mean-field domain, O(1/channels) "
        "corrections are not small (log_growth is still given for reference)"
    )
    domain = (
        f"mean field (channels -> infinity at fixed depth): valid for channels >= {MIN_WIDTH}; "
        "per-layer log growth then carries O(1/channels) corrections; circular padding "
        "(every position alike); i.i.d. kernel entries"
    )
    quantities: dict[str, Any] = {"sigma_w2": sw2, "sigma_b2": sb2, "beta": L / c, **chain}
    assumptions = [
        f"h^l = W^l * x^(l-1) + b^l with circular padding, kernels i.i.d. with variance "
        f"sigma_w2 / (C k) = {sw2:.6g} / {c * spec.kernel}: the length map and the per-layer "
        "gradient factor chi are those of an MLP of width C (channels -> infinity)",
        *assumptions[1:],
    ]
    return Prediction(
        spec=spec.to_dict(), log_growth=readonly(log_growth), valid=valid, reason=reason,
        assumptions=tuple(assumptions), domain=domain,
        source="Xiao et al. 2018 (ICML), mean field of CNNs; " + MEAN_FIELD_SOURCE,
        quantities=quantities,
    )
