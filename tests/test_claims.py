"""The claim registry, and each remedy claim against a correct and a planted-wrong remedy.

Every claim is held to two things here, at a literal seed: a correct remedy passes and a
remedy with a bug of the claim's kind (the user bugs of the mutation list,
``tests/mutants.py``, written as registrations) fails. Network-level power and
false-alarm rates over many seeds are measured in ``tests/quality/test_power.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
import torch

import gradbench as gb
from gradbench import claims, registry
from gradbench.claims import check
from gradbench.errors import InvalidArgument
from gradbench.records import Verdict

ALPHA = 1e-4
NET = gb.MLPSpec(depth=6, width=16, activation="tanh", init="xavier_normal")


def remedy(kind: str, name: str, fn, **meta):
    """Register ``fn`` for the test (restored afterwards by the fixture's context)."""
    return registry.temporary(kind, name, fn, **meta)


# --------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------


def test_every_claim_states_statement_statistic_domain_source_and_role() -> None:
    assert len(claims.CLAIMS) >= 20
    for c in claims.CLAIMS.values():
        for field in ("statement", "statistic", "domain", "source"):
            assert len(getattr(c, field)) > 10, (c.name, field)
        assert c.role in claims.ROLES
        assert set(c.subjects) <= set(claims.SUBJECTS)
        assert c.to_dict()["name"] == c.name
        assert callable(c.measure_fn())


def test_unknown_claim_lists_the_close_match() -> None:
    with pytest.raises(InvalidArgument, match="initializer_variance"):
        claims.get_claim("initializer_varianse")


def test_a_claim_is_registered_once() -> None:
    with pytest.raises(InvalidArgument, match="already registered"):
        claims.claim("stable_gradients", statement="s", statistic="s", domain="d",
                     source="s", subjects="network", role="stability",
                     measure="gradbench.claim_probes:network")(lambda *a: None)


@pytest.mark.parametrize(("target", "claim", "message"), [
    ("initializer:he_normal", "activation_backward", "is about activation, not initializer"),
    ("initializer:identity", "initializer_distribution", "is not one of normal, uniform"),
    ("normalization:none", "normalization_invariance", "declares no invariances"),
    ("he_normal", "initializer_variance", "must be 'kind:name'"),
])
def test_a_claim_refuses_a_subject_outside_its_domain(target, claim, message) -> None:
    with pytest.raises(InvalidArgument, match=message):
        check(target, claim)


@pytest.mark.parametrize(("target", "claim", "config", "message"), [
    (gb.MLPSpec(depth=6, width=16), "stable_gradients", {"sedes": 4},
     r"^claim 'stable_gradients' takes no argument 'sedes'; did you mean 'seeds'\?"),
    (gb.MLPSpec(depth=6, width=16), "stable_gradients", {"depth": 100},
     r"^claim 'stable_gradients' takes no argument 'depth'; valid choices: batch, device"),
    ("initializer:he_normal", "initializer_variance", {"fan_in": 64, "fanout": 64},
     r"^claim 'initializer_variance' takes no argument 'fanout'; did you mean 'fan_out'\?"),
    ("initializer:he_normal", "initializer_variance", {"fan_in": 64},
     r"^claim 'initializer_variance' needs fan_out: pass fan_out=\.\.\.$"),
    ("residual:1/l", "residual_scaling_law", {"depth": 5},
     r"^claim 'residual_scaling_law' needs v: pass v=\.\.\.$"),
    ("activation:tanh", "mean_field_slope", {},
     r"^claim 'mean_field_slope' is measured on networks: pass a spec that uses the "
     r"activation 'tanh', e.g. gb.MLPSpec\(depth=10, width=256, activation='tanh'\)$"),
])
def test_check_refuses_a_configuration_the_claim_does_not_take(target, claim, config,
                                                              message) -> None:
    """A misspelt or foreign argument was ignored (sedes=4 measured 32 seeds, depth=100
    on a spec judged the spec's own depth), and a missing one or a remedy given to a
    claim measured on networks raised a bare TypeError: now one sentence, before measuring."""
    with pytest.raises(InvalidArgument, match=message):
        check(target, claim, **config)


def test_check_takes_a_users_own_remedy_and_registers_it_for_that_check_only() -> None:
    """``gb.check(my_activation, ...)`` said the function was "neither a network spec nor a
    registered remedy"; it now checks it as ``validate`` and ``assert_claim`` do, under its
    own name (an instance under its class's), and a wrong backward still fails."""

    class _WrongBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.tanh(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * (1 - torch.tanh(x) ** 2) * 1.5

    def my_tanh(x):
        return torch.tanh(x)

    def wrong_tanh(x):
        return _WrongBackward.apply(x)

    passed = check(my_tanh, "activation_backward", q=1.0)
    assert passed.passed
    assert passed.spec["remedy"] == "my_tanh"
    assert not check(wrong_tanh, "activation_backward", q=1.0).passed
    assert check(torch.nn.Tanh(), "activation_backward", q=1.0).spec["remedy"] == "Tanh"
    assert "my_tanh" not in registry.names("activation")
    assert "Tanh" not in registry.names("activation")


def test_check_does_not_take_a_model_factory_or_a_model_for_a_remedy() -> None:
    """A callable taking only keywords reads as a model factory and a module instance as a
    model, whatever the claim: neither is registered as a remedy of the claim's kinds."""
    def model(*, generator):
        return torch.nn.Sequential(torch.nn.Linear(8, 8))

    with pytest.raises(InvalidArgument, match=r"^gradbench.check got the model factory model "
                       r"without blocks= and example_input="):
        check(model)
    with pytest.raises(InvalidArgument, match=r"got a torch\.nn\.Module instance"):
        check(model(generator=None))


def test_check_of_a_users_remedy_tells_how_a_claim_on_networks_or_another_kind_takes_it(
        ) -> None:
    """A user's remedy is registered for the one check only, so the default claim's advice,
    a spec naming it (``gb.MLPSpec(activation='my_act')``), failed once the check returned;
    a claim about another kind said "--kind initializer does not fit", an option gb.check
    does not have; a claim about networks showed the function's repr."""
    from gradbench.testing import assert_claim

    def my_act(x):
        return torch.tanh(x)

    with pytest.raises(InvalidArgument, match=r"^claim 'mean_field_slope' is measured on "
                       r"networks: register it, gradbench\.register\('activation', 'my_act'\)"):
        check(my_act)
    with pytest.raises(InvalidArgument, match=r"^claim 'initializer_variance' is about "
                       r"initializer remedies, and '.*my_act' behaves as 'activation'; check "
                       r"it with a claim about activation remedies \(activation_backward, "):
        check(my_act, "initializer_variance")
    with pytest.raises(InvalidArgument, match=r"^claim 'stable_gradients' is measured on "
                       r"networks, not on a remedy: register yours"):
        check(my_act, "stable_gradients")
    with pytest.raises(InvalidArgument, match=r"^kind='initializer' does not fit '.*my_act', "
                       r"which behaves as 'activation'; pass kind='activation'"):
        assert_claim(my_act, "activation_moments", kind="initializer")
    assert "my_act" not in registry.names("activation")


def test_every_built_in_remedy_meets_at_least_two_claims() -> None:
    for kind in registry.KINDS:
        for name in registry.names(kind):
            r = registry.lookup(kind, name)
            applying = [c for c in claims.CLAIMS if claims.applicable(r, c) is None]
            assert len(applying) >= 2, (kind, name, applying)


# --------------------------------------------------------------------------------------
# Initializers
# --------------------------------------------------------------------------------------


def he_like(factor: float, uniform: bool = False, bound_factor: float = 3.0):
    def init(w, *, generator):
        var = factor * 2.0 / w.shape[1]
        with torch.no_grad():
            if uniform:
                a = math.sqrt(bound_factor * var)
                w.uniform_(-a, a, generator=generator)
            else:
                w.normal_(0.0, math.sqrt(var), generator=generator)
    return init


HE = {"variance": lambda fan_in, fan_out: 2.0 / fan_in}


@pytest.mark.parametrize(("fn", "dist", "ok"), [
    (he_like(1.0), "normal", True),
    (he_like(0.9), "normal", False),  # draws 90% of the variance it declares
    (he_like(1.0, uniform=True), "uniform", True),
    (he_like(1.0, uniform=True, bound_factor=1.0), "uniform", False),  # bound forgot the 3
])
def test_initializer_variance_and_distribution(fn, dist, ok) -> None:
    with remedy("initializer", "t_init", fn, distribution=dist, **HE) as r:
        for fan_in, fan_out in ((128, 128), (256, 512)):
            for claim in ("initializer_variance", "initializer_distribution"):
                v = check(r, claim, fan_in=fan_in, fan_out=fan_out, alpha=ALPHA)
                assert v.passed == ok, claims.explain(v)


def _laplace_he(w, *, generator):  # Laplace entries (kurtosis 6) of variance 2 / fan_in
    u = torch.rand(w.shape, generator=generator, dtype=w.dtype) - 0.5
    with torch.no_grad():
        w.copy_(-math.sqrt(1.0 / w.shape[1]) * torch.sign(u) * torch.log1p(-2 * u.abs()))


@pytest.mark.parametrize(("fn", "fails"), [
    (he_like(1.0), (0, 12)),  # at alpha 0.01 over 400 seeds: 4 expected
    (he_like(1.0, uniform=True), (0, 12)),
    (_laplace_he, (0, 12)),  # heavier tails than normal: the kurtosis is measured, not assumed
    (he_like(0.9), (400, 400)),  # draws 90% of the variance it declares
])
def test_a_declared_variance_without_a_distribution_is_tested_at_its_level(fn, fails) -> None:
    """Declared variance, no distribution: the z-test takes the entries' own kurtosis. Its
    false alarms stay at alpha (an undeclared normal, uniform or Laplace law) and a 10%
    variance error fails at every seed, at the smallest shape the suite draws (96 x 96)."""
    with remedy("initializer", "t_init", fn, **HE) as r:
        failed = sum(not check(r, "initializer_variance", fan_in=96, fan_out=96, alpha=0.01,
                               seed=seed).passed for seed in range(400))
    assert fails[0] <= failed <= fails[1]


def test_fan_mode_mix_up_shows_on_non_square_layers() -> None:
    def fan_out_he(w, *, generator):
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.0 / w.shape[0]), generator=generator)

    with remedy("initializer", "t_init", fan_out_he, distribution="normal", **HE) as r:
        assert check(r, "initializer_variance", fan_in=256, fan_out=256, alpha=ALPHA).passed
        assert not check(r, "initializer_variance", fan_in=128, fan_out=256,
                         alpha=ALPHA).passed


