"""Measurements the claims need, made with torch and returned as plain NumPy data.

Each function is named by a claim's ``measure`` (``"gradbench.claim_probes:<name>"``)
and called as ``fn(target, seed=..., **config)``; keyword arguments a routine does not
use are ignored, so one configuration serves measurement and evaluation. Every random
draw comes from a ``torch.Generator`` seeded from the configuration, so a verdict is a
pure function of its inputs. Remedies run exactly as registered (a candidate under
validation runs through its guard, so a remedy that raises is reported, not fatal).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, cast

import numpy as np
import torch

from gradbench.probe import draw_stacked, jacobian_eigenvalues, measure
from gradbench.records import Measurement
from gradbench.remedies.optimizers import first_step_update, hyperparameters
from gradbench.specs import ResidualSpec, Spec
from gradbench.stats import log_ratios
from gradbench.training import TrainSpec, first_step, train_probe


def _generator(target: Any, seed: int, **config: Any) -> torch.Generator:
    """A CPU generator seeded by BLAKE2b of (target, seed, config): stable across runs."""
    who = target.to_dict() if hasattr(target, "to_dict") else {"remedy": target.label,
                                                                "kind": target.kind}
    payload = json.dumps({"target": who, "seed": seed, "config": config}, sort_keys=True,
                         default=str)
    digest = hashlib.blake2b(payload.encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


# --------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------


def network(spec: Spec, *, seeds: int, batch: int, device: str = "cpu",
            dtype: str = "float32", seed: int = 0, **_: Any) -> Measurement:
    """The gradient probe (:func:`gradbench.probe.measure`)."""
    return measure(spec, seeds=seeds, batch=batch, device=device, dtype=dtype, seed=seed)


def reference_pair(spec: Spec, *, seeds: int = 3, batch: int = 6, seed: int = 0,
                   **_: Any) -> dict[str, Measurement]:
    """The batched probe and the family's naive ``nn.Module`` reference
    (:func:`gradbench.probe.measure_reference`) on the same networks, both in float64."""
    from gradbench.probe import measure_reference

    return {"probe": measure(spec, seeds=seeds, batch=batch, dtype="float64", seed=seed),
            "reference": measure_reference(spec, seeds=seeds, batch=batch, seed=seed)}


def token0_stream(spec: Any, *, seeds: int, batch: int, seed: int = 0,
                  **_: Any) -> np.ndarray:
    """``[seeds, sites]``: per network, ``|x_0|^2 / d`` of token 0 at every probe site of a
    transformer (the residual stream after each sublayer), averaged over the examples.

    The family's stacked forward in float64 (whatever dtype the run uses: the networks are
    small), on the same networks :func:`gradbench.probe.measure` draws.
    """
    from gradbench.models import family_of

    family = family_of(spec)
    params, data = draw_stacked(spec, seeds, batch, seed)
    with torch.no_grad():
        sites = family.forward(spec, params, data).sites
    return torch.stack([s[..., 0, :].pow(2).mean(dim=(-2, -1)) for s in sites], dim=1).numpy()


def token_gram(spec: Any, *, seeds: int, batch: int, seed: int = 0, **_: Any) -> np.ndarray:
    """``[seeds, sites, seq, seq]``: per network and probe site, the token Gram matrix
    ``X X^T / d`` of the residual stream, averaged over the examples (claim
    ``uniform_attention_kernel``, docs/theory.md §10.3).

    The family's stacked forward in float64 on the networks :func:`gradbench.probe.measure`
    draws.
    """
    from gradbench.models import family_of

    family = family_of(spec)
    params, data = draw_stacked(spec, seeds, batch, seed)
    with torch.no_grad():
        sites = family.forward(spec, params, data).sites
    return torch.stack([(s @ s.mT).mean(dim=-3) / spec.width for s in sites], dim=1).numpy()


def _group_norm(params: dict[str, torch.Tensor], names: str, depth: int) -> torch.Tensor:
    """Per network, the gradient norm over the matrices ``names`` of every block."""
    total = sum(params[f"{w}{b}"].grad.pow(2).sum(dim=(-2, -1))  # type: ignore[union-attr,misc]
                for b in range(depth) for w in names)
    return cast(torch.Tensor, total).sqrt()


QK_SCALES = (0.0, 1e-4, 1e-5)
"""Token spreads s of :func:`qk_collapse` (inputs ``x_j = b + s e_j``): rank one, then two
small spreads whose log ratio gives the slope (its O(s) correction is below 1% there for
the LayerNorm placements: tests/quality/power.py)."""


def qk_collapse(spec: Any, *, seeds: int, batch: int, seed: int = 0,
                scales: tuple[float, ...] = QK_SCALES, **_: Any) -> dict[str, np.ndarray]:
    """Per network and token spread s: ``||grad W_{Q,K}|| / ||grad W_V||`` over all blocks
    and ``1 - rho``, rho the input tokens' mean pairwise cosine (claim
    ``qk_gradient_collapse``, docs/theory.md §10.3).

    Inputs are ``x_j = b + s e_j`` with ``b`` and ``e_j`` i.i.d. ``N(0, input_var)`` vectors
    drawn per example (the same ``b``, ``e`` at every s), the loss the family's own
    (a fixed random readout), gradients by autograd through the stacked forward in
    float64. Returns ``{"ratio", "one_minus_rho"}``, each ``[seeds, len(scales)]``.
    """
    from gradbench.models import family_of

    family = family_of(spec)
    params, data = draw_stacked(spec, seeds, batch, seed)
    g = _generator(spec, seed, seeds=seeds, batch=batch, claim="qk_gradient_collapse")
    sd = math.sqrt(spec.input_var)
    base = sd * torch.randn(seeds, batch, 1, spec.width, generator=g, dtype=torch.float64)
    spread = sd * torch.randn(seeds, batch, spec.seq, spec.width, generator=g,
                              dtype=torch.float64)
    n, ratio, gap = spec.seq, [], []
    for s in scales:
        x = base + s * spread
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        family.forward(spec, p, {**data, "x": x}).loss.backward()

        ratio.append(_group_norm(p, "QK", spec.depth) / _group_norm(p, "V", spec.depth))
        unit = x / x.norm(dim=-1, keepdim=True)
        rho = ((unit @ unit.mT).sum(dim=(-2, -1)) - n) / (n * (n - 1))
        gap.append((1.0 - rho).mean(dim=-1))
    return {"ratio": torch.stack(ratio, dim=1).detach().numpy(),
            "one_minus_rho": torch.stack(gap, dim=1).numpy()}


COLLAPSE_SPREADS = (1e-2, 1e-3)
"""Input residual ratios r of :func:`attention_collapse`: the slope's O(r) correction is
below 0.05 at 1e-2 and the output (r^3 times an O(1) constant) stays above 1e-11, far from
float64 rounding (docs/theory.md §10.5)."""


def _residual_ratio(x: torch.Tensor) -> torch.Tensor:
    """``||X - 1 xbar^T||_F / ||X||_F`` over the last two axes (tokens, features)."""
    return (x - x.mean(dim=-2, keepdim=True)).norm(dim=(-2, -1)) / x.norm(dim=(-2, -1))


def attention_collapse(spec: Any, *, seeds: int, batch: int, seed: int = 0,
                       spreads: tuple[float, ...] = COLLAPSE_SPREADS,
                       **_: Any) -> dict[str, np.ndarray]:
    """Per network, block, example and spread: the residual ratio ``r`` after the block's
    attention sublayer, for an input of residual ratio exactly the spread (claim
    ``pure_attention_collapse``, docs/theory.md §10.5).

    Each block is measured on its own: the family's forward of a one-block spec carrying
    block b's drawn weights, read at its attention site (site 0), so the FFN is not on the
    path. Inputs are ``X = 1 x^T + c E``, ``x`` and the rows of ``E`` i.i.d.
    ``N(0, input_var)`` drawn per network, block and example (the same at every spread),
    ``E`` with its token mean removed and ``c`` set so that ``||c E|| / ||X|| = spread``.
    Float64. Returns ``{"r_in": [len(spreads)], "r_out": [seeds, depth, batch,
    len(spreads)]}``.
    """
    from dataclasses import replace

    from gradbench.models import family_of

    family = family_of(spec)
    one = replace(spec, depth=1, layer_gain_exponent=0.0)
    params, _ = draw_stacked(spec, seeds, batch, seed)
    g = _generator(spec, seed, seeds=seeds, batch=batch, claim="pure_attention_collapse")
    sd, n, d = math.sqrt(spec.input_var), spec.seq, spec.width
    shape = (seeds, spec.depth, batch)
    base = sd * torch.randn(*shape, 1, d, generator=g, dtype=torch.float64)
    spread = sd * torch.randn(*shape, n, d, generator=g, dtype=torch.float64)
    spread = spread - spread.mean(dim=-2, keepdim=True)
    spread = spread / spread.norm(dim=(-2, -1), keepdim=True)
    scale = math.sqrt(n) * base.norm(dim=(-2, -1), keepdim=True)
    out = []
    with torch.no_grad():
        for s in spreads:
            x = base + (s / math.sqrt(1.0 - s * s)) * scale * spread
            per_block = []
            for b in range(spec.depth):
                block = {f"{w}0": params[f"{w}{b}"] for w in _BLOCK_WEIGHTS}
                site = family.forward(one, block, {"x": x[:, b], "R": torch.zeros_like(x[:, b])})
                per_block.append(_residual_ratio(site.sites[0]))
            out.append(torch.stack(per_block, dim=1))
    return {"r_in": np.asarray(spreads, dtype=np.float64),
            "r_out": torch.stack(out, dim=-1).numpy()}


_BLOCK_WEIGHTS = ("Q", "K", "V", "O", "W1_", "W2_")


#: PyTorch's documented gate order: nn.LSTMCell (i, f, g, o), nn.GRUCell (r, z, n); the carry
#: gate is f (LSTM) and z (GRU). Read from the torch docs, not from gradbench.specs.
TORCH_GATES = {"lstm": (4, 1), "gru": (3, 1)}


def carry_gates(spec: Any, *, seeds: int, batch: int, seed: int = 0,
                **_: Any) -> dict[str, np.ndarray]:
    """Per network, step and example: the mean over units of the carry gate (LSTM forget
    gate, GRU update gate) and the variance ``v`` of its pre-activation given the step's
    input and state, ``sigma_u2 |x_t|^2/H + rho^2 sigma_w2 |h_{t-1}|^2/H + sigma_b2``.

    The gate is recomputed from the ``nn.LSTMCell``/``nn.GRUCell`` reference module's own
    weights and inputs in PyTorch's gate order (float64), so a parameter drawn into the
    wrong gate or at the wrong scale shows. ``[seeds, steps, batch]`` arrays.
    """
    from gradbench.models import draw_network, family_of
    from gradbench.specs import bias_variance, weight_variance

    gates, carry = TORCH_GATES[spec.cell]
    n = spec.hidden
    recurrent = weight_variance(spec) * spec.recurrent_scale**2
    mean, variance = [], []
    for index in range(seeds):
        params, data = draw_network(spec, batch, seed, index)
        model = family_of(spec).module(spec, params)
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        def keep(module: Any, args: Any, out: Any, seen: list = seen) -> None:
            x, state = args[0], args[1]
            h = state[0] if isinstance(state, tuple) else state
            a = (x @ module.weight_ih.T + module.bias_ih + h @ module.weight_hh.T
                 + module.bias_hh)
            gate = torch.sigmoid(a.chunk(gates, dim=-1)[carry]).mean(dim=-1)
            v = (spec.sigma_u2 * x.pow(2).sum(-1) + recurrent * h.pow(2).sum(-1)) / n
            seen.append((gate.detach(), v.detach() + bias_variance(spec)))

        cell: Any = model.cell
        handle = cell.register_forward_hook(keep)
        with torch.no_grad():
            model(data)
        handle.remove()
        mean.append(torch.stack([g for g, _ in seen]).numpy())
        variance.append(torch.stack([v for _, v in seen]).numpy())
    return {"gate": np.array(mean), "v": np.array(variance)}


def jacobian(spec: Spec, *, seeds: int = 8, device: str = "cpu", seed: int = 0,
             **_: Any) -> np.ndarray:
    """``[seeds, width]`` eigenvalues of J J^T (:func:`gradbench.probe.jacobian_eigenvalues`)."""
    return jacobian_eigenvalues(spec, seeds=seeds, device=device, seed=seed)


# --------------------------------------------------------------------------------------
# Initializers and activations
# --------------------------------------------------------------------------------------


def initializer_draw(remedy: Any, *, fan_in: int, fan_out: int, seed: int = 0,
                     **_: Any) -> dict[str, np.ndarray]:
    """One ``fan_out x fan_in`` float64 weight filled by the initializer."""
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    gen = _generator(remedy, seed, fan_in=fan_in, fan_out=fan_out)
    with torch.no_grad():
        out = remedy.fn(w, generator=gen)
    if isinstance(out, torch.Tensor) and out is not w and out.shape == w.shape:
        w = out.detach().to(torch.float64)
    return {"weights": w.detach().cpu().numpy().copy()}


def activation_points(remedy: Any, *, q: float, seed: int = 0, n: int = 4096,
                      **_: Any) -> dict[str, np.ndarray]:
    """Points ``x ~ N(0, q)`` away from declared kinks: phi, autograd and central differences."""
    gen = _generator(remedy, seed, q=q)
    x = torch.randn(n, generator=gen, dtype=torch.float64) * math.sqrt(q)
    for kink in remedy.meta.get("kinks", ()):
        x = x[(x - float(kink)).abs() > 1e-3]
    fn = remedy.fn
    xg = x.clone().requires_grad_(True)
    (dphi,) = torch.autograd.grad(fn(xg).sum(), xg)
    h = 1e-5 * (1.0 + x.abs())
    with torch.no_grad():
        fd = (fn(x + h) - fn(x - h)) / (2 * h)
        phi = fn(x)
    return {"x": x.numpy(), "phi": phi.numpy(), "dphi": dphi.detach().numpy(),
            "fd": fd.numpy()}


def activation_moments(remedy: Any, *, sigma_w2: float, sigma_b2: float, seed: int = 0,
                       n: int = 1 << 20, **_: Any) -> dict[str, Any]:
    """Monte Carlo means and SDs of phi(sqrt(q) z)^2 and phi'(sqrt(q) z)^2 at theory's q*."""
    from gradbench.claims.activations import moment_point

    q, at_fixed_point = moment_point(remedy.label, sigma_w2, sigma_b2)
    gen = _generator(remedy, seed, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    u = (torch.randn(n, generator=gen, dtype=torch.float64) * math.sqrt(q)).requires_grad_(True)
    y = remedy.fn(u)
    (dy,) = torch.autograd.grad(y.sum(), u)
    phi2, dphi2 = (y.detach() ** 2).numpy(), (dy**2).numpy()
    return {"q": q, "at_fixed_point": at_fixed_point, "n": n,
            "phi2_mean": float(phi2.mean()), "phi2_sd": float(phi2.std(ddof=1)),
            "dphi2_mean": float(dphi2.mean()), "dphi2_sd": float(dphi2.std(ddof=1))}


# --------------------------------------------------------------------------------------
# Normalizations and residual scalings
# --------------------------------------------------------------------------------------



def normalization_outputs(remedy: Any, *, seed: int = 0, draw: int = 0,
                          **_: Any) -> dict[str, np.ndarray]:
    """f(h), f(a h) and f(h + b) for a [4, 32, 64] float64 input of variance ~1e4.

    ``a > 0`` and ``b`` are constant along the declared axis and differ across the others.
    """
    from gradbench.claims.normalizations import AXES

    axis = AXES.get(str(remedy.meta.get("statistics", "feature")), -1)
    gen = _generator(remedy, seed, draw=draw)
    shape = (4, 32, 64)
    h = torch.randn(shape, generator=gen, dtype=torch.float64) * 100.0 + 30.0
    along = list(shape)
    along[axis] = 1
    a = 0.5 + 1.5 * torch.rand(along, generator=gen, dtype=torch.float64)
    b = 200.0 * torch.randn(along, generator=gen, dtype=torch.float64)
    fn = remedy.fn
    with torch.no_grad():
        return {"out": fn(h).numpy(), "out_scaled": fn(a * h).numpy(),
                "out_shifted": fn(h + b).numpy()}


def residual_alphas(remedy: Any, *, depth: int, **_: Any) -> dict[str, Any]:
    """The scaling's alphas at ``depth`` and the model builder's declarations."""
    alphas = np.array([float(remedy.fn(layer, depth)) for layer in range(1, depth + 1)])
    w1 = remedy.meta.get("branch_weight_scale")
    return {"alphas": alphas, "w1_scale": float(w1(depth)) if w1 else 1.0,
            "zero_out": bool(remedy.meta.get("zero_out"))}


def residual_depth_pair(remedy: Any, *, depth: int, seed: int = 0, seeds: int = 16,
                        width: int = 256, device: str = "cpu",
                        **_: Any) -> dict[str, np.ndarray]:
    """Per seed, end-to-end ln gradient growth of ReLU/He residual nets at L and 4L blocks."""
    out = {}
    for key, blocks in (("shallow", depth), ("deep", 4 * depth)):
        spec = ResidualSpec(depth=blocks, width=width, activation="relu", init="he_normal",
                            branch_scale=remedy.label)
        m = measure(spec, seeds=seeds, batch=8, device=device, dtype="float64", seed=seed)
        out[key] = log_ratios(m.act_grad_norms)
    return out


# --------------------------------------------------------------------------------------
# Optimizers and clipping
# --------------------------------------------------------------------------------------

SEEDS_EXACT = 3  # exact identities: a few networks per example suffice
FLOAT64_EPS = float(torch.finfo(torch.float64).eps)


def _numpy(params: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().double().numpy() for k, v in params.items()}


def optimizer_first_step(remedy: Any, *, network: Spec, lr: float, seed: int = 0,
                         device: str = "cpu", **_: Any) -> dict[str, Any]:
    """The first update of 3 float64 networks, the declared formula's, and <Delta w, g>."""
    fs = first_step(network, TrainSpec(optimizer=remedy.label, lr=lr), seeds=SEEDS_EXACT,
                    device=device, dtype="float64", seed=seed)
    want: dict[str, np.ndarray] = {}
    hyper: dict[str, float] = {}
    if "first_step" in remedy.meta:
        hyper = hyperparameters(remedy, lr=lr)
        want = _numpy({n: first_step_update(remedy.label, fs.clipped[n], fs.before[n], lr=lr)
                       for n in fs.delta})
    inner = sum((fs.delta[n] * fs.grad[n]).flatten(1).sum(1) for n in fs.delta)
    g2 = sum((fs.grad[n] ** 2).flatten(1).sum(1) for n in fs.delta)
    return {"delta": _numpy(fs.delta), "before": _numpy(fs.before), "want": want,
            "hyper": hyper, "seeds": SEEDS_EXACT,
            "inner": (inner / (lr * g2)).cpu().numpy()}  # type: ignore[union-attr]


