"""Slow Monte Carlo checks of gradbench.theory (docs/theory.md §1-§6) against torch networks.

Every test uses a literal seed and an explicit tolerance. The tolerances combine a
multiple of the Monte Carlo standard error with the O(1/width) (O(batch/width) for
BatchNorm) model error the mean-field predictions carry.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradbench as gb
from gradbench import theory

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow

# spec, batch, absolute model-error allowance on the mean per-site log growth
CASES = [
    (gb.MLPSpec(depth=12, width=512, activation="tanh", init="normal", sigma_w2=2.0,
                sigma_b2=0.05), 32, 0.004),
    (gb.MLPSpec(depth=12, width=512, activation="sigmoid", init="torch_default"), 32, 0.004),
    (gb.MLPSpec(depth=12, width=512, activation="selu", init="lecun_normal"), 32, 0.004),
    (gb.MLPSpec(depth=12, width=512, activation="erf", init="normal", sigma_w2=1.5,
                sigma_b2=0.1, input_var=0.3), 32, 0.004),
    (gb.MLPSpec(depth=10, width=1024, activation="relu", init="he_normal", norm="batchnorm"),
     256, 0.006),
    (gb.MLPSpec(depth=10, width=512, activation="tanh", init="he_normal", norm="layernorm",
                sigma_b2=0.3, input_var=0.5), 32, 0.004),
    (gb.MLPSpec(depth=10, width=512, activation="relu", init="he_normal", norm="rmsnorm"),
     32, 0.004),
    (gb.ResidualSpec(depth=10, width=512, activation="tanh", init="lecun_normal",
                     out_init="lecun_normal"), 32, 0.004),
    (gb.ResidualSpec(depth=10, width=512, activation="relu", branch_scale="1/l",
                     sigma_b2=0.2), 32, 0.004),
    (gb.ResidualSpec(depth=10, width=512, activation="relu", norm="batchnorm",
                     out_init="he_normal"), 256, 0.006),
    (gb.RNNSpec(cell="rnn_tanh", hidden=512, steps=20, init="normal", recurrent_scale=1.2,
                sigma_b2=0.1, input_var=0.5), 32, 0.004),
    (gb.RNNSpec(cell="rnn_relu", hidden=512, steps=20, init="orthogonal",
                recurrent_scale=0.9), 32, 0.004),
    (gb.RNNSpec(cell="linear", hidden=512, steps=20, init="normal", recurrent_scale=1.05),
     32, 0.004),
    (gb.Conv1DSpec(depth=12, channels=256, length=16, kernel=3, activation="tanh",
                   init="normal", sigma_w2=2.0, sigma_b2=0.05), 8, 0.004),
    (gb.Conv1DSpec(depth=12, channels=256, length=16, kernel=5, activation="erf",
                   init="xavier_uniform", sigma_b2=0.1), 8, 0.004),
]


@pytest.mark.parametrize(("spec", "batch", "allowance"), CASES,
                         ids=[gb.specs.spec_label(c[0]) for c in CASES])
def test_predict_matches_probe(spec: gb.specs.Spec, batch: int, allowance: float) -> None:
    """predict(spec) vs gb.measure: mean per-site log growth and the site second moments."""
    m = gb.measure(spec, seeds=8, batch=batch, dtype="float64", seed=11)
    p = theory.predict(spec, batch=batch)
    assert p.valid, p.reason
    logs = np.log(m.act_grad_norms)
    per_seed = (logs[:, :-1] - logs[:, 1:]).mean(axis=1)
    se = per_seed.std(ddof=1) / math.sqrt(per_seed.size)
    assert per_seed.mean() == pytest.approx(float(np.mean(p.log_growth)), abs=4 * se + allowance)
    second = m.preact_second_moment.mean(axis=0)
    assert second == pytest.approx(p.quantities["site_second_moment"], rel=0.06)


def test_linear_batchnorm_finite_batch() -> None:
    """docs/theory.md §6: identity + BN at B = 8 gives (B-2)/(B-3) = 1.2 (MC 1.1928 +- 0.004)."""
    spec = gb.MLPSpec(depth=15, width=1024, activation="linear", init="he_normal",
                      norm="batchnorm")
    m = gb.measure(spec, seeds=8, batch=8, dtype="float64", seed=3)
    logs = np.log(m.act_grad_norms)
    measured = (logs[:, 4:-1] - logs[:, 5:]).mean()
    predicted = float(np.mean(theory.predict(spec, batch=8).log_growth[4:]))
    assert predicted == pytest.approx(0.5 * math.log(1.2), rel=1e-12)
    assert measured == pytest.approx(predicted, abs=0.01)


def test_relu_c_map_polynomial_approach() -> None:
    """docs/theory.md §1.2: l^2 (1 - c^l) = 35.77 at l = 100 under the ReLU He c-map,
    from c0 = 0."""
    c = 0.0
    for _ in range(100):
        c = theory.c_map("relu", c, 2.0, 0.0)
    assert 1e4 * (1 - c) == pytest.approx(35.77, abs=0.01)


def test_relu_finite_width_law_monte_carlo() -> None:
    """docs/theory.md §2.2: ln(M_L/M_0) over 20 ReLU layers of width 64 (JVP, Gaussian He)."""
    gen = torch.Generator().manual_seed(2024)
    nets, n, depth = 4000, 64, 20
    x = torch.randn(nets, n, 1, generator=gen, dtype=torch.float64)
    v = torch.randn(nets, n, 1, generator=gen, dtype=torch.float64)
    m0 = v.pow(2).sum(dim=(1, 2))
    for _ in range(depth):
        w = torch.randn(nets, n, n, generator=gen, dtype=torch.float64) * math.sqrt(2.0 / n)
        h = w @ x
        mask = (h > 0).to(torch.float64)
        x, v = torch.relu(h), mask * (w @ v)
    ratio = (v.pow(2).sum(dim=(1, 2)) / m0).log().numpy()
    ratio = ratio[np.isfinite(ratio)]
    law = theory.relu_log_norm_law([n] * depth)
    se_mean = math.sqrt(law.var / ratio.size)
    assert ratio.mean() == pytest.approx(law.mean, abs=4 * se_mean)
    se_var = law.var * math.sqrt(2.0 / (ratio.size - 1))
    assert ratio.var(ddof=1) == pytest.approx(law.var, abs=4 * se_var)


@pytest.mark.parametrize(
    ("act", "weights", "sw2", "sb2", "tol"),
    [("linear", "gaussian", 1.0, 0.0, 0.1), ("linear", "orthogonal", 1.0, 0.0, 1e-9),
     ("relu", "orthogonal", 2.0, 0.0, 0.1), ("tanh", "orthogonal", None, None, 0.2)],
)
def test_jacobian_spectrum_monte_carlo(
    act: str, weights: str, sw2: float | None, sb2: float | None, tol: float
) -> None:
    """docs/theory.md §3.2: normalised variance m2/m1^2 - 1 of J J^T at L = 10, N = 600."""
    if sw2 is None:  # the tanh critical point with q* = 1/64
        point = theory.critical_point("tanh", 1 / 64)
        sw2, sb2 = point.sigma_w2, point.sigma_b2
    assert sb2 is not None
    phi = gb.lookup("activation", act).fn
    gen = torch.Generator().manual_seed(7)
    n, depth = 600, 10
    qs = theory.q_star(act, sw2, sb2)
    values = []
    for _ in range(3):
        h = torch.randn(n, generator=gen, dtype=torch.float64) * math.sqrt(qs)
        jac = torch.eye(n, dtype=torch.float64)
        for _ in range(depth):
            if weights == "orthogonal":
                q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
                w = q * torch.sign(torch.diagonal(r)) * math.sqrt(sw2)
            else:
                w = torch.randn(n, n, generator=gen, dtype=torch.float64) * math.sqrt(sw2 / n)
            x = phi(h).detach()
            hh = h.clone().requires_grad_(True)
            (dphi,) = torch.autograd.grad(phi(hh).sum(), hh)
            jac = w @ (dphi[:, None] * jac)
            b = torch.randn(n, generator=gen, dtype=torch.float64) * math.sqrt(sb2)
            h = w @ x + b
        eig = torch.linalg.svdvals(jac).pow(2)
        values.append(float(eig.pow(2).mean() / eig.mean() ** 2 - 1))
    predicted = theory.jacobian_normalized_variance(act, sw2, sb2, depth, weights=weights)
    assert float(np.mean(values)) == pytest.approx(predicted, rel=tol, abs=1e-9)


def test_residual_tanh_gradient_ratio_theory_4_2() -> None:
    """docs/theory.md §4.2: ||dL/dx_0||^2 / ||dL/dx_10||^2 = 14.06 (+-15% at n ~ 1000,
    ~10 seeds)."""
    gen = torch.Generator().manual_seed(5)
    n, depth, ratios = 1024, 10, []
    for _ in range(6):
        x0 = torch.randn(4, n, generator=gen, dtype=torch.float64).requires_grad_(True)
        x = x0
        for _ in range(depth):
            w = torch.randn(n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
            v = torch.randn(n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
            x = x + torch.tanh(x @ w.T) @ v.T
        g = torch.randn(4, n, generator=gen, dtype=torch.float64)
        (x * g).sum().backward()
        ratios.append(float(x0.grad.pow(2).sum() / g.pow(2).sum()))
    predicted = float(np.prod(theory.residual_mean_field("tanh", 1.0, 0.0, 1.0,
                                                         [1.0] * depth).factor))
    assert predicted == pytest.approx(14.0582, rel=1e-5)
    assert float(np.mean(ratios)) == pytest.approx(predicted, rel=0.15)


@pytest.mark.parametrize(
    ("act", "sw2", "sb2", "kernel"),
    [("tanh", 2.0, 0.0, 3), ("relu", 2.0, 0.0, 5), ("erf", 1.5, 0.1, 3), ("silu", 1.9, 0.5, 3)],
)
def test_conv1d_chi1_monte_carlo(act: str, sw2: float, sb2: float, kernel: int) -> None:
    """Circular conv1d, kernels i.i.d. N(0, sigma_w2/(C k)), started at q*: the mean per-layer
    log ratio ln(||dL/dh^l||^2 / ||dL/dh^{l+1}||^2) is ln chi1 of the MLP (theory/_conv.py;
    Xiao et al. 2018); 4 standard errors over 8 seeds plus 0.005 for O(1/C). Written with
    torch.nn.functional only, independently of gradbench's models."""
    phi = gb.lookup("activation", act).fn
    qs = theory.q_star(act, sw2, sb2)
    c, length, depth, batch, p = 256, 32, 12, 4, (kernel - 1) // 2
    gen = torch.Generator().manual_seed(20240612)
    per_seed = []
    for _seed in range(8):
        h0 = torch.randn(batch, c, length, generator=gen, dtype=torch.float64) * math.sqrt(qs)
        x, sites = phi(h0.requires_grad_(True)), []
        for _ in range(depth):
            w = torch.randn(c, c, kernel, generator=gen, dtype=torch.float64)
            w = w * math.sqrt(sw2 / (c * kernel))
            b = torch.randn(c, generator=gen, dtype=torch.float64) * math.sqrt(sb2)
            padded = torch.nn.functional.pad(x, (p, p), mode="circular")
            h = torch.nn.functional.conv1d(padded, w, b)
            h.retain_grad()
            sites.append(h)
            x = phi(h)
        readout = torch.randn(batch, c, length, generator=gen, dtype=torch.float64)
        (x * readout).sum().backward()
        sq = torch.stack([s.grad.pow(2).sum() for s in sites]).log()
        per_seed.append(float((sq[:-1] - sq[1:]).mean()))
    se = float(np.std(per_seed, ddof=1)) / math.sqrt(len(per_seed))
    predicted = math.log(theory.chi1(act, sw2, sb2))
    assert float(np.mean(per_seed)) == pytest.approx(predicted, abs=4 * se + 0.005)
    # power: kernels scaled with the dense fan-in C instead of C k (chi1 times k) fall outside
    assert abs(math.log(kernel)) > 4 * se + 0.005


