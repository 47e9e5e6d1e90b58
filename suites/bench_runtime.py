"""Wall time of the quick suite and of ``gradbench validate``, now against before, in one run.

"Before" is gradbench at commit ``34eed43`` (main when the issues on user blocks and on
transformers and deep CNNs were filed; environment variable ``GRADBENCH_BENCH_BEFORE``
names another commit), extracted with ``git archive`` into a temporary folder and imported
first through ``PYTHONPATH`` with the pytest plugin its ``pyproject.toml`` names; "now" is
this checkout. Each is one subprocess, one round (a run takes about a minute), timed by
pytest-benchmark in the same session, so the ratio is measured side by side. The quick suite
runs serially (``gradbench run``'s default); validation runs
``torch.nn.init:kaiming_normal_`` as an initializer. Nothing asserts on a time::

    pytest suites/bench_runtime.py -p no:xdist -p no:cacheprovider --benchmark-only \
        --benchmark-columns=min --benchmark-json=reports/bench-runtime.json
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEFORE = os.environ.get("GRADBENCH_BENCH_BEFORE", "34eed43")
OTHER_PLUGINS = ["xdist.plugin", "pytest_benchmark.plugin", "_hypothesis_pytestplugin"]


@pytest.fixture(scope="module")
def before() -> Iterator[Path]:
    """The package and suites at :data:`BEFORE`, extracted into a temporary folder."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout (git archive of the earlier commit)")
    with tempfile.TemporaryDirectory(prefix="gradbench-before-") as tmp:
        archive = Path(tmp) / "before.tar"
        subprocess.run(["git", "archive", "-o", str(archive), BEFORE, "gradbench", "suites",
                        "pyproject.toml"], cwd=ROOT, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def _env(first: Path | None) -> dict[str, str]:
    env = {**os.environ, "CI": ""}
    if first is not None:  # the old package first, and no entry-point plugins (ours moved)
        env.update(PYTHONPATH=str(first), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return env


def _plugins(root: Path) -> list[str]:
    """``-p`` for the old checkout's own pytest plugin (its entry point moved over time) and
    the third-party ones, as entry-point autoloading is off for it."""
    text = (root / "pyproject.toml").read_text()
    own = re.search(r'\[project\.entry-points\.pytest11\]\s*gradbench\s*=\s*"([^"]+)"',
                    text).group(1)  # type: ignore[union-attr]
    return [arg for name in (own, *OTHER_PLUGINS) for arg in ("-p", name)]


def _quick(root: Path, out: Path, old: bool) -> None:
    cmd = [sys.executable, "-m", "pytest", str(root / "suites"), "-q", "-p", "no:cacheprovider",
           "--gradbench-profile=quick", f"--gradbench-json={out}",
           *(_plugins(root) if old else [])]
    subprocess.run(cmd, cwd=root, env=_env(root if old else None), check=True,
                   capture_output=True)


def _validate(root: Path, out: Path, old: bool) -> None:
    cmd = [sys.executable, "-m", "gradbench", "validate", "torch.nn.init:kaiming_normal_",
           "--kind", "initializer", "--out-dir", str(out)]
    # exit 1 would be a failed claim: a verdict, still a timed run
    proc = subprocess.run(cmd, cwd=root, env=_env(root if old else None), capture_output=True)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]


@pytest.mark.benchmark(group="quick suite")
def test_quick_suite_before(benchmark, before, tmp_path):
    benchmark.pedantic(_quick, args=(before, tmp_path / "q.json", True), rounds=1, iterations=1)


@pytest.mark.benchmark(group="quick suite")
def test_quick_suite_now(benchmark, tmp_path):
    benchmark.pedantic(_quick, args=(ROOT, tmp_path / "q.json", False), rounds=1,
                       iterations=1)


@pytest.mark.benchmark(group="validate quick")
def test_validate_before(benchmark, before, tmp_path):
    benchmark.pedantic(_validate, args=(before, tmp_path, True), rounds=1, iterations=1)


@pytest.mark.benchmark(group="validate quick")
def test_validate_now(benchmark, tmp_path):
    benchmark.pedantic(_validate, args=(ROOT, tmp_path, False), rounds=1, iterations=1)
