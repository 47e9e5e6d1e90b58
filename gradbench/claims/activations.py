r"""Claims about activations: a consistent backward, and Gaussian moments theory gets right.

``activation_backward`` holds every activation's autograd derivative against central
finite differences of its forward in float64 (what ``torch.autograd.gradcheck`` does),
so a hand-written ``torch.autograd.Function`` with a wrong backward fails, even though
the probe and theory's quadrature (which both use that backward) would agree with each
other. ``activation_moments`` holds theory's quadrature of the mean-field moments
:math:`E\phi(\sqrt q z)^2` and :math:`E\phi'(\sqrt q z)^2` at the fixed point
:math:`q^*` (so ``q_star`` and ``chi1`` themselves) against a Monte Carlo estimate over
:math:`2^{20}` Gaussian samples of the torch function, an independent numerical route.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from gradbench import theory
from gradbench.claims._registry import claim
from gradbench.claims._verdicts import exact, z_test
from gradbench.records import Verdict

FD_RTOL = 1e-7
"""Allowed |autograd - central difference| relative to 1 + |derivative| (step 1e-5 (1 + |x|):
truncation ~1e-11 |phi'''|, rounding ~1e-11 |phi| in float64)."""
Q_RANGE = (1e-3, 1e3)
"""Fixed points outside this range are degenerate for the Monte Carlo check (q = 1 is used)."""


@claim(
    "activation_backward",
    statement="The activation's backward is the derivative of its forward: autograd agrees "
    "with central finite differences of the forward at Gaussian points.",
    statistic=f"largest |autograd - finite difference| / (1 + |derivative|), exact in float64 "
    f"(tolerance {FD_RTOL:g}), points within 1e-3 of a declared kink excluded",
    domain="every elementwise activation; float64; points drawn from N(0, q), q in [0.1, 10]",
    source="Baydin et al. 2018 (automatic differentiation); torch.autograd.gradcheck",
    subjects="activation",
    role="consistency",
    measure="gradbench.claim_probes:activation_points",
    exact=True,
)
def activation_backward(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                        q: float, **config: Any) -> Verdict:
    """Autograd derivative vs central finite differences."""
    ad, fd = data["dphi"], data["fd"]
    err = np.abs(ad - fd) / (1.0 + np.abs(fd))
    i = int(np.argmax(err)) if err.size else 0
    worst = float(err[i] / FD_RTOL) if err.size else 0.0
    return exact("activation_backward", remedy, {"q": q, **config}, predicted=float(fd[i]),
                 measured=float(ad[i]), worst=worst, alpha=alpha, n=int(err.size),
                 tolerance=f"|autograd - central difference| <= {FD_RTOL:g} (1 + |phi'|)",
                 note=f"worst point x = {float(data['x'][i]):.6g}; predicted: finite "
                 "difference, measured: autograd")


REFERENCE_RTOL = 1e-10
"""Allowed |torch - NumPy reference| relative to 1 + |reference|, forward and derivative."""


def _declares_reference(remedy: Any) -> str | None:
    if "numpy" in getattr(remedy, "meta", {}):
        return None
    return "the activation declares no NumPy reference (numpy=)"


@claim(
    "activation_reference",
    statement="The torch activation and its autograd derivative equal the NumPy reference "
    "(phi, hand-written phi') it declares, the implementation theory uses.",
    statistic=f"largest |torch - reference| / (1 + |reference|) over forward and derivative "
    f"at Gaussian points (exact, float64, tolerance {REFERENCE_RTOL:g})",
    domain="activations declaring numpy=NumpyReference(...); points drawn from N(0, q)",
    source="docs/theory.md §1.2 (closed forms); torch.autograd",
    subjects="activation",
    role="consistency",
    measure="gradbench.claim_probes:activation_points",
    applies=_declares_reference,
    exact=True,
)
def activation_reference(remedy: Any, data: Mapping[str, np.ndarray], alpha: float,
                         q: float, **config: Any) -> Verdict:
    """Torch forward and backward vs the declared NumPy reference."""
    from gradbench.remedies.activations import numpy_activation

    ref = numpy_activation(remedy.label)
    x = data["x"]
    errors = {}
    for what, got, want in (("phi", data["phi"], ref.phi(x)), ("phi'", data["dphi"], ref.dphi(x))):
        err = np.abs(got - want) / (1.0 + np.abs(want))
        i = int(np.argmax(err)) if err.size else 0
        errors[what] = (float(err[i]) if err.size else 0.0, float(want[i]), float(got[i]), i)
    worst = max(errors, key=lambda k: errors[k][0])
    rel, want_i, got_i, i = errors[worst]
    return exact("activation_reference", remedy, {"q": q, **config}, predicted=want_i,
                 measured=got_i, worst=rel / REFERENCE_RTOL, alpha=alpha, n=int(x.size),
                 tolerance=f"relative {REFERENCE_RTOL:g}",
                 note=f"worst: {worst} at x = {float(x[i]):.6g} (predicted: reference, "
                 "measured: torch)")


def moment_point(activation: str, sigma_w2: float, sigma_b2: float) -> tuple[float, bool]:
    """``(q, at_fixed_point)``: theory's q* when it is in :data:`Q_RANGE`, else ``(1, False)``."""
    q = theory.q_star(activation, sigma_w2, sigma_b2)
    return (q, True) if Q_RANGE[0] <= q <= Q_RANGE[1] else (1.0, False)


@claim(
    "activation_moments",
    statement="Theory's Gaussian moments of the activation are right: at the fixed point q* "
    "of (sigma_w2, sigma_b2), sigma_w2 E[phi(sqrt(q*) z)^2] + sigma_b2 = q* and "
    "sigma_w2 E[phi'(sqrt(q*) z)^2] = chi_1.",
    statistic="two z-tests (Bonferroni, alpha/2 each) of theory's q_map and chi_1 against "
    "Monte Carlo means over 2^20 Gaussian samples of the torch activation and its autograd "
    "derivative, with the Monte Carlo standard errors",
    domain="every activation; sigma_w2 in [0.5, 3], sigma_b2 in [0.01, 0.5]; when q* is "
    "degenerate (0 or infinite) the length map at q = 1 is checked instead",
    source="Poole et al. 2016; Schoenholz et al. 2017 (docs/theory.md §1.1)",
    subjects="activation",
    role="theory",
    measure="gradbench.claim_probes:activation_moments",
)
def activation_moments(remedy: Any, data: Mapping[str, Any], alpha: float, sigma_w2: float,
                       sigma_b2: float, **config: Any) -> Verdict:
    """Theory's q_map / chi_1 at q* vs Monte Carlo."""
    cfg = {"sigma_w2": sigma_w2, "sigma_b2": sigma_b2, "q": data["q"], **config}
    n, q = int(data["n"]), float(data["q"])
    qmap = theory.q_map(remedy.label, q, sigma_w2, sigma_b2)
    first = z_test("activation_moments", remedy, cfg,
                   estimate=sigma_w2 * data["phi2_mean"] + sigma_b2,
                   se=sigma_w2 * data["phi2_sd"] / math.sqrt(n), predicted=qmap,
                   alpha=alpha / 2, n=n, what="q_map(q) = sigma_w2 E[phi^2] + sigma_b2 vs "
                   "Monte Carlo", note=f"q = {q:.6g}")
    if not first.passed or not data["at_fixed_point"]:
        return first
    chi = theory.chi1(remedy.label, sigma_w2, sigma_b2)
    return z_test("activation_moments", remedy, cfg, estimate=sigma_w2 * data["dphi2_mean"],
                  se=sigma_w2 * data["dphi2_sd"] / math.sqrt(n), predicted=chi,
                  alpha=alpha / 2, n=n, what="chi_1 = sigma_w2 E[phi'^2] at q* vs Monte Carlo",
                  note=f"q* = {q:.6g}; q_map checked too (z = {first.statistic:.3g})")


__all__ = ["FD_RTOL", "Q_RANGE", "REFERENCE_RTOL", "moment_point"]
