"""Claims about the transformer family (:class:`~gradbench.specs.TransformerSpec`).

``preln_stream_growth``: the Pre-LN residual stream's second moment at token 0 follows the
exact law of :func:`gradbench.theory.preln_stream_second_moment` (docs/theory.md §10).
The independent unit is the network (seed); per site the seeds' mean is tested against the
law with the seeds' standard error, and the sites tested are combined by Bonferroni.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from gradbench.claims._registry import claim
from gradbench.claims._verdicts import verdict
from gradbench.records import Verdict
from gradbench.theory._transformer import PRELN_SOURCE, preln_domain, preln_law_of

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


__all__ = ["PRELN_SITES", "preln_sites"]
