"""The 2-D convolutional families (Conv2DSpec, ResConv2DSpec; docs/theory.md §11.3).

The suite's ``probe_equals_reference`` compares them to nn.Conv2d / nn.BatchNorm2d; here:
autograd gradient checks of the stacked forward, BatchNorm's axes, the stacked (seed axis)
forward against single networks, the 2-D delta-orthogonal kernel, bad input.
"""

from __future__ import annotations

import math

import pytest
import torch
from quality import power  # the planted errors the calibration measures

import gradbench as gb
from gradbench.errors import InvalidArgument
from gradbench.models import _batchnorm2d, draw_network, family_of

SPECS = [
    gb.Conv2DSpec(depth=2, channels=2, height=4, width=3, kernel=3, padding="circular",
                  activation="tanh"),
    gb.Conv2DSpec(depth=2, channels=2, height=3, width=4, kernel=3, padding="zeros",
                  batchnorm=True, activation="tanh"),
    gb.ResConv2DSpec(depth=2, channels=2, height=3, width=3, kernel=3, padding="zeros",
                     activation="tanh", alpha=0.5),
    gb.ResConv2DSpec(depth=2, channels=2, height=3, width=4, kernel=3, padding="circular",
                     batchnorm=True, activation="tanh"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.family}-{s.padding}-bn{s.batchnorm}")
def test_stacked_forward_gradcheck(spec):
    """Autograd of the stacked forward matches finite differences (input and every weight)."""
    family = family_of(spec)
    params, data = draw_network(spec, 2, 0, 0)
    names = sorted(params)

    def loss(x, *weights):
        return family.forward(spec, dict(zip(names, weights)), {**data, "x": x}).loss

    inputs = [data["x"].clone().requires_grad_(True),
              *(params[n].clone().requires_grad_(True) for n in names)]
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.family}-{s.padding}-bn{s.batchnorm}")
def test_seed_axis_forward_equals_single_networks(spec):
    """Networks stacked on a leading axis give each network's own sites."""
    family = family_of(spec)
    nets = [draw_network(spec, 3, 5, i) for i in range(3)]
    params = {k: torch.stack([p[k] for p, _ in nets]) for k in nets[0][0]}
    data = {k: torch.stack([d[k] for _, d in nets]) for k in nets[0][1]}
    stacked = family.forward(spec, params, {**data, "x": data["x"].requires_grad_(True)}).sites
    for i, (p, d) in enumerate(nets):
        single = family.forward(spec, p, {**d, "x": d["x"].requires_grad_(True)}).sites
        for a, b in zip(stacked, single):
            torch.testing.assert_close(a[i], b, rtol=1e-12, atol=1e-12)


def test_batchnorm2d_normalizes_per_channel_over_batch_and_positions():
    """Each channel has mean 0 and (biased) variance var/(var + eps) over (batch, H, W),
    while single positions do not: the statistics pool positions, not only the batch."""
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(4, 3, 5, 6, generator=gen, dtype=torch.float64) * 3 + torch.arange(
        5, dtype=torch.float64).view(1, 1, 5, 1)
    out = _batchnorm2d(h)
    var = h.var(dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64),
                               atol=1e-12, rtol=0)
    torch.testing.assert_close(out.var(dim=(0, 2, 3), unbiased=False),
                               var / (var + gb.specs.BATCHNORM2D_EPS), rtol=1e-12, atol=0)
    assert out.mean(dim=(0, 3)).abs().max() > 0.1  # row means differ: positions pooled


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_delta_orthogonal_2d_kernel(kernel):
    """Xiao et al. 2018, Algorithm 2 in 2-D: an orthogonal centre tap, every other tap 0."""
    w = torch.empty(6, 6, kernel, kernel, dtype=torch.float64)
    gb.lookup("initializer", "delta_orthogonal").fn(w, generator=torch.Generator().manual_seed(1),
                                                    gain=1.3)
    c = kernel // 2
    centre = w[:, :, c, c]
    torch.testing.assert_close(centre.T @ centre, 1.69 * torch.eye(6, dtype=torch.float64))
    w[:, :, c, c] = 0
    assert w.abs().max() == 0