def test_an_off_centre_draw_fails_with_the_mean_and_its_interval() -> None:
    def shifted_he(w, *, generator):  # N(0.05 sd, var): mean square 0.25% off, the mean far off
        with torch.no_grad():
            sd = math.sqrt(2.0 / w.shape[1])
            w.normal_(0.05 * sd, sd, generator=generator)

    with remedy("initializer", "t_init", shifted_he, distribution="normal", **HE) as r:
        v = check(r, "initializer_variance", fan_in=256, fan_out=256, alpha=ALPHA)
    assert not v.passed
    assert v.note == "the weights are not centred"
    assert v.predicted == 0.0
    assert 0.0 < v.ci_low < v.measured < v.ci_high


def test_built_in_xavier_uniform_at_half_variance_fails(monkeypatch) -> None:
    from gradbench.remedies import initializers

    real = initializers._xavier_var
    monkeypatch.setattr(initializers, "_xavier_var", lambda i, o, gain=1.0: 0.5 * real(i, o, gain))
    r = registry.lookup("initializer", "xavier_uniform")
    # the registration's declared variance is the real formula; the drawing now halves it
    assert not check(r, "initializer_variance", fan_in=200, fan_out=300, alpha=ALPHA).passed


def test_orthogonality_is_every_singular_value_equal_to_the_gain() -> None:
    r = registry.lookup("initializer", "orthogonal(gain=1.5)")
    v = check(r, "initializer_orthogonal", fan_in=300, fan_out=128)
    assert v.passed, claims.explain(v)
    assert v.measured == pytest.approx(1.5, rel=1e-10)

    def gaussian(w, *, generator):
        with torch.no_grad():
            w.normal_(0.0, 1.0 / math.sqrt(max(w.shape)), generator=generator)

    with remedy("initializer", "t_init", gaussian, distribution="orthogonal",
                variance=lambda i, o: 1.0 / max(i, o)) as bad:
        assert not check(bad, "initializer_orthogonal", fan_in=128, fan_out=128).passed


