"""The transformer family: spec, stacked probe vs the torch.nn reference, the Pre-LN law.

The reference module is built from ``nn.Linear``, ``nn.functional.multi_head_attention_forward``
(the routine behind ``nn.MultiheadAttention``) and ``nn.LayerNorm``; the stacked forward
writes attention with matmuls. They must agree to 1e-10 in float64: sites, second
moments, per-site weight-gradient norms and every weight matrix's own gradient.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gradbench as gb
from gradbench import claims, theory
from gradbench.errors import InvalidArgument
from gradbench.models import Draw, _linear, draw_network, family_of
from gradbench.probe import bytes_per_network
from gradbench.specs import TransformerSpec, spec_from_dict, spec_label
from gradbench.training import TrainSpec, train_probe, train_reference

T = TransformerSpec
VARIANTS = [
    T(depth=2, width=16, heads=2, seq=5, ffn=2),
    T(depth=2, width=16, heads=4, seq=4, placement="post", activation="tanh"),
    T(depth=3, width=8, seq=3, ffn=1, placement="none", skip_scale=0.7, branch_gain=0.5,
      init="he_normal"),
    T(depth=2, width=16, heads=2, seq=6, attention="uniform", causal=True, activation="gelu"),
    T(depth=1, width=12, heads=3, seq=4, causal=True, placement="post", skip_scale=1.8,
      branch_gain=0.3, init="xavier_uniform"),
    T(depth=2, width=8, seq=1, placement="pre", skip_scale=1.3, branch_gain=1.4,
      init="lecun_normal", activation="silu"),
]


def _grads(spec: TransformerSpec, seed: int = 3) -> tuple[dict, dict, list, list]:
    """One network's per-matrix gradients and sites from the stacked forward and the module."""
    family = family_of(spec)
    params, data = draw_network(spec, 3, seed, 0)
    stacked = {k: v.unsqueeze(0).clone().requires_grad_(True) for k, v in params.items()}
    sdata = {k: v.unsqueeze(0).clone() for k, v in data.items()}
    fwd = family.forward(spec, stacked, sdata)
    fwd.loss.backward()
    model = family.module(spec, params)
    taps = [m for m in model.modules() if isinstance(m, gb.models.Tap)]
    seen: list[torch.Tensor] = []
    handles = [t.register_forward_hook(lambda m, a, out: seen.append(out)) for t in taps]
    (data["R"] * model(data)).sum().backward()
    for h in handles:
        h.remove()
    named = family.module_params(spec, model)
    mine = {k: v.grad[0] for k, v in stacked.items()}
    ref = {k: p.grad for k, p in named.items()}
    return mine, ref, [s.detach()[0] for s in fwd.sites], [s.detach() for s in seen]


@pytest.mark.parametrize("spec", VARIANTS, ids=spec_label)
def test_probe_equals_the_torch_nn_reference(spec: TransformerSpec) -> None:
    m = gb.measure(spec, seeds=3, batch=4, dtype="float64", seed=5)
    ref = gb.measure_reference(spec, seeds=3, batch=4, seed=5)
    assert m.act_grad_norms.shape == (3, 2 * spec.depth)  # depth counts blocks, sites sublayers
    assert not m.nonfinite.any()
    for got, want in ((m.act_grad_norms, ref.act_grad_norms),
                      (m.weight_grad_norms, ref.weight_grad_norms),
                      (m.preact_second_moment, ref.preact_second_moment)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


@pytest.mark.parametrize("spec", VARIANTS, ids=spec_label)
def test_every_weight_matrix_gradient_equals_the_reference(spec: TransformerSpec) -> None:
    mine, ref, sites, ref_sites = _grads(spec)
    assert set(mine) == set(ref) == {f"{w}{b}" for b in range(spec.depth)
                                     for w in ("Q", "K", "V", "O", "W1_", "W2_")}
    for name in mine:
        torch.testing.assert_close(mine[name], ref[name], rtol=1e-10, atol=1e-13, msg=name)
    assert len(sites) == len(ref_sites) == 2 * spec.depth
    for a, b in zip(sites, ref_sites):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)
    groups = family_of(spec).weight_groups(spec)
    assert groups[0] == ["Q0", "K0", "V0", "O0"]
    assert groups[1] == ["W1_0", "W2_0"]


