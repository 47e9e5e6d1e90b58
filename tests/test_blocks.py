"""The user's own block (gradbench.blocks, docs/blocks.md): the harness, the depth law, the
guards, ``gradbench validate --kind block``, and the refusal of a module instance."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import gradbench as gb
from gradbench import blocks
from gradbench import validate as gbv
from gradbench.errors import InvalidArgument
from gradbench.registry import import_object

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(__file__).resolve().parent / "blocks_zoo.py"
DEPTHS = np.array([4, 8, 16, 32, 64])


def zoo(name: str) -> Any:
    return import_object(f"{ZOO}:{name}")


def small(**kw: Any) -> blocks.BlockSpec:
    """The spec the in-process tests use: 6 seeds, depths 4 .. 64."""
    return blocks.BlockSpec(str(ZOO), **{"seeds": 6, **kw})


# --------------------------------------------------------------------------------------
# The depth law on exact synthetic laws
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0, -1.0])
def test_an_exact_power_law_is_power(p: float) -> None:
    law = blocks.depth_law(DEPTHS, np.log([1.3 * DEPTHS ** p] * 4))
    assert law.law == "power"
    assert law.exponent == pytest.approx(p)
    assert abs(law.exp_log_factor) < 1e-9
    assert law.direction == ("exploding" if p > 0 else "vanishing")


@pytest.mark.parametrize("rho", [1.02, 1.1, 1.27, 1.7, 0.9])
def test_an_exact_exponential_is_exponential(rho: float) -> None:
    law = blocks.depth_law(DEPTHS, np.log([0.7 * rho ** DEPTHS] * 4))
    assert law.law == "exponential"
    assert law.exp_log_factor == pytest.approx(64 * math.log(rho))
    assert law.direction == ("exploding" if rho > 1 else "vanishing")


@pytest.mark.parametrize(("rho", "shown"), [(1.02, "x1.02 per block"),
                                             (1.1, "x1.10 per block"),
                                             (0.9, "x0.90 per block")])
def test_an_exponential_names_its_factor_per_block_with_the_decimals_it_needs(
        rho: float, shown: str) -> None:
    """A GRU block growing x35 over 64 blocks read 'exponential (exploding): ... x1 per
    block'; the factor per block is shown as the stability claims show one per layer."""
    law = blocks.depth_law(DEPTHS, np.log([0.7 * rho ** DEPTHS] * 4))
    assert law.words().endswith(shown), law.words()


def test_a_rate_below_the_floor_is_not_failed() -> None:
    """rho = 1.005: x1.38 over 64 blocks, below F = 2 (a power/bounded law, not exponential)."""
    law = blocks.depth_law(DEPTHS, np.log([1.005 ** DEPTHS] * 4))
    assert law.law == "bounded"
    assert blocks.depth_law(DEPTHS, np.log([1.012 ** DEPTHS] * 4)).law == "exponential"


def test_a_constant_ratio_is_bounded_and_increments_are_reported() -> None:
    law = blocks.depth_law(DEPTHS, np.log([3.0 + 0 * DEPTHS] * 3))
    assert law.law == "bounded"
    assert law.ratio == pytest.approx(3.0)
    exp_law = blocks.depth_law(DEPTHS, np.log([1.1 ** DEPTHS] * 3))
    inc = np.array(exp_law.increments)
    assert inc[1:] / inc[:-1] == pytest.approx([2.0, 2.0, 2.0])  # doubling per doubling


def test_non_finite_ratios_are_an_explosion() -> None:
    y = np.log([1.1 ** DEPTHS] * 4)
    y[1, 3:] = np.nan
    law = blocks.depth_law(DEPTHS, y)
    assert law.law == "exponential"
    assert law.nonfinite == (32, 1)
    assert "not finite at depth 32 in 1 of 4 seeds" in law.words()


def test_noise_widens_the_interval_and_keeps_power_from_failing() -> None:
    rng = np.random.default_rng(0)
    y = np.log(1.3 * DEPTHS ** 0.5) + rng.normal(0, 0.3, (8, 5))
    law = blocks.depth_law(DEPTHS, y)
    assert law.exp_ci.low < law.exp_log_factor < law.exp_ci.high
    assert law.law != "exponential"


def test_depth_law_rejects_a_wrong_shape() -> None:
    with pytest.raises(InvalidArgument, match="shape"):
        blocks.depth_law(DEPTHS, np.zeros((1, 5)))


# --------------------------------------------------------------------------------------
# The spec and the harness
# --------------------------------------------------------------------------------------


def test_block_spec_is_hashable_and_seeds_derive_from_the_configuration() -> None:
    a, b = small(), small()
    assert hash(a) == hash(b)
    assert {a, b} == {a}
    assert a.seed(8, 1) == b.seed(8, 1) != a.seed(8, 2)
    assert a.seed(8, 1) != small(base_seed=1).seed(8, 1)
    assert a.seed(8, 1) == blocks.BlockSpec("other.mod:f", seeds=6).seed(8, 1)  # baselines
    assert a.judged_depth == 64
    assert a.to_dict()["family"] == "block"


@pytest.mark.parametrize("bad", [{"width": 0}, {"batch": 1}, {"seeds": 1},
                                 {"depths": (8, 4, 16)}, {"depths": (4, 8)},
                                 {"dtype": "float16"}])
def test_block_spec_rejects_bad_values_in_one_sentence(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument, match=f"BlockSpec.{next(iter(bad))}="):
        small(**bad)


def test_depth_grid_reaches_max_64_and_the_depth() -> None:
    assert blocks.depth_grid() == (4, 8, 16, 32, 64)
    assert blocks.depth_grid(48) == (4, 8, 16, 32, 64)
    assert blocks.depth_grid(100) == (4, 8, 16, 32, 64, 100)
    assert blocks.depth_grid(200) == (4, 8, 16, 32, 64, 128, 200)


