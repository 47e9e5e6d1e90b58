"""The wheel carries the suites and the plugin; installed, `gradbench run` works anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not (ROOT / "setup.py").exists(), reason="needs the gradbench checkout"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy: building leaves build/ and *.egg-info behind
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("gradbench", "suites"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (found,) = out.glob("gradbench-*.whl")
    return found


def test_the_wheel_carries_the_suites_and_the_plugin(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    suites = {p.name for p in (ROOT / "suites").glob("*.py")}
    assert {f"gradbench_suites/{n}" for n in suites} <= names
    plugin = {p.name for p in (ROOT / "gradbench" / "plugin").glob("*.py")}
    assert {f"gradbench/plugin/{n}" for n in plugin} <= names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\ngradbench = gradbench.plugin" in text


def test_installed_run_from_an_empty_directory(wheel: Path, tmp_path: Path) -> None:
    """Not editable, outside the checkout: `gradbench run -k initializer_variance` runs the
    installed suites, only those cases, and writes JSON and HTML."""
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = str(target)
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys, gradbench, gradbench_suites; from gradbench.cli import main; "
         f"assert gradbench.__file__.startswith({str(target)!r}), gradbench.__file__; "
         f"assert gradbench_suites.__file__.startswith({str(target)!r}); "
         "sys.exit(main(sys.argv[1:]))",
         "run", "-k", "initializer_variance"],
        cwd=empty, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"rootdir: {target / 'gradbench_suites'}" in proc.stdout
    doc = json.loads((empty / "reports" / "0001_quick.json").read_text())
    claims = {b["extra_info"]["gradbench"]["claim"] for b in doc["benchmarks"]}
    assert claims == {"initializer_variance"}
    assert (empty / "reports" / "0001_quick.html").exists()
    assert all(b["fullname"].startswith("suites/test_initializers.py::")
               for b in doc["benchmarks"])