def test_uniform_attention_zeroes_w_q_and_the_key_gradient_only() -> None:
    """W_Q = 0 makes every score 0: no gradient reaches W_K (scores are q . k), W_Q's is not 0,
    and each position's attention output is the mean of the values it sees."""
    spec = VARIANTS[3]
    mine, _, _, _ = _grads(spec)
    params, data = draw_network(spec, 2, 0, 0)
    assert all(not params[f"Q{b}"].any() for b in range(spec.depth))
    assert all(not mine[f"K{b}"].any() for b in range(spec.depth))
    assert all(mine[f"Q{b}"].abs().max() > 1e-8 for b in range(spec.depth))
    family = family_of(spec)
    x = data["x"]
    out = family._attention(spec, params, 0, x)
    v = x @ params["V0"].T
    counts = torch.arange(1, spec.seq + 1, dtype=x.dtype).view(-1, 1)
    want = (v.cumsum(dim=-2) / counts) @ params["O0"].T  # causal rows: mean of the prefix
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)


def test_causal_mask_keeps_earlier_positions_independent_of_later_ones() -> None:
    spec = T(depth=2, width=8, seq=5, causal=True, placement="post")
    params, data = draw_network(spec, 2, 0, 0)
    changed = data["x"].clone()
    changed[:, 3:] += 1.0
    family = family_of(spec)
    with torch.no_grad():
        a = family.forward(spec, params, data).sites[-1]
        b = family.forward(spec, params, {**data, "x": changed}).sites[-1]
    torch.testing.assert_close(a[:, :3], b[:, :3], rtol=0, atol=0)
    assert (a[:, 3:] - b[:, 3:]).abs().max() > 1e-3
    bidirectional = spec.replace(causal=False)
    with torch.no_grad():
        c = family.forward(bidirectional, params, data).sites[-1]
        d = family.forward(bidirectional, params, {**data, "x": changed}).sites[-1]
    assert (c[:, :3] - d[:, :3]).abs().max() > 1e-3


@pytest.mark.parametrize("placement", ["pre", "post", "none"])
def test_skip_scale_with_zero_branches_is_deepnorms_skip(placement: str) -> None:
    """beta = 0 zeroes every branch: x_{l+1} = alpha x_l (none, pre) and LN(alpha x_l)
    (post, DeepNorm's LN(alpha x + G(x)); eps makes it differ from LN(x_l))."""
    alpha = 1.7
    spec = T(depth=2, width=8, seq=3, placement=placement, skip_scale=alpha, branch_gain=0.0)
    params, data = draw_network(spec, 2, 0, 0)
    x = data["x"]
    with torch.no_grad():
        sites = family_of(spec).forward(spec, params, data).sites
    ln = torch.nn.functional.layer_norm
    previous = x
    for i, s in enumerate(sites, start=1):
        if placement == "post":
            want = ln(alpha * previous, (8,), eps=1e-5)
            assert (s - ln(previous, (8,), eps=1e-5)).abs().max() > 1e-7  # alpha is seen
        else:
            want = alpha**i * x
        torch.testing.assert_close(s, want, rtol=1e-12, atol=1e-12)
        previous = s


def test_branch_gain_scales_v_o_w1_w2_but_not_q_k() -> None:
    base = T(depth=2, width=8, seq=3)
    scaled = base.replace(branch_gain=0.3)
    family = family_of(base)
    a = family.draw_parameters(base, Draw(torch.Generator().manual_seed(4)))
    b = family.draw_parameters(scaled, Draw(torch.Generator().manual_seed(4)))
    for name in a:
        factor = 1.0 if name[0] in "QK" else 0.3
        torch.testing.assert_close(b[name], factor * a[name], rtol=1e-15, atol=0, msg=name)


def test_seeds_are_reproducible_and_distinct() -> None:
    spec = VARIANTS[0]
    (p1, d1), (p2, d2) = draw_network(spec, 2, 7, 1), draw_network(spec, 2, 7, 1)
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert torch.equal(d1["x"], d2["x"])
    p3, _ = draw_network(spec, 2, 7, 2)
    assert not torch.equal(p1["V0"], p3["V0"])
    assert tuple(d1["x"].shape) == (2, spec.seq, spec.width)
    m1 = gb.measure(spec, seeds=3, batch=2, seed=7)
    m2 = gb.measure(spec, seeds=3, batch=2, seed=7)
    assert np.array_equal(m1.act_grad_norms, m2.act_grad_norms)