def optimizer_lr_halved(remedy: Any, *, network: Spec, lr: float, seed: int = 0,
                        device: str = "cpu", **_: Any) -> dict[str, Any]:
    """The first update of 3 float64 networks at ``lr / 2``, and half the update at ``lr``
    (the same networks, gradients and zero state)."""
    full, half = (first_step(network, TrainSpec(optimizer=remedy.label, lr=rate),
                             seeds=SEEDS_EXACT, device=device, dtype="float64", seed=seed)
                  for rate in (lr, lr / 2))
    return {"delta": _numpy(half.delta), "before": _numpy(half.before),
            "want": _numpy({n: d / 2 for n, d in full.delta.items()}), "seeds": SEEDS_EXACT}


def _trajectories_apart(network: Spec, mine: str, ref: str, lr: float, seed: int,
                        steps: int, device: str) -> dict[str, Any]:
    """Largest relative parameter difference of two optimizers' trajectories, and where."""
    from gradbench.training import parameter_trajectory

    runs = [parameter_trajectory(network, TrainSpec(optimizer=name, lr=lr, steps=steps),
                                 seeds=SEEDS_EXACT, device=device, seed=seed)
            for name in (mine, ref)]
    diffs = [max(float(((a[k] - b[k]).abs() / (b[k].abs() + 1e-12)).max()) for k in a)
             for a, b in zip(*runs)]
    off = next((i + 1 for i, d in enumerate(diffs) if d > 1e-9), None)
    return {"max_rel_diff": max(diffs), "first_step_off": off, "seeds": SEEDS_EXACT}


