"""Benchmark of the batched gradient probe against the naive loop and the machine's matmul.

Float32 MLP workloads, depth 50, width 128: ``acceptance`` (batch 128, 64 seeds, the
issue's acceptance criterion), ``suite`` (batch 32, 16 seeds, the shape of a
quick-profile case) and ``smoke`` (batch 8, 2 seeds: checks that the benchmark runs, as
the tests of ``gradbench gpu-check`` do). The CUDA cases carry ``gradbench_cuda``.
Timings from the same run, per workload:

* ``gradbench.measure`` (all seeds stacked: one forward, one backward);
* the probe's bound, timed right after the probe when one workload is selected (as the
  README's command does) so that the two see the same load on a shared machine: its
  matrix products as ``bmm`` over the stacked networks (one per layer forward, two
  backward, each layer with its own weights and its own kept input, as in the probe)
  plus drawing all its weights with torch's CPU generator (one generator per network,
  one float32 ``normal_`` per weight matrix, on one thread), the draw divided by the
  thread count (the bound if drawing were split over the threads);
* the same draw split over the threads, a diagnostic that is not part of the bound: how
  much faster the machine draws on its threads than on one (the bound assumes the thread
  count);
* the eager floor, a diagnostic: the bound's products with the elementwise work the probe
  cannot leave out (ReLU forward and backward, the three norms per layer), written by hand
  without autograd, plus that draw on the threads; what the probe's own arithmetic costs
  in eager PyTorch on this machine, with no autograd, chunking or per-network Python;
* the naive loop a PyTorch user would write (per seed: build the ``nn.Module``,
  forward, backward, read ``.grad``), as :func:`gradbench.probe.measure_reference`
  does but in float32;
* the plain loop a user writes from scratch (per network: ``depth`` bias-free
  ``nn.Linear(width, width)`` in float32, weights ``normal_(0, sqrt(2/width),
  generator=g)``, ReLU, ``retain_grad`` on each pre-activation, loss ``h.pow(2).sum()``,
  backward): unlike the naive loop it draws in float32 directly and feeds every network
  the same input, so it is the fastest honest loop, not the probe's twin;
* the probe's own draw (:func:`gradbench.probe.draw_stacked`: parameters and data, on the
  threads, into the stacked tensors), reported beside the bound's;
* ``torch.mm`` of two 2048 x 2048 float32 matrices, the machine's matmul throughput.

The last test reports the speed-ups (naive / batched, plain / batched), the fraction of
the bound the probe reaches (bound / batched) and the fraction of the matmul throughput.
Nothing here asserts on a timing; the assertions check that what is timed computes the
right numbers (the two probes the same, the eager floor autograd's). Run with::

    pytest suites/bench_probe.py -p no:xdist --benchmark-only -q
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch

import gradbench as gb
from gradbench.models import Tap, draw_network, family_of
from gradbench.specs import MLPSpec

DEPTH, WIDTH, DTYPE = 50, 128, "float32"
SPEC = MLPSpec(depth=DEPTH, width=WIDTH)  # ReLU, He normal
# name -> (batch, seeds); "smoke" only checks that the benchmark runs (tests, CPU CI)
WORKLOADS = {"acceptance": (128, 64), "suite": (32, 16), "smoke": (8, 2)}
MATMUL_N = 2048
MATMUL_FLOPS = 2 * MATMUL_N**3
ROUNDS = 5

# gradbench_cuda: `tox -e cuda` selects the CUDA cases; the plugin skips them without a GPU
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.gradbench_cuda),
]

# (device, workload) -> name -> {"min": s, "median": s}; filled by the benchmarks
RESULTS: dict[tuple[str, str], dict[str, dict[str, float]]] = {}


def probe_flops(batch: int, seeds: int) -> int:
    """Forward plus two backward matmuls per layer."""
    return 3 * 2 * seeds * batch * WIDTH**2 * DEPTH


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def naive_float32(
    spec: MLPSpec, seeds: int, batch: int, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """The naive loop: per seed, build the module, forward, backward, read ``.grad`` (float32)."""
    family = family_of(spec)
    act, weights = [], []
    for index in range(seeds):
        params, data = draw_network(spec, batch, 0, index, torch.float32)
        model = family.module(spec, params).to(device=device, dtype=torch.float32)
        data = {k: v.to(device=device, dtype=torch.float32) for k, v in data.items()}
        seen: list[torch.Tensor] = []

        def keep(
            module: torch.nn.Module, args: object, out: torch.Tensor, seen: list = seen
        ) -> None:
            out.retain_grad()
            seen.append(out)

        for tap in (m for m in model.modules() if isinstance(m, Tap)):
            tap.register_forward_hook(keep)
        data["x"].requires_grad_(True)
        (data["R"] * model(data)).sum().backward()
        act.append([float(s.grad.norm()) for s in seen])
        weights.append([float(lin.weight.grad.norm()) for lin in model.linears])
    return np.array(act), np.array(weights)


def plain_loop(seeds: int, batch: int, device: str) -> list[list[float]]:
    """The plain loop (module docstring): per network, per-layer gradient norms."""
    out = []
    x = torch.randn(batch, WIDTH, generator=torch.Generator().manual_seed(0)).to(device)
    for index in range(seeds):
        layers = [torch.nn.Linear(WIDTH, WIDTH, bias=False, device=device)
                  for _ in range(DEPTH)]
        g = torch.Generator(device=layers[0].weight.device).manual_seed(index)
        with torch.no_grad():
            for layer in layers:
                layer.weight.normal_(0.0, (2.0 / WIDTH) ** 0.5, generator=g)
        h, pre = x, []
        for layer in layers:
            z = layer(h)
            z.retain_grad()
            pre.append(z)
            h = torch.relu(z)
        h.pow(2).sum().backward()
        out.append([float(z.grad.norm()) for z in pre])  # type: ignore[union-attr]
    return out


def plain_loop_synced(seeds: int, batch: int, device: str) -> list[list[float]]:
    """:func:`plain_loop` with the device synchronized, as every timed call is."""
    out = plain_loop(seeds, batch, device)
    _sync(device)
    return out


def bound_operands(
    seeds: int, batch: int, device: str
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Operands of the probe's sizes for :func:`bound`: each layer's ``[seeds, width,
    width]`` weights (entries of variance ``1 / width``, so activations keep their scale)
    and the ``[seeds, batch, width]`` input. Drawn once, outside the timed region."""
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(seeds, WIDTH, WIDTH, generator=gen).div_(WIDTH**0.5).to(device)
               for _ in range(DEPTH)]
    return weights, torch.randn(seeds, batch, WIDTH, generator=gen).to(device)