@pytest.mark.parametrize(("act", "alpha", "beta", "s2"), [
    ("relu", 1.0, 1.0, (2.0, 2.0, 2.0, 2.0)),          # He
    ("tanh", 0.8, 0.6, (1.0, 1.0, 0.4, 1.6)),          # Xavier at d_ff = 4d
    ("gelu", 1.2, 1.5, (1.0, 1.0, 1.0, 1.0)),          # LeCun
])
def test_preln_stream_law_monte_carlo(act: str, alpha: float, beta: float,
                                      s2: tuple[float, float, float, float]) -> None:
    """docs/theory.md §10.1 with plain tensors (not gradbench's family): one token, 3 blocks,
    d = 32, d_ff = 4d, 3000 networks; every site within 4 standard errors of the law."""
    gen = torch.Generator().manual_seed(10)
    d, dff, nets, f64 = 32, 128, 3000, torch.float64
    s_v, s_o, s_1, s_2 = s2
    phi = {"relu": torch.relu, "tanh": torch.tanh,
           "gelu": torch.nn.functional.gelu}[act]

    def gauss(*shape: int, var: float) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=f64) * math.sqrt(var)

    def ln(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, (d,), eps=1e-5)

    x, qs = gauss(nets, 1, d, var=1.0), []
    for _ in range(3):
        v, o = gauss(nets, d, d, var=beta**2 * s_v / d), gauss(nets, d, d, var=beta**2 * s_o / d)
        x = alpha * x + ln(x) @ v.mT @ o.mT
        qs.append(x.pow(2).mean(dim=(1, 2)))
        w1 = gauss(nets, dff, d, var=beta**2 * s_1 / d)
        w2 = gauss(nets, d, dff, var=beta**2 * s_2 / dff)
        x = alpha * x + phi(ln(x) @ w1.mT) @ w2.mT
        qs.append(x.pow(2).mean(dim=(1, 2)))
    q = torch.stack(qs, dim=1).numpy()
    law = theory.preln_stream_second_moment(
        3, act, q0=1.0, v=beta**2 * s_v, o=beta**2 * s_o, w1=beta**2 * s_1, w2=beta**2 * s_2,
        skip=alpha)
    z = (q.mean(axis=0) - law) / (q.std(axis=0, ddof=1) / math.sqrt(nets))
    assert np.all(np.abs(z) < 4.0), z


