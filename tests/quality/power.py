"""Measured power and false-alarm rate of each claim, against a named planted error.

Each :class:`Trial` names a claim, a correct subject (where the claim is true), the
planted error it must catch, and how one trial's configuration is drawn from a literal
seed. :func:`rates` runs ``n`` trials of each: the false-alarm rate at ``alpha = 0.01``
(the test's size) and the power at the quick profile's per-case alpha (what a run
uses). A claim with its own level (the equivalence claims, which fail when a property is
*not shown*, so that a smaller alpha fails more often) is measured at that level for
both: the level a run uses. Every trial is deterministic, so the figures are reproducible
exactly.

``python tests/quality/power.py`` prints the table (markdown) and writes
``gradbench/claims/calibration.json``, which ``docs/claims.md`` and the report show;
``python tests/quality/power.py --update CLAIM ...`` re-measures those claims' rows only;
``tests/quality/test_power.py`` (slow) checks the bounds and that the file is current.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gradbench as gb
from gradbench import claims, registry
from gradbench.profiles import get_profile

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "gradbench" / "claims" / "calibration.json"
SIZE_ALPHA = 0.01
CASE_ALPHA = get_profile("quick").case_alpha


@dataclass(frozen=True)
class Trial:
    """A claim's calibration: correct and planted-wrong subjects, configurations per seed.

    Attributes:
        claim: the claim.
        error: the planted error, in words.
        good: ``good(seed) -> (target, config)`` where the claim is true.
        bad: ``bad(seed) -> (target, config)`` with the planted error.
        planted: a context manager that plants the error in the library (for theory
            errors), or ``None`` when ``bad`` carries it.
        n: number of trials of each.
    """

    claim: str
    error: str
    good: Callable[[int], tuple[Any, dict[str, Any]]]
    bad: Callable[[int], tuple[Any, dict[str, Any]]]
    planted: Callable[[], Any] | None = None
    n: int = 100


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _fans(seed: int) -> dict[str, int]:
    r = _rng(seed)
    return {"fan_in": int(r.integers(96, 321)), "fan_out": int(r.integers(96, 321))}


@contextlib.contextmanager
def planted_remedies() -> Iterator[None]:
    """Register the planted-wrong remedies of :func:`trials` for the duration of a block."""
    with contextlib.ExitStack() as stack:
        for (kind, name), (fn, meta) in PLANTED.items():
            stack.enter_context(registry.temporary(kind, name, fn, **meta))  # type: ignore[arg-type]
        yield


def _he(factor: float) -> Any:
    def init(w: torch.Tensor, *, generator: torch.Generator) -> None:
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(factor * 2.0 / w.shape[1]), generator=generator)
    return init


def _he_uniform_no_three(w: torch.Tensor, *, generator: torch.Generator) -> None:
    a = math.sqrt(2.0 / w.shape[1])
    with torch.no_grad():
        w.uniform_(-a, a, generator=generator)


class _SiluDroppedTerm(torch.autograd.Function):
    """SiLU whose hand-written backward drops the x s (1 - s) term (tests/mutants.py)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x)
        ctx.save_for_backward(s)
        return x * s

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        return g * s


HE_DECL = {"variance": lambda fan_in, fan_out: 2.0 / fan_in}
PLANTED: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {
    ("initializer", "calib_he_x0.9"): (_he(0.9), {"distribution": "normal", **HE_DECL}),
    ("initializer", "calib_he_uniform_no_3"): (_he_uniform_no_three,
                                               {"distribution": "uniform", **HE_DECL}),
    ("initializer", "calib_he_x1.3"): (_he(1.3), {"distribution": "normal", **HE_DECL}),
    ("residual", "calib_inv_sqrt_layer"): (lambda layer, depth: layer**-0.5, {}),
    ("initializer", "calib_xavier_gain_5/3"): (
        lambda w, *, generator: torch.nn.init.xavier_normal_(w, gain=5 / 3, generator=generator),
        {"distribution": "normal", "stable_for": ({"activation": "tanh"},)}),
    ("activation", "calib_silu_dropped_term"): (lambda x: _SiluDroppedTerm.apply(x), {}),
    # transformer depth schemes (suites/test_schemes.py), declaring nothing but Admin's law
    ("depth_scheme", "calib_deepnorm_beta_exponent_half"): (
        lambda depth: {"placement": "post", "skip_scale": (2 * depth) ** 0.25,
                       "branch_gain": (8 * depth) ** -0.5}, {}),
    ("depth_scheme", "calib_deepnorm_alpha_on_branch"): (
        lambda depth: {"placement": "post", "skip_scale": 1.0,
                       "branch_gain": (8 * depth) ** -0.25 * (2 * depth) ** 0.125}, {}),
    ("depth_scheme", "calib_admin_blocks"): (
        lambda depth: {"placement": "post",
                       "skip_scale": ((depth + 1) / math.log(depth + 1) - 1) ** 0.5},
        {"law": lambda depth: registry.lookup("depth_scheme", "admin").meta["law"](depth)}),
    # deep CNNs: He normal from w.shape[1], i.e. fan_in C where a kernel has C k
    ("initializer", "calib_he_fan_in_channels"): (_he(1.0), {"distribution": "normal",
                                                              **HE_DECL}),
}


@contextlib.contextmanager
def _planted_in_theory(attr: str, replacement: Any, modules: tuple[str, ...]) -> Iterator[None]:
    """Replace ``attr`` in the named ``gradbench.theory`` modules (each imported it by name),
    with the prediction cache cleared on the way in and out, then restore it."""
    import importlib

    from gradbench.theory import _predict

    users = [importlib.import_module(f"gradbench.theory.{m}") for m in modules]
    real = getattr(users[0], attr)
    for module in users:
        setattr(module, attr, replacement(real))
    _predict._predict_cached.cache_clear()
    try:
        yield
    finally:
        for module in users:
            setattr(module, attr, real)
        _predict._predict_cached.cache_clear()


