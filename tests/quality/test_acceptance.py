"""Correct remedies declaring nothing pass ``gradbench validate`` (quick profile; slow).

Each runs the whole quick validation of its kind, as a user types it, from the folder
holding ``acceptance_remedies.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from quality.acceptance_remedies import TARGETS

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("target", TARGETS)
def test_correct_remedy_passes_validate(target: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gradbench", "validate", target, "--out-dir", str(tmp_path)],
        cwd=HERE, capture_output=True, text=True, timeout=1200,
    )
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
