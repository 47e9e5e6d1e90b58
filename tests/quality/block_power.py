"""Measured false-alarm rate and power of the block depth law (docs/blocks.md §4.1).

A *false alarm* is an exponential law called on a block whose law is not exponential (a
pre-LN transformer block: a power law; a residual block scaled by 1/sqrt(depth):
bounded); *power* is the fraction of runs that call a planted exponential law
exponential: ``x + alpha W2 relu(W1 x)`` with a fixed alpha (gradients grow
``sqrt(1 + 2 alpha^2)`` per block, so ``c L* = 32 ln(1 + 2 alpha^2)`` at depth 64) and
tanh's chaotic phase. Each run is ``gradbench validate``'s quick configuration (width 32,
seq 8, batch 4, 16 seeds, depths 4..64) with base seed ``0 .. n-1``; on synthetic laws,
``ln r = ln(1.3 L^0.5) + c L + N(0, 0.3^2)`` per seed (noise like a pre-LN block's).

``python tests/quality/block_power.py [n]`` prints the table; ``tests/test_blocks.py``
(slow) checks the bounds.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from gradbench import blocks
from gradbench.registry import import_object

ZOO = Path(__file__).resolve().parents[1] / "blocks_zoo.py"


def _zoo(name: str):  # type: ignore[no-untyped-def]
    return import_object(f"{ZOO}:{name}")


def cases() -> dict[str, tuple[object, bool]]:
    """name -> (factory, whether its law is exponential)."""
    fixed = _zoo("fixed_residual")
    return {"pre_ln": (_zoo("pre_ln"), False),
            "scaled_residual (1/sqrt(depth))": (_zoo("scaled_residual"), False),
            "fixed_residual alpha=0.12 (x2.5 at 64)": (fixed(0.12), True),
            "fixed_residual alpha=0.2 (x12 at 64)": (fixed(0.2), True),
            "chaotic_tanh": (_zoo("chaotic_tanh"), True)}


def exponential_rate(factory: object, n: int) -> float:
    """Fraction of ``n`` base seeds whose law is called exponential."""
    hits = 0
    for base in range(n):
        spec = blocks.BlockSpec(str(ZOO), seeds=blocks.SEEDS["quick"], base_seed=base)
        hits += blocks.report(factory, spec).law.law == "exponential"  # type: ignore[arg-type]
    return hits / n


def synthetic_rate(c: float, n: int = 2000, seeds: int = 16, noise: float = 0.3) -> float:
    """Fraction of ``n`` synthetic runs called exponential at rate ``c`` per block."""
    rng = np.random.default_rng(12345)
    depths = np.array(blocks.DEPTHS, dtype=float)
    hits = 0
    for _ in range(n):
        y = np.log(1.3 * depths ** 0.5) + c * depths + rng.normal(0, noise, (seeds, depths.size))
        hits += blocks.depth_law(depths, y).law == "exponential"
    return hits / n


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print("| block | law | exponential called |\n|---|---|---|")
    for name, (factory, exponential) in cases().items():
        rate = exponential_rate(factory, n)
        print(f"| {name} | {'exponential' if exponential else 'not exponential'} | "
              f"{rate:.2f} ({'power' if exponential else 'false alarm'}, n={n}) |")
    print("\n| synthetic exp(c L*) at L* = 64 | law | called exponential, 16 seeds | 32 seeds |")
    print("|---|---|---|---|")
    for factor in (1.0, 2.0, 4.0, 8.0, 16.0):
        c = math.log(factor) / 64
        law = {1.0: "power (c = 0)", 2.0: "at the floor F"}.get(factor, "exponential")
        print(f"| x{factor:g} | {law} | {synthetic_rate(c):.3f} | "
              f"{synthetic_rate(c, seeds=32):.3f} |")