# --------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------


class _DroppedTerm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return g * s


def test_a_wrong_custom_backward_fails_and_autograd_passes() -> None:
    with remedy("activation", "t_swish", _DroppedTerm.apply) as bad:
        v = check(bad, "activation_backward", q=1.0)
        assert not v.passed
        assert "worst point" in v.note
    for name in registry.names("activation"):
        v = check(f"activation:{name}", "activation_backward", q=2.0)
        assert v.passed, claims.explain(v)


def test_a_wrong_backward_of_a_declared_activation_differs_from_its_reference() -> None:
    silu = registry.lookup("activation", "silu")
    assert check(silu, "activation_reference", q=2.0).passed
    with remedy("activation", "t_swish", _DroppedTerm.apply, numpy=silu.meta["numpy"]) as bad:
        v = check(bad, "activation_reference", q=2.0)
        assert not v.passed
        assert "worst: phi'" in v.note


def test_activation_moments_catch_a_two_percent_chi1_error(monkeypatch) -> None:
    r = registry.lookup("activation", "tanh")
    ok = check(r, "activation_moments", sigma_w2=1.5, sigma_b2=0.1, alpha=ALPHA)
    assert ok.passed, claims.explain(ok)
    real = claims.activations.theory.chi1
    monkeypatch.setattr(claims.activations.theory, "chi1", lambda *a: 1.02 * real(*a))
    assert not check(r, "activation_moments", sigma_w2=1.5, sigma_b2=0.1, alpha=ALPHA).passed


# --------------------------------------------------------------------------------------
# Normalizations and residual scalings
# --------------------------------------------------------------------------------------


def no_centering(h):
    var = h.var(dim=-1, unbiased=False, keepdim=True)
    return h / torch.sqrt(var + 1e-5)  # LayerNorm that forgot to subtract the mean