def test_taps_give_the_input_gradients_autograd_gives() -> None:
    """Oracle: the tap gradients equal d loss / d x_l computed by differentiating x_l."""
    spec = small(width=8, seq=3, batch=2)
    m = blocks.measure_stack(zoo("pre_ln"), spec, 5, 0)
    g = torch.Generator().manual_seed(spec.seed(5, 0))
    x = torch.randn(2, 3, 8, generator=g, dtype=torch.float64)
    readout = torch.randn(2, 3, 8, generator=g, dtype=torch.float64) / math.sqrt(48)
    stack = [blocks.build(zoo("pre_ln"), spec, i, 5, g) for i in range(5)]
    xs = [x.requires_grad_()]
    for block in stack:
        xs.append(block(xs[-1]))
        xs[-1].retain_grad()
    (xs[-1] * readout).sum().backward()
    want = [float(t.grad.norm()) for t in xs]  # type: ignore[union-attr]
    assert m.gradient_norms == pytest.approx(want, rel=1e-12)
    assert m.activation_norms == pytest.approx([float(t.detach().norm()) for t in xs])
    assert m.log_ratio == pytest.approx(math.log(want[0] / want[-1]))


def test_weight_gradients_are_each_parameters_autograd_gradient() -> None:
    """Oracle: per layer and parameter name, ||dloss/dW|| equals autograd's on the same
    stack; asking for them leaves the input-gradient norms unchanged."""
    spec = small(width=8, seq=3, batch=2)
    m = blocks.measure_stack(zoo("pre_ln"), spec, 3, 0, weights=True)
    assert m.gradient_norms == pytest.approx(
        blocks.measure_stack(zoo("pre_ln"), spec, 3, 0).gradient_norms, rel=1e-13)
    g = torch.Generator().manual_seed(spec.seed(3, 0))
    x = torch.randn(2, 3, 8, generator=g, dtype=torch.float64)
    readout = torch.randn(2, 3, 8, generator=g, dtype=torch.float64) / math.sqrt(48)
    stack = [blocks.build(zoo("pre_ln"), spec, i, 3, g).requires_grad_(True) for i in range(3)]
    for block in stack:
        x = block(x)
    (x * readout).sum().backward()
    names = {k for block in stack for k, p in block.named_parameters() if p.dim() >= 2}
    assert set(m.weight_gradients) == names
    assert "attn.in_proj_weight" in names
    for layer, block in enumerate(stack):
        for key in names:
            p = block.get_parameter(key)
            assert m.weight_gradients[key][layer] == pytest.approx(float(p.grad.norm()),  # type: ignore[union-attr]
                                                                   rel=1e-12)


def test_output_change_of_identity_layers_is_their_number() -> None:
    """Oracle: L identity layers, each perturbed by eps rms(I) Z: E delta^2 = L to first
    order (docs/blocks.md §4.2); its law is a power law of exponent 1, growing."""
    spec = small()
    law = blocks.report(zoo("identity"), spec, "identity").output_change
    assert law is not None
    assert (law.law, law.direction) == ("power", "growing"), law.words()
    assert law.exponent == pytest.approx(1.0, abs=0.05)
    for depth, mean_log in zip(spec.depths, law.log_ratio):
        assert math.exp(mean_log) == pytest.approx(depth, rel=0.15)


