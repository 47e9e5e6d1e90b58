"""The remedy registry: lookup errors, registration, temporary overrides, entry-point plugins."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gradbench as gb
from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.probe import measure_reference


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], registry.Remedy]:
    """A private copy of the registry table, restored after the test."""
    registry.names("activation")  # load the built-ins into the real table first
    table = dict(registry._REMEDIES)
    monkeypatch.setattr(registry, "_REMEDIES", table)
    return table


BAD_LOOKUPS: list[Any] = [
    pytest.param(
        registry.lookup,
        ("activaton", "tanh"),
        r"remedy kind 'activaton' is unknown; did you mean 'activation'",
        id="unknown-kind",
    ),
    pytest.param(
        registry.names,
        ("initialiser",),
        r"remedy kind 'initialiser' is unknown",
        id="names-unknown-kind",
    ),
    pytest.param(
        registry.register,
        ("loss", "mse"),
        r"remedy kind 'loss' is unknown",
        id="register-unknown-kind",
    ),
    pytest.param(
        registry.lookup,
        ("activation", "tahn"),
        r"activation 'tahn' is unknown; did you mean 'tanh'\? valid choices: .*relu",
        id="unknown-name",
    ),
    pytest.param(
        registry.lookup,
        ("residual", "1/sqrt(l)"),
        r"residual '1/sqrt\(l\)' is unknown; did you mean '1/sqrt\(L\)'",
        id="unparsable-typo",
    ),
    pytest.param(
        registry.lookup,
        ("activation", "relu(x=2)"),
        r"activation 'relu' has no parameter 'x'; its parameters are: none",
        id="param-not-taken",
    ),
    pytest.param(
        registry.lookup,
        ("activation", "leaky_relu(slope=0.1)"),
        r"activation 'leaky_relu' has no parameter 'slope'; its parameters are: negative_slope",
        id="param-misnamed",
    ),
    pytest.param(
        registry.lookup,
        ("activation", "leaky_relu(negative_slope=abc)"),
        r"parameter 'negative_slope=abc' in remedy name .* must be of the form name=<finite",
        id="param-not-a-number",
    ),
    pytest.param(
        registry.lookup,
        ("activation", "leaky_relu(negative_slope=inf)"),
        r"parameter 'negative_slope=inf'",
        id="param-infinite",
    ),
    pytest.param(
        registry.lookup,
        ("activation", "leaky_relu(0.2)"),
        r"parameter '0\.2' in remedy name",
        id="param-positional",
    ),
    pytest.param(
        registry.parse_name,
        ("relu(",),
        r"remedy name 'relu\(' is not of the form",
        id="parse-open-paren",
    ),
    pytest.param(
        registry.parse_name, (3,), r"remedy name 3 is not of the form", id="parse-not-a-string"
    ),
    pytest.param(
        registry.import_object,
        ("gradbench_no_such_module:f",),
        r"cannot import 'gradbench_no_such_module:f': module 'gradbench_no_such_module' not found",
        id="import-missing-module",
    ),
    pytest.param(
        registry.import_object,
        ("gradbench.errors:Nope",),
        r"module 'gradbench\.errors' has no attribute 'Nope'",
        id="import-missing-attribute",
    ),
]


@pytest.mark.parametrize(("fn", "args", "match"), BAD_LOOKUPS)
def test_bad_registry_input_raises_invalid_argument(
    fn: Callable[..., Any], args: tuple[Any, ...], match: str
) -> None:
    with pytest.raises(InvalidArgument, match=match):
        fn(*args)


def test_builtins_are_registered_for_every_kind_they_provide() -> None:
    assert {"relu", "tanh", "linear", "leaky_relu"} <= set(registry.names("activation"))
    assert {"he_normal", "xavier_normal", "orthogonal", "torch_default", "lsuv"} <= set(
        registry.names("initializer")
    )
    assert {"none", "batchnorm", "layernorm", "rmsnorm"} <= set(registry.names("normalization"))
    assert {"1", "1/sqrt(L)", "skipinit", "rezero", "fixup"} <= set(registry.names("residual"))
    assert registry.names("initializer") == sorted(registry.names("initializer"))


def test_lookup_binds_parameters_and_label_round_trips() -> None:
    remedy = registry.lookup("activation", "leaky_relu(negative_slope=0.2)")
    assert remedy.name == "leaky_relu"
    assert remedy.params == {"negative_slope": 0.2}
    assert remedy.label == "leaky_relu(negative_slope=0.2)"
    assert registry.lookup("activation", remedy.label).params == remedy.params
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    assert torch.equal(remedy.fn(x), F.leaky_relu(x, 0.2))
    assert torch.equal(registry.lookup("activation", "leaky_relu").fn(x), F.leaky_relu(x, 0.01))


def test_literal_names_with_parentheses_are_looked_up_exactly() -> None:
    remedy = registry.lookup("residual", "1/sqrt(L)")
    assert remedy.name == "1/sqrt(L)"
    assert remedy.fn(3, 16) == 0.25


def test_decorator_registration_and_duplicate_rule(isolated: dict[Any, Any]) -> None:
    @registry.register("activation", paper="test", kinks=(1.0,))
    def shifted_relu(x: torch.Tensor, shift: float = 1.0) -> torch.Tensor:
        return torch.relu(x - shift)

    assert shifted_relu.__name__ == "shifted_relu"  # the decorator returns the function itself
    remedy = registry.lookup("activation", "shifted_relu(shift=0.5)")
    assert remedy.obj is shifted_relu
    assert remedy.meta["kinks"] == (1.0,)
    assert remedy.paper == "test"
    assert "shifted_relu" in registry.names("activation")
    assert float(remedy.fn(torch.tensor(2.0))) == 1.5

    with pytest.raises(
        InvalidArgument, match=r"activation 'shifted_relu' is already registered; pass replace=True"
    ):
        registry.register("activation", "shifted_relu")(lambda x: x)
    with pytest.raises(InvalidArgument, match=r"activation 'relu' is already registered"):
        registry.register("activation", "relu")(lambda x: x)

    def replacement(x: torch.Tensor) -> torch.Tensor:
        return x

    registry.register("activation", "shifted_relu", replace=True)(replacement)
    assert registry.lookup("activation", "shifted_relu").obj is replacement


def test_temporary_restores_an_overridden_remedy() -> None:
    original = registry.lookup("activation", "tanh")

    def fake(x: torch.Tensor) -> torch.Tensor:
        return x

    with registry.temporary("activation", "tanh", fake, kinks=()) as remedy:
        assert remedy.obj is fake
        assert registry.lookup("activation", "tanh").obj is fake
    assert registry.lookup("activation", "tanh") is original


def test_temporary_removes_a_new_name_even_after_an_error() -> None:
    inside: list[bool] = []

    def fail_inside() -> None:
        with registry.temporary("activation", "gb_test_tmp", torch.sin):
            inside.append("gb_test_tmp" in registry.names("activation"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert inside == [True]
    assert "gb_test_tmp" not in registry.names("activation")
    with pytest.raises(InvalidArgument, match="'gb_test_tmp' is unknown"):
        registry.lookup("activation", "gb_test_tmp")


@dataclass
class FakeEntryPoint:
    """What ``importlib.metadata.entry_points`` yields: name, value and ``load()``."""

    name: str
    value: str
    loader: Callable[[], Any]
    loads: int = 0

    def load(self) -> Any:
        self.loads += 1
        return self.loader()


def _plugin_activation(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(2 * x)


def _good_plugin() -> Any:
    return registry.register("activation", "plugin_tanh2")(_plugin_activation)


def _broken_plugin() -> Any:
    raise ImportError("No module named 'missing_dependency'")


@pytest.fixture
def fake_plugins(
    monkeypatch: pytest.MonkeyPatch, isolated: dict[Any, Any]
) -> tuple[list[Any], list[str]]:
    """Patch the entry-point discovery; return the fake entry points and the groups asked for."""
    eps = [
        FakeEntryPoint("good", "gb_plugin:activations", _good_plugin),
        FakeEntryPoint("broken", "gb_broken:remedies", _broken_plugin),
    ]
    groups: list[str] = []

    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        groups.append(group)
        return eps

    monkeypatch.setattr(registry, "entry_points", entry_points)
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.delenv("GRADBENCH_NO_PLUGINS", raising=False)
    return eps, groups


def test_entry_point_plugins_are_loaded_and_a_broken_one_only_warns(
    fake_plugins: tuple[list[FakeEntryPoint], list[str]],
) -> None:
    eps, groups = fake_plugins
    with pytest.warns(
        UserWarning, match=r"gradbench plugin 'broken' \(gb_broken:remedies\) failed to load"
    ):
        names = registry.names("activation")
    assert groups == ["gradbench.remedies"]
    assert "plugin_tanh2" in names
    assert "relu" in names  # built-ins are unaffected by the broken plugin
    assert [ep.loads for ep in eps] == [1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # plugins load once: no second warning
        assert registry.lookup("activation", "plugin_tanh2").obj is _plugin_activation
        problems = registry.plugin_problems()  # what a run reports as not measured
    assert [ep.loads for ep in eps] == [1, 1]
    assert [p.split(" (")[0] for p in problems] == ["gradbench plugin 'broken'"]


def _plugin_with_one_bad_declaration() -> Any:
    registry.register("activation", "plugin_bad", kinkz=(0.0,))(torch.tanh)
    return registry.register("activation", "plugin_tanh3")(_plugin_activation)


def test_a_plugin_remedy_with_a_bad_declaration_is_skipped_alone(
    fake_plugins: tuple[list[FakeEntryPoint], list[str]],
) -> None:
    """A refused declaration in a plugin skips that remedy, with a warning naming it, and
    not the plugin's other remedies (an import error skips the whole plugin, as before)."""
    eps, _ = fake_plugins
    eps[:] = [FakeEntryPoint("half", "gb_half:remedies", _plugin_with_one_bad_declaration)]
    with pytest.warns(UserWarning, match=r"gradbench plugin 'half': activation 'plugin_bad' "
                      r"declares 'kinkz', .*did you mean 'kinks'\?.*; that remedy was skipped"):
        names = registry.names("activation")
    assert "plugin_tanh3" in names
    assert "plugin_bad" not in names
    assert [p.split(":")[0] for p in registry.plugin_problems()] == ["gradbench plugin 'half'"]
    with pytest.raises(InvalidArgument, match="declares 'kinkz'"):  # outside a plugin: refused
        registry.register("activation", "t_bad", kinkz=(0.0,))(torch.tanh)