def test_layernorm_without_mean_centering_breaks_its_declared_shift_invariance() -> None:
    assert check("normalization:layernorm", "normalization_invariance").passed
    with remedy("normalization", "t_ln", no_centering, invariances=("shift", "scale"),
                statistics="feature") as bad:
        v = check(bad, "normalization_invariance")
        assert not v.passed
        assert "worst: shift" in v.note or "worst: mean 0" in v.note


def test_residual_law_catches_one_over_depth_in_place_of_one_over_sqrt_depth() -> None:
    law = registry.lookup("residual", "1/sqrt(L)").meta["law"]
    assert check("residual:1/sqrt(L)", "residual_scaling_law", depth=30, v=1.0).passed
    with remedy("residual", "t_scale", lambda layer, depth: 1.0 / depth, law=law) as bad:
        v = check(bad, "residual_scaling_law", depth=30, v=1.0)
        assert not v.passed
        assert v.predicted == pytest.approx(30 * math.log1p(1 / 30))


def test_bounded_in_depth_passes_inv_sqrt_depth_and_fails_inv_sqrt_layer() -> None:
    assert check("residual:1/sqrt(L)", "residual_bounded_in_depth", depth=4, alpha=0.01).passed
    with remedy("residual", "t_scale", lambda layer, depth: layer**-0.5) as bad:
        v = check(bad, "residual_bounded_in_depth", depth=4, alpha=0.01)
        assert not v.passed
        assert v.measured > 0.5  # grows like ln(4L + 1) - ln(L + 1), halved


# --------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------


def adam_like(eps: float = 1e-8, bias_correction: bool = True, maximize: bool = False):
    if bias_correction:
        def factory(params, *, lr=1e-3):
            return torch.optim.Adam(params, lr=lr, eps=eps, maximize=maximize)
        return factory

    class NoCorrection(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-3):
            super().__init__(params, {"lr": lr})

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    st = self.state[p]
                    m = st.setdefault("m", torch.zeros_like(p)).mul_(0.9).add_(p.grad, alpha=0.1)
                    v = st.setdefault("v", torch.zeros_like(p)).mul_(0.999).addcmul_(
                        p.grad, p.grad, value=0.001)
                    p.sub_(group["lr"] * m / (v.sqrt() + 1e-8))

    return lambda params, *, lr=1e-3: NoCorrection(params, lr=lr)


def test_adam_with_eps_1e3_fails_the_documented_first_step() -> None:
    adam = registry.lookup("optimizer", "adam")
    assert check(adam, "optimizer_first_step", network=NET, lr=1e-3).passed
    with remedy("optimizer", "t_adam", adam_like(eps=1e-3), **{
            k: adam.meta[k] for k in ("first_step", "documented")}) as bad:
        assert not check(bad, "optimizer_first_step", network=NET, lr=1e-3).passed


@pytest.mark.parametrize(("name", "factory"), [
    ("adam", lambda params, *, lr=1e-3: torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))),
    ("momentum", lambda params, *, lr=0.01: torch.optim.SGD(params, lr=lr, momentum=0.5)),
], ids=["adam_beta2_0.99", "momentum_0.5"])
def test_update_rule_sees_what_the_first_step_cannot(name, factory) -> None:
    """A wrong beta2 or momentum leaves the first step unchanged; step 2 shows it."""
    real = registry.lookup("optimizer", name)
    assert check(real, "optimizer_update_rule", network=NET, lr=1e-2).passed
    with remedy("optimizer", "t_opt", factory, **real.meta) as bad:
        assert check(bad, "optimizer_first_step", network=NET, lr=1e-2).passed
        v = check(bad, "optimizer_update_rule", network=NET, lr=1e-2)
        assert not v.passed
        assert "first differing step 2" in v.note


def test_gradient_ascent_is_no_descent_direction() -> None:
    assert check("optimizer:sgd", "optimizer_descent", network=NET, lr=0.1).passed
    with remedy("optimizer", "t_sgd", lambda params, *, lr=0.1: torch.optim.SGD(
            params, lr=lr, maximize=True)) as bad:
        v = check(bad, "optimizer_descent", network=NET, lr=0.1)
        assert not v.passed
        assert v.measured > 0


@pytest.mark.parametrize(("bug", "factory"), [
    ("ignores_lr", lambda params, *, lr=1e-3: torch.optim.Adam(params, lr=1e-3)),
    ("caps_lr", lambda params, *, lr=1e-3: torch.optim.Adam(params, lr=min(lr, 0.02))),
    ("squares_lr", lambda params, *, lr=1e-3: torch.optim.SGD(params, lr=lr * lr)),
    ("warm_start", lambda params, *, lr=1e-3: torch.optim.SGD(params, lr=lr + 1e-4)),
], ids=["ignores_lr", "caps_lr", "squares_lr", "lr_plus_1e-4"])
def test_an_optimizer_that_does_not_scale_with_lr_fails_lr_scaling(bug, factory) -> None:
    """``optimizer_lr_scaling`` is standard (no declaration needed): an optimizer that ignores,
    caps, squares or offsets its learning rate fails it, at each lr the suite draws where the
    bug acts; every built-in passes at both. Before it, an Adam ignoring lr passed validate."""
    for name in registry.names("optimizer"):
        for lr in (1e-3, 0.1):
            assert check(f"optimizer:{name}", "optimizer_lr_scaling", network=NET, lr=lr).passed
    with remedy("optimizer", "t_bug", factory) as bad:
        failing = [lr for lr in (1e-3, 0.1)
                   if not check(bad, "optimizer_lr_scaling", network=NET, lr=lr).passed]
    assert failing == ([0.1] if bug == "caps_lr" else [1e-3, 0.1])


