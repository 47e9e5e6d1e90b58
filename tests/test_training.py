"""Tests of gradbench.training and gradbench.tasks: the batched trainer against a naive loop."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gradbench import MLPSpec, ResidualSpec, RNNSpec
from gradbench.errors import InvalidArgument
from gradbench.remedies.optimizers import clip_grad_norm_stacked_
from gradbench.tasks import TASKS, make_task, task_loss
from gradbench.training import (
    TrainingRecord,
    TrainSpec,
    first_step,
    train_probe,
    train_reference,
)

SPECS = {
    "mlp": MLPSpec(depth=4, width=8, activation="tanh", init="xavier_normal", sigma_b2=0.1),
    "residual": ResidualSpec(depth=3, width=8, branch_scale="1/sqrt(L)", norm="layernorm"),
    "rnn": RNNSpec(cell="rnn_tanh", hidden=8, steps=5),
}
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]
CLIPS = {"noclip": {}, "clipnorm": {"clip_norm": 0.05}, "clipvalue": {"clip_value": 0.01}}
ARRAYS = ("loss", "grad_norm", "update_norm", "weight_norm", "update_ratio")


def assert_same(batched: TrainingRecord, reference: TrainingRecord, rtol: float = 1e-10) -> None:
    """Equal NaN pattern, equal divergence steps, and values within ``rtol``."""
    np.testing.assert_array_equal(batched.diverged_step, reference.diverged_step)
    for name in ARRAYS:
        a, b = getattr(batched, name), getattr(reference, name)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=name)


@pytest.mark.parametrize("clip", list(CLIPS), ids=list(CLIPS))
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("family", list(SPECS))
def test_batched_trainer_equals_per_seed_torch_optim_loop(
    family: str, optimizer: str, clip: str
) -> None:
    train = TrainSpec(optimizer=optimizer, lr=0.05, steps=3, batch=6, **CLIPS[clip])
    batched = train_probe(SPECS[family], train, seeds=2, dtype="float64")
    reference = train_reference(SPECS[family], train, seeds=2)
    assert_same(batched, reference)
    assert np.all(np.isfinite(batched.update_norm))
    assert np.all(batched.update_norm > 0)


@pytest.mark.parametrize(
    "train",
    [
        TrainSpec(optimizer="adam", lr=0.05, steps=4, batch=6, dropout=0.3),
        TrainSpec(optimizer="momentum", lr=0.05, steps=4, batch=6, weight_decay=0.1,
                  schedule="cosine"),
        TrainSpec(optimizer="adamw(weight_decay=0.3)", lr=0.05, steps=4, batch=6,
                  schedule="warmup(warmup_steps=3)"),
        TrainSpec(optimizer="rmsprop", lr=0.01, steps=4, batch=6,
                  schedule="step(step_size=2, gamma=0.5)", loss_scale=7.0),
        TrainSpec(optimizer="sgd", lr=0.1, steps=4, task="linear_teacher", clip_norm=0.1,
                  clip_value=0.01),
    ],
    ids=["dropout", "weight_decay+cosine", "adamw+warmup", "step+loss_scale", "both_clips"],
)
def test_options_equal_reference(train: TrainSpec) -> None:
    for spec in (SPECS["mlp"], SPECS["residual"]):
        assert_same(train_probe(spec, train, seeds=2, dtype="float64"),
                    train_reference(spec, train, seeds=2))


def test_copy_task_and_gated_cells_equal_reference() -> None:
    train = TrainSpec(optimizer="adam", lr=0.01, steps=3, batch=5, task="copy(symbols=2)")
    for cell in ("lstm", "gru"):
        spec = RNNSpec(cell=cell, hidden=8, steps=6)
        assert_same(train_probe(spec, train, seeds=2, dtype="float64"),
                    train_reference(spec, train, seeds=2))


def test_dropout_changes_the_run_and_float32_tracks_float64() -> None:
    spec = SPECS["mlp"]
    plain = train_probe(spec, TrainSpec(lr=0.1, steps=3, batch=6), seeds=2, dtype="float64")
    dropped = train_probe(spec, TrainSpec(lr=0.1, steps=3, batch=6, dropout=0.5), seeds=2,
                          dtype="float64")
    assert not np.allclose(plain.loss, dropped.loss)
    single = train_probe(spec, TrainSpec(lr=0.1, steps=3, batch=6), seeds=2, dtype="float32")
    np.testing.assert_allclose(single.loss, plain.loss, rtol=1e-4)


def test_divergence_is_recorded_and_the_seed_frozen() -> None:
    spec = ResidualSpec(depth=3, width=8)
    train = TrainSpec(optimizer="sgd", lr=50.0, steps=6, batch=6)
    rec = train_probe(spec, train, seeds=3, dtype="float64")
    assert rec.diverged.all()
    for s, step in enumerate(rec.diverged_step):
        assert np.isfinite(rec.loss[s, : step]).all()
        first = rec.loss[s, 0]
        assert not np.isfinite(rec.loss[s, step]) or rec.loss[s, step] > 1e6 * first
        assert np.isnan(rec.loss[s, step + 1 :]).all()
        assert np.isnan(rec.update_norm[s, step:]).all()
        assert np.isfinite(rec.update_norm[s, :step]).all()
    assert_same(rec, train_reference(spec, train, seeds=3))


def test_a_diverging_seed_does_not_disturb_the_others() -> None:
    spec = ResidualSpec(depth=3, width=8)
    train = TrainSpec(optimizer="sgd", lr=0.3, steps=8, batch=6)
    rec = train_probe(spec, train, seeds=6, dtype="float64")
    assert 0 < rec.diverged.sum() < 6, "pick lr so that some but not all seeds diverge"
    survivors = ~rec.diverged
    assert np.isfinite(rec.loss[survivors]).all()
    assert_same(rec, train_reference(spec, train, seeds=6))


def test_training_decreases_the_loss() -> None:
    mlp = train_probe(MLPSpec(depth=3, width=16, activation="tanh", init="xavier_normal"),
                      TrainSpec(optimizer="sgd", lr=0.5, steps=20), seeds=4, dtype="float64")
    assert mlp.loss_decreased.all()
    assert not mlp.diverged.any()
    rnn = train_probe(RNNSpec(cell="gru", hidden=16, steps=8),
                      TrainSpec(optimizer="adam", lr=0.01, steps=30), seeds=4, dtype="float64")
    assert (rnn.loss[:, -1] < 0.7 * rnn.loss[:, 0]).all()


def test_record_round_trips_through_strict_json() -> None:
    rec = train_probe(ResidualSpec(depth=2, width=4), TrainSpec(lr=50.0, steps=5, batch=4),
                      seeds=2, dtype="float64")
    assert rec.diverged.any()  # so NaN entries are present
    text = json.dumps(rec.to_dict(), allow_nan=False)
    back = TrainingRecord.from_dict(json.loads(text))
    assert back.layers == rec.layers
    assert back.train == rec.train
    assert back.spec == rec.spec
    np.testing.assert_array_equal(back.diverged_step, rec.diverged_step)
    assert back.diverged_step.dtype.kind == "i"
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(rec, name))
    with pytest.raises(InvalidArgument, match="lacks field 'loss'"):
        TrainingRecord.from_dict({k: v for k, v in rec.to_dict().items() if k != "loss"})


def test_stacked_norm_clipping_matches_clip_grad_norm_per_seed() -> None:
    gen = torch.Generator().manual_seed(3)
    grads = [torch.randn(4, 5, 6, generator=gen, dtype=torch.float64) * 10.0 ** k
             for k in range(3)]
    grads[0][2] *= 1e-6  # network 2 is below the threshold: left alone
    stacked = [g.clone() for g in grads]
    total = clip_grad_norm_stacked_(stacked, 1.0)
    for s in range(4):
        ps = [torch.zeros(5, 6, dtype=torch.float64, requires_grad=True) for _ in grads]
        for p, g in zip(ps, grads):
            p.grad = g[s].clone()
        ref_total = torch.nn.utils.clip_grad_norm_(ps, 1.0)
        assert float(total[s]) == pytest.approx(float(ref_total), rel=1e-14)
        for p, g in zip(ps, stacked):
            torch.testing.assert_close(g[s], p.grad, rtol=1e-14, atol=0)


def test_first_step_returns_the_optimizer_update() -> None:
    fs = first_step(SPECS["mlp"], TrainSpec(optimizer="sgd", lr=0.1), seeds=2)
    for name, delta in fs.delta.items():
        torch.testing.assert_close(delta, -0.1 * fs.grad[name], rtol=1e-9, atol=1e-15)
    assert fs.loss.shape == (2,)


# ------------------------------------------------------------------------------ tasks


def test_tasks_are_deterministic_per_network_and_differ_across_networks() -> None:
    for spec, task in ((SPECS["mlp"], "teacher_student"), (SPECS["mlp"], "linear_teacher"),
                       (SPECS["rnn"], "adding"), (SPECS["rnn"], "copy")):
        a, b = make_task(spec, task, 4, 0, 0), make_task(spec, task, 4, 0, 0)
        c = make_task(spec, task, 4, 0, 1)
        torch.testing.assert_close(a.target, b.target, rtol=0, atol=0)
        assert not torch.equal(a.target, c.target) or not all(
            torch.equal(a.data[k], c.data[k]) for k in a.data
        )


def test_adding_problem_target_is_the_sum_of_the_two_marked_values() -> None:
    spec = RNNSpec(cell="rnn_tanh", hidden=6, steps=10)
    b = make_task(spec, "adding", 32, 7, 0)
    xs = b.data["xs"]
    assert torch.all(xs[:, :, 1].sum(dim=0) == 2.0)
    first_half = xs[: 10 // 2, :, 1].sum(dim=0)
    assert torch.all(first_half == 1.0)  # one marker in each half
    torch.testing.assert_close(b.target[:, 0], (xs[:, :, 0] * xs[:, :, 1]).sum(dim=0))
    assert torch.all(xs[:, :, 2:] == 0.0)  # task channels are the first coordinates
    assert torch.all(b.data["h0"] == 0.0)
    assert b.readout is not None


def test_copy_task_asks_for_the_first_symbols_at_the_last_step() -> None:
    spec = RNNSpec(cell="lstm", hidden=8, steps=7)
    b = make_task(spec, "copy(symbols=3, alphabet=4)", 5, 0, 0)
    xs = b.data["xs"]
    torch.testing.assert_close(b.target, xs[:3, :, :4].transpose(0, 1).reshape(5, 12))
    assert torch.all(xs[-1, :, 4] == 1.0)
    assert torch.all(xs[3:-1] == 0.0)


def test_teacher_student_targets_come_from_a_different_network_of_the_same_family() -> None:
    spec = MLPSpec(depth=3, width=8, activation="tanh", init="xavier_normal")
    b = make_task(spec, "teacher_student", 16, 0, 0)
    assert b.readout is None
    assert b.target.shape == (16, 8)
    assert torch.all(b.target.abs() <= 1.0)  # a tanh network's output
    assert float(task_loss(b.target, b.target, None)) == 0.0
    assert set(TASKS) >= {"teacher_student", "linear_teacher", "adding", "copy"}


# ------------------------------------------------------------------------- bad inputs

BAD_TRAINSPECS = [
    ({"optimizer": "adamm"}, r"optimizer='adamm'.*did you mean 'adam'"),
    ({"optimizer": "adam(foo=1)"}, r"has no parameter 'foo'"),
    ({"lr": -1.0}, r"TrainSpec.lr=-1.0 is invalid"),
    ({"lr": float("nan")}, r"TrainSpec.lr=nan"),
    ({"optimizer": "adam(lr=0.1)", "lr": 0.2}, r"lr=0.2 conflicts with lr"),
    ({"steps": 0}, r"TrainSpec.steps=0 is invalid"),
    ({"batch": 2.5}, r"TrainSpec.batch=2.5"),
    ({"clip_norm": 0.0}, r"TrainSpec.clip_norm=0.0 is invalid"),
    ({"clip_value": -1.0}, r"TrainSpec.clip_value=-1.0"),
    ({"dropout": 1.0}, r"TrainSpec.dropout=1.0 is invalid: must be a number in \[0, 1\)"),
    ({"weight_decay": -0.1}, r"TrainSpec.weight_decay=-0.1"),
    ({"schedule": "cosin"}, r"TrainSpec.schedule='cosin'.*did you mean 'cosine'"),
    ({"schedule": "step(size=3)"}, r"schedule 'step' has no parameter 'size'"),
    ({"task": "addition"}, r"TrainSpec.task='addition'.*did you mean 'adding'"),
    ({"loss_scale": 0}, r"TrainSpec.loss_scale=0"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_TRAINSPECS,
                         ids=[str(k) for k, _ in BAD_TRAINSPECS])
def test_bad_trainspec_raises_naming_field_value_and_choices(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        TrainSpec(**kwargs)


@pytest.mark.parametrize(
    ("spec", "train", "kwargs", "match"),
    [
        (SPECS["mlp"], TrainSpec(task="adding"), {}, r"task 'adding' does not apply to MLPSpec"),
        (SPECS["rnn"], TrainSpec(dropout=0.2), {}, r"dropout=0.2 is invalid for RNNSpec"),
        (SPECS["mlp"], TrainSpec(), {"dtype": "bfloat16"}, r"dtype='bfloat16' is invalid"),
        (SPECS["mlp"], TrainSpec(), {"seeds": 0}, r"seeds=0 is invalid"),
        (RNNSpec(cell="rnn_tanh", hidden=4, steps=2), TrainSpec(task="copy"), {},
         r"copy.*needs"),
        (SPECS["mlp"], "sgd", {}, r"must be a TrainSpec"),
    ],
    ids=["task-family", "rnn-dropout", "bfloat16", "seeds", "copy-too-short", "not-a-trainspec"],
)
def test_bad_train_probe_arguments(spec: object, train: object, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        train_probe(spec, train, **kwargs)  # type: ignore[arg-type]


def test_task_loss_flattens_multi_axis_examples() -> None:
    """A family whose examples are [C, T] (a 1-D CNN) is compared with [batch, C*T] targets."""
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(3, 4, 2, 5, generator=gen, dtype=torch.float64)  # [nets, batch, C, T]
    target = torch.randn(3, 4, 10, generator=gen, dtype=torch.float64)
    loss = task_loss(y, target, None)
    assert loss.shape == (3,)
    want = 0.5 * (y.reshape(3, 4, 10) - target).pow(2).mean(dim=(1, 2))
    torch.testing.assert_close(loss, want, rtol=0, atol=0)
    assert task_loss(y[0], target[0], None) == pytest.approx(float(want[0]), rel=1e-15)