@pytest.mark.parametrize("padding", ["circular", "zeros"])
def test_linear_delta_orthogonal_conv2d_is_isometry(padding):
    """The registered claim passes on both paddings (every tap but the centre is 0)."""
    spec = gb.Conv2DSpec(depth=6, channels=3, height=4, width=5, kernel=3, padding=padding,
                         activation="linear", init="delta_orthogonal(gain=1.1)", sigma_b2=0.0)
    assert gb.check(spec, "delta_orthogonal_isometry").passed


def test_isometry_claim_fails_on_a_non_isometric_conv2d():
    """Domain kept but kernels misplaced: a corner tap with zero padding loses a border."""
    spec = gb.Conv2DSpec(depth=4, channels=3, height=4, width=4, kernel=3, padding="zeros",
                         activation="linear", init="delta_orthogonal", sigma_b2=0.0)
    family = family_of(spec)
    params, data = draw_network(spec, 4, 0, 0)
    for name in [n for n in params if n.startswith("W")]:
        params[name] = torch.roll(params[name], (1, 1), dims=(-2, -1))  # centre -> corner
    x = data["x"].requires_grad_(True)
    out = family.forward(spec, params, {**data, "x": x}).sites[-1].detach()
    ratio = out.flatten(1).norm(dim=1) / data["x"].detach().flatten(1).norm(dim=1)
    assert (ratio < 0.99).all()


@pytest.mark.parametrize(("changes", "field"), [
    (dict(kernel=4), "kernel"), (dict(kernel=7), "kernel"), (dict(padding="reflect"), "padding"),
    (dict(batchnorm=1), "batchnorm"), (dict(height=0), "height"),
])
def test_bad_conv2d_specs_are_refused(changes, field):
    kwargs = dict(depth=2, channels=2, height=5, width=5, kernel=3) | changes
    with pytest.raises(InvalidArgument, match=rf"Conv2DSpec\.{field}="):
        gb.Conv2DSpec(**kwargs)
    with pytest.raises(InvalidArgument, match=rf"ResConv2DSpec\.{field}="):
        gb.ResConv2DSpec(**kwargs)


def test_resconv2d_alpha_must_be_finite():
    with pytest.raises(InvalidArgument, match=r"ResConv2DSpec\.alpha=inf"):
        gb.ResConv2DSpec(depth=1, channels=2, height=3, width=3, alpha=float("inf"))


def test_spec_round_trip():
    for spec in SPECS:
        assert gb.spec_from_dict(spec.to_dict()) == spec


# --------------------------------------------------------------------------------------
# Mean field (docs/theory.md §11.3): circular padding, no BatchNorm, i.i.d. kernels
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("activation", "init", "kernel"),
                         [("tanh", "xavier_normal", 3), ("relu", "he_normal", 5),
                          ("gelu", "torch_default", 1)])
def test_conv2d_prediction_is_the_mlp_chain_at_fan_in_c_k2(activation, init, kernel):
    """The per-layer log growth equals an MLP's of width C at the kernel's sigma_w2 (its
    variance times C k^2), whatever the image size."""
    from gradbench import theory
    from gradbench.specs import bias_variance, weight_variance

    spec = gb.Conv2DSpec(depth=7, channels=32, height=5, width=6, kernel=kernel,
                         activation=activation, init=init)
    mlp = gb.MLPSpec(depth=7, width=32, activation=activation, init="normal",
                     sigma_w2=weight_variance(spec), sigma_b2=bias_variance(spec))
    conv, dense = theory.predict(spec), theory.predict(mlp)
    assert conv.valid, conv.reason
    assert conv.log_growth == pytest.approx(dense.log_growth, rel=1e-12)
    wider = theory.predict(gb.Conv2DSpec(depth=7, channels=32, height=3, width=3,
                                         kernel=min(kernel, 3), activation=activation,
                                         init=init))
    if kernel <= 3:
        assert wider.log_growth == pytest.approx(conv.log_growth, rel=1e-12)


