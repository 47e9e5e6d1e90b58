"""Tests of gradbench.remedies.optimizers: registry entries, first-step oracles, schedules."""

from __future__ import annotations

import math

import pytest
import torch

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.remedies.optimizers import (
    SCHEDULES,
    build_optimizer,
    clip_grad_value_,
    first_step_update,
    lr_lambda,
    stacked_global_norm,
)

NAMES = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]
TORCH_CLASS = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adam": "Adam",
               "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}


def test_every_optimizer_is_registered_once_with_a_paper_and_its_declarations() -> None:
    assert set(NAMES) <= set(registry.names("optimizer"))
    for name in NAMES:
        remedy = registry.lookup("optimizer", name)
        assert remedy.paper
        assert remedy.meta["elementwise"] is True
        assert callable(remedy.meta["first_step"])


@pytest.mark.parametrize("name", NAMES)
def test_factory_builds_the_real_torch_optimizer(name: str) -> None:
    w = torch.zeros(3, requires_grad=True)
    opt = build_optimizer(name, [w], lr=0.25)
    assert type(opt).__name__ == TORCH_CLASS[name]
    assert opt.defaults["lr"] == 0.25


def test_names_carry_float_parameters() -> None:
    w = torch.zeros(3, requires_grad=True)
    assert build_optimizer("adam(lr=0.01, beta2=0.99)", [w]).defaults["betas"] == (0.9, 0.99)
    assert build_optimizer("adam(lr=0.01)", [w]).defaults["lr"] == 0.01
    assert build_optimizer("adamw", [w], weight_decay=0.0).defaults["weight_decay"] == 0.0
    with pytest.raises(InvalidArgument, match=r"optimizer 'adam' has no parameter 'gamma'"):
        build_optimizer("adam(gamma=1)", [w])
    with pytest.raises(InvalidArgument, match=r"did you mean 'adagrad'"):
        build_optimizer("adagard", [w])


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("name", NAMES)
def test_first_step_formula_equals_the_torch_step(name: str, weight_decay: float) -> None:
    """docs/theory.md §7 table, with gradients spanning 1e-12 .. 1e2 (eps matters at the
    low end)."""
    gen = torch.Generator().manual_seed(7)
    g = torch.randn(200, generator=gen, dtype=torch.float64)
    g = g * 10.0 ** torch.empty(200, dtype=torch.float64).uniform_(-12, 2, generator=gen)
    w0 = torch.randn(200, generator=gen, dtype=torch.float64)
    w = w0.clone().requires_grad_(True)
    opt = build_optimizer(name, [w], lr=0.1, weight_decay=weight_decay)
    w.grad = g.clone()
    opt.step()
    want = first_step_update(name, g, w0, lr=0.1, weight_decay=weight_decay)
    torch.testing.assert_close(w.detach() - w0, want, rtol=1e-12, atol=1e-15)


def test_first_step_reference_values() -> None:
    """Spot values of docs/theory.md §7: Adam/Adagrad ~ -lr sign(g), RMSprop ~ -10 lr sign(g)."""
    g = torch.tensor([3.0, -1e-3], dtype=torch.float64)
    w = torch.zeros(2, dtype=torch.float64)
    torch.testing.assert_close(first_step_update("adam", g, w, lr=1.0),
                               torch.tensor([-1.0, 1.0], dtype=torch.float64), rtol=1e-5, atol=0)
    torch.testing.assert_close(first_step_update("rmsprop", g, w, lr=1.0),
                               torch.tensor([-10.0, 10.0], dtype=torch.float64), rtol=2e-4,
                               atol=0)  # eps/sqrt(1 - alpha) = 1e-7 vs |g| = 1e-3
    torch.testing.assert_close(first_step_update("nesterov", g, w, lr=1.0), -1.9 * g)
    # eps dominates a gradient of 1e-9: the Adam step shrinks by |g|/(|g| + eps) = 1/11
    tiny = torch.tensor([1e-9], dtype=torch.float64)
    assert float(-first_step_update("adam", tiny, tiny * 0, lr=1.0)) == pytest.approx(1 / 11)


@pytest.mark.parametrize(
    ("text", "total", "expected"),
    [
        ("constant", 4, [1.0, 1.0, 1.0, 1.0]),
        ("step(step_size=2, gamma=0.5)", 6, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]),
        ("cosine", 4, [1.0, 0.5 + 0.5 * math.cos(math.pi / 4), 0.5,
                       0.5 + 0.5 * math.cos(3 * math.pi / 4)]),
        ("cosine(min_factor=0.1)", 2, [1.0, 0.55]),
        ("warmup(warmup_steps=4)", 6, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]),
        ("warmup_cosine(warmup_steps=2)", 4, [0.5, 1.0, 1.0, 0.5]),
    ],
)
def test_schedule_factors(text: str, total: int, expected: list[float]) -> None:
    f = lr_lambda(text, total)
    assert [f(t) for t in range(total)] == pytest.approx(expected)


def test_schedule_errors_name_value_and_choices() -> None:
    with pytest.raises(InvalidArgument, match=r"schedule 'cosin' is unknown; did you mean"):
        lr_lambda("cosin", 3)
    with pytest.raises(InvalidArgument, match=r"its parameters are: warmup_steps"):
        lr_lambda("warmup(steps=3)", 3)
    assert set(SCHEDULES) >= {"constant", "step", "cosine", "warmup"}


def test_value_clipping_is_elementwise_and_norm_is_per_network() -> None:
    g = [torch.tensor([[3.0, -4.0], [0.1, 0.2]])]
    torch.testing.assert_close(stacked_global_norm(g),
                               torch.tensor([5.0, math.sqrt(0.05)]))
    clip_grad_value_(g, 0.15)
    torch.testing.assert_close(g[0], torch.tensor([[0.15, -0.15], [0.1, 0.15]]))