def test_an_optimizer_declaring_scales_with_lr_false_is_not_judged_by_lr_scaling() -> None:
    """A published optimizer whose first step is not proportional to lr by design (MADGRAD's
    dual averaging moves by lr^(2/3); AdaBound clamps its step into bounds set by final_lr)
    failed the standard optimizer_lr_scaling with no way to say so: it declares
    scales_with_lr=False, and the claim no longer applies, as bounded=False for a residual."""
    def madgrad_like(params, *, lr=1e-3):
        return torch.optim.SGD(params, lr=lr ** (2 / 3))

    with remedy("optimizer", "t_madgrad", madgrad_like) as plain:
        assert not check(plain, "optimizer_lr_scaling", network=NET, lr=1e-3).passed
    with remedy("optimizer", "t_madgrad", madgrad_like, scales_with_lr=False) as declared:
        assert "scales_with_lr=False" in claims.applicable(declared, "optimizer_lr_scaling")
        with pytest.raises(InvalidArgument, match=r"scales_with_lr=False"):
            check(declared, "optimizer_lr_scaling", network=NET, lr=1e-3)
    with pytest.raises(InvalidArgument, match=r"scales_with_lr='no'.*True or False"):
        registry.register("optimizer", "t_bad", scales_with_lr="no")(madgrad_like)


def test_adam_without_bias_correction_differs_from_its_declared_reference() -> None:
    with remedy("optimizer", "t_ok", adam_like(), reference="adam") as ok:
        assert check(ok, "optimizer_matches_reference", network=NET, lr=1e-3).passed
    with remedy("optimizer", "t_bad", adam_like(bias_correction=False), reference="adam") as bad:
        v = check(bad, "optimizer_matches_reference", network=NET, lr=1e-3)
        assert not v.passed
        assert "first differing step 1" in v.note


def test_every_built_in_optimizer_trains_and_gradient_ascent_does_not() -> None:
    net = gb.MLPSpec(depth=10, width=32, activation="relu", init="he_normal")
    for name in registry.names("optimizer"):
        v = check(f"optimizer:{name}", "optimizer_trains", network=net)
        assert v.passed, claims.explain(v)
    with remedy("optimizer", "t_sgd", lambda params, *, lr=0.05: torch.optim.SGD(
            params, lr=lr, maximize=True)) as bad:
        assert not check(bad, "optimizer_trains", network=net).passed


# --------------------------------------------------------------------------------------
# Verdict builders and classification
# --------------------------------------------------------------------------------------


def test_t_test_degenerates_to_an_exact_comparison_when_all_seeds_agree() -> None:
    v = claims.t_test("mean_field_slope", NET, {}, np.full(8, 0.25), 0.25, alpha=0.01,
                      what="x")
    assert v.passed
    assert v.pvalue == 1.0
    assert "all seeds agree" in v.method
    v = claims.t_test("mean_field_slope", NET, {}, np.full(8, 0.26), 0.25, alpha=0.01,
                      what="x")
    assert not v.passed


def test_equivalence_refuses_networks_that_blew_up() -> None:
    values = np.array([0.0, 0.01, -0.01, math.inf, 0.02, -0.02])
    v = claims.equivalence("stable_gradients", NET, {}, values, 0.0, 0.1, alpha=0.05, what="x")
    assert not v.passed
    assert "non-finite" in v.note


def test_a_remedy_that_raises_gives_a_failed_verdict() -> None:
    def broken(w, *, generator):
        raise RuntimeError("broken on purpose")

    with remedy("initializer", "t_init", broken, distribution="normal", **HE) as r:
        data, v = claims.evaluate_case(r, "initializer_variance", alpha=0.01, fan_in=8,
                                       fan_out=8)
    assert data is None
    assert not v.passed
    assert v.note == "error: RuntimeError: broken on purpose"
    assert isinstance(v, Verdict)