def test_weights_have_the_initializers_variance_at_their_own_fans() -> None:
    """W1 (d_ff x d) has fan-in d, W2 (d x d_ff) fan-in d_ff: He gives 2/d and 2/d_ff."""
    spec = T(depth=1, width=64, seq=2, ffn=4, init="he_normal")
    params, _ = draw_network(spec, 1, 0, 0)
    assert params["W1_0"].shape == (256, 64)
    assert params["W2_0"].shape == (64, 256)
    assert abs(float(params["W1_0"].var()) * 64 / 2 - 1) < 0.05
    assert abs(float(params["W2_0"].var()) * 256 / 2 - 1) < 0.05


def test_training_probe_equals_the_reference_loop() -> None:
    spec = T(depth=2, width=8, heads=2, seq=3, ffn=2, causal=True, activation="tanh")
    train = TrainSpec(optimizer="adam", lr=0.01, steps=3, batch=4)
    fast = train_probe(spec, train, seeds=2, dtype="float64")
    slow = train_reference(spec, train, seeds=2)
    assert fast.layers == ("Q0 + K0 + V0 + O0", "W1_0 + W2_0", "Q1 + K1 + V1 + O1",
                           "W1_1 + W2_1")
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-10, atol=0)
    np.testing.assert_allclose(fast.update_norm, slow.update_norm, rtol=1e-10, atol=0)


@pytest.mark.parametrize(("x_shape", "w_shape"), [
    ((3, 5, 4, 8), (3, 6, 8)),  # stacked networks: one product per network, examples as rows
    ((1, 5, 4, 8), (3, 6, 8)),  # one input for every network
    ((5, 4, 8), (3, 6, 8)),  # shared data, stacked weights (batch 5 != 3 networks)
    ((3, 4, 8), (3, 6, 8)),  # shared data whose batch equals the number of networks
    ((5, 4, 8), (6, 8)),  # one network
    ((3, 5, 4, 8), (6, 8)),  # stacked data, one weight
])
def test_linear_is_the_broadcast_product(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...]
) -> None:
    """``_linear`` folds the example axes of stacked networks into rows; for every shape it is
    ``x @ w^T`` with a leading seed axis broadcast, as ``matmul`` broadcasts."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(x_shape, generator=gen, dtype=torch.float64)
    w = torch.randn(w_shape, generator=gen, dtype=torch.float64)
    expected = x @ w.unsqueeze(-3).mT
    got = _linear(x, w)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_memory_estimate_counts_the_attention_matrix() -> None:
    """Scores and probabilities are batch x heads x seq^2: doubling seq more than doubles."""
    spec = T(depth=2, width=16, heads=4, seq=64)
    one, two = (bytes_per_network(spec.replace(seq=n), 8, "float32") for n in (64, 128))
    assert two > 2.2 * one
    assert bytes_per_network(spec.replace(depth=4), 8, "float32") == 2 * one


@pytest.mark.parametrize(("fields", "message"), [
    ({"placement": "pst"}, "TransformerSpec.placement='pst' is invalid: did you mean 'post'?"),
    ({"attention": "linear"}, "valid choices: softmax, uniform"),
    ({"heads": 3}, "TransformerSpec.heads=3 is invalid: must divide width=16"),
    ({"depth": 0}, "TransformerSpec.depth=0 is invalid: must be an integer >= 1"),
    ({"skip_scale": -1.0}, "TransformerSpec.skip_scale=-1.0 is invalid"),
    ({"branch_gain": math.nan}, "TransformerSpec.branch_gain=nan is invalid"),
    ({"causal": "yes"}, "TransformerSpec.causal='yes' is invalid: must be True or False"),
    ({"activation": "relux"}, "TransformerSpec.activation='relux' is invalid"),
    ({"init": "nope"}, "TransformerSpec.init='nope' is invalid"),
])
def test_bad_fields_are_one_sentence(fields: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace("?", r"\?")):
        T(**{"depth": 2, "width": 16, **fields})


def test_spec_round_trips_and_is_labelled() -> None:
    spec = VARIANTS[4]
    assert spec_from_dict(spec.to_dict()) == spec
    assert spec_label(spec) == ("transformer-N1-d12-h3-n4-relu-xavier_uniform-post-"
                                "skip_scale=1.8-branch_gain=0.3-causal=True")
    assert spec.n_sites == 2
    assert spec.d_ff == 48
    assert gb.TransformerSpec is TransformerSpec


def test_theory_gives_no_gradient_prediction() -> None:
    p = theory.predict(VARIANTS[0])
    assert not p.valid
    assert p.log_growth is None
    assert "preln_stream_growth" in p.reason


def test_preln_law_is_linear_for_relu_at_unit_skip() -> None:
    """Xiong et al.'s Lemma 2: alpha = 1, ReLU: q grows by v o and w2 w1 / 2 per sublayer."""
    q = theory.preln_stream_second_moment(3, "relu", q0=0.5, v=1.5, o=0.8, w1=2.0, w2=0.5)
    want = [0.5 + 1.2, 0.5 + 1.2 + 0.5, 0.5 + 2.4 + 0.5, 0.5 + 2.4 + 1.0, 0.5 + 3.6 + 1.0,
            0.5 + 3.6 + 1.5]
    np.testing.assert_allclose(q, want, rtol=1e-12)
    tanh = theory.preln_stream_second_moment(1, "tanh", q0=1.0, v=1.0, o=1.0, w1=1.0, w2=1.0,
                                             skip=0.5)
    z = np.random.default_rng(0).standard_normal(2_000_000)
    assert abs(tanh[0] - 1.25) < 1e-12
    assert abs(tanh[1] - (0.25 * 1.25 + np.mean(np.tanh(z) ** 2))) < 2e-3


