r"""Claims about initializers: the weights they draw have the law they declare.

An initializer declares ``variance(fan_in, fan_out, **params)`` and ``distribution``
(``"normal"``, ``"uniform"``, ``"orthogonal"`` or ``"identity"``) at its registration.
The claims draw one ``fan_out x fan_in`` weight in float64 with a seeded generator, on
non-square shapes too (so a fan-in/fan-out mix-up shows), and test it against that
declaration, not against the code that drew it.

For i.i.d. entries with variance :math:`\sigma^2` and kurtosis :math:`\kappa` (3 for a
normal, 9/5 for a uniform), the mean square :math:`m_2` of :math:`n` entries has
:math:`E m_2 = \sigma^2` and :math:`\mathrm{Var}\, m_2 = (\kappa - 1)\sigma^4/n`, so
:math:`z = (m_2/\sigma^2 - 1)\sqrt{n/(\kappa-1)}` is standard normal to
:math:`O(n^{-1/2})`. At :math:`n \ge 96^2` a 10% variance error is :math:`z \ge 6.8`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from gradbench.claims._registry import claim
from gradbench.claims._verdicts import exact, verdict, z_test
from gradbench.records import Verdict

KURTOSIS = {"normal": 3.0, "uniform": 9.0 / 5.0}
RANDOM = ("normal", "uniform")
SOURCE = ("Glorot & Bengio 2010; He et al. 2015; Saxe et al. 2014; PyTorch test/nn/test_init.py "
          "(KS tests of declared laws)")


def declared_variance(remedy: Any, fan_in: int, fan_out: int) -> float:
    """The variance of one entry that ``remedy`` declares for a ``fan_out x fan_in`` weight."""
    return float(remedy.meta["variance"](fan_in, fan_out, **remedy.params))


def _declares(*distributions: str | None) -> Any:
    """Applies to an initializer declaring a variance and one of ``distributions`` (``None``:
    none declared)."""

    def applies(remedy: Any) -> str | None:
        meta: Mapping[str, Any] = getattr(remedy, "meta", {})
        if "variance" not in meta or meta.get("variance_measured"):
            return "the initializer declares no variance"
        if meta.get("distribution") not in distributions:
            return (f"declared distribution {meta.get('distribution')!r} is not one of "
                    f"{', '.join(str(d) for d in distributions if d)}")
        return None

    return applies


@claim(
    "initializer_variance",
    statement="The weights' mean square equals the declared variance(fan_in, fan_out), on "
    "square and non-square layers, and their mean is 0.",
    statistic="z-test of the mean square against the declared variance with the declared "
    "distribution's kurtosis, or the entries' own when none is declared (i.i.d. entries); "
    "exact comparison for orthogonal, identity and deterministic weights, whose mean square "
    "is deterministic",
    domain="initializers declaring variance, with distribution normal, uniform, orthogonal, "
    "identity or deterministic, or none (then the kurtosis is the entries' own); shapes "
    "fan_in, fan_out >= 96",
    source=SOURCE,
    subjects="initializer",
    role="consistency",
    measure="gradbench.claim_probes:initializer_draw",
    applies=_declares("normal", "uniform", "orthogonal", "identity", "deterministic", None),
)
def initializer_variance(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                         fan_in: int, fan_out: int, **config: Any) -> Verdict:
    """Mean square vs declared variance (and, for random entries, mean 0), in float64. Without
    a declared distribution the kurtosis is the entries' own, ``mean((w^2 / m_2)^2)``
    (consistent for i.i.d. entries with a finite fourth moment, so the z-test keeps its
    level asymptotically)."""
    w = data["weights"]
    cfg = {"fan_in": fan_in, "fan_out": fan_out, **config}
    want = declared_variance(remedy, fan_in, fan_out)
    m2, n = float(np.mean(w * w)), int(w.size)
    dist = remedy.meta.get("distribution")
    exact_square = functools.partial(
        exact, "initializer_variance", remedy, cfg, predicted=want, measured=m2, alpha=alpha,
        n=n, worst=abs(m2 - want) / (1e-12 * want + 1e-300),
        tolerance="relative 1e-12 (deterministic mean square)")
    if dist is not None and dist not in KURTOSIS:
        # orthogonal / identity / deterministic: the mean square is exact, no mean is claimed
        return exact_square()
    kurtosis = KURTOSIS[dist] if dist is not None else (
        float(np.mean((w * w / m2) ** 2)) if m2 > 0 else 1.0)
    if kurtosis - 1.0 < 1e-9:  # +-c entries (or zeros): the mean square is exact
        result = exact_square()
    else:
        se = want * math.sqrt((kurtosis - 1.0) / n)
        law = (f"{dist} entries" if dist is not None
               else f"entries of measured kurtosis {kurtosis:.3g}")
        result = z_test("initializer_variance", remedy, cfg, estimate=m2, se=se,
                        predicted=want, alpha=alpha / 2, n=n, what=f"the mean square of {n} {law}")
    if want <= 0.0:  # zero weights declared: the exact mean square says it all
        return result
    mean_z = float(np.mean(w)) / math.sqrt(want / n)
    mean_p = float(2 * sps.norm.sf(abs(mean_z)))
    if mean_p < alpha / 2:
        mean, half = float(np.mean(w)), float(sps.norm.isf(alpha / 4)) * math.sqrt(want / n)
        return verdict("initializer_variance", remedy, cfg, predicted=0.0,
                       measured=mean, statistic=mean_z, pvalue=mean_p,
                       ci=(mean - half, mean + half), alpha=alpha, passed=False,
                       effect=mean_z, n=n, method="two-sided z-test of the entries' mean",
                       note="the weights are not centred")
    return result


@claim(
    "initializer_distribution",
    statement="The entries follow the declared distribution (normal or uniform) with the "
    "declared variance.",
    statistic="one-sample Kolmogorov-Smirnov test of all entries against N(0, var) or "
    "U(-sqrt(3 var), sqrt(3 var))",
    domain="initializers declaring i.i.d. normal or uniform entries",
    source=SOURCE,
    subjects="initializer",
    role="consistency",
    measure="gradbench.claim_probes:initializer_draw",
    applies=_declares(*RANDOM),
)
def initializer_distribution(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                             fan_in: int, fan_out: int, **config: Any) -> Verdict:
    """KS test of the entries against the declared law."""
    values = data["weights"].ravel()
    want = declared_variance(remedy, fan_in, fan_out)
    if remedy.meta["distribution"] == "normal":
        ks = sps.kstest(values, "norm", args=(0.0, math.sqrt(want)))
    else:
        a = math.sqrt(3 * want)
        ks = sps.kstest(values, "uniform", args=(-a, 2 * a))
    return verdict("initializer_distribution", remedy,
                   {"fan_in": fan_in, "fan_out": fan_out, **config}, predicted=want,
                   measured=float(values.var()), statistic=float(ks.statistic),
                   pvalue=float(ks.pvalue), ci=(math.nan, math.nan), alpha=alpha,
                   passed=bool(ks.pvalue >= alpha), n=int(values.size),
                   method=f"Kolmogorov-Smirnov test against the declared "
                   f"{remedy.meta['distribution']} law (predicted/measured: variance)")


@claim(
    "initializer_orthogonal",
    statement="An orthogonal initializer's weight is gain times a (semi-)orthogonal matrix: "
    "every singular value equals the gain sqrt(variance * max(fan_in, fan_out)).",
    statistic="largest relative deviation of a singular value from the gain (exact, float64)",
    domain="initializers declaring distribution orthogonal",
    source="Saxe et al. 2014 (arXiv:1312.6120); Mezzadri 2007 (Haar measure)",
    subjects="initializer",
    role="consistency",
    measure="gradbench.claim_probes:initializer_draw",
    applies=_declares("orthogonal"),
    exact=True,
)
def initializer_orthogonal(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                           fan_in: int, fan_out: int, **config: Any) -> Verdict:
    """Singular values of the drawn weight vs the declared gain."""
    sv = np.linalg.svd(data["weights"], compute_uv=False)
    gain = math.sqrt(declared_variance(remedy, fan_in, fan_out) * max(fan_in, fan_out))
    worst = float(np.max(np.abs(sv / gain - 1.0))) / 1e-10
    return exact("initializer_orthogonal", remedy,
                 {"fan_in": fan_in, "fan_out": fan_out, **config}, predicted=gain,
                 measured=float(sv.min()), worst=worst, alpha=alpha, n=int(sv.size),
                 tolerance="relative 1e-10", ci=(float(sv.min()), float(sv.max())),
                 note="measured: smallest singular value; CI: smallest and largest")