def test_a_remedy_that_raises_invalid_argument_gives_a_failed_verdict() -> None:
    """gradbench's own bad-input error, raised while the remedy is measured (a remedy breaking
    its declaration, or passing a helper a bad shape), is the remedy's failure too: a
    recorded verdict, not an error that leaves the case out of the results (validate then
    reported "every claim holds" with exit 0). A bad claim or alpha still raises."""
    def misused(w, *, generator):
        raise InvalidArgument("shape () is too small")

    with remedy("initializer", "t_init", misused, distribution="normal", **HE) as r:
        data, v = claims.evaluate_case(r, "initializer_variance", alpha=0.01, fan_in=8,
                                       fan_out=8)
        with pytest.raises(InvalidArgument, match="alpha"):
            claims.evaluate_case(r, "initializer_variance", alpha=0.7, fan_in=8, fan_out=8)
    assert data is None
    assert not v.passed
    assert v.note == "error: InvalidArgument: shape () is too small"


@pytest.mark.parametrize(("init", "activation", "depth", "klass"), [
    ("he_normal", "relu", 30, "stable"),
    ("xavier_normal", "relu", 30, "vanishing"),
    ("normal(sigma_w2=6.0)", "relu", 30, "exploding"),
    ("he_normal", "tanh", 30, "stable"),  # x1.05 per layer: x4.3 over depth 30
    ("he_normal", "tanh", 100, "exploding"),  # ... and x140 over depth 100
])
def test_stable_gradients_judges_the_end_to_end_ratio_at_the_depth(init, activation, depth,
                                                                   klass) -> None:
    spec = gb.MLPSpec(depth=depth, width=128, activation=activation, init=init)
    v = check(spec, "stable_gradients", alpha=0.05, seeds=8, batch=8)
    growth = gb.stats.GradientGrowth.from_dict(v.growth)
    assert v.passed == (klass == "stable")
    assert growth.klass() == klass
    assert growth.confidence == pytest.approx(0.9)  # TOST at 0.05: the 90% interval
    assert (growth.low, growth.high) == pytest.approx((v.ci_low, v.ci_high))
    assert v.measured == pytest.approx(growth.log_ratio)
    assert v.note == growth.words
    assert f"over the {depth - 1} layer-to-layer steps of depth {depth}" in v.note


def he_tanh(w, *, generator):
    with torch.no_grad():
        w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)


def xavier_tanh_gain(w, *, generator):
    torch.nn.init.xavier_normal_(w, gain=5 / 3, generator=generator)


def test_stable_as_declared_says_where_a_declaration_stops_holding() -> None:
    """torch's recommended tanh gain 5/3: chi_1 = 1.2098, x1.0999 per layer (docs/theory.md
    §1.5): x16 in theory (x12 measured, from q = 2.8 at the input) over depth 30."""
    with remedy("initializer", "t_gain", xavier_tanh_gain, distribution="normal",
                stable_for=({"activation": "tanh"},)) as r:
        v = check(r, "stable_as_declared")
    assert not v.passed
    assert re.search(r"gradients grow x1\.\d\d per layer, x1\d over the 29 layer-to-layer "
                     r"steps of depth 30 \(exploding\)", v.note), v.note
    assert "stay within x10 up to depth 2" in v.note
    assert 'gradbench_meta = {"stable_for": [{"activation": "<activation>"}]}' in v.note
    assert v.spec["depth"] == 30
    assert v.spec["width"] == 128
    assert v.source == claims.get_claim("stable_as_declared").source


def test_the_depth_keyword_judges_stability_at_that_depth_only() -> None:
    with remedy("initializer", "t_he", he_tanh, distribution="normal",
                variance=lambda fan_in, fan_out: 2.0 / fan_in,
                stable_for=({"activation": "tanh"},)) as r:
        shallow = check(r, "stable_as_declared")
        deep = check(r, "stable_as_declared", depth=64)  # x1.05 per layer: x24 in theory
    assert shallow.passed, shallow.note
    assert not deep.passed
    assert (deep.spec["depth"], deep.spec["width"]) == (64, 256)  # width 4 depth
    assert "over the 63 layer-to-layer steps of depth 64 (exploding)" in deep.note
    with pytest.raises(InvalidArgument, match=r"depth=1 is invalid: the stability settings "
                       r"need an integer depth from 2 to 200"):
        check("initializer:he_normal", "stable_as_declared", depth=1)


def test_a_correct_activation_declaring_nothing_is_stable_at_its_own_critical_point() -> None:
    """GELU has no stable critical point at sigma_b = 0 and vanishes with He and Glorot
    weights; at sigma_b2 = 0.3, sigma_w2 = 1.956 (from its forward) it is critical."""
    gelu = registry.lookup("activation", "gelu")
    assert "stable_for" not in gelu.meta
    v = check(gelu, "stable_somewhere")
    assert v.passed, v.note
    assert v.spec["init"] == "normal"
    assert v.spec["sigma_b2"] == 0.3
    assert v.spec["sigma_w2"] == pytest.approx(1.9561586283, rel=1e-7)
    assert v.spec["input_var"] == pytest.approx((8.772 - 0.3) / 1.9561586283, rel=1e-3)
    assert "init=he_normal: gradients shrink" in v.note
    assert "(vanishing)" in v.note
    assert "init=critical (from the forward: sigma_w2=1.956, sigma_b2=0.3, q*=8.77)" in v.note
    assert "agrees" in v.note
    # every setting tried, for the report's recommendation
    outcomes = {json.dumps(s["setting"]): s["stable"] for s in v.settings}
    assert outcomes == {'{"init": "he_normal"}': False, '{"init": "xavier_normal"}': False,
                        '{"init": "critical"}': True}
    assert [s["class"] for s in v.settings if s["stable"]] == ["stable"]
    assert {(s["depth"], s["width"]) for s in v.settings} == {(30, 128)}


