"""models.Family: the one place that knows a network family (and its spec class's half).

The probe-vs-reference equality of every family is in ``test_probe.py``; here are the
per-family declarations other modules used to hard-code: sizes, input key, tasks, memory
estimate, parameter groups, and the torch-free facts on the spec class.
"""

from __future__ import annotations

import pytest
import torch

from gradbench.errors import InvalidArgument
from gradbench.models import Draw, derive_seed, draw_for, families, family_of
from gradbench.probe import bytes_per_network
from gradbench.specs import (
    CELL_KINDS,
    FamilyInfo,
    MLPSpec,
    ResidualSpec,
    RNNSpec,
    Spec,
    TransformerSpec,
    family_info,
    spec_types,
)
from gradbench.tasks import TASKS, make_task, resolve_task

SPECS = [
    MLPSpec(depth=3, width=8),
    ResidualSpec(depth=3, width=8),
    RNNSpec(cell="gru", hidden=8, steps=3),
    TransformerSpec(depth=2, width=8, heads=2, seq=3),
]


def test_every_spec_class_has_a_family_and_torch_free_info() -> None:
    registered = spec_types()
    assert set(families()) == set(registered.values())
    for name, cls in registered.items():
        info = family_info(name)
        assert isinstance(info, FamilyInfo)
        assert info is cls.info
        assert info.title
        assert info.x_label
        assert info.per_site.startswith("/")
        assert info.predictor is None or ":" in info.predictor
        assert families()[cls].info is info
        assert families()[cls].spec_type is cls
    with pytest.raises(InvalidArgument, match="'cnn' is unknown"):
        family_info("cnn")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.family)
def test_sizes_and_input_key_describe_the_drawn_data(spec: object) -> None:
    family = family_of(spec)  # type: ignore[arg-type]
    data = family.draw_data(spec, 5, _draw(spec))
    first = data[family.input_key]
    assert tuple(first.shape) == (5, *family.example_shape(spec))
    assert first.shape[-1] == spec.n_features  # type: ignore[attr-defined]
    assert data["R"].shape == first.shape  # the output has the shape of the first input
    fan_in, fan_out = spec.weight_fans  # type: ignore[attr-defined]
    assert fan_in == fan_out == spec.n_features  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.family)
def test_default_task_is_the_familys_first(spec: object) -> None:
    family = family_of(spec)  # type: ignore[arg-type]
    assert resolve_task(spec, None) == family.tasks[0]  # type: ignore[arg-type]
    assert set(family.tasks) <= set(TASKS)
    batch = make_task(spec, None, 4, 0, 0)  # type: ignore[arg-type]
    assert family.input_key in batch.data
    other = next(t for t in TASKS if t not in family.tasks)
    with pytest.raises(InvalidArgument, match="does not apply"):
        resolve_task(spec, other)  # type: ignore[arg-type]


def test_rnn_memory_estimate_counts_the_cells_gates() -> None:
    """The recurrent weight has gates x H x H entries: 1 vanilla, 3 GRU, 4 LSTM."""
    base = bytes_per_network(RNNSpec(cell="rnn_tanh", hidden=32, steps=5), 16, "float32")
    for cell, kind in CELL_KINDS.items():
        spec = RNNSpec(cell=cell, hidden=32, steps=5)
        assert bytes_per_network(spec, 16, "float32") == kind.gates * base
    assert bytes_per_network(RNNSpec(cell="lstm", hidden=32, steps=5), 16, "float64") == 8 * base


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.family)
def test_module_params_name_every_functional_parameter(spec: object) -> None:
    family = family_of(spec)  # type: ignore[arg-type]
    params = family.draw_parameters(spec, _draw(spec))
    model = family.module(spec, params)
    named = family.module_params(spec, model)
    assert set(named) == set(params)
    for name, tensor in params.items():
        assert torch.equal(named[name].detach(), tensor)
    groups = family.layer_groups(spec)
    assert groups
    assert {n for g in groups for n in g} <= set(params)


def test_batch_statistics_need_two_examples() -> None:
    spec = MLPSpec(depth=2, width=8, norm="batchnorm")
    assert "batch=1 is invalid with batchnorm" in str(family_of(spec).batch_issue(spec, 1))
    assert family_of(spec).batch_issue(spec, 2) is None
    layernorm = spec.replace(norm="layernorm")
    assert family_of(layernorm).batch_issue(layernorm, 1) is None


def test_family_of_rejects_other_objects_and_lists_the_families() -> None:
    with pytest.raises(InvalidArgument, match="MLPSpec, ResidualSpec, RNNSpec"):
        family_of("mlp")  # type: ignore[arg-type]


def _draw(spec: object) -> Draw:
    return draw_for(spec, 0, 0, "test")  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "seeds"), [
    (MLPSpec(depth=2, width=3), (9144267377772744017, 475572367675012848)),
    (TransformerSpec(depth=2, width=16, placement="post"),
     (9014883251520576130, 6994094388907922463)),
    (RNNSpec(cell="lstm", hidden=8, steps=5, sigma_b2=0.1),
     (3388995439691524693, 7811495893375676019)),
])
def test_derived_seeds_never_change(spec: Spec, seeds: tuple[int, int]) -> None:
    """Every network, hence every verdict, hangs on these: the values gradbench has always
    derived, for (base seed 0, index 0, "params") and (7, 63, "data")."""
    assert (derive_seed(spec, 0, 0, "params"), derive_seed(spec, 7, 63, "data")) == seeds
