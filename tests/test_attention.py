"""Attention at initialization: the uniform-attention Gram recursion, the query/key
gradient collapse and pure attention's exponent 3 (gradbench.theory._attention, claims in
gradbench/claims/attention.py).

Oracles: an independent plain-torch Monte Carlo of a linear uniform-attention stack (not
gradbench's family) against the recursion, where a wrong averaging matrix is rejected; the
family's attention with W_Q = 0 against P X; a from-scratch single-head softmax attention
whose query/key gradients vanish at rank one (a sigmoid one's do not); a from-scratch
multi-head attention layer near rank one whose residual is the cubic term of
docs/theory.md §10.5 (a skip, a causal mask or identity weights give exponent 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gradbench as gb
from gradbench import claims
from gradbench.claim_probes import attention_collapse, qk_collapse, token_gram
from gradbench.models import draw_network, family_of
from gradbench.theory._attention import averaging_matrix, uniform_attention_gram

T = gb.TransformerSpec


def test_averaging_matrix() -> None:
    p = averaging_matrix(4, True)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(np.triu(p, 1), 0.0)
    assert np.allclose(np.diag(p), [1, 1 / 2, 1 / 3, 1 / 4])
    assert np.allclose(averaging_matrix(3, False), 1 / 3)


@pytest.mark.parametrize("causal", [False, True])
def test_family_uniform_attention_is_the_averaging_matrix(causal: bool) -> None:
    """With W_Q = 0 and W_V = W_O = I the family's attention sublayer is exactly X -> P X."""
    spec = T(depth=1, width=8, heads=2, seq=5, attention="uniform", causal=causal,
             placement="none")
    params, data = draw_network(spec, 3, 0, 0)
    params["V0"], params["O0"] = torch.eye(8, dtype=torch.float64), torch.eye(8,
                                                                              dtype=torch.float64)
    out = family_of(spec)._attention(spec, params, 0, data["x"])
    want = torch.from_numpy(np.array(averaging_matrix(5, causal))) @ data["x"]
    assert torch.allclose(out, want, rtol=0, atol=1e-13)