def chi1_off(factor: float = 1.02) -> contextlib.AbstractContextManager[None]:
    """Plant a ``factor`` error in theory's chi (the function chi1 and predict both use)."""
    return _planted_in_theory(
        "_chi_at", lambda real: lambda act, sw2, q: factor * real(act, sw2, q),
        ("_mean_field", "_predict", "_rnn"))


def _phase_point(seed: int) -> tuple[Any, dict[str, Any]]:
    r = _rng(seed)
    while True:
        spec = gb.MLPSpec(depth=int(r.integers(10, 21)), width=512,
                          activation=str(r.choice(["tanh", "erf"])), init="normal",
                          sigma_w2=float(r.choice([0.5, 1.0, 1.5, 2.0, 3.0])),
                          sigma_b2=float(r.choice([0.0, 0.05, 0.3])))
        if gb.theory.predict(spec).valid:  # as suites/test_mean_field.py draws them
            return spec, {"seeds": 32, "batch": 32, "seed": seed}


def _relu_one_example(seed: int) -> tuple[Any, dict[str, Any]]:
    """As ``test_relu_exact_finite_width_bias`` draws them: one example per net, no band.

    (At batch 32 the 2/width band hides a 2% chi_1 error at width 512: power 15/50.)"""
    r = _rng(seed)
    spec = gb.MLPSpec(depth=int(r.integers(16, 25)), width=int(r.choice([32, 64])),
                      activation="relu", init="he_normal", sigma_b2=0.0)
    return spec, {"seeds": 1024, "batch": 1, "seed": seed}


def relu_bias_halved() -> contextlib.AbstractContextManager[None]:
    """Plant theory's exact ReLU finite-width bias at half its value."""
    import dataclasses

    return _planted_in_theory(
        "relu_finite_width",
        lambda real: lambda n: dataclasses.replace(real(n), e_log=0.5 * real(n).e_log),
        ("_predict",))


def _moments(name: str) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        r = _rng(seed)
        return (registry.lookup("activation", name),
                {"sigma_w2": float(r.uniform(0.5, 3.0)), "sigma_b2": float(r.uniform(0.01, 0.5)),
                 "seed": seed})
    return draw


def _stable(init: str) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        return gb.MLPSpec(depth=30, width=128, activation="relu", init=init), {
            "seeds": 8, "batch": 16, "seed": seed}
    return draw


def _remedy(kind: str, name: str, **config: Any) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    return lambda seed: (registry.lookup(kind, name), {**config, "seed": seed})  # type: ignore[arg-type]


def _lookup(kind: str, name: str) -> Any:
    return registry.lookup(kind, name)  # type: ignore[arg-type]


def _gated(seed: int) -> tuple[Any, dict[str, Any]]:
    """An LSTM or GRU as the suite draws them (test_mean_field.py::test_gated_carry_gate)."""
    r = _rng(seed)
    spec = gb.RNNSpec(cell=("lstm", "gru")[seed % 2], hidden=64, steps=int(r.integers(2, 31)),
                      init=("orthogonal", "xavier_normal", "torch_default")[int(r.integers(3))],
                      forget_bias=float(r.uniform(0.5, 3.0)))
    return spec, {"seeds": 16, "batch": 32, "seed": seed}


@contextlib.contextmanager
def gated_input_weights_per_gate_fan() -> Iterator[None]:
    """Input weights of a gated cell drawn with variance sigma_u2 / (gates H), not sigma_u2 / H."""
    from gradbench import models

    real = models.Draw.gaussian

    def narrow(self: Any, shape: tuple[int, ...], variance: float) -> torch.Tensor:
        stacked = len(shape) == 2 and shape[0] > shape[1] and shape[0] % shape[1] == 0
        return real(self, shape, variance * shape[1] / shape[0] if stacked else variance)

    models.Draw.gaussian = narrow  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.Draw.gaussian = real  # type: ignore[method-assign]


FINITE_WIDTH_SEEDS = 2048
"""Networks per finite_width_variance case: the standard error of ln(sample variance) is
sqrt(2/(n-1)) = 0.031, so a 20% error (ln 1.2 = 0.18) is 5.8 standard errors."""


def _finite_width(seed: int) -> tuple[Any, dict[str, Any]]:
    """A ReLU/He MLP as test_mean_field.py::test_finite_width_variance draws it."""
    r = _rng(seed)
    spec = gb.MLPSpec(depth=int(r.integers(5, 13)), width=int(r.choice([32, 48])),
                      activation="relu", init="he_normal", sigma_b2=0.0)
    return spec, {"seeds": FINITE_WIDTH_SEEDS, "batch": 1, "seed": seed}


@contextlib.contextmanager
def finite_width_law_x(factor: float = 1.2) -> Iterator[None]:
    """The variance of the finite-width log-norm law (about 5 sum 1/n) off by ``factor``."""
    from gradbench import theory

    real = theory.relu_log_norm_law

    def planted(widths: Any) -> Any:
        law = real(widths)
        return type(law)(law.mean, factor * law.var, law.second_moment_ratio)

    theory.relu_log_norm_law = planted  # type: ignore[assignment]
    try:
        yield
    finally:
        theory.relu_log_norm_law = real  # type: ignore[assignment]