def optimizer_vs_reference(remedy: Any, *, network: Spec, lr: float, seed: int = 0,
                           steps: int = 5, device: str = "cpu", **_: Any) -> dict[str, Any]:
    """The optimizer's trajectory against its declared reference optimizer's."""
    return _trajectories_apart(network, remedy.label, str(remedy.meta["reference"]), lr, seed,
                               steps, device)


def optimizer_vs_rule(remedy: Any, *, network: Spec, lr: float, seed: int = 0,
                      steps: int = 5, device: str = "cpu", **_: Any) -> dict[str, Any]:
    """Each of the optimizer's first ``steps`` updates against its declared update rule.

    The rule (``remedies.update_rules``, with the documented hyper-parameters) sees the
    same parameters and gradients as the optimizer at every step and keeps its own state,
    so the comparison is an identity per step, with no chaotic amplification.
    """
    from gradbench.training import steps_taken

    rule, hyper = remedy.meta["update_rule"], hyperparameters(remedy, lr=lr)
    taken = steps_taken(network, TrainSpec(optimizer=remedy.label, lr=lr, steps=steps),
                        seeds=SEEDS_EXACT, device=device, seed=seed)
    states: dict[str, dict[str, Any]] = {name: {} for name in taken[0]["delta"]}
    errors = []
    for t, step in enumerate(taken, start=1):
        worst = 0.0
        for name, delta in step["delta"].items():
            w = step["before"][name].clone()
            rule(w, step["clipped"][name], states[name], t, **hyper)
            want = w - step["before"][name]
            tol = 8 * FLOAT64_EPS * step["before"][name].abs() + 1e-10 * want.abs() + 1e-300
            worst = max(worst, float(((delta - want).abs() / tol).max()))
        errors.append(worst)
    off = next((t for t, e in enumerate(errors, start=1) if e > 1.0), None)
    return {"worst": max(errors), "first_step_off": off, "seeds": SEEDS_EXACT,
            "hyper": hyper}


