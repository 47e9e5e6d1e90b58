"""The gradient probe: one forward and one backward for many random networks at once.

:func:`measure` draws ``seeds`` independent networks of a spec (see
:mod:`gradbench.models` for how each is seeded), stacks their parameters along a
leading axis and runs them together with batched matrix products, so the cost is
that of a few large ``bmm`` calls instead of a Python loop over models. It records,
per probe site, ``||dL/d site||_F``, the weight-gradient norm and the second moment of
the site, as plain NumPy arrays in a :class:`~gradbench.records.Measurement`.

:func:`measure_reference` computes the same numbers the naive way (build each seed's
``nn.Module``, call ``backward``, read ``.grad``); tests hold the two equal.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import itertools
import math
import os
import platform
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from gradbench.errors import InvalidArgument, as_integer, choices_hint
from gradbench.models import Allocator, Family, Params, Tap, draw_network, family_of
from gradbench.records import Measurement
from gradbench.specs import Spec

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
}
DEFAULT_MEMORY_BUDGET = 1 << 30  # bytes of activations held for one backward pass
HEAP_MMAP_THRESHOLD = 32 << 20
"""Blocks below it come from glibc's heap, and are reused (:func:`keep_freed_memory`)."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, glibc's <malloc.h>
THREADED_DRAW_MIN_ENTRIES = 4096
"""Mean entries per drawn tensor from which :func:`draw_stacked` draws networks on threads.
Below it a network's draw is mostly Python (about 15 us per tensor, holding the GIL), and
threads that contend for the GIL slow it down: on 2 cores, 2048 MLPs of width 48 took
2.0 s on 2 threads against 1.3 s on one, while width 128 took 0.55 s against 0.84 s."""


def _measure_iv(spec: Spec, seeds: int, batch: int, device: str, dtype: str,
                seed: int) -> tuple[int, int, int]:
    """Check the arguments of a measurement; ``(seeds, batch, seed)`` as Python ints."""
    family = family_of(spec)
    counts = []
    for name, value, low in (("seeds", seeds, 1), ("batch", batch, 1), ("seed", seed, 0)):
        number = as_integer(value)
        if number is None or number < low:
            raise InvalidArgument(f"{name}={value!r} is invalid: must be an integer >= {low}")
        counts.append(number)
    seeds, batch, seed = counts
    if dtype not in DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} is invalid; {choices_hint(dtype, DTYPES)}")
    kind = str(device).split(":")[0]
    if kind not in ("cpu", "cuda"):
        raise InvalidArgument(f"device={device!r} is invalid; valid choices: cpu, cuda, cuda:N")
    if kind == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(
            f"device={device!r} is not available on this machine (no CUDA device); "
            "valid choices here: cpu"
        )
    issue = family.batch_issue(spec, batch)
    if issue:
        raise InvalidArgument(issue)
    need, have = bytes_per_network(spec, batch, dtype), device_memory(device)
    if have is not None and need > have:
        sizes = [f.name for f in dataclasses.fields(spec)  # the spec's own sizes, in words
                 if type(getattr(spec, f.name)) is int and not f.name.startswith("input_")]
        raise InvalidArgument(
            f"one network of {spec!r} is estimated to need {need / 2**30:.3g} GiB for its "
            f"forward and backward pass at batch {batch} in {dtype}, more than the "
            f"{have / 2**30:.3g} GiB of memory of {device!r}: use a smaller "
            f"{', '.join(sizes)} or batch")
    return seeds, batch, seed


def device_memory(device: str) -> int | None:
    """Bytes of memory of ``device``: the GPU's, or the machine's RAM (``None``: unknown, as
    on a system without ``sysconf`` or a CUDA stand-in of the tests; nothing is refused)."""
    try:
        if str(device).startswith("cuda"):
            return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except Exception:  # the refusal is a courtesy: an unknown size never stops a measurement
        return None