def test_resconv2d_prediction_is_the_residual_recursion_at_fan_in_c_k2():
    from gradbench import theory

    spec = gb.ResConv2DSpec(depth=6, channels=32, height=4, width=4, kernel=3,
                            activation="tanh", init="xavier_normal", out_init="he_normal",
                            alpha=0.7)
    got = theory.predict(spec)
    assert got.valid, got.reason
    # Xavier at fan-in = fan-out: sigma_w2 = 1; He: sigma_v2 = 2 (both per C k^2)
    expected = theory.residual_mean_field("tanh", 1.0, 0.0, 2.0, [0.7] * 6).log_growth[:-1]
    assert got.log_growth == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("changes", "why"), [
    ({"padding": "zeros"}, "padding='zeros': border positions"),
    ({"batchnorm": True}, "batchnorm=True with a k x k kernel, k > 1"),
    ({"init": "delta_orthogonal"}, "draws orthogonal kernels"),
])
@pytest.mark.parametrize("spec_type", [gb.Conv2DSpec, gb.ResConv2DSpec])
def test_no_2d_prediction_outside_the_derivation(spec_type, changes, why):
    from gradbench import theory

    spec = spec_type(**{"depth": 4, "channels": 32, "height": 4, "width": 4, **changes})
    got = theory.predict(spec)
    assert not got.valid
    assert why in got.reason


def test_mean_field_slope_catches_a_2d_kernel_drawn_at_fan_in_c_k():
    """The probe agrees with the prediction; drawing 2-D kernels at fan-in C k (one kernel
    axis: 3x the variance) fails the claim (tests/quality/power.py measures its rates)."""
    from gradbench.claims import check

    spec = gb.Conv2DSpec(depth=6, channels=32, height=4, width=4, kernel=3,
                         activation="relu", init="he_normal")
    assert check(spec, "mean_field_slope", seeds=16, batch=16).passed
    with power.conv2d_fan_one_kernel_axis():
        assert not check(spec, "mean_field_slope", seeds=16, batch=16).passed


# --------------------------------------------------------------------------------------
# Spatial modes in 2-D (docs/theory.md §11.4): mode (m, n) decays by lambda_m(H) lambda_n(W)
# --------------------------------------------------------------------------------------


def _modulated2d(**changes):
    fields = dict(depth=4, channels=32, height=8, width=10, kernel=3, activation="relu",
                  init="he_normal", sigma_b2=0.0, input_mode_h=1, input_mode_w=2,
                  input_modulation=0.6)
    return gb.Conv2DSpec(**(fields | changes))


def test_modulated_input_has_the_declared_variance_profile():
    """Per (row, column), the drawn inputs' variance is input_var (1 + a cos(2 pi (m s / H +
    n t / W))); unmodulated specs keep their seeds (the fields leave to_dict)."""
    spec = _modulated2d(input_var=0.5)
    _, data = draw_network(spec, 4096, 0, 0)
    var = data["x"].pow(2).mean(dim=(0, 1))  # [H, W]
    s, t = torch.meshgrid(torch.arange(8.0), torch.arange(10.0), indexing="ij")
    want = 0.5 * (1 + 0.6 * torch.cos(2 * torch.pi * (s / 8 + 2 * t / 10)))
    torch.testing.assert_close(var, want.to(var.dtype), rtol=0.03, atol=0)
    plain = _modulated2d(input_mode_h=0, input_mode_w=0, input_modulation=0.0)
    assert "input_modulation" not in plain.to_dict()
    assert gb.spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(("changes", "field"), [
    (dict(input_mode_h=5), "input_mode_h"), (dict(input_mode_w=6), "input_mode_w"),
    (dict(input_mode_w=-1), "input_mode_w"), (dict(input_modulation=1.0), "input_modulation"),
])
def test_bad_input_modes_are_refused(changes, field):
    with pytest.raises(InvalidArgument, match=rf"Conv2DSpec\.{field}=.* is invalid"):
        _modulated2d(**changes)


def test_2d_spatial_mode_factor_is_the_product_of_the_axes():
    from gradbench import theory

    law = theory.conv_spatial_modes(_modulated2d(depth=5, input_var=0.5))
    lam = theory.spatial_mode_factor(3, 8, 1) * theory.spatial_mode_factor(3, 10, 2)
    assert law.mode == (1, 2)
    assert law.factor == pytest.approx(lam, rel=1e-14)
    for layer, (c0, cm) in enumerate(zip(law.scale, law.coefficient), start=1):
        assert c0 == pytest.approx(0.5 * 2.0**layer * 0.5 ** (layer - 1), rel=1e-14)
        assert cm == pytest.approx(c0 * 0.6 * lam**layer, rel=1e-14)
    # one axis unmodulated: lambda_0 = 1 there, the other axis's 1-D factor alone
    rows = theory.conv_spatial_modes(_modulated2d(input_mode_w=0))
    assert rows.factor == pytest.approx(theory.spatial_mode_factor(3, 8, 1), rel=1e-14)


