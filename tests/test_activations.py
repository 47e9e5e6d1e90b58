"""The built-in activations against their declared NumPy references (float64).

Every built-in registers ``numpy=NumpyReference(phi, dphi, d2phi)`` with hand-written
derivatives; theory computes with it. Here the torch function, its autograd first
derivative and its autograd second derivative must equal the reference to 1e-12 at a grid
that includes the kinks, softplus's switch to the identity and far tails.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
import pytest
import torch

from gradbench import registry
from gradbench.remedies import activations
from gradbench.remedies.activations import NumpyReference, numpy_activation

BUILTINS = [
    name
    for name in registry.names("activation")
    if registry.lookup("activation", name).obj.__module__ == activations.__name__
]
PARAMETRISED = [
    "leaky_relu(negative_slope=0.2)",
    "prelu(init=0.1)",
    "elu(alpha=0.5)",
    "softplus(beta=2.0)",
    "softplus(beta=0.5)",
]
GRID = np.concatenate(
    [
        np.linspace(-40.0, 40.0, 1601),
        [0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8],
        [10.0, 40.0, 20.0 - 1e-9, 20.0, 20.0 + 1e-9, 10.0 - 1e-9, 10.0 + 1e-9],  # softplus switch
    ]
)


def _autograd(fn: Callable[[torch.Tensor], torch.Tensor], order: int) -> np.ndarray:
    """``order``-th derivative of ``fn`` on GRID by autograd (zeros once the graph is constant)."""
    x = torch.tensor(GRID, dtype=torch.float64, requires_grad=True)
    y = fn(x)
    for _ in range(order):
        if not y.requires_grad:
            return np.zeros_like(GRID)
        (y,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    return y.detach().numpy()


def test_every_builtin_declares_a_numpy_reference() -> None:
    assert len(BUILTINS) == 12
    for name in BUILTINS:
        ref = registry.lookup("activation", name).meta.get("numpy")
        assert isinstance(ref, NumpyReference), name
        assert numpy_activation(name).source == "reference"


@pytest.mark.parametrize("name", BUILTINS + PARAMETRISED)
@pytest.mark.parametrize("order", [0, 1, 2], ids=["phi", "dphi", "d2phi"])
def test_reference_equals_torch_and_autograd(name: str, order: int) -> None:
    remedy = registry.lookup("activation", name)
    act = numpy_activation(name)
    want = _autograd(remedy.fn, order)
    got = (act.phi, act.dphi, act.d2phi)[order](GRID.copy())
    assert got.shape == GRID.shape
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BUILTINS)
def test_reference_takes_exactly_the_torch_parameters(name: str) -> None:
    """Keyword-only and without defaults: the torch function's defaults are the only ones."""
    remedy = registry.lookup("activation", name)
    torch_params = {
        n for n, p in inspect.signature(remedy.obj).parameters.items() if p.default is not p.empty
    }
    ref: NumpyReference = remedy.meta["numpy"]
    for fn in (ref.phi, ref.dphi, ref.d2phi):
        if isinstance(fn, np.ufunc):  # np.tanh, scipy.special.erf: no parameters
            assert torch_params == set(), (name, fn)
            continue
        params = inspect.signature(fn).parameters.values()
        named = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
        assert named in (torch_params, set()), (name, fn)
        assert all(p.default is p.empty for p in params if p.kind is p.KEYWORD_ONLY)
        assert not any(p.kind is p.VAR_KEYWORD for p in params) or named == set()


def test_a_parameter_in_the_name_reaches_the_reference() -> None:
    x = np.array([-2.0, 3.0])
    np.testing.assert_array_equal(numpy_activation("leaky_relu(negative_slope=0.2)").phi(x),
                                  [-0.4, 3.0])
    np.testing.assert_array_equal(numpy_activation("leaky_relu").phi(x), [-0.02, 3.0])


def test_an_activation_without_a_reference_falls_back_to_autograd() -> None:
    with registry.temporary("activation", "softsign_t", lambda x: x / (1 + x.abs())):
        act = numpy_activation("softsign_t")
        assert act.source == "autograd"
        np.testing.assert_allclose(act.dphi(np.array([0.0, 1.0])), [1.0, 0.25], rtol=1e-12)
        np.testing.assert_allclose(act.d2phi(np.array([1.0])), [-0.25], rtol=1e-12)


def test_homogeneous_declarations_are_true() -> None:
    """phi(c x) = c phi(x) for c > 0 wherever declared, and false for the others."""
    x = np.linspace(-5.0, 5.0, 41)
    for name in BUILTINS:
        act = numpy_activation(name)
        scaled = np.allclose(act.phi(3.0 * x), 3.0 * act.phi(x), rtol=1e-14, atol=1e-14)
        assert act.homogeneous == scaled, name
