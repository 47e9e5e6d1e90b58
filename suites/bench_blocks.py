"""Wall time of ``gradbench validate`` on a user's pre-LN transformer block (docs/blocks.md).

The block is ``examples/blocks/my_block.py:block`` (torch.nn MultiheadAttention with
``batch_first=True``, a 4x GELU MLP, LayerNorm), validated with the quick profile: width
32, seq 8, batch 4, float64, 16 seeds, depths 4, 8, 16, 32, 64, beside the built-in
baselines ``pre_ln`` and ``unscaled_residual`` on the same seeds (3 blocks x 16 seeds x
124 blocks per seed). Nothing asserts on a time.

The user-block path against the plain loop (issue: the path stays within 1.2x of it): the
acceptance workload of ``bench_probe.py`` (MLP depth 50, width 128, batch 128, 64 networks,
float32) as a block ``relu(W x)`` with ``W ~ N(0, 2/width)`` drawn from the generator,
measured by :func:`gradbench.blocks.measure_seeds` as ``validate`` runs it (zero taps, one
intra-op thread per network and as many networks at a time as there are threads, plus its
output change and token similarity), beside ``bench_probe.plain_loop``
(two threads, nothing but the forward and backward), and the same path without the output
change (``with_output_change=False``: the taps' gradients only; the output change is read
from the weights' gradients of the same backward, which the plain loop computes too). Each
is parametrized by device (the CUDA cases marked ``gradbench_cuda``, skipped without a GPU;
``gradbench gpu-check`` runs them) and by workload (``smoke``, bench_probe's tiny one, for
the tests). The last test prints the ratios::

    pytest suites/bench_blocks.py -p no:xdist -p no:cacheprovider --benchmark-only \
        --benchmark-columns=min,median --benchmark-json=reports/bench-blocks.json
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "blocks" / "my_block.py"

sys.path.insert(0, str(Path(__file__).parent))
try:
    from bench_probe import DEPTH, DEVICES, WIDTH, WORKLOADS, _sync, plain_loop_synced
finally:
    sys.path.remove(str(Path(__file__).parent))


@pytest.mark.skipif(not EXAMPLE.exists(), reason="needs the examples/ folder of the checkout")
def test_validate_pre_ln_block(benchmark: Any, tmp_path: Path) -> None:
    from gradbench.blocks import validate_block

    result = benchmark.pedantic(
        lambda: validate_block(f"{EXAMPLE}:block", out_dir=tmp_path), rounds=3, iterations=1)
    assert result.exit_code == 0  # the pre-LN law is a power law, so the run passes


PATH_WORKLOADS = ("acceptance", "smoke")  # bench_probe's (batch, networks); smoke for tests
ROUNDS = 5  # medians of 5 rounds, as the figures
TIMES: dict[tuple[str, str, str], float] = {}  # (device, workload, path) -> median s


class ReluLinear(torch.nn.Linear):
    """``relu(W x)``: the plain loop's layer, one ``nn.Linear`` and ``torch.relu``, as one
    module (an ``nn.Sequential(Linear, ReLU)`` would add two modules' construction and call
    overhead the plain loop does not pay, about 15% here)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(super().forward(x))


def relu_linear(width: int, *, layer: int, depth: int, generator: torch.Generator) -> Any:
    """The plain loop's layer as a block: ``relu(W x)``, ``W ~ N(0, 2/width)``."""
    block = ReluLinear(width, width, bias=False)
    with torch.no_grad():
        block.weight.normal_(0.0, math.sqrt(2.0 / width), generator=generator)
    return block


def _median(benchmark: Any) -> float:
    return float(benchmark.stats.stats.median)


@pytest.mark.parametrize("with_output_change", [True, False],
                         ids=["with_output_change", "gradients_only"])
@pytest.mark.parametrize("workload", PATH_WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_block_path(benchmark: Any, device: str, workload: str,
                          with_output_change: bool) -> None:
    from gradbench import blocks

    batch, seeds = WORKLOADS[workload]
    spec = blocks.BlockSpec("bench_blocks:relu_linear", width=WIDTH, seq=1, batch=batch,
                            depths=(4, 16, DEPTH), seeds=seeds, dtype="float32", device=device)

    def run() -> list[Any]:
        with blocks._isolated() as threads:
            out = blocks.measure_seeds(relu_linear, spec, DEPTH,
                                       with_output_change=with_output_change, workers=threads)
        _sync(device)
        return out

    out = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert all(np.isfinite(m.gradient_norms).all() for m in out)
    assert all(np.isfinite(m.output_change) == with_output_change for m in out)
    TIMES[device, workload, "block" if with_output_change else "gradients"] = _median(benchmark)


@pytest.mark.parametrize("workload", PATH_WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_plain_loop_beside_it(benchmark: Any, device: str, workload: str) -> None:
    batch, seeds = WORKLOADS[workload]
    out = benchmark.pedantic(lambda: plain_loop_synced(seeds, batch, device), rounds=ROUNDS,
                             iterations=1)
    assert np.isfinite(out).all()
    TIMES[device, workload, "plain"] = _median(benchmark)


@pytest.mark.parametrize("workload", PATH_WORKLOADS)
@pytest.mark.parametrize("device", DEVICES)
def test_bench_block_path_over_plain_loop(benchmark: Any, device: str, workload: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The ratios of the timings above (reported, never asserted)."""
    benchmark.group = f"summary-blocks-{device}-{workload}"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    keys = [(device, workload, k) for k in ("block", "gradients", "plain")]
    if set(keys) - set(TIMES):
        pytest.skip("the block path (both ways) and the plain loop must be timed in this run")
    block, grads, plain = (TIMES[k] for k in keys)
    with capsys.disabled():
        print(f"\n[blocks, {device}, {workload}] medians of {ROUNDS}: user-block path "
              f"{block:.3f} s (gradients only {grads:.3f} s), plain loop {plain:.3f} s: ratio "
              f"{block / plain:.2f} (gradients only {grads / plain:.2f})")
    benchmark.extra_info["block_over_plain_median"] = block / plain
    benchmark.extra_info["gradients_only_over_plain_median"] = grads / plain