@pytest.mark.parametrize(("activation", "channels", "kernel", "depth", "mode"), [
    ("linear", 64, 3, 4, 1), ("linear", 64, 3, 8, 2), ("linear", 32, 5, 8, 1),
    ("relu", 64, 3, 4, 1), ("relu", 64, 3, 8, 2), ("relu", 32, 5, 8, 1),
])
def test_conv_spatial_modes_monte_carlo(activation: str, channels: int, kernel: int,
                                        depth: int, mode: int) -> None:
    """docs/theory.md §11.2 with torch's own circular conv1d (not gradbench's forward): 400
    networks of 16 examples, the per-network Fourier coefficients c_0, Re/Im c_m of q^l(t)
    at every layer against theory.conv_spatial_modes, |z| < 4.5 (Bonferroni over 3L)."""
    gen = torch.Generator().manual_seed(17)
    nets, batch, length, a = 400, 16, 16, 0.5
    spec = gb.Conv1DSpec(depth=depth, channels=channels, length=length, kernel=kernel,
                         activation=activation, init="he_normal", sigma_b2=0.0,
                         input_mode=mode, input_modulation=a)
    law = theory.conv_spatial_modes(spec)
    t = torch.arange(length, dtype=torch.float64)
    std = torch.sqrt(1 + a * torch.cos(2 * math.pi * mode * t / length))
    q = np.empty((nets, depth, length))
    for net in range(nets):
        x = torch.randn(batch, channels, length, generator=gen, dtype=torch.float64) * std
        for layer in range(depth):
            w = torch.randn(channels, channels, kernel, generator=gen, dtype=torch.float64)
            pad = (kernel - 1) // 2
            h = torch.nn.functional.conv1d(
                torch.nn.functional.pad(x, (pad, pad), mode="circular"),
                w * math.sqrt(2.0 / (channels * kernel)))
            q[net, layer] = h.pow(2).mean(dim=(0, 1)).numpy()
            x = torch.relu(h) if activation == "relu" else h
    phase = np.exp(-2j * np.pi * mode * np.arange(length) / length)
    c0, cm = q.mean(axis=-1), (2.0 / length) * (q * phase).sum(axis=-1)
    coefficient = np.asarray(law.coefficient)
    for values, want in ((c0, np.asarray(law.scale)), (cm.real, coefficient.real),
                         (cm.imag, coefficient.imag)):
        z = (values.mean(axis=0) - want) / (values.std(axis=0, ddof=1) / math.sqrt(nets))
        assert np.abs(z).max() < 4.5, (z, want)
    # the first layer has no kappa: c_0(1) = sigma_w2 v, whatever the activation
    assert c0[:, 0].mean() == pytest.approx(2.0, rel=0.01)


