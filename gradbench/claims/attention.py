"""Claims about attention at initialization (:class:`~gradbench.specs.TransformerSpec`).

``uniform_attention_kernel``: with uniform attention (W_Q = 0), no normalization and a
linear FFN, the mean token Gram matrix follows the exact linear recursion of
:func:`gradbench.theory._attention.uniform_attention_gram` (docs/theory.md §10.3).
``qk_gradient_collapse``: softmax attention's query and key gradients are exactly zero on
rank-one inputs and shrink like ``1 - rho`` near rank one (docs/theory.md §10.3).
``pure_attention_collapse``: a softmax attention sublayer without a skip cubes the tokens'
residual ratio near rank one (exponent 3; Dong et al. 2021), with a skip it keeps it
(exponent 1) (docs/theory.md §10.5).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from gradbench.claims._registry import claim
from gradbench.claims._verdicts import exact, verdict
from gradbench.records import Verdict
from gradbench.theory._attention import (
    PURE_SLOPE,
    PURE_SOURCE,
    QK_SLOPE,
    QK_SOURCE,
    SKIP_SLOPE,
    UNIFORM_SOURCE,
    collapse_slope,
    pure_collapse_domain,
    qk_collapse_domain,
    uniform_gram_domain,
    uniform_gram_of,
)


@claim(
    "uniform_attention_kernel",
    statement="With uniform attention (W_Q = 0), no normalization (x <- alpha x + F(x)) and a "
    "linear FFN, the expected token Gram matrix K = X X^T/d follows the exact recursion "
    "K <- alpha^2 K + s_V^2 s_O^2 P K P^T after attention and K <- (alpha^2 + s_1^2 s_2^2) K "
    "after the FFN, at every width; P averages the positions a query sees (1/n, or 1/(i+1) "
    "under a causal mask): uniform attention pulls the tokens together (rank collapse).",
    statistic="per network, K at the last site averaged over the examples; per entry of its "
    "upper triangle (diagonal included, n(n+1)/2 entries) a two-sided t-test of the "
    "networks' mean against the recursion with the networks' standard error (S - 1 degrees "
    "of freedom); Bonferroni over the entries",
    domain="TransformerSpec with attention 'uniform', placement 'none', activation "
    "'linear', an initializer with i.i.d. zero-mean entries (distribution 'normal' or "
    "'uniform'); causal or bidirectional, any heads, ffn, skip scale alpha, branch gain beta "
    "and layer_gain_exponent",
    source=UNIFORM_SOURCE,
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:token_gram",
    applies=uniform_gram_domain,
)
def uniform_attention_kernel(spec: Any, gram: np.ndarray, alpha: float,
                             **config: Any) -> Verdict:
    """Bonferroni over the upper-triangle entries of t-tests of the mean K_L against the law."""
    law = uniform_gram_of(spec)[-1]
    rows, cols = np.triu_indices(spec.seq)
    want = law[rows, cols]
    values = gram[:, -1][:, rows, cols]
    s, m = values.shape
    method = (f"two-sided t-tests of the mean over {s} networks of the {m} upper-triangle "
              f"entries of the token Gram matrix at site {spec.n_sites} against the exact "
              "uniform-attention recursion; Bonferroni over entries")
    if s < 2 or not np.isfinite(values).all():
        return verdict("uniform_attention_kernel", spec, {}, predicted=float(law[0, 0]),
                       measured=math.nan, statistic=math.nan, pvalue=0.0,
                       ci=(math.nan, math.nan), alpha=alpha, passed=False, n=s, method=method,
                       note="fewer than 2 networks, or a non-finite stream")
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1) / math.sqrt(s)
    t = (mean - want) / se
    p_entries = 2 * sps.t.sf(np.abs(t), df=s - 1)
    worst = int(np.argmin(p_entries))
    p = float(min(1.0, m * p_entries[worst]))
    half = float(sps.t.isf(alpha / (2 * m), df=s - 1)) * se[worst]
    i, j = int(rows[worst]), int(cols[worst])
    return verdict(
        "uniform_attention_kernel", spec, {}, predicted=float(want[worst]),
        measured=float(mean[worst]), statistic=float(t[worst]), pvalue=p,
        ci=(float(mean[worst] - half), float(mean[worst] + half)), alpha=alpha,
        passed=p >= alpha, effect=float(mean[worst] / want[worst] - 1.0), n=s, method=method,
        note=f"worst entry K[{i},{j}]: mean {mean[worst]:.4g} (law {want[worst]:.4g}); mean "
        f"diagonal {np.diagonal(gram[:, -1], axis1=-2, axis2=-1).mean():.4g} (law "
        f"{np.trace(law) / spec.seq:.4g})")


RANK_ONE_RTOL = 1e-12
"""``||grad W_{Q,K}|| / ||grad W_V||`` allowed at rank one (float64 rounding: about 1e-15)."""
QK_SLOPE_BAND = 0.05
"""Half-width of the band on the slope between the spreads 1e-4 and 1e-5 (tests/quality/power.py
draws: the largest deviation over 300 networks x 4 is 0.0063; sigmoid attention gives 0)."""


@claim(
    "qk_gradient_collapse",
    statement="Softmax attention is invariant to a shift of each row of scores, so on a "
    "rank-one input (all tokens equal) the loss's gradients with respect to every W_Q and "
    "W_K are exactly zero, for any loss, placement and mask, while W_V's is not; near rank "
    "one (tokens b + s e_j) ||grad W_{Q,K}|| / ||grad W_V|| is proportional to 1 - rho, "
    "rho the tokens' mean cosine similarity (rank collapse stalls query/key learning).",
    statistic=f"per network, the ratio at s = 0 must be <= {RANK_ONE_RTOL:g}, and the slope "
    "of ln(ratio) against ln(1 - rho) between s = 1e-4 and s = 1e-5 must lie in "
    f"{QK_SLOPE:g} +- {QK_SLOPE_BAND:g} (float64 autograd through the family's forward); "
    "statistic = the worst deviation in units of its tolerance",
    domain="TransformerSpec with attention 'softmax', seq >= 2 and placement 'pre' or 'post' "
    "(LayerNorm keeps the scores O(1), so the fixed spreads are near rank one); any mask, "
    "heads, depth, activation, initializer, skip scale and branch gain (the band is "
    "calibrated on depth <= 4, width 16, fan-in-scaled or orthogonal weights). The exact "
    "zero holds for placement 'none' too; its slope does not at these spreads",
    source=QK_SOURCE,
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:qk_collapse",
    applies=qk_collapse_domain,
    exact=True,
)
def qk_gradient_collapse(spec: Any, data: Mapping[str, np.ndarray], alpha: float,
                         **config: Any) -> Verdict:
    """Rank-one ratios against 1e-12 and per-network slopes against 1 +- the band."""
    ratio, gap = data["ratio"], data["one_minus_rho"]
    zero = ratio[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.log(ratio[:, 1] / ratio[:, 2]) / np.log(gap[:, 1] / gap[:, 2])
    errors = np.concatenate([zero / RANK_ONE_RTOL, np.abs(slope - QK_SLOPE) / QK_SLOPE_BAND])
    worst = float(np.max(errors)) if errors.size else math.inf
    if not math.isfinite(worst):
        worst = math.inf
    n = int(ratio.shape[0])
    return exact(
        "qk_gradient_collapse", spec, {}, predicted=QK_SLOPE,
        measured=float(np.median(slope)), worst=worst, alpha=alpha, n=n,
        tolerance=f"ratio <= {RANK_ONE_RTOL:g} at rank one; slope within {QK_SLOPE_BAND:g}",
        ci=(float(np.min(slope)), float(np.max(slope))),
        note=f"rank one: largest ratio {zero.max():.3g}; slopes in [{np.min(slope):.4f}, "
        f"{np.max(slope):.4f}] (measured: median; CI: smallest and largest)")


COLLAPSE_BAND = 0.15
"""Half-width of the band on the exponent between r = 1e-2 and 1e-3 (its O(r) correction:
an independent Monte Carlo's largest deviation over 1,200 skipless draws is 0.046 and
tests/quality/power.py's over the suite's draws is recorded in docs/theory.md §10.5; the
planted errors give 1)."""


@claim(
    "pure_attention_collapse",
    statement="Softmax attention cancels every score term that is constant over the keys, so "
    "near rank one (X = 1 x^T + E, r = ||E||_F / ||X||_F) the rows of the attention matrix "
    "differ by O(r^2) and a sublayer without skip returns a residual (1/n) E M E^T E W_V W_O "
    "cubic in E: ln r_out = 3 ln r_in + const + O(r) (Dong et al.'s doubly exponential "
    "collapse of pure attention, 3^L over L layers); with a skip alpha x (alpha > 0) the "
    "residual passes through and the exponent is 1.",
    statistic="per network, block and example, the slope of ln r_out against ln r_in between "
    "inputs of residual ratio 1e-2 and 1e-3 (each block's attention sublayer alone, the "
    f"family's forward in float64) must lie in {PURE_SLOPE:g} +- {COLLAPSE_BAND:g} without "
    f"a skip (skip_scale 0) and in {SKIP_SLOPE:g} +- {COLLAPSE_BAND:g} with one; statistic = "
    "the worst deviation in units of the band",
    domain="TransformerSpec with attention 'softmax', a bidirectional mask, seq >= 2, "
    "skip_scale 0 (exponent 3) or >= 0.1 (exponent 1) and input_var * sqrt(s_Q^2 s_K^2) <= 8; "
    "any placement (LayerNorm acts per token), heads, width, depth, FFN (not on the "
    "measured path), initializer and branch gain. Dropping the 1/sqrt(d_h) score scale "
    "leaves the exponent at 3 (it changes the constant), so this claim does not see it",
    source=PURE_SOURCE,
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:attention_collapse",
    applies=pure_collapse_domain,
    exact=True,
)
def pure_attention_collapse(spec: Any, data: Mapping[str, np.ndarray], alpha: float,
                            **config: Any) -> Verdict:
    """Per network, block and example: the exponent between the two spreads against 3 (no
    skip) or 1 (skip), within :data:`COLLAPSE_BAND`."""
    r_in, r_out = data["r_in"], data["r_out"]
    want = collapse_slope(spec)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.log(r_out[..., 0] / r_out[..., 1]) / math.log(r_in[0] / r_in[1])
    slope = slope.reshape(-1)
    errors = np.abs(slope - want) / COLLAPSE_BAND
    worst = float(np.max(errors)) if errors.size else math.inf
    if not math.isfinite(worst):
        worst = math.inf
    return exact(
        "pure_attention_collapse", spec, {}, predicted=want,
        measured=float(np.median(slope)), worst=worst, alpha=alpha, n=int(r_out.shape[0]),
        tolerance=f"exponent within {COLLAPSE_BAND:g} of {want:g}",
        ci=(float(np.min(slope)), float(np.max(slope))),
        note=f"exponents between r = {r_in[0]:g} and {r_in[1]:g} over {slope.size} "
        f"(network, block, example) in [{np.min(slope):.4f}, {np.max(slope):.4f}]; smallest "
        f"r_out {np.min(r_out):.3g} (measured: median; CI: smallest and largest)")


__all__ = ["COLLAPSE_BAND", "QK_SLOPE_BAND", "RANK_ONE_RTOL"]
