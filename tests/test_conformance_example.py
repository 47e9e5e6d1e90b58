"""The ecosystem conformance example (``examples/conformance``), on two targets at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "examples" / "conformance"
pytestmark = pytest.mark.skipif(not HERE.exists(), reason="needs the checkout's examples/")


def test_two_validations_at_once_give_each_target_its_own_verdict(tmp_path: Path) -> None:
    targets = ["torch.nn.init:zeros_", "torch.nn.init:kaiming_normal_"]
    proc = subprocess.run([sys.executable, "conformance.py", str(tmp_path), "--jobs", "2",
                           *targets], cwd=HERE, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in (tmp_path / "summary.md").read_text().splitlines()
            if line.startswith("| `torch.nn.init:")]
    assert rows[0].startswith("| `torch.nn.init:zeros_` | initializer | fails | `stable_somewhere`")
    assert rows[1] == "| `torch.nn.init:kaiming_normal_` | initializer | passes | - |"
    assert len(list(tmp_path.glob("*_validate-*.json"))) == 2  # distinct numbers, none lost
    assert (tmp_path / "index.html").stat().st_size > 0


def test_a_bad_job_count_is_one_sentence(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "conformance.py", str(tmp_path), "--jobs", "0"],
                          cwd=HERE, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--jobs 0 is invalid: must be 1 or more" in proc.stderr
