r"""Claims about optimizers and gradient clipping (docs/theory.md §7).

From a zero optimizer state the first update of every built-in optimizer has a closed
form (``first_step``, declared at registration with the paper's hyper-parameters in
``documented``); any optimizer's first step must be a descent direction,
:math:`\langle \Delta w, g\rangle < 0`; adaptive optimizers move every layer by about
:math:`\eta\sqrt{n_l}` whatever its gradient norm. The measurements are made by
:mod:`gradbench.claim_probes` in float64 on a few small networks; the identities are
exact to a stated float64 tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from gradbench.claims._registry import claim, unless_declared_false
from gradbench.claims._verdicts import equivalence, exact, one_sided
from gradbench.records import Verdict

SOURCE = "docs/theory.md §7 (torch.optim; torch/nn/utils/clip_grad.py)"
FLOAT64_EPS = float(np.finfo(np.float64).eps)


def _declares(key: str) -> Any:
    def applies(remedy: Any) -> str | None:
        return None if key in getattr(remedy, "meta", {}) else f"the optimizer declares no {key}"

    return applies


def _worst_identity(delta: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray],
                    before: Mapping[str, np.ndarray]) -> float:
    """Largest |delta - want| in units of 4 eps |w| + 1e-12 |want| (rounding of w1 - w0)."""
    worst = 0.0
    for name, d in delta.items():
        tol = 4 * FLOAT64_EPS * np.abs(before[name]) + 1e-12 * np.abs(want[name]) + 1e-300
        worst = max(worst, float(np.max(np.abs(d - want[name]) / tol)))
    return worst


@claim(
    "optimizer_first_step",
    statement="The first update from a zero state equals the optimizer's declared closed form "
    "with its documented hyper-parameters (e.g. Adam: -lr g / (|g| + eps), eps = 1e-8).",
    statistic="largest |update - formula| in units of 4 eps |w| + 1e-12 |formula| over all "
    "entries of 3 float64 networks (exact)",
    domain="optimizers declaring first_step (and documented hyper-parameters); MLPs of depth "
    "2-12, width 8-16",
    source=f"{SOURCE}; Kingma & Ba 2015; Duchi et al. 2011; Tieleman & Hinton 2012",
    subjects="optimizer",
    role="consistency",
    measure="gradbench.claim_probes:optimizer_first_step",
    applies=_declares("first_step"),
    exact=True,
)
def optimizer_first_step(remedy: Any, data: Mapping[str, Any], alpha: float,
                         **config: Any) -> Verdict:
    """Update vs declared formula, entrywise."""
    worst = _worst_identity(data["delta"], data["want"], data["before"])
    return exact("optimizer_first_step", remedy, dict(config), predicted=0.0,
                 measured=worst, worst=worst, alpha=alpha, n=int(data["seeds"]),
                 tolerance="4 eps |w| + 1e-12 |formula| per entry",
                 note=f"hyper-parameters {data['hyper']}; measured: worst error in units of "
                 "the tolerance")


@claim(
    "optimizer_descent",
    statement="The first update is a descent direction: <Delta w, g> < 0 for every network.",
    statistic="per network, the inner product of the first update with the gradient, "
    "normalised by lr ||g||^2 (exact: every network must be negative)",
    domain="every optimizer; MLPs of depth 2-12, width 8-16, float64",
    source="Robbins & Monro 1951; Nocedal & Wright 2006 (descent directions)",
    subjects="optimizer",
    role="consistency",
    measure="gradbench.claim_probes:optimizer_first_step",
    exact=True,
)
def optimizer_descent(remedy: Any, data: Mapping[str, Any], alpha: float,
                      **config: Any) -> Verdict:
    """Every network's first step must point downhill."""
    inner = np.asarray(data["inner"], dtype=float)
    largest = float(np.max(inner))
    return exact("optimizer_descent", remedy, dict(config), predicted=-1.0, measured=largest,
                 worst=0.0 if largest < 0 else math.inf, alpha=alpha, n=int(inner.size),
                 tolerance="every normalised <Delta w, g> < 0",
                 note="measured: the largest normalised <Delta w, g> over networks")



