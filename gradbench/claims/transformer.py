"""Claims about the transformer family (:class:`~gradbench.specs.TransformerSpec`).

``preln_gradient_profile``: in a Pre-LN stack with its final LayerNorm and branches whose
forward and backward gains agree, ``E|g_l|^2 q_l`` is the same at every sublayer site and
equals ``|R|^2 = 1`` (docs/theory.md §10.4), so the gradient falls as ``q_l^-1/2`` up
the stream (Xiong et al. 2020's L^-1/2).

``preln_stream_growth``: the Pre-LN residual stream's second moment at token 0 follows the
exact law of :func:`gradbench.theory.preln_stream_second_moment` (docs/theory.md §10).
The independent unit is the network (seed); per site the seeds' mean is tested against the
law with the seeds' standard error, and the sites tested are combined by Bonferroni.

``postln_sublayer_gain``: the last sublayer of a Post-LN stack, under the isotropic random
readout, multiplies E|g|^2 by (alpha^2 + c_J)/(alpha^2 + c_F) (1 - (2 - 3r)/d) on its way
down, up to a remainder whose band is calibrated (docs/theory.md §10.6).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from gradbench.claims._registry import claim
from gradbench.claims._verdicts import verdict
from gradbench.records import Verdict
from gradbench.theory._transformer import (
    POSTLN_SOURCE,
    PRELN_SOURCE,
    PROFILE_SOURCE,
    branch_shares,
    postln_domain,
    postln_top_gain,
    preln_domain,
    preln_law_of,
    profile_domain,
)

PRELN_SITES = 4
"""At most this many sites are tested: evenly spaced, the first and the last included."""


def preln_sites(n_sites: int) -> list[int]:
    """Indices of the sites ``preln_stream_growth`` tests (0-based, sorted, distinct)."""
    k = min(PRELN_SITES, n_sites)
    return sorted({round(i) for i in np.linspace(0, n_sites - 1, k)})


@claim(
    "preln_stream_growth",
    statement="In a Pre-LN transformer at initialization the residual stream's second moment "
    "per coordinate at token 0 (causal mask, or one token) grows by the exact law "
    "q <- alpha^2 q + s_V^2 s_O^2 after attention and q <- alpha^2 q + s_2^2 E phi(s_1 z)^2 "
    "after the FFN (Xiong et al. 2020, Lemma 2, refined: linear growth at alpha = 1).",
    statistic="per network and site, |x_0|^2/d of token 0 averaged over the examples; per "
    "tested site (at most 4, first and last included) a two-sided test of the networks' "
    "mean against the law with the networks' standard error (Student t, S - 1 degrees of "
    "freedom); Bonferroni over the tested sites",
    domain="TransformerSpec with placement 'pre', causal or seq = 1, i.i.d. Gaussian "
    "weights (initializer distribution 'normal'); any activation, heads, ffn, skip scale "
    "alpha and branch gain beta; LayerNorm eps 1e-5 (a relative error below eps/q)",
    source=PRELN_SOURCE,
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:token0_stream",
    applies=preln_domain,
)
def preln_stream_growth(spec: Any, q: np.ndarray, alpha: float, **config: Any) -> Verdict:
    """Bonferroni over the tested sites of two-sided t-tests of the mean q against the law."""
    law = preln_law_of(spec)
    sites = preln_sites(spec.n_sites)
    s = q.shape[0]
    method = (f"two-sided t-tests of the mean over {s} networks of token 0's |x|^2/d at "
              f"sublayer sites {[i + 1 for i in sites]} against the exact Pre-LN law; "
              "Bonferroni over sites")
    if s < 2 or not np.isfinite(q[:, sites]).all():
        return verdict("preln_stream_growth", spec, {}, predicted=float(law[-1]),
                       measured=math.nan, statistic=math.nan, pvalue=0.0,
                       ci=(math.nan, math.nan), alpha=alpha, passed=False, n=s, method=method,
                       note="fewer than 2 networks, or a non-finite stream")
    mean = q[:, sites].mean(axis=0)
    se = q[:, sites].std(axis=0, ddof=1) / math.sqrt(s)
    t = (mean - law[sites]) / se
    p_sites = 2 * sps.t.sf(np.abs(t), df=s - 1)
    worst = int(np.argmin(p_sites))
    p = float(min(1.0, len(sites) * p_sites[worst]))
    half = float(sps.t.isf(alpha / (2 * len(sites)), df=s - 1)) * se[worst]
    words = ", ".join(f"site {i + 1}: {m:.4g} (law {lw:.4g})"
                      for i, m, lw in zip(sites, mean, law[sites]))
    return verdict(
        "preln_stream_growth", spec, {}, predicted=float(law[sites][worst]),
        measured=float(mean[worst]), statistic=float(t[worst]), pvalue=p,
        ci=(float(mean[worst] - half), float(mean[worst] + half)), alpha=alpha,
        passed=p >= alpha, effect=float(mean[worst] / law[sites][worst] - 1.0), n=s,
        method=method, note=f"mean |x_0|^2/d {words}")


PROFILE_DRIFT = 10.0
"""Band of the profile's drift ``ln(P_1 / P_2N)``: ``[0, PROFILE_DRIFT sum_{l>=2} r_l / d]``.
Measured 2 to 6.2 times ``sum r_l / d`` (256 networks, d = 32 and 64; docs/theory.md §10.4)."""
PROFILE_TOP = 3.0
"""Upper end of the band of ``d ln P_2N``, the level the final LayerNorm sets (measured 0.4
to 1.2); its lower end is the law's ``ln((1 - 2/d)(1 + 1/d))`` (docs/theory.md §10.4)."""


