r"""The user's own block: stacked, measured over depth and seeds, its depth law judged.

A **block factory** ``factory(width, *, layer, depth, generator) -> torch.nn.Module``
returns a fresh module mapping ``(batch, seq, width)`` to the same shape, drawing every
random weight from ``generator`` (docs/blocks.md). :class:`BlockSpec` names one (by its
import path) with the harness's configuration; it is hashable, and every random draw
derives from the configuration, so a rerun gives identical numbers.

The harness (:func:`measure_stack`) builds ``depth`` blocks (layer ``0 .. depth-1``), runs
them in eval mode in float64 on an input ``x_0 ~ N(0, 1)`` of shape ``(batch, seq, width)``
(``seq > 1``, so token mixing is seen), and ends in a fixed linear readout
``loss = <R, x_L>``, ``R ~ N(0, 1) / sqrt(numel)``. A zero **tap** ``t_l`` is added after
every block, ``x_l = block_l(x_{l-1}) + t_l`` (and ``x_0 + t_0``), so
``dloss/dt_l = dloss/dx_l`` for any module, without hooks. Per block it records the
activation norm ``||x_l||`` and the gradient norm ``||dloss/dx_l||``; the end-to-end
**gradient ratio** is ``r(L) = ||dloss/dx_0|| / ||dloss/dx_L||``.

The **depth law** of ``r`` over a grid of depths is classified (:func:`depth_law`)
bounded, power or exponential; with nothing declared only an exponential law fails.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray

from gradbench.claims.blocks import ALPHA as BLOCK_ALPHA
from gradbench.devices import CHOICES, DEVICE, is_cuda
from gradbench.errors import (
    InvalidArgument,
    as_integer,
    check_alpha,
    choices_hint,
    factory_form,
)
from gradbench.records import ConfidenceInterval
from gradbench.stats._common import t_interval

Factory = Callable[..., torch.nn.Module]

DEPTHS = (4, 8, 16, 32, 64)
"""The default depth grid: doublings up to 64 (docs/blocks.md)."""

MEASUREMENT_PATH = ("zero taps: one forward and one torch.autograd.grad backward per network, "
                    "one intra-op thread per network, as many networks at a time as torch "
                    "had intra-op threads")
"""How a user's block is measured, recorded in every block run's results (``run.extra``):
of the paths measured for the blocks issue (a batched probe needs the stacked forward a
user's module does not have; ``torch.func.vmap`` of ``grad`` ran about 10x slower than a
plain loop on CPU), the taps on a plain loop (``suites/bench_blocks.py``)."""

CONFIDENCE = 1.0 - BLOCK_ALPHA
"""Coverage of every interval of the depth law (a two-sided t-interval over seeds): 0.99,
the level of the block claims (:mod:`gradbench.claims.blocks`)."""

EXP_FLOOR = 2.0
"""F: an exponential law is declared only when its exponential part alone changes the
gradient ratio by more than a factor F (up or down) at the judged depth, with confidence."""

CHANGE_FLOOR = 2.0
"""A law is a power law (not bounded) when the ratio changes by more than this factor
between the shallowest and the judged depth, with confidence."""

LAWS = ("bounded", "power", "exponential")

META_KEYS = ("expect", "max_stream_growth", "output_change", "max_token_similarity",
             "dropout")
"""What a factory may declare in ``gradbench_meta``: ``expect`` (one of :data:`LAWS`: the
law of the gradient ratio must be no worse), ``max_stream_growth`` (a number:
``||x_L|| / ||x_0||`` at the judged depth must not exceed it), ``output_change`` (one of
:data:`LAWS`: the law of the output change over depth must be no worse; DeepNet's remedy
declares ``"bounded"``) and ``max_token_similarity`` (a number in (-1, 1]: the tokens' mean
cosine similarity at the judged depth must not exceed it) and ``dropout`` (``True``: the
block is measured in train mode, its dropout active, as :class:`BlockSpec` ``train``)."""

# --------------------------------------------------------------------------------------
# The configuration
# --------------------------------------------------------------------------------------


BLOCK_DTYPES = ("float32", "float64")
"""The dtypes a block or a whole model is measured in."""


@dataclass(frozen=True)
class BlockSpec:
    """A block factory and the harness around it (hashable; seeds derive from it).

    Attributes:
        factory: ``"pkg.module:factory"`` or ``"path/to/file.py:factory"``.
        width, seq, batch: the input shape ``(batch, seq, width)``.
        depths: the depth grid (increasing, >= 2 entries); the last is the judged depth.
        seeds: independent networks per depth.
        dtype: ``"float64"`` or ``"float32"``.
        base_seed: every draw derives from it and the fields above but ``factory``, so
            two factories measured with equal specs see the same inputs and readouts.
        train: measure the blocks in train mode (dropout active; BatchNorm would then use
            batch statistics). The dropout masks come from the global RNG, seeded per
            network from :meth:`seed` inside ``fork_rng`` and restored after, so a rerun
            draws the same masks and the caller's RNG is untouched; a stack's forwards
            that are compared (the guards') run on the same masks.
        device: where the stacks run (``"cpu"``, ``"cuda"``, ``"cuda:N"``). Every weight,
            input and readout is drawn on the CPU from the network's generator and copied,
            so a CUDA run measures the same networks as a CPU run (the device is not part
            of :meth:`seed`); only dropout masks (train mode) come from the device's RNG.
    """

    kind: ClassVar[str] = "block"  # the subject of the block claims (gradbench.claims)
    factory: str
    width: int = 32
    seq: int = 8
    batch: int = 4
    depths: tuple[int, ...] = DEPTHS
    seeds: int = 8
    dtype: str = "float64"
    base_seed: int = 0
    train: bool = False
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name, low in (("width", 1), ("seq", 1), ("batch", 2), ("seeds", 2),
                          ("base_seed", 0)):
            value = getattr(self, name)
            number = as_integer(value)
            if number is None or number < low:
                raise InvalidArgument(f"BlockSpec.{name}={value!r} is invalid: must be an "
                                      f"integer >= {low}")
            object.__setattr__(self, name, number)
        d = tuple(self.depths)
        counts = tuple(n for n in map(as_integer, d) if n is not None)
        if len(d) < 3 or len(counts) < len(d) or min(counts) < 1 or list(counts) != sorted(
                set(counts)):
            raise InvalidArgument(f"BlockSpec.depths={d!r} is invalid: must be at least 3 "
                                  "increasing integers >= 1")
        object.__setattr__(self, "depths", counts)
        if not isinstance(self.train, bool):
            raise InvalidArgument(f"BlockSpec.train={self.train!r} is invalid: must be True "
                                  "or False")
        if self.dtype not in BLOCK_DTYPES:
            raise InvalidArgument(f"BlockSpec.dtype={self.dtype!r} is invalid; "
                                  f"{choices_hint(self.dtype, BLOCK_DTYPES)}")
        if not isinstance(self.device, str) or not DEVICE.fullmatch(self.device):
            raise InvalidArgument(f"BlockSpec.device={self.device!r} is invalid; valid "
                                  f"choices: {CHOICES}")

    @property
    def judged_depth(self) -> int:
        """The depth the law is judged at: the deepest of the grid."""
        return self.depths[-1]

    def seed(self, depth: int, index: int) -> int:
        """The seed of network ``index`` at ``depth``: a hash of the configuration
        (the factory excluded, so baselines share the candidate's seeds)."""
        key = (f"block|{self.width}|{self.seq}|{self.batch}|{self.dtype}|{self.base_seed}|"
               f"{depth}|{index}")
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:7], "big")

    def to_dict(self) -> dict[str, Any]:
        return {"family": "block", "factory": self.factory, "width": self.width,
                "seq": self.seq, "batch": self.batch, "depths": list(self.depths),
                "seeds": self.seeds, "dtype": self.dtype, "base_seed": self.base_seed,
                **({"train": True} if self.train else {}),
                **({"device": self.device} if self.device != "cpu" else {})}


def depth_grid(depth: int | None = None) -> tuple[int, ...]:
    """Doublings from 4 up to ``max(64, depth)``, ending exactly there."""
    top = max(64, depth or 0)
    grid = [d for d in DEPTHS if d < top]
    while grid[-1] * 2 < top:
        grid.append(grid[-1] * 2)
    return (*grid, top)


# --------------------------------------------------------------------------------------
# Factories: identification, loading, guards
# --------------------------------------------------------------------------------------