def _preln(fan_in_inits_only: bool) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    """A Pre-LN transformer as suites/test_transformer.py draws it (64 networks of 4 examples);
    with ``fan_in_inits_only`` the initializer is He or LeCun (fan-in scaled: where a weight
    drawn at the wrong fan changes its variance; Xavier's is symmetric in the fans)."""
    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        r = _rng(seed)
        inits = ["he_normal", "lecun_normal"] + ([] if fan_in_inits_only else ["xavier_normal"])
        one_token = bool(r.integers(2))
        spec = gb.TransformerSpec(
            depth=int(r.integers(1, 7)), width=32, heads=int(r.choice([1, 2, 4])),
            seq=1 if one_token else 4, ffn=int(r.choice([2, 4])),
            activation=str(r.choice(["relu", "gelu", "tanh"])), init=str(r.choice(inits)),
            placement="pre", skip_scale=float(r.choice([1.0, 0.8, 1.2])),
            branch_gain=float(r.choice([1.0, 0.5, 1.5])), causal=not one_token)
        return spec, {"seeds": 64, "batch": 4, "seed": seed}
    return draw


@contextlib.contextmanager
def transformer_w2_at_fan_in_d() -> Iterator[None]:
    """The FFN output weight W2 (d x d_ff) drawn as a (d_ff x d) weight transposed: fan-in d
    in place of d_ff (tests/mutants.py::transformer_w2_at_fan_in_d)."""
    from gradbench.models import TransformerFamily

    real = TransformerFamily.draw_parameters

    def planted(self: Any, spec: Any, draw: Any) -> dict[str, torch.Tensor]:
        params = real(self, spec, draw)
        for b in range(spec.depth):
            w = draw.weight(spec.init, (spec.d_ff, spec.width), None).mT * spec.branch_gain
            params[f"W2_{b}"] = w.contiguous()
        return params

    TransformerFamily.draw_parameters = planted  # type: ignore[method-assign]
    try:
        yield
    finally:
        TransformerFamily.draw_parameters = real  # type: ignore[method-assign]


def _profile(seed: int) -> tuple[Any, dict[str, Any]]:
    """A one-token Pre-LN transformer as suites/test_transformer.py draws it for
    ``preln_gradient_profile`` (64 networks of 4 examples)."""
    r = _rng(seed)
    spec = gb.TransformerSpec(
        depth=int(r.integers(1, 7)), width=32, seq=1, ffn=int(r.choice([2, 4])),
        activation=str(r.choice(["relu", "leaky_relu", "linear"])),
        init=str(r.choice(["he_normal", "lecun_normal", "xavier_normal"])), placement="pre",
        skip_scale=float(r.choice([1.0, 0.8, 1.2])),
        branch_gain=float(r.choice([1.0, 0.5, 1.5])))
    return spec, {"seeds": 64, "batch": 4, "seed": seed}


@contextlib.contextmanager
def preln_final_norm_dropped() -> Iterator[None]:
    """The Pre-LN readout reads the stream, not LN(stream): the final LayerNorm dropped
    (tests/mutants.py::transformer_preln_drops_final_norm)."""
    from gradbench.models import Forward, TransformerFamily

    real = TransformerFamily.forward

    def planted(self: Any, spec: Any, params: Any, data: Any) -> Any:
        fwd = real(self, spec, params, data)
        return Forward(loss=(data["R"] * fwd.sites[-1]).sum(), sites=fwd.sites)

    TransformerFamily.forward = planted  # type: ignore[method-assign]
    try:
        yield
    finally:
        TransformerFamily.forward = real  # type: ignore[method-assign]


@contextlib.contextmanager
def preln_norm_after_add() -> Iterator[None]:
    """The Pre-LN placement normalizes after the add, ``x <- LN(alpha x + F(x))`` (Post-LN's
    placement, the final LayerNorm kept; tests/mutants.py::transformer_preln_norm_after_add)."""
    import dataclasses

    from gradbench.models import Forward, TransformerFamily, _layer_norm

    real = TransformerFamily.forward

    def planted(self: Any, spec: Any, params: Any, data: Any) -> Any:
        fwd = real(self, dataclasses.replace(spec, placement="post"), params, data)
        return Forward(loss=(data["R"] * _layer_norm(fwd.sites[-1])).sum(), sites=fwd.sites)

    TransformerFamily.forward = planted  # type: ignore[method-assign]
    try:
        yield
    finally:
        TransformerFamily.forward = real  # type: ignore[method-assign]

def _postln(seed: int, small_branch: bool = False) -> tuple[Any, dict[str, Any]]:
    """A Post-LN transformer as suites/test_transformer.py draws it for
    ``postln_sublayer_gain`` (256 networks of 8 examples of 8 tokens); with ``small_branch``
    the branch gain is 0.5 (the branch's share r of the pre-norm sum is then 0.01 to 0.3)."""
    r = _rng(seed)
    spec = gb.TransformerSpec(
        depth=int(r.integers(1, 5)), width=32, seq=8, ffn=int(r.choice([2, 4])),
        activation=str(r.choice(["relu", "gelu", "tanh", "linear"])),
        init=str(r.choice(["he_normal", "lecun_normal", "xavier_normal"])), placement="post",
        attention=str(r.choice(["softmax", "uniform"])), causal=bool(r.integers(2)),
        skip_scale=float(r.choice([1.0, 0.8, 1.2])), branch_gain=float(r.choice([1.0, 0.5])))
    if small_branch:
        spec = spec.replace(branch_gain=0.5)
    return spec, {"seeds": 256, "batch": 8, "seed": seed}


def _postln_small_branch(seed: int) -> tuple[Any, dict[str, Any]]:
    return _postln(seed, small_branch=True)


@contextlib.contextmanager
def _norm_planted(norm: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    from gradbench import models

    real = models._layer_norm
    models._layer_norm = norm  # type: ignore[assignment]
    try:
        yield
    finally:
        models._layer_norm = real  # type: ignore[assignment]


def postln_detached_stats() -> contextlib.AbstractContextManager[None]:
    """The LayerNorm's mean and variance detached from the graph (backward 1/sigma, no
    projection; tests/mutants.py::transformer_postln_detached_stats)."""
    def norm(x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True).detach()
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True).detach()
        return (x - mean) / torch.sqrt(var + 1e-5)
    return _norm_planted(norm)