def profile_top_band(d: int) -> tuple[float, float]:
    """Band of ``ln P_2N`` at width ``d``: ``[ln((1 - 2/d)(1 + 1/d)), 3/d]``."""
    return math.log((1 - 2 / d) * (1 + 1 / d)), PROFILE_TOP / d


def _log_ratio_se(a: np.ndarray, b: np.ndarray) -> float:
    """Delta-method standard error of ``ln(mean a / mean b)`` for paired samples."""
    s, ma, mb = a.size, a.mean(), b.mean()
    cov = np.cov(np.stack([a / ma, b / mb]), ddof=1)
    return float(math.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0) / s))


def _beyond(value: float, se: float, band: tuple[float, float], df: int) -> float:
    """One-sided p-value of ``value`` lying beyond ``band`` (1 inside it)."""
    excess = max(value - band[1], band[0] - value, 0.0)
    if excess == 0.0:
        return 1.0
    return float(sps.t.sf(excess / se, df=df)) if se > 0 else 0.0


@claim(
    "preln_gradient_profile",
    statement="In a Pre-LN transformer with a final LayerNorm whose branches have equal "
    "forward and backward gains (one token, positively homogeneous FFN activation), the "
    "product P_l = E|g_l|^2 q_l of the stream's gradient and second moment is the same at "
    "every sublayer site and equals |R|^2 = 1, so |g_l| ~ q_l^-1/2 (Xiong et al. 2020, "
    "Theorem 1: the last FFN's gradient ~ L^-1/2); O(1/d) finite-width corrections.",
    statistic="P_l = mean over networks of |dL/dx_l|_F^2 times the site's mean square; "
    "drift D = ln(P_1/P_2N) tested against [0, 10 sum_{l>=2} r_l / d] (r_l the branch's "
    "share of q_l by the forward law) and top level T = ln P_2N against "
    "[ln((1 - 2/d)(1 + 1/d)), 3/d], each "
    "one-sided beyond its band (Student t, delta-method standard error over networks, S - 1 "
    "degrees of freedom); Bonferroni over the two",
    domain="TransformerSpec with placement 'pre', seq = 1, a positively homogeneous "
    "activation (relu, leaky relu, linear), i.i.d. Gaussian weights; any depth, heads, ffn, "
    "skip scale alpha and branch gain beta; bands calibrated at width 32 and 64",
    source=PROFILE_SOURCE,
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:network",
    applies=profile_domain,
)
def preln_gradient_profile(spec: Any, m: Any, alpha: float, **config: Any) -> Verdict:
    """Bonferroni over the drift and top-level tests of ``P_l = E|g_l|^2 q_l``."""
    d, s = spec.width, m.act_grad_norms.shape[0]
    product = m.act_grad_norms**2 * m.preact_second_moment
    first, top = product[:, 0], product[:, -1]
    drift_band = (0.0, PROFILE_DRIFT * float(branch_shares(spec)[1:].sum()) / d)
    top_band = profile_top_band(d)
    method = (f"P_l = mean over {s} networks of |g_l|^2 q_l; drift ln(P_1/P_{spec.n_sites}) "
              f"against [{drift_band[0]:.3g}, {drift_band[1]:.3g}] and ln P_{spec.n_sites} "
              f"against [{top_band[0]:.3g}, {top_band[1]:.3g}], one-sided t beyond each band; "
              "Bonferroni over the two")
    if s < 2 or not (np.isfinite(first).all() and np.isfinite(top).all()) or \
            first.mean() <= 0 or top.mean() <= 0:
        return verdict("preln_gradient_profile", spec, {}, predicted=0.0, measured=math.nan,
                       statistic=math.nan, pvalue=0.0, ci=(math.nan, math.nan), alpha=alpha,
                       passed=False, n=s, method=method,
                       note="fewer than 2 networks, or a non-finite or zero gradient")
    drift = math.log(first.mean() / top.mean())
    drift_se = _log_ratio_se(first, top)
    level = math.log(top.mean())
    level_se = float(top.std(ddof=1) / top.mean() / math.sqrt(s))
    p_drift = _beyond(drift, drift_se, drift_band, s - 1)
    p_top = _beyond(level, level_se, top_band, s - 1)
    p = min(1.0, 2 * min(p_drift, p_top))
    crit = float(sps.t.isf(alpha / 4, df=s - 1))
    worst, se, band = ((drift, drift_se, drift_band) if p_drift <= p_top
                       else (level, level_se, top_band))
    excess = max(worst - band[1], band[0] - worst, 0.0)
    return verdict(
        "preln_gradient_profile", spec, {}, predicted=0.0, measured=worst,
        statistic=excess / se if se > 0 else math.inf, pvalue=p,
        ci=(worst - crit * se, worst + crit * se), alpha=alpha, passed=p >= alpha,
        effect=worst, n=s, method=method,
        note=f"ln(P_1/P_{spec.n_sites}) = {drift:.4g} (se {drift_se:.2g}), "
        f"ln P_{spec.n_sites} = {level:.4g} (se {level_se:.2g})")


