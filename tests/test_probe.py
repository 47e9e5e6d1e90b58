"""The batched probe against the naive nn.Module reference, exact properties, determinism.

Oracles (docs/design.md §5): :func:`gradbench.probe.measure_reference` builds each
seed's ``nn.Module`` from standard layers, calls ``backward`` and reads ``.grad``; the
recurrent weight's per-step contributions, which ``nn.RNNCell`` cannot show, come from
an untied copy of the weight per step (``torch.func.functional_call``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from torch.func import functional_call

import gradbench as gb
from gradbench import probe
from gradbench.models import Tap, draw_network, family_of
from gradbench.probe import measure_reference
from gradbench.specs import (
    Conv1DSpec,
    Conv2DSpec,
    MLPSpec,
    ResConv2DSpec,
    ResidualSpec,
    RNNSpec,
    Spec,
    TransformerSpec,
    spec_label,
)

RTOL = 1e-10
SEEDS, BATCH = 3, 6

MLP_SPECS = [
    MLPSpec(depth=5, width=12, activation="tanh", init="xavier_normal"),
    MLPSpec(depth=5, width=12, activation="relu", init="he_normal", norm="batchnorm"),
    MLPSpec(depth=5, width=12, activation="gelu", init="torch_default", norm="layernorm"),
    MLPSpec(depth=5, width=12, activation="tanh", init="orthogonal", norm="rmsnorm", sigma_b2=0.05),
    MLPSpec(depth=5, width=12, activation="selu", init="lecun_normal"),
    MLPSpec(depth=5, width=12, activation="leaky_relu(negative_slope=0.2)", init="he_uniform"),
    MLPSpec(depth=5, width=12, activation="tanh", init="lsuv"),
    MLPSpec(depth=5, width=12, activation="sigmoid", init="normal(sigma_w2=3.0)", sigma_b2=0.2),
    MLPSpec(depth=5, width=12, activation="linear", init="orthogonal", input_var=2.0),
]
RESIDUAL_SPECS = [
    ResidualSpec(depth=4, width=10, activation="relu"),
    ResidualSpec(depth=4, width=10, activation="relu", branch_scale="1/sqrt(L)", norm="layernorm"),
    ResidualSpec(depth=4, width=10, activation="tanh", branch_scale="fixup", sigma_b2=0.1),
    ResidualSpec(depth=4, width=10, activation="relu", branch_scale="skipinit", norm="batchnorm"),
    ResidualSpec(depth=4, width=10, activation="relu", branch_scale="rezero"),
    ResidualSpec(depth=4, width=10, activation="gelu", branch_scale="1/l", norm="rmsnorm"),
    ResidualSpec(depth=4, width=10, activation="elu", init="torch_default", branch_scale=0.3),
]
RNN_SPECS = [
    RNNSpec(cell="rnn_tanh", hidden=9, steps=6),
    RNNSpec(cell="rnn_tanh", hidden=9, steps=6, init="torch_default"),
    RNNSpec(
        cell="rnn_relu", hidden=9, steps=6, init="identity", recurrent_scale=0.9, sigma_b2=0.01
    ),
    RNNSpec(cell="linear", hidden=9, steps=6, init="orthogonal", recurrent_scale=1.1, sigma_b2=0.1),
    RNNSpec(cell="lstm", hidden=9, steps=6, init="torch_default"),
    RNNSpec(cell="gru", hidden=9, steps=6, init="xavier_uniform", sigma_b2=0.05),
    RNNSpec(cell="gru", hidden=9, steps=6, init="orthogonal", input_var=0.0),
]
ALL_SPECS = MLP_SPECS + RESIDUAL_SPECS + RNN_SPECS


def _ids(specs: list[Any]) -> list[str]:
    return [spec_label(s) for s in specs]


# ---------------------------------------------------------------------------------------
# 1. Batched probe == naive nn.Module reference
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS, ids=_ids(ALL_SPECS))
def test_batched_probe_equals_naive_reference(spec: Any) -> None:
    m = gb.measure(spec, seeds=SEEDS, batch=BATCH, dtype="float64")
    ref = measure_reference(spec, seeds=SEEDS, batch=BATCH)
    shape = (SEEDS, spec.n_sites)
    assert m.act_grad_norms.shape == ref.act_grad_norms.shape == shape
    assert not m.nonfinite.any()
    assert (m.act_grad_norms > 0).all()
    np.testing.assert_allclose(m.act_grad_norms, ref.act_grad_norms, rtol=RTOL, atol=0)
    np.testing.assert_allclose(m.preact_second_moment, ref.preact_second_moment, rtol=RTOL, atol=0)
    if isinstance(spec, RNNSpec):
        # nn.RNNCell hides the per-step contributions: tested in test_rnn_weight_gradient_*
        assert np.isnan(ref.weight_grad_norms).all()
        assert np.isfinite(m.weight_grad_norms).all()
    else:
        np.testing.assert_allclose(m.weight_grad_norms, ref.weight_grad_norms, rtol=RTOL, atol=0)


def test_reference_module_is_built_from_standard_layers() -> None:
    model = gb.build_module(MLPSpec(depth=3, width=5, norm="batchnorm"))
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"Linear", "BatchNorm1d", "Tap"} <= kinds
    assert sum(isinstance(m, Tap) for m in model.modules()) == 3
    cell = gb.build_module(RNNSpec(cell="lstm", hidden=4, steps=2)).cell
    assert isinstance(cell, torch.nn.LSTMCell)


def _per_step_recurrent_grads(
    spec: RNNSpec, index: int
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """[T, gates*H, H] gradients of per-step copies of W_hh, and the tied module's W_hh.grad.

    Runs PyTorch's own cell with ``functional_call`` and a separate leaf for the
    recurrent weight at every step, so the grad of copy t is step t's contribution.
    """
    params, data = draw_network(spec, BATCH, 0, index)
    model = family_of(spec).module(spec, params)
    cell = model.cell
    copies = [cell.weight_hh.detach().clone().requires_grad_(True) for _ in range(spec.steps)]
    h, c = data["h0"], torch.zeros_like(data["h0"])
    for t in range(spec.steps):
        state = (h, c) if isinstance(cell, torch.nn.LSTMCell) else h
        out = functional_call(cell, {"weight_hh": copies[t]}, (data["xs"][t], state))
        h, c = out if isinstance(out, tuple) else (out, c)
    (data["R"] * h).sum().backward()
    per_step = torch.stack([w.grad for w in copies])

    seen: list[torch.Tensor] = []

    def keep(module: torch.nn.Module, args: Any, out: torch.Tensor) -> None:
        out.retain_grad()
        seen.append(out)

    for tap in (m for m in model.modules() if isinstance(m, Tap)):
        tap.register_forward_hook(keep)
    (data["R"] * model(data)).sum().backward()
    return per_step, cell.weight_hh.grad.detach(), {"data": data, "sites": seen}


@pytest.mark.parametrize("spec", RNN_SPECS, ids=_ids(RNN_SPECS))
def test_rnn_weight_gradient_per_step_contributions(spec: RNNSpec) -> None:
    m = gb.measure(spec, seeds=2, batch=BATCH, dtype="float64")
    for index in range(2):
        per_step, tied, _ = _per_step_recurrent_grads(spec, index)
        # the contributions of all steps add up to the tied weight's gradient
        torch.testing.assert_close(per_step.sum(0), tied, rtol=RTOL, atol=1e-14)
        norms = per_step.flatten(1).norm(dim=1).numpy()
        assert (norms > 0).all()
        np.testing.assert_allclose(m.weight_grad_norms[index], norms, rtol=RTOL, atol=0)


def test_linear_rnn_step_contribution_is_g_t_transpose_h_t_minus_1() -> None:
    """Linear cell: step t contributes g_t^T h_{t-1} with g_t = dL/dh_t, summing to W_hh.grad."""
    spec = RNNSpec(
        cell="linear", hidden=7, steps=5, init="orthogonal", recurrent_scale=0.95, sigma_b2=0.1
    )
    m = gb.measure(spec, seeds=2, batch=BATCH, dtype="float64")
    for index in range(2):
        per_step, tied, found = _per_step_recurrent_grads(spec, index)
        hs = [found["data"]["h0"], *(s.detach() for s in found["sites"])]
        gs = [s.grad for s in found["sites"]]
        outer = torch.stack([gs[t].T @ hs[t] for t in range(spec.steps)])
        torch.testing.assert_close(outer, per_step, rtol=RTOL, atol=1e-14)
        torch.testing.assert_close(outer.sum(0), tied, rtol=RTOL, atol=1e-14)
        np.testing.assert_allclose(
            m.weight_grad_norms[index], outer.flatten(1).norm(dim=1).numpy(), rtol=RTOL, atol=0
        )


def test_measure_on_each_device_matches_reference(device: str) -> None:
    spec = MLPSpec(depth=4, width=8, activation="tanh", init="xavier_normal", norm="layernorm")
    m = gb.measure(spec, seeds=2, batch=4, dtype="float64", device=device)
    ref = measure_reference(spec, seeds=2, batch=4)
    assert m.device == device
    np.testing.assert_allclose(m.act_grad_norms, ref.act_grad_norms, rtol=1e-9, atol=0)
    np.testing.assert_allclose(m.weight_grad_norms, ref.weight_grad_norms, rtol=1e-9, atol=0)


# ---------------------------------------------------------------------------------------
# 2. Exact properties
# ---------------------------------------------------------------------------------------


def test_linear_orthogonal_mlp_keeps_the_gradient_norm_constant() -> None:
    spec = MLPSpec(depth=40, width=16, activation="linear", init="orthogonal", sigma_b2=0.0)
    m = gb.measure(spec, seeds=4, batch=8, dtype="float64")
    act = m.act_grad_norms
    np.testing.assert_allclose(act, np.broadcast_to(act[:, -1:], act.shape), rtol=1e-10, atol=0)
    np.testing.assert_allclose(act, 1.0, rtol=1e-10, atol=0)


def test_gradient_norm_changes_without_isometry() -> None:
    """Control for the test above: a Gaussian linear net does not keep the norm constant."""
    spec = MLPSpec(depth=40, width=16, activation="linear", init="lecun_normal", sigma_b2=0.0)
    act = gb.measure(spec, seeds=4, batch=8, dtype="float64").act_grad_norms
    assert np.abs(act[:, 0] / act[:, -1] - 1).min() > 1e-3


@pytest.mark.parametrize("rho", [0.9, 1.0, 1.1])
def test_linear_rnn_gradient_norm_is_rho_to_the_distance(rho: float) -> None:
    """docs/theory.md §5.2: W = rho Q gives ||dL/dh_t|| = rho^(T-t) ||dL/dh_T|| exactly."""
    steps = 30
    spec = RNNSpec(
        cell="linear", hidden=16, steps=steps, init="orthogonal", recurrent_scale=rho, sigma_b2=0.0
    )
    m = gb.measure(spec, seeds=3, batch=8, dtype="float64")
    expected = rho ** (steps - np.arange(1, steps + 1, dtype=np.float64))
    np.testing.assert_allclose(
        m.act_grad_norms, np.broadcast_to(expected, (3, steps)), rtol=1e-10, atol=0
    )


@pytest.mark.parametrize("branch_scale", ["skipinit", "rezero", "fixup"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_zero_branch_residual_passes_the_top_gradient_unchanged(
    branch_scale: str, dtype: str
) -> None:
    spec = ResidualSpec(
        depth=12, width=10, activation="relu", branch_scale=branch_scale, sigma_b2=0.1
    )
    m = gb.measure(spec, seeds=3, batch=5, dtype=dtype)
    act = m.act_grad_norms
    # every site's gradient is R itself, bit for bit: dL/dx_0 has exactly the top norm
    for layer in range(spec.depth):
        assert np.array_equal(act[:, layer], act[:, -1])
    np.testing.assert_allclose(act, 1.0, rtol=1e-6 if dtype == "float32" else 1e-12)


def test_plain_residual_gradient_grows_control() -> None:
    """Control: with alpha = 1 the same net's input gradient is larger than the top one."""
    spec = ResidualSpec(depth=12, width=10, activation="relu", branch_scale="1")
    act = gb.measure(spec, seeds=3, batch=5, dtype="float64").act_grad_norms
    assert (act[:, 0] > 1.5 * act[:, -1]).all()


