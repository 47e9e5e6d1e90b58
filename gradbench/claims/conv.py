r"""Claims about deep convolutional networks (Xiao et al. 2018; docs/theory.md §11).

- ``delta_orthogonal_isometry`` (consistency, exact): a linear circular Conv1D net whose
  kernels are delta-orthogonal (every tap 0 but the centre, ``g H`` with ``H^T H = I``) and
  whose biases are 0 multiplies every position by the same ``g H`` per layer, so
  :math:`\|x^L\| = g^L \|x^0\|` for every input and every singular value of the
  :math:`CT \times CT` input-output Jacobian is :math:`g^L`.
- ``conv_spatial_modes`` (theory, exact in expectation): with i.i.d. kernels, no biases and a
  linear or ReLU-like activation, Fourier mode m of the expected per-position second moment
  is multiplied by :math:`\lambda_m` per convolution, in 2-D by the product of one such
  factor per axis (:func:`gradbench.theory.conv_spatial_modes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from gradbench import theory
from gradbench.claims._registry import claim
from gradbench.claims._verdicts import exact, verdict
from gradbench.records import Verdict

ISOMETRY_RTOL = 1e-10
"""Relative tolerance of ``delta_orthogonal_isometry`` (float64)."""
MAX_JACOBIAN = 1024
"""Largest ``channels * length`` whose full Jacobian the isometry claim builds."""


def _kernel_declaration(spec: Any) -> Mapping[str, Any]:
    from gradbench import registry

    return registry.lookup("initializer", spec.init).meta


def _positions(spec: Any) -> int:
    """Spatial positions of a conv spec: T (1-D) or H W (2-D)."""
    length = getattr(spec, "length", None)
    return int(length) if length is not None else int(spec.height * spec.width)


def _isometry_domain(spec: Any) -> str | None:
    from gradbench.specs import Conv1DSpec, Conv2DSpec, bias_variance

    if not isinstance(spec, (Conv1DSpec, Conv2DSpec)):
        return "the delta-orthogonal isometry is a claim about Conv1DSpec and Conv2DSpec networks"
    if isinstance(spec, Conv2DSpec) and spec.batchnorm:
        return "batchnorm=True: BatchNorm rescales by batch statistics, no fixed isometry"
    meta = _kernel_declaration(spec)
    if meta.get("kernel") != "delta" or meta.get("distribution") != "orthogonal":
        return (f"initializer {spec.init!r} does not declare delta-orthogonal kernels "
                "(kernel='delta', distribution='orthogonal')")
    if spec.activation != "linear":
        return f"activation {spec.activation!r}: the exact isometry holds for linear nets only"
    if bias_variance(spec) != 0.0:
        return f"sigma_b2={bias_variance(spec)!r}: biases shift the output, sigma_b2 must be 0"
    size = spec.channels * _positions(spec)
    if size > MAX_JACOBIAN:
        return (f"channels * positions = {size} > {MAX_JACOBIAN}: the full Jacobian is too "
                "large to build")
    return None


@claim(
    "delta_orthogonal_isometry",
    statement="A linear 1-D CNN (circular) or 2-D CNN (circular or zero padding, no BN) with "
    "delta-orthogonal kernels of gain g and no biases is an exact isometry up to g^L: "
    "||x^L|| = g^L ||x^0|| for every input, and every "
    "singular value of the L-layer input-output Jacobian equals g^L.",
    statistic=f"largest relative deviation from g^L of the per-example norm ratios (stacked "
    f"probe forward) and of the Jacobian's singular values (the nn.Conv1d or nn.Conv2d "
    f"reference module, autograd), in units of {ISOMETRY_RTOL:g}; g = sqrt(declared sigma_w2)",
    domain="Conv1DSpec, or Conv2DSpec without BatchNorm (either padding), activation linear, "
    "an initializer declaring kernel 'delta' and distribution 'orthogonal', sigma_b2 = 0, "
    f"channels * positions <= {MAX_JACOBIAN}; float64",
    source="Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington 2018 (ICML, Algorithm 2); "
    "Saxe et al. 2014 (docs/theory.md §11.1, §11.3 for 2-D)",
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


def _modes_domain(spec: Any) -> str | None:
    issue = theory.spatial_modes_issue(spec)
    if issue is None and any(2 * m >= n for m, n in zip(spec.input_modes,
                                                         spec.spatial_shape)):
        issue = (f"input mode {_mode_label(spec.input_modes)} on "
                 f"{_mode_label(spec.spatial_shape)} positions: the claim tests modes with "
                 "2 m < n on every axis (1-D: 1 <= m < length/2), whose Fourier coefficient "
                 "is complex")
    if issue is None and spec.depth > spec.channels / 8:
        issue = (f"depth={spec.depth} > channels/8 = {spec.channels / 8:g}: the per-network "
                 "second moments are too heavy-tailed for a t-test on 16-64 networks")
    return issue


def _mode_label(mode: tuple[int, ...]) -> str:
    return str(mode[0]) if len(mode) == 1 else "(" + ", ".join(map(str, mode)) + ")"


def fourier_coefficients(q: np.ndarray, mode: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(c_0, c_m)`` of profiles ``q[..., T_1, ..., T_d]`` (d = ``len(mode)``): the mean over
    the N positions and ``(2/N) sum_t q(t) exp(-2 pi i sum_i m_i t_i / T_i)`` (``a`` for
    ``1 + a cos(2 pi sum_i m_i t_i / T_i)``)."""
    axes = tuple(range(-len(mode), 0))
    phase = np.ones(())
    for m, n in zip(mode, q.shape[-len(mode):]):
        phase = np.multiply.outer(phase, np.exp(-2j * np.pi * m * np.arange(n) / n))
    size = int(np.prod(q.shape[-len(mode):]))
    return q.mean(axis=axes), (2.0 / size) * (q * phase).sum(axis=axes)