def test_token_similarity_does_not_read_a_vanished_stream_as_uncollapsed() -> None:
    """A block without its skip vanished to ||x_L|| ~ 1e-50 and its tokens' similarity read
    0.00 at depths 32 and 64 (normalize's eps turned every token into ~0): it is invariant
    to the scale of the stream."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 8, 16, generator=g, dtype=torch.float64) + 2.0  # tokens share a mean
    base = blocks.token_similarity(x)
    assert base > 0.5
    for scale in (1e-50, 1e-20, 1e20):
        assert blocks.token_similarity(scale * x) == pytest.approx(base, rel=1e-12)


def test_token_similarity_is_zero_for_random_tokens_and_one_for_equal_ones() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 8, 512, generator=g, dtype=torch.float64)
    assert abs(blocks.token_similarity(x)) < 0.02
    same = x[:, :1].expand(4, 8, 512)
    assert blocks.token_similarity(same) == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(blocks.token_similarity(x[:, :1]))


def test_output_change_and_tokens_tell_post_ln_from_deep_norm_and_a_wrong_beta() -> None:
    """Post-LN's output change grows with depth and its tokens collapse; DeepNorm's is
    bounded (declared, passes); beta = (8N)^(-1/2) shrinks it (declared bounded: fails)."""
    spec = small()
    names = ("post_ln", "deep_norm", "deep_norm_beta_exponent_half")
    reports = {n: blocks.report(zoo(n), spec, n) for n in names}
    laws = {n: r.output_change for n, r in reports.items()}
    assert (laws["post_ln"].law, laws["post_ln"].direction) == ("power", "growing")  # type: ignore[union-attr]
    assert laws["deep_norm"].law == "bounded"  # type: ignore[union-attr]
    assert laws["deep_norm_beta_exponent_half"].direction == "shrinking"  # type: ignore[union-attr]
    judged = {n: {v.claim: v for v in blocks.verdicts(r, spec, blocks.meta_of(zoo(n), n))}
              for n, r in reports.items()}
    assert judged["deep_norm"]["block_output_change"].passed
    change = judged["deep_norm_beta_exponent_half"]["block_output_change"]
    assert not change.passed
    assert "declared output_change='bounded'" in change.note
    assert "shrinking" in change.note
    assert judged["post_ln"]["block_output_change"].passed  # nothing declared: reported
    assert not blocks.verdicts(reports["post_ln"], spec, {"output_change": "bounded"})[2].passed
    assert reports["post_ln"].tokens()[0] > 0.99
    assert abs(reports["deep_norm"].tokens()[0]) < 0.1
    limit = {"max_token_similarity": 0.5}
    assert not blocks.verdicts(reports["post_ln"], spec, limit)[3].passed
    assert blocks.verdicts(reports["deep_norm"], spec, limit)[3].passed


def test_measurements_are_reproducible_and_leave_the_global_rng_alone() -> None:
    state = torch.get_rng_state()
    spec = small(width=8, depths=(2, 3, 4))
    a = blocks.measure(zoo("chaotic_tanh"), spec)
    b = blocks.measure(zoo("chaotic_tanh"), spec)
    assert all(np.array_equal(x.gradient_norms, y.gradient_norms)
               for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))
    assert torch.equal(torch.get_rng_state(), state)


def test_seeds_measured_on_threads_equal_seeds_measured_one_by_one() -> None:
    """measure_seeds runs seeds on a thread pool; each seed draws from its own generator,
    so the numbers (and their order) do not depend on the number of workers."""
    spec = small(width=8, depths=(2, 3, 5), seeds=6)
    with blocks._isolated():
        one = blocks.measure_seeds(zoo("pre_ln"), spec, 5, weights=True, workers=1)
        many = blocks.measure_seeds(zoo("pre_ln"), spec, 5, weights=True, workers=3)
    for a, b in zip(one, many, strict=True):
        assert np.array_equal(a.gradient_norms, b.gradient_norms)
        assert np.array_equal(a.activation_norms, b.activation_norms)
        assert a.output_change == b.output_change
        assert all(np.array_equal(a.weight_gradients[k], b.weight_gradients[k])
                   for k in a.weight_gradients)
    assert len({a.output_change for a in one}) == len(one)  # distinct seeds, distinct draws


def test_skipping_the_output_change_leaves_every_other_measurement_as_it_was() -> None:
    """The bench's gradients-only path measures what validate measures, minus the output
    change: it is read from the same backward, after everything else."""
    spec = small(width=8, depths=(2, 3, 4))
    with blocks._isolated():
        full = blocks.measure_stack(zoo("pre_ln"), spec, 4, 1, weights=True)
        bare = blocks.measure_stack(zoo("pre_ln"), spec, 4, 1, weights=True,
                                    with_output_change=False)
    assert np.isfinite(full.output_change)
    assert math.isnan(bare.output_change)
    assert np.array_equal(full.gradient_norms, bare.gradient_norms)
    assert np.array_equal(full.activation_norms, bare.activation_norms)
    assert full.token_similarity == bare.token_similarity
    assert full.weight_gradients.keys() == bare.weight_gradients.keys()
    assert all(np.array_equal(full.weight_gradients[k], bare.weight_gradients[k])
               for k in full.weight_gradients)

# --------------------------------------------------------------------------------------
# Guards: one sentence each
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "words"), [
    ("widens", "must preserve the shape"),
    ("returns_tuple", r"^block 'returns_tuple' returns a tuple, not a tensor; a block returns "
                      r"one tensor of its input's shape \(4, 8, 32\) \(return the hidden "
                      r"states alone, e\.g\. the first element of a tuple\)$"),
    ("mixes_batch", "mixes examples across the batch"),
    ("ignores_generator", "ignores its generator"),
    ("nan_block", "returns NaN or Inf"),
])
def test_guards_name_the_problem_in_one_sentence(name: str, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words) as info:
        blocks.check_block(zoo(name), small(), name)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("name", ["pre_ln", "torch_encoder", "chaotic_tanh", "he_residual",
                                  "overflows"])
def test_guards_let_good_blocks_through(name: str) -> None:
    blocks.check_block(zoo(name), small(), name)


# --------------------------------------------------------------------------------------
# Dropout: train mode when declared
# --------------------------------------------------------------------------------------


def test_train_mode_runs_dropout_on_masks_seeded_from_the_configuration() -> None:
    """Oracle: the stack built in train mode, run by hand with the global RNG seeded as the
    harness seeds it, gives the same tap gradients; reruns from different global RNG states
    are identical; eval mode (the default) gives different gradients."""
    dropout = zoo("torch_encoder_dropout")
    spec = small(width=16, seq=4, batch=2, train=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        m = blocks.measure_stack(dropout, spec, 4, 1)
        torch.manual_seed(456)
        again = blocks.measure_stack(dropout, spec, 4, 1)
    assert np.array_equal(m.gradient_norms, again.gradient_norms)
    assert m.output_change == again.output_change
    g = torch.Generator().manual_seed(spec.seed(4, 1))
    x = torch.randn(2, 4, 16, generator=g, dtype=torch.float64)
    readout = torch.randn(2, 4, 16, generator=g, dtype=torch.float64) / math.sqrt(128)
    stack = [blocks.build(dropout, spec, i, 4, g) for i in range(4)]
    assert all(block.training for block in stack)
    xs = [x.requires_grad_()]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed(4, 1))
        for block in stack:
            xs.append(block(xs[-1]))
            xs[-1].retain_grad()
    (xs[-1] * readout).sum().backward()
    assert m.gradient_norms == pytest.approx([float(t.grad.norm()) for t in xs], rel=1e-12)
    evaluated = blocks.measure_stack(dropout, small(width=16, seq=4, batch=2), 4, 1)
    assert not np.allclose(evaluated.gradient_norms, m.gradient_norms, rtol=1e-3)


def test_train_mode_leaves_a_block_without_dropout_as_it_was() -> None:
    spec = small(width=16, seq=4, batch=2)
    train = blocks.measure_stack(zoo("pre_ln"), small(width=16, seq=4, batch=2, train=True),
                                 4, 0)
    assert train.gradient_norms == pytest.approx(
        blocks.measure_stack(zoo("pre_ln"), spec, 4, 0).gradient_norms, rel=1e-10)


def test_the_output_change_is_the_first_order_perturbation_law_in_train_mode() -> None:
    """Oracle (docs/blocks.md §4.2): for a fixed stack (dropout active, one set of masks),
    exact tr(K) / ||F||^2 from the full Jacobian, K = sum_p rms(p)^2 J_p J_p^T, against
    (a) the mean of the harness's estimator over 400 readouts and (b) the mean of
    ||F(W + dW) - F(W)||^2 / (eps^2 ||F||^2) over 400 Gaussian perturbations
    dW = eps rms(W) Z by finite differences (eps = 1e-5), each within 4 standard errors;
    and the harness's own value equals the estimator at its readout."""
    spec = small(width=8, seq=3, batch=2, train=True)
    depth, index = 3, 1
    m = blocks.measure_stack(zoo("torch_encoder_dropout"), spec, depth, index)
    g = torch.Generator().manual_seed(spec.seed(depth, index))
    x0 = torch.randn(2, 3, 8, generator=g, dtype=torch.float64)
    readout = torch.randn(2, 3, 8, generator=g, dtype=torch.float64) / math.sqrt(48)
    with torch.random.fork_rng(devices=[]):
        stack = [blocks.build(zoo("torch_encoder_dropout"), spec, i, depth, g)
                 for i in range(depth)]
    weights = [p for block in stack for p in block.parameters() if p.dim() >= 2]
    for p in weights:
        p.requires_grad_(True)

    def forward() -> torch.Tensor:
        with blocks.dropout_masks(spec.seed(depth, index)):
            x = x0
            for block in stack:
                x = block(x)
        return x

    out = forward()
    norm2 = float(out.detach().pow(2).sum())
    rms2 = [float(p.detach().pow(2).mean()) for p in weights]
    exact = 0.0
    for o in range(out.numel()):
        grads = torch.autograd.grad(out.flatten()[o], weights, retain_graph=True)
        exact += sum(r * float(gp.pow(2).sum()) for r, gp in zip(rms2, grads))
    exact /= norm2
    mine = torch.autograd.grad((out * readout).sum(), weights, retain_graph=True)
    assert m.output_change == pytest.approx(
        blocks.output_change(weights, mine, readout, out.detach()), rel=1e-10)
    rng = torch.Generator().manual_seed(7)
    hutchinson, finite = [], []
    for _ in range(400):
        r = torch.randn(out.shape, generator=rng, dtype=torch.float64) / math.sqrt(48)
        gs = torch.autograd.grad((out * r).sum(), weights, retain_graph=True)
        hutchinson.append(blocks.output_change(weights, gs, r, out.detach()))
    eps = 1e-5
    with torch.no_grad():
        base = [p.clone() for p in weights]
        for _ in range(400):
            for p, b, r in zip(weights, base, rms2):
                p.copy_(b + eps * math.sqrt(r) * torch.randn(p.shape, generator=rng,
                                                             dtype=torch.float64))
            finite.append(float((forward() - out).pow(2).sum()) / (eps**2 * norm2))
    for sample in (hutchinson, finite):
        assert abs(np.mean(sample) - exact) < 4 * np.std(sample) / math.sqrt(len(sample))


