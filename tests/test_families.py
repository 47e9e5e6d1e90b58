"""A network family registered from a test file reaches everything that reads families.

The family here is a deliberately small one with no theory: ``h^l = g W^l h^{l-1}``,
``W^l ~ N(0, 1/n)``, linear, no biases. One :func:`gradbench.specs.register_family` (inside
:func:`~gradbench.specs.temporary_family`) must make it known to ``spec_from_dict``, the
report's titles, ``models.family_of`` and the probe, ``strategies``, ``theory.predict`` (no
prediction) and the claim ``probe_equals_reference``; nothing else is edited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import gradbench as gb
from gradbench import claims, models, probe, specs, strategies, theory
from gradbench.errors import InvalidArgument
from gradbench.report import page


class ChainFamily(models.Family):
    """``h^l = g W^l h^{l-1}``; sites h^1..h^L; weight gradients from ``.grad``."""

    def draw_parameters(self, spec: Any, draw: models.Draw) -> models.Params:
        n = spec.width
        return {f"W{layer}": draw.gaussian((n, n), 1.0 / n) for layer in range(spec.depth)}

    def forward(self, spec: Any, params: models.Params, data: models.Params) -> models.Forward:
        x, sites = data["x"], []
        for layer in range(spec.depth):
            x = spec.gain * (x @ params[f"W{layer}"].mT)
            x.retain_grad()
            sites.append(x)
        return models.Forward(loss=(data["R"] * x).sum(), sites=sites)

    def weight_groups(self, spec: Any) -> list[list[str]]:
        return [[f"W{layer}"] for layer in range(spec.depth)]

    def module(self, spec: Any, params: models.Params) -> nn.Module:
        return _ChainModule(spec, params)

    def module_params(self, spec: Any, model: nn.Module) -> dict[str, nn.Parameter]:
        return {f"W{i}": layer.weight for i, layer in enumerate(model.layers)}

    def bytes_per_network(self, spec: Any, batch: int, itemsize: int) -> int:
        return itemsize * spec.depth * (4 * batch * spec.width + 2 * spec.width**2)


class _ChainModule(nn.Module):
    def __init__(self, spec: Any, params: models.Params) -> None:
        super().__init__()
        self.gain = spec.gain
        self.layers = nn.ModuleList()
        for i in range(spec.depth):
            linear = nn.Linear(spec.width, spec.width, bias=False, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(params[f"W{i}"])
            self.layers.append(linear)
        self.taps = nn.ModuleList(models.Tap() for _ in range(spec.depth))

    def forward(self, data: models.Params) -> torch.Tensor:
        x = data["x"]
        for linear, tap in zip(self.layers, self.taps):
            x = tap(self.gain * linear(x))
        return x


def chain_specs() -> st.SearchStrategy[Any]:
    return st.builds(ChainSpec, depth=st.integers(1, 5), width=st.sampled_from([4, 8]),
                     gain=st.floats(0.5, 2.0))


@dataclass(frozen=True)
class ChainSpec(specs.BaseSpec):
    """A linear chain of ``depth`` random ``width x width`` layers times ``gain``."""

    family: ClassVar[str] = "test_chain"
    info: ClassVar[specs.FamilyInfo] = specs.FamilyInfo(
        "Linear chain", "link l", "/link", family=ChainFamily, strategy=chain_specs
    )
    label_prefixes: ClassVar[dict[str, str]] = {"depth": "L", "width": "n"}
    depth: int
    width: int
    gain: float = 1.0
    input_var: float = 1.0

    @property
    def n_sites(self) -> int:
        return self.depth

    @property
    def n_features(self) -> int:
        return self.width


ChainFamily.spec_type = ChainSpec


@pytest.fixture
def chain() -> Iterator[type[ChainSpec]]:
    with specs.temporary_family(ChainSpec) as cls:
        yield cls


def test_a_registered_family_is_known_everywhere(chain: type[ChainSpec]) -> None:
    spec = chain(depth=3, width=8, gain=1.5)
    assert specs.spec_types()["test_chain"] is chain
    assert specs.spec_from_dict(spec.to_dict()) == spec
    assert specs.spec_label(spec) == "test_chain-L3-n8-gain=1.5"
    assert page.family("test_chain") == page.Family("Linear chain", "link l", "/link")
    assert page.family_order("test_chain")[0] == len(specs.spec_types()) - 1
    assert isinstance(models.family_of(spec), ChainFamily)
    assert models.families()[chain] is models.family_of(spec)
    assert strategies.family_strategies()[chain] is chain_specs
    prediction = theory.predict(spec)
    assert not prediction.valid
    assert prediction.reason == "gradbench has no theory for the 'test_chain' family"


def test_the_probe_and_the_reference_check_run_on_it(chain: type[ChainSpec]) -> None:
    spec = chain(depth=4, width=8, gain=1.5)
    m = gb.measure(spec, seeds=6, batch=4, dtype="float64")
    ref = probe.measure_reference(spec, seeds=6, batch=4)
    np.testing.assert_allclose(m.act_grad_norms, ref.act_grad_norms, rtol=1e-10)
    verdict = claims.check(spec, "probe_equals_reference")
    assert verdict.passed, claims.explain(verdict)


@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_specs_strategy_draws_the_registered_family(data: st.DataObject) -> None:
    with specs.temporary_family(ChainSpec):
        spec = data.draw(strategies.family_strategies()[ChainSpec]())
        assert isinstance(spec, ChainSpec)
        assert models.family_of(spec).spec_type is ChainSpec


def test_after_the_block_the_family_is_gone_and_misuse_is_one_sentence() -> None:
    with specs.temporary_family(ChainSpec):
        pass
    assert "test_chain" not in specs.spec_types()
    with pytest.raises(InvalidArgument, match="spec family 'test_chain' is unknown"):
        specs.spec_from_dict({"family": "test_chain", "depth": 2, "width": 4})
    with pytest.raises(InvalidArgument, match="ChainSpec is not a gradbench spec"):
        models.family_of(ChainSpec(depth=2, width=4))
    with pytest.raises(InvalidArgument, match="'mlp' is already registered by MLPSpec"):
        specs.register_family(type("Clash", (ChainSpec,), {"family": "mlp"}))