@claim(
    "conv_spatial_modes",
    statement="In a circular 1-D CNN with i.i.d. zero-mean kernels, no biases and a linear "
    "or ReLU-like activation, the expected per-position second moment of h^L for input "
    "variance v (1 + a cos(2 pi m t/T)) is v sigma_w2^L kappa^(L-1) (1 + a |lambda_m|^L "
    "cos(2 pi m t/T + L arg lambda_m)), lambda_m = (1/k) sum_j exp(2 pi i m (j-p)/T), at "
    "every width: high spatial frequencies die first. In a circular 2-D CNN (k x k kernels, "
    "no BatchNorm) mode (m, n) of H x W positions is multiplied by lambda_m(H) lambda_n(W).",
    statistic="per network, the Fourier coefficients c_0 and c_m (real and imaginary parts) "
    "of q^l(t) at every layer l; two-sided one-sample t-test across networks of each of the "
    "3L against the law, Bonferroni over them (p = 3L x the smallest p)",
    domain="Conv1DSpec, or Conv2DSpec with circular padding and no BatchNorm; initializer "
    "with i.i.d. normal or uniform entries, sigma_b2 = 0, positively homogeneous activation "
    "(linear, ReLU, leaky ReLU), an input mode with 2 m < n on every axis and not all 0 "
    "(1-D: 1 <= m < T/2), input_modulation != 0, depth <= channels/8",
    source="Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington 2018 (ICML), the CNN "
    "covariance map along its diagonal (docs/theory.md §11.2, §11.4 for 2-D)",
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:conv_profiles",
    applies=_modes_domain,
    standard=False,
)
def conv_spatial_modes(spec: Any, q: np.ndarray, alpha: float, **config: Any) -> Verdict:
    """t-tests of the per-network Fourier coefficients against the exact law, Bonferroni."""
    law = theory.conv_spatial_modes(spec)
    c0, cm = fourier_coefficients(np.asarray(q, dtype=np.float64), law.mode)
    coefficient = np.asarray(law.coefficient)
    label = _mode_label(law.mode)
    names = ("c_0", f"Re c_{label}", f"Im c_{label}")
    values = np.concatenate([c0, cm.real, cm.imag], axis=1)  # [seeds, 3L]
    predicted = np.concatenate([law.scale, coefficient.real, coefficient.imag])
    tests = values.shape[1]
    finite = np.isfinite(values).all(axis=1)
    x = values[finite]
    what = (f"{tests} Fourier coefficients of q^l(t) (c_0, Re and Im c_{label} at layers "
            f"1..{spec.depth})")
    if x.shape[0] < 2:
        return verdict("conv_spatial_modes", spec, {}, predicted=float(predicted[-1]),
                       measured=math.nan, statistic=math.nan, pvalue=0.0,
                       ci=(math.nan, math.nan), alpha=alpha, passed=False, n=int(x.shape[0]),
                       method=f"t-tests across networks on {what}",
                       note="fewer than 2 networks with finite second moments")
    mean, se = x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(x.shape[0])
    scale = np.maximum(np.abs(predicted), np.abs(mean))
    se = np.maximum(se, 1e-12 * scale + 1e-300)  # an exactly zero spread: compare to 1e-12
    t = (mean - predicted) / se
    p = 2.0 * sps.t.sf(np.abs(t), df=x.shape[0] - 1)
    worst = int(np.argmin(p))
    adjusted = float(min(1.0, tests * p[worst]))
    half = float(sps.t.isf(alpha / (2 * tests), df=x.shape[0] - 1)) * se[worst]
    layer, part = worst % spec.depth + 1, names[worst // spec.depth]
    notes = [f"worst: {part} at layer {layer}, law {predicted[worst]:.6g}, measured "
             f"{mean[worst]:.6g} (t = {t[worst]:.3g}); lambda_{label} = "
             f"{law.factor.real:.6g}, kappa = {law.kappa:g}"]
    if not finite.all():
        notes.append(f"{int((~finite).sum())} networks non-finite, excluded")
    return verdict("conv_spatial_modes", spec, {}, predicted=float(predicted[worst]),
                   measured=float(mean[worst]), statistic=float(t[worst]), pvalue=adjusted,
                   ci=(float(mean[worst] - half), float(mean[worst] + half)), alpha=alpha,
                   passed=adjusted >= alpha and bool(finite.all()),
                   effect=float(t[worst] / math.sqrt(x.shape[0])), n=int(x.shape[0]),
                   method=f"two-sided t-tests across networks on {what}, Bonferroni over "
                   f"the {tests}", note="; ".join(notes))