def test_guards_in_train_mode_run_both_forwards_on_one_mask() -> None:
    """Dropout draws masks per call; the batch-mixing guard compares two forwards, so it
    must not mistake two masks for mixing. BatchNorm in train mode does mix the batch."""
    blocks.check_block(zoo("torch_encoder_dropout"), small(train=True), "dropout")
    blocks.check_block(zoo("batchnorm_residual"), small(), "bn")
    with pytest.raises(InvalidArgument, match="mixes examples across the batch"):
        blocks.check_block(zoo("batchnorm_residual"), small(train=True), "bn")


def test_a_declared_dropout_puts_validate_in_train_mode(monkeypatch: Any,
                                                        tmp_path: Path) -> None:
    seen: list[blocks.BlockSpec] = []

    class Seen(Exception):
        pass

    def report(factory: Any, spec: blocks.BlockSpec, name: str) -> Any:
        seen.append(spec)
        raise Seen

    monkeypatch.setattr(blocks, "report", report)
    for name, train in (("torch_encoder_dropout", True), ("torch_encoder", False)):
        with pytest.raises(Seen):
            blocks.validate_block(f"{ZOO}:{name}", out_dir=tmp_path)
        assert seen[-1].train is train
        assert ("train" in seen[-1].to_dict()) is train


def test_a_dropout_declaration_that_is_not_a_bool_is_one_sentence() -> None:
    def block(width: int, *, layer: int, depth: int, generator: Any) -> Any:
        return torch.nn.Identity()

    block.gradbench_meta = {"dropout": "yes"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match=r"gradbench_meta\['dropout'\]='yes' .* True or "
                                              "False"):
        blocks.meta_of(block, "m:block")
    with pytest.raises(InvalidArgument, match=r"BlockSpec\.train=1 is invalid"):
        small(train=1)


def test_a_factory_that_raises_or_returns_no_module_is_one_sentence() -> None:
    def raises(width: int, *, layer: int, depth: int, generator: Any) -> Any:
        raise RuntimeError("boom\nmore")

    def returns(width: int, *, layer: int, depth: int, generator: Any) -> Any:
        return 3

    with pytest.raises(InvalidArgument, match=r"raised RuntimeError .*: boom$"):
        blocks.check_block(raises, small())
    with pytest.raises(InvalidArgument, match=r"returned a int, not a torch\.nn\.Module"):
        blocks.check_block(returns, small())


def test_factories_are_told_from_modules_and_other_callables() -> None:
    assert blocks.is_block_factory(zoo("pre_ln"))
    assert not blocks.is_block_factory(torch.nn.Linear(2, 2))
    assert not blocks.is_block_factory(torch.tanh)
    with pytest.raises(InvalidArgument, match="not a block factory"):
        blocks.load_factory("torch:tanh")


def test_meta_keys_are_checked() -> None:
    def f(width: int, *, layer: int, depth: int, generator: Any) -> Any: ...

    f.gradbench_meta = {"expected": "bounded"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match=r"key 'expected' .* valid keys: expect"):
        blocks.meta_of(f, "m:f")
    f.gradbench_meta = {"expect": "linear"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match="valid choices: bounded, power, exponential"):
        blocks.meta_of(f, "m:f")
    f.gradbench_meta = {"output_change": "flat"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match=r"\['output_change'\]='flat' .* valid choices: "
                       "bounded, power, exponential"):
        blocks.meta_of(f, "m:f")
    f.gradbench_meta = {"max_token_similarity": 1.5}  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match=r"must be a number in \(-1, 1\]"):
        blocks.meta_of(f, "m:f")


# --------------------------------------------------------------------------------------
# Real blocks: the law, the verdicts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "law"), [
    ("pre_ln", "power"), ("torch_encoder", "power"), ("chaotic_tanh", "exponential"),
    ("he_residual", "exponential"), ("scaled_residual", "bounded"), ("overflows", "exponential"),
])
def test_real_blocks_get_their_law(name: str, law: str) -> None:
    rep = blocks.report(zoo(name), small(), name)
    assert rep.law.law == law, rep.law.words()
    if name == "pre_ln":  # the ~x4-8 growth at depth 64 of a pre-LN stack
        assert 3.0 < rep.law.ratio < 12.0
        assert 0.3 < rep.law.exponent < 0.7
    if name == "chaotic_tanh":  # mean field: sqrt(chi_1) = 1.27 per block
        per_block = math.exp(rep.law.exp_log_factor / 64)
        assert 1.15 < per_block < 1.35