def test_an_activation_whose_backward_is_wrong_disagrees_at_its_critical_point() -> None:
    with remedy("activation", "t_swish", _DroppedTerm.apply) as bad:
        v = check(bad, "stable_somewhere")
    assert not v.passed
    assert "sigma_w2=1.967, sigma_b2=1, q*=39.4" in v.note  # SiLU's, from the forward
    assert "DISAGREES" in v.note
    assert "is the backward the derivative of the forward" in v.note
    assert 'gradbench_meta = {"stable_for": [{"init": "<initializer>"}]}' in v.note
    assert v.method.startswith("t-test")


def test_an_initializer_stable_nowhere_is_told_what_was_tried_and_what_to_declare() -> None:
    def wide(w, *, generator):
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(6.0 / w.shape[1]), generator=generator)

    with remedy("initializer", "t_wide", wide, distribution="normal") as r:
        v = check(r, "stable_somewhere")
    assert not v.passed
    for setting in ("activation=relu", "activation=tanh", "activation=linear"):
        assert f"{setting}: gradients grow" in v.note
    assert [(s["setting"], s["stable"], s["class"]) for s in v.settings] == [
        ({"activation": a}, False, "exploding") for a in ("relu", "tanh", "linear")]
    assert all(s["words"].startswith("gradients grow") for s in v.settings)
    assert "Stable in none of the settings tried" in v.note
    assert 'gradbench_meta = {"stable_for": [{"activation": "<activation>"}]}' in v.note


def test_assert_claim_returns_the_verdict_or_explains_the_failure() -> None:
    from gradbench.testing import assert_claim

    v = assert_claim("initializer:he_normal", "initializer_variance", fan_in=128, fan_out=96)
    assert v.passed
    with remedy("initializer", "t_init", he_like(0.8), distribution="normal", **HE):
        with pytest.raises(AssertionError, match=r"(?s)claim initializer_variance FAILS for "
                           r"t_init: predicted 0\.015625, measured .*CI \[.*configuration: "
                           r"kind='initializer', remedy='t_init', fan_in=128, fan_out=96"):
            assert_claim("initializer:t_init", "initializer_variance", alpha=1e-4,
                         fan_in=128, fan_out=96)


def test_assert_claim_takes_what_validate_takes(tmp_path, monkeypatch) -> None:
    """An import path, a file path, the object itself or a registered name, with no prior
    registration; a remedy registered for the check is unregistered after it."""
    from gradbench import registry
    from gradbench.errors import ClaimFailed
    from gradbench.testing import assert_claim

    (tmp_path / "mine.py").write_text(
        "import math, torch\n"
        "def my_he(w, *, generator):\n"
        "    with torch.no_grad():\n"
        "        w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)\n"
        "my_he.gradbench_meta = {'variance': lambda fan_in, fan_out: 2.0 / fan_in,\n"
        "                        'distribution': 'normal'}\n")
    monkeypatch.chdir(tmp_path)
    before = registry.names("initializer")
    for target in ("mine:my_he", "./mine.py:my_he", "he_normal", "initializer:he_normal"):
        v = assert_claim(target, "initializer_variance", fan_in=128, fan_out=96)
        assert v.passed, target
    timid = he_like(0.8)
    timid.gradbench_meta = {"distribution": "normal", **HE}
    with pytest.raises(ClaimFailed, match="claim initializer_variance FAILS") as failed:
        assert_claim(timid, "initializer_variance", alpha=1e-4, fan_in=128, fan_out=96)
    assert isinstance(failed.value, AssertionError)
    assert not failed.value.verdict.passed
    assert registry.names("initializer") == before


def test_a_failure_without_an_interval_says_so_instead_of_nan() -> None:
    """A KS test has no interval of its statistic: the message says "no interval"."""
    from gradbench.records import Verdict

    base = dict(claim="initializer_distribution", spec={"fan_in": 96}, predicted=0.02,
                measured=0.06, statistic=0.14, pvalue=1e-165, alpha=1e-4, passed=False)
    text = claims.explain(Verdict(ci_low=math.nan, ci_high=math.nan, **base))
    assert "measured 0.06, no interval, statistic 0.14" in text
    assert "nan" not in text
    assert "CI [0.05, 0.07]" in claims.explain(Verdict(ci_low=0.05, ci_high=0.07, **base))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carry_gate_follows_the_forget_bias_and_a_bias_in_another_gate_fails(
        cell, monkeypatch) -> None:
    """carry_gate_mean holds for the built-in draw and fails when the forget bias is drawn
    into another gate (the reference module would load the same wrong parameters)."""
    from gradbench import specs

    spec = gb.RNNSpec(cell=cell, hidden=64, steps=8, forget_bias=1.0)
    assert gb.check(spec, "carry_gate_mean", seed=3).passed
    kind = specs.CELL_KINDS[cell]
    monkeypatch.setitem(specs.CELL_KINDS, cell, dataclasses.replace(kind, carry_gate=0))
    wrong = gb.check(spec, "carry_gate_mean", seed=3)
    assert not wrong.passed
    assert "mean carry gate 0.5" in wrong.note  # sigma(sqrt(v) z) averages 1/2


