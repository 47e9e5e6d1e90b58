r"""Claims about deep convolutional networks (Xiao et al. 2018; docs/theory.md §10).

- ``delta_orthogonal_isometry`` (consistency, exact): a linear circular Conv1D net whose
  kernels are delta-orthogonal (every tap 0 but the centre, ``g H`` with ``H^T H = I``) and
  whose biases are 0 multiplies every position by the same ``g H`` per layer, so
  :math:`\|x^L\| = g^L \|x^0\|` for every input and every singular value of the
  :math:`CT \times CT` input-output Jacobian is :math:`g^L`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from gradbench.claims._registry import claim
from gradbench.claims._verdicts import exact
from gradbench.records import Verdict

ISOMETRY_RTOL = 1e-10
"""Relative tolerance of ``delta_orthogonal_isometry`` (float64)."""
MAX_JACOBIAN = 1024
"""Largest ``channels * length`` whose full Jacobian the isometry claim builds."""


def _kernel_declaration(spec: Any) -> Mapping[str, Any]:
    from gradbench import registry

    return registry.lookup("initializer", spec.init).meta


def _isometry_domain(spec: Any) -> str | None:
    from gradbench.specs import Conv1DSpec, bias_variance

    if not isinstance(spec, Conv1DSpec):
        return "the delta-orthogonal isometry is a claim about Conv1DSpec networks"
    meta = _kernel_declaration(spec)
    if meta.get("kernel") != "delta" or meta.get("distribution") != "orthogonal":
        return (f"initializer {spec.init!r} does not declare delta-orthogonal kernels "
                "(kernel='delta', distribution='orthogonal')")
    if spec.activation != "linear":
        return f"activation {spec.activation!r}: the exact isometry holds for linear nets only"
    if bias_variance(spec) != 0.0:
        return f"sigma_b2={bias_variance(spec)!r}: biases shift the output, sigma_b2 must be 0"
    if spec.channels * spec.length > MAX_JACOBIAN:
        return (f"channels * length = {spec.channels * spec.length} > {MAX_JACOBIAN}: the "
                "full Jacobian is too large to build")
    return None


@claim(
    "delta_orthogonal_isometry",
    statement="A linear circular 1-D CNN with delta-orthogonal kernels of gain g and no "
    "biases is an exact isometry up to g^L: ||x^L|| = g^L ||x^0|| for every input, and every "
    "singular value of the L-layer input-output Jacobian equals g^L.",
    statistic=f"largest relative deviation from g^L of the per-example norm ratios (stacked "
    f"probe forward) and of the Jacobian's singular values (the nn.Conv1d reference module, "
    f"autograd), in units of {ISOMETRY_RTOL:g}; g = sqrt(declared sigma_w2)",
    domain="Conv1DSpec, activation linear, an initializer declaring kernel 'delta' and "
    f"distribution 'orthogonal', sigma_b2 = 0, channels * length <= {MAX_JACOBIAN}; float64",
    source="Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington 2018 (ICML, Algorithm 2); "
    "Saxe et al. 2014 (docs/theory.md §10.1)",
    subjects="network",
    role="consistency",
    measure="gradbench.claim_probes:conv_isometry",
    applies=_isometry_domain,
    standard=False,
    exact=True,
)
def delta_orthogonal_isometry(spec: Any, data: Mapping[str, np.ndarray], alpha: float,
                              **config: Any) -> Verdict:
    """Norm ratios and Jacobian singular values against g^L, relative 1e-10."""
    from gradbench.specs import weight_variance

    want = math.sqrt(weight_variance(spec)) ** spec.depth
    ratios, sv = data["norm_ratios"], data["singular_values"]
    both = np.concatenate([ratios.ravel(), sv.ravel()])
    worst = float(np.max(np.abs(both / want - 1.0))) / ISOMETRY_RTOL if both.size else math.inf
    if not math.isfinite(worst):
        worst = math.inf  # NaN: a non-finite forward
    note = "" if worst <= 1 else (
        f"norm ratios in [{ratios.min():.6g}, {ratios.max():.6g}], singular values in "
        f"[{sv.min():.6g}, {sv.max():.6g}], want g^L = {want:.6g}")
    return exact("delta_orthogonal_isometry", spec, {}, predicted=want,
                 measured=float(sv.min()), worst=worst, alpha=alpha, n=int(sv.shape[0]),
                 tolerance=f"relative {ISOMETRY_RTOL:g}", ci=(float(sv.min()), float(sv.max())),
                 note=note or "measured: smallest singular value; CI: smallest and largest")