def bound(weights: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The probe's arithmetic alone, on operands of its sizes: forward ``h_{l+1} = h_l W_l``
    keeping every ``h_l``, then backward per layer the weight gradient ``h_l^T g`` and
    ``g <- g W_l^T``, all as ``bmm`` over the stacked networks, each layer with its own
    weights and its own kept input as in the probe (the draw is timed apart,
    :func:`test_bench_bound`)."""
    inputs, h = [], x
    for w in weights:
        inputs.append(h)
        h = torch.bmm(h, w)
    g = h
    for w, h_in in zip(reversed(weights), reversed(inputs)):
        torch.bmm(h_in.mT, g)
        g = torch.bmm(g, w.mT)
    return g


def eager_floor(weights: list[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """:func:`bound`'s products with the probe's elementwise work, by hand (no autograd):
    forward ``z_l = h_{l-1} W_l``, ``h_l = relu(z_l)``, ``mean(z_l^2)`` per network;
    backward from ``dL/dh_L = h_L`` (``L = ||h_L||^2 / 2``), per layer ``g_z = g * 1[h_l >
    0]``, the norms ``||g_z||`` and ``||h_{l-1}^T g_z||_F``, then ``g <- g_z W_l^T``. Returns
    the ``[seeds, depth]`` norms of ``g_z``, of the weight gradients, and the second moments
    (checked against autograd in :func:`test_bench_eager_floor`)."""
    def norm(t: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(t.flatten(1), dim=1)

    inputs, moments, h = [], [], x
    for w in weights:
        inputs.append(h)
        z = torch.bmm(h, w)
        moments.append(norm(z) ** 2 / z[0].numel())
        h = torch.relu(z)
    g, outputs = h, [*inputs[1:], h]
    act, grads = [], []
    for w, h_in, h_out in zip(reversed(weights), reversed(inputs), reversed(outputs)):
        g_z = torch.ops.aten.threshold_backward(g, h_out, 0)
        act.append(norm(g_z))
        grads.append(norm(torch.bmm(h_in.mT, g_z)))
        g = torch.bmm(g_z, w.mT)
    return (torch.stack(act[::-1], dim=1), torch.stack(grads[::-1], dim=1),
            torch.stack(moments, dim=1))


def eager_floor_by_autograd(weights: list[torch.Tensor], x: torch.Tensor
                            ) -> tuple[torch.Tensor, ...]:
    """:func:`eager_floor`'s three norms by autograd (``retain_grad``, ``.grad``)."""
    ws = [w.detach().requires_grad_(True) for w in weights]
    sites, h = [], x
    for w in ws:
        z = torch.bmm(h, w)
        z.retain_grad()
        sites.append(z)
        h = torch.relu(z)
    (h.pow(2).sum() / 2).backward()
    with torch.no_grad():
        act = torch.stack([z.grad.flatten(1).norm(dim=1) for z in sites], dim=1)  # type: ignore[union-attr]
        grads = torch.stack([w.grad.flatten(1).norm(dim=1) for w in ws], dim=1)  # type: ignore[union-attr]
        moments = torch.stack([z.flatten(1).pow(2).mean(dim=1) for z in sites], dim=1)
    return act, grads, moments


def weight_draw(seeds: int) -> int:
    """The bound's draw: every network's weights from its own CPU generator, float32, one
    thread (the draw share of :func:`bound`, divided by the thread count in the summary)."""
    return weight_draw_of(range(seeds))


def weight_draw_on_threads(seeds: int) -> int:
    """:func:`weight_draw` split over ``torch.get_num_threads()`` threads (network ``i`` on
    thread ``i mod threads``): what the machine gives for the draw the bound divides by the
    thread count. A diagnostic beside the bound, not part of it."""
    threads = torch.get_num_threads()

    def share(first: int) -> int:
        return weight_draw_of(range(first, seeds, threads))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(share, range(threads)))