def is_block_factory(obj: Any) -> bool:
    """Whether ``obj`` has the factory signature: keyword parameters ``layer``, ``depth``
    and ``generator`` (or ``**kwargs``) after one positional ``width``."""
    return not isinstance(obj, torch.nn.Module) and factory_form(obj) == "block"


def load_factory(target: str) -> Factory:
    """The factory named ``"pkg.mod:factory"`` (one sentence when it is not one)."""
    from gradbench.registry import import_object

    obj = import_object(target)
    if not is_block_factory(obj):
        what = "a torch.nn.Module instance" if isinstance(obj, torch.nn.Module) else \
            f"a {type(obj).__name__}"
        raise InvalidArgument(f"{target!r} is {what}, not a block factory "
                              "factory(width, *, layer, depth, generator) -> torch.nn.Module")
    return obj  # type: ignore[no-any-return]


def meta_of(factory: Any, target: str) -> dict[str, Any]:
    """The factory's ``gradbench_meta``, checked against :data:`META_KEYS`."""
    meta = dict(getattr(factory, "gradbench_meta", None) or {})
    unknown = sorted(set(meta) - set(META_KEYS))
    if unknown:
        raise InvalidArgument(f"gradbench_meta key {unknown[0]!r} of {target!r} is unknown "
                              f"for a block; valid keys: {', '.join(META_KEYS)}")
    for key in ("expect", "output_change"):
        if key in meta and meta[key] not in LAWS:
            raise InvalidArgument(f"gradbench_meta[{key!r}]={meta[key]!r} of {target!r} "
                                  f"is invalid; valid choices: {', '.join(LAWS)}")
    limit = meta.get("max_stream_growth")
    if limit is not None and not (isinstance(limit, (int, float)) and limit > 0):
        raise InvalidArgument(f"gradbench_meta['max_stream_growth']={limit!r} of {target!r} "
                              "is invalid: must be a number > 0")
    if "dropout" in meta and not isinstance(meta["dropout"], bool):
        raise InvalidArgument(f"gradbench_meta['dropout']={meta['dropout']!r} of {target!r} "
                              "is invalid: must be True or False")
    sim = meta.get("max_token_similarity")
    if sim is not None and not (isinstance(sim, (int, float)) and -1 < sim <= 1):
        raise InvalidArgument(f"gradbench_meta['max_token_similarity']={sim!r} of "
                              f"{target!r} is invalid: must be a number in (-1, 1]")
    return meta


def _dtype(spec: BlockSpec) -> torch.dtype:
    return torch.float64 if spec.dtype == "float64" else torch.float32


def build(factory: Factory, spec: BlockSpec, layer: int, depth: int,
          generator: torch.Generator, name: str = "block") -> torch.nn.Module:
    """One block from the factory: checked to be a module, in eval mode (train mode when
    ``spec.train``), in the spec's dtype on its device, its parameters frozen (only input
    gradients are read)."""
    try:
        block = factory(spec.width, layer=layer, depth=depth, generator=generator)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InvalidArgument(f"block factory {name!r} raised {type(exc).__name__} for width "
                              f"{spec.width}, layer {layer}, depth {depth}: {first}") from None
    if not isinstance(block, torch.nn.Module):
        raise InvalidArgument(f"block factory {name!r} returned a {type(block).__name__}, "
                              "not a torch.nn.Module")
    block = block.to(device=spec.device, dtype=_dtype(spec)).train(spec.train)
    block.requires_grad_(False)
    return block


@contextlib.contextmanager
def _other_global_rng(draws: int) -> Iterator[None]:
    """Advance the global RNG by ``draws`` numbers inside ``fork_rng`` (restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.rand(draws)
        yield


@contextlib.contextmanager
def dropout_masks(seed: int | None, device: str = "cpu") -> Iterator[None]:
    """Forwards inside draw their dropout masks from the global RNG of ``device`` (the CPU's
    or the CUDA device's) forked and seeded to ``seed`` (restored after); two forwards with
    one seed draw the same masks. ``None`` (eval mode): nothing changes."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[torch.device(device)] if is_cuda(device) else []):
        torch.manual_seed(seed)
        yield


def eval_batch_norms(module: torch.nn.Module) -> int:
    """The BatchNorm layers of ``module`` in eval mode: they normalize with their running
    statistics, which at initialization are mean 0 and variance 1, so a fresh one is the
    identity (its affine part aside), not a normalization."""
    return sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not m.training
               for m in module.modules())


def _two_builds(build: Callable[[torch.Generator], torch.nn.Module]
                ) -> tuple[torch.nn.Module, bool]:
    """Two builds from equal generators under different global RNG states: the first, and
    whether both have the same weights and buffers (the factory draws from its generator)."""
    with _other_global_rng(1):
        a = build(torch.Generator().manual_seed(1))
    with _other_global_rng(7):
        b = build(torch.Generator().manual_seed(1))
    sa, sb = a.state_dict(), b.state_dict()
    return a, sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def check_block(factory: Factory, spec: BlockSpec, name: str = "block") -> None:
    """The guards, each one sentence (:class:`InvalidArgument`, exit 2).

    On layer 0 of the judged depth and a unit-variance input ``(batch, seq, width)``:
    the shape is preserved; the output is finite; changing example 0 leaves the other
    examples' outputs unchanged (no mixing across the batch, as ``nn.MultiheadAttention``
    without ``batch_first=True`` does); two builds from equal generators under different
    global RNG states have equal weights (the factory draws from ``generator``). In train
    mode both forwards run on the same dropout masks.
    """
    depth = spec.judged_depth
    shape = (spec.batch, spec.seq, spec.width)
    g = torch.Generator().manual_seed(spec.seed(0, 0))
    x = torch.randn(shape, generator=g, dtype=_dtype(spec)).to(spec.device)
    a, follows = _two_builds(lambda g: build(factory, spec, 0, depth, g, name))
    masks = spec.seed(0, 0) if spec.train else None
    with torch.no_grad():
        with dropout_masks(masks, spec.device):
            y = a(x)
        if not isinstance(y, torch.Tensor):
            raise InvalidArgument(
                f"block {name!r} returns a {type(y).__name__}, not a tensor; a block returns "
                f"one tensor of its input's shape {shape} (return the hidden states alone, "
                "e.g. the first element of a tuple)")
        if y.shape != x.shape:
            raise InvalidArgument(f"block {name!r} maps an input of shape {shape} to "
                                  f"{tuple(y.shape)}; a block must preserve the shape "
                                  "(batch, seq, width)")
        if not bool(torch.isfinite(y).all()):
            raise InvalidArgument(f"block {name!r} returns NaN or Inf for a unit-variance "
                                  f"input of shape {shape}")
        bumped = x.clone()
        bumped[0] += torch.randn(shape[1:], generator=g, dtype=x.dtype).to(spec.device)
        with dropout_masks(masks, spec.device):
            moved = (a(bumped)[1:] - y[1:]).abs().max()
        if float(moved) > 1e-9 * (1.0 + float(y.abs().max())):
            raise InvalidArgument(
                f"block {name!r} mixes examples across the batch: changing example 0 changed "
                f"the others' outputs by up to {float(moved):.3g} (nn.MultiheadAttention needs "
                "batch_first=True for (batch, seq, width) inputs)")
    if not follows:
        raise InvalidArgument(
            f"block factory {name!r} ignores its generator: two builds from equal generators "
            "gave different weights; draw every weight with generator= (e.g. "
            "torch.nn.init.normal_(w, generator=generator))")


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackMeasurement:
    """One stack of ``depth`` blocks, one seed: norms at ``x_0 .. x_L`` (length L + 1).

    ``output_change`` is :func:`output_change`'s ``delta^2``, ``token_similarity``
    :func:`token_similarity` of ``x_L``, and ``weight_gradients`` (measured only when
    asked) maps the name of each weight matrix or kernel of a block (parameters of two or
    more dimensions, ``"attn.in_proj_weight"``, ``"mlp.0.weight"``) to ``||dloss/dW||`` per
    layer (NaN where a layer has no such parameter).
    """

    depth: int
    activation_norms: NDArray[np.float64]
    gradient_norms: NDArray[np.float64]
    output_change: float = math.nan
    token_similarity: float = math.nan
    weight_gradients: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def log_ratio(self) -> float:
        """``ln ||dloss/dx_0|| - ln ||dloss/dx_L||`` (NaN when not finite or zero)."""
        g0, gl = self.gradient_norms[0], self.gradient_norms[-1]
        if not (np.isfinite(g0) and np.isfinite(gl) and g0 > 0 and gl > 0):
            return math.nan
        return float(math.log(g0) - math.log(gl))

    @property
    def log_stream_growth(self) -> float:
        """``ln ||x_L|| - ln ||x_0||`` (NaN when not finite)."""
        a0, al = self.activation_norms[0], self.activation_norms[-1]
        if not (np.isfinite(al) and al > 0):
            return math.nan
        return float(math.log(al) - math.log(a0))

    @property
    def log_output_change(self) -> float:
        """``ln delta^2`` (NaN when not finite or zero)."""
        d = self.output_change
        return float(math.log(d)) if np.isfinite(d) and d > 0 else math.nan


