"""Initializers: declared variance, distribution family (KS tests as in PyTorch's test_init.py).

PyTorch's ``test/nn/test_init.py`` accepts a draw when ``scipy.stats.kstest`` gives
p > 1e-4; we do the same at a literal seed, over non-square shapes, and compare the
empirical variance with the variance each initializer declares
(``meta["variance"](fan_in, fan_out, **params)``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from gradbench import models, registry
from gradbench.errors import InvalidArgument
from gradbench.models import Draw, draw_network
from gradbench.remedies.initializers import (
    STACK_MARK,
    fans,
    fill_standard_normal,
    standard_normal,
)
from gradbench.specs import MLPSpec

SEED = 1234
SHAPES = [(200, 300), (300, 200), (64, 1000)]  # (fan_out, fan_in), 60,000+ entries each
CONV_SHAPES = [(150, 150, 3), (120, 120, 5)]  # Conv1d kernels (out, in, k), in = out
KS_PVALUE = 1e-4
VARIANCE_RTOL = 0.03  # > 5 standard errors of a sample variance over 60,000 entries

INITIALIZERS = registry.names("initializer")
WITH_PARAMS = [
    "he_normal(gain=1.3)",
    "xavier_uniform(gain=0.5)",
    "normal(sigma_w2=2.5)",
    "orthogonal(gain=1.7)",
    "identity(gain=0.5)",
    "kaiming_uniform(gain=0.8)",
    "he_normal_fan_out(gain=1.0)",
]
ALL = INITIALIZERS + WITH_PARAMS


def draw(name: str, shape: tuple[int, ...], seed: int = SEED) -> tuple[np.ndarray, float, str]:
    """One weight from initializer ``name``; its declared entry variance and distribution."""
    remedy = registry.lookup("initializer", name)
    w = torch.empty(shape, dtype=torch.float64)
    remedy.fn(w, generator=torch.Generator().manual_seed(seed))
    fan_in, fan_out = fans(shape)
    variance = float(remedy.meta["variance"](fan_in, fan_out, **remedy.params))
    return w.numpy(), variance, str(remedy.meta.get("distribution"))


@pytest.mark.parametrize("shape", SHAPES + CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ALL)
def test_empirical_variance_matches_declared(name: str, shape: tuple[int, ...]) -> None:
    w, variance, family = draw(name, shape)
    assert w.shape == shape
    assert np.isfinite(w).all()
    second_moment = float(np.mean(w**2))
    if family in ("orthogonal", "identity"):
        # sum of squares is gain^2 * min(rows, cols) of the (out, in * k) matrix exactly
        assert second_moment == pytest.approx(variance, rel=1e-12)
    else:
        assert abs(float(np.mean(w))) < 5 * math.sqrt(variance / w.size)
        assert float(np.var(w)) == pytest.approx(variance, rel=VARIANCE_RTOL)


@pytest.mark.parametrize("shape", SHAPES + CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ALL)
def test_distribution_family(name: str, shape: tuple[int, ...]) -> None:
    w, variance, family = draw(name, shape)
    gain = math.sqrt(variance * max(fans(shape)))  # for the deterministic/orthogonal families
    if family == "normal":
        assert stats.kstest(w.ravel(), "norm", args=(0.0, math.sqrt(variance))).pvalue > KS_PVALUE
    elif family == "uniform":
        a = math.sqrt(3.0 * variance)
        assert np.abs(w).max() <= a
        assert stats.kstest(w.ravel(), "uniform", args=(-a, 2 * a)).pvalue > KS_PVALUE
    elif family == "orthogonal":
        m = w.reshape(shape[0], -1)  # a kernel as its (out, in * k) matrix
        gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, gain**2 * np.eye(min(m.shape)), rtol=0, atol=1e-10)
    elif family == "identity":
        want = np.zeros(shape)
        centre = tuple(k // 2 for k in shape[2:])
        for i in range(min(shape[:2])):  # a kernel: the Dirac (identity) convolution
            tap = (i, i, *centre)
            want[tap] = gain
        assert np.array_equal(w, want)
    else:
        pytest.fail(
            f"initializer {name!r} declares distribution={family!r}; this test knows "
            "normal, uniform, orthogonal and identity"
        )


@pytest.mark.parametrize(
    "shape", [(3, 4), (4, 3), (20, 50), (50, 20), (17, 17)], ids=lambda s: f"{s[0]}x{s[1]}"
)
@pytest.mark.parametrize("gain", [1.0, 0.37, 1.9])
def test_orthogonal_gram_is_gain_squared_identity(shape: tuple[int, int], gain: float) -> None:
    w, _, _ = draw(f"orthogonal(gain={gain})", shape)
    rows, cols = shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(shape)), rtol=0, atol=1e-10)
    other, _, _ = draw(f"orthogonal(gain={gain})", shape, seed=SEED + 1)
    assert not np.array_equal(w, other)  # it is random, not a fixed matrix


@pytest.mark.parametrize("name", INITIALIZERS)
def test_same_generator_seed_gives_the_same_weight(name: str) -> None:
    a, _, _ = draw(name, (30, 40))
    b, _, _ = draw(name, (30, 40))
    assert np.array_equal(a, b)


def test_fans_follow_torch_for_dense_and_conv_weights() -> None:
    for shape in [(7, 5), (8, 4, 3), (6, 2, 3, 5)]:
        w = torch.empty(shape)
        assert fans(shape) == nn.init._calculate_fan_in_and_fan_out(w)
        assert fans(w) == fans(shape)  # given the weight, as torch's function is
    stack = torch.empty(3, 7, 5)  # a stack of three (7, 5) weights, marked as Draw marks it
    setattr(stack, STACK_MARK, True)
    assert fans(stack) == (5, 7)
    with pytest.raises(InvalidArgument, match="no fan-in"):
        fans((5,))


def test_torch_default_has_the_variance_of_nn_linear() -> None:
    fan_out, fan_in = 300, 200
    ours, variance, family = draw("torch_default", (fan_out, fan_in))
    assert family == "uniform"
    assert variance == pytest.approx(1.0 / (3.0 * fan_in), rel=1e-15)
    torch.manual_seed(SEED)
    linear = nn.Linear(fan_in, fan_out, dtype=torch.float64)
    theirs = linear.weight.detach().numpy().ravel()
    a = math.sqrt(
        3.0 * variance
    )  # = 1 / sqrt(fan_in), nn.Linear's kaiming_uniform_(a=sqrt(5)) bound
    assert a == pytest.approx(1.0 / math.sqrt(fan_in), rel=1e-12)
    for sample in (ours.ravel(), theirs):
        assert stats.kstest(sample, "uniform", args=(-a, 2 * a)).pvalue > KS_PVALUE
        assert float(np.var(sample)) == pytest.approx(variance, rel=VARIANCE_RTOL)
    # the two samples come from one distribution
    assert stats.ks_2samp(ours.ravel(), theirs).pvalue > KS_PVALUE
    # the declared bias variance is nn.Linear's bias variance too
    bias_variance = registry.lookup("initializer", "torch_default").meta["bias_variance"](fan_in)
    assert bias_variance == pytest.approx(variance, rel=1e-15)
    torch.manual_seed(SEED)
    biases = np.concatenate(
        [nn.Linear(fan_in, fan_out, dtype=torch.float64).bias.detach().numpy() for _ in range(40)]
    )
    assert stats.kstest(biases, "uniform", args=(-a, 2 * a)).pvalue > KS_PVALUE


@pytest.mark.parametrize("name", INITIALIZERS)
@pytest.mark.parametrize("sigma_w2", [0.5, 2.5])
def test_sigma_w2_override_rescales_to_the_requested_variance(name: str, sigma_w2: float) -> None:
    shape = (200, 300)
    fan_out, fan_in = shape
    remedy = registry.lookup("initializer", name)
    plain = Draw(torch.Generator().manual_seed(SEED)).weight(name, shape, None)
    scaled = Draw(torch.Generator().manual_seed(SEED)).weight(name, shape, sigma_w2)
    declared = remedy.meta["variance"](fan_in, fan_out) * fan_in
    # the same draw, rescaled by exactly sqrt(sigma_w2 / declared)
    torch.testing.assert_close(scaled, plain * math.sqrt(sigma_w2 / declared), rtol=1e-15, atol=0)
    if remedy.meta.get("distribution") in ("orthogonal", "identity"):
        assert float(scaled.pow(2).mean()) * fan_in == pytest.approx(sigma_w2, rel=1e-12)
    else:
        assert float(scaled.var()) * fan_in == pytest.approx(sigma_w2, rel=VARIANCE_RTOL)


def test_sigma_w2_override_in_a_spec_reaches_the_drawn_weights() -> None:
    spec = MLPSpec(depth=3, width=256, init="xavier_uniform", sigma_w2=1.7)
    params, _ = draw_network(spec, batch=2, base_seed=0, index=0)
    weights = torch.cat([params[f"W{i}"].flatten() for i in range(3)])
    assert float(weights.var()) * 256 == pytest.approx(1.7, rel=VARIANCE_RTOL)
    a = math.sqrt(3 * 1.7 / 256)
    assert float(weights.abs().max()) <= a
    assert stats.kstest(weights.numpy(), "uniform", args=(-a, 2 * a)).pvalue > KS_PVALUE


def test_initializers_use_only_the_generator_they_are_given() -> None:
    torch.manual_seed(0)
    before = torch.get_rng_state()
    for name in INITIALIZERS:
        draw(name, (8, 9))
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
def test_lsuv_gives_unit_preactivation_variance_on_its_batch(activation: str) -> None:
    """Mishkin & Matas 2016: each W^l is rescaled so that Var h^l = 1 on the calibration batch."""
    spec = MLPSpec(depth=6, width=32, activation=activation, init="lsuv")
    params, data = draw_network(spec, batch=64, base_seed=0, index=0)
    act = registry.lookup("activation", activation).fn
    x = data["x"]
    for layer in range(spec.depth):
        w = params[f"W{layer}"]
        h = x @ w.mT + params[f"b{layer}"]
        assert float(h.std()) == pytest.approx(1.0, rel=1e-12)
        # still orthogonal up to the scale: W W^T = c^2 I
        gram = w @ w.mT
        torch.testing.assert_close(
            gram, gram[0, 0] * torch.eye(32, dtype=torch.float64), rtol=0, atol=1e-10
        )
        x = act(h)


def _names_with_distribution(*families: str) -> list[Any]:
    return [
        n
        for n in INITIALIZERS
        if registry.lookup("initializer", n).meta.get("distribution") in families
    ]


def test_every_initializer_declares_variance_and_distribution() -> None:
    for name in INITIALIZERS:
        meta = registry.lookup("initializer", name).meta
        assert callable(meta.get("variance")), name
        assert meta.get("distribution") in ("normal", "uniform", "orthogonal", "identity"), name
    assert _names_with_distribution("normal")
    assert _names_with_distribution("uniform")


# --- delta-orthogonal (Xiao et al. 2018, Algorithm 2) -----------------------------------------


@pytest.mark.parametrize("shape", [(6, 6, 3), (8, 5, 5), (7, 7, 3, 3), (9, 4, 1), (5, 5, 1, 3)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("gain", [1.0, 0.6, 1.9])
def test_delta_orthogonal_is_an_orthogonal_centre_tap(shape: tuple[int, ...], gain: float) -> None:
    """Every tap 0 but the centre, where W[:, :, centre] = gain H with H^T H = I."""
    w, variance, family = draw(f"delta_orthogonal(gain={gain})", shape)
    centre = (slice(None), slice(None), *(k // 2 for k in shape[2:]))
    h = w[centre]
    np.testing.assert_allclose(h.T @ h, gain**2 * np.eye(shape[1]), rtol=0, atol=1e-12)
    rest = w.copy()
    rest[centre] = 0.0
    assert not rest.any()
    assert family == "orthogonal"
    # the declared variance is the mean square over the whole kernel
    assert float(np.mean(w**2)) == pytest.approx(variance, rel=1e-12)
    assert variance == pytest.approx(gain**2 / max(fans(shape)), rel=1e-15)


def test_delta_orthogonal_on_a_dense_weight_is_the_orthogonal_init() -> None:
    for shape in [(30, 20), (20, 30)]:
        a, _, _ = draw("delta_orthogonal(gain=1.3)", shape)
        b, _, _ = draw("orthogonal(gain=1.3)", shape)
        assert np.array_equal(a, b)


def test_delta_orthogonal_is_random_and_seeded() -> None:
    a, _, _ = draw("delta_orthogonal", (6, 6, 3))
    b, _, _ = draw("delta_orthogonal", (6, 6, 3), seed=SEED + 1)
    c, _, _ = draw("delta_orthogonal", (6, 6, 3))
    assert np.array_equal(a, c)
    assert not np.array_equal(a, b)


def test_delta_orthogonal_keeps_norms_through_an_nn_conv1d() -> None:
    """The property the kernel is for, seen through torch's own circular convolution."""
    w, _, _ = draw("delta_orthogonal(gain=0.7)", (6, 4, 5))
    conv = nn.Conv1d(4, 6, 5, padding=2, padding_mode="circular", bias=False,
                     dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        x = torch.randn(3, 4, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        y = conv(x)
    torch.testing.assert_close(y.norm(dim=(1, 2)), 0.7 * x.norm(dim=(1, 2)), rtol=1e-13, atol=0)


@pytest.mark.parametrize(("shape", "match"), [((4, 6, 3), r"in=6 > out=4"),
                                              ((4, 4, 2), r"odd kernel sizes")])
def test_delta_orthogonal_refuses_kernels_without_an_orthogonal_centre(
        shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        draw("delta_orthogonal", shape)


@pytest.mark.parametrize("numel", [1, 7, 15, 16, 17, 31, 48, 100, 1155, 128 * 128])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_fill_standard_normal_is_std_times_standard_normal_bit_for_bit(
    numel: int, dtype: torch.dtype
) -> None:
    """The scale drawn in the same pass (float32, >= 16 entries) gives the very bits of
    ``standard_normal`` times ``std``, signs of zeros included: the probe and the claims'
    float64 runs must see the same network. Fails if ATen's fill rounded differently or drew
    other numbers, and (checked) if the scale were drawn in the same pass below 16 entries
    or for ``std = 0``."""
    as_bits = {torch.float32: torch.int32, torch.float64: torch.int64, torch.bfloat16: torch.int16}
    for std in (1.0, 0.125, math.sqrt(2 / 3), 1e-3, 7.3, 0.0):
        expected = standard_normal((numel,), torch.Generator().manual_seed(numel), dtype) * std
        got = fill_standard_normal(torch.empty(numel, dtype=dtype),
                                   torch.Generator().manual_seed(numel), std)
        assert torch.equal(got.view(as_bits[dtype]), expected.view(as_bits[dtype])), (numel, std)


STACKED_SHAPES = [(16, 16), (24, 40), (8, 6, 3), (4, 4, 3, 3), (5, 3)]  # the last: 15 entries


@pytest.mark.parametrize("grouped", [False, True], ids=["one-stack", "groups-of-2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("shape", STACKED_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ALL)
def test_weights_in_a_row_are_the_weights_drawn_one_by_one(
    name: str, shape: tuple[int, ...], dtype: torch.dtype, grouped: bool, monkeypatch
) -> None:
    """``Draw.weights`` gives, bit for bit, the weights ``Draw.weight`` draws one after
    another (and leaves the generator where they leave it), for every initializer, dense and
    convolution shapes, both dtypes and a ``sigma_w2`` rescaling, with the 5 weights drawn
    in one stack or (``STACK_ENTRIES`` cut to two weights) in stacks of 2, 2 and 1: the
    stacks drawn by the initializers registered with ``stacks=True`` (16 divides the size)
    are a speed-up, never other numbers. Fails if a stacking initializer read its fans from
    the stack's shape, or if one call drew other numbers than the calls in a row."""
    if name.startswith("delta_orthogonal") and len(shape) > 2 and shape[1] > shape[0]:
        pytest.skip("delta_orthogonal needs in <= out")
    if grouped:
        monkeypatch.setattr(models, "STACK_ENTRIES", 2 * math.prod(shape))
    for sigma_w2 in (None, 1.7):
        one_by_one, in_a_row = (Draw(torch.Generator().manual_seed(SEED), dtype)
                                for _ in range(2))
        expected = [one_by_one.weight(name, shape, sigma_w2) for _ in range(5)]
        got = in_a_row.weights(name, shape, 5, sigma_w2)
        assert len(got) == 5
        assert all(w.shape == shape and w.dtype == dtype for w in got)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert torch.equal(g, e), (name, shape, sigma_w2, i)
        assert torch.equal(in_a_row.generator.get_state(), one_by_one.generator.get_state())


def test_a_stacking_initializer_draws_the_weights_in_one_call(monkeypatch) -> None:
    """The point of ``stacks=True``: one call of the initializer for all the weights when 16
    divides a weight's size (up to ``STACK_ENTRIES`` entries a call), one call per weight
    otherwise and for an initializer that does not stack (orthogonal). Fails if
    ``Draw.weights`` fell back to a call per weight, or ignored ``STACK_ENTRIES``."""
    calls: list[tuple[str, tuple[int, ...]]] = []
    for name in ("he_normal", "orthogonal"):
        remedy = registry.lookup("initializer", name)
        real = remedy.obj

        def counted(w: torch.Tensor, *, real: Any = real, name: str = name, **kw: Any) -> None:
            calls.append((name, tuple(w.shape)))
            real(w, **kw)

        monkeypatch.setitem(registry._REMEDIES, ("initializer", name),
                            registry.Remedy(remedy.kind, remedy.name, counted, remedy.params,
                                            remedy.paper, remedy.meta))
    draw = Draw(torch.Generator().manual_seed(SEED), torch.float32)
    draw.weights("he_normal", (16, 16), 5, None)
    draw.weights("he_normal", (5, 3), 2, None)
    draw.weights("orthogonal", (16, 16), 3, None)
    monkeypatch.setattr(models, "STACK_ENTRIES", 2 * 16 * 16 + 1)
    draw.weights("he_normal", (16, 16), 5, None)
    check = [("he_normal", (16, 16)), ("he_normal", (16, 16)), ("he_normal", (2, 16, 16))]
    assert calls == [*check,  # once per shape: the stack drawn as the calls in a row draw
                     ("he_normal", (5, 16, 16)), ("he_normal", (5, 3)), ("he_normal", (5, 3)),
                     *[("orthogonal", (16, 16))] * 3,
                     ("he_normal", (2, 16, 16)), ("he_normal", (2, 16, 16)),
                     ("he_normal", (1, 16, 16))]


def test_a_stacking_initializer_that_reads_the_stacks_shape_is_refused(monkeypatch) -> None:
    """``stacks=True`` is a promise: one call on a stack draws what calls in a row draw. An
    initializer that breaks it (its fans read from ``w.detach()``, which loses the mark) is
    refused with one sentence naming it and the fix, before any weight is used; the same
    code without the declaration draws one weight per call and is accepted. Fails if the
    check were skipped (the stacked draw then silently has 128x too small a variance)."""
    def detached_he(w: torch.Tensor, *, generator: torch.Generator) -> None:
        fan_in = fans(w.detach().shape)[0]
        w.detach().normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)

    for stacks in (True, False):
        monkeypatch.setitem(registry._REMEDIES, ("initializer", "detached_he"),
                            registry.Remedy("initializer", "detached_he", detached_he, {}, "",
                                            {"stacks": stacks}))
        draw = Draw(torch.Generator().manual_seed(SEED), torch.float32)
        if stacks:
            with pytest.raises(InvalidArgument, match=r"'detached_he' declares stacks=True.*"
                                                      r"fans\(weight_shape\(w\)\)"):
                draw.weights("detached_he", (128, 128), 8, None)
        else:
            weights = draw.weights("detached_he", (128, 128), 8, None)
            assert all(abs(float(w.var()) - 2 / 128) < 0.002 for w in weights)