def test_verdicts_fail_only_exponential_unless_declared() -> None:
    spec = small()
    pre = blocks.report(zoo("pre_ln"), spec, "pre_ln")
    law, stream, change, tokens = blocks.verdicts(pre, spec, {})
    assert [v.claim for v in (law, stream, change, tokens)] == [
        "block_depth_law", "block_stream_growth", "block_output_change", "block_token_collapse"]
    assert all(v.passed for v in (law, stream, change, tokens))
    assert "nothing declared" in law.note
    assert "reported, not judged" in change.note
    assert "reported, not judged" in tokens.note
    assert not blocks.verdicts(pre, spec, {"expect": "bounded"})[0].passed
    assert not blocks.verdicts(pre, spec, {"max_stream_growth": 2.0})[1].passed
    assert blocks.verdicts(pre, spec, {"max_stream_growth": 50.0})[1].passed
    he = blocks.report(zoo("he_residual"), spec, "he")
    assert not blocks.verdicts(he, spec, {})[0].passed
    assert blocks.verdicts(he, spec, {"expect": "exponential"})[0].passed


def test_validate_writes_results_and_answers_does_my_fix_help(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(blocks.SEEDS, "quick", 4)  # 4 seeds: this test is about the wiring
    result = gbv.validate(f"{ZOO}:scaled_residual", out_dir=tmp_path)
    assert result.kind == "block"
    assert result.exit_code == 0
    assert result.pytest_exit == 0  # the baseline's failed claim is xfailed, not failed
    text = "\n".join(result.summary)
    assert "scaled_residual (candidate)" in text
    assert "bounded" in text
    assert "output change" in text
    assert "tokens' mean cosine similarity" in text
    assert "weight gradient, first block / last" in text
    assert re.search(r"scaled_residual vs pre_ln \(same seeds\): r / r_pre_ln at depth 64 = "
                     r"0\.\d+ \[", text), text
    doc = json.loads(Path(result.json_path or "").read_text())
    claims = {(b["extra_info"]["gradbench"]["remedy"]["name"], b["group"]) for b in
              doc["benchmarks"]}
    assert ("unscaled_residual", "block_depth_law") in claims
    assert doc["gradbench"]["measurement_path"] == blocks.MEASUREMENT_PATH  # which path ran
    assert Path(result.html_path or "").stat().st_size > 0
    again = gbv.validate(f"{ZOO}:scaled_residual", out_dir=tmp_path)
    strip = {"datetime", "machine_info"}
    first = {k: v for k, v in doc.items() if k not in strip}
    second = json.loads(Path(again.json_path or "").read_text())
    assert first == {k: v for k, v in second.items() if k not in strip}  # reruns identical


def test_the_report_of_a_block_validation_tells_the_truth(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page of a block validation that exits 0 beside a baseline failing by design
    (unscaled_residual is exponential on purpose). It led with "✗ 1 of 12 checks failed",
    listed the block claims as "not a registered claim" with role "?", said "0
    configuration(s) measured" and "Theory's claims", and printed a per-block growth over 63
    steps with an interval in natural-log units beside the law's different factor."""
    import html

    from gradbench.claims import CLAIMS

    monkeypatch.setitem(blocks.SEEDS, "quick", 4)  # 4 seeds: this test is about the page
    result = gbv.validate(f"{ZOO}:scaled_residual", out_dir=tmp_path)
    assert result.exit_code == 0
    page = html.unescape(Path(result.html_path or "").read_text())
    verdict = re.search(r'<p class="verdict verdict-(\w+)" id="verdict">([^<]*)</p>', page)
    assert verdict is not None
    assert verdict.group(1) == "pass"
    assert verdict.group(2).startswith("✓ the candidate 'scaled_residual': every one of the 4 "
                                       "checks held. Baselines: 1 of 8 checks failed "
                                       "(unscaled_residual: block_depth_law)")
    claims = page[page.index('<section id="claims"'):]
    claims = claims[:claims.index("</section>")]
    assert "not a registered claim" not in claims
    for name in ("block_depth_law", "block_stream_growth", "block_output_change",
                 "block_token_collapse"):
        assert CLAIMS[name].statement in claims
    assert CLAIMS["block_depth_law"].role == "stability"
    summary = page[page.index('<section id="summary"'):]
    summary = summary[:summary.index("</section>")]
    for wrong in ("0 configuration(s) measured", "Theory's claims", "No gradient measurements",
                  "vanishing"):
        assert wrong not in summary
    assert "Checks: <b>11</b> of 12 passed." in summary
    failure = page[page.index('<div class="bad failure">'):]
    failure = failure[:failure.index("</div>\n") if "</div>\n" in failure else 4000]
    assert "block-to-block steps" not in failure  # one quantity: the law's, in one unit
    assert "natural log units" in failure  # the interval's units are named beside it
    assert "context, not the candidate's verdict" in failure
    assert "p = nan" not in failure  # a block verdict is an interval's: no p-value to show


def test_a_block_claim_is_checked_through_the_registry() -> None:
    """The block claims are registered (subject ``block``): ``gb.check`` measures the spec's
    factory and reads the claim's verdict, the same one validate records."""
    spec = blocks.BlockSpec(f"{ZOO}:he_residual", depths=(4, 8, 16), seeds=4)
    verdict = gb.check(spec, "block_depth_law")
    assert verdict.claim == "block_depth_law"
    assert not verdict.passed  # exponential
    rep = blocks.report(zoo("he_residual"), spec, "he_residual")
    assert verdict.measured == blocks.verdicts(rep, spec, {})[0].measured


def test_validate_names_block_among_the_kinds(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"did you mean 'block'\? valid choices: .*block"):
        gbv.validate(f"{ZOO}:pre_ln", kind="blok", out_dir=tmp_path)


def test_validate_refuses_a_baseline_for_other_kinds(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="--baseline applies to blocks only"):
        gbv.validate("torch.nn.init:kaiming_normal_", out_dir=tmp_path,
                             baselines=[f"{ZOO}:pre_ln"])


# --------------------------------------------------------------------------------------
# A module instance where a spec is expected
# --------------------------------------------------------------------------------------


def test_measure_and_check_refuse_a_module_in_one_sentence() -> None:
    model = torch.nn.Sequential(*[torch.nn.TransformerEncoderLayer(16, 2, batch_first=True)
                                  for _ in range(48)])
    for api, factory in ((gb.measure, r"a spec such as gb\.MLPSpec\(\.\.\.\) .* a factory "
                                      r"model\(\*, generator\) .*profile_model"),
                         (gb.check, r"a factory model\(\*, generator\)")):
        with pytest.raises(InvalidArgument, match=rf"torch\.nn\.Module instance .*pass "
                           rf"{factory}") as info:
            api(model)
        assert len(str(info.value)) < 400
        assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------
# A whole model: gb.check(model_factory, blocks=..., example_input=...)
# --------------------------------------------------------------------------------------


def _stack(name: str, depth: int = 12):  # type: ignore[no-untyped-def]
    def model(*, generator: torch.Generator) -> torch.nn.Module:
        return torch.nn.Sequential(*(zoo(name)(16, layer=i, depth=depth, generator=generator)
                                     for i in range(depth)))

    return model


def _tokens(generator: torch.Generator) -> torch.Tensor:
    return torch.randn(3, 5, 16, generator=generator)


def test_model_profile_taps_give_the_gradients_autograd_gives() -> None:
    prof = blocks.profile_model(_stack("he_residual", 4), blocks=r"\d+", example_input=_tokens,
                                seeds=2)
    assert prof.names == ("0", "1", "2", "3")
    g = torch.Generator().manual_seed(blocks._model_seed(0, 1))
    model = _stack("he_residual", 4)(generator=g).double()
    x = _tokens(g).double()
    outs = []
    for block in model:
        x = block(x)
        x.retain_grad()
        outs.append(x)
    readout = torch.randn(x.shape, generator=g, dtype=x.dtype) / math.sqrt(x.numel())
    (x * readout).sum().backward()
    want = [float(o.grad.norm()) for o in outs]  # type: ignore[union-attr]
    assert prof.gradient_norms[1] == pytest.approx(want, rel=1e-12)
    assert prof.activation_norms[1] == pytest.approx([float(o.detach().norm()) for o in outs])


def test_check_of_a_whole_model_classes_its_growth() -> None:
    good = gb.check(_stack("pre_ln"), blocks=lambda n: n.isdigit(), example_input=_tokens)
    assert good.passed, good.note
    assert good.growth is not None
    assert good.growth["class"] == "stable"
    bad = gb.check(_stack("he_residual", 24), blocks=r"\d+", example_input=_tokens)
    assert not bad.passed
    assert bad.note.startswith("exploding: gradients grow x1.")


def test_check_of_a_whole_model_reads_its_interval_at_the_alpha_it_records() -> None:
    """The verdict recorded gb.check's alpha (0.01) but read a 90% interval whatever alpha
    was; its interval is now the 1 - 2 alpha one, so a larger alpha gives a narrower one."""
    run = functools.partial(gb.check, _stack("pre_ln"), blocks=r"\d+", example_input=_tokens)
    strict, loose = run(alpha=0.01), run(alpha=0.2)
    assert (strict.alpha, loose.alpha) == (0.01, 0.2)
    assert strict.measured == loose.measured
    assert strict.ci_low < loose.ci_low < loose.ci_high < strict.ci_high
    profile = blocks.profile_model(_stack("pre_ln"), blocks=r"\d+", example_input=_tokens)
    tost = run(alpha=0.05)  # the profile's own interval is the 90% one
    assert (tost.ci_low, tost.ci_high) == pytest.approx((profile.growth.low,
                                                         profile.growth.high), rel=1e-12)
    with pytest.raises(InvalidArgument, match=r"^alpha=0.7 is invalid: must be in \(0, 0.5\)$"):
        run(alpha=0.7)


def test_check_of_a_model_instance_or_without_its_input_is_one_sentence() -> None:
    """gb.check(MyNet(g), blocks=..., example_input=...) raised 'forward() got an unexpected
    keyword argument generator'; without example_input, 'check_model() missing 1 required
    keyword-only argument'; alone, it suggested a block factory."""
    instance = _stack("pre_ln", 2)(generator=torch.Generator())
    for config in ({"blocks": r"\d+", "example_input": _tokens}, {"blocks": r"\d+"}, {}):
        with pytest.raises(InvalidArgument, match=r"^gradbench\.check got a torch\.nn\.Module "
                           r"instance \(Sequential\); pass a factory model\(\*, generator\) -> "
                           r"nn\.Module instead .*example_input="):
            gb.check(instance, **config)
    for missing, config in (("example_input", {"blocks": r"\d+"}),
                            ("blocks", {"example_input": _tokens})):
        with pytest.raises(InvalidArgument, match=rf"^gradbench\.check of a whole model needs "
                           rf"{missing}=: "):
            gb.check(_stack("pre_ln", 2), **config)
    with pytest.raises(InvalidArgument, match=r"^example_input=Tensor is invalid: give a "
                       r"function generator -> the model's input"):
        gb.check(_stack("pre_ln", 2), blocks=r"\d+", example_input=_tokens(torch.Generator()))


def test_check_of_a_factory_without_blocks_says_what_to_pass() -> None:
    """gb.check(model_factory) and gb.check(block_factory) said '<function model at 0x...>
    is neither a network spec nor a registered remedy (use registry.lookup ...)'; each now
    says what to pass, in one sentence."""
    with pytest.raises(InvalidArgument, match=r"^gradbench\.check got the model factory model "
                       r"without blocks= and example_input=; pass them: gb\.check\(model, "):
        gb.check(_stack("pre_ln", 2))
    block = zoo("pre_ln")
    path = f"{block.__module__}:pre_ln"
    for claim in ("mean_field_slope", "block_depth_law"):
        with pytest.raises(InvalidArgument, match=rf"^gradbench\.check got the block factory "
                           rf"pre_ln: check it through a spec, gb\.check\(gradbench\.blocks\."
                           rf"BlockSpec\('{re.escape(path)}'\), 'block_depth_law'\), or "
                           rf"gradbench validate {re.escape(path)} "
                           + re.escape("(docs/blocks.md §5)") + "$"):
            gb.check(block, claim)
    assert blocks.is_block_factory(block)
    assert not blocks.is_block_factory(_stack("pre_ln"))


def test_a_model_factory_that_misbehaves_is_one_sentence() -> None:
    """An invalid selector raised re.error; a factory without the generator keyword raised
    TypeError; one that drew its weights from the global RNG was measured, each copy
    different on every call. Each is now one sentence, before anything is measured."""
    def run(factory, selector=r"\d+", example_input=_tokens):  # type: ignore[no-untyped-def]
        return blocks.profile_model(factory, blocks=selector, example_input=example_input,
                                    seeds=2)

    with pytest.raises(InvalidArgument, match=r"^blocks='\(' is not a valid regular "
                       r"expression \(.*\); give one matched in full"):
        run(_stack("pre_ln", 2), "(")
    with pytest.raises(InvalidArgument, match=r"^the model factory raised TypeError: .*"
                       r"'generator'; it must be model\(\*, generator\) -> nn\.Module$"):
        run(lambda: _stack("pre_ln", 2)(generator=torch.Generator()))
    with pytest.raises(InvalidArgument, match=r"^example_input raised ValueError: no input; it "
                       r"must be a function generator -> the model's input"):
        run(_stack("pre_ln", 2), example_input=lambda g: (_ for _ in ()).throw(
            ValueError("no input")))

    def global_rng(*, generator: torch.Generator) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Linear(16, 16))

    with pytest.raises(InvalidArgument, match=r"^the model factory ignores its generator: two "
                       r"builds from equal generators gave different weights; "):
        run(global_rng)


def _bn_stack(*, generator: torch.Generator, depth: int = 20) -> torch.nn.Module:
    """A plain stack of He Linear -> BatchNorm1d -> ReLU -> Dropout blocks (no skip)."""
    layers = []
    for _ in range(depth):
        linear = torch.nn.Linear(16, 16, bias=False)
        torch.nn.init.normal_(linear.weight, 0.0, math.sqrt(2 / 16), generator=generator)
        layers.append(torch.nn.Sequential(linear, torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                          torch.nn.Dropout(0.1)))
    return torch.nn.Sequential(*layers)


def test_a_whole_model_with_batch_norm_is_measured_in_train_mode_and_told_in_eval_mode() -> None:
    """A ResNet with BatchNorm2d was judged exploding and the same ResNet without its skips
    stable: it ran in eval mode, where a fresh BatchNorm is the identity, and nothing said
    so. It now runs in train mode by default, on batch statistics, where a plain ReLU +
    BatchNorm stack explodes (Yang et al. 2019); dropout masks are seeded, the global RNG
    left as it was. In eval mode (train=False) the note says what ran."""
    def inputs(g: torch.Generator) -> torch.Tensor:
        return torch.randn(8, 16, generator=g)

    run = functools.partial(gb.check, _bn_stack, blocks=r"\d+", example_input=inputs, seeds=4)
    frozen = run(train=False)
    assert frozen.passed, frozen.note
    assert frozen.note.endswith("; its 20 BatchNorm layers ran in eval mode on running "
                                "statistics (at initialization mean 0, variance 1: the "
                                "identity, normalizing nothing); train=True (the default) "
                                "measures them on the batch's statistics")
    state = torch.get_rng_state()
    trained = run()
    assert torch.equal(torch.get_rng_state(), state)
    assert not trained.passed
    assert trained.note.startswith("exploding: gradients grow x1.")
    assert "BatchNorm" not in trained.note
    assert trained.spec["train"] is True
    again = blocks.profile_model(_bn_stack, blocks=r"\d+", example_input=inputs, seeds=4)
    assert np.exp(trained.measured) == pytest.approx(again.growth.end_to_end, rel=1e-12)
    with pytest.raises(InvalidArgument, match=r"^train='yes' is invalid: must be True or False$"):
        run(train="yes")


def test_a_block_with_batch_norm_in_eval_mode_is_told_it_is_the_identity() -> None:
    """`x + W BN(x)` was measured in eval mode, where a fresh BatchNorm is the identity, and
    nothing said so; the terminal says so under the block, and nothing for a block without."""
    spec = small(depths=(2, 4, 8), seeds=3)
    bn = blocks.report(zoo("batchnorm_residual"), spec, "bn")
    plain = blocks.report(zoo("pre_ln"), spec, "pre_ln")
    assert (bn.eval_batch_norms, plain.eval_batch_norms) == (1, 0)
    notes = [line.strip() for line in blocks.summary_lines(spec, [bn, plain])
             if "BatchNorm" in line]
    assert notes == ["note: its 1 BatchNorm layer per block ran in eval mode on fresh running "
                     "statistics, the identity; batch statistics mix examples, which a block "
                     "may not: a whole model, gb.check(..., train=True) (docs/blocks.md §6)"]


def test_check_of_a_whole_model_refuses_an_argument_it_does_not_take() -> None:
    """gb.check(model, blocks=..., example_input=..., depth=10) raised "TypeError:
    check_model() got an unexpected keyword argument 'depth'"."""
    with pytest.raises(InvalidArgument, match=r"^gradbench\.check of a whole model takes no "
                       r"argument 'sed'; did you mean 'seed'\? valid choices: alpha, blocks, "
                       r"dtype, example_input, seed, seeds, train$"):
        gb.check(_stack("pre_ln", 2), blocks=r"\d+", example_input=_tokens, sed=3)
    # a claim name was ignored too: gb.check(model, "stable_somewhere", ...) ran the growth
    with pytest.raises(InvalidArgument, match=r"^a whole model \(blocks=, example_input=\) is "
                       r"checked by model_block_growth alone, not claim 'stable_somewhere'"):
        gb.check(_stack("pre_ln", 2), "stable_somewhere", blocks=r"\d+", example_input=_tokens)
    assert gb.check(_stack("pre_ln", 2), "model_block_growth", blocks=r"\d+",
                    example_input=_tokens).claim == "model_block_growth"
    with pytest.raises(InvalidArgument, match=r"measures the model itself; leave "
                       r"measurement= out$"):
        gb.check(_stack("pre_ln", 2), blocks=r"\d+", example_input=_tokens, measurement=3)
    # the dtype's refusal named BlockSpec.dtype, a field the user never wrote
    with pytest.raises(InvalidArgument, match=r"^dtype='float16' is invalid; .*valid choices: "
                       r"float32, float64$"):
        gb.check(_stack("pre_ln", 2), blocks=r"\d+", example_input=_tokens, dtype="float16")


def test_measure_of_a_factory_says_what_to_pass() -> None:
    """gb.measure(block_factory) said 'spec of type function is not a gradbench spec'."""
    with pytest.raises(InvalidArgument, match=r"^gradbench got the model factory model, not "
                       r"a spec; pass a spec such as gb\.MLPSpec\(\.\.\.\) .*profile_model"):
        gb.measure(_stack("pre_ln", 2))
    with pytest.raises(InvalidArgument, match=r"^gradbench got the block factory pre_ln, not a "
                       r"spec; measure a block with gradbench\.blocks\.report\(factory, "):
        gb.measure(zoo("pre_ln"))


def test_a_selector_that_selects_nothing_is_one_sentence() -> None:
    with pytest.raises(InvalidArgument, match=r"selects no module of the model; its modules "
                       r"are named e.g. '0'"):
        blocks.profile_model(_stack("pre_ln", 2), blocks="layers", example_input=_tokens)

# --------------------------------------------------------------------------------------
# From the command line (acceptance)
# --------------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gradbench", "validate", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.integration
@pytest.mark.parametrize(("name", "code", "words"), [
    ("pre_ln", 0, "power (exploding)"),
    ("torch_encoder", 0, "power (exploding)"),
    ("chaotic_tanh", 1, "exponential (exploding)"),
    ("he_residual", 1, "exponential (exploding)"),
    ("ignores_generator", 2, "ignores its generator"),
    ("mixes_batch", 2, "mixes examples across the batch"),
    ("overflows", 1, "not finite at depth"),
])
def test_cli_validate_blocks(tmp_path: Path, name: str, code: int, words: str) -> None:
    kind = ["--kind", "block"] if name != "torch_encoder" else []  # inferred there
    out = _cli(f"{ZOO}:{name}", *kind, "--out-dir", str(tmp_path), cwd=tmp_path)
    assert out.returncode == code, out.stdout + out.stderr
    assert words in out.stdout + out.stderr
    if code == 2:
        assert out.stderr.count("\n") == 1
        assert not out.stdout
    else:
        assert re.search(rf"candidate '{name}(_candidate)?' \(block\)", out.stdout)


@pytest.mark.integration
def test_readme_example_output_is_what_the_readme_shows(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- blocks-example -->")[1]
    command = re.search(r"\$ gradbench validate (\S+) (.*)\n", block)
    assert command is not None
    shown = [line for line in block.split("```")[1].splitlines()[2:]
             if line and not line.startswith("gradbench: re")]
    out = _cli(command.group(1), *command.group(2).split(), "--out-dir", str(tmp_path),
               cwd=ROOT)
    assert out.returncode == 0, out.stderr
    got = [line for line in out.stdout.splitlines() if not line.startswith("gradbench: re")]
    assert got == shown


# --------------------------------------------------------------------------------------
# Measured power and false-alarm rate (docs/blocks.md §4.1)
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_false_alarms_are_rare_and_planted_exponentials_are_caught() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "quality"))
    try:
        import block_power
    finally:
        sys.path.remove(str(ROOT / "tests" / "quality"))
    cases = block_power.cases()
    assert block_power.exponential_rate(cases["pre_ln"][0], 6) == 0.0
    assert block_power.exponential_rate(cases["scaled_residual (1/sqrt(depth))"][0], 10) == 0.0
    assert block_power.exponential_rate(cases["fixed_residual alpha=0.2 (x12 at 64)"][0],
                                        10) == 1.0
    assert block_power.exponential_rate(cases["chaotic_tanh"][0], 10) == 1.0
    assert block_power.synthetic_rate(0.0, n=500) <= 0.01  # a pure power law
    assert block_power.synthetic_rate(math.log(8.0) / 64, n=500) >= 0.9  # x8 at depth 64