def test_preln_claim_domain() -> None:
    c = claims.get_claim("preln_stream_growth")
    ok = T(depth=2, width=16, seq=4, causal=True)
    assert claims.why_not(c, ok) is None
    assert claims.why_not(c, ok.replace(seq=1, causal=False)) is None
    assert "placement='post'" in claims.why_not(c, ok.replace(placement="post"))
    assert "causal" in claims.why_not(c, ok.replace(causal=False))
    assert "Gaussian" in claims.why_not(c, ok.replace(init="orthogonal"))
    assert claims.why_not(c, gb.MLPSpec(depth=2, width=8)) is not None


def test_preln_claim_detects_an_ffn_output_weight_at_the_wrong_fan() -> None:
    """Evaluated on measurements of a network whose W2 has variance s^2/d (d_ff = 4 d), the
    claim fails; on the correct network it holds."""
    spec = T(depth=3, width=32, seq=4, ffn=4, causal=True, init="xavier_normal")
    from gradbench.claim_probes import token0_stream

    good = token0_stream(spec, seeds=32, batch=4)
    assert claims.get_claim("preln_stream_growth").evaluate(spec, good, 1e-4).passed
    wrong = spec.replace(init="xavier_normal")
    family = family_of(wrong)
    real = family.draw_parameters

    def widen(spec_: TransformerSpec, draw: Draw) -> dict:
        params = real(spec_, draw)
        for b in range(spec_.depth):
            params[f"W2_{b}"] = params[f"W2_{b}"] * 2.0  # variance x 4 = d_ff / d
        return params

    family.draw_parameters = widen  # type: ignore[method-assign]
    try:
        bad = token0_stream(spec, seeds=32, batch=4)
    finally:
        del family.draw_parameters
    assert not claims.get_claim("preln_stream_growth").evaluate(spec, bad, 1e-4).passed


