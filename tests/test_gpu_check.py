"""The prepared GPU check: its exits without a GPU, each check on the CPU and on a fake GPU,
planted disagreements, and (``tox -e cuda``) the real thing on a GPU."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from cuda_helpers import FakeCuda, needs_cuda

from gradbench import cli, gpu_check, probe
from gradbench.specs import MLPSpec, RNNSpec

SMALL_SPECS = [MLPSpec(depth=3, width=8, activation="tanh", norm="layernorm"),
               RNNSpec(cell="gru", hidden=6, steps=3)]
TINY_SAMPLE = "test_clip_by_value or (test_initializer_variance and he_normal)"


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.usefixtures("no_cuda")
def test_without_cuda_it_says_so_and_exits_2(tmp_path, capsys) -> None:
    assert cli.main(["gpu-check", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "no CUDA device is available here" in err
    assert "--skip-without-gpu" in err
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.usefixtures("no_cuda")
def test_told_to_skip_it_exits_0(tmp_path, capsys) -> None:
    assert gpu_check.main(["--skip-without-gpu", "--output-dir", str(tmp_path)]) == 0
    assert "no CUDA device is available here; skipped" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: it would run the check")
@pytest.mark.integration
def test_python_m_entry_point_without_a_gpu(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "gradbench.gpu_check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "no CUDA device is available here" in out.stderr


@pytest.mark.parametrize("argv", [["--device", "tpu"], ["--device", "cuda:7"]])
def test_bad_device_is_a_usage_error(argv, capsys, monkeypatch) -> None:
    with FakeCuda(count=2).active(monkeypatch):
        assert gpu_check.main(argv) == 2
    err = capsys.readouterr().err
    assert "valid choices" in err
    assert argv[1] in err


# --------------------------------------------------------------------------------------
# 1. probe = reference
# --------------------------------------------------------------------------------------


def test_probe_equals_reference_on_the_cpu() -> None:
    out = gpu_check.probe_vs_reference("cpu", SMALL_SPECS)
    assert out["passed"]
    assert out["tf32"] is False
    assert {(r["spec"], r["dtype"]) for r in out["rows"]} == {
        (s, d) for s in ("mlp-L3-n8-tanh-he_normal-norm=layernorm", "rnn-gru-n6-L3-orthogonal")
        for d in gpu_check.PROBE_RTOL}
    for row in out["rows"]:
        assert 0 <= row["max_rel_error"] <= row["rtol"]


def test_a_probe_off_by_a_few_ulps_of_float32_fails_the_float64_row(monkeypatch) -> None:
    real = probe.measure

    def off(*args: Any, **kwargs: Any) -> Any:
        m = real(*args, **kwargs)
        return dataclasses.replace(m, act_grad_norms=m.act_grad_norms * (1 + 1e-6))

    monkeypatch.setattr(probe, "measure", off)
    out = gpu_check.probe_vs_reference("cpu", SMALL_SPECS[:1])
    assert not out["passed"]
    assert {r["dtype"]: r["passed"] for r in out["rows"]} == {
        "float64": False, "float32": True, "bfloat16": True}


def test_relative_error_ignores_unobservable_reference_columns() -> None:
    ref = [[1.0, math.nan], [2.0, 4.0]]
    assert gpu_check.relative_error([[1.1, 5.0], [2.0, 4.0]], ref) == pytest.approx(0.1)
    assert gpu_check.relative_error([[1.0, 0.0], [2.0, math.nan]], ref) == math.inf


# --------------------------------------------------------------------------------------
# 2. CPU = device verdicts
# --------------------------------------------------------------------------------------


def _doc(*cases: tuple[str, str, str, bool, float]) -> dict[str, Any]:
    return {"benchmarks": [{"extra_info": {"gradbench": {
        "case": case, "claim": claim, "env": {"device": device},
        "verdict": {"claim": claim, "passed": passed, "measured": measured}}}}
        for case, claim, device, passed, measured in cases]}


CPU = _doc(("t.py::a[cpu]#0", "mean_field_slope", "cpu", True, 1.0),
           ("t.py::b[adam-optimizer_descent-cpu]#0", "optimizer_descent", "cpu", True, 0.5),
           ("t.py::c[relu-activation_backward-cpu]#0", "activation_backward", "cpu", True, 0.1))


@pytest.mark.parametrize(("slope", "passed", "descent", "agree"), [
    (1.0 + 5e-4, True, 0.9, True),    # within rtol; an exact claim's error ratio may differ
    (1.01, True, 0.5, False),         # measured value too far
    (1.0, False, 0.5, False),         # verdict flipped
])
def test_compare_runs_pairs_device_cases_with_their_cpu_twins(slope, passed, descent,
                                                              agree) -> None:
    target = _doc(("t.py::a[cuda]#0", "mean_field_slope", "cuda:1", passed, slope),
                  ("t.py::b[adam-optimizer_descent-cuda]#0", "optimizer_descent", "cuda", True,
                   descent),
                  ("t.py::c[relu-activation_backward-cpu]#0", "activation_backward", "cpu",
                   True, 9.0))  # device-independent: measured on the cpu, not a pair
    out = gpu_check.compare_runs(CPU, target, "cuda")
    assert [p["case"] for p in out["pairs"]] == ["t.py::a[cuda]#0",
                                                 "t.py::b[adam-optimizer_descent-cuda]#0"]
    assert out["pairs"][0]["agree"] is agree
    assert out["pairs"][1]["agree"] is True
    assert out["passed"] is agree


def test_a_device_case_without_a_cpu_twin_fails_the_comparison() -> None:
    target = _doc(("t.py::z[cuda]#0", "mean_field_slope", "cuda", True, 1.0))
    out = gpu_check.compare_runs(CPU, target, "cuda")
    assert out["unpaired"] == ["t.py::z[cuda]#0"]
    assert not out["passed"]
    assert not gpu_check.compare_runs(CPU, _doc(), "cuda")["passed"]  # nothing compared


# --------------------------------------------------------------------------------------
# 3. speed, and the whole command
# --------------------------------------------------------------------------------------


def test_the_whole_check_on_a_fake_gpu(tmp_path, monkeypatch) -> None:
    """Every CUDA branch of the command (device checks, pinning, the cuda benchmarks and
    cases) with torch believing in a GPU; the tensors stay on the CPU."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # benchmarks off under xdist
    fake = FakeCuda(count=2)
    with fake.active(monkeypatch):
        report = gpu_check.run_checks("cuda:1", tmp_path, sample=TINY_SAMPLE, workload="smoke",
                                      specs=SMALL_SPECS[:1], log=lambda line: None)
    assert report["passed"], json.dumps(report["sections"], default=str)[:2000]
    assert fake.current == 1
    assert any(d.startswith("cuda") for _, d in fake.placements)
    doc = json.loads((tmp_path / "gpu-check.json").read_text())
    assert doc["device"] == "cuda:1"
    assert doc["environment"]["gpu"] == "fake GPU"
    agreement = doc["sections"]["verdict_agreement"]
    assert agreement["exit_codes"] == [0, 0]
    # initializer_variance does not depend on the device: measured on the cpu, not a pair
    assert agreement["pairs"]
    assert {p["claim"] for p in agreement["pairs"]} == {"clip_by_value"}
    assert {p["device"] for p in agreement["pairs"]} == {"cuda:1"}
    speed = doc["sections"]["speed"]  # reported, no target
    assert set(speed["median_s"]) == set(gpu_check.BENCHMARKS)
    assert speed["ratios"]["naive_over_batched"] == pytest.approx(
        speed["median_s"]["naive"] / speed["median_s"]["batched"])
    assert all(r >= 1 for r in speed["rounds"].values())
    assert {r["device"] for r in doc["sections"]["probe_vs_reference"]["rows"]} == {"cuda:1"}
    page = (tmp_path / "gpu-check.html").read_text()
    assert "gradbench gpu-check on cuda:1: passed" in page
    assert "naive_over_batched" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-check.html", "gpu-check.json"]


