"""Wall time of ``gradbench validate`` on a user's pre-LN transformer block (docs/blocks.md).

The block is ``examples/blocks/my_block.py:block`` (torch.nn MultiheadAttention with
``batch_first=True``, a 4x GELU MLP, LayerNorm), validated with the quick profile: width
32, seq 8, batch 4, float64, 16 seeds, depths 4, 8, 16, 32, 64, beside the built-in
baselines ``pre_ln`` and ``unscaled_residual`` on the same seeds (3 blocks x 16 seeds x
124 blocks per seed). Nothing asserts on a time::

    pytest suites/bench_blocks.py -p no:xdist -p no:cacheprovider --benchmark-only \
        --benchmark-columns=min,median --benchmark-json=reports/bench-blocks.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "blocks" / "my_block.py"


@pytest.mark.skipif(not EXAMPLE.exists(), reason="needs the examples/ folder of the checkout")
def test_validate_pre_ln_block(benchmark: Any, tmp_path: Path) -> None:
    from gradbench.blocks import validate_block

    result = benchmark.pedantic(
        lambda: validate_block(f"{EXAMPLE}:block", out_dir=tmp_path), rounds=3, iterations=1)
    assert result.exit_code == 0  # the pre-LN law is a power law, so the run passes