def _mc_gram(p: np.ndarray, *, depth: int, d: int, nets: int, skip: float, v: float,
             w: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of K_L over ``nets`` plain-torch linear stacks
    x <- skip x + P x W_V^T W_O^T, x <- skip x + x W1^T W2^T (Gaussian, s^2 = v for the
    attention matrices and w for the FFN's), one unit-variance input each."""
    g = torch.Generator().manual_seed(seed)
    n = p.shape[0]
    pt = torch.from_numpy(np.array(p))
    x = torch.randn(nets, n, d, generator=g, dtype=torch.float64)

    def mat(rows: int, cols: int, s2: float) -> torch.Tensor:
        return math.sqrt(s2 / cols) * torch.randn(nets, rows, cols, generator=g,
                                                  dtype=torch.float64)

    for _ in range(depth):
        x = skip * x + pt @ x @ mat(d, d, v).mT @ mat(d, d, v).mT
        x = skip * x + x @ mat(2 * d, d, w).mT @ mat(d, 2 * d, w).mT
    k = (x @ x.mT / d).numpy()
    return k.mean(axis=0), k.std(axis=0, ddof=1) / math.sqrt(nets)


@pytest.mark.parametrize("causal", [False, True])
def test_uniform_gram_recursion_matches_an_independent_monte_carlo(causal: bool) -> None:
    """The recursion agrees with 40000 plain-torch networks entry by entry (within 4.5
    standard errors); the same recursion with P^T (causal) or an unnormalised mask is
    rejected by far."""
    n, depth, skip, v, w = 4, 2, 0.9, 1.2, 0.8
    p = averaging_matrix(n, causal)
    mean, se = _mc_gram(p, depth=depth, d=8, nets=40000, skip=skip, v=v, w=w, seed=11)
    law = uniform_attention_gram(depth, n, causal=causal, k0=1.0, v=v, o=v, w1=w, w2=w,
                                 skip=skip)[-1]
    assert np.max(np.abs(mean - law) / se) < 4.5
    if causal:
        for wrong_p in (p.T[::-1, ::-1], np.tril(np.full((n, n), 1.0 / n))):
            k = np.eye(n)
            for _ in range(depth):
                k = skip**2 * k + v * v * wrong_p @ k @ wrong_p.T
                k = (skip**2 + w * w) * k
            assert np.max(np.abs(mean - k) / se) > 10


def test_uniform_gram_layer_gain_matches_the_family() -> None:
    """A layer gain l^-p on every matrix enters as l^(-4p) on both branch terms: one network's
    exact expectation is not available, so 4000 family networks against the law."""
    spec = T(depth=2, width=8, seq=3, ffn=2, activation="linear", init="xavier_normal",
             placement="none", attention="uniform", causal=True, layer_gain_exponent=0.5)
    from gradbench.theory._attention import uniform_gram_of

    gram = token_gram(spec, seeds=4000, batch=1)[:, -1]
    law = uniform_gram_of(spec)[-1]
    se = gram.std(axis=0, ddof=1) / math.sqrt(gram.shape[0])
    assert np.max(np.abs(gram.mean(axis=0) - law) / se) < 4.5


def test_uniform_attention_kernel_domain() -> None:
    c = claims.get_claim("uniform_attention_kernel")
    ok = T(depth=2, width=16, seq=4, activation="linear", placement="none", attention="uniform")
    assert claims.why_not(c, ok) is None
    assert "placement='pre'" in claims.why_not(c, ok.replace(placement="pre"))
    assert "activation='relu'" in claims.why_not(c, ok.replace(activation="relu"))
    assert "attention='softmax'" in claims.why_not(c, ok.replace(attention="softmax"))
    assert "orthogonal" in claims.why_not(c, ok.replace(init="orthogonal"))


def test_uniform_attention_kernel_detects_softmax_over_queries(monkeypatch) -> None:
    """On the family's own networks the claim holds; with the softmax over the query axis
    (causal: P's anti-transpose) it fails."""
    spec = T(depth=2, width=32, heads=2, seq=4, ffn=2, activation="linear",
             init="lecun_normal", placement="none", attention="uniform", causal=True)
    c = claims.get_claim("uniform_attention_kernel")
    assert c.evaluate(spec, token_gram(spec, seeds=64, batch=4), 1e-4).passed
    real = torch.softmax
    monkeypatch.setattr(torch, "softmax", lambda s, dim: real(s, dim=-2))
    assert not c.evaluate(spec, token_gram(spec, seeds=64, batch=4), 1e-4).passed


def _scratch_grads(x: torch.Tensor, normalise: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Gradients of a random linear loss through one from-scratch attention head."""
    g = torch.Generator().manual_seed(seed)
    d = x.shape[-1]
    w = {k: (torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d))
         .requires_grad_(True) for k in "QKV"}
    r = torch.randn(*x.shape, generator=g, dtype=torch.float64)
    scores = (x @ w["Q"].T) @ (x @ w["K"].T).T / math.sqrt(d)
    probs = torch.softmax(scores, dim=-1) if normalise == "softmax" else torch.sigmoid(scores)
    (r * (probs @ (x @ w["V"].T))).sum().backward()
    return {k: v.grad for k, v in w.items()}  # type: ignore[misc]


def test_scratch_attention_query_key_gradients_vanish_at_rank_one() -> None:
    """Independent of the family: equal tokens give zero W_Q, W_K gradients under softmax
    (not under sigmoid), and near rank one the ratio falls like s^2 ~ 1 - rho."""
    g = torch.Generator().manual_seed(5)
    base = torch.randn(1, 12, generator=g, dtype=torch.float64)
    spread = torch.randn(5, 12, generator=g, dtype=torch.float64)
    soft, sig = (_scratch_grads(base.expand(5, 12), kind) for kind in ("softmax", "sigmoid"))
    v = soft["V"].norm()
    assert soft["Q"].norm() / v < 1e-14
    assert soft["K"].norm() / v < 1e-14
    assert sig["Q"].norm() / sig["V"].norm() > 1e-3
    ratios = []
    for s in (1e-4, 1e-5):
        gr = _scratch_grads(base + s * spread, "softmax")
        ratios.append(math.hypot(gr["Q"].norm(), gr["K"].norm()) / gr["V"].norm())
    assert abs(math.log(ratios[0] / ratios[1]) / math.log(100.0) - 1.0) < 0.01


def test_qk_gradient_collapse_on_the_family_and_a_sigmoid_variant(monkeypatch) -> None:
    spec = T(depth=2, width=16, heads=2, seq=4, ffn=2, placement="post", causal=True)
    c = claims.get_claim("qk_gradient_collapse")
    data = qk_collapse(spec, seeds=3, batch=2)
    assert data["ratio"].shape == (3, 3)
    verdict = c.evaluate(spec, data, 1e-4)
    assert verdict.passed
    assert abs(verdict.measured - 1.0) < 0.01
    monkeypatch.setattr(torch, "softmax", lambda s, dim: torch.sigmoid(s))
    assert not c.evaluate(spec, qk_collapse(spec, seeds=3, batch=2), 1e-4).passed


def test_qk_gradient_collapse_domain() -> None:
    c = claims.get_claim("qk_gradient_collapse")
    ok = T(depth=1, width=8, seq=3)
    assert claims.why_not(c, ok) is None
    assert claims.why_not(c, ok.replace(placement="post")) is None
    assert "placement='none'" in claims.why_not(c, ok.replace(placement="none"))
    assert "seq=1" in claims.why_not(c, ok.replace(seq=1))
    assert "uniform" in claims.why_not(c, ok.replace(attention="uniform"))


def _scratch_layer(x: torch.Tensor, w: list[torch.Tensor], heads: int, *, skip: float = 0.0,
                   causal: bool = False, weights: str = "softmax") -> torch.Tensor:
    """One multi-head attention sublayer written from scratch (row vectors: X W), x [n, d]."""
    n, d = x.shape
    dh = d // heads
    q, k, v = ((x @ m).view(n, heads, dh).transpose(0, 1) for m in w[:3])
    s = q @ k.transpose(1, 2) / math.sqrt(dh)
    if causal:
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -math.inf)
    a = torch.softmax(s, dim=-1) if weights == "softmax" else torch.eye(n, dtype=x.dtype)
    return skip * x + (a @ v).transpose(0, 1).reshape(n, d) @ w[3]


def _near_rank_one(x: torch.Tensor, z: torch.Tensor, r: float) -> torch.Tensor:
    """``1 x^T + c z_centred`` with residual ratio exactly ``r`` (Frobenius)."""
    n = z.shape[0]
    e = z - z.mean(dim=0)
    e = e / e.norm()
    return x + (r / math.sqrt(1 - r * r)) * math.sqrt(n) * x.norm() * e


def _ratio(x: torch.Tensor) -> float:
    return float((x - x.mean(dim=0)).norm() / x.norm())


def test_scratch_pure_attention_residual_is_the_cubic_term() -> None:
    """Independent of the family: near rank one the output's residual of a skipless softmax
    layer is (1/n) sum_h E M_h E^T E W_V,h W_O,h to O(r), so the exponent tends to 3; a
    skip, a causal mask or identity weights give 1."""
    g = torch.Generator().manual_seed(3)
    n, d, heads = 5, 16, 2
    dh = d // heads
    slopes: dict[str, list[float]] = {"pure": [], "skip": [], "causal": [], "identity": []}
    for _ in range(20):
        w = [torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
             for _ in range(4)]
        x = torch.randn(d, generator=g, dtype=torch.float64)
        z = torch.randn(n, d, generator=g, dtype=torch.float64)
        xs = [_near_rank_one(x, z, r) for r in (1e-3, 1e-4)]
        e = xs[0] - xs[0].mean(dim=0)
        cubic = sum((e @ w[0][:, h * dh:(h + 1) * dh] @ w[1][:, h * dh:(h + 1) * dh].T @ e.T
                     / math.sqrt(dh)) @ e @ w[2][:, h * dh:(h + 1) * dh]
                    @ w[3][h * dh:(h + 1) * dh] / n for h in range(heads))
        y = _scratch_layer(xs[0], w, heads)
        assert float(((y - y.mean(dim=0)) - cubic).norm() / cubic.norm()) < 0.05
        for name, kw in (("pure", {}), ("skip", {"skip": 1.0}), ("causal", {"causal": True}),
                         ("identity", {"weights": "identity"})):
            r_out = [_ratio(_scratch_layer(xi, w, heads, **kw)) for xi in xs]
            slopes[name].append(math.log(r_out[0] / r_out[1]) / math.log(10.0))
    assert max(abs(s - 3.0) for s in slopes["pure"]) < 0.01
    for name in ("skip", "causal", "identity"):
        assert max(abs(s - 1.0) for s in slopes[name]) < 0.01, name


def test_collapse_probe_inputs_have_the_asked_residual_ratio(monkeypatch) -> None:
    """With identity attention weights and W_V = W_O = I (placement 'none', no skip) the
    sublayer returns its input, so the probe's r_out is the input's residual ratio."""
    spec = T(depth=2, width=8, heads=2, seq=4, placement="none", skip_scale=0.0)
    eye = torch.eye(8, dtype=torch.float64)
    real_draw = draw_network

    def identity_net(*args, **kwargs):
        params, data = real_draw(*args, **kwargs)
        return {**params, **{f"{w}{b}": eye for w in "VO" for b in range(2)}}, data

    import gradbench.models as models

    monkeypatch.setattr(models, "draw_network", identity_net)
    monkeypatch.setattr(torch, "softmax", lambda s, dim: torch.eye(4, dtype=s.dtype).expand_as(s))
    data = attention_collapse(spec, seeds=2, batch=3, spreads=(1e-2, 1e-3))
    assert data["r_out"].shape == (2, 2, 3, 2)
    assert np.allclose(data["r_out"], data["r_in"], rtol=1e-9, atol=0)


@pytest.mark.parametrize("placement", ["none", "pre", "post"])
def test_pure_attention_collapse_on_the_family_and_planted_skips(monkeypatch,
                                                                 placement: str) -> None:
    """The family's skipless stacks have exponent 3, with a skip 1; a hidden skip (A + I) or
    identity weights make a skipless stack fail."""
    c = claims.get_claim("pure_attention_collapse")
    spec = T(depth=2, width=16, heads=2, seq=4, ffn=1, placement=placement, skip_scale=0.0)
    verdict = c.evaluate(spec, attention_collapse(spec, seeds=2, batch=2), 1.0)
    assert verdict.passed
    assert abs(verdict.measured - 3.0) < 0.05
    skip = spec.replace(skip_scale=1.0)
    verdict = c.evaluate(skip, attention_collapse(skip, seeds=2, batch=2), 1.0)
    assert verdict.passed
    assert abs(verdict.measured - 1.0) < 0.05
    real = torch.softmax
    monkeypatch.setattr(torch, "softmax",
                        lambda s, dim: real(s, dim=dim) + torch.eye(4, dtype=s.dtype))
    assert not c.evaluate(spec, attention_collapse(spec, seeds=2, batch=2), 1.0).passed
    monkeypatch.setattr(torch, "softmax", lambda s, dim: torch.eye(4, dtype=s.dtype).expand_as(s))
    assert not c.evaluate(spec, attention_collapse(spec, seeds=2, batch=2), 1.0).passed


def test_pure_attention_collapse_domain() -> None:
    c = claims.get_claim("pure_attention_collapse")
    ok = T(depth=1, width=8, seq=3, skip_scale=0.0)
    assert claims.why_not(c, ok) is None
    assert claims.why_not(c, ok.replace(skip_scale=0.5, placement="post")) is None
    assert "causal=True" in claims.why_not(c, ok.replace(causal=True))
    assert "uniform" in claims.why_not(c, ok.replace(attention="uniform"))
    assert "seq=1" in claims.why_not(c, ok.replace(seq=1))
    assert "skip_scale=0.05" in claims.why_not(c, ok.replace(skip_scale=0.05))
    assert "input_var" in claims.why_not(c, ok.replace(input_var=16.0))