def postln_rmsnorm() -> contextlib.AbstractContextManager[None]:
    """RMSNorm in place of LayerNorm (tests/mutants.py::transformer_postln_rmsnorm)."""
    return _norm_planted(lambda x: x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + 1e-5))


# --- attention at initialization (suites/test_attention.py) ----------------------------------


def _uniform_gram(causal_only: bool) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    """A uniform-attention linear stack as test_attention.py::test_uniform_attention_kernel
    draws it (64 networks of 4 examples); with ``causal_only`` always causal (where the
    planted errors show: bidirectional P is the same matrix either way)."""
    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        r = _rng(seed)
        spec = gb.TransformerSpec(
            depth=int(r.integers(1, 5)), width=32, heads=int(r.choice([1, 2, 4])),
            seq=int(r.choice([3, 4, 6])), ffn=int(r.choice([1, 2, 4])), activation="linear",
            init=str(r.choice(UNIFORM_INITS)), placement="none", attention="uniform",
            skip_scale=float(r.choice([1.0, 0.8])), branch_gain=float(r.choice([1.0, 0.7])),
            causal=True if causal_only else bool(r.integers(2)))
        return spec, {"seeds": 64, "batch": 4, "seed": seed}
    return draw


UNIFORM_INITS = ("lecun_normal", "xavier_normal", "xavier_uniform", "torch_default")
"""Initializers of the uniform-attention cases: i.i.d. entries, s^2 of order 1."""