def _profile_oracle(spec: TransformerSpec, seeds: int, batch: int,
                    final_norm: bool = True) -> np.ndarray:
    """``[seeds, sites]`` |dL/dx_l|_F^2 q_l of a one-token Pre-LN stack written from scratch
    (``torch.nn.functional.layer_norm``, attention over one key = ``W_O W_V``), autograd's
    gradients at every sublayer output; the probe's networks and readouts."""
    out = []
    for i in range(seeds):
        params, data = draw_network(spec, batch, 0, i)
        x, sites = data["x"][:, 0, :].clone().requires_grad_(True), []

        def ln(t: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.layer_norm(t, (spec.width,), eps=1e-5)

        for b in range(spec.depth):
            x = spec.skip_scale * x + ln(x) @ params[f"V{b}"].T @ params[f"O{b}"].T
            x.retain_grad()
            sites.append(x)
            hidden = torch.relu(ln(x) @ params[f"W1_{b}"].T)
            x = spec.skip_scale * x + hidden @ params[f"W2_{b}"].T
            x.retain_grad()
            sites.append(x)
        y = ln(x) if final_norm else x
        (data["R"][:, 0, :] * y).sum().backward()
        out.append([float(s.grad.pow(2).sum() * s.detach().pow(2).mean()) for s in sites])
    return np.array(out)


PROFILE_SPEC = T(depth=3, width=32, seq=1, ffn=2, init="he_normal", skip_scale=1.2)


def test_profile_products_equal_an_autograd_oracle() -> None:
    """The probe's |g_l|^2 q_l per network and site is the from-scratch stack's to 1e-10."""
    m = gb.measure(PROFILE_SPEC, seeds=3, batch=4, dtype="float64")
    probe = m.act_grad_norms**2 * m.preact_second_moment
    np.testing.assert_allclose(probe, _profile_oracle(PROFILE_SPEC, 3, 4), rtol=1e-10)
    dropped = _profile_oracle(PROFILE_SPEC, 3, 4, final_norm=False)
    assert np.abs(np.log(dropped / probe)).min() > 0.5  # the oracle sees the planted bug


def test_profile_claim_domain() -> None:
    c = claims.get_claim("preln_gradient_profile")
    assert claims.why_not(c, PROFILE_SPEC) is None
    assert claims.why_not(c, PROFILE_SPEC.replace(activation="leaky_relu")) is None
    assert "seq=4" in claims.why_not(c, PROFILE_SPEC.replace(seq=4, causal=True))
    assert "homogeneous" in claims.why_not(c, PROFILE_SPEC.replace(activation="tanh"))
    assert "placement='post'" in claims.why_not(c, PROFILE_SPEC.replace(placement="post"))
    assert claims.why_not(c, gb.MLPSpec(depth=2, width=8)) is not None


def test_profile_top_band_starts_at_the_layernorm_projection() -> None:
    """Lower end ln((1 - 2/d)(1 + 1/d)): the final LN's rank d - 2 projection and the
    stream's coordinate mean; the bands widen at smaller width."""
    from gradbench.claims.transformer import profile_top_band

    lo, hi = profile_top_band(32)
    assert lo == pytest.approx(math.log(30 / 32 * 33 / 32), rel=1e-12)
    assert hi == pytest.approx(3 / 32)
    assert profile_top_band(16)[0] < lo < 0 < hi < profile_top_band(16)[1]


def test_profile_claim_holds_and_detects_the_planted_placements() -> None:
    """On the correct stack the claim holds; with the final LayerNorm dropped, or with the
    norm after the add (Post-LN's placement), the same networks fail it at 1e-4."""
    from gradbench.models import Forward, TransformerFamily, _layer_norm

    c = claims.get_claim("preln_gradient_profile")
    spec = T(depth=2, width=32, seq=1, ffn=4, init="xavier_normal")
    assert c.evaluate(spec, gb.measure(spec, seeds=64, batch=4), 1e-4).passed
    real = TransformerFamily.forward

    def no_final(self, spec_, params, data):  # type: ignore[no-untyped-def]
        fwd = real(self, spec_, params, data)
        return Forward(loss=(data["R"] * fwd.sites[-1]).sum(), sites=fwd.sites)

    def after_add(self, spec_, params, data):  # type: ignore[no-untyped-def]
        fwd = real(self, spec_.replace(placement="post"), params, data)
        return Forward(loss=(data["R"] * _layer_norm(fwd.sites[-1])).sum(), sites=fwd.sites)

    for planted in (no_final, after_add):
        TransformerFamily.forward = planted  # type: ignore[method-assign]
        try:
            bad = gb.measure(spec, seeds=64, batch=4)
        finally:
            TransformerFamily.forward = real  # type: ignore[method-assign]
        assert not c.evaluate(spec, bad, 1e-4).passed, planted.__name__


# --- postln_sublayer_gain (docs/theory.md §10.6) ----------------------------------------------

POSTLN_SPEC = T(depth=2, width=32, seq=8, ffn=4, placement="post", init="lecun_normal",
                attention="uniform")


def _gauss_moments(phi, dphi, var: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """E phi(s z)^2 and E phi'(s z)^2, z ~ N(0, 1), s^2 = var, by 120-node Hermite-Gauss."""
    z, w = np.polynomial.hermite_e.hermegauss(120)
    x = math.sqrt(var) * z
    return float(w @ phi(x) ** 2 / w.sum()), float(w @ dphi(x) ** 2 / w.sum())


def test_postln_gain_law_against_hand_computed_gains() -> None:
    """ln G = ln[(a^2 + c_J)/(a^2 + c_F) (1 - (2 - 3r)/d)] with c_F = s2^2 E phi(s1 z)^2 and
    c_J = s2^2 s1^2 E phi'(s1 z)^2 computed here by hand (LeCun: s^2 = 1 at each matrix)."""
    from gradbench.theory._transformer import postln_top_gain

    lin = POSTLN_SPEC.replace(activation="linear")  # c_F = c_J = 1: r = 1/2
    assert postln_top_gain(lin) == pytest.approx((math.log(1 - 0.5 / 32), 0.5), rel=1e-12)
    spec = POSTLN_SPEC.replace(activation="tanh", skip_scale=0.8, branch_gain=0.5)
    s1 = s2 = 0.25  # beta^2 times LeCun's 1
    phi2, dphi2 = _gauss_moments(np.tanh, lambda x: 1 / np.cosh(x) ** 2, s1)
    c_f, c_j = s2 * phi2, s2 * s1 * dphi2
    r = c_f / (0.64 + c_f)
    law, got_r = postln_top_gain(spec)
    assert got_r == pytest.approx(r, rel=1e-9)
    assert law == pytest.approx(math.log((0.64 + c_j) / (0.64 + c_f) * (1 - (2 - 3 * r) / 32)),
                                rel=1e-9)
    assert c_j > c_f  # tanh: the backward gain exceeds the forward one


def test_postln_claim_domain() -> None:
    c = claims.get_claim("postln_sublayer_gain")
    assert claims.why_not(c, POSTLN_SPEC) is None
    assert claims.why_not(c, POSTLN_SPEC.replace(activation="gelu", causal=True)) is None
    assert "placement='pre'" in claims.why_not(c, POSTLN_SPEC.replace(placement="pre"))
    assert "uniform" in claims.why_not(c, POSTLN_SPEC.replace(init="xavier_uniform"))
    assert "width=16" in claims.why_not(c, POSTLN_SPEC.replace(width=16))
    assert "depth=5" in claims.why_not(c, POSTLN_SPEC.replace(depth=5))
    assert claims.why_not(c, gb.MLPSpec(depth=2, width=8)) is not None


def _detached_ln(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm whose mean and variance are constants to autograd (a planted bug)."""
    mean = x.mean(dim=-1, keepdim=True).detach()
    var = (x - mean).pow(2).mean(dim=-1, keepdim=True).detach()
    return (x - mean) / torch.sqrt(var + 1e-5)


def _rms(x: torch.Tensor) -> torch.Tensor:
    """RMSNorm without affine parameters (a planted bug in place of LayerNorm)."""
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + 1e-5)


@pytest.mark.parametrize("planted", [_detached_ln, _rms])
def test_postln_claim_holds_and_detects_planted_norms(planted, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On the correct stack the claim holds; with the LayerNorm's statistics detached, or
    RMSNorm in its place, the same networks fail it at 1e-4 (small branch: r = 0.05, where
    RMSNorm moves the gain by (1 - r)/d)."""
    import gradbench.models as models

    c = claims.get_claim("postln_sublayer_gain")
    spec = POSTLN_SPEC.replace(activation="relu", branch_gain=0.5)
    assert c.evaluate(spec, gb.measure(spec, seeds=256, batch=8), 1e-4).passed
    monkeypatch.setattr(models, "_layer_norm", planted)
    assert not c.evaluate(spec, gb.measure(spec, seeds=256, batch=8), 1e-4).passed