@pytest.mark.parametrize(("activation", "kernel", "depth", "modes"), [
    ("linear", 3, 4, (1, 2)), ("relu", 3, 4, (1, 1)), ("relu", 5, 3, (0, 1)),
    ("linear", 3, 3, (2, 0)),
])
def test_conv2d_spatial_modes_monte_carlo(activation: str, kernel: int, depth: int,
                                          modes: tuple[int, int]) -> None:
    """docs/theory.md §11.4 with torch's own circular conv2d: 300 networks of 8 examples,
    32 channels, 8 x 10 images; c_0 and Re/Im c_(m, n) of q^l at every layer against
    theory.conv_spatial_modes (the product of the two 1-D factors), |z| < 4.5."""
    gen = torch.Generator().manual_seed(23)
    nets, batch, channels, (rows, cols), a = 300, 8, 32, (8, 10), 0.6
    spec = gb.Conv2DSpec(depth=depth, channels=channels, height=rows, width=cols,
                         kernel=kernel, activation=activation, init="he_normal", sigma_b2=0.0,
                         input_mode_h=modes[0], input_mode_w=modes[1], input_modulation=a)
    law = theory.conv_spatial_modes(spec)
    s, t = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    angle = 2 * np.pi * (modes[0] * s / rows + modes[1] * t / cols)
    std = torch.from_numpy(np.sqrt(1 + a * np.cos(angle)))
    pad = (kernel - 1) // 2
    q = np.empty((nets, depth, rows, cols))
    for net in range(nets):
        x = torch.randn(batch, channels, rows, cols, generator=gen, dtype=torch.float64) * std
        for layer in range(depth):
            w = torch.randn(channels, channels, kernel, kernel, generator=gen,
                            dtype=torch.float64) * math.sqrt(2.0 / (channels * kernel**2))
            h = torch.nn.functional.conv2d(
                torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="circular"), w)
            q[net, layer] = h.pow(2).mean(dim=(0, 1)).numpy()
            x = torch.relu(h) if activation == "relu" else h
    phase = np.exp(-1j * angle)
    c0, cm = q.mean(axis=(-2, -1)), (2.0 / (rows * cols)) * (q * phase).sum(axis=(-2, -1))
    coefficient = np.asarray(law.coefficient)
    for values, want in ((c0, np.asarray(law.scale)), (cm.real, coefficient.real),
                         (cm.imag, coefficient.imag)):
        z = (values.mean(axis=0) - want) / (values.std(axis=0, ddof=1) / math.sqrt(nets))
        assert np.abs(z).max() < 4.5, (z, want)
    # the modulation decays by the product of the axes' factors, not by either alone
    assert abs(law.factor - theory.spatial_mode_factor(kernel, rows, modes[0])
               * theory.spatial_mode_factor(kernel, cols, modes[1])) < 1e-14