POSTLN_BAND = (-0.8, 0.35)
"""Band of ``d (T - ln G)`` for ``postln_sublayer_gain``: the remainder beyond the derived
``(2 - 3r)/d``. Measured -0.58 to +0.41 (+0.18 on a longer re-run of that configuration)
over 40 configurations of the suite's domain at width 32 and 64; lowest for a linear FFN at
r >= 0.8 (two matrices remove more along the radial direction than the Gaussian branch the
3r is derived for): plain-torch Monte Carlo, tests/quality/postln_mc.py, docs/theory.md §10.6."""


@claim(
    "postln_sublayer_gain",
    statement="In a Post-LN transformer x <- LN(alpha x + F(x)) at initialization, the last "
    "sublayer (the FFN) under an isotropic random readout multiplies the stream's squared "
    "gradient by (alpha^2 + c_J)/(alpha^2 + c_F) (1 - (2 - 3r)/d) on its way down: c_F, c_J "
    "the branch's forward and backward gains, 1 - 2/d the LayerNorm's projection off the "
    "mean and radial directions, 3r/d (r = c_F/(alpha^2 + c_F)) the fluctuation of the "
    "pre-norm sum's length (derived for a Gaussian branch); the remainder's band is "
    "calibrated (Xiong et al. 2020, Post-LN gradients).",
    statistic="T = ln(mean |g_{2N-1}|_F^2 / mean |g_{2N}|_F^2) over the networks, tested "
    "against the band [ln G - 0.8/d, ln G + 0.35/d] (the calibrated remainder): two-sided, "
    "beyond the band, Student t with a delta-method standard error over networks (S - 1 degrees of "
    "freedom)",
    domain="TransformerSpec with placement 'post', i.i.d. Gaussian weights (initializer "
    "distribution 'normal'), width >= 32, depth <= width/8; any attention, mask, sequence "
    "length, heads, activation, FFN width, skip scale alpha and branch gain beta; band "
    "calibrated at width 32 and 64",
    source=POSTLN_SOURCE,
    subjects="network",
    role="theory",
    measure="gradbench.claim_probes:network",
    applies=postln_domain,
)
def postln_sublayer_gain(spec: Any, m: Any, alpha: float, **config: Any) -> Verdict:
    """Two-sided t-test of the top sublayer's ln gain beyond the band about the law."""
    d, s = spec.width, m.act_grad_norms.shape[0]
    sq = m.act_grad_norms.astype(np.float64) ** 2
    below, top = sq[:, -2], sq[:, -1]
    law, r = postln_top_gain(spec)
    band = (law + POSTLN_BAND[0] / d, law + POSTLN_BAND[1] / d)
    method = (f"T = ln(mean |g_{spec.n_sites - 1}|^2 / mean |g_{spec.n_sites}|^2) over {s} "
              f"networks against [{band[0]:.4g}, {band[1]:.4g}] (ln G = {law:.4g}, "
              f"r = {r:.3g}); two-sided t beyond the band")
    if s < 2 or not (np.isfinite(below).all() and np.isfinite(top).all()) or \
            below.mean() <= 0 or top.mean() <= 0:
        return verdict("postln_sublayer_gain", spec, {}, predicted=law, measured=math.nan,
                       statistic=math.nan, pvalue=0.0, ci=(math.nan, math.nan), alpha=alpha,
                       passed=False, n=s, method=method,
                       note="fewer than 2 networks, or a non-finite or zero gradient")
    gain = math.log(below.mean() / top.mean())
    se = _log_ratio_se(below, top)
    p = min(1.0, 2 * _beyond(gain, se, band, s - 1))
    half = float(sps.t.isf(alpha / 2, df=s - 1)) * se
    excess = max(gain - band[1], band[0] - gain, 0.0)
    return verdict(
        "postln_sublayer_gain", spec, {}, predicted=law, measured=gain,
        statistic=excess / se if se > 0 else math.inf, pvalue=p,
        ci=(gain - half, gain + half), alpha=alpha, passed=p >= alpha,
        effect=d * (gain - law), n=s, method=method,
        note=f"d (T - ln G) = {d * (gain - law):+.3g} (band {POSTLN_BAND[0]:+g} to "
        f"{POSTLN_BAND[1]:+g}, se "
        f"{d * se:.2g}); 1 - 2/d alone would give {math.log(1 - 2 / d):.4g} per sublayer at "
        "alpha^2 + c_J = alpha^2 + c_F")


__all__ = ["POSTLN_BAND", "PRELN_SITES", "PROFILE_DRIFT", "PROFILE_TOP", "preln_sites",
           "profile_top_band"]
