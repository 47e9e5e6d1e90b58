"""Layering (STYLE.md section 1): the torch-free modules import without torch.

Each import runs in a fresh interpreter, so modules already imported by the test
session cannot hide a torch import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH_FREE = [
    "gradbench",
    "gradbench.errors",
    "gradbench.records",
    "gradbench.specs",
    "gradbench.registry",
    "gradbench.theory",
    "gradbench.stats",
    "gradbench.report",
    "gradbench.storage",
    "gradbench.machine",
    "gradbench.plugin",
]

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "gradbench.remedies"))
print(json.dumps({"torch": "torch" in sys.modules, "heavy": heavy[:10]}))
"""


def _module_file(module: str) -> Path:
    parts = module.split(".")
    package = ROOT.joinpath(*parts, "__init__.py")
    return package if package.exists() else ROOT.joinpath(*parts[:-1], parts[-1] + ".py")


def _imported_in_fresh_interpreter(module: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, module],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"importing {module} failed:\n{proc.stderr}"
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_imports_without_torch(module: str) -> None:
    if not _module_file(module).exists():
        pytest.skip(f"{module} does not exist yet")
    found = _imported_in_fresh_interpreter(module)
    assert found["torch"] is False, f"importing {module} imported torch: {found['heavy']}"


def test_the_check_detects_a_torch_import() -> None:
    """Control: gradbench.models does import torch, and the same probe reports it."""
    found = _imported_in_fresh_interpreter("gradbench.models")
    assert found["torch"] is True


def test_tests_and_suites_collect_in_one_session() -> None:
    """``tox -e cuda`` collects tests/ and suites/ together; same-named files must not clash."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests", "suites"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