@contextlib.contextmanager
def _attention_probabilities(probs: Callable[[Any, torch.Tensor], torch.Tensor]
                             ) -> Iterator[None]:
    """The family's attention with ``probs(spec, scores)`` (scores scaled, unmasked) in place
    of the masked row softmax (tests/mutants.py plants the same changes in the source)."""
    from gradbench import models

    real = models.TransformerFamily._attention

    def planted(self: Any, spec: Any, params: Any, b: int, x: torch.Tensor) -> torch.Tensor:
        heads, d = spec.heads, spec.width

        def split(w: torch.Tensor) -> torch.Tensor:
            return (x @ w.unsqueeze(-3).mT).unflatten(-1, (heads, d // heads)).transpose(-3, -2)

        q, k, v = split(params[f"Q{b}"]), split(params[f"K{b}"]), split(params[f"V{b}"])
        p = probs(spec, q @ k.mT / math.sqrt(d // heads))
        mixed = (p @ v).transpose(-3, -2).flatten(-2)
        return mixed @ params[f"O{b}"].unsqueeze(-3).mT

    models.TransformerFamily._attention = planted  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.TransformerFamily._attention = real  # type: ignore[method-assign]


def _masked(spec: Any, scores: torch.Tensor, fill: float = -math.inf) -> torch.Tensor:
    if not spec.causal:
        return scores
    mask = torch.ones(spec.seq, spec.seq, dtype=torch.bool).triu(1)
    return scores.masked_fill(mask, fill)


def softmax_over_queries() -> contextlib.AbstractContextManager[None]:
    """Softmax over the query axis (dim -2): P's columns, not its rows, sum to 1
    (tests/mutants.py::attention_softmax_over_queries)."""
    return _attention_probabilities(lambda spec, s: torch.softmax(_masked(spec, s), dim=-2))


def mask_after_softmax() -> contextlib.AbstractContextManager[None]:
    """The causal mask zeroes the probabilities after the softmax, rows not renormalised
    (1/n in place of 1/(i+1); tests/mutants.py::attention_mask_after_softmax)."""
    return _attention_probabilities(
        lambda spec, s: _masked(spec, torch.softmax(s, dim=-1), 0.0))


def sigmoid_attention() -> contextlib.AbstractContextManager[None]:
    """Elementwise sigmoid of the scores in place of the row softmax: no row normalisation,
    no shift invariance (tests/mutants.py::attention_sigmoid)."""
    return _attention_probabilities(lambda spec, s: torch.sigmoid(_masked(spec, s)))


def value_skip_attention() -> contextlib.AbstractContextManager[None]:
    """A hidden skip in the attention path: the values added back, A + I in place of A
    (tests/mutants.py::attention_value_skip)."""
    return _attention_probabilities(
        lambda spec, s: torch.softmax(_masked(spec, s), dim=-1)
        + torch.eye(spec.seq, dtype=s.dtype))


def identity_attention() -> contextlib.AbstractContextManager[None]:
    """Attention weights equal to the identity: each token attends to itself only
    (tests/mutants.py::attention_identity)."""
    return _attention_probabilities(
        lambda spec, s: torch.eye(spec.seq, dtype=s.dtype).expand_as(s))


def unscaled_scores() -> contextlib.AbstractContextManager[None]:
    """Scores without the 1/sqrt(d_h) factor (tests/mutants.py::transformer_scores_unscaled):
    a change of constant, not of exponent, so ``pure_attention_collapse`` cannot see it."""
    return _attention_probabilities(
        lambda spec, s: torch.softmax(_masked(spec, s * math.sqrt(spec.width // spec.heads)),
                                      dim=-1))


def _pure_collapse(skip: bool | None = None) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    """A softmax transformer as test_attention.py::test_pure_attention_collapse draws it:
    without a skip (``skip=False``), with one (``True``) or either (``None``)."""
    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        r = _rng(seed)
        skips = {False: [0.0], True: [0.5, 1.0], None: [0.0, 0.0, 0.5, 1.0]}[skip]
        heads = int(r.choice([1, 2, 4]))
        spec = gb.TransformerSpec(
            depth=int(r.integers(1, 4)), width=int(r.choice([8, 16])), heads=heads,
            seq=int(r.choice([2, 3, 4, 6])), ffn=1,
            init=str(r.choice(["he_normal", "xavier_normal", "xavier_uniform", "orthogonal",
                               "torch_default"])),
            placement=str(r.choice(["none", "pre", "post"])),
            skip_scale=float(r.choice(skips)), branch_gain=float(r.choice([1.0, 0.5])))
        return spec, {"seeds": 2, "batch": 2, "seed": seed}
    return draw


def _qk_collapse(seed: int) -> tuple[Any, dict[str, Any]]:
    """A softmax transformer as test_attention.py::test_qk_gradient_collapse draws it."""
    r = _rng(seed)
    spec = gb.TransformerSpec(
        depth=int(r.integers(1, 5)), width=16, heads=int(r.choice([1, 2, 4])),
        seq=int(r.choice([2, 4, 6])), ffn=int(r.choice([1, 2])),
        activation=str(r.choice(["relu", "gelu", "tanh"])),
        init=str(r.choice(["he_normal", "xavier_normal", "xavier_uniform", "orthogonal"])),
        placement=str(r.choice(["pre", "post"])), causal=bool(r.integers(2)),
        skip_scale=float(r.choice([1.0, 0.8, 1.2])), branch_gain=float(r.choice([1.0, 0.5])))
    return spec, {"seeds": 4, "batch": 2, "seed": seed}


JACOBIAN_GAUSSIAN = (
    dict(activation="linear", init="normal", sigma_w2=1.0),
    dict(activation="relu", init="he_normal"),
    dict(activation="tanh", init="normal", sigma_w2=1.0305575108, sigma_b2=4.6513e-6,
         input_var=1 / 64),
)
"""The Gaussian-weight cases of suites/test_jacobian.py (orthogonal ones have s1 = 0)."""


def _jacobian(seed: int) -> tuple[Any, dict[str, Any]]:
    return (gb.MLPSpec(depth=10, width=256, **JACOBIAN_GAUSSIAN[seed % 3]),
            {"seeds": 16, "seed": seed})


@contextlib.contextmanager
def jacobian_s1_dropped() -> Iterator[None]:
    """Free probability's finite-width term s1 (-1 for Gaussian weights) left out."""
    from gradbench.theory import _jacobian as module

    real = dict(module._S1)
    module._S1.update({key: 0.0 for key in real})
    try:
        yield
    finally:
        module._S1.update(real)


def _first_layers(optimizer: str) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    """The deep sigmoid net of suites/test_optimizers.py, Adam expected to help its first layers."""
    spec = gb.MLPSpec(depth=10, width=32, activation="sigmoid", init="xavier_normal")
    return lambda seed: (spec, {"optimizer": optimizer, "expected": "helps", "seed": seed})


# --- deep CNNs (suites/test_conv.py) ----------------------------------------------------------


CONV_ACTIVATIONS = ("linear", "relu", "leaky_relu(negative_slope=0.2)")


def _conv_modes(init: str | None = None, activations: tuple[str, ...] = CONV_ACTIVATIONS
                ) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    """A circular 1-D CNN as test_conv.py::test_conv_spatial_modes draws it (``init`` fixed
    for a planted initializer; ``activations`` narrowed where linear nets cannot show it)."""

    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        r = _rng(seed)
        spec = gb.Conv1DSpec(
            depth=int(r.integers(2, 9)), channels=64, length=16,
            kernel=int(r.choice([3, 5])),
            activation=str(r.choice(list(activations))),
            init=init or str(r.choice(["he_normal", "lecun_normal", "he_uniform"])),
            sigma_b2=0.0, input_mode=int(r.integers(1, 4)),
            input_modulation=float(r.uniform(0.3, 0.9)))
        return spec, {"seeds": 32, "batch": 16, "seed": seed}

    return draw


def conv_phase_without_offset() -> contextlib.AbstractContextManager[None]:
    """lambda_m = (1/k) sum_j exp(2 pi i m j / T): the kernel's centring offset p forgotten
    (a phase of 2 pi m p / T per layer)."""
    import cmath

    return _planted_in_theory(
        "spatial_mode_factor",
        lambda real: lambda k, n, m: sum(cmath.exp(2j * math.pi * m * j / n)
                                         for j in range(k)) / k,
        ("_conv",))


@contextlib.contextmanager
def conv_kappa_at_layer_one() -> Iterator[None]:
    """The law's scale (sigma_w2 kappa)^L, as if the input passed through phi too (it does
    not: the first layer has no kappa)."""
    import dataclasses

    from gradbench import theory

    real = theory.conv_spatial_modes

    def planted(spec: Any) -> Any:
        law = real(spec)
        return dataclasses.replace(law, scale=tuple(law.kappa * c for c in law.scale),
                                   coefficient=tuple(law.kappa * c for c in law.coefficient))

    theory.conv_spatial_modes = planted  # type: ignore[assignment]
    try:
        yield
    finally:
        theory.conv_spatial_modes = real  # type: ignore[assignment]


MODES_2D = ((0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (0, 2), (2, 2))
"""The input modes (m, n) test_conv.py::test_conv_spatial_modes_2d draws from."""


def _conv2d_modes(modes: tuple[tuple[int, int], ...] = MODES_2D
                  ) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    """A circular 2-D CNN as test_conv.py::test_conv_spatial_modes_2d draws it (``modes``
    narrowed where a planted error cannot show)."""

    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        r = _rng(seed)
        m, n = modes[int(r.integers(len(modes)))]
        spec = gb.Conv2DSpec(
            depth=int(r.integers(2, 5)), channels=32, height=int(r.integers(8, 11)),
            width=int(r.integers(8, 11)), kernel=3,
            activation=str(r.choice(list(CONV_ACTIVATIONS))),
            init=str(r.choice(["he_normal", "lecun_normal", "he_uniform"])), sigma_b2=0.0,
            input_mode_h=m, input_mode_w=n, input_modulation=float(r.uniform(0.3, 0.9)))
        return spec, {"seeds": 32, "batch": 8, "seed": seed}

    return draw


@contextlib.contextmanager
def conv2d_modes_one_axis() -> Iterator[None]:
    """The 2-D law with the rows' factor lambda_m(H) alone (a 1-D law carried over: the
    columns' factor forgotten); tests/mutants.py's ``conv2d_modes_columns_forgotten``."""
    import dataclasses

    from gradbench import theory

    real = theory.conv_spatial_modes

    def planted(spec: Any) -> Any:
        law = real(spec)
        rows = theory.spatial_mode_factor(spec.kernel, spec.height, spec.input_mode_h)
        return dataclasses.replace(law, factor=rows, coefficient=tuple(
            c * spec.input_modulation * rows**layer
            for layer, c in enumerate(law.scale, start=1)))

    theory.conv_spatial_modes = planted  # type: ignore[assignment]
    try:
        yield
    finally:
        theory.conv_spatial_modes = real  # type: ignore[assignment]


def _conv2d_mean_field(seed: int) -> tuple[Any, dict[str, Any]]:
    """A circular 2-D CNN or residual 2-D CNN as test_mean_field.py::test_conv2d_mean_field
    draws it (kernel 3, where a receptive field exists), quick profile's 16 x 32."""
    r = _rng(seed)
    init = str(r.choice(["he_normal", "xavier_normal", "torch_default"]))
    shape = dict(depth=int(r.integers(4, 11)), channels=32, height=int(r.integers(3, 6)),
                 width=int(r.integers(3, 6)), kernel=3,
                 activation=str(r.choice(["relu", "tanh", "gelu"])), init=init)
    spec = (gb.Conv2DSpec(**shape) if r.random() < 0.5 else
            gb.ResConv2DSpec(**shape, out_init=init, alpha=float(r.choice([0.3, 1.0]))))
    return spec, {"seeds": 16, "batch": 32, "seed": seed}


@contextlib.contextmanager
def conv2d_fan_one_kernel_axis() -> Iterator[None]:
    """The draw's fan-in of a 2-D kernel counts one kernel axis, C k in place of C k^2 (the
    declared variance, which the theory reads, is unchanged); tests/mutants.py's bug."""
    from gradbench.remedies import initializers

    real = initializers.fans
    initializers.fans = lambda shape: real(tuple(shape)[:3])  # type: ignore[assignment]
    try:
        yield
    finally:
        initializers.fans = real  # type: ignore[assignment]


def _conv2d_batchnorm(seed: int) -> tuple[Any, dict[str, Any]]:
    """A 1 x 1 BatchNorm2d CNN as test_mean_field.py::test_conv2d_batchnorm_mean_field draws
    it (batch 8 of 4 x 4 images: B H W = 128)."""
    r = _rng(seed)
    spec = gb.Conv2DSpec(depth=int(r.integers(4, 11)), channels=128, height=4, width=4,
                         kernel=1, batchnorm=True,
                         activation=str(r.choice(["linear", "relu", "tanh"])), init="he_normal")
    return spec, {"batch": 8, "seed": seed}


@contextlib.contextmanager
def batchnorm2d_per_position() -> Iterator[None]:
    """The probe's 2-D BatchNorm takes its statistics over the batch at each position, not
    per channel over the batch and the positions (tests/mutants.py's
    ``conv2d_batchnorm_per_position``): the effective batch is B, not B H W."""
    from gradbench import models

    real = models._batchnorm2d

    def per_position(h: torch.Tensor) -> torch.Tensor:
        mean = h.mean(dim=-4, keepdim=True)
        var = (h - mean).pow(2).mean(dim=-4, keepdim=True)
        return (h - mean) / torch.sqrt(var + gb.specs.BATCHNORM2D_EPS)

    models._batchnorm2d = per_position  # type: ignore[assignment]
    try:
        yield
    finally:
        models._batchnorm2d = real  # type: ignore[assignment]


SCHEMES = ("post_ln", "deepnorm", "admin", "tfixup", "dsinit")
"""The built-in depth schemes, one per trial in turn."""


def _scheme(name: str | None) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    """A scheme as suites/test_schemes.py runs output_change_law on it (``None``: the built-ins
    in turn)."""
    def draw(seed: int) -> tuple[Any, dict[str, Any]]:
        scheme = _lookup("depth_scheme", name or SCHEMES[seed % len(SCHEMES)])
        return scheme, {"shallow": 1, "deep": 4, "width": 64, "seeds": 32, "batch": 4,
                        "seed": seed}
    return draw


def _constants(name: str) -> Callable[[int], tuple[Any, dict[str, Any]]]:
    return lambda seed: (_lookup("depth_scheme", name),
                         {"depth": int(_rng(seed).integers(1, 25)), "seed": seed})


def trials() -> list[Trial]:
    """The calibration table (its planted remedies are registered by :func:`rates`)."""
    return [
        Trial("initializer_variance", "He normal drawing 90% of its declared 2/fan_in",
              lambda s: (registry.lookup("initializer", "he_normal"), {**_fans(s), "seed": s}),
              lambda s: (_lookup("initializer", "calib_he_x0.9"), {**_fans(s), "seed": s}),
              n=200),
        Trial("initializer_distribution", "He uniform whose bound forgot the factor 3",
              lambda s: (registry.lookup("initializer", "he_uniform"), {**_fans(s), "seed": s}),
              lambda s: (_lookup("initializer", "calib_he_uniform_no_3"),
                         {**_fans(s), "seed": s}), n=200),
        Trial("activation_moments", "theory's chi_1 2% too high", _moments("tanh"),
              _moments("tanh"), planted=chi1_off, n=100),
        Trial("mean_field_slope", "theory's chi_1 2% too high (tanh/erf phase diagram)",
              _phase_point, _phase_point, planted=chi1_off, n=50),
        Trial("mean_field_slope", "theory's chi_1 2% too high (ReLU/He, one example per net)",
              _relu_one_example, _relu_one_example, planted=chi1_off, n=50),
        Trial("mean_field_slope", "theory's ReLU finite-width bias halved (one example per net)",
              _relu_one_example, _relu_one_example, planted=relu_bias_halved, n=50),
        Trial("mean_field_slope", "2-D kernels drawn at fan-in C k in place of C k^2 (one "
              "kernel axis counted; circular 2-D and residual 2-D CNNs, kernel 3)",
              _conv2d_mean_field, _conv2d_mean_field, planted=conv2d_fan_one_kernel_axis,
              n=100),
        Trial("mean_field_slope", "BatchNorm2d statistics over the batch at each position, "
              "not per channel over batch and positions (1 x 1 kernels: effective batch B "
              "in place of B H W)", _conv2d_batchnorm, _conv2d_batchnorm,
              planted=batchnorm2d_per_position, n=100),
        Trial("stable_gradients", "He variance 30% too large (ReLU: x1.14 per layer, x45 over "
              "depth 30)", _stable("he_normal"), _stable("calib_he_x1.3"), n=100),
        Trial("stable_as_declared", "Xavier gain 5/3 declared stable for tanh (x1.10 per "
              "layer: x16 in theory, x12 measured over depth 30); correct: Xavier gain 1 (x0.16)",
              _remedy("initializer", "xavier_normal"),
              _remedy("initializer", "calib_xavier_gain_5/3"), n=100),
        Trial("stable_somewhere", "SiLU whose backward drops x s (1 - s), declaring nothing "
              "(x0.94 per layer at its critical point); correct: SiLU",
              _remedy("activation", "silu"), _remedy("activation", "calib_silu_dropped_term"),
              n=100),
        Trial("finite_width_variance", "the coefficient of the finite-width law's variance "
              "(about 5 sum 1/n) 20% too large", _finite_width, _finite_width,
              planted=finite_width_law_x, n=100),
        Trial("jacobian_spectrum", "the s1 term of L (mu2/mu1^2 - 1 - s1) dropped (Gaussian "
              "weights: linear, ReLU/He, critical tanh)", _jacobian, _jacobian,
              planted=jacobian_s1_dropped, n=60),
        Trial("first_layers_move", "Adam built with eps = 1e-5 in place of 1e-8 (its update "
              "no longer normalizes the first layers' vanishing gradients)",
              _first_layers("adam"), _first_layers("adam(eps=1e-5)"), n=50),
        Trial("carry_gate_mean", "input weights of an LSTM/GRU drawn with variance "
              "sigma_u2 / (gates H) in place of sigma_u2 / H", _gated, _gated,
              planted=gated_input_weights_per_gate_fan, n=100),
        Trial("preln_stream_growth", "the FFN output weight W2 drawn at fan-in d in place of "
              "d_ff (d_ff = 2d or 4d; He or LeCun init)", _preln(False), _preln(True),
              planted=transformer_w2_at_fan_in_d, n=100),
        Trial("preln_gradient_profile", "the Pre-LN stack's final LayerNorm dropped (the "
              "readout reads the stream)", _profile, _profile, planted=preln_final_norm_dropped,
              n=100),
        Trial("preln_gradient_profile", "the Pre-LN branch normalizes after the add, "
              "x <- LN(alpha x + F(x)) (Post-LN's placement; final LayerNorm kept)", _profile,
              _profile, planted=preln_norm_after_add, n=100),
        Trial("postln_sublayer_gain", "the Post-LN LayerNorm's mean and variance detached "
              "from the graph (its backward 1/sigma, no projection)", _postln, _postln,
              planted=postln_detached_stats, n=100),
        Trial("postln_sublayer_gain", "RMSNorm in place of the Post-LN LayerNorm, small "
              "branches (beta = 0.5, r <= 0.3; the gain rises by (1 - r)/d, so a dominant "
              "branch hides it)", _postln_small_branch, _postln_small_branch,
              planted=postln_rmsnorm, n=100),
        Trial("residual_bounded_in_depth", "1/sqrt(l) in place of 1/sqrt(L)",
              lambda s: (registry.lookup("residual", "1/sqrt(L)"),
                         {"depth": int(_rng(s).integers(4, 13)), "seed": s}),
              lambda s: (_lookup("residual", "calib_inv_sqrt_layer"),
                         {"depth": int(_rng(s).integers(4, 13)), "seed": s}), n=50),
        # transformer depth schemes
        Trial("output_change_law", "DeepNorm with beta = (8N)^(-1/2) in place of (8N)^(-1/4), "
              "declaring nothing (correct: the built-in schemes in turn)", _scheme(None),
              _scheme("calib_deepnorm_beta_exponent_half"), n=100),
        Trial("output_change_law", "DeepNorm with alpha on the branch, LN(x + alpha G(x)), "
              "not on the skip, declaring nothing (correct: the built-in schemes in turn)",
              _scheme(None), _scheme("calib_deepnorm_alpha_on_branch"), n=100),
        Trial("remedy_constants", "Admin's omega with n = N blocks in place of 2N sublayers, "
              "declaring Admin's law (correct: Admin)", _constants("admin"),
              _constants("calib_admin_blocks"), n=50),
        # attention at initialization
        Trial("uniform_attention_kernel", "softmax over the query axis (P's columns sum to "
              "1, causal)", _uniform_gram(False), _uniform_gram(True),
              planted=softmax_over_queries, n=200),
        Trial("uniform_attention_kernel", "causal mask applied after the softmax, rows not "
              "renormalised (1/n in place of 1/(i+1))", _uniform_gram(False),
              _uniform_gram(True), planted=mask_after_softmax, n=200),
        Trial("qk_gradient_collapse", "elementwise sigmoid attention in place of the row "
              "softmax (not shift-invariant)", _qk_collapse, _qk_collapse,
              planted=sigmoid_attention, n=300),
        Trial("pure_attention_collapse", "a hidden skip in the attention path (A + I in place "
              "of the softmax A; skipless networks)", _pure_collapse(), _pure_collapse(False),
              planted=value_skip_attention, n=300),
        Trial("pure_attention_collapse", "identity attention weights (A = I; skipless "
              "networks)", _pure_collapse(), _pure_collapse(False), planted=identity_attention,
              n=300),
        Trial("pure_attention_collapse", "elementwise sigmoid attention in place of the row "
              "softmax (not shift-invariant; skipless networks)", _pure_collapse(),
              _pure_collapse(False), planted=sigmoid_attention, n=300),
        # deep CNNs
        Trial("conv_spatial_modes", "kernels drawn with fan_in C in place of C k (He normal "
              "from w.shape[1]: the receptive field forgotten)", _conv_modes(),
              _conv_modes("calib_he_fan_in_channels"), n=100),
        Trial("conv_spatial_modes", "lambda_m without the kernel's centring offset p (a "
              "phase error of 2 pi m p / T per layer)", _conv_modes(), _conv_modes(),
              planted=conv_phase_without_offset, n=100),
        Trial("conv_spatial_modes", "the ReLU/leaky kappa applied at layer 1 too ((sigma_w2 "
              "kappa)^L; the input is not passed through phi; ReLU and leaky ReLU nets)",
              _conv_modes(activations=CONV_ACTIVATIONS[1:]),
              _conv_modes(activations=CONV_ACTIVATIONS[1:]), planted=conv_kappa_at_layer_one,
              n=100),
        Trial("conv_spatial_modes", "2-D: the columns' factor forgotten (lambda_m(H) alone "
              "for mode (m, n), a 1-D law carried over; modes with n >= 1)", _conv2d_modes(),
              _conv2d_modes(tuple(mode for mode in MODES_2D if mode[1])),
              planted=conv2d_modes_one_axis, n=100),
        Trial("conv_spatial_modes", "2-D kernels drawn at fan-in C k in place of C k^2 (one "
              "kernel axis counted)", _conv2d_modes(), _conv2d_modes(),
              planted=conv2d_fan_one_kernel_axis, n=100),
    ]


@dataclass(frozen=True)
class Rates:
    """Measured rates of one trial: false alarms at SIZE_ALPHA, detections at CASE_ALPHA."""

    claim: str
    error: str
    n: int
    false_alarms: int
    detected: int
    size_alpha: float = SIZE_ALPHA
    case_alpha: float = CASE_ALPHA

    def to_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "error": self.error, "n": self.n,
                "false_alarms": self.false_alarms, "size_alpha": self.size_alpha,
                "detected": self.detected, "case_alpha": self.case_alpha}


def _fails(target: Any, config: dict[str, Any], claim: str, alpha: float) -> bool:
    return not claims.check(target, claim, alpha=alpha, **config).passed


def levels(claim: str) -> tuple[float, float]:
    """``(size, case)`` levels of a claim's trials: 0.01 and the per-case alpha, or the claim's
    own level for both (what a run uses for it)."""
    own = claims.get_claim(claim).alpha
    return (SIZE_ALPHA, CASE_ALPHA) if own is None else (own, own)


def rates(trial: Trial, n: int | None = None) -> Rates:
    """False alarms (correct subject) and detections (planted error), at :func:`levels`."""
    n = n or trial.n
    size, case = levels(trial.claim)
    with planted_remedies():
        false_alarms = sum(_fails(*trial.good(s), trial.claim, size) for s in range(n))
        with trial.planted() if trial.planted else contextlib.nullcontext():
            detected = sum(_fails(*trial.bad(s), trial.claim, case) for s in range(n))
    return Rates(trial.claim, trial.error, n, false_alarms, detected, size, case)


def table(results: list[Rates]) -> str:
    """Markdown table of the measured rates."""
    lines = ["| claim | planted error | false alarms (alpha) | power (alpha) |",
             "| --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| `{r.claim}` | {r.error} | {r.false_alarms}/{r.n} ({r.size_alpha:g}) | "
                     f"{r.detected}/{r.n} = {r.detected / r.n:.2f} ({r.case_alpha:g}) |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """All trials (written to calibration.json), the named claims' (printed), or with
    ``--update CLAIM ...`` the named claims' re-measured into calibration.json."""
    update = argv[:1] == ["--update"]
    names = argv[1:] if update else argv
    results = []
    for trial in trials():
        if names and trial.claim not in names:
            continue
        results.append(rates(trial))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    print(table(results))
    if update or not argv:
        fresh = {(r.claim, r.error): r.to_dict() for r in results}
        kept = {(d["claim"], d["error"]): d for d in json.loads(CALIBRATION.read_text())
                if d["claim"] not in names} if update else {}
        rows = [fresh.get((t.claim, t.error)) or kept.get((t.claim, t.error)) for t in trials()]
        CALIBRATION.write_text(json.dumps([r for r in rows if r], indent=1) + "\n")
        print(f"wrote {CALIBRATION.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