def test_a_failing_check_fails_the_command_and_the_others_still_run(tmp_path, monkeypatch,
                                                                   capsys) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(gpu_check, "probe_vs_reference", broken)
    monkeypatch.setattr(gpu_check, "verdict_agreement", lambda *a: {"passed": True})
    monkeypatch.setattr(gpu_check, "speed", lambda *a: {"passed": True})
    code = gpu_check.main(["--device", "cpu", "--output-dir", str(tmp_path)])
    assert code == 1
    doc = json.loads((tmp_path / "gpu-check.json").read_text())
    assert doc["passed"] is False
    assert "illegal memory access" in doc["sections"]["probe_vs_reference"]["error"]
    assert doc["sections"]["speed"]["passed"] is True
    assert "FAILED" in capsys.readouterr().out
    page = (tmp_path / "gpu-check.html").read_text()
    assert "gpu-check on cpu: FAILED" in page
    assert page.count("<tr class='failed'>") == 1  # probe_vs_reference's passed row


@pytest.mark.parametrize(("sample", "says"), [
    ("not_a_test_xyz", "selects none of the quick suite's"),
    ("and (", "Wrong expression passed to '-k'")])
def test_a_sample_that_cannot_run_is_refused_before_any_check(sample, says, tmp_path,
                                                             monkeypatch, capsys) -> None:
    """A typo in --sample failed the agreement check only after the probe check, and the
    speed check still ran for minutes of the lent GPU: one sentence, exit 2, nothing run."""
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a check ran")

    monkeypatch.setattr(gpu_check, "run_checks", never)
    code = gpu_check.main(["--device", "cpu", "--sample", sample, "--output-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"--sample {sample!r}" in err
    assert says in err
    assert "as typed" not in err  # --sample is gradbench's option, not passed to pytest as typed
    assert not list(tmp_path.iterdir())
    assert gpu_check.sample_problem(TINY_SAMPLE) is None


# --------------------------------------------------------------------------------------
# On a GPU (tox -e cuda)
# --------------------------------------------------------------------------------------


@needs_cuda
def test_probe_equals_reference_on_the_gpu() -> None:  # pragma: no cover - needs a GPU
    out = gpu_check.probe_vs_reference("cuda")
    assert out["passed"], [r for r in out["rows"] if not r["passed"]]


@needs_cuda
def test_the_whole_check_on_the_gpu(tmp_path: Path, monkeypatch) -> None:  # pragma: no cover
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # benchmarks off under xdist
    report = gpu_check.run_checks("cuda", tmp_path, sample=TINY_SAMPLE, workload="smoke",
                                  log=lambda line: None)
    assert report["passed"], json.dumps(report["sections"], default=str)[:2000]
    assert report["environment"]["gpu"] == torch.cuda.get_device_name(0)