@claim(
    "optimizer_lr_scaling",
    statement="The first update from a zero state is proportional to the learning rate: at "
    "lr / 2 it is half the update at lr, entry by entry (an optimizer that ignores its lr, "
    "or caps or rescales it, fails).",
    statistic="largest |update(lr / 2) - update(lr) / 2| in units of 4 eps |w| + 1e-12 "
    "|update(lr) / 2| over all entries of 3 float64 networks (exact)",
    domain="every optimizer whose first step scales with lr (every torch.optim optimizer but "
    "LBFGS, whose step runs a line search; one that does not by design, such as MADGRAD or "
    "AdaBound, declares scales_with_lr=False); MLPs of depth 2-12, width 8-16",
    source=f"{SOURCE}; Robbins & Monro 1951 (the step size multiplies the direction)",
    subjects="optimizer",
    role="consistency",
    measure="gradbench.claim_probes:optimizer_lr_halved",
    applies=unless_declared_false("scales_with_lr", "the optimizer declares a first "
                                  "step not proportional to lr"),
    exact=True,
)
def optimizer_lr_scaling(remedy: Any, data: Mapping[str, Any], alpha: float,
                         **config: Any) -> Verdict:
    """The update at lr / 2 against half the update at lr, entrywise."""
    worst = _worst_identity(data["delta"], data["want"], data["before"])
    return exact("optimizer_lr_scaling", remedy, dict(config), predicted=0.0, measured=worst,
                 worst=worst, alpha=alpha, n=int(data["seeds"]),
                 tolerance="4 eps |w| + 1e-12 |update(lr) / 2| per entry",
                 note="measured: worst error in units of the tolerance" + (
                     "; an optimizer not proportional to lr by design (MADGRAD, AdaBound) "
                     "declares scales_with_lr=False" if worst > 1.0 else ""))


@claim(
    "optimizer_matches_reference",
    statement="An optimizer declaring a reference (e.g. reference='adam') takes the same "
    "steps as that registered optimizer over the first 5 steps.",
    statistic="largest relative parameter difference after each of 5 steps, 3 float64 "
    "networks (exact, tolerance 1e-9)",
    domain="optimizers declaring reference; same learning rate for both",
    source=SOURCE,
    subjects="optimizer",
    role="consistency",
    measure="gradbench.claim_probes:optimizer_vs_reference",
    applies=_declares("reference"),
    exact=True,
)
def optimizer_matches_reference(remedy: Any, data: Mapping[str, Any], alpha: float,
                                **config: Any) -> Verdict:
    """Trajectories of candidate and reference."""
    diff = float(data["max_rel_diff"])
    return exact("optimizer_matches_reference", remedy, dict(config), predicted=0.0,
                 measured=diff, worst=diff / 1e-9, alpha=alpha, n=int(data["seeds"]),
                 tolerance="relative 1e-9", note=f"reference {remedy.meta['reference']!r}; "
                 f"first differing step {data['first_step_off']}")


@claim(
    "optimizer_update_rule",
    statement="Over its first 5 steps the optimizer takes exactly the steps of the update rule "
    "it declares, written from the paper with the documented hyper-parameters (a wrong "
    "beta2, momentum or bias correction shows from step 2).",
    statistic="at each of 5 steps, the rule applied to the optimizer's own parameters and "
    "gradients (its own state carried): largest |update - rule's| in units of 8 eps |w| + "
    "1e-10 |rule's| over 3 float64 networks (exact)",
    domain="optimizers declaring update_rule (every built-in); MLPs of depth 2-12, width 8-16",
    source=f"{SOURCE}; Kingma & Ba 2015, Algorithm 1; Sutskever et al. 2013; Duchi et al. "
    "2011; Tieleman & Hinton 2012",
    subjects="optimizer",
    role="consistency",
    measure="gradbench.claim_probes:optimizer_vs_rule",
    applies=_declares("update_rule"),
    exact=True,
)
def optimizer_update_rule(remedy: Any, data: Mapping[str, Any], alpha: float,
                          **config: Any) -> Verdict:
    """Each step of the optimizer against its declared rule."""
    worst = float(data["worst"])
    return exact("optimizer_update_rule", remedy, dict(config), predicted=0.0,
                 measured=worst, worst=worst, alpha=alpha, n=int(data["seeds"]),
                 tolerance="8 eps |w| + 1e-10 |rule's update| per entry",
                 note=f"hyper-parameters {data['hyper']}; first differing step "
                 f"{data['first_step_off']}; measured: worst error in units of the tolerance")