LR_SWEEP = (1.0, 0.1, 0.01)
"""Factors of the optimizer's default learning rate ``optimizer_trains`` tries, in order."""


def optimizer_training(remedy: Any, *, network: Spec, seed: int = 0, seeds: int = 4,
                       steps: int = 20, device: str = "cpu", **_: Any) -> dict[str, Any]:
    """Short training probes at the default learning rate and a tenth and a hundredth of it."""
    default = float(hyperparameters(remedy).get("lr", 1e-3))
    sweep = []
    for factor in LR_SWEEP:
        lr = default * factor
        rec = train_probe(network, TrainSpec(optimizer=remedy.label, lr=lr, steps=steps),
                          seeds=seeds, device=device, dtype="float64", seed=seed)
        sweep.append({"lr": lr, "loss_decreased": float(rec.loss_decreased.mean()),
                      "diverged": int(rec.diverged.sum())})
        if sweep[-1]["loss_decreased"] > 0.5 and sweep[-1]["diverged"] == 0:
            break
    return {"sweep": sweep, "seeds": seeds}


def _norms(tensors: dict[str, torch.Tensor], groups: list[list[str]]) -> np.ndarray:
    """``[seeds, layers]`` Frobenius norms of each weight group."""
    cols = [torch.sqrt(sum(tensors[n].flatten(1).norm(dim=1) ** 2 for n in g))  # type: ignore[misc]
            for g in groups]
    return torch.stack(cols, dim=1).cpu().numpy()