def token_similarity(x: torch.Tensor) -> float:
    r"""Mean cosine similarity of distinct tokens of an example, averaged over examples:
    ``mean_b (1 / (n (n-1))) sum_{i != j} cos(x_bi, x_bj)`` for ``x`` of shape
    ``(batch, n, width)``. About 0 for independent random tokens; 1 when every token
    points the same way, the rank collapse of deep attention (Dong, Cordonnier and Loukas
    2021, arXiv:2103.03404; Noci et al. 2022, arXiv:2206.03126). NaN for ``n = 1``.
    Invariant to the scale of each example (a vanished stream, ``||x|| ~ 1e-50``, is
    rescaled before ``normalize``'s ``eps`` would read its tokens as zero)."""
    n = x.shape[1]
    if n < 2 or not bool(torch.isfinite(x).all()):
        return math.nan
    top = x.abs().amax(dim=(1, 2), keepdim=True)
    u = torch.nn.functional.normalize(torch.where(top > 0, x / top, x), dim=-1)
    c = u @ u.transpose(1, 2)
    off = c.sum(dim=(1, 2)) - c.diagonal(dim1=1, dim2=2).sum(dim=-1)
    return float((off / (n * (n - 1))).mean())


def output_change(weights: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None],
                  readout: torch.Tensor, out: torch.Tensor) -> float:
    r"""The stack's relative output change under a small random weight perturbation,

        delta^2 = E ||F(W + dW; x_0) - F(W; x_0)||^2 / (eps^2 ||F(W; x_0)||^2),  eps -> 0,

    ``dW = eps rms(W) Z``, ``Z ~ N(0, 1)`` i.i.d., for every weight matrix or kernel
    (parameters of two or more dimensions; gains and biases are left alone, as the bounds on
    the model update count only the sublayers' weights). To first order ``F(W + dW) - F(W) =
    sum_p J_p dW_p ~ N(0, eps^2 K)``, ``K = sum_p rms(p)^2 J_p J_p^T``, so ``delta^2`` is a
    draw of ``sum_i lambda_i(K) chi^2_1 / ||F||^2``. The harness reads it from the gradients
    it already has: the readout is ``R = z / sqrt(N)``, ``z ~ N(0, I_N)`` over the ``N``
    outputs, and ``g_p = J_p^T R``, so ``N sum_p rms(p)^2 ||g_p||^2 = z^T K z``, a draw of the
    same law (Hutchinson's estimator), with no second forward and no second draw of every
    weight. ``delta^2`` sums the sublayers' contributions: about linear in depth for Post-LN,
    logarithmic for Pre-LN and constant for DeepNorm (Liu et al. 2020, arXiv:2004.08249; Wang
    et al. 2022, arXiv:2203.00555), the instability those remedies address. NaN when not
    finite."""
    pairs = [(w, g) for w, g in zip(weights, grads) if g is not None]
    if not pairs:
        return 0.0
    with torch.no_grad():  # norms in the tensors' dtype, one stack, then float64 (fewer calls)
        w_norms = torch.stack([torch.linalg.vector_norm(w) for w, _ in pairs]).double()
        g_norms = torch.stack([torch.linalg.vector_norm(g) for _, g in pairs]).double()
        sizes = torch.tensor([w.numel() for w, _ in pairs], dtype=torch.float64,
                             device=w_norms.device)
        total = (w_norms ** 2 / sizes * g_norms ** 2).sum()
        value = float(total * readout.numel() / torch.linalg.vector_norm(
            out, dtype=torch.float64) ** 2)
    return value if math.isfinite(value) else math.nan


def measure_stack(factory: Factory, spec: BlockSpec, depth: int, index: int,
                  name: str = "block", *, weights: bool = False,
                  with_output_change: bool = True) -> StackMeasurement:
    """Stack ``depth`` fresh blocks for network ``index`` and read the norms through taps
    (module docstring); then the tokens' similarity at ``x_L`` and the output change (from
    the weight matrices' gradients of the same backward, :func:`output_change`).
    ``weights``: also record each weight matrix's gradient norm per layer.
    ``with_output_change=False`` skips the weights' gradients unless ``weights`` asks for
    them, and the output change (NaN): the gradient measurement alone, as
    ``suites/bench_blocks.py`` times it beside the plain loop."""
    dtype = _dtype(spec)
    g = torch.Generator().manual_seed(spec.seed(depth, index))
    shape = (spec.batch, spec.seq, spec.width)
    x0 = torch.randn(shape, generator=g, dtype=dtype).to(spec.device)
    readout = (torch.randn(shape, generator=g, dtype=dtype) / math.sqrt(x0.numel())).to(
        spec.device)
    blocks = [build(factory, spec, layer, depth, g, name) for layer in range(depth)]
    params = [(layer, key, p) for layer, block in enumerate(blocks)
              for key, p in block.named_parameters()
              if p.is_floating_point() and p.dim() >= 2] if weights or with_output_change else []
    for _, _, p in params:
        p.requires_grad_(True)
    # one tap tensor per site: slices of one stacked tensor would make each slice's backward
    # fill and add a zero tensor of the whole stack, O(depth^2) work
    taps = [torch.zeros(shape, dtype=dtype, device=spec.device, requires_grad=True)
            for _ in range(depth + 1)]
    masks = spec.seed(depth, index) if spec.train else None
    x = x0 + taps[0]
    acts = [x.detach().norm()]
    with dropout_masks(masks, spec.device):
        for layer, block in enumerate(blocks):
            x = block(x) + taps[layer + 1]
            acts.append(x.detach().norm())
    *grads, = torch.autograd.grad(
        (x * readout).sum(), [*taps, *(p for *_, p in params)], allow_unused=True)
    grads, weight_grads = grads[:depth + 1], grads[depth + 1:]
    per_group: dict[str, NDArray[np.float64]] = {}
    for (layer, key, _), grad in zip(params, weight_grads) if weights else ():
        row = per_group.setdefault(key, np.full(depth, math.nan))
        row[layer] = 0.0 if grad is None else float(grad.norm())
    out = x.detach()
    change = (output_change([p for *_, p in params], weight_grads, readout, out)
              if with_output_change else math.nan)
    return StackMeasurement(depth, torch.stack(acts).double().cpu().numpy(),
                            torch.stack([t.norm() for t in grads]).double().cpu().numpy(),
                            output_change=change, token_similarity=token_similarity(out),
                            weight_gradients=per_group)


