"""Attention at initialization: the uniform-attention Gram recursion and the query/key
gradient collapse (gradbench.theory._attention, claims in gradbench/claims/attention.py).

Oracles: an independent plain-torch Monte Carlo of a linear uniform-attention stack (not
gradbench's family) against the recursion, where a wrong averaging matrix is rejected; the
family's attention with W_Q = 0 against P X; a from-scratch single-head softmax attention
whose query/key gradients vanish at rank one (a sigmoid one's do not).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gradbench as gb
from gradbench import claims
from gradbench.claim_probes import qk_collapse, token_gram
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