@claim(
    "optimizer_trains",
    statement="Training with the optimizer, at its default learning rate or one a tenth or a "
    "hundredth of it, decreases the loss in most networks and diverges in none (20 steps, "
    "deep MLP, synthetic task).",
    statistic="per learning rate, the fraction of 4 float64 networks whose final loss is below "
    "the initial one and the number that diverged (loss non-finite or > 1e6 x initial); "
    "passes when one learning rate of the sweep trains",
    domain="every optimizer; MLP depth 10, width 32, relu + He or tanh + Xavier",
    source="Kingma & Ba 2015; DeepOBS (Schneider et al. 2019) for the protocol",
    subjects="optimizer",
    role="stability",
    measure="gradbench.claim_probes:optimizer_training",
    exact=True,
)
def optimizer_trains(remedy: Any, data: Mapping[str, Any], alpha: float,
                     **config: Any) -> Verdict:
    """Most seeds decrease the loss and none diverges, at one learning rate of the sweep."""
    sweep = data["sweep"]
    good = [r for r in sweep if r["loss_decreased"] > 0.5 and r["diverged"] == 0]
    best = good[0] if good else max(sweep, key=lambda r: r["loss_decreased"])
    return exact("optimizer_trains", remedy, dict(config), predicted=1.0,
                 measured=float(best["loss_decreased"]), worst=0.0 if good else math.inf,
                 alpha=alpha, n=int(data["seeds"]),
                 tolerance="more than half the networks decrease the loss, none diverges",
                 note="; ".join(f"lr {r['lr']:.3g}: {r['loss_decreased']:.2f} decreased, "
                                f"{r['diverged']} diverged" for r in sweep))


@claim(
    "adaptive_first_step_invariance",
    statement="An adaptive optimizer's first step moves every layer by u sqrt(n_l) short only "
    "by eps (rho_l = rho_hat_l), whatever the layer's gradient norm, and multiplying the loss "
    "by c changes each entry by at most u e / (min(1, c) |g| + e).",
    statistic="largest relative |rho - rho_hat| (tolerance 1e-9) and largest violation of the "
    "loss-scale bound (exact, float64)",
    domain="optimizers declaring adaptive=True and first_step; MLPs depth 2-12, width 8-16",
    source=f"{SOURCE}; Kingma & Ba 2015; Duchi et al. 2011",
    subjects="optimizer",
    role="behaviour",
    measure="gradbench.claim_probes:adaptive_invariance",
    applies=lambda r: None if getattr(r, "meta", {}).get("adaptive") else "not adaptive",
    exact=True,
)
def adaptive_first_step_invariance(remedy: Any, data: Mapping[str, Any], alpha: float,
                                   **config: Any) -> Verdict:
    """Depth and loss-scale invariance of the first adaptive step."""
    worst = max(float(data["rho_error"]) / 1e-9, float(data["scale_violation"]))
    return exact("adaptive_first_step_invariance", remedy, dict(config), predicted=1.0,
                 measured=float(data["rho_min"]), worst=worst, alpha=alpha,
                 n=int(data["seeds"]), tolerance="rho = rho_hat to 1e-9; bound with 8 eps",
                 note="measured: smallest ||Delta W_l|| / (u sqrt(n_l)) over layers")