def adaptive_invariance(remedy: Any, *, network: Spec, lr: float, scale: float,
                        seed: int = 0, device: str = "cpu", **_: Any) -> dict[str, Any]:
    """rho_l = ||Delta W_l|| / (u sqrt(#nonzero)) vs its eps-shrunk value; the loss-scale bound."""
    fs = first_step(network, TrainSpec(optimizer=remedy.label, lr=lr), seeds=SEEDS_EXACT,
                    device=device, dtype="float64", seed=seed)
    scaled = first_step(network, TrainSpec(optimizer=remedy.label, lr=lr, loss_scale=scale),
                        seeds=SEEDS_EXACT, device=device, dtype="float64", seed=seed)
    big, zero = torch.tensor([1e100], dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    u = float(first_step_update(remedy.label, big, zero, lr=lr, weight_decay=0.0).abs())
    e = float(hyperparameters(remedy)["eps"]) * u / lr  # rmsprop: -(lr/s) g / (|g| + eps/s)
    decay = {n: first_step_update(remedy.label, torch.zeros_like(w), w, lr=lr)
             for n, w in fs.before.items()}  # AdamW's decoupled -lr wd w; 0 for the others
    grad_part = {n: fs.delta[n] - decay[n] for n in fs.delta}
    nonzero = _norms({n: (g != 0).double() for n, g in fs.grad.items()}, fs.groups)
    rho = _norms(grad_part, fs.groups) / (u * nonzero)
    rho_hat = _norms({n: u * g.abs() / (g.abs() + e) for n, g in fs.grad.items()},
                     fs.groups) / (u * nonzero)
    violation = 0.0
    eps64 = torch.finfo(torch.float64).eps
    for name in fs.delta:
        g = fs.grad[name].abs()
        diff = (scaled.delta[name] - fs.delta[name]).abs()
        bound = (u * e / (min(1.0, scale) * g + e) + 8 * eps64) * (1 + 1e-9)
        excess = (diff - bound - 1e-15 * fs.before[name].abs()).clamp(min=0) / bound
        violation = max(violation, float(excess.max()) * 1e12)
    return {"rho_error": float(np.max(np.abs(rho - rho_hat) / rho_hat)),
            "rho_min": float(rho.min()), "scale_violation": violation, "seeds": SEEDS_EXACT}


def clipping(spec: Spec, *, fraction: float, seed: int = 0, device: str = "cpu",
             **_: Any) -> dict[str, Any]:
    """Norm clipping at ``fraction`` x median global norm; value clipping at the median |g|."""
    raw = first_step(spec, TrainSpec(optimizer="sgd", lr=1e-3), seeds=SEEDS_EXACT,
                     device=device, dtype="float64", seed=seed)
    single = [[n] for n in raw.grad]
    total = np.sqrt((_norms(raw.grad, single) ** 2).sum(axis=1))
    c = float(fraction * np.median(total))
    fs = first_step(spec, TrainSpec(optimizer="sgd", lr=1e-3, clip_norm=c), seeds=SEEDS_EXACT,
                    device=device, dtype="float64", seed=seed)
    after = np.sqrt((_norms(fs.clipped, single) ** 2).sum(axis=1))
    want = np.where(total > c, c * total / (total + 1e-6), total)
    shares = _norms(fs.clipped, fs.groups) / _norms(fs.grad, fs.groups)
    spread = float(np.nanmax(np.abs(shares / shares[:, :1] - 1.0)))
    norm_error = max(float(np.max(np.abs(after - want) / want)), spread,
                     float(np.max(np.maximum(after - c * (1 + 1e-12), 0) / c)))
    flat = torch.cat([g.flatten(1) for g in raw.grad.values()], dim=1)
    cv = min(float(row[row != 0].abs().median()) for row in flat)
    fv = first_step(spec, TrainSpec(optimizer="sgd", lr=1e-3, clip_value=cv),
                    seeds=SEEDS_EXACT, device=device, dtype="float64", seed=seed)
    clipped = torch.cat([g.flatten(1) for g in fv.clipped.values()], dim=1)
    cosine = torch.nn.functional.cosine_similarity(flat, clipped, dim=1).cpu().numpy()
    sizes = np.array([[fv.grad[g[0]][0].numel() for g in fv.groups]], dtype=float)
    cap_ok = bool(np.all(_norms(fv.clipped, fv.groups) <= np.sqrt(sizes) * cv * (1 + 1e-12)))
    return {"max_norm": c, "largest_after": float(after.max()), "norm_error": norm_error,
            "cosine_max": float(cosine.max()), "layer_cap_ok": cap_ok, "seeds": SEEDS_EXACT}


def _log10_ratio(spec: Spec, optimizer: str, seeds: int, seed: int, device: str) -> np.ndarray:
    rec = train_probe(spec, TrainSpec(optimizer=optimizer, steps=1), seeds=seeds,
                      device=device, dtype="float64", seed=seed)
    ratio = rec.update_ratio[:, 0]
    with np.errstate(divide="ignore"):
        return np.log10(ratio[:, 0] / ratio[:, -1])  # type: ignore[no-any-return]


def first_layer_ratios(spec: Spec, *, optimizer: str, expected: str, seeds: int = 16,
                       seed: int = 0, device: str = "cpu", **_: Any) -> dict[str, np.ndarray]:
    """Per seed, log10 of the first-layer over the last-layer relative update at step 1."""
    out = {"log10_ratio": _log10_ratio(spec, optimizer, seeds, seed, device)}
    if expected == "helps":
        out["sgd_log10_ratio"] = _log10_ratio(spec, "sgd", seeds, seed, device)
    return out




def stability_settings(remedy: Any, *, seed: int = 0, seeds: int = 16, batch: int = 16,
                       depth: int | None = None, device: str = "cpu", **_: Any) -> list[Any]:
    """The gradient probe in each setting of ``stable_as_declared`` / ``stable_somewhere`` at
    ``depth`` (default :data:`gradbench.claims.network.STABLE_DEPTH`): a list of
    :class:`gradbench.claims.stability.Tried`. A critical setting (``{"init": "critical"}``)
    is computed from the activation's forward alone (finite differences, never its backward).
    """
    from gradbench import registry, theory
    from gradbench.claims.network import STABLE_DEPTH
    from gradbench.claims.stability import Tried, critical_activation, setting_spec, settings_of
    from gradbench.remedies.activations import forward_activation

    depth = STABLE_DEPTH if depth is None else depth
    out = []
    for setting in settings_of(remedy, declared_only=False):
        point = None
        activation = critical_activation(remedy, setting)
        if activation is not None:
            act = forward_activation(registry.lookup("activation", activation))
            point = theory.stable_critical_point(act)
            if point is None:
                out.append(Tried(setting, reason=f"{activation} has no stable critical point at "
                                 f"sigma_b2 in {list(theory.CRITICAL_BIASES)}"))
                continue
        spec = setting_spec(remedy, setting, depth, point)
        out.append(Tried(setting, spec, measure(spec, seeds=seeds, batch=batch, device=device,
                                                 seed=seed), point))
    return out


# --------------------------------------------------------------------------------------
# Deep convolutional networks (docs/theory.md §11)
# --------------------------------------------------------------------------------------


def conv_isometry(spec: Spec, *, batch: int = 8, seed: int = 0, **_: Any) -> dict[str, np.ndarray]:
    """For :data:`SEEDS_EXACT` float64 networks: per example ``||x^L|| / ||x^0||`` through the
    stacked probe forward (``[seeds, batch]``), and the singular values of the
    ``(C T) x (C T)`` input-output Jacobian of the ``nn.Conv1d`` reference module at the
    first example, by autograd (``[seeds, C T]``). For linear nets (the last site is
    ``x^L``)."""
    from gradbench.models import draw_network, family_of

    family = family_of(spec)
    ratios, singular = [], []
    for index in range(SEEDS_EXACT):
        params, data = draw_network(spec, min(batch, 16), seed, index)
        x = data["x"].clone().requires_grad_(True)
        out = family.forward(spec, params, {**data, "x": x}).sites[-1].detach()
        ratios.append((out.flatten(1).norm(dim=1) / x.detach().flatten(1).norm(dim=1)).numpy())
        model = family.module(spec, params)
        jac = torch.autograd.functional.jacobian(
            lambda z, model=model: model({"x": z.unsqueeze(0)}).flatten(), data["x"][0].detach(),
            vectorize=not hasattr(spec, "height"))  # vmap over Conv2d's circular pad is slow
        singular.append(torch.linalg.svdvals(jac.reshape(jac.shape[0], -1)).numpy())
    return {"norm_ratios": np.array(ratios), "singular_values": np.array(singular)}


PROFILE_CHUNK = 8
"""Networks per stacked forward of :func:`conv_profiles` (bounds its memory)."""


def conv_profiles(spec: Spec, *, seeds: int, batch: int, seed: int = 0,
                  **_: Any) -> np.ndarray:
    """``[seeds, L, *positions]`` per-position second moments ``q^l(t)`` (positions ``T``
    in 1-D, ``H, W`` in 2-D): the mean over examples and channels of ``h^l[:, :, t]^2``, from
    the stacked probe forward in float64 (on the CPU: the law does not depend on the
    device)."""
    from gradbench.models import draw_network, family_of

    family, out = family_of(spec), []
    for start in range(0, seeds, PROFILE_CHUNK):
        nets = [draw_network(spec, batch, seed, i)
                for i in range(start, min(seeds, start + PROFILE_CHUNK))]
        params = {k: torch.stack([p[k] for p, _ in nets]) for k in nets[0][0]}
        data = {k: torch.stack([d[k] for _, d in nets]) for k in nets[0][1]}
        with torch.no_grad():
            sites = family.forward(spec, params, data).sites
        out.append(torch.stack([h.detach().pow(2).mean(dim=(1, 2)) for h in sites], dim=1))
    return torch.cat(out).numpy()


__all__ = [
    "activation_moments", "activation_points", "adaptive_invariance", "clipping",
    "conv_isometry", "conv_profiles",
    "first_layer_ratios", "initializer_draw", "jacobian", "network", "normalization_outputs",
    "optimizer_first_step", "optimizer_training", "optimizer_vs_reference",
    "residual_alphas", "residual_depth_pair", "stability_settings", "token0_stream",
]