@contextlib.contextmanager
def _isolated() -> Iterator[int]:
    """One intra-op thread, and the global RNG restored after (torch.nn constructors draw
    from it before the factory overwrites the weights); yields the intra-op thread count
    there was before, which :func:`measure_seeds` spends on seeds instead. Blocks of width
    ~32 gain nothing from more intra-op threads, and on a busy machine more threads spin
    against each other (a validate run went from ~10 s to ~130 s with 2 threads on 2 loaded
    cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield threads
    finally:
        torch.set_num_threads(threads)


def measure_seeds(factory: Factory, spec: BlockSpec, depth: int, name: str = "block", *,
                  weights: bool = False, with_output_change: bool = True,
                  workers: int = 1) -> list[StackMeasurement]:
    """:func:`measure_stack` for every seed at one depth, in seed order, ``workers`` seeds
    at a time on Python threads (torch releases the GIL inside its kernels; call it inside
    :func:`_isolated`, so each seed runs on one intra-op thread). Every seed draws from its
    own generator, so the numbers do not depend on ``workers``; in train mode the dropout
    masks come from the seeded global RNG, and a CUDA device runs one stream, so there the
    seeds run one at a time."""
    def one(index: int) -> StackMeasurement:
        return measure_stack(factory, spec, depth, index, name, weights=weights,
                             with_output_change=with_output_change)

    if workers <= 1 or spec.train or is_cuda(spec.device):
        return [one(s) for s in range(spec.seeds)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(spec.seeds)))


def measure(factory: Factory, spec: BlockSpec, name: str = "block") -> list[list[StackMeasurement]]:
    """Every depth of the grid x every seed: ``out[d][s]``; the weights' gradients at the
    judged depth. The seeds share the intra-op threads torch had (:func:`measure_seeds`)."""
    with _isolated() as threads:
        return [measure_seeds(factory, spec, depth, name, weights=depth == spec.judged_depth,
                              workers=threads) for depth in spec.depths]


# --------------------------------------------------------------------------------------
# The depth law
# --------------------------------------------------------------------------------------


def _interval(values: NDArray[np.float64], confidence: float) -> tuple[float,
                                                                       ConfidenceInterval]:
    """Mean and two-sided t-interval over seeds (zero spread: the point)."""
    n = values.size
    mean = float(values.mean())
    se = float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    if se == 0.0:
        return mean, ConfidenceInterval(mean, mean)
    return mean, t_interval(mean, se, n - 1, confidence)


@dataclass(frozen=True)
class DepthLaw:
    r"""The depth law of the gradient ratio ``r(L)`` over a grid (docs/blocks.md §4).

    Per seed ``s`` the log ratio is fitted, by least squares over the grid, as
    ``ln r_s(L) = a_s + p_s ln L + c_s L``: a power law has ``c = 0``, an exponential
    ``ln r`` linear in ``L``. Equivalently, the increment of ``ln r`` per depth doubling,
    ``ln r(2L) - ln r(L) = p ln 2 + c L``, is constant for a power law and doubles with
    every doubling for an exponential. Across seeds (the independent units) each quantity
    gets its mean and a :data:`CONFIDENCE` t-interval.

    The law, at the judged depth ``L*`` (the deepest of the grid), with ``F`` =
    :data:`EXP_FLOOR`:

    * ``exponential`` when a ratio is not finite (an explosion), or when the interval of
      ``c L*`` (the exponential part's log factor at ``L*``) lies outside
      ``[-ln F, ln F]``: a rate too small to matter at ``L*`` is not failed;
    * else ``power`` when the interval of ``ln r(L*) - ln r(L_min)`` lies outside
      ``[-ln C, ln C]`` (``C`` = :data:`CHANGE_FLOOR`);
    * else ``bounded``.

    Attributes:
        law: one of :data:`LAWS`.
        depths: the grid.
        log_ratio: mean ``ln r`` per depth (NaN where a seed was not finite).
        increments: mean increment of ``ln r`` between consecutive depths.
        exp_log_factor, exp_ci: mean ``c L*`` and its interval.
        change, change_ci: mean ``ln r(L*) - ln r(L_min)`` and its interval.
        exponent, exponent_ci: ``p`` of the power-only fit ``a + p ln L``.
        ratio, ratio_ci: ``r(L*)`` (``exp`` of the mean log ratio) and its interval.
        nonfinite: seeds whose ratio was not finite, at the shallowest depth where it
            happened (``(depth, count)``), or ``None``.
        seeds: seeds per depth.
    """

    law: str
    depths: tuple[int, ...]
    log_ratio: tuple[float, ...]
    increments: tuple[float, ...]
    exp_log_factor: float
    exp_ci: ConfidenceInterval
    change: float
    change_ci: ConfidenceInterval
    exponent: float
    exponent_ci: ConfidenceInterval
    ratio: float
    ratio_ci: ConfidenceInterval
    nonfinite: tuple[int, int] | None
    seeds: int
    quantity: str = "gradient ratio"
    directions: tuple[str, str] = ("exploding", "vanishing")

    @property
    def judged_depth(self) -> int:
        return self.depths[-1]

    @property
    def direction(self) -> str:
        """``directions[0]`` when the quantity grows with depth (for the gradient ratio:
        ``exploding``, gradients grow towards the input), else ``directions[1]``."""
        if self.nonfinite is not None:
            return self.directions[0]
        sign = self.exp_log_factor if self.law == "exponential" else self.change
        return self.directions[0] if sign >= 0 else self.directions[1]

    def words(self) -> str:
        """The law in one phrase, e.g. "exponential (exploding): ratio x3.1e6 at depth 64"."""
        from gradbench.stats._growth import _factor, _per_step

        if self.nonfinite is not None:
            depth, count = self.nonfinite
            return (f"exponential ({self.directions[0]}): the {self.quantity} is not finite "
                    f"at depth {depth} in {count} of {self.seeds} seeds")
        head = self.law if self.law == "bounded" else f"{self.law} ({self.direction})"
        tail = (f", ~L^{self.exponent:.2f}" if self.law == "power" else
                f", x{_per_step(math.exp(self.exp_log_factor / self.judged_depth))} per block"
                if self.law == "exponential" else "")
        return (f"{head}: {self.quantity} x{_factor(self.ratio)} [{_factor(self.ratio_ci.low)}, "
                f"{_factor(self.ratio_ci.high)}] at depth {self.judged_depth}{tail}")

    def to_dict(self) -> dict[str, Any]:
        from gradbench.records import to_jsonable

        return to_jsonable({**{k: getattr(self, k) for k in (
            "law", "depths", "log_ratio", "increments", "exp_log_factor", "change",
            "exponent", "ratio", "nonfinite", "seeds", "quantity")},
            "exp_ci": list(self.exp_ci), "change_ci": list(self.change_ci),
            "exponent_ci": list(self.exponent_ci), "ratio_ci": list(self.ratio_ci)})


def depth_law(depths: Sequence[int], log_ratios: Any, confidence: float = CONFIDENCE, *,
              quantity: str = "gradient ratio",
              directions: tuple[str, str] = ("exploding", "vanishing")) -> DepthLaw:
    """Classify ``log_ratios[seed, depth]`` (``ln r``; NaN: not finite) (:class:`DepthLaw`);
    ``quantity`` and ``directions`` name what ``r`` is (the output change uses the same law).

    Examples:
        >>> L = np.array([4, 8, 16, 32, 64])
        >>> depth_law(L, np.log(np.array([1.3 * L ** 0.5] * 4))).law
        'power'
        >>> depth_law(L, np.log(np.array([1.3 * 1.2 ** L] * 4))).law
        'exponential'
    """
    d = np.asarray(depths, dtype=np.float64)
    y = np.asarray(log_ratios, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != d.size or y.shape[0] < 2:
        raise InvalidArgument(f"log_ratios must have shape (seeds >= 2, {d.size}), got "
                              f"{y.shape}")
    seeds = y.shape[0]
    bad = ~np.isfinite(y)
    nonfinite = None
    if bad.any():
        col = int(np.argmax(bad.any(axis=0)))
        nonfinite = (int(d[col]), int(bad[:, col].sum()))
    mean = np.where(bad.any(axis=0), np.nan, np.where(bad, 0.0, y).mean(axis=0))
    nan_ci = ConfidenceInterval(math.nan, math.nan)
    if nonfinite is not None:
        return DepthLaw("exponential", tuple(int(x) for x in d), tuple(mean.tolist()),
                        tuple(np.diff(mean).tolist()), math.inf, nan_ci, math.inf, nan_ci,
                        math.nan, nan_ci, math.inf, nan_ci, nonfinite, seeds, quantity,
                        directions)
    full = np.column_stack([np.ones_like(d), np.log(d), d])
    coef = np.linalg.lstsq(full, y.T, rcond=None)[0]  # (3, seeds)
    power = np.linalg.lstsq(full[:, :2], y.T, rcond=None)[0]
    exp_mean, exp_ci = _interval(coef[2] * d[-1], confidence)
    change, change_ci = _interval(y[:, -1] - y[:, 0], confidence)
    exponent, exponent_ci = _interval(power[1], confidence)
    last, last_ci = _interval(y[:, -1], confidence)

    def outside(ci: ConfidenceInterval, floor: float) -> bool:
        return ci.low > math.log(floor) or ci.high < -math.log(floor)

    law = ("exponential" if outside(exp_ci, EXP_FLOOR) else
           "power" if outside(change_ci, CHANGE_FLOOR) else "bounded")
    return DepthLaw(law, tuple(int(x) for x in d), tuple(mean.tolist()),
                    tuple(np.diff(mean).tolist()), exp_mean, exp_ci, change, change_ci,
                    exponent, exponent_ci, math.exp(last),
                    ConfidenceInterval(math.exp(last_ci.low), math.exp(last_ci.high)),
                    None, seeds, quantity, directions)


@dataclass(frozen=True)
class BlockReport:
    """A block measured on a spec: its depth law and residual-stream growth.

    Attributes:
        name: the block's name.
        law: the :class:`DepthLaw` of its gradient ratio.
        log_ratios: ``ln r`` per seed and depth, ``[seeds, depths]``.
        stream: ``ln(||x_L|| / ||x_0||)`` at the judged depth, per seed.
        gradient_profile: mean over seeds of ``ln ||dloss/dx_l||``, ``l = 0 .. L*``.
        activation_profile: the same for ``ln ||x_l||``.
        growth: at the judged depth, the growth from the last block's output to the first's
            in the project's convention (:func:`gradbench.stats.gradient_growth`, sites
            ``x_1 .. x_L``), which the report reads.
        output_change: the :class:`DepthLaw` of the output change ``delta^2``
            (:func:`output_change`) over the grid.
        token_similarity: :func:`token_similarity` of ``x_L`` at the judged depth, per seed.
        token_profile: its mean over seeds at each depth of the grid.
        weight_gradients: per parameter name, the mean over seeds of
            ``ln ||dloss/dW||`` per layer at the judged depth.
        eval_batch_norms: :func:`eval_batch_norms` of one block (eval mode: each is the
            identity at initialization, and the law is that of the block without them).
    """

    name: str
    law: DepthLaw
    log_ratios: NDArray[np.float64]
    stream: NDArray[np.float64]
    gradient_profile: tuple[float, ...] = field(default=())
    activation_profile: tuple[float, ...] = field(default=())
    growth: Any = None
    output_change: DepthLaw | None = None
    token_similarity: NDArray[np.float64] = field(default_factory=lambda: np.array([]))
    token_profile: tuple[float, ...] = field(default=())
    weight_gradients: dict[str, tuple[float, ...]] = field(default_factory=dict)
    eval_batch_norms: int = 0

    def stream_growth(self) -> tuple[float, ConfidenceInterval]:
        """``||x_L|| / ||x_0||`` at the judged depth: geometric mean over seeds, interval."""
        if not np.isfinite(self.stream).all():
            return math.inf, ConfidenceInterval(math.inf, math.inf)
        mean, ci = _interval(self.stream, CONFIDENCE)
        return math.exp(mean), ConfidenceInterval(math.exp(ci.low), math.exp(ci.high))

    def tokens(self) -> tuple[float, ConfidenceInterval]:
        """The tokens' mean cosine similarity at the judged depth, with its interval."""
        sims = self.token_similarity
        if sims.size < 2 or not np.isfinite(sims).all():
            return math.nan, ConfidenceInterval(math.nan, math.nan)
        return _interval(sims, CONFIDENCE)

    def weight_gradient_spread(self) -> dict[str, float]:
        """Per parameter name, ``||dloss/dW||`` of the first block over the last's at the
        judged depth (geometric means over seeds): above 1, that weight's gradient grows
        towards the input."""
        return {k: math.exp(v[0] - v[-1]) for k, v in self.weight_gradients.items()
                if np.isfinite([v[0], v[-1]]).all()}