def weight_draw_of(indices: range) -> int:
    """The draw of :func:`weight_draw` for networks ``indices``; returns the weights drawn."""
    w = torch.empty(WIDTH, WIDTH)
    for index in indices:
        g = torch.Generator().manual_seed(index)
        for _ in range(DEPTH):
            w.normal_(0.0, (2.0 / WIDTH) ** 0.5, generator=g)
    return len(indices) * DEPTH


def _record(
    benchmark: Any, key: tuple[str, str], name: str, flops: int | None = None
) -> None:
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is None:  # --benchmark-disable: nothing was timed
        return
    times = {"min": float(stats.min), "median": float(stats.median)}
    RESULTS.setdefault(key, {})[name] = times
    if flops is not None:
        benchmark.extra_info["flops"] = flops
        benchmark.extra_info["gflops_per_s"] = flops / times["min"] / 1e9
        benchmark.extra_info["gflops_per_s_median"] = flops / times["median"] / 1e9


def _synced(device: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` followed by a device synchronization (what every timed call does)."""
    def run() -> Any:
        out = fn()
        _sync(device)
        return out
    return run


def _run(benchmark: Any, fn: Callable[[], Any], rounds: int = ROUNDS) -> Any:
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_batched_probe(benchmark: Any, device: str, workload: str) -> None:
    batch, seeds = WORKLOADS[workload]
    benchmark.group = f"probe-{device}-{workload}"
    benchmark.extra_info.update(spec=SPEC.to_dict(), seeds=seeds, batch=batch, dtype=DTYPE)
    m = _run(benchmark, _synced(device, lambda: gb.measure(
        SPEC, seeds=seeds, batch=batch, device=device, dtype=DTYPE)))
    _record(benchmark, (device, workload), "batched", probe_flops(batch, seeds))
    assert m.act_grad_norms.shape == (seeds, DEPTH)
    assert not m.nonfinite.any()


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_bound(benchmark: Any, device: str, workload: str) -> None:
    """The bound's arithmetic (bmm) is timed here; its draw share (:func:`weight_draw`,
    timed below) divided by the thread count is added in the summary."""
    batch, seeds = WORKLOADS[workload]
    weights, x = bound_operands(seeds, batch, device)
    benchmark.group = f"probe-{device}-{workload}"
    out = _run(benchmark, _synced(device, lambda: bound(weights, x)))
    _record(benchmark, (device, workload), "bmm", probe_flops(batch, seeds))
    assert out.shape == (seeds, batch, WIDTH)


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_eager_floor(benchmark: Any, device: str, workload: str) -> None:
    """The eager floor's arithmetic (:func:`eager_floor`); the threaded draw is added in the
    summary. Its norms are autograd's (float32 rounding apart): the floor does all the work."""
    batch, seeds = WORKLOADS[workload]
    weights, x = bound_operands(seeds, batch, device)
    benchmark.group = f"probe-{device}-{workload}"
    norms = _run(benchmark, _synced(device, lambda: eager_floor(weights, x)))
    _record(benchmark, (device, workload), "floor", probe_flops(batch, seeds))
    for ours, autograd in zip(norms, eager_floor_by_autograd(weights, x)):
        np.testing.assert_allclose(ours.cpu().numpy(), autograd.cpu().numpy(), rtol=1e-4)


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_weight_draw(benchmark: Any, device: str, workload: str) -> None:
    """The bound's draw share (on the CPU generator whatever the device)."""
    _, seeds = WORKLOADS[workload]
    benchmark.group = f"probe-{device}-{workload}"
    assert _run(benchmark, lambda: weight_draw(seeds)) == seeds * DEPTH
    _record(benchmark, (device, workload), "weight_draw")


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_weight_draw_on_threads(benchmark: Any, device: str, workload: str) -> None:
    """The bound's draw on the threads (a diagnostic: how far the machine is from dividing
    the draw by the thread count)."""
    _, seeds = WORKLOADS[workload]
    benchmark.group = f"probe-{device}-{workload}"
    assert _run(benchmark, lambda: weight_draw_on_threads(seeds)) == seeds * DEPTH
    _record(benchmark, (device, workload), "weight_draw_on_threads")


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_naive_loop(benchmark: Any, device: str, workload: str) -> None:
    batch, seeds = WORKLOADS[workload]
    benchmark.group = f"probe-{device}-{workload}"
    benchmark.extra_info.update(spec=SPEC.to_dict(), seeds=seeds, batch=batch, dtype=DTYPE)
    act, weights = _run(benchmark, _synced(device, lambda: naive_float32(SPEC, seeds, batch,
                                                                         device)))
    _record(benchmark, (device, workload), "naive", probe_flops(batch, seeds))
    # the two probes measure the same networks (float32 rounding apart)
    m = gb.measure(SPEC, seeds=seeds, batch=batch, device=device, dtype=DTYPE)
    np.testing.assert_allclose(act, m.act_grad_norms, rtol=1e-3)
    np.testing.assert_allclose(weights, m.weight_grad_norms, rtol=1e-3)


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_plain_loop(benchmark: Any, device: str, workload: str) -> None:
    batch, seeds = WORKLOADS[workload]
    benchmark.group = f"probe-{device}-{workload}"
    benchmark.extra_info.update(depth=DEPTH, width=WIDTH, seeds=seeds, batch=batch, dtype=DTYPE)
    norms = _run(benchmark, lambda: plain_loop_synced(seeds, batch, device))
    _record(benchmark, (device, workload), "plain", probe_flops(batch, seeds))
    assert np.isfinite(norms).all()
    assert np.array(norms).shape == (seeds, DEPTH)


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_parameter_draw(benchmark: Any, device: str, workload: str) -> None:
    """The probe's share that is not arithmetic: drawing the networks' float32 parameters."""
    from gradbench.probe import draw_stacked

    batch, seeds = WORKLOADS[workload]
    benchmark.group = f"probe-{device}-{workload}"
    params, _ = _run(benchmark, lambda: draw_stacked(SPEC, seeds, batch, 0, dtype=torch.float32))
    _record(benchmark, (device, workload), "draw")
    assert params["W0"].shape[0] == seeds


@pytest.mark.parametrize("device", DEVICES)
def test_bench_matmul(benchmark: Any, device: str) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(MATMUL_N, MATMUL_N, generator=gen).to(device)
    b = torch.randn(MATMUL_N, MATMUL_N, generator=gen).to(device)
    benchmark.group = f"matmul-{device}"
    benchmark.extra_info.update(n=MATMUL_N, dtype="float32")
    c = _run(benchmark, _synced(device, lambda: torch.mm(a, b)), rounds=8)
    for workload in WORKLOADS:
        _record(benchmark, (device, workload), "matmul", MATMUL_FLOPS)
    assert c.shape == (MATMUL_N, MATMUL_N)


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_summary(
    benchmark: Any, device: str, workload: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Speed-up and matmul fraction from the timings above (reported, never asserted)."""
    batch, seeds = WORKLOADS[workload]
    flops = probe_flops(batch, seeds)
    benchmark.group = f"summary-{device}-{workload}"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    found = RESULTS.get((device, workload), {})
    missing = {"batched", "naive", "matmul"} - set(found)
    if missing:
        pytest.skip(f"not timed in this run: {', '.join(sorted(missing))}")
    summary: dict[str, float] = {}
    for stat in ("min", "median"):
        batched, naive, matmul = (found[k][stat] for k in ("batched", "naive", "matmul"))
        probe_gflops = flops / batched / 1e9
        matmul_gflops = MATMUL_FLOPS / matmul / 1e9
        summary[f"speedup_naive_over_batched_{stat}"] = naive / batched
        summary[f"probe_gflops_per_s_{stat}"] = probe_gflops
        summary[f"matmul_gflops_per_s_{stat}"] = matmul_gflops
        summary[f"fraction_of_matmul_{stat}"] = probe_gflops / matmul_gflops
        if "plain" in found:
            summary[f"speedup_plain_over_batched_{stat}"] = found["plain"][stat] / batched
        if "weight_draw" in found and "bmm" in found:
            bound_s = found["bmm"][stat] + found["weight_draw"][stat] / torch.get_num_threads()
            summary[f"bound_seconds_{stat}"] = bound_s
            summary[f"fraction_of_bound_{stat}"] = bound_s / batched
        if "floor" in found and "weight_draw_on_threads" in found:
            floor_s = found["floor"][stat] + found["weight_draw_on_threads"][stat]
            summary[f"eager_floor_seconds_{stat}"] = floor_s
            summary[f"fraction_of_eager_floor_{stat}"] = floor_s / batched
            if "weight_draw" in found and "bmm" in found:
                summary[f"eager_floor_fraction_of_bound_{stat}"] = (
                    summary[f"bound_seconds_{stat}"] / floor_s)
        if "weight_draw_on_threads" in found and "weight_draw" in found:
            summary[f"draw_thread_scaling_{stat}"] = (
                found["weight_draw"][stat] / found["weight_draw_on_threads"][stat])
        if "draw" in found:
            draw = found["draw"][stat]
            summary[f"draw_seconds_{stat}"] = draw
            summary[f"fraction_of_matmul_excluding_draw_{stat}"] = (
                flops / max(batched - draw, 1e-12) / 1e9 / matmul_gflops
            )
    benchmark.extra_info.update(summary)
    assert all(np.isfinite(v) and v > 0 for v in summary.values())
    tag = f"{device} {workload}"
    with capsys.disabled():
        print(
            f"\n[{tag}] MLP L={DEPTH} n={WIDTH} batch={batch} seeds={seeds} {DTYPE}: "
            f"batched {found['batched']['min']:.3f} s, naive {found['naive']['min']:.3f} s "
            f"(min of {ROUNDS})"
        )
        print(
            f"[{tag}] speed-up naive/batched: {summary['speedup_naive_over_batched_min']:.2f}x "
            f"(median {summary['speedup_naive_over_batched_median']:.2f}x)"
        )
        print(
            f"[{tag}] probe {summary['probe_gflops_per_s_min']:.1f} GFLOP/s = "
            f"{100 * summary['fraction_of_matmul_min']:.1f}% of torch.mm "
            f"{summary['matmul_gflops_per_s_min']:.1f} GFLOP/s "
            f"(median {100 * summary['fraction_of_matmul_median']:.1f}%)"
        )
        if "fraction_of_bound_median" in summary:
            print(
                f"[{tag}] probe at {100 * summary['fraction_of_bound_median']:.0f}% of its "
                f"bound {summary['bound_seconds_median']:.3f} s (medians); plain loop / "
                f"batched {summary.get('speedup_plain_over_batched_median', math.nan):.2f}x"
            )
        if "fraction_of_eager_floor_median" in summary:
            print(
                f"[{tag}] eager floor {summary['eager_floor_seconds_median']:.3f} s (the "
                f"bound's products, ReLU and norms by hand, no autograd, + the draw on the "
                f"threads): the probe at {100 * summary['fraction_of_eager_floor_median']:.0f}% "
                f"of it, the floor at "
                f"{100 * summary.get('eager_floor_fraction_of_bound_median', math.nan):.0f}% "
                f"of the bound (medians)"
            )
        if "draw_thread_scaling_median" in summary:
            print(
                f"[{tag}] the bound's draw on {torch.get_num_threads()} threads runs "
                f"{summary['draw_thread_scaling_median']:.2f}x faster than on one (the bound "
                f"assumes {torch.get_num_threads()}x)"
            )
        if "draw" in found:
            print(
                f"[{tag}] parameter drawing {found['draw']['min']:.3f} s of it; "
                f"without it the probe reaches "
                f"{100 * summary['fraction_of_matmul_excluding_draw_min']:.1f}% of torch.mm"
            )