def test_carry_gate_sees_input_weights_at_the_wrong_scale(monkeypatch) -> None:
    """Input weights drawn with variance sigma_u2 / (4 H) instead of sigma_u2 / H."""
    from gradbench import models

    spec = gb.RNNSpec(cell="lstm", hidden=64, steps=8, forget_bias=2.0)
    real = models.Draw.gaussian

    def narrow(self, shape, variance):
        wide = len(shape) == 2 and shape[0] == 4 * shape[1]
        return real(self, shape, variance / 4 if wide else variance)

    monkeypatch.setattr(models.Draw, "gaussian", narrow)
    assert not gb.check(spec, "carry_gate_mean", seed=3).passed


def test_an_all_zero_initializer_fails_stable_somewhere_in_words_that_say_zero() -> None:
    """Zero weights give exactly zero gradients below the top layer: vanishing, not NaN."""

    def zeros(w, *, generator):
        with torch.no_grad():
            w.zero_()

    with remedy("initializer", "t_zeros", zeros) as r:
        v = check(r, "stable_somewhere")
    assert not v.passed
    assert v.note.startswith("depth 30, width 128, 16 networks,")
    assert "gradients are exactly zero within depth 30 in every network" in v.note
    assert "not finite" not in v.note


@pytest.mark.parametrize("seeds", [1, 0, 2.5, True])
def test_a_test_across_seeds_refuses_fewer_than_two(seeds) -> None:
    """One network gives no spread: a t-test across seeds from it would be a confident
    verdict from nothing (it was: an 'exact' comparison, p = 0 or 1)."""
    with pytest.raises(InvalidArgument, match=rf"^seeds={seeds!r} is invalid: claim "
                       r"'mean_field_slope' compares independent networks, so it needs an "
                       r"integer >= 2"):
        check(gb.MLPSpec(depth=6, width=64), "mean_field_slope", seeds=seeds)


def test_one_finite_seed_of_several_is_no_test_and_fails() -> None:
    from gradbench.claims._verdicts import t_test

    values = np.array([0.1, np.inf, np.nan, np.inf])
    v = t_test("mean_field_slope", NET, {}, values, 0.1, alpha=0.01, what="the slope")
    assert not v.passed
    assert v.n == 1
    assert v.note == "only 1 seed produced finite gradients: no test across seeds is possible"


@pytest.mark.parametrize("values", [[0.1] + [np.nan] * 15, [0.1] * 8 + [np.inf] * 8])
def test_equivalence_is_never_claimed_when_seeds_overflowed(values) -> None:
    """A non-finite seed is a network that blew up: no stability verdict may pass, however
    the finite seeds agree (they passed as an exact comparison of 'all seeds agree')."""
    from gradbench.claims._verdicts import equivalence

    v = equivalence("stable_gradients", NET, {}, np.array(values), 0.0, 1.0, alpha=0.01,
                    what="the log ratio")
    assert not v.passed


def test_a_single_value_by_design_is_still_compared_exactly() -> None:
    """A one-site network's slope is one value, not one seed of several: exact, as before."""
    from gradbench.claims._verdicts import t_test

    v = t_test("mean_field_slope", NET, {}, np.zeros(1), 0.0, alpha=0.01, what="the slope")
    assert v.passed


def _constant(value):
    def init(w, *, generator):
        with torch.no_grad():
            w.fill_(value)
    return init


@pytest.mark.parametrize(("value", "meta", "passed", "note"), [
    # constant entries whose mean square is the declared variance: not centred, so not i.i.d.
    # zero-mean weights, unless the initializer declares itself deterministic
    (0.1, {}, False, "the weights are not centred"),
    (0.1, {"distribution": "deterministic"}, True, ""),
    (0.0, {}, True, ""),  # zeros declaring variance 0: no division by zero
])
def test_exact_mean_squares_without_a_declared_law(value, meta, passed, note) -> None:
    declared = {"variance": lambda fan_in, fan_out: value**2}
    with remedy("initializer", "t_init", _constant(value), **declared, **meta) as r:
        v = check(r, "initializer_variance", fan_in=128, fan_out=96, alpha=0.01)
    assert (v.passed, v.note) == (passed, note)