@pytest.mark.parametrize(("changes", "match"), [
    ({"padding": "zeros"}, "padding='zeros'"),
    ({"batchnorm": True}, "batchnorm=True"),
    ({"input_modulation": 0.0}, "no modulated variance"),
    ({"activation": "tanh", "init": "xavier_normal"}, "not positively homogeneous"),
])
def test_no_2d_spatial_mode_law_outside_its_domain(changes, match):
    from gradbench import theory
    from gradbench.claims import applicable

    spec = _modulated2d(**changes)
    assert match in str(theory.spatial_modes_issue(spec))
    with pytest.raises(InvalidArgument, match=match):
        theory.conv_spatial_modes(spec)
    assert match in str(applicable(spec, "conv_spatial_modes"))
    assert "2 m < n on every axis" in str(applicable(_modulated2d(input_mode_w=5),
                                                     "conv_spatial_modes"))


def test_modulated_2d_tanh_has_no_mean_field_prediction():
    from gradbench import theory

    got = theory.predict(_modulated2d(activation="tanh", init="xavier_normal"))
    assert not got.valid
    assert "input_modulation=0.6" in got.reason
    assert theory.predict(_modulated2d()).valid  # ReLU: chi does not depend on q


def test_conv_spatial_modes_2d_holds_and_catches_one_axis_forgotten():
    """The probe's 2-D profiles pass the law; a law that forgets the column axis's factor
    (the 1-D factor of the rows alone) fails it, naming a coefficient of mode (1, 2)."""
    from gradbench import claim_probes
    from gradbench.claims import check

    spec = _modulated2d()
    q = claim_probes.conv_profiles(spec, seeds=32, batch=8, seed=1)
    assert q.shape == (32, 4, 8, 10)
    good = check(spec, "conv_spatial_modes", measurement=q, alpha=0.01)
    assert good.passed, good.note
    with power.conv2d_modes_one_axis():
        bad = check(spec, "conv_spatial_modes", measurement=q, alpha=0.01)
    assert not bad.passed
    assert "c_(1, 2)" in bad.note


# --------------------------------------------------------------------------------------
# BatchNorm2d with 1 x 1 kernels (docs/theory.md §11.3): the BatchNorm MLP at batch B H W
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh"])
def test_pointwise_batchnorm_prediction_is_the_mlp_at_batch_b_h_w(activation):
    from gradbench import theory

    spec = gb.Conv2DSpec(depth=6, channels=128, height=4, width=5, kernel=1, batchnorm=True,
                         activation=activation, padding="zeros")
    mlp = gb.MLPSpec(depth=6, width=128, activation=activation, norm="batchnorm")
    got, want = theory.predict(spec, batch=8), theory.predict(mlp, batch=8 * 20)
    assert got.valid
    assert want.valid
    assert got.log_growth == pytest.approx(want.log_growth, rel=1e-14)
    assert "B H W = 160" in got.assumptions[0]
    if activation == "linear":  # the exact finite-batch rate (b-2)/(b-3) at b = B H W
        assert got.log_growth[-1] == pytest.approx(0.5 * math.log(158 / 157), rel=1e-12)
    else:  # B H W = 64 < 128: no closed form for a nonlinear BatchNorm at that batch
        small = theory.predict(spec.replace(height=2, width=4), batch=8)
        assert not small.valid
        assert small.reason.startswith("B H W = 64 examples: batch=64 < 128")


def test_pointwise_batchnorm_refuses_a_modulated_input():
    from gradbench import theory

    spec = gb.Conv2DSpec(depth=4, channels=64, height=4, width=4, kernel=1, batchnorm=True,
                         input_mode_h=1, input_modulation=0.5)
    got = theory.predict(spec, batch=8)
    assert not got.valid
    assert "not examples of one MLP" in got.reason


def test_mean_field_slope_catches_batchnorm2d_statistics_per_position():
    """The probe's 1 x 1 BatchNorm2d net passes; statistics over the batch at each position
    (batch 8 where B H W = 128 is predicted) fail it (tests/quality/power.py's rates)."""
    from gradbench.claims import check

    spec = gb.Conv2DSpec(depth=6, channels=128, height=4, width=4, kernel=1, batchnorm=True,
                         activation="linear")
    assert check(spec, "mean_field_slope", seeds=16, batch=8).passed
    with power.batchnorm2d_per_position():
        assert not check(spec, "mean_field_slope", seeds=16, batch=8).passed
