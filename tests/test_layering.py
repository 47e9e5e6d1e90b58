"""Layering (docs/design.md §2): the torch-free modules import *and run* without torch.

Each check runs in a fresh interpreter, so modules already imported by the test session
cannot hide a torch import. Importing is not enough: building a spec validates remedy
names through the registry (which loads the built-in remedies), and theory evaluates
activations, so the subprocess also builds specs, calls theory, predicts and renders a
report, then asserts that torch was never imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # starts pytest/gradbench subprocesses

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
    "gradbench.claims",
    "gradbench.remedies",
    "gradbench.storage",
    "gradbench.summary",
    "gradbench.machine",
    "gradbench.devices",
    "gradbench.gpu_check",
    "gradbench.plugin",
]

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
heavy = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
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


_RUN_WITHOUT_TORCH = """
import json, sys, tempfile
from pathlib import Path

import gradbench as gb
from gradbench import report, theory
from gradbench.specs import spec_from_dict

done = {"chi1": theory.chi1("tanh", 1.0, 0.0), "relu": theory.chi1("relu", 2, 0)}
done["critical"] = theory.critical_sigma_w2("gelu", 0.3)
specs = [
    gb.MLPSpec(depth=3, width=64, activation="gelu", init="orthogonal", norm="batchnorm"),
    gb.MLPSpec(depth=3, width=64, activation="leaky_relu(negative_slope=0.2)"),
    gb.ResidualSpec(depth=3, width=64, activation="tanh", branch_scale="fixup"),
    gb.RNNSpec(cell="rnn_tanh", hidden=64, steps=4, init="normal"),
    gb.RNNSpec(cell="lstm", hidden=8, steps=4),
    gb.Conv1DSpec(depth=3, channels=64, length=8, kernel=3, activation="erf"),
]
for spec in specs:
    assert spec_from_dict(spec.to_dict()) == spec
    done[repr(spec)] = theory.predict(spec).valid
run = report.load_run(sys.argv[1])
done["html"] = len(report.render_report([run]))
with tempfile.TemporaryDirectory() as tmp:
    done["written"] = report.write_report(sys.argv[1], Path(tmp) / "r.html").stat().st_size
torch = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
print(json.dumps({"torch": torch[:10], "done": done}))
"""


def test_specs_theory_and_report_run_without_torch() -> None:
    """docs/design.md §2: build specs, call chi1, predict each family, render a report; no torch."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_WITHOUT_TORCH, str(ROOT / "tests/data/report_base.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
        env={**os.environ, "GRADBENCH_NO_PLUGINS": "1"},  # third-party plugins may import torch
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["torch"] == [], f"torch was imported: {found['torch']}"
    done = found["done"]
    assert done["chi1"] == pytest.approx(1.0, rel=1e-12)
    assert done["relu"] == pytest.approx(1.0, rel=1e-12)
    assert done["critical"] == pytest.approx(1.9561586283, rel=1e-10)
    assert sum(v is True for v in done.values()) == 5  # every spec but the LSTM is predicted
    assert done["html"] > 10_000
    assert done["written"] > 10_000


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
