"""What a case ran on: the platform, torch, CUDA/cuDNN and the numerics flags.

:func:`environment` is taken in the process that measured a case (an xdist worker,
say), so the TF32 and determinism flags are the ones the measurement saw. It reads
torch only if the process has already imported it: a case that never touched torch
records torch's installed version and ``None`` for the flags, and recording it costs
no torch import. CUDA is queried only for a case that ran on a CUDA device.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

from gradbench.records import ENV_KEYS


def platform_info() -> dict[str, str]:
    """The ``machine_info`` keys pytest-benchmark writes that gradbench fills in too."""
    return {
        "node": platform.node(),
        "machine": platform.machine(),
        "system": platform.system(),
        "python_version": platform.python_version(),
    }


def _installed_torch() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def environment(device: str | None = None) -> dict[str, Any]:
    """The :data:`~gradbench.records.ENV_KEYS` of this process for a case run on ``device``.

    ``device=None`` (a case with no measurement and no ``gradbench_device``) records the
    process's default torch device, where its tensors went unless told otherwise.

    Examples:
        >>> environment("cpu")["device"]
        'cpu'
    """
    env: dict[str, Any] = dict.fromkeys(ENV_KEYS)
    env["device"] = device
    env["cublas_workspace_config"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    torch = sys.modules.get("torch")
    if torch is None:
        env["torch"] = _installed_torch()
        return env
    if device is None and hasattr(torch, "get_default_device"):  # torch >= 2.3
        env["device"] = device = str(torch.get_default_device())
    cudnn = torch.backends.cudnn
    env.update(
        torch=str(torch.__version__),
        cuda=torch.version.cuda,
        cudnn=cudnn.version() if cudnn.is_available() else None,
        tf32_matmul=bool(torch.backends.cuda.matmul.allow_tf32),
        tf32_cudnn=bool(cudnn.allow_tf32),
        float32_matmul_precision=str(torch.get_float32_matmul_precision()),
        deterministic=bool(torch.are_deterministic_algorithms_enabled()),
        cudnn_deterministic=bool(cudnn.deterministic),
        cudnn_benchmark=bool(cudnn.benchmark),
        num_threads=int(torch.get_num_threads()),
    )
    if device is not None and device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return env