def _mean_log(rows: Sequence[NDArray[np.float64]]) -> tuple[float, ...]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return tuple(np.log(np.stack(rows)).mean(axis=0).tolist())


def report(factory: Factory, spec: BlockSpec, name: str = "block") -> BlockReport:
    """Measure ``factory`` on ``spec`` (guards first) and classify its depth law."""
    from gradbench.stats import gradient_growth

    check_block(factory, spec, name)
    stacks = measure(factory, spec, name)
    log_ratios = np.array([[s.log_ratio for s in row] for row in stacks]).T
    deepest = stacks[-1]
    changes = np.array([[s.log_output_change for s in row] for row in stacks]).T
    groups = sorted({k for s in deepest for k in s.weight_gradients})
    return BlockReport(
        name, depth_law(spec.depths, log_ratios), log_ratios,
        np.array([s.log_stream_growth for s in deepest]),
        _mean_log([s.gradient_norms for s in deepest]),
        _mean_log([s.activation_norms for s in deepest]),
        gradient_growth(np.stack([s.gradient_norms[1:] for s in deepest]), unit="block"),
        output_change=depth_law(spec.depths, changes, quantity="output change",
                                directions=("growing", "shrinking")),
        token_similarity=np.array([s.token_similarity for s in deepest]),
        token_profile=tuple(float(np.mean([s.token_similarity for s in row]))
                            for row in stacks),
        weight_gradients={k: _mean_log([s.weight_gradients.get(k, np.full(s.depth, np.nan))
                                        for s in deepest]) for k in groups},
        eval_batch_norms=eval_batch_norms(build(factory, spec, 0, spec.judged_depth,
                                                torch.Generator().manual_seed(1), name)))


# --------------------------------------------------------------------------------------
# Built-in baselines (torch.nn only)
# --------------------------------------------------------------------------------------


def _linear(n_in: int, n_out: int, std: float, generator: torch.Generator,
            bias: bool = False) -> torch.nn.Linear:
    lin = torch.nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        lin.weight.normal_(0.0, std, generator=generator)
        if bias:
            lin.bias.zero_()
    return lin


class _Residual(torch.nn.Module):
    """``x + alpha * branch(x)``."""

    def __init__(self, branch: torch.nn.Module, alpha: float = 1.0) -> None:
        super().__init__()
        self.branch, self.alpha = branch, alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.alpha * self.branch(x)


