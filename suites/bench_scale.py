"""Peak memory of ``gradbench.measure`` against depth and width, and the memory budget.

tracemalloc does not see torch's allocations, so every configuration runs in a fresh
``python -c`` subprocess that reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(peak RSS, KiB on Linux) after importing torch and gradbench, and again after one
``measure``. The benchmarks record the peak (and its growth over the import baseline)
in ``benchmark.extra_info``; nothing asserts on a timing. Run with::

    pytest suites/bench_scale.py -p no:xdist -q
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SEEDS, BATCH, DTYPE = 8, 16, "float32"
DEPTHS, DEPTH_WIDTH = (50, 100, 200), 128
WIDTHS, WIDTH_DEPTH = (128, 256, 512), 20

_CODE = """
import resource, sys
import torch, gradbench as gb
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
depth, width, seeds, batch = map(int, sys.argv[1:5])
m = gb.measure(gb.MLPSpec(depth=depth, width=width), seeds=seeds, batch=batch, dtype=sys.argv[5])
assert m.act_grad_norms.shape == (seeds, depth) and not m.nonfinite.any()
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_PEAKS: dict[tuple[int, int], tuple[float, float]] = {}


def peak_rss_mb(
    depth: int, width: int, seeds: int = SEEDS, batch: int = BATCH, budget_mb: int | None = None
) -> tuple[float, float]:
    """(baseline MB after importing torch + gradbench, peak MB after one measure)."""
    env = dict(os.environ)
    env.pop("GRADBENCH_MEMORY_BUDGET_MB", None)
    if budget_mb is not None:
        env["GRADBENCH_MEMORY_BUDGET_MB"] = str(budget_mb)
    out = subprocess.run(
        [sys.executable, "-c", _CODE, str(depth), str(width), str(seeds), str(batch), DTYPE],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    base, peak = (int(x) / 1024 for x in out[-2:])
    return base, peak


def _cached(depth: int, width: int) -> tuple[float, float]:
    if (depth, width) not in _PEAKS:
        _PEAKS[depth, width] = peak_rss_mb(depth, width)
    return _PEAKS[depth, width]


def _bench(benchmark, depth: int, width: int) -> None:
    base, peak = benchmark.pedantic(peak_rss_mb, args=(depth, width), rounds=1, iterations=1)
    _PEAKS[depth, width] = (base, peak)
    benchmark.extra_info.update(
        depth=depth,
        width=width,
        seeds=SEEDS,
        batch=BATCH,
        dtype=DTYPE,
        baseline_rss_mb=round(base, 1),
        peak_rss_mb=round(peak, 1),
        growth_mb=round(peak - base, 1),
    )


@pytest.mark.parametrize("depth", DEPTHS)
def test_peak_memory_vs_depth(benchmark, depth):
    """Peak RSS of one measure, MLP width 128, depth 50 / 100 / 200."""
    _bench(benchmark, depth, DEPTH_WIDTH)


@pytest.mark.parametrize("width", WIDTHS)
def test_peak_memory_vs_width(benchmark, width):
    """Peak RSS of one measure, MLP depth 20, width 128 / 256 / 512."""
    _bench(benchmark, WIDTH_DEPTH, width)


def test_peak_memory_is_roughly_linear_in_depth():
    """The increments 50 -> 100 and 100 -> 200 (per 50 layers) differ by < 50%."""
    peaks = [_cached(d, DEPTH_WIDTH)[1] for d in DEPTHS]
    steps = [
        (peaks[i + 1] - peaks[i]) / (DEPTHS[i + 1] - DEPTHS[i]) for i in range(len(DEPTHS) - 1)
    ]
    assert all(s > 0 for s in steps), (peaks, steps)
    assert max(steps) / min(steps) < 1.5, (peaks, steps)


def test_chunking_keeps_measure_within_budget():
    """With GRADBENCH_MEMORY_BUDGET_MB=64 the peak stays below baseline + 3 x 64 MB.

    The brief's config (depth 400, width 256, 16 seeds) needs one network per pass at
    this budget and takes ~5 minutes (peak growth ~610 MB: one network alone exceeds
    the budget), so this uses depth 40, width 128, 16 seeds, batch 16: 4 networks per
    pass. Measured on a 2-CPU box: unbudgeted growth ~196 MB, budgeted ~66 MB.
    """
    budget = 64
    base, peak = peak_rss_mb(40, 128, seeds=16, batch=16, budget_mb=budget)
    _, unbudgeted = peak_rss_mb(40, 128, seeds=16, batch=16)
    assert peak < base + 3 * budget, (base, peak)
    assert peak < unbudgeted, (peak, unbudgeted)


@pytest.mark.parametrize(
    ("depth", "width", "seeds"),
    [(1000, 128, 8), (20, 4096, 2)],
    ids=["depth1000", "width4096"],
)
def test_large_configurations_run_within_the_budget(benchmark, depth, width, seeds):
    """Depth 1000 (2 networks per pass) and width 4096 (1 network, 5 GB estimated) run.

    The default 1 GiB budget bounds the pass at ``max(budget, one network)``; peak
    growth stays within 1.5x of that bound. Measured on a 2-CPU box: depth 1000
    ~790 MB in ~6 s, width 4096 ~4.0 GB in ~37 s.
    """
    from gradbench.probe import DEFAULT_MEMORY_BUDGET, bytes_per_network
    from gradbench.specs import MLPSpec

    base, peak = benchmark.pedantic(
        peak_rss_mb, args=(depth, width), kwargs={"seeds": seeds}, rounds=1, iterations=1
    )
    one_network = bytes_per_network(MLPSpec(depth=depth, width=width), BATCH, DTYPE)
    bound_mb = max(DEFAULT_MEMORY_BUDGET, one_network) / 2**20
    benchmark.extra_info.update(
        depth=depth, width=width, seeds=seeds, batch=BATCH, dtype=DTYPE,
        growth_mb=round(peak - base, 1), bound_mb=round(bound_mb, 1),
    )  # fmt: skip
    assert peak - base < 1.5 * bound_mb, (base, peak, bound_mb)