@pytest.mark.parametrize(
    "spec",
    [
        MLPSpec(depth=6, width=12, activation="linear", init="he_normal", sigma_b2=0.3),
        MLPSpec(depth=6, width=12, activation="linear", init="torch_default"),
        RNNSpec(cell="rnn_tanh", hidden=12, steps=5),
        RNNSpec(cell="lstm", hidden=12, steps=5, init="torch_default"),
        RNNSpec(cell="gru", hidden=12, steps=5),
    ],
    ids=lambda s: spec_label(s),
)
def test_top_site_gradient_has_unit_norm(spec: Any) -> None:
    """The readout R has ||R||_F = 1 and dL/d(top) = R when the top site is the output."""
    m = gb.measure(spec, seeds=5, batch=7, dtype="float64")
    np.testing.assert_allclose(m.act_grad_norms[:, -1], 1.0, rtol=1e-12, atol=0)


def test_top_gradient_of_a_nonlinear_top_is_not_normalized() -> None:
    spec = MLPSpec(depth=3, width=12, activation="tanh", init="xavier_normal")
    top = gb.measure(spec, seeds=5, batch=7, dtype="float64").act_grad_norms[:, -1]
    assert (top < 1.0).all()  # |tanh'| < 1


READOUT_SPECS = [MLPSpec(depth=4, width=12), ResidualSpec(depth=3, width=10),
                 RNNSpec(cell="gru", hidden=9, steps=4)]