class _PreLNAttention(torch.nn.Module):
    """``x + MHA(LN(x))`` (self-attention, ``batch_first=True``)."""

    def __init__(self, width: int, heads: int, generator: torch.Generator) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)
        self.attn = torch.nn.MultiheadAttention(width, heads, bias=False, batch_first=True)
        with torch.no_grad():  # xavier_uniform_ as torch does, from the generator
            bound = math.sqrt(6.0 / (width + 3 * width))
            self.attn.in_proj_weight.uniform_(-bound, bound, generator=generator)
            self.attn.out_proj.weight.normal_(0.0, 1.0 / math.sqrt(width), generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return x + self.attn(h, h, h, need_weights=False)[0]


def unscaled_residual(width: int, *, layer: int, depth: int,
                      generator: torch.Generator) -> torch.nn.Module:
    """``x + W2 relu(W1 x)``, He init (std ``sqrt(2/width)``), no scaling of the branch:
    each block multiplies the squared gradient by about 2, an exponential law
    (He et al. 2016; Hanin & Rolnick 2018)."""
    std = math.sqrt(2.0 / width)
    return _Residual(torch.nn.Sequential(_linear(width, width, std, generator),
                                         torch.nn.ReLU(),
                                         _linear(width, width, std, generator)))


def pre_ln(width: int, *, layer: int, depth: int,
           generator: torch.Generator) -> torch.nn.Module:
    """A pre-LN transformer block, ``x + MHA(LN(x))`` then ``x + W2 gelu(W1 LN(x))``
    (4x MLP, 4 heads where the width allows): the stream grows ~sqrt(L), the gradient
    ratio as a power of L (Xiong et al. 2020)."""
    heads = 4 if width % 4 == 0 else 1
    mlp = torch.nn.Sequential(torch.nn.LayerNorm(width),
                              _linear(width, 4 * width, 1.0 / math.sqrt(width), generator),
                              torch.nn.GELU(),
                              _linear(4 * width, width, 1.0 / math.sqrt(4 * width), generator))
    return torch.nn.Sequential(_PreLNAttention(width, heads, generator), _Residual(mlp))


BASELINES: dict[str, Factory] = {"pre_ln": pre_ln, "unscaled_residual": unscaled_residual}
"""The built-in baselines every block is measured beside, on the same seeds."""



# --------------------------------------------------------------------------------------
# A whole model: a selector of its blocks, a per-block profile across seeds
# --------------------------------------------------------------------------------------

Selector = Any  # a regular expression (str) matched in full against module names, or
#                 a callable name -> bool (as mup's filter_module_by_name takes)


def select_blocks(model: torch.nn.Module, blocks: Selector) -> list[tuple[str, torch.nn.Module]]:
    """The modules of ``model`` whose names ``blocks`` selects, in registration order.

    Raises:
        InvalidArgument: nothing is selected (one sentence with a few module names).
    """
    import re

    if isinstance(blocks, str):
        try:
            pattern = re.compile(blocks)
        except re.error as exc:
            raise InvalidArgument(f"blocks={blocks!r} is not a valid regular expression "
                                  f"({exc}); give one matched in full against module names, "
                                  r"e.g. r'layers\.\d+'") from None
        chosen = [(n, m) for n, m in model.named_modules() if n and pattern.fullmatch(n)]
    elif callable(blocks):
        chosen = [(n, m) for n, m in model.named_modules() if n and blocks(n)]
    else:
        raise InvalidArgument(f"blocks={blocks!r} is invalid: give a regular expression "
                              "matched against module names or a callable name -> bool")
    if not chosen:
        names = [n for n, _ in model.named_modules() if n][:6]
        raise InvalidArgument(f"blocks={blocks!r} selects no module of the model; its modules "
                              f"are named e.g. {', '.join(map(repr, names)) or '(none)'}")
    return chosen


@dataclass(frozen=True)
class ModelProfile:
    """Per selected block (in the order they run) and seed: ``||x_l||`` and
    ``||dloss/dx_l||`` at the block's output, read through a zero tap added to it by a
    forward hook; ``growth`` is the end-to-end growth from the last block's output to the
    first's (:func:`gradbench.stats.gradient_growth`, unit ``block``); ``eval_batch_norms``
    counts the BatchNorm layers that ran in eval mode, on their running statistics (at
    initialization mean 0 and variance 1: the identity, not a normalization)."""

    names: tuple[str, ...]
    activation_norms: NDArray[np.float64]
    gradient_norms: NDArray[np.float64]
    growth: Any
    eval_batch_norms: int = 0


def _model_seed(seed: int, index: int) -> int:
    key = f"model|{seed}|{index}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:7], "big")


def _called(fn: Callable[..., Any], what: str, form: str, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; what it raises becomes one sentence naming ``what`` failed
    and the ``form`` it must have."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InvalidArgument(f"{what} raised {type(exc).__name__}: {first}; it must be "
                              f"{form}") from None


def _build_model(model_factory: Callable[..., torch.nn.Module],
                 g: torch.Generator) -> torch.nn.Module:
    model = _called(model_factory, "the model factory", "model(*, generator) -> nn.Module",
                    generator=g)
    if not isinstance(model, torch.nn.Module):
        raise InvalidArgument(f"the model factory returned a {type(model).__name__}, not a "
                              "torch.nn.Module")
    return model  # type: ignore[no-any-return]


def check_model_factory(model_factory: Callable[..., torch.nn.Module]) -> None:
    """The generator guard of a whole model (as :func:`check_block`'s for a block): two
    builds from equal generators, under different global RNG states, have equal weights
    and buffers, so every copy, and every verdict, is a function of its seed.

    Raises:
        InvalidArgument: the factory raises, returns no module, or ignores its generator.
    """
    if not _two_builds(lambda g: _build_model(model_factory, g))[1]:
        raise InvalidArgument(
            "the model factory ignores its generator: two builds from equal generators gave "
            "different weights; draw every weight with generator= (torch.nn constructors "
            "draw from the global RNG, so overwrite their weights, e.g. "
            "torch.nn.init.normal_(w, generator=generator))")


def _profile_one(model_factory: Callable[..., torch.nn.Module], blocks: Selector,
                 example_input: Callable[[torch.Generator], Any], dtype: torch.dtype,
                 g: torch.Generator, masks: int | None
                 ) -> tuple[list[str], list[float], list[float], int]:
    """One copy: block names, ``||x_l||``, ``||dloss/dx_l||`` and the BatchNorm layers run
    in eval mode; ``masks`` is the dropout-mask seed in train mode, ``None`` in eval mode."""
    model = _build_model(model_factory, g).to(dtype).train(masks is not None)
    model.requires_grad_(False)
    inputs = _called(example_input, "example_input", "a function generator -> the model's "
                     "input (a tensor or a tuple of arguments)", g)
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    inputs = tuple(x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x
                   for x in inputs)
    names: list[str] = []
    taps: list[torch.Tensor] = []
    acts: list[float] = []

    def tap(name: str) -> Callable[..., Any]:
        def hook(module: torch.nn.Module, args: Any, out: Any) -> Any:
            first = out[0] if isinstance(out, tuple) else out
            t = torch.zeros_like(first, requires_grad=True)
            names.append(name)
            taps.append(t)
            acts.append(float(first.detach().norm()))
            return (first + t, *out[1:]) if isinstance(out, tuple) else first + t
        return hook

    handles = [m.register_forward_hook(tap(n)) for n, m in select_blocks(model, blocks)]
    try:
        with dropout_masks(masks):
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
    out = out[0] if isinstance(out, tuple) else out
    readout = torch.randn(out.shape, generator=g, dtype=out.dtype) / math.sqrt(out.numel())
    grads = torch.autograd.grad((out * readout).sum(), taps, allow_unused=True)
    return names, acts, [0.0 if gr is None else float(gr.norm()) for gr in grads], \
        eval_batch_norms(model)


def profile_model(model_factory: Callable[..., torch.nn.Module], *, blocks: Selector,
                  example_input: Callable[[torch.Generator], Any], seeds: int = 8,
                  seed: int = 0, dtype: str = "float64", train: bool = True) -> ModelProfile:
    r"""The per-block profile of a whole model across ``seeds`` fresh copies.

    Args:
        model_factory: ``model_factory(generator=g) -> nn.Module``, every weight from ``g``.
        blocks: which modules are blocks: a regular expression matched in full against
            ``named_modules()`` names (``r"layers\.\d+"``), or a callable ``name -> bool``.
        example_input: ``example_input(g) -> Tensor`` (or a tuple of arguments).
        seeds: fresh copies; copy ``i`` draws from a generator seeded from ``(seed, i)``.
        dtype: ``"float64"`` or ``"float32"``.
        train: run the model in train mode, as its first training step does (the default):
            BatchNorm on the batch's statistics, dropout active on masks seeded from the
            copy's seed (the global RNG restored after); ``False``: eval mode, where a fresh
            BatchNorm is the identity.

    The loss is a fixed readout of the output, ``<R, out>``, ``R ~ N(0, 1)/sqrt(numel)``.

    Raises:
        InvalidArgument: a bad argument, a factory or input function that raises, or a
            factory that ignores its generator (:func:`check_model_factory`); one sentence.
    """
    from gradbench.stats import gradient_growth

    count = as_integer(seeds)
    if count is None or count < 2:
        raise InvalidArgument(f"seeds={seeds!r} is invalid: must be an integer >= 2")
    seeds = count
    if not isinstance(train, bool):
        raise InvalidArgument(f"train={train!r} is invalid: must be True or False")
    if dtype not in BLOCK_DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} is invalid; {choices_hint(dtype, BLOCK_DTYPES)}")
    torch_dtype = _dtype(BlockSpec("model", dtype=dtype))
    rows = []
    with _isolated():
        check_model_factory(model_factory)
        for i in range(seeds):
            g = torch.Generator().manual_seed(_model_seed(seed, i))
            rows.append(_profile_one(model_factory, blocks, example_input, torch_dtype, g,
                                     _model_seed(seed, i) if train else None))
    names = rows[0][0]
    if any(r[0] != names for r in rows):
        raise InvalidArgument("the selected blocks run in a different order in different "
                              "copies of the model; the profile needs one order")
    grads = np.array([r[2] for r in rows])
    return ModelProfile(tuple(names), np.array([r[1] for r in rows]), grads,
                        gradient_growth(grads, unit="block"), rows[0][3])


