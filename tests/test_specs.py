"""Spec validation (one table of bad inputs), canonical forms, round trips and variances."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import gradbench as gb
from gradbench.errors import InvalidArgument
from gradbench.specs import (
    MLPSpec,
    ResidualSpec,
    RNNSpec,
    bias_variance,
    branch_out_variance,
    spec_from_dict,
    spec_label,
    weight_variance,
)

MLP = {"depth": 3, "width": 4}
RES = {"depth": 3, "width": 4}
RNN = {"cell": "rnn_tanh", "hidden": 4, "steps": 3}


def _measure(**kwargs: Any) -> Any:
    spec = kwargs.pop("spec", MLPSpec(**MLP))
    return gb.measure(spec, **{"seeds": 1, "batch": 2, **kwargs})


# (callable, kwargs, regex the message must match: it names the field and the value)
BAD_INPUTS: list[Any] = [
    pytest.param(
        MLPSpec,
        {**MLP, "depth": 0},
        r"MLPSpec\.depth=0 is invalid: must be an integer >= 1",
        id="mlp-depth-0",
    ),
    pytest.param(
        MLPSpec, {**MLP, "depth": True}, r"MLPSpec\.depth=True is invalid", id="mlp-depth-bool"
    ),
    pytest.param(
        MLPSpec, {**MLP, "depth": "3"}, r"MLPSpec\.depth='3' is invalid", id="mlp-depth-str"
    ),
    pytest.param(
        MLPSpec, {**MLP, "width": -1}, r"MLPSpec\.width=-1 is invalid", id="mlp-width-negative"
    ),
    pytest.param(
        MLPSpec, {**MLP, "width": 2.5}, r"MLPSpec\.width=2\.5 is invalid", id="mlp-width-float"
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "activation": "tahn"},
        r"MLPSpec\.activation='tahn' is invalid: .*did you mean 'tanh'",
        id="mlp-activation-typo",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "activation": 3},
        r"MLPSpec\.activation=3 is invalid",
        id="mlp-activation-not-str",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "activation": "relu(x=2)"},
        r"MLPSpec\.activation='relu\(x=2\)' is invalid: .*no parameter 'x'",
        id="relu-bad-param",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "activation": "leaky_relu(negative_slope=abc)"},
        r"MLPSpec\.activation='leaky_relu\(negative_slope=abc\)' is invalid: .*finite number",
        id="leaky-relu-non-numeric-param",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "activation": "leaky_relu(negative_slope=nan)"},
        r"activation='leaky_relu\(negative_slope=nan\)'.*finite number",
        id="leaky-relu-nan-param",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "init": "he_normall"},
        r"MLPSpec\.init='he_normall' is invalid: .*did you mean 'he_normal'",
        id="mlp-init-typo",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "init": "he_normal(generator=1)"},
        r"MLPSpec\.init='he_normal\(generator=1\)'.*no parameter 'generator'",
        id="init-generator-is-not-a-param",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "norm": "batchnrom"},
        r"MLPSpec\.norm='batchnrom' is invalid: .*did you mean 'batchnorm'",
        id="mlp-norm-typo",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "sigma_b2": -0.1},
        r"MLPSpec\.sigma_b2=-0\.1 is invalid: must be a finite",
        id="mlp-sigma_b2-negative",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "sigma_w2": math.nan},
        r"MLPSpec\.sigma_w2=nan is invalid",
        id="mlp-sigma_w2-nan",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "sigma_w2": math.inf},
        r"MLPSpec\.sigma_w2=inf is invalid",
        id="mlp-sigma_w2-inf",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "sigma_w2": True},
        r"MLPSpec\.sigma_w2=True is invalid",
        id="mlp-sigma_w2-bool",
    ),
    pytest.param(
        MLPSpec,
        {**MLP, "input_var": 0.0},
        r"MLPSpec\.input_var=0\.0 is invalid: .*> 0",
        id="mlp-input_var-zero",
    ),
    pytest.param(
        ResidualSpec,
        {**RES, "branch_scale": math.inf},
        r"ResidualSpec\.branch_scale=inf is invalid",
        id="res-branch-scale-inf",
    ),
    pytest.param(
        ResidualSpec,
        {**RES, "branch_scale": "1/sqrt(l)"},
        r"ResidualSpec\.branch_scale='1/sqrt\(l\)' is invalid: .*did you mean '1/sqrt\(L\)'",
        id="res-branch-scale-typo",
    ),
    pytest.param(
        ResidualSpec,
        {**RES, "branch_scale": "skipinit(alpha=2)"},
        r"ResidualSpec\.branch_scale='skipinit\(alpha=2\)'.*no parameter 'alpha'",
        id="res-skipinit-bad-param",
    ),
    pytest.param(
        ResidualSpec,
        {**RES, "out_init": "zeros"},
        r"ResidualSpec\.out_init='zeros' is invalid",
        id="res-out-init-unknown",
    ),
    pytest.param(
        ResidualSpec, {**RES, "width": 0}, r"ResidualSpec\.width=0 is invalid", id="res-width-0"
    ),
    pytest.param(
        RNNSpec,
        {**RNN, "cell": "lstmm"},
        r"RNNSpec\.cell='lstmm' is invalid: did you mean 'lstm'",
        id="rnn-cell-typo",
    ),
    pytest.param(
        RNNSpec,
        {**RNN, "cell": "transformer"},
        r"RNNSpec\.cell='transformer' is invalid: .*gru",
        id="rnn-cell-unknown",
    ),
    pytest.param(RNNSpec, {**RNN, "steps": 0}, r"RNNSpec\.steps=0 is invalid", id="rnn-steps-0"),
    pytest.param(RNNSpec, {**RNN, "cell": "rnn_tanh", "forget_bias": 1.0},
                 r"RNNSpec\.forget_bias=1\.0 is invalid: a rnn_tanh cell has no gate to shift; "
                 r"give it with a gated cell \(lstm, gru\)", id="rnn-forget-bias-vanilla"),
    pytest.param(RNNSpec, {**RNN, "cell": "lstm", "forget_bias": math.inf},
                 r"RNNSpec\.forget_bias=inf is invalid: must be a finite number",
                 id="rnn-forget-bias-inf"),
    pytest.param(
        RNNSpec, {**RNN, "hidden": 1.0}, r"RNNSpec\.hidden=1\.0 is invalid", id="rnn-hidden-float"
    ),
    pytest.param(
        RNNSpec,
        {**RNN, "recurrent_scale": -1.0},
        r"RNNSpec\.recurrent_scale=-1\.0 is invalid",
        id="rnn-recurrent-scale-negative",
    ),
    pytest.param(
        RNNSpec, {**RNN, "h0_var": math.nan}, r"RNNSpec\.h0_var=nan is invalid", id="rnn-h0-nan"
    ),
    pytest.param(
        spec_from_dict,
        {"data": {"family": "cnn"}},
        r"spec family 'cnn' is unknown",
        id="from-dict-family",
    ),
    pytest.param(
        spec_from_dict,
        {"data": {"family": "mlp", **MLP, "heigth": 2}},
        r"MLPSpec has no field 'heigth'",
        id="from-dict-unknown-field",
    ),
    pytest.param(
        spec_from_dict,
        {"data": {"family": "mlp", "depth": 2}},
        r"MLPSpec: .*'width'",
        id="from-dict-missing-field",
    ),
    pytest.param(
        spec_from_dict, {"data": [1, 2]}, r"must be a JSON object, got list", id="from-dict-list"
    ),
    pytest.param(
        _measure, {"seeds": 0}, r"seeds=0 is invalid: must be an integer >= 1", id="measure-seeds-0"
    ),
    pytest.param(_measure, {"seeds": True}, r"seeds=True is invalid", id="measure-seeds-bool"),
    pytest.param(_measure, {"batch": 0}, r"batch=0 is invalid", id="measure-batch-0"),
    pytest.param(
        _measure,
        {"seed": -1},
        r"seed=-1 is invalid: must be an integer >= 0",
        id="measure-seed-negative",
    ),
    pytest.param(
        _measure,
        {"dtype": "float16x"},
        r"dtype='float16x' is invalid; .*float32",
        id="measure-dtype",
    ),
    pytest.param(
        _measure,
        {"device": "tpu"},
        r"device='tpu' is invalid; valid choices: cpu, cuda",
        id="measure-device-tpu",
    ),
    pytest.param(
        _measure,
        {"spec": MLPSpec(**MLP, norm="batchnorm"), "batch": 1},
        r"batch=1 is invalid with batchnorm",
        id="measure-batchnorm-batch-1",
    ),
    pytest.param(
        _measure,
        {"spec": {"family": "mlp", **MLP}},
        r"spec of type dict is not a gradbench spec",
        id="measure-not-a-spec",
    ),
]


@pytest.mark.parametrize(("fn", "kwargs", "match"), BAD_INPUTS)
def test_bad_input_raises_invalid_argument_naming_field_and_value(
    fn: Callable[..., Any], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidArgument, match=match):
        fn(**kwargs)


def test_measure_on_cuda_without_a_gpu_names_the_device() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available")
    with pytest.raises(InvalidArgument, match=r"device='cuda' is not available on this machine"):
        _measure(device="cuda")


def test_invalid_argument_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="depth=0"):
        MLPSpec(depth=0, width=2)


def test_replace_validates_the_new_value() -> None:
    spec = MLPSpec(**MLP)
    assert spec.replace(depth=7).depth == 7
    with pytest.raises(InvalidArgument, match=r"MLPSpec\.depth=-2"):
        spec.replace(depth=-2)


def test_specs_are_frozen_and_hashable() -> None:
    spec = MLPSpec(**MLP)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.depth = 5  # type: ignore[misc]
    assert hash(spec) == hash(MLPSpec(**MLP))
    assert spec == MLPSpec(**MLP)
    assert spec != MLPSpec(**{**MLP, "depth": 4})


@pytest.mark.parametrize(
    ("field", "given", "canonical"),
    [
        ("activation", " leaky_relu( negative_slope = 0.2 ) ", "leaky_relu(negative_slope=0.2)"),
        ("activation", "elu(alpha=1)", "elu(alpha=1.0)"),
        ("init", "orthogonal(gain=2)", "orthogonal(gain=2.0)"),
        ("norm", "none", None),
        ("norm", None, None),
        ("sigma_w2", 2, 2.0),
    ],
    ids=[
        "spaces-in-params",
        "int-param",
        "init-param",
        "norm-none-string",
        "norm-none",
        "int-sigma_w2",
    ],
)
def test_fields_are_stored_in_canonical_form(field: str, given: Any, canonical: Any) -> None:
    value = getattr(MLPSpec(**MLP, **{field: given}), field)
    assert value == canonical
    assert type(value) is type(canonical)


def test_numeric_branch_scale_maps_to_scaled_remedy() -> None:
    spec = ResidualSpec(**RES, branch_scale=0.5)
    assert spec.branch_scale == "scaled(alpha=0.5)"
    assert ResidualSpec(**RES, branch_scale="1/sqrt(L)").branch_scale == "1/sqrt(L)"


SPECS = [
    MLPSpec(
        depth=5, width=7, activation="tanh", init="xavier_normal", sigma_b2=0.05, norm="layernorm"
    ),
    MLPSpec(depth=2, width=3, activation="leaky_relu(negative_slope=0.2)", sigma_w2=1.5),
    ResidualSpec(depth=4, width=6, branch_scale="1/sqrt(L)", norm="batchnorm"),
    ResidualSpec(depth=4, width=6, branch_scale=0.25, out_init="xavier_uniform"),
    RNNSpec(
        cell="gru", hidden=5, steps=9, init="torch_default", recurrent_scale=0.9, input_var=0.0
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=spec_label)
def test_to_dict_round_trips_through_strict_json(spec: Any) -> None:
    text = json.dumps(spec.to_dict(), allow_nan=False, sort_keys=True)
    again = spec_from_dict(json.loads(text))
    assert again == spec
    assert type(again) is type(spec)
    assert again.to_dict() == spec.to_dict()
    assert spec.to_dict()["family"] == spec.family


@pytest.mark.parametrize(
    ("spec", "n_sites"),
    [
        (MLPSpec(depth=6, width=2), 6),
        (ResidualSpec(depth=5, width=2), 5),
        (RNNSpec(cell="lstm", hidden=2, steps=11), 11),
    ],
    ids=["mlp", "residual", "rnn"],
)
def test_n_sites(spec: Any, n_sites: int) -> None:
    assert spec.n_sites == n_sites


def test_spec_label_is_readable_and_distinguishes_specs() -> None:
    label = spec_label(MLPSpec(depth=50, width=256, activation="tanh", init="xavier_normal"))
    assert label == "mlp-L50-n256-tanh-xavier_normal"
    labels = {spec_label(s) for s in SPECS}
    assert len(labels) == len(SPECS)


@pytest.mark.parametrize(
    ("spec", "sigma_w2"),
    [
        (MLPSpec(depth=1, width=10, init="he_normal"), 2.0),
        (MLPSpec(depth=1, width=10, init="he_normal(gain=1.5)"), 2.25),
        (MLPSpec(depth=1, width=10, init="xavier_uniform"), 1.0),
        (MLPSpec(depth=1, width=10, init="lecun_normal"), 1.0),
        (MLPSpec(depth=1, width=10, init="torch_default"), 1.0 / 3.0),
        (MLPSpec(depth=1, width=10, init="normal(sigma_w2=1.7)"), 1.7),
        (MLPSpec(depth=1, width=10, init="orthogonal"), 1.0),
        (MLPSpec(depth=1, width=10, init="xavier_normal", sigma_w2=3.5), 3.5),
        (ResidualSpec(depth=1, width=10, init="he_normal"), 2.0),
        (RNNSpec(cell="linear", hidden=10, steps=1, init="orthogonal", recurrent_scale=0.9), 0.81),
        (
            RNNSpec(
                cell="linear",
                hidden=10,
                steps=1,
                init="identity",
                sigma_w2=2.0,
                recurrent_scale=1.1,
            ),
            2.0 * 1.21,
        ),
    ],
    ids=[
        "he",
        "he-gain",
        "xavier",
        "lecun",
        "torch_default",
        "normal-param",
        "orthogonal",
        "override",
        "residual",
        "rnn-scale",
        "rnn-override-scale",
    ],
)
def test_weight_variance_comes_from_the_declaration_or_override(spec: Any, sigma_w2: float) -> None:
    assert weight_variance(spec) == pytest.approx(sigma_w2, rel=1e-12)


def test_bias_variance_declared_override_or_zero() -> None:
    assert bias_variance(MLPSpec(depth=1, width=12, init="torch_default")) == pytest.approx(
        1 / 36, rel=1e-12
    )
    assert bias_variance(MLPSpec(depth=1, width=12, init="torch_default", sigma_b2=0.0)) == 0.0
    assert bias_variance(MLPSpec(depth=1, width=12, init="he_normal")) == 0.0
    assert bias_variance(MLPSpec(depth=1, width=12, sigma_b2=0.3)) == 0.3
    assert bias_variance(
        RNNSpec(cell="lstm", hidden=3, steps=1, init="torch_default")
    ) == pytest.approx(1 / 9)


def test_branch_out_variance_of_lecun_is_one() -> None:
    assert branch_out_variance(ResidualSpec(depth=1, width=9)) == pytest.approx(1.0, rel=1e-12)
    assert branch_out_variance(
        ResidualSpec(depth=1, width=9, out_init="he_normal")
    ) == pytest.approx(2.0)


def test_forget_bias_shifts_the_carry_gate_and_keeps_old_seeds() -> None:
    """forget_bias is added to the LSTM's f block (torch order i, f, g, o) and the GRU's z
    block (r, z, n) only; a spec without it keeps the dict (and so the seeds) it had."""
    from gradbench.models import draw_network

    for cell, gates in (("lstm", 4), ("gru", 3)):
        plain = RNNSpec(cell=cell, hidden=5, steps=2, sigma_b2=0.0)
        assert "forget_bias" not in plain.to_dict()
        biased = plain.replace(forget_bias=1.5)
        assert spec_from_dict(biased.to_dict()) == biased
        b = draw_network(biased, 2, 0, 0)[0]["b"].reshape(gates, 5)
        expected = [1.5 if g == 1 else 0.0 for g in range(gates)]
        assert b[:, 0].tolist() == expected


def test_numpy_integers_are_integers_and_are_stored_as_int() -> None:
    """A sweep's depths come from ``np.arange`` or ``np.geomspace(...).astype(int)``: a numpy
    integer is an integer (it was refused as "must be an integer >= 1", which it is), stored
    as a Python ``int``, so the spec, its seeds and its measurement equal the ``int`` ones.
    Bools and floats stay refused."""
    from gradbench.blocks import BlockSpec

    spec = MLPSpec(depth=np.int64(6), width=np.int32(40))
    assert spec == MLPSpec(depth=6, width=40)
    assert type(spec.depth) is int
    assert hash(spec) == hash(MLPSpec(depth=6, width=40))
    given = gb.measure(spec, seeds=np.int64(2), batch=np.int16(4), seed=np.uint8(3))
    plain = gb.measure(MLPSpec(depth=6, width=40), seeds=2, batch=4, seed=3)
    np.testing.assert_array_equal(given.act_grad_norms, plain.act_grad_norms)
    wide = MLPSpec(depth=6, width=64)
    assert gb.check(wide, claim="mean_field_slope", seeds=np.int64(4)).pvalue == gb.check(
        wide, claim="mean_field_slope", seeds=4).pvalue
    block = BlockSpec("m:b", depths=np.array([2, 4, 8]), seeds=np.int64(3))
    assert block == BlockSpec("m:b", depths=(2, 4, 8), seeds=3)
    assert MLPSpec(depth=torch.tensor(6), width=8) == MLPSpec(depth=6, width=8)
    for bad in (True, np.bool_(True), np.array(True), torch.tensor(True), 2.0, np.float64(2.0),
                "3"):
        with pytest.raises(InvalidArgument, match=r"MLPSpec\.depth=.* is invalid: must be an "
                           "integer >= 1"):
            MLPSpec(depth=bad, width=8)


def test_a_network_larger_than_the_devices_memory_is_refused_in_one_sentence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``gb.measure(MLPSpec(depth=100000, width=4096))`` raised torch's own 'can't allocate
    memory: ... 6710886400000 bytes', and a deep wide transformer ran for minutes first. One
    network above the device's memory is now refused before anything is drawn."""
    from gradbench import probe

    spec = MLPSpec(depth=4, width=256)
    need = probe.bytes_per_network(spec, 8, "float64")
    monkeypatch.setattr(probe, "device_memory", lambda device: need - 1)
    with pytest.raises(InvalidArgument, match=r"^one network of MLPSpec\(depth=4, width=256, "
                       r".* is estimated to need .* GiB .* at batch 8 in float64, more than the "
                       r".* GiB of memory of 'cpu': use a smaller depth, width or batch$"):
        gb.measure(spec, seeds=2, batch=8, dtype="float64")
    monkeypatch.setattr(probe, "device_memory", lambda device: need)
    assert gb.measure(spec, seeds=2, batch=8, dtype="float64").act_grad_norms.shape == (2, 4)
    assert probe.device_memory("cpu") is None or probe.device_memory("cpu") > 2**20


def test_an_rnn_is_estimated_with_its_shared_weights_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The RNN estimate counted the recurrent weights once per step, though every step shares
    them: RNNSpec(hidden=4096, steps=300) at batch 4 was refused as needing 37.6 GiB on a
    23.5 GiB machine, and measured in 0.6 GiB. 200 steps of width 512 fit in 64 MiB. The
    refusal names the spec's own sizes (it said 'depth, width' of an RNN)."""
    from gradbench import probe

    monkeypatch.setattr(probe, "device_memory", lambda device: 64 * 2**20)
    spec = RNNSpec(cell="rnn_tanh", hidden=512, steps=200)
    assert gb.measure(spec, seeds=1, batch=2).act_grad_norms.shape == (1, 200)
    assert probe.bytes_per_network(spec, 2, "float32") > 2 * 2 * 512**2 * 4  # W, its gradient
    monkeypatch.setattr(probe, "device_memory", lambda device: 2**20)  # its own size words
    with pytest.raises(InvalidArgument, match=r"of 'cpu': use a smaller hidden, steps or batch$"):
        gb.measure(spec, seeds=1, batch=2)