# --------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------


def test_a_stack_on_each_device_measures_the_networks_of_the_cpu(device: str) -> None:
    """Weights, inputs and readouts are drawn on the CPU and copied, so a stack on any device
    measures the CPU's networks: float64 norms agree to a reduction order."""
    cpu = small(width=8, depths=(2, 3, 4))
    on = dataclasses.replace(cpu, device=device)
    with blocks._isolated():
        a = blocks.measure_stack(zoo("pre_ln"), cpu, 4, 1, weights=True)
        b = blocks.measure_stack(zoo("pre_ln"), on, 4, 1, weights=True)
    np.testing.assert_allclose(b.gradient_norms, a.gradient_norms, rtol=1e-10)
    np.testing.assert_allclose(b.activation_norms, a.activation_norms, rtol=1e-10)
    assert b.output_change == pytest.approx(a.output_change, rel=1e-10)
    assert b.token_similarity == pytest.approx(a.token_similarity, rel=1e-10, abs=1e-12)


def test_a_block_spec_names_its_device_and_refuses_others() -> None:
    assert "device" not in small().to_dict()  # CPU documents as before devices came
    assert small(device="cuda:1").to_dict()["device"] == "cuda:1"
    assert small().seed(4, 0) == small(device="cuda").seed(4, 0)
    with pytest.raises(InvalidArgument, match=r"BlockSpec.device='tpu' is invalid; valid "
                                               r"choices: cpu, cuda, cuda:N"):
        small(device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_validate_a_block_on_cuda_without_cuda_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="asks for CUDA, which is not available"):
        blocks.validate_block(f"{ZOO}:pre_ln", out_dir=tmp_path, devices=("cpu", "cuda"))
    assert not list(tmp_path.iterdir())  # refused before anything was measured or written