def check_model(model_factory: Callable[..., torch.nn.Module], *, alpha: float = 0.05,
                seed: int = 0, blocks: Selector = None,
                example_input: Callable[..., Any] | None = None,
                seeds: int = 8, dtype: str = "float64", train: bool = True) -> Any:
    """``gb.check(model_factory, blocks=..., example_input=...)``: the growth of the gradient
    from the last selected block's output to the first's, at ``1 - 2 alpha`` confidence,
    classed as the stability claims class it (docs/theory.md §9.2): the verdict fails when
    it is ``exploding``, ``vanishing`` or ``nonfinite``. The per-block profile is in the
    note (first, middle and last block); :func:`profile_model` gives all of it. The model
    runs in train mode, as at the first training step: BatchNorm on the batch's statistics
    (a plain BatchNorm stack explodes, Yang et al. 2019). In eval mode (``train=False``) the
    note says how many BatchNorm layers ran on their running statistics, which at
    initialization make them the identity, normalizing nothing.

    Raises:
        InvalidArgument: a model instance, or ``blocks`` or ``example_input`` missing or not
            of their form (one sentence).
    """
    from gradbench.errors import MODEL_FACTORY, refuse_module
    from gradbench.records import Verdict
    from gradbench.stats import gradient_growth

    refuse_module(model_factory, "gradbench.check", MODEL_FACTORY)
    if not callable(model_factory):
        raise InvalidArgument(f"gradbench.check got a {type(model_factory).__name__} with "
                              f"blocks/example_input; pass {MODEL_FACTORY}")
    form = {"blocks": "a regular expression matched in full against module names, or a "
                      "callable name -> bool",
            "example_input": "a function generator -> the model's input (a tensor or a tuple "
                             "of arguments)"}
    for arg, value in (("blocks", blocks), ("example_input", example_input)):
        if value is None:
            raise InvalidArgument(f"gradbench.check of a whole model needs {arg}=: {form[arg]}")
    if not callable(example_input):
        raise InvalidArgument(f"example_input={type(example_input).__name__} is invalid: give "
                              f"{form['example_input']}, so every copy draws its own")

    check_alpha(alpha)
    prof = profile_model(model_factory, blocks=blocks, example_input=example_input,
                         seeds=seeds, seed=seed, dtype=dtype, train=train)
    growth = gradient_growth(prof.gradient_norms, confidence=1 - 2 * alpha, unit="block")
    klass = growth.klass()
    with np.errstate(divide="ignore"):
        mean = np.exp(np.log(prof.gradient_norms).mean(axis=0))
    picks = sorted({0, len(prof.names) // 2, len(prof.names) - 1})
    shown = ", ".join(f"{prof.names[i]} {mean[i]:.3g}" for i in picks)
    name = getattr(model_factory, "__qualname__", type(model_factory).__name__)
    frozen = (f"; its {prof.eval_batch_norms} BatchNorm layer"
              f"{'s' * (prof.eval_batch_norms != 1)} ran in eval mode on running statistics "
              "(at initialization mean 0, variance 1: the identity, normalizing nothing); "
              "train=True (the default) measures them on the batch's statistics"
              if prof.eval_batch_norms else "")
    return Verdict(
        "model_block_growth",
        {"family": "model", "factory": name, "blocks": len(prof.names), "seeds": seeds,
         "dtype": dtype, "seed": seed, "train": train},
        predicted=0.0, measured=growth.log_ratio, statistic=growth.log_ratio, pvalue=math.nan,
        ci_low=growth.low, ci_high=growth.high, alpha=alpha,
        passed=klass in ("stable", "inconclusive"), n=growth.networks,
        method=f"t-interval over {seeds} copies of ln ||dL/dx_first|| - ln ||dL/dx_last|| "
        "at the selected blocks' outputs (zero taps)",
        source="docs/blocks.md §6", growth=growth.to_dict(),
        note=f"{klass}: {growth.words}; gradient norm per block (geometric mean): {shown}"
             f"{frozen}")

# --------------------------------------------------------------------------------------
# gradbench validate --kind block
# --------------------------------------------------------------------------------------

SEEDS = {"quick": 16, "full": 32}
"""Seeds per depth of ``gradbench validate --kind block`` by profile."""


def verdicts(rep: BlockReport, spec: BlockSpec, meta: dict[str, Any]) -> list[Any]:
    """The block's verdicts: ``block_depth_law`` (fails on an exponential law, or on a
    law worse than ``meta["expect"]``); ``block_stream_growth``, ``block_output_change``
    and ``block_token_collapse`` are always reported and fail only when declared
    (``max_stream_growth``, ``output_change``, ``max_token_similarity``, :data:`META_KEYS`)."""
    from gradbench.records import Verdict

    law, alpha = rep.law, 1.0 - CONFIDENCE
    expect = meta.get("expect", "power")
    passed = LAWS.index(law.law) <= LAWS.index(expect)
    declared = f"declared expect={expect!r}" if "expect" in meta else "nothing declared"
    config = {**spec.to_dict(), "factory": rep.name}
    method = (f"per seed, least squares ln r = a + p ln L + c L over depths "
              f"{', '.join(map(str, spec.depths))}; {CONFIDENCE:.0%} t-intervals over "
              f"{law.seeds} seeds; exponential when c L* lies outside +-ln {EXP_FLOOR:g}, "
              f"power when ln r(L*) - ln r(L_min) lies outside +-ln {CHANGE_FLOOR:g}")
    out = [Verdict("block_depth_law", config, predicted=math.log(EXP_FLOOR),
                   measured=law.exp_log_factor, statistic=law.exp_log_factor,
                   pvalue=math.nan, ci_low=law.exp_ci.low, ci_high=law.exp_ci.high,
                   alpha=alpha, passed=passed, n=law.seeds, method=method,
                   source="docs/blocks.md §4", note=f"{law.words()} ({declared})")]
    growth, ci = rep.stream_growth()
    limit = meta.get("max_stream_growth")
    out.append(Verdict(
        "block_stream_growth", config, predicted=math.nan if limit is None else float(limit),
        measured=growth, statistic=growth, pvalue=math.nan, ci_low=ci.low, ci_high=ci.high,
        alpha=alpha, passed=limit is None or not ci.low > float(limit), n=law.seeds,
        method=f"geometric mean over seeds of ||x_L|| / ||x_0|| at depth {spec.judged_depth}",
        source="docs/blocks.md §4",
        note=f"residual stream x{growth:.3g} over depth {spec.judged_depth} ("
        + (f"declared max_stream_growth={limit!r})" if limit is not None else
           "reported, not judged: nothing declared)")))
    change = rep.output_change
    if change is not None:
        expect = meta.get("output_change")
        out.append(Verdict(
            "block_output_change", config, predicted=math.nan, measured=change.change,
            statistic=change.change, pvalue=math.nan, ci_low=change.change_ci.low,
            ci_high=change.change_ci.high, alpha=alpha,
            passed=expect is None or LAWS.index(change.law) <= LAWS.index(expect),
            n=change.seeds, method="delta^2 = ||F(W + dW) - F(W)||^2 / (eps^2 ||F(W)||^2), "
            "dW = eps rms(W) z, eps -> 0, read from the weights' gradients; measured: "
            "ln delta^2(L*) - ln delta^2(L_min); its law as the gradient ratio's",
            source="docs/blocks.md §4.2",
            note=f"output change {change.words()} ("
            + (f"declared output_change={expect!r})" if expect is not None else
               "reported, not judged: nothing declared)")))
    sim, ci = rep.tokens()
    limit = meta.get("max_token_similarity")
    out.append(Verdict(
        "block_token_collapse", config, predicted=math.nan if limit is None else float(limit),
        measured=sim, statistic=sim, pvalue=math.nan, ci_low=ci.low, ci_high=ci.high,
        alpha=alpha, passed=limit is None or not ci.low > float(limit), n=law.seeds,
        method=f"mean cosine similarity of distinct tokens of x_L at depth {spec.judged_depth}"
        ", averaged over examples; t-interval over seeds", source="docs/blocks.md §4.2",
        note=f"tokens' mean cosine similarity {sim:.2f} at depth {spec.judged_depth} ("
        + (f"declared max_token_similarity={limit!r})" if limit is not None else
           "reported, not judged: nothing declared)")))
    return out


def _claim_spec(spec: BlockSpec, seed: int, device: str | None) -> BlockSpec:
    return dataclasses.replace(spec, base_seed=seed or spec.base_seed,
                               device=device or spec.device)


def claim_report(spec: BlockSpec, *, seed: int = 0, device: str | None = None,
                 meta: dict[str, Any] | None = None) -> BlockReport:
    """What the block claims are read from (``gradbench.check(spec, "block_depth_law")``):
    :func:`report` of ``spec``'s factory, with base seed ``seed`` (0: the spec's) on
    ``device`` (default: the spec's)."""
    spec = _claim_spec(spec, seed, device)
    return report(load_factory(spec.factory), spec, spec.factory.rpartition(":")[2])


def claim_verdict(name: str, spec: BlockSpec, rep: BlockReport, *, seed: int = 0,
                  device: str | None = None, meta: dict[str, Any] | None = None) -> Any:
    """The verdict of block claim ``name`` on :func:`claim_report`'s ``rep`` (:func:`verdicts`)."""
    found = [v for v in verdicts(rep, _claim_spec(spec, seed, device), meta or {})
             if v.claim == name]
    if not found:
        raise InvalidArgument(f"block claim {name!r} has nothing to read in the report of "
                              f"{rep.name!r}")
    return found[0]


def _case_records(rep: BlockReport, spec: BlockSpec, meta: dict[str, Any],
                  origin: str) -> list[Any]:
    from gradbench.machine import environment
    from gradbench.records import CaseRecord

    extra = {"depth_law": rep.law.to_dict(), "log_ratios": rep.log_ratios.tolist(),
             "gradient_profile": list(rep.gradient_profile),
             "activation_profile": list(rep.activation_profile),
             "output_change_law": rep.output_change.to_dict() if rep.output_change else None,
             "token_profile": list(rep.token_profile),
             "weight_gradients": {k: list(v) for k, v in rep.weight_gradients.items()}}
    on = "" if spec.device == "cpu" else f"@{spec.device}"  # CPU ids as before devices came
    return [CaseRecord.build(
        case=f"block::{rep.name}::{v.claim}{on}#0", claim=v.claim, spec=v.spec,
        label=f"block {rep.name} (width {spec.width}, seq {spec.seq}, depth <= "
        f"{spec.judged_depth}{on})", verdict=v.to_dict(), source=v.source, extra=extra,
        env=environment(spec.device), remedy={"kind": "block", "name": rep.name, "origin": origin})
        for v in verdicts(rep, spec, meta)]


def _paired(a: BlockReport, b: BlockReport) -> tuple[float, ConfidenceInterval]:
    """``r_a(L*) / r_b(L*)`` on the same seeds: geometric mean of the per-seed quotients."""
    diff = a.log_ratios[:, -1] - b.log_ratios[:, -1]
    if not np.isfinite(diff).all():
        return math.nan, ConfidenceInterval(math.nan, math.nan)
    mean, ci = _interval(diff, CONFIDENCE)
    return math.exp(mean), ConfidenceInterval(math.exp(ci.low), math.exp(ci.high))


def summary_lines(spec: BlockSpec, reports: Sequence[BlockReport]) -> list[str]:
    """The terminal table: each block's law and stream growth, then the candidate (first)
    against each baseline on the same seeds ("does my fix help?")."""
    from gradbench.stats._growth import _factor

    lines = [f"blocks: width {spec.width}, seq {spec.seq}, batch {spec.batch}, {spec.dtype}, "
             f"{spec.seeds} seeds, depths {' '.join(map(str, spec.depths))}, on {spec.device}, "
             f"{'train mode (dropout active)' if spec.train else 'eval mode'}; gradient ratio "
             f"r = ||dL/dx_0|| / ||dL/dx_L|| ({CONFIDENCE:.0%} intervals)"]
    width = max(len(r.name) for r in reports) + 2
    for i, rep in enumerate(reports):
        tag = " (candidate)" if i == 0 else ""
        growth, _ = rep.stream_growth()
        inc = " ".join(f"{v:+.2f}" for v in rep.law.increments)
        lines.append(f"  {rep.name + tag:<{width + 12}} {rep.law.words()}")
        lines.append(f"  {'':<{width + 12}} ln r increments per doubling {inc}; "
                     f"residual stream x{_factor(growth)}")
        if rep.output_change is not None:
            lines.append(f"  {'':<{width + 12}} {rep.output_change.words()}")
        sims = " ".join(f"{v:.2f}" for v in rep.token_profile)
        lines.append(f"  {'':<{width + 12}} tokens' mean cosine similarity at x_L per depth "
                     f"{sims}")
        if rep.eval_batch_norms:
            count = rep.eval_batch_norms
            lines.append(f"  {'':<{width + 12}} note: its {count} BatchNorm layer"
                         f"{'s' * (count != 1)} per block ran in eval mode on fresh running "
                         "statistics, the identity; batch statistics mix examples, which a "
                         "block may not: a whole model, gb.check(..., train=True) "
                         "(docs/blocks.md §6)")
        spread = rep.weight_gradient_spread()
        if spread and i == 0:
            top = sorted(spread.items(), key=lambda kv: -abs(math.log(kv[1])))[:6]
            lines.append(f"  {'':<{width + 12}} weight gradient, first block / last: "
                         + ", ".join(f"{k} x{_factor(v)}" for k, v in top))
    for base in reports[1:]:
        q, ci = _paired(reports[0], base)
        lines.append(f"  {reports[0].name} vs {base.name} (same seeds): r / r_{base.name} "
                     f"at depth {spec.judged_depth} = {_factor(q)} [{_factor(ci.low)}, "
                     f"{_factor(ci.high)}]")
    return lines


def validate_block(target: str, *, baselines: Sequence[str] = (), profile: str = "quick",
                   out_dir: Any = "reports", base_seed: int = 0,
                   depth: int | None = None, devices: Sequence[str] = ("cpu",)) -> Any:
    """``gradbench validate pkg.mod:factory --kind block``: the candidate's depth law and
    stream growth beside the built-in :data:`BASELINES` (or ``baselines``, import paths)
    on the same seeds, on each of ``devices`` (the same networks on each; case ids of a
    device other than the CPU end in ``@device``); results JSON and HTML as every validate
    run writes them.

    Returns:
        A :class:`gradbench.validate.ValidationResult` (exit 0 / 1; guards raise
        :class:`InvalidArgument`, exit 2).
    """
    from gradbench import storage
    from gradbench.machine import environment, platform_info
    from gradbench.records import MachineInfo, RunInfo, results_document
    from gradbench.report import write_report
    from gradbench.validate import result_from_results

    if profile not in SEEDS:
        raise InvalidArgument(f"profile={profile!r} is invalid; valid choices: "
                              f"{', '.join(SEEDS)}")
    factory = load_factory(target)
    meta = meta_of(factory, target)
    from gradbench.registry import object_name

    name = object_name(factory, target)
    name = name if name not in BASELINES or baselines else f"{name}_candidate"
    from gradbench.devices import require_devices

    require_devices(",".join(devices))  # CUDA asked for where there is none: one sentence
    specs = [BlockSpec(target, depths=depth_grid(depth), seeds=SEEDS[profile],
                       base_seed=base_seed, train=bool(meta.get("dropout", False)),
                       device=device) for device in dict.fromkeys(devices)]
    spec = specs[0]
    others: list[tuple[str, Factory, str]] = (
        [(t.rpartition(":")[2], load_factory(t), "third-party") for t in baselines]
        if baselines else [(k, f, "built-in") for k, f in BASELINES.items()])
    lines, cases = [], []
    for spec in specs:
        reports = []
        for who, fn, origin, declared in [(name, factory, "candidate", meta),
                                          *((w, f, o, {}) for w, f, o in others)]:
            rep = report(fn, spec, who)
            reports.append(rep)
            cases += _case_records(rep, spec, declared, origin)
        lines += summary_lines(spec, reports)
    run = RunInfo(profile=profile, base_seed=base_seed,
                  extra={"candidate": ["block", name], "block_spec": specs[0].to_dict(),
                         "measurement_path": MEASUREMENT_PATH})
    machine = MachineInfo.from_cases(cases, platform_info(), environment())
    path = storage.save(out_dir, f"validate-{storage.safe_name(name)}",
                        results_document(run, machine, cases))
    html = write_report([path], path.with_suffix(".html"))
    result = result_from_results(storage.load(path), target, profile, 0)
    return dataclasses.replace(result, json_path=str(path), html_path=str(html),
                               summary=tuple(lines))


__all__ = [
    "BASELINES",
    "CONFIDENCE",
    "DEPTHS",
    "EXP_FLOOR",
    "LAWS",
    "MEASUREMENT_PATH",
    "META_KEYS",
    "BlockReport",
    "BlockSpec",
    "DepthLaw",
    "ModelProfile",
    "StackMeasurement",
    "check_block",
    "check_model",
    "check_model_factory",
    "claim_report",
    "claim_verdict",
    "depth_grid",
    "depth_law",
    "eval_batch_norms",
    "is_block_factory",
    "load_factory",
    "measure",
    "measure_seeds",
    "measure_stack",
    "meta_of",
    "pre_ln",
    "profile_model",
    "report",
    "select_blocks",
    "summary_lines",
    "unscaled_residual",
    "validate_block",
    "verdicts",
]