def _pure_attention(x: torch.Tensor, w: list, heads: int) -> torch.Tensor:
    """One skipless multi-head softmax attention sublayer, plain torch, x [n, d] (row vectors)."""
    n, d = x.shape
    dh = d // heads
    q, k, v = ((x @ m).view(n, heads, dh).transpose(0, 1) for m in w[:3])
    a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), dim=-1)
    return (a @ v).transpose(0, 1).reshape(n, d) @ w[3]


@pytest.mark.parametrize(("d", "n", "heads"), [(16, 4, 1), (32, 8, 4)])
def test_pure_attention_monte_carlo(d: int, n: int, heads: int) -> None:
    """docs/theory.md §10.5: the exponent's spread shrinks tenfold per decade of r (O(r)
    correction), and the cubic term's mean square over Gaussian weights is
    tr(F) tr(F^2) / (n^2 d^2) for unit weight variances (F = E^T E), within 4 standard errors."""
    g = torch.Generator().manual_seed(17)
    dh = d // heads
    spread = {1e-2: [], 1e-3: []}
    ms = []
    for _ in range(1500):
        w = [torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
             for _ in range(4)]
        x = torch.randn(d, generator=g, dtype=torch.float64)
        z = torch.randn(n, d, generator=g, dtype=torch.float64)
        e = z - z.mean(dim=0)
        f = e.T @ e
        cubic = sum((e @ w[0][:, h * dh:(h + 1) * dh] @ w[1][:, h * dh:(h + 1) * dh].T @ e.T
                     / math.sqrt(dh)) @ e @ w[2][:, h * dh:(h + 1) * dh]
                    @ w[3][h * dh:(h + 1) * dh] / n for h in range(heads))
        ms.append(float(cubic.pow(2).sum() * n * n * d * d / (torch.trace(f) * f.pow(2).sum())))
        if len(ms) <= 200:
            unit = e / e.norm()
            r_out = []
            for r in (1e-2, 1e-3, 1e-4):
                xr = x + (r / math.sqrt(1 - r * r)) * math.sqrt(n) * x.norm() * unit
                y = _pure_attention(xr, w, heads)
                r_out.append(float((y - y.mean(dim=0)).norm() / y.norm()))
            spread[1e-2].append(math.log10(r_out[0] / r_out[1]))
            spread[1e-3].append(math.log10(r_out[1] / r_out[2]))
    ms_arr = np.array(ms)
    assert abs(ms_arr.mean() - 1.0) < 4 * ms_arr.std(ddof=1) / math.sqrt(ms_arr.size)
    wide = np.max(np.abs(np.array(spread[1e-2]) - 3.0))
    narrow = np.max(np.abs(np.array(spread[1e-3]) - 3.0))
    assert wide < 0.05
    assert narrow < 0.2 * wide