@claim(
    "clip_by_norm",
    statement="After clip_grad_norm_(c) each network's global norm is c T/(T + 1e-6) <= c when "
    "T > c (unchanged otherwise) and every layer keeps its share of the norm.",
    statistic="largest relative error of the clipped norm and of the layer shares (exact, "
    "tolerance 1e-12)",
    domain="MLPs depth 2-12, width 8-16, exploding (sigma_w2 in [2, 4]); per-network clipping",
    source=f"{SOURCE}; Pascanu, Mikolov & Bengio 2013, Algorithm 1",
    subjects="network",
    role="behaviour",
    measure="gradbench.claim_probes:clipping",
    exact=True,
)
def clip_by_norm(spec: Any, data: Mapping[str, Any], alpha: float, **config: Any) -> Verdict:
    """Clipped global norms and preserved per-layer shares."""
    worst = float(data["norm_error"]) / 1e-12
    return exact("clip_by_norm", spec, dict(config), predicted=float(data["max_norm"]),
                 measured=float(data["largest_after"]), worst=worst, alpha=alpha,
                 n=int(data["seeds"]), tolerance="relative 1e-12",
                 note="measured: largest clipped global norm; predicted: max_norm")


@claim(
    "clip_by_value",
    statement="Clamping entries at c (below many |g_i|) is not a rescaling: the cosine with "
    "the raw gradient drops below 1 and every layer's norm is at most c sqrt(n_l).",
    statistic="largest cosine over networks (< 0.999) and the per-layer cap (exact)",
    domain="MLPs depth 2-12, width 8-16, exploding (sigma_w2 in [2, 4])",
    source=SOURCE,
    subjects="network",
    role="behaviour",
    measure="gradbench.claim_probes:clipping",
    exact=True,
)
def clip_by_value(spec: Any, data: Mapping[str, Any], alpha: float, **config: Any) -> Verdict:
    """Value clipping changes the direction."""
    cos = float(data["cosine_max"])
    ok = cos < 0.999 and bool(data["layer_cap_ok"])
    return exact("clip_by_value", spec, dict(config), predicted=1.0, measured=cos,
                 worst=0.0 if ok else math.inf, alpha=alpha, n=int(data["seeds"]),
                 tolerance="cosine < 0.999 and ||g_l|| <= c sqrt(n_l)",
                 note="predicted: the cosine of a pure rescaling (norm clipping)")


Outcome = Literal["moves", "barely", "helps"]
MOVE_MARGIN = 1.0
"""'Moves': |log10(first-layer / last-layer relative update)| < 1 (within a factor 10)."""
BARELY = -2.0
"""'Barely moves': the first layer's relative update is < 1% of the last layer's."""
HELPS = 3.0
"""'Helps': the remedy raises the log10 ratio by more than 3 decades over SGD."""


@claim(
    "first_layers_move",
    statement="Whether the first layers of a deep net move under the first optimizer step, as "
    "theory says for the remedy: 'moves' (first/last relative update within a factor 10), "
    "'barely' (< 1%), or 'helps' (> 3 decades more than SGD on the same networks).",
    statistic="per-seed log10(first-layer / last-layer relative update); TOST with margins "
    "+-1 ('moves'), one-sided t-tests ('barely': < -2; 'helps': paired difference > 3)",
    domain="depth-10 width-32 networks; sigmoid (vanishing) baselines; float64",
    source="Glorot & Bengio 2010; Hochreiter 1991; docs/theory.md §6, §7",
    subjects="network",
    role="behaviour",
    measure="gradbench.claim_probes:first_layer_ratios",
    alpha=0.01,
)
def first_layers_move(spec: Any, data: Mapping[str, Any], alpha: float, expected: Outcome,
                      optimizer: str, **config: Any) -> Verdict:
    """TOST or one-sided t-test on per-seed log10 update ratios."""
    cfg = {"expected": expected, "optimizer": optimizer, **config}
    x = np.asarray(data["log10_ratio"], dtype=float)
    what = "per-seed log10(first/last relative update)"
    if expected == "moves":
        return equivalence("first_layers_move", spec, cfg, x, 0.0, MOVE_MARGIN, alpha=alpha,
                           what=what)
    if expected == "helps":
        diff = x - np.asarray(data["sgd_log10_ratio"], dtype=float)
        return one_sided("first_layers_move", spec, cfg, diff, HELPS, "greater", alpha=alpha,
                         what=f"{what}, minus SGD's on the same networks")
    return one_sided("first_layers_move", spec, cfg, x, BARELY, "less", alpha=alpha, what=what)
