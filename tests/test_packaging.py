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

pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    not (ROOT / "setup.py").exists(), reason="needs the gradbench checkout"
)]


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


DRIFT_REMEDY = """
import math

import torch


def he_init(w, *, generator):
    \"\"\"N(0, 6 / fan_in) while declaring 2 / fan_in: every claim it declares fails.\"\"\"
    with torch.no_grad():
        w.normal_(0.0, math.sqrt(6.0 / w.shape[1]), generator=generator)


he_init.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in,
                          "distribution": "normal", "stable_for": [{"activation": "relu"}]}
"""


def _installed(wheel: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The wheel installed (not editable) into a ``site-packages`` folder, and the environment
    that imports it; Hypothesis tells installed code from the user's by that folder name."""
    target = tmp_path / "lib" / "site-packages"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)], capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = str(target)
    return target, env


def _gradbench(cwd: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from gradbench.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )


def _configurations(path: Path, kind: str) -> dict[str, str]:
    """Case id -> (claim, spec, configuration judged) of the cases of remedies of ``kind``."""
    doc = json.loads(path.read_text())
    return {c["case"]: json.dumps([c["claim"], c["spec"], c["verdict"]["spec"]], sort_keys=True)
            for c in (b["extra_info"]["gradbench"] for b in doc["benchmarks"])
            if (c.get("remedy") or {}).get("kind") == kind}


def test_adding_a_remedy_leaves_other_tests_cases_as_they_were(wheel: Path,
                                                               tmp_path: Path) -> None:
    """Installed, not editable: `--remedy my_remedies:he_init` (a module beside the command,
    full of literals Hypothesis would mix into its draws) changes no activation case; the
    same comparison then flags exactly the remedy's failures as regressions; nothing is
    left in the user's directory but the results folder."""
    _, env = _installed(wheel, tmp_path)
    user = tmp_path / "user"
    user.mkdir()
    (user / "my_remedies.py").write_text(DRIFT_REMEDY)
    select = "test_activation_backward or (test_initializer_variance and he_)"
    plain = _gradbench(user, env, "run", "-k", select)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    added = _gradbench(user, env, "run", "-k", select, "--remedy", "my_remedies:he_init")
    assert added.returncode == 1, added.stdout + added.stderr
    base, new = user / "reports" / "0001_quick.json", user / "reports" / "0002_quick.json"
    before, after = _configurations(base, "activation"), _configurations(new, "activation")
    assert len(before) > 300
    assert before == after
    # nothing of gradbench's, pytest's or Hypothesis's in the user's folder (Python's own
    # bytecode cache of the imported module aside)
    assert sorted(p.name for p in user.iterdir() if p.name != "__pycache__") == [
        "my_remedies.py", "reports"]
    compare = _gradbench(user, env, "compare", str(base), str(new))
    assert compare.returncode == 1, compare.stdout + compare.stderr
    regressions = [line for line in compare.stdout.splitlines() if line.startswith("REGRESSION")]
    failing = [c for c in (b["extra_info"]["gradbench"]
                           for b in json.loads(new.read_text())["benchmarks"])
               if not c["verdict"]["passed"]]
    assert [c["remedy"]["name"] for c in failing] == ["he_init"]  # the shrunk case, once
    assert len(regressions) == 1
    assert regressions[0].startswith("REGRESSION initializer_variance on ")
    assert regressions[0].startswith("REGRESSION initializer_variance on he_init, fan_in=")
    assert regressions[0].endswith("(failed) [regression]")
    assert f"0 only in {base.stem}" in compare.stdout
