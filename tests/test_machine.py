"""What a case ran on: device, torch/CUDA/cuDNN and the numerics flags."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from gradbench import records
from gradbench.machine import environment


def test_environment_records_the_numerics_flags() -> None:
    env = environment("cpu")
    assert set(env) == set(records.ENV_KEYS)
    assert env["device"] == "cpu"
    assert env["torch"] == torch.__version__
    assert env["cuda"] == torch.version.cuda
    assert env["deterministic"] is torch.are_deterministic_algorithms_enabled()
    assert env["tf32_matmul"] is torch.backends.cuda.matmul.allow_tf32
    assert env["gpu"] is None


def test_environment_follows_the_determinism_flag() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(True)
        assert environment("cpu")["deterministic"] is True
    finally:
        torch.use_deterministic_algorithms(before)


def test_a_case_without_a_device_gets_the_default_torch_device() -> None:
    assert environment(None)["device"] == str(torch.get_default_device())


def test_environment_does_not_import_torch() -> None:
    """A process that never touched torch records its installed version and no flags."""
    code = (
        "import sys; from gradbench.machine import environment; e = environment(None); "
        "assert 'torch' not in sys.modules; assert e['torch'] and e['tf32_matmul'] is None; "
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.gradbench_cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_cases_name_their_gpu() -> None:  # pragma: no cover - needs a GPU
    env = environment("cuda:0")
    assert env["gpu"] == torch.cuda.get_device_name(0)
    assert env["cudnn"] == torch.backends.cudnn.version()