@pytest.mark.parametrize("spec", READOUT_SPECS, ids=_ids(READOUT_SPECS))
def test_the_probe_reads_gradients_without_cloning_them(spec: Spec,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe reads each site's gradient as backward forms it: no gradient is cloned, and
    a family written to call ``retain_grad`` on its sites, as families once had to, gets the
    same numbers. ``retain_grad`` clones the gradient of a site still alive when backward
    reaches it: the RNN's states, which later steps keep, so the RNN case fails if its family
    retains them again (one clone per step); the MLP's and residual net's sites are dropped
    before backward (:func:`test_the_probe_keeps_no_site_through_backward`), and retaining
    them costs nothing. Fails too if the readout misses a gradient."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Clones(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            Clones.count += func is torch.ops.aten.clone.default
            return func(*args, **(kwargs or {}))

    with Clones():  # float64, small: nothing runs on a thread the mode would not see
        plain = gb.measure(spec, seeds=2, batch=5, dtype="float64")
    assert Clones.count == 0
    family = family_of(spec)
    forward = type(family).forward

    def retaining(self: Any, *args: Any) -> Any:
        fwd = forward(self, *args)
        for t in [*fwd.sites, *(src for src, _ in fwd.weight_inputs or ())]:
            if t.requires_grad:
                t.retain_grad()
        return fwd

    monkeypatch.setattr(type(family), "forward", retaining)
    _assert_same(gb.measure(spec, seeds=2, batch=5, dtype="float64"), plain)


def test_the_probe_keeps_no_site_through_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    """Autograd does not save an MLP's pre-activations (ReLU keeps its output, the product
    its input), so once their second moments are taken nothing needs them: when backward
    reaches the first site, no other site is alive (a third of the pass's activations).
    Fails if the probe holds the sites (or their (source, input) pairs) through backward."""
    import weakref

    spec = MLPSpec(depth=4, width=12)
    family = family_of(spec)
    forward = type(family).forward
    alive: list[int] = []

    def watched(self: Any, *args: Any) -> Any:
        fwd = forward(self, *args)
        later = [weakref.ref(s) for s in fwd.sites[1:]]
        fwd.sites[0].register_hook(lambda g: alive.append(sum(r() is not None for r in later)))
        return fwd

    monkeypatch.setattr(type(family), "forward", watched)
    gb.measure(spec, seeds=2, batch=5, dtype="float64")
    assert alive == [0]


@pytest.mark.parametrize("dead_end", ["unused", "split"])
def test_a_site_no_gradient_reaches_reads_zero(dead_end: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A site off the path to the loss reads a gradient norm of 0, the other sites their own:
    a tensor in the graph that feeds nothing the loss uses (no hook fires), or the unused
    half of a ``split`` whose other half the loss uses (autograd calls the hook with
    ``None``; this crashed the hook-based readout before it checked)."""
    spec = MLPSpec(depth=3, width=8)
    family = family_of(spec)
    forward = type(family).forward
    before = gb.measure(spec, seeds=2, batch=4, dtype="float64")

    def with_a_dead_end(self: Any, *args: Any) -> Any:
        fwd = forward(self, *args)
        if dead_end == "unused":
            fwd.sites[1] = fwd.sites[1] * 2.0  # used by nothing after
            return fwd
        used, unused = fwd.sites[1].split(4, dim=-1)
        fwd.sites[1] = unused
        return dataclasses.replace(fwd, loss=fwd.loss + 0.0 * used.sum())

    monkeypatch.setattr(type(family), "forward", with_a_dead_end)
    after = gb.measure(spec, seeds=2, batch=4, dtype="float64")
    assert (after.act_grad_norms[:, 1] == 0).all()
    others = [0, 2]
    assert np.array_equal(after.act_grad_norms[:, others], before.act_grad_norms[:, others])
    assert np.array_equal(after.weight_grad_norms, before.weight_grad_norms)


# ---------------------------------------------------------------------------------------
# 4. Determinism, chunking, dtypes
# ---------------------------------------------------------------------------------------

ARRAYS = ("act_grad_norms", "weight_grad_norms", "preact_second_moment", "nonfinite")
DET_SPECS = [
    MLPSpec(depth=6, width=16, activation="tanh", init="xavier_normal", norm="batchnorm"),
    ResidualSpec(depth=5, width=16, branch_scale="1/sqrt(L)"),
    RNNSpec(cell="lstm", hidden=12, steps=5, init="torch_default"),
]


def _assert_same(a: Any, b: Any, rows: slice = slice(None)) -> None:
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name)[rows], getattr(b, name)), name


@pytest.mark.parametrize("spec", DET_SPECS, ids=_ids(DET_SPECS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_spec_and_seed_are_bit_identical(spec: Any, dtype: str) -> None:
    a = gb.measure(spec, seeds=3, batch=8, dtype=dtype, seed=7)
    b = gb.measure(spec, seeds=3, batch=8, dtype=dtype, seed=7)
    _assert_same(a, b)
    other = gb.measure(spec, seeds=3, batch=8, dtype=dtype, seed=8)
    assert not np.array_equal(a.act_grad_norms, other.act_grad_norms)  # the seed matters
    # networks within one measurement differ
    assert len({tuple(row) for row in a.act_grad_norms.tolist()}) == 3


@pytest.mark.parametrize("spec", DET_SPECS, ids=_ids(DET_SPECS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_network_i_does_not_depend_on_how_many_seeds_are_measured(spec: Any, dtype: str) -> None:
    many = gb.measure(spec, seeds=5, batch=8, dtype=dtype)
    few = gb.measure(spec, seeds=2, batch=8, dtype=dtype)
    _assert_same(many, few, rows=slice(0, 2))


@pytest.mark.parametrize("spec", DET_SPECS, ids=_ids(DET_SPECS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_chunking_does_not_change_results(
    spec: Any, dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = gb.measure(spec, seeds=5, batch=8, dtype=dtype)
    monkeypatch.setenv("GRADBENCH_MEMORY_BUDGET_MB", "0.05")
    step = probe.chunk_size(spec, 5, 8, dtype)
    assert 1 <= step < 5  # the budget really forces several passes
    chunked = gb.measure(spec, seeds=5, batch=8, dtype=dtype)
    _assert_same(whole, chunked)


@pytest.mark.parametrize("text", ["0", "-3", "abc", "nan"])
def test_bad_memory_budget_is_rejected(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADBENCH_MEMORY_BUDGET_MB", text)
    with pytest.raises(
        gb.InvalidArgument, match=rf"GRADBENCH_MEMORY_BUDGET_MB='{text}' is invalid"
    ):
        gb.measure(MLPSpec(depth=2, width=4), seeds=1, batch=2)


# Observed worst relative errors on these specs: float32 3e-7, bfloat16 1.2e-2 (8 significant
# bits, unit roundoff 3.9e-3, accumulated over a few layers); the tolerances leave a margin.
DTYPE_RTOL = {"float32": 1e-5, "bfloat16": 5e-2}


@pytest.mark.parametrize("spec", DET_SPECS, ids=_ids(DET_SPECS))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_low_precision_agrees_with_float64(spec: Any, dtype: str) -> None:
    exact = gb.measure(spec, seeds=4, batch=16, dtype="float64")
    low = gb.measure(spec, seeds=4, batch=16, dtype=dtype)
    assert low.dtype == dtype
    assert not low.nonfinite.any()
    rtol = DTYPE_RTOL[dtype]
    for name in ("act_grad_norms", "weight_grad_norms", "preact_second_moment"):
        np.testing.assert_allclose(
            getattr(low, name), getattr(exact, name), rtol=rtol, atol=0, err_msg=name
        )
    if dtype == "bfloat16":  # and it is really computed in bfloat16, not silently in float32
        assert not np.allclose(low.act_grad_norms, exact.act_grad_norms, rtol=1e-4, atol=0)


def test_measurement_records_what_was_run() -> None:
    spec = RNNSpec(cell="gru", hidden=4, steps=3)
    m = gb.measure(spec, seeds=2, batch=3, dtype="float64", seed=11)
    assert (m.seeds, m.batch, m.seed, m.device, m.dtype) == (2, 3, 11, "cpu", "float64")
    assert m.spec == spec.to_dict()
    assert gb.spec_from_dict(m.spec) == spec
    for name in ARRAYS:
        assert getattr(m, name).shape == (2, 3)
    assert m.nonfinite.dtype == bool


# ---------------------------------------------------------------------------------------
# The suite-level reference check (claim probe_equals_reference, suites/test_reference.py)
# ---------------------------------------------------------------------------------------


def test_every_family_has_a_spec_strategy_for_the_reference_suite() -> None:
    from gradbench.models import families
    from gradbench.strategies import family_strategies

    assert set(family_strategies()) == set(families())


def _reference_verdict(probe_scale: float = 1.0, drop_site: bool = False) -> Any:
    import dataclasses

    from gradbench.claims import get_claim

    spec = ResidualSpec(depth=3, width=8)
    ref = measure_reference(spec, seeds=2, batch=4)
    grads = ref.act_grad_norms * probe_scale
    probe = dataclasses.replace(ref, act_grad_norms=grads[:, :-1] if drop_site else grads)
    return get_claim("probe_equals_reference").evaluate(
        spec, {"probe": probe, "reference": ref}, 0.01)


@pytest.mark.parametrize(("scale", "drop", "passed"), [
    (1.0, False, True), (1 + 2e-11, False, True), (1 + 1e-9, False, False),
    (1.0, True, False),
])
def test_reference_claim_fails_beyond_its_tolerance(scale: float, drop: bool,
                                                    passed: bool) -> None:
    """Equal within 1e-10 relative passes; 1e-9 off, or a site missing, fails."""
    v = _reference_verdict(scale, drop)
    assert v.passed is passed
    assert (v.statistic <= 1.0) is passed


@pytest.mark.parametrize(("width", "threaded"), [(8, False), (128, True)])
def test_draw_stacked_equals_the_networks_drawn_one_by_one(width: int, threaded: bool,
                                                           monkeypatch) -> None:
    """Small networks are drawn serially (threads contending for the GIL would slow them),
    large ones on threads; either way slot i holds network i's own draw, bit for bit."""
    spec = MLPSpec(depth=3, width=width)
    calls: list[int] = []
    real_pool = probe.ThreadPoolExecutor

    def pool(max_workers: int) -> Any:
        calls.append(max_workers)
        return real_pool(max_workers=max_workers)

    monkeypatch.setattr(probe, "ThreadPoolExecutor", pool)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    params, data = probe.draw_stacked(spec, 5, 4, 7)
    assert bool(calls) == threaded
    for i in range(5):
        p, d = draw_network(spec, 4, 7, i)
        for key in p:
            assert torch.equal(params[key][i], p[key])
        for key in d:
            assert torch.equal(data[key][i], d[key])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("spec", [
    ResidualSpec(depth=2, width=8, branch_scale="skipinit"),  # W2 replaced by zeros_like
    ResidualSpec(depth=2, width=8, branch_scale="fixup"),  # W1 * scale: a new tensor
    MLPSpec(depth=3, width=8, init="lsuv"),  # calibrated: every W replaced
    MLPSpec(depth=3, width=8, activation="tanh", sigma_b2=0.1, init="xavier_uniform"),
    TransformerSpec(depth=1, width=8),
], ids=["skipinit", "fixup", "lsuv", "uniform-bias", "transformer"])
def test_draw_stacked_in_place_holds_the_same_numbers(spec: Spec, dtype: torch.dtype) -> None:
    """Networks after the first are drawn into their slots; what a family derives from its
    draws instead (zeros, rescaled copies, LSUV) is copied; the numbers are each network's
    own draw in every case."""
    params, data = probe.draw_stacked(spec, 3, 2, 5, dtype=dtype)
    for i in range(3):
        p, d = draw_network(spec, 2, 5, i, probe.draw_dtype(dtype))
        for key in p:
            assert torch.equal(params[key][i], p[key].to(dtype)), key
        for key in d:
            assert torch.equal(data[key][i], d[key].to(dtype)), key


def test_draw_stacked_draws_float32_weights_in_their_slots(monkeypatch) -> None:
    """The draw's point: a float32 network after the first is drawn in the stacked tensors
    (no temporary, no copy), weights, biases and inputs alike."""
    from gradbench import models

    spec, returned = MLPSpec(depth=3, width=8), []
    real = models.draw_network

    def recorded(*args: Any, **kwargs: Any) -> Any:
        returned.append(real(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(models, "draw_network", recorded)
    params, data = probe.draw_stacked(spec, 3, 2, 5, dtype=torch.float32)
    for slot, (p, d) in enumerate(returned[1:], start=1):
        in_place = {key for part, stacked in ((p, params), (d, data))
                    for key, t in part.items() if t.data_ptr() == stacked[key][slot].data_ptr()}
        assert in_place == {"W0", "W1", "W2", "b0", "b1", "b2", "x"}, in_place  # R: normalized


def test_draw_stacked_copies_a_family_that_swaps_its_draws(monkeypatch) -> None:
    """A family may return one allocation under another key (here W0 and W1 swapped after
    the first network): each slot still ends with the tensor returned under its key, though
    both sources live in the slots being written."""
    from gradbench import models

    spec, real, originals = MLPSpec(depth=2, width=8), models.draw_network, []

    def swapped(*args: Any, **kwargs: Any) -> Any:
        p, d = real(*args, **kwargs)
        if len(originals) >= 1:
            p = {**p, "W0": p["W1"], "W1": p["W0"]}
        originals.append({k: t.clone() for k, t in p.items()})
        return p, d

    monkeypatch.setattr(models, "draw_network", swapped)
    params, _ = probe.draw_stacked(spec, 3, 2, 5, dtype=torch.float32)
    for slot, p in enumerate(originals):
        for key in p:
            assert torch.equal(params[key][slot], p[key]), (slot, key)


def test_draw_stacked_draws_views_of_a_drawn_tensor_in_place(monkeypatch) -> None:
    """A family may return views of what it drew: the rows of a stack of weights (the MLP's
    W{l}, drawn in a row) or a transposed weight (planted here). Each stacked tensor is then
    the same view of its allocation's twin: later networks are drawn in place (no copy), and
    every slot holds its network's numbers, and nothing is cloned or copied onto itself.
    Fails if views were copied, misplaced, or copied back where they are (the numbers then
    stay right)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from gradbench import models

    spec, real, returned = MLPSpec(depth=3, width=16), models.draw_network, []

    def transposed(*args: Any, **kwargs: Any) -> Any:
        p, d = real(*args, **kwargs)
        returned.append(({**p, "W1": p["W1"].T}, d))
        return returned[-1]

    class WastedCopies(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            same = func is torch.ops.aten.copy_.default and args[0].data_ptr() == args[1].data_ptr()
            if same or func is torch.ops.aten.clone.default:  # a clone: saved to be copied
                WastedCopies.count += 1
            return func(*args, **(kwargs or {}))

    monkeypatch.setattr(models, "draw_network", transposed)
    with WastedCopies():  # the networks are too small for threads: every copy is seen here
        params, data = probe.draw_stacked(spec, 4, 2, 5, dtype=torch.float32)
    assert WastedCopies.count == 0
    assert params["W1"].stride()[1:] == (1, 16)  # a transposed view of the twin
    for slot, (p, d) in enumerate(returned):
        for part, stacked in ((p, params), (d, data)):
            for key, t in part.items():
                assert torch.equal(stacked[key][slot], t), (slot, key)
                if slot and key != "R":  # R is normalized: a new tensor, copied
                    assert stacked[key][slot].data_ptr() == t.data_ptr(), (slot, key)


def test_draw_stacked_gives_overlapping_tensors_stacks_of_their_own(monkeypatch) -> None:
    """A family that returns one drawn tensor under two keys for the first network, and a
    tensor of its own under the second key for the others: the second key gets its own
    stack (copied), so every slot of both keys holds its network's numbers. Fails if the
    two keys shared the first one's twin (the second key's copies then overwrite W1)."""
    from gradbench import models

    spec, real = MLPSpec(depth=3, width=16), models.draw_network

    def aliased(spec: Spec, batch: int, seed: int, index: int, *args: Any) -> Any:
        p, d = real(spec, batch, seed, index, *args)
        return {**p, "alias": p["W1"] if index == 0 else p["W0"].clone()}, d

    monkeypatch.setattr(models, "draw_network", aliased)
    params, _ = probe.draw_stacked(spec, 4, 2, 5, dtype=torch.float32)
    for slot in range(4):
        p = real(spec, 2, 5, slot, torch.float32)[0]
        assert torch.equal(params["W1"][slot], p["W1"]), slot
        assert torch.equal(params["alias"][slot], p["W1"] if slot == 0 else p["W0"]), slot


_PAGE_FAULTS = """
import resource, sys, torch, gradbench as gb
from gradbench import probe
if sys.argv[1] == "planted":
    probe.keep_freed_memory = lambda budget=None: False
torch.set_num_threads(1)
spec = gb.MLPSpec(depth=12, width=128)
gb.measure(spec, seeds=32, batch=128)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    gb.measure(spec, seeds=32, batch=128)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_measurements_reuse_the_memory_they_free() -> None:
    """Three measurements after a first fault in a fraction of the pages they fault in when
    the C library gives freed memory back at once (the planted bug: keep_freed_memory a
    no-op). Measured: 1.5-8 thousand faults against 38-46 thousand."""
    faults = {how: int(subprocess.run([sys.executable, "-c", _PAGE_FAULTS, how], check=True,
                                      capture_output=True, text=True).stdout)
              for how in ("kept", "planted")}
    assert faults["kept"] < faults["planted"] / 3, faults


def test_keep_freed_memory_says_whether_the_c_library_took_it(monkeypatch) -> None:
    """True where glibc's mallopt accepted both settings; False, changing nothing, elsewhere."""
    assert probe.keep_freed_memory() == (platform.libc_ver()[0] == "glibc")
    monkeypatch.setattr(probe, "_glibc_mallopt", lambda: None)
    assert probe.keep_freed_memory() is False


_PEAK_MEMORY = """
import ctypes, json, platform, re, sys, gradbench as gb
from gradbench import specs

def status(field):  # kB in /proc/self/status; VmHWM is this process's peak resident memory
    text = open("/proc/self/status").read()
    return int(re.search(field + r":\\s+(\\d+) kB", text).group(1)) * 1024

spec = specs.spec_from_dict(json.loads(sys.argv[1]))
dtype, seeds, batch = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
gb.measure(spec, seeds=1, batch=batch, dtype=dtype)  # imports, kernels, the first pages
if platform.libc_ver()[0] == "glibc":
    ctypes.CDLL(None).malloc_trim(0)  # what the warm-up freed does not count as held
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak starts again from what the process holds now
except OSError:
    sys.exit(3)
before = status("VmRSS")
gb.measure(spec, seeds=seeds, batch=batch, dtype=dtype)
print(status("VmHWM") - before)
"""

MEMORY_CASES = [  # (spec, dtype, batch): activations dominate, then weights
    *((MLPSpec(depth=20, width=128, activation="silu", norm="layernorm"), dtype, 64)
      for dtype in ("float32", "float64", "bfloat16")),
    (ResidualSpec(depth=20, width=256, norm="layernorm"), "float32", 64),
    (RNNSpec(cell="gru", hidden=128, steps=20), "float32", 64),
    (Conv1DSpec(depth=10, channels=32, length=64), "float32", 64),
    (TransformerSpec(depth=4, width=64), "float32", 64),
    (TransformerSpec(depth=4, width=64, heads=4, seq=16, placement="post"), "bfloat16", 64),
    (Conv2DSpec(depth=8, channels=16, height=8, width=8, batchnorm=True), "float32", 64),
    (ResConv2DSpec(depth=4, channels=16, height=8, width=8), "float32", 64),
    (TransformerSpec(depth=2, width=256, seq=4), "float32", 4),
    (Conv2DSpec(depth=3, channels=128, height=3, width=3), "float32", 2),
]


@pytest.mark.integration
@pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc/self/status")
@pytest.mark.parametrize(("spec", "dtype", "batch"), MEMORY_CASES,
                         ids=[f"{spec_label(s)}-{d}-b{b}" for s, d, b in MEMORY_CASES])
def test_a_pass_stays_within_the_memory_budget(spec: Spec, dtype: str, batch: int) -> None:
    """16 networks under a budget of exactly 16 estimates (so one pass holds them all)
    raise the process's peak resident memory by at most the budget: each family's estimate
    (``bytes_per_network``) bounds what its pass really holds, where activations dominate
    (one case per family) and where weights do (a wide transformer, a wide Conv2D). Measured
    peak / budget: 0.34-0.88 over 3 runs of every case and 11 of the transformers' (one
    case's peak varies between runs, e.g. 0.60-0.77 for the residual net). Planted bugs it
    fails (one run each): every estimate cut by a third (5 of 12 cases fail), weights
    counted twice, not three times (both weight-dominated cases), the transformer
    broadcasting each weight over the examples, which copies it per example and keeps the
    copies for backward (all three transformer cases)."""
    seeds = 16
    budget = seeds * probe.bytes_per_network(spec, batch, dtype)
    env = {**os.environ, "GRADBENCH_MEMORY_BUDGET_MB": repr(budget / 2**20)}
    run = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY, json.dumps(spec.to_dict()), dtype, str(seeds),
         str(batch)], capture_output=True, text=True, env=env)
    if run.returncode == 3:
        pytest.skip("/proc/self/clear_refs is not writable here: the peak cannot be reset")
    assert run.returncode == 0, run.stderr
    assert probe.chunk_size(spec, seeds, batch, dtype, budget) == seeds
    peak = int(run.stdout)
    assert peak <= budget, f"peak {peak / 2**20:.1f} MiB > budget {budget / 2**20:.1f} MiB"