def test_gradbench_no_plugins_disables_entry_points(
    fake_plugins: tuple[list[FakeEntryPoint], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    eps, groups = fake_plugins
    monkeypatch.setenv("GRADBENCH_NO_PLUGINS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        names = registry.names("activation")
    assert "plugin_tanh2" not in names
    assert "relu" in names
    assert groups == []
    assert [ep.loads for ep in eps] == [0, 0]


def softsign(x: torch.Tensor) -> torch.Tensor:
    """A user activation with no declared derivative: x / (1 + |x|)."""
    return x / (1 + x.abs())


def test_user_activation_works_end_to_end_without_a_derivative() -> None:
    from gradbench.remedies.activations import numpy_activation

    with registry.temporary("activation", "softsign", softsign):
        spec = gb.MLPSpec(
            depth=4, width=8, activation="softsign", init="xavier_normal", sigma_b2=0.1
        )
        m = gb.measure(spec, seeds=3, batch=5, dtype="float64")
        ref = measure_reference(spec, seeds=3, batch=5)
        act = numpy_activation("softsign")
        slope = act.dphi(np.array([0.0, 1.0]))
    assert not m.nonfinite.any()
    np.testing.assert_allclose(m.act_grad_norms, ref.act_grad_norms, rtol=1e-10, atol=0)
    np.testing.assert_allclose(m.weight_grad_norms, ref.weight_grad_norms, rtol=1e-10, atol=0)
    # autograd supplies phi'(x) = 1 / (1 + |x|)^2
    np.testing.assert_allclose(slope, [1.0, 0.25], rtol=1e-12)
    # the top site's gradient is phi'(h^L) * R, so it differs from a linear top's norm of 1
    assert not math.isclose(float(m.act_grad_norms[0, -1]), 1.0, rel_tol=1e-6)
    with pytest.raises(InvalidArgument, match="'softsign' is unknown"):
        gb.MLPSpec(depth=4, width=8, activation="softsign")


def test_generation_increases_with_every_registration_change() -> None:
    """theory.predict's cache keys on it, so a re-registered name is never served stale."""
    start = registry.generation()
    with registry.temporary("activation", "gen_probe", lambda x: x):
        inside = registry.generation()
    after = registry.generation()
    assert start < inside < after
    with registry.temporary("activation", "relu", lambda x: x):  # replacing an existing name
        pass
    assert registry.generation() > after


def test_each_remedy_kind_is_declared_once_and_its_descriptor_is_consistent() -> None:
    """REMEDY_KINDS is the one declaration; everything derived from it must resolve."""
    import dataclasses
    import typing

    from gradbench.claims import SUBJECTS
    from gradbench.claims.stability import SLOTS, STANDARD_SETTINGS
    from gradbench.specs import spec_types
    from gradbench.suite import BASELINES

    assert typing.get_args(registry.Kind) == registry.KINDS == tuple(registry.REMEDY_KINDS)
    assert SUBJECTS == ("network", *registry.KINDS, "block")
    for kind, info in registry.REMEDY_KINDS.items():
        assert callable(registry.import_object(info.guard))
        assert BASELINES[kind] == info.baselines
        for name in info.baselines:
            assert registry.lookup(kind, name).kind == kind
        spec_type = spec_types()[info.family]
        if info.slot is None:
            assert kind not in SLOTS
            assert not info.standard_settings
            continue
        assert SLOTS[kind] == info.slot
        assert STANDARD_SETTINGS[kind] == info.standard_settings
        fields = {f.name for f in dataclasses.fields(spec_type)}
        assert info.slot in fields
        for setting in info.standard_settings:
            assert set(setting) <= fields


# --------------------------------------------------------------------------------------
# Declarations (gradbench.declarations): refused at registration, in one sentence
# --------------------------------------------------------------------------------------

_BAD_DECLARATIONS = [
    ("initializer", {"distribution": "gaussian"},
     "declares distribution='gaussian', which is invalid: valid choices: deterministic, "
     "identity, normal, orthogonal, uniform"),
    ("initializer", {"variance": 2.0},
     "declares variance=2.0, which is invalid: it must be a function of (fan_in, fan_out), "
     "not a float"),
    ("initializer", {"variance": lambda fan_in: 2.0 / fan_in},
     "declares variance=<function <lambda>>, which is invalid: it must be a function of "
     "(fan_in, fan_out); it takes (fan_in)"),
    ("initializer", {"variant": lambda fan_in, fan_out: 1.0},
     "declares 'variant', which initializers cannot declare: did you mean 'variance'?"),
    ("initializer", {"stable_for": [{"activaton": "relu"}]},
     "names 'activaton', which is not a field of the mlp networks; did you mean 'activation'?"),
    ("initializer", {"stable_for": "relu"}, "declares stable_for='relu', which is invalid: it "
     "must be a list of settings"),
    # its own slot was overwritten by the remedy itself, so the setting meant nothing
    ("activation", {"stable_for": [{"activation": "relu", "init": "he_normal"}]},
     "names 'activation', the field the activation itself fills"),
    # the claims set depth and width; a declared one raised "multiple values for 'width'"
    ("initializer", {"stable_for": [{"activation": "relu", "width": 64}]},
     "names 'width', which the stability claims set themselves"),
    ("activation", {"variance": lambda fan_in, fan_out: 1.0},
     "declares 'variance', which activations cannot declare"),
    ("normalization", {"invariances": ("shift", "scal")}, "did you mean 'scale'?"),
    ("normalization", {"statistics": "layer"}, "valid choices: batch, feature"),
    ("residual", {"bounded": "no"}, "declares bounded='no', which is invalid: it must be True "
     "or False"),
    ("optimizer", {"stable_for": ()}, "declares 'stable_for', which optimizers cannot declare"),
    ("depth_scheme", {"output_change": 1.0}, "it must be a function of (n), not a float"),
    ("depth_scheme", {"stable_for": ()}, "which depth_schemes cannot declare"),
    # each of these was let through and failed a correct optimizer's claim in the run (exit 1)
    ("optimizer", {"adaptive": True}, "declares adaptive=True, which is invalid: it needs "
     "first_step, the closed-form first update its claim compares with"),
    ("optimizer", {"adaptive": True, "first_step": lambda g, w, *, lr: -lr * g},
     "declares adaptive=True, which is invalid: it needs the optimizer's eps: declare "
     "documented={'eps': ...} or give the factory an eps keyword"),
    ("optimizer", {"reference": "adamm"}, "declares reference='adamm', which is invalid: "
     "optimizer 'adamm' is unknown; did you mean 'adam'?"),
    ("optimizer", {"first_step": lambda g: -g}, "declares first_step=<function <lambda>>, "
     "which is invalid: it must be a function of (g, w, lr=); it takes (g)"),
]


@pytest.mark.parametrize(("kind", "meta", "message"), _BAD_DECLARATIONS,
                         ids=[f"{k}-{next(iter(m))}" for k, m, _ in _BAD_DECLARATIONS])
def test_a_bad_declaration_is_refused_at_registration_in_one_sentence(kind, meta, message):
    """A misspelt key or a value of the wrong form would silently drop the claims the
    declaration adds (an unchecked variance); it is refused, naming it and what it must be."""
    with pytest.raises(InvalidArgument) as refused:
        registry.register(kind, "t_declared", **meta)(lambda *a, **k: None)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert ("t_declared" not in registry.names(kind))  # type: ignore[arg-type]


def test_an_adaptive_optimizer_with_its_first_step_and_eps_is_accepted():
    """The eps may come from the factory's keywords as well as from ``documented``."""
    def first(g, w, *, lr, eps, **_):
        return -lr * g / (g.abs() + eps)

    def factory(params, *, lr=1e-3, eps=1e-8):
        return None

    with registry.temporary("optimizer", "t_adaptive", factory, adaptive=True,
                            first_step=first, reference="adam(beta2=0.99)") as r:
        assert r.meta["adaptive"] is True


def test_every_documented_declaration_is_known_to_its_kinds():
    """docs/remedies.md §4's table and gradbench.declarations name the same keys and kinds."""
    from pathlib import Path

    from gradbench.declarations import DECLARATIONS

    table = (Path(__file__).parents[1] / "docs" / "remedies.md").read_text()
    section = table.split("## 4.")[1].split("## 5.")[0]
    documented = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            keys = row.split("|")[1]
            documented |= {k.strip().strip("`") for k in keys.split(",")}
    offered = {k for k, d in DECLARATIONS.items() if not d.internal}
    assert documented <= offered