def memory_budget() -> int:
    """Bytes the probe may hold at once: ``GRADBENCH_MEMORY_BUDGET_MB`` or 1 GiB."""
    text = os.environ.get("GRADBENCH_MEMORY_BUDGET_MB")
    if text is None:
        return DEFAULT_MEMORY_BUDGET
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise InvalidArgument(
            f"GRADBENCH_MEMORY_BUDGET_MB={text!r} is invalid: must be a positive number"
        )
    return int(value * (1 << 20))


def keep_freed_memory(budget: int | None = None) -> bool:
    """Let the C library keep up to ``budget`` bytes (default :func:`memory_budget`) of freed
    memory for reuse; returns whether it could (glibc only; elsewhere nothing changes).

    glibc gives the top of its heap back to the system as soon as 128 KiB are free there,
    and serves blocks from 128 KiB up (a threshold that grows with use, to 32 MiB) with
    fresh mmap-ed pages (mallopt(3)). A measurement frees each chunk's activations, and
    backward each layer's, then faults as much in again page by page: 40-60 thousand page
    faults and 130-190 ms of system time per measurement of 64 MLPs (depth 50, width 128,
    batch 128, float32). With ``M_TRIM_THRESHOLD`` at the budget and ``M_MMAP_THRESHOLD``
    at 32 MiB that memory is reused instead. Process-wide, as torch's CUDA caching allocator
    is on the GPU: the process keeps at most ``budget`` bytes it no longer uses. The numbers
    measured do not depend on it.
    """
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    budget = min(memory_budget() if budget is None else budget, 2**31 - 1)  # a C int
    return bool(mallopt(_M_TRIM_THRESHOLD, budget)) and bool(
        mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD))


