"""Correct remedies declaring nothing pass ``gradbench validate`` and wrong ones fail it
(quick profile; slow).

Each runs the whole quick validation of its kind, as a user types it, from the folder
holding ``acceptance_remedies.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from quality.acceptance_remedies import TARGETS, WRONG

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


@pytest.mark.parametrize(("target", "args", "says"), WRONG, ids=[w[0] for w in WRONG])
def test_wrong_remedy_fails_validate_saying_why(target: str, args: tuple[str, ...], says: str,
                                                tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gradbench", "validate", target, *args, "--out-dir",
         str(tmp_path)], cwd=HERE, capture_output=True, text=True, timeout=1800,
    )
    print(proc.stdout[-3000:])
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert says in proc.stdout, proc.stdout[-4000:]
