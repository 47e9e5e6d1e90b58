"""Independent Monte Carlo of the top Post-LN sublayer's squared gain (docs/theory.md §10.6).

Plain torch tensors, not gradbench's family: a Post-LN stack x <- LN(alpha x + F(x)) of N
blocks (attention with W_Q, W_K, or uniform with W_Q = 0; then a bias-free FFN), Gaussian
weights of variance s^2/fan_in (LeCun s^2 = 1, He 2, Xavier 2 fan_in/(fan_in + fan_out)),
the branch gain beta on W_V, W_O, W1, W2, and the loss <R, x_2N> with R i.i.d. N(0, 1).
For each configuration it prints ``d (T - ln G)``, T = ln(mean |g_{2N-1}|^2 / mean
|g_{2N}|^2) over S networks and ln G the law of
:func:`gradbench.theory._transformer.postln_top_gain`, written again here from its formula.

    python tests/quality/postln_mc.py KIND WIDTH NETWORKS CONFIGS [SEED]

KIND: ``ln`` (correct), ``rms`` (RMSNorm), ``detach`` (LayerNorm statistics detached) or
``branch`` (alpha on the branch, LN(x + alpha F(x))). Configurations are drawn from the
suite's domain by SEED.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch

ACT = {"relu": torch.relu, "linear": lambda z: z, "tanh": torch.tanh,
       "gelu": torch.nn.functional.gelu}
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(100)


def moments(act: str, var: float) -> tuple[float, float]:
    """E phi(s z)^2 and E phi'(s z)^2, s^2 = var, z ~ N(0, 1) (Hermite-Gauss, autograd phi')."""
    x = torch.tensor(NODES * math.sqrt(var), dtype=torch.float64).requires_grad_(True)
    y = ACT[act](x)
    y.sum().backward()
    w = WEIGHTS / WEIGHTS.sum()
    return float(w @ y.detach().numpy() ** 2), float(w @ x.grad.numpy() ** 2)


def norm(b: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "rms":
        return b / torch.sqrt(b.pow(2).mean(-1, keepdim=True) + 1e-5)
    m = b.mean(-1, keepdim=True)
    v = (b - m).pow(2).mean(-1, keepdim=True)
    if kind == "detach":
        m, v = m.detach(), v.detach()
    return (b - m) / torch.sqrt(v + 1e-5)


def s2(init: str, fan_in: int, fan_out: int) -> float:
    return {"lecun": 1.0, "he": 2.0, "xavier": 2 * fan_in / (fan_in + fan_out)}[init]


def top_gains(d: int, depth: int, act: str, alpha: float, beta: float, init: str, ffn: int,
              seq: int, attn: str, nets: int, batch: int, kind: str = "ln",
              seed: int = 0) -> torch.Tensor:
    """``[nets, 2 depth]``: |dL/dx_l|_F^2 per network and site."""
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64

    def weight(o: int, i: int, gain: float = 1.0) -> torch.Tensor:
        std = math.sqrt(s2(init, i, o) / i) * gain
        return torch.randn(nets, 1, o, i, generator=g, dtype=f64) * std

    def add(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        if kind == "branch":
            return norm(x + alpha * f, "ln")
        return norm(alpha * x + f, kind)

    x = torch.randn(nets, batch, seq, d, generator=g, dtype=f64).requires_grad_(True)
    sites = []
    for _ in range(depth):
        q = weight(d, d) * (0.0 if attn == "uniform" else 1.0)
        k, v, o = weight(d, d), weight(d, d, beta), weight(d, d, beta)
        w1, w2 = weight(ffn * d, d, beta), weight(d, ffn * d, beta)
        p = torch.softmax((x @ q.mT) @ (x @ k.mT).mT / math.sqrt(d), dim=-1)
        x = add(x, p @ x @ v.mT @ o.mT)
        x.retain_grad()
        sites.append(x)
        x = add(x, ACT[act](x @ w1.mT) @ w2.mT)
        x.retain_grad()
        sites.append(x)
    r = torch.randn(nets, batch, seq, d, generator=g, dtype=f64)
    (r * x).sum().backward()
    return torch.stack([s.grad.pow(2).sum((-3, -2, -1)) for s in sites], 1)


def law(d: int, act: str, alpha: float, beta: float, init: str, ffn: int) -> tuple[float, float]:
    """ln[(a^2 + c_J)/(a^2 + c_F) (1 - (2 - 3r)/d)] and r = c_F/(a^2 + c_F)."""
    v1, v2 = s2(init, d, ffn * d) * beta**2, s2(init, ffn * d, d) * beta**2
    phi2, dphi2 = moments(act, v1)
    c_f, c_j, a2 = v2 * phi2, v2 * v1 * dphi2, alpha**2
    r = c_f / (a2 + c_f)
    return math.log((a2 + c_j) / (a2 + c_f) * (1 - (2 - 3 * r) / d)), r


def statistic(g2: torch.Tensor) -> tuple[float, float]:
    """T and its delta-method standard error over networks."""
    m = g2.mean(0)
    a, b = g2[:, -2] / m[-2], g2[:, -1] / m[-1]
    var = a.var() + b.var() - 2 * torch.cov(torch.stack([a, b]))[0, 1]
    return math.log(m[-2] / m[-1]), float(torch.sqrt(var / len(a)))


def main(argv: list[str]) -> None:
    kind, d, nets, n = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    rng = np.random.default_rng(int(argv[4]) if len(argv) > 4 else 0)
    for i in range(n):
        act = str(rng.choice(["relu", "gelu", "tanh", "linear"]))
        init = str(rng.choice(["lecun", "xavier", "he"]))
        alpha, beta = float(rng.choice([0.8, 1.0, 1.2])), float(rng.choice([0.5, 1.0]))
        seq, attn = [(1, "softmax"), (4, "softmax"), (4, "uniform")][int(rng.integers(3))]
        ffn, depth = int(rng.choice([2, 4])), int(rng.integers(1, 5))
        g2 = top_gains(d, depth, act, alpha, beta, init, ffn, seq, attn, nets, 4, kind,
                       seed=1000 + i)
        t, se = statistic(g2)
        p, r = law(d, act, alpha, beta, init, ffn)
        print(f"{kind} d={d} {act} {init} a={alpha} b={beta} seq={seq} {attn} ffn={ffn} "
              f"N={depth} r={r:.3f} resid={(t - p) * d:+.3f} se={se * d:.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
