"""Where a case runs: device names, one GPU per xdist worker, and the numerics switches.

* A device is ``"cpu"``, ``"cuda"`` (the current CUDA device) or ``"cuda:N"``.
* With ``--devices cuda`` and ``-n N``, xdist worker ``gwK`` runs its CUDA cases on
  ``cuda:(K mod G)`` for G visible GPUs (:func:`worker_device`), so N workers share
  G GPUs round-robin; ``cuda:N`` given explicitly is left alone.
* :func:`set_numerics` sets TF32 (``torch.backends.cuda.matmul.allow_tf32``,
  ``torch.backends.cudnn.allow_tf32``) and deterministic algorithms
  (``torch.use_deterministic_algorithms``, ``cudnn.deterministic``, ``cudnn.benchmark``
  off) for the process and returns how to restore them; :func:`gradbench.machine.environment`
  records the flags with every case.

Nothing here imports torch at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gradbench.errors import InvalidArgument

DEVICE = re.compile(r"cpu|cuda(:\d+)?")
CHOICES = "cpu, cuda, cuda:N"


def parse_devices(text: str) -> tuple[str, ...]:
    """``"cpu,cuda"`` -> ``("cpu", "cuda")``.

    Raises:
        InvalidArgument: an empty list or a name that is not a device.

    Examples:
        >>> parse_devices("cpu, cuda:1")
        ('cpu', 'cuda:1')
    """
    devices = tuple(d.strip() for d in text.split(",") if d.strip())
    if not devices or any(not DEVICE.fullmatch(d) for d in devices):
        raise InvalidArgument(f"devices {text!r} are invalid; valid choices: {CHOICES}")
    return devices


def require_devices(text: str) -> tuple[str, ...]:
    """``--devices`` parsed, every device present on this machine.

    A CI job on a GPU runner that lost its GPU must not go green by skipping its CUDA
    cases: asking for CUDA where there is none is a usage error (exit 2), before any test.

    Raises:
        InvalidArgument: a bad device name, or a CUDA device on a machine without CUDA.
    """
    devices = parse_devices(text)
    if any(is_cuda(d) for d in devices):
        import torch

        if not torch.cuda.is_available():
            raise InvalidArgument(
                f"--devices {text} asks for CUDA, which is not available on this machine "
                f"(torch {torch.__version__}); use --devices cpu or run on a machine with a GPU")
    return devices


def is_cuda(device: str) -> bool:
    """Whether ``device`` names a CUDA device."""
    return device.split(":")[0] == "cuda"


def worker_index(worker_id: str | None) -> int | None:
    """``"gw3"`` -> 3; ``None`` (not an xdist worker) -> ``None``."""
    if worker_id is None:
        return None
    match = re.fullmatch(r"gw(\d+)", worker_id)
    return int(match.group(1)) if match else None


def worker_device(device: str, worker: int | None, gpus: int) -> str:
    """The device worker ``worker`` (``None``: no xdist) runs ``device``'s cases on.

    ``"cuda"`` becomes ``cuda:(worker mod gpus)``; every other name, a process that is
    not a worker, or a machine without GPUs leave it as given.

    Examples:
        >>> [worker_device("cuda", k, 3) for k in range(5)]
        ['cuda:0', 'cuda:1', 'cuda:2', 'cuda:0', 'cuda:1']
        >>> worker_device("cuda:1", 0, 3), worker_device("cpu", 2, 3)
        ('cuda:1', 'cpu')
        >>> worker_device("cuda", None, 3)
        'cuda'
    """
    if device != "cuda" or worker is None or gpus < 1:
        return device
    return f"cuda:{worker % gpus}"


def set_numerics(tf32: bool | None = None, deterministic: bool | None = None) -> Callable[[], None]:
    """Set the TF32 and determinism switches (``None``: leave torch's as they are).

    ``tf32`` sets both TF32 switches (cuBLAS matmuls and cuDNN convolutions). With
    ``deterministic``, torch raises on an operation that has no deterministic
    implementation; deterministic cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (tox
    sets it). Returns a function that restores the previous values.
    """
    if tf32 is None and deterministic is None:
        return lambda: None
    import torch

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (matmul.allow_tf32, cudnn.allow_tf32, torch.are_deterministic_algorithms_enabled(),
              cudnn.deterministic, cudnn.benchmark)
    if tf32 is not None:
        matmul.allow_tf32 = cudnn.allow_tf32 = tf32
    if deterministic is not None:
        torch.use_deterministic_algorithms(deterministic)
        cudnn.deterministic = deterministic
        if deterministic:
            cudnn.benchmark = False

    def restore() -> None:
        matmul.allow_tf32, cudnn.allow_tf32 = before[0], before[1]
        torch.use_deterministic_algorithms(before[2])
        cudnn.deterministic, cudnn.benchmark = before[3], before[4]

    return restore


__all__ = ["CHOICES", "is_cuda", "parse_devices", "require_devices", "set_numerics",
           "worker_device", "worker_index"]
