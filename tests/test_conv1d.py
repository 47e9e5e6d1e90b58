"""The 1-D convolutional family: spec, stacked probe vs an ``nn.Conv1d`` reference, theory.

The reference module is built from ``nn.Conv1d(padding_mode="circular")``; the stacked
functional forward computes the same sum over rolled copies of its input. The two must
agree to 1e-10 in float64 (measurements, weight gradients, training steps).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import gradbench as gb
from gradbench import claim_probes, registry, theory
from gradbench.claims import applicable, check
from gradbench.errors import InvalidArgument
from gradbench.models import build_module, family_of
from gradbench.remedies.initializers import _orthogonal_var
from gradbench.specs import Conv1DSpec, spec_from_dict, spec_label
from gradbench.training import TrainSpec, train_probe, train_reference

SPECS = [
    Conv1DSpec(depth=4, channels=6, length=7, kernel=3, activation="tanh", sigma_b2=0.1),
    Conv1DSpec(depth=3, channels=5, length=4, kernel=1, activation="relu", init="xavier_uniform"),
    Conv1DSpec(depth=3, channels=4, length=9, kernel=5, activation="gelu", init="orthogonal"),
    Conv1DSpec(depth=2, channels=3, length=5, kernel=5, activation="selu", init="torch_default"),
    Conv1DSpec(depth=3, channels=4, length=6, activation="linear", init="identity"),
]


@pytest.mark.parametrize("spec", SPECS, ids=spec_label)
def test_probe_equals_the_conv1d_reference(spec: Conv1DSpec) -> None:
    m = gb.measure(spec, seeds=3, batch=4, dtype="float64", seed=5)
    ref = gb.measure_reference(spec, seeds=3, batch=4, seed=5)
    assert m.act_grad_norms.shape == (3, spec.depth)
    assert not m.nonfinite.any()
    for got, want in ((m.act_grad_norms, ref.act_grad_norms),
                      (m.weight_grad_norms, ref.weight_grad_norms),
                      (m.preact_second_moment, ref.preact_second_moment)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


def test_reference_module_is_circular_conv1d() -> None:
    spec = SPECS[0]
    model = build_module(spec)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert len(convs) == spec.depth
    assert all(c.padding_mode == "circular" and c.kernel_size == (3,) for c in convs)
    x = torch.randn(2, spec.channels, spec.length, dtype=torch.float64)
    assert model({"x": x}).shape == x.shape  # length is kept


def test_a_circular_shift_of_the_input_shifts_every_site() -> None:
    """Translation equivariance: circular padding makes every position alike."""
    spec = SPECS[0]
    family = family_of(spec)
    params, data = gb.models.draw_network(spec, 2, 0, 0)
    shifted = {k: torch.roll(v, 2, dims=-1) for k, v in data.items()}
    for d in (data, shifted):
        d["x"].requires_grad_(True)
    sites = family.forward(spec, params, data).sites
    moved = family.forward(spec, params, shifted).sites
    for a, b in zip(sites, moved):
        torch.testing.assert_close(torch.roll(a, 2, dims=-1), b, rtol=1e-12, atol=1e-12)


def test_training_probe_equals_the_reference_loop() -> None:
    spec = Conv1DSpec(depth=3, channels=4, length=5, activation="tanh")
    train = TrainSpec(optimizer="adam", lr=0.01, steps=3, batch=4, dropout=0.2)
    fast = train_probe(spec, train, seeds=2, dtype="float64")
    slow = train_reference(spec, train, seeds=2)
    assert fast.layers == ("W0", "W1", "W2")
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-10, atol=0)
    np.testing.assert_allclose(fast.update_norm, slow.update_norm, rtol=1e-10, atol=0)


def test_kernel_fans_set_the_weight_variance() -> None:
    """Var W = sigma_w2 / (C k): He init gives sigma_w2 = 2 whatever the kernel size."""
    spec = Conv1DSpec(depth=1, channels=64, length=9, kernel=5, init="he_normal")
    assert spec.weight_fans == (320, 320)
    assert gb.specs.weight_variance(spec) == pytest.approx(2.0, rel=1e-15)
    w = gb.models.draw_network(spec, 1, 0, 0)[0]["W0"]
    assert tuple(w.shape) == (64, 64, 5)
    assert float(w.var()) == pytest.approx(2.0 / 320, rel=0.05)  # 20,480 entries
    assert gb.specs.bias_variance(spec.replace(init="torch_default")) == pytest.approx(
        1 / (3 * 320), rel=1e-15
    )


def test_prediction_is_the_mlp_chi_trajectory() -> None:
    spec = Conv1DSpec(depth=6, channels=64, length=8, activation="tanh", init="normal",
                      sigma_w2=2.0, sigma_b2=0.05, input_var=0.5)
    p = theory.predict(spec)
    assert p.valid
    mlp = theory.predict(gb.MLPSpec(depth=6, width=64, activation="tanh", init="normal",
                                    sigma_w2=2.0, sigma_b2=0.05, input_var=0.5))
    assert p.log_growth == pytest.approx(mlp.log_growth, rel=1e-15)
    assert p.quantities["chi1"] == pytest.approx(theory.chi1("tanh", 2.0, 0.05), rel=1e-15)
    assert "Xiao" in p.source
    assert "circular" in p.domain
    narrow = theory.predict(spec.replace(channels=8))
    assert not narrow.valid
    assert "channels=8" in narrow.reason
    assert not theory.predict(spec.replace(init="orthogonal")).valid


def test_relu_he_prediction_is_flat() -> None:
    p = theory.predict(Conv1DSpec(depth=5, channels=64, length=8, kernel=3))
    assert p.log_growth == pytest.approx([0.0] * 4, abs=1e-15)
    assert math.isclose(p.quantities["chi1"], 1.0, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"kernel": 4}, r"kernel=4 is invalid: must be odd and <= length=8"),
        ({"kernel": 9}, r"kernel=9 is invalid"),
        ({"channels": 0}, r"channels=0 is invalid"),
        ({"length": 0}, r"length=0 is invalid"),
        ({"activation": "tanhh"}, r"activation='tanhh' is invalid"),
        ({"input_var": 0.0}, r"input_var=0.0 is invalid"),
    ],
)
def test_bad_fields(fields: dict[str, object], match: str) -> None:
    base: dict[str, object] = {"depth": 2, "channels": 4, "length": 8}
    with pytest.raises(InvalidArgument, match=match):
        Conv1DSpec(**(base | fields))  # type: ignore[arg-type]


def test_spec_round_trip_label_and_public_name() -> None:
    spec = Conv1DSpec(depth=2, channels=4, length=8, kernel=5, sigma_b2=0.1)
    assert spec_from_dict(spec.to_dict()) == spec
    assert spec_label(spec) == "conv1d-L2-c4-t8-k5-relu-he_normal-sigma_b2=0.1"
    assert gb.Conv1DSpec is Conv1DSpec
    assert gb.specs.family_info("conv1d").title == "1-D CNN"


# --- delta-orthogonal isometry (docs/theory.md §11.1) ----------------------------------------


def _linear_delta(init: str = "delta_orthogonal(gain=1.2)", **fields: object) -> Conv1DSpec:
    base: dict[str, object] = dict(depth=9, channels=6, length=7, kernel=3, activation="linear",
                                   init=init, sigma_b2=0.0)
    return Conv1DSpec(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize("fields", [{}, {"kernel": 1}, {"kernel": 5, "depth": 20},
                                    {"sigma_w2": 0.64}])
def test_delta_orthogonal_net_is_an_exact_isometry(fields: dict[str, object]) -> None:
    spec = _linear_delta(**fields)
    v = check(spec, "delta_orthogonal_isometry", seed=3)
    gain = math.sqrt(gb.specs.weight_variance(spec))
    assert v.passed, v.note
    assert v.predicted == pytest.approx(gain**spec.depth, rel=1e-15)
    assert v.statistic <= 1.0
    assert v.ci_low == pytest.approx(v.ci_high, rel=1e-10)


def _planted_delta(centre: object) -> object:
    """A kernel declaring delta-orthogonal whose centre tap is ``centre(c_out, c_in, g, gen)``."""

    def init(w: torch.Tensor, *, generator: torch.Generator, gain: float = 1.0) -> None:
        with torch.no_grad():
            w.zero_()
            w[:, :, w.shape[2] // 2] = centre(w.shape[0], w.shape[1], gain, generator)  # type: ignore[operator]

    return init


def _orth(n: int, m: int, gain: float, gen: torch.Generator) -> torch.Tensor:
    w = torch.empty(n, m, dtype=torch.float64)
    registry.lookup("initializer", "orthogonal").fn(w, generator=gen, gain=gain)
    return w


PLANTED_CENTRES = {
    "sqrt_gain": lambda n, m, g, gen: _orth(n, m, math.sqrt(g), gen),
    "gaussian_centre": lambda n, m, g, gen: g * torch.randn(n, m, generator=gen,
                                                            dtype=torch.float64) / math.sqrt(m),
}


@pytest.mark.parametrize("planted", list(PLANTED_CENTRES))
def test_delta_orthogonal_isometry_catches_planted_kernels(planted: str) -> None:
    with registry.temporary("initializer", "calib_delta", _planted_delta(PLANTED_CENTRES[planted]),
                            variance=_orthogonal_var, distribution="orthogonal", kernel="delta"):
        v = check(_linear_delta("calib_delta(gain=1.2)"), "delta_orthogonal_isometry")
    assert not v.passed
    assert v.statistic > 1e3  # far outside the 1e-10 tolerance
    assert "want g^L" in v.note


@pytest.mark.parametrize(("fields", "match"), [
    ({"activation": "tanh"}, "linear nets only"),
    ({"init": "orthogonal"}, "does not declare delta-orthogonal"),
    ({"sigma_b2": 0.1}, "sigma_b2 must be 0"),
    ({"channels": 40, "length": 30}, "too large"),
])
def test_delta_orthogonal_isometry_domain(fields: dict[str, object], match: str) -> None:
    assert match in str(applicable(_linear_delta(**fields), "delta_orthogonal_isometry"))
    assert "Conv1DSpec" in str(applicable(gb.MLPSpec(depth=2, width=4),
                                          "delta_orthogonal_isometry"))


# --- spatial modes of the second moment (docs/theory.md §11.2) --------------------------------


def _modulated(**fields: object) -> Conv1DSpec:
    base: dict[str, object] = dict(depth=4, channels=64, length=16, kernel=3, activation="relu",
                                   init="he_normal", sigma_b2=0.0, input_mode=1,
                                   input_modulation=0.6)
    return Conv1DSpec(**(base | fields))  # type: ignore[arg-type]


def test_default_input_profile_keeps_earlier_specs_and_seeds() -> None:
    spec = Conv1DSpec(depth=2, channels=4, length=8)
    assert "input_mode" not in spec.to_dict()
    assert "input_modulation" not in spec.to_dict()
    legacy = {"family": "conv1d", "depth": 2, "channels": 4, "length": 8, "kernel": 3,
              "activation": "relu", "init": "he_normal", "sigma_w2": None, "sigma_b2": None,
              "input_var": 1.0}
    assert spec.to_dict() == legacy
    assert spec_from_dict(legacy) == spec
    assert spec.input_variances == (1.0,) * 8
    modulated = spec.replace(input_mode=2, input_modulation=-0.5)
    assert spec_from_dict(modulated.to_dict()) == modulated
    assert gb.models.derive_seed(modulated, 0, 0, "data") != gb.models.derive_seed(
        spec, 0, 0, "data")
    assert modulated.input_variances[0] == pytest.approx(0.5, rel=1e-15)
    assert modulated.input_variances[1] == pytest.approx(1.0, abs=1e-15)  # cos(pi/2)
    assert modulated.input_variances[2] == pytest.approx(1.5, rel=1e-15)  # cos(pi)


@pytest.mark.parametrize(("fields", "match"), [
    ({"input_mode": 5}, r"input_mode=5 is invalid: must be an integer in \[0, length // 2 = 4\]"),
    ({"input_mode": -1}, r"input_mode=-1 is invalid"),
    ({"input_modulation": 1.0}, r"input_modulation=1.0 is invalid: must be a number in \(-1, 1\)"),
    ({"input_modulation": "a"}, r"input_modulation='a' is invalid"),
])
def test_bad_input_profile(fields: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        Conv1DSpec(**({"depth": 2, "channels": 4, "length": 8} | fields))  # type: ignore[arg-type]


def test_modulated_input_has_the_declared_variance_profile() -> None:
    spec = _modulated(channels=32)
    _, data = gb.models.draw_network(spec, 256, 0, 0)
    measured = data["x"].pow(2).mean(dim=(0, 1)).numpy()  # 8,192 entries per position
    np.testing.assert_allclose(measured, spec.input_variances, rtol=0.06)
    plain, _ = gb.models.draw_network(spec.replace(input_modulation=0.0, input_mode=0), 2, 0, 0)
    assert set(plain) == {f"{w}{i}" for w in "Wb" for i in range(spec.depth)}


def test_spatial_mode_factor_is_the_closed_form() -> None:
    for k, n, m in [(3, 16, 1), (5, 16, 3), (3, 32, 7), (1, 8, 2), (7, 12, 5)]:
        lam = theory.spatial_mode_factor(k, n, m)
        closed = math.sin(math.pi * m * k / n) / (k * math.sin(math.pi * m / n))
        assert lam.real == pytest.approx(closed, rel=1e-12, abs=1e-15)
        assert abs(lam.imag) < 1e-15
    assert theory.spatial_mode_factor(5, 16, 0) == pytest.approx(1.0, rel=1e-15)
    assert theory.spatial_mode_factor(3, 16, 6).real < 0  # a phase of pi


def test_spatial_mode_law_scale_and_coefficients() -> None:
    law = theory.conv_spatial_modes(_modulated(depth=5, input_var=0.5))
    lam = theory.spatial_mode_factor(3, 16, 1).real
    assert law.kappa == 0.5
    for layer, (c0, cm) in enumerate(zip(law.scale, law.coefficient), start=1):
        # the input is not passed through phi: no kappa at layer 1
        assert c0 == pytest.approx(0.5 * 2.0**layer * 0.5 ** (layer - 1), rel=1e-14)
        assert cm == pytest.approx(c0 * 0.6 * lam**layer, rel=1e-14)
    leaky = theory.conv_spatial_modes(_modulated(activation="leaky_relu(negative_slope=0.2)"))
    assert leaky.kappa == pytest.approx((1 + 0.04) / 2, rel=1e-15)
    assert theory.conv_spatial_modes(_modulated(activation="linear")).kappa == 1.0


@pytest.mark.parametrize(("fields", "match"), [
    ({"activation": "tanh"}, "not positively homogeneous"),
    ({"init": "orthogonal"}, "i.i.d. zero-mean"),
    ({"sigma_b2": 0.1}, "sigma_b2 = 0"),
    ({"input_modulation": 0.0}, "no modulated variance"),
])
def test_spatial_mode_law_domain(fields: dict[str, object], match: str) -> None:
    spec = _modulated(**fields)
    assert match in str(theory.spatial_modes_issue(spec))
    with pytest.raises(InvalidArgument, match=match):
        theory.conv_spatial_modes(spec)
    assert match in str(applicable(spec, "conv_spatial_modes"))


def test_conv_spatial_modes_claim_domain_extras() -> None:
    assert "depth=9 > channels/8" in str(applicable(_modulated(depth=9), "conv_spatial_modes"))
    assert "m < length/2" in str(applicable(_modulated(input_mode=8), "conv_spatial_modes"))


def test_modulated_tanh_has_no_mean_field_prediction() -> None:
    p = theory.predict(_modulated(activation="tanh", init="xavier_normal"))
    assert not p.valid
    assert "input_modulation=0.6" in p.reason
    assert theory.predict(_modulated()).valid  # ReLU: chi does not depend on q


def test_conv_spatial_modes_holds_and_catches_a_phase_error() -> None:
    spec = _modulated(depth=4, input_mode=2)
    q = claim_probes.conv_profiles(spec, seeds=24, batch=8, seed=1)
    assert q.shape == (24, 4, 16)
    v = check(spec, "conv_spatial_modes", measurement=q, alpha=0.01)
    assert v.passed, v.note
    law = theory.conv_spatial_modes(spec)
    c0, _cm = gb.claims.conv.fourier_coefficients(q, (2,))
    np.testing.assert_allclose(c0.mean(axis=0), law.scale, rtol=0.25)
    # a law rotated by the phase 2 pi m p / T per layer (the kernel offset forgotten)
    rotated = [c * complex(math.cos(4 * math.pi * layer / 16), math.sin(4 * math.pi * layer / 16))
               for layer, c in enumerate(law.coefficient, start=1)]
    real = theory.conv_spatial_modes
    try:
        theory.conv_spatial_modes = lambda s: gb.theory.SpatialModes(  # type: ignore[assignment]
            law.mode, law.scale, tuple(rotated), law.factor, law.kappa)
        bad = check(spec, "conv_spatial_modes", measurement=q, alpha=0.01)
    finally:
        theory.conv_spatial_modes = real  # type: ignore[assignment]
    assert not bad.passed
    assert "Im c_2" in bad.note or "Re c_2" in bad.note


def test_delta_kernel_jacobian_blocks_equal_the_full_autograd_jacobian() -> None:
    """The block-diagonal Jacobian of a delta-orthogonal tanh CNN has the eigenvalues of the
    full (C T) x (C T) Jacobian of its nn.Conv1d reference module."""
    spec = Conv1DSpec(depth=4, channels=6, length=5, kernel=3, activation="tanh",
                      init="delta_orthogonal(gain=1.3)", sigma_b2=0.1)
    family = family_of(spec)
    assert family.has_jacobian(spec)
    assert not family.has_jacobian(spec.replace(init="orthogonal"))
    blocks = gb.probe.jacobian_eigenvalues(spec, seeds=2)
    assert blocks.shape == (2, 30)
    for index in range(2):
        params, data = gb.models.draw_network(spec, 1, 0, index)
        model = family.module(spec, params)
        jac = torch.autograd.functional.jacobian(
            lambda z, model=model: model({"x": z.unsqueeze(0)}).flatten(), data["x"][0])
        jac = jac.reshape(30, 30)
        full = torch.linalg.eigvalsh(jac @ jac.T).numpy()
        np.testing.assert_allclose(np.sort(blocks[index]), full, rtol=1e-10, atol=1e-13)
    assert applicable(spec, "jacobian_spectrum") is None
    assert "plain MLPs" in str(applicable(spec.replace(init="he_normal"), "jacobian_spectrum"))