@functools.cache
def _glibc_mallopt() -> Any:
    """glibc's ``mallopt`` from the running process, or ``None`` on another C library."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None


def bytes_per_network(spec: Spec, batch: int, dtype: str) -> int:
    """Estimated memory of one network's forward and backward pass (its family's estimate),
    counted in :func:`draw_dtype`: a bfloat16 pass draws its networks and takes its norms
    in float32, and measured at 2 bytes per entry it holds more than half a float32 pass."""
    return family_of(spec).bytes_per_network(spec, batch, draw_dtype(DTYPES[dtype]).itemsize)


def chunk_size(spec: Spec, seeds: int, batch: int, dtype: str, budget: int | None = None) -> int:
    """How many networks to stack in one pass so the pass stays within the memory budget.

    A network is never split: when one alone exceeds the budget (e.g. width 4096), each
    pass holds one network and the peak is that network's footprint.
    """
    budget = memory_budget() if budget is None else budget
    return max(1, min(seeds, budget // max(1, bytes_per_network(spec, batch, dtype))))


def draw_stacked(spec: Spec, indices: int | range, batch: int, seed: int,
                 device: str = "cpu", dtype: torch.dtype = torch.float64,
                 ) -> tuple[Params, Params]:
    """Networks ``indices`` (``range(indices)`` for a count) as :func:`measure` draws them,
    their parameters and data each stacked along a leading axis in ``dtype`` (float64 by
    default: the claims' small exact checks).

    Each network is drawn in :func:`draw_dtype` with its own CPU generator (the bits do not
    depend on the threads) on up to ``torch.get_num_threads()`` threads when its tensors are
    large enough to pay for them (:data:`THREADED_DRAW_MIN_ENTRIES`; ATen releases the GIL;
    drawing, mostly ``normal_`` on one core, costs about as much as the stacked forward and
    backward pass). The first network is drawn on fresh memory and copied; from it, the
    probe learns which of the :class:`~gradbench.models.Draw`'s allocations hold which
    returned tensors (the whole allocation, or a view of it, as the rows of a stack of
    weights). Each such allocation gets a stacked twin, each tensor the same view of the
    twin (a tensor that overlaps one placed before it gets a stack of its own), and the
    other networks are handed the twins' slots to draw into
    (:func:`_slot_allocator`): no temporary per weight, no second pass over every
    parameter. Whatever a family returns that was not drawn in its slot is copied there.
    Looked up on :mod:`gradbench.models` at call time, so a test can substitute networks."""
    from gradbench import models

    indices = range(indices) if isinstance(indices, int) else indices
    count, made_in = len(indices), draw_dtype(dtype)
    drawn: dict[str, list[Tensor]] = {stream: [] for stream in models.STREAMS}

    def recorder(stream: str) -> Allocator:
        def allocate(shape: tuple[int, ...]) -> Tensor:
            drawn[stream].append(torch.empty(shape, dtype=made_in))
            return drawn[stream][-1]
        return allocate

    first = models.draw_network(spec, batch, seed, indices[0], made_in,
                                {stream: recorder(stream) for stream in models.STREAMS})
    twins: dict[str, dict[int, Tensor]] = {stream: {} for stream in models.STREAMS}
    stacked: tuple[Params, Params] = ({}, {})
    for stream, part, out in zip(models.STREAMS, first, stacked):
        home = {a.untyped_storage().data_ptr(): i for i, a in enumerate(drawn[stream])}
        claimed: dict[int, list[tuple[int, int]]] = {}  # allocation -> spans given to keys
        for key, t in part.items():
            i = home.get(t.untyped_storage().data_ptr()) if dtype == made_in else None
            span = _span(t)
            if i is None or t.dtype != made_in or any(
                    span[0] < end and start < span[1] for start, end in claimed.get(i, ())):
                out[key] = torch.empty((count, *t.shape), dtype=dtype)  # copied there
                continue
            claimed.setdefault(i, []).append(span)
            if i not in twins[stream]:
                twins[stream][i] = torch.empty((count, *drawn[stream][i].shape), dtype=dtype)
            twin = twins[stream][i]
            out[key] = twin.as_strided((count, *t.shape), (twin.stride(0), *t.stride()),
                                       t.storage_offset())
    storages = {out.untyped_storage().data_ptr() for part in stacked for out in part.values()}
    slots = [{key: _SlotView.of(out) for key, out in part.items()} for part in stacked]

    def place(slot: int, net: tuple[Params, Params]) -> None:
        moves = [(out[key][slot], t) for part, out, views in zip(net, stacked, slots)
                 for key, t in part.items() if not views[key].is_slot(t, slot)]
        moves = [(target, t.clone() if t.untyped_storage().data_ptr() in storages else t)
                 for target, t in moves]  # a source in another slot is saved before any copy
        for target, t in moves:
            target.copy_(t)  # cast and copy at once, same bits as .to(dtype)

    def draw(slot: int) -> None:
        allocators = {stream: _slot_allocator(twin, slot, made_in)
                      for stream, twin in twins.items()}
        place(slot, models.draw_network(spec, batch, seed, indices[slot], made_in, allocators))

    place(0, first)
    workers = min(count - 1, torch.get_num_threads()) if _worth_threads(first) else 1
    if workers <= 1:
        for slot in range(1, count):
            draw(slot)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(draw, range(1, count)))
    params, data = ({key: t.to(device=device) for key, t in part.items()} for part in stacked)
    return params, data


class _SlotView(NamedTuple):
    """Where slot ``i`` of a stacked tensor lies: ``i * step_bytes`` bytes past ``start``,
    with the stack's dtype and its shape and strides after the first axis."""

    start: int
    step_bytes: int
    dtype: torch.dtype
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    @classmethod
    def of(cls, stack: Tensor) -> _SlotView:
        return cls(stack.data_ptr(), stack.stride(0) * stack.element_size(), stack.dtype,
                   tuple(stack.shape[1:]), stack.stride()[1:])

    def is_slot(self, t: Tensor, slot: int) -> bool:
        """Whether ``t`` is exactly slot ``slot`` of the stack: the same entries of the same
        memory, so it needs no copy (checked without indexing the stack: one check per
        parameter per network)."""
        return (t.data_ptr() == self.start + slot * self.step_bytes and t.dtype == self.dtype
                and tuple(t.shape) == self.shape and t.stride() == self.stride)


def _span(t: Tensor) -> tuple[int, int]:
    """The entries ``[first, last + 1)`` of its storage that ``t`` reaches (empty for an
    empty tensor): two tensors whose spans are disjoint share no entry."""
    if t.numel() == 0:
        return (0, 0)
    first = int(t.storage_offset())
    last = first + sum((size - 1) * stride for size, stride in zip(t.shape, t.stride()))
    return (first, last + 1)


def _slot_allocator(twins: dict[int, Tensor], slot: int, made_in: torch.dtype) -> Allocator:
    """An allocator whose i-th call returns slot ``slot`` of the first network's i-th
    allocation's stacked twin (``twins[i]``), and fresh memory for any other call or shape."""
    calls = itertools.count()

    def allocate(shape: tuple[int, ...]) -> Tensor:
        twin = twins.get(next(calls))
        if twin is None or tuple(shape) != tuple(twin.shape[1:]):
            return torch.empty(shape, dtype=made_in)
        return twin[slot]
    return allocate


def _worth_threads(net: tuple[Params, Params]) -> bool:
    """Whether a network's tensors average :data:`THREADED_DRAW_MIN_ENTRIES` entries."""
    tensors = [t for part in net for t in part.values()]
    return sum(t.numel() for t in tensors) >= THREADED_DRAW_MIN_ENTRIES * len(tensors)


def _reduction_dtype(t: Tensor) -> torch.dtype:
    """float64 for float64 tensors, else float32: norms of a float32 (or bfloat16) pass are
    taken in float32 with torch's cascaded sums, exact to ~1e-6, far below sampling noise,
    without a float64 copy of every site (which cost as much as the backward pass)."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def _frobenius(t: Tensor | None, like: Tensor) -> Tensor:
    """Per-network Frobenius norm over every axis but the first (float64 result)."""
    if t is None:
        return torch.zeros(like.shape[0], dtype=torch.float64, device=like.device)
    flat = t.detach().flatten(start_dim=1)
    return torch.linalg.vector_norm(flat, dim=1, dtype=_reduction_dtype(t)).double()


def _mean_square(t: Tensor) -> Tensor:
    """Per-network mean of the squared entries over every axis but the first (float64)."""
    per_network = t[0].numel() if t.shape[0] else 1
    return _frobenius(t, t) ** 2 / per_network


def outer_product_norm(g: Tensor, x: Tensor) -> Tensor:
    r"""Per network ``||g^T x||_F`` for ``g: [S, B, n]``, ``x: [S, B, m]`` (float64 result,
    computed in float64 for float64 inputs, else in float32).

    With fewer examples than features it uses the Gram identity
    :math:`\|g^\top x\|_F^2 = \sum_{bc} (g g^\top)_{bc} (x x^\top)_{bc}`, which costs
    :math:`O(B^2 n)` instead of forming the :math:`n \times m` product.
    """
    dtype = _reduction_dtype(g)
    g, x = g.detach().to(dtype), x.detach().to(dtype)
    if g.shape[-2] < min(g.shape[-1], x.shape[-1]):
        sq = ((g @ g.mT) * (x @ x.mT)).flatten(1).sum(dim=1)
        return sq.clamp(min=0.0).sqrt().double()
    return torch.linalg.vector_norm((g.mT @ x).flatten(1), dim=1).double()


def _norms_on_backward(reads: list[tuple[Tensor, Callable[[Tensor], Tensor]]],
                       networks: int, device: torch.device) -> Tensor:
    """``[networks, len(reads)]``: for each ``(tensor, norm)`` the column ``norm(gradient
    reaching tensor)``, written by a hook as backward forms that gradient (0 where no
    gradient reaches, the tensor does not require one, or autograd hands the hook ``None``:
    an unused output of an op with several, such as ``split``, whose other outputs the loss
    uses). Unlike ``retain_grad`` it clones and keeps no gradient, and it reads each one
    while it is still in cache: 7% of an MLP probe's time (depth 50, width 128). The
    columns are allocated before backward and written in place, so no result is allocated
    amid the memory backward frees (which fragmented the heap: later passes faulted in
    fresh pages)."""
    out = torch.zeros(len(reads), networks, dtype=torch.float64, device=device)

    def store(i: int, norm: Callable[[Tensor], Tensor]) -> Callable[[Tensor], None]:
        def hook(grad: Tensor | None) -> None:
            if grad is not None:
                out[i].copy_(norm(grad))
        return hook

    for i, (t, norm) in enumerate(reads):
        if t.requires_grad:
            t.register_hook(store(i, norm))
    return out.T


def _gradient_norm(grad: Tensor) -> Tensor:
    """Per-network Frobenius norm of a gradient (float64 result)."""
    return _frobenius(grad, grad)


def _weight_grad_norms(family: Family, spec: Spec, params: Params) -> Tensor:
    """[S, sites] norms of each site's weight group's gradient, from the parameters' ``.grad``
    (after backward)."""
    columns = []
    for names in family.weight_groups(spec):
        sq = sum(_frobenius(params[n].grad, params[n]) ** 2 for n in names)
        columns.append(torch.sqrt(sq))  # type: ignore[arg-type]
    return torch.stack(columns, dim=1)


def draw_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype networks are drawn in for a pass in ``dtype``: float64 stays, else float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _measure_chunk(
    spec: Spec, indices: range, batch: int, device: str, dtype: torch.dtype, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    family = family_of(spec)
    params, data = draw_stacked(spec, indices, batch, seed, device, dtype)
    if not family.weight_grads_from_sites:
        for name in {n for group in family.weight_groups(spec) for n in group}:
            params[name].requires_grad_(True)
    data[family.input_key].requires_grad_(True)  # the first site is then observable
    fwd = family.forward(spec, params, data)
    with torch.no_grad():
        q = torch.stack([_mean_square(s) for s in fwd.sites], dim=1)
    act = _norms_on_backward([(s, _gradient_norm) for s in fwd.sites], len(q), q.device)
    # where the forward names each site's (grad source, input) pair (MLP layers, RNN steps)
    # the weight gradient (dL/d source)^T @ input is never formed
    pairs = None if fwd.weight_inputs is None else _norms_on_backward(
        [(src, functools.partial(outer_product_norm, x=inp)) for src, inp in fwd.weight_inputs],
        len(q), q.device)
    loss = fwd.loss
    del fwd  # no site is read after backward: they need not be kept through it
    loss.backward()
    with torch.no_grad():
        weights = _weight_grad_norms(family, spec, params) if pairs is None else pairs
        return act.cpu().numpy(), weights.cpu().numpy(), q.cpu().numpy()


def measure(
    spec: Spec,
    seeds: int = 16,
    batch: int = 64,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
) -> Measurement:
    """Measure gradient and activation norms at every site of ``seeds`` random networks.

    All networks are run in one stacked forward and one backward pass (chunked over
    networks only when the memory budget requires it; chunking does not change the
    numbers). The loss is ``<R, y>`` for the network output ``y`` and a fixed random
    readout ``R`` with isotropic unit rows scaled to ``||R||_F = 1``, so the backward
    signal entering the top is isotropic with unit norm. Inputs have i.i.d.
    ``N(0, spec.input_var)`` entries. The same spec, seed and dtype give bit-identical
    arrays on the CPU. On glibc it first calls :func:`keep_freed_memory`, which is
    process-wide: the process then keeps up to the memory budget of freed memory for reuse.

    Args:
        spec: the network family (:class:`~gradbench.MLPSpec`, ``ResidualSpec``, ``RNNSpec``).
        seeds: number of independent networks.
        batch: examples per network.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        dtype: ``"float32"``, ``"float64"`` or ``"bfloat16"``.
        seed: base seed; network ``i`` is seeded from ``(spec, seed, i)``.

    Returns:
        A :class:`~gradbench.records.Measurement` with ``[seeds, sites]`` arrays.

    Raises:
        InvalidArgument: a bad argument, or an unavailable device.

    Examples:
        >>> from gradbench import MLPSpec
        >>> m = measure(MLPSpec(depth=4, width=16), seeds=2, batch=8)
        >>> m.act_grad_norms.shape
        (2, 4)
    """
    seeds, batch, seed = _measure_iv(spec, seeds, batch, device, dtype, seed)
    keep_freed_memory()
    step = chunk_size(spec, seeds, batch, dtype)
    parts = [
        _measure_chunk(spec, range(i, min(seeds, i + step)), batch, device, DTYPES[dtype], seed)
        for i in range(0, seeds, step)
    ]
    act, weights, q = (np.concatenate(arrays, axis=0) for arrays in zip(*parts))
    return _measurement(spec, seeds, batch, seed, str(device), dtype, act, weights, q)


def _measurement(
    spec: Spec,
    seeds: int,
    batch: int,
    seed: int,
    device: str,
    dtype: str,
    act: np.ndarray,
    weights: np.ndarray,
    q: np.ndarray,
) -> Measurement:
    nonfinite = ~(np.isfinite(act) & np.isfinite(weights) & np.isfinite(q))
    return Measurement(
        spec=spec.to_dict(),
        seeds=seeds,
        batch=batch,
        seed=seed,
        device=device,
        dtype=dtype,
        act_grad_norms=act,
        weight_grad_norms=weights,
        preact_second_moment=q,
        nonfinite=nonfinite,
    )


def measure_reference(spec: Spec, seeds: int = 4, batch: int = 16, seed: int = 0) -> Measurement:
    """The naive float64 reference: per seed, build the ``nn.Module``, backward, read ``.grad``.

    Slow by design (a Python loop over models). For RNNs the per-step weight-gradient
    contribution is not observable inside ``nn.RNNCell``; its column is NaN here.
    """
    seeds, batch, seed = _measure_iv(spec, seeds, batch, "cpu", "float64", seed)
    family = family_of(spec)
    act, weights, q = [], [], []
    for index in range(seeds):
        params, data = draw_network(spec, batch, seed, index)
        model = family.module(spec, params)
        taps = [m for m in model.modules() if isinstance(m, Tap)]
        seen: list[Tensor] = []

        def keep(
            module: torch.nn.Module, args: object, out: Tensor, seen: list[Tensor] = seen
        ) -> None:
            out.retain_grad()
            seen.append(out)

        handles = [t.register_forward_hook(keep) for t in taps]
        data[family.input_key].requires_grad_(True)
        (data["R"] * model(data)).sum().backward()
        for handle in handles:
            handle.remove()
        act.append([float(s.grad.norm()) if s.grad is not None else 0.0 for s in seen])
        q.append([float(s.detach().pow(2).mean()) for s in seen])
        weights.append(family.reference_weight_norms(spec, model))
    return _measurement(
        spec, seeds, batch, seed, "cpu", "float64", np.array(act), np.array(weights), np.array(q)
    )


def jacobian_eigenvalues(
    spec: Spec, seeds: int = 8, device: str = "cpu", seed: int = 0
) -> np.ndarray:
    """Eigenvalues of ``J J^T`` for the input-output Jacobian ``J = dx^L/dx^0`` of an MLP.

    ``J = D^L W^L ... D^1 W^1`` with ``D^l = diag(phi'(h^l))`` at one input per network
    (Pennington, Schoenholz & Ganguli 2017), built for all seeds at once by stacked
    products of ``n x n`` matrices, in float64. Returns ``[seeds, width]`` eigenvalues.
    A delta-orthogonal 1-D CNN's Jacobian is block-diagonal over positions (docs/theory.md
    §11.1): its ``T`` blocks' eigenvalues, ``[seeds, T channels]``.

    Raises:
        InvalidArgument: ``spec`` is not an MLPSpec without normalization or a
            delta-orthogonal Conv1DSpec.
    """
    family = family_of(spec)
    if not family.has_jacobian(spec):
        raise InvalidArgument(
            f"jacobian_eigenvalues needs an MLPSpec without normalization or a Conv1DSpec "
            f"with delta-orthogonal kernels, got {spec!r}"
        )
    seeds, _, seed = _measure_iv(spec, seeds, 1, device, "float64", seed)
    params, data = draw_stacked(spec, seeds, 1, seed, device)
    x = data[family.input_key]  # [S, 1, n]
    jac = family.input_output_jacobian(spec, params, x)
    return torch.linalg.eigvalsh(jac @ jac.mT).reshape(seeds, -1).cpu().numpy()
