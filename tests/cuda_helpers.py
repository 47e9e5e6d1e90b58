"""CUDA in the unit tests: the marker real-GPU tests carry, and a fake GPU for CPU machines.

* :data:`needs_cuda` marks a test that needs a real GPU: ``tox -e cuda`` selects it
  (``-m gradbench_cuda``) and it skips cleanly without one.
* :class:`FakeCuda` makes torch report ``count`` CUDA devices while every tensor stays on
  the CPU: a ``TorchFunctionMode`` rewrites each CUDA device argument (``device=...``,
  ``Tensor.to(...)``, ``Tensor.cuda()``) to the CPU and logs it, so a test can check where
  code *put* its tensors, and which device it then recorded, with no GPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode


def needs_cuda(test: Any) -> Any:
    """Mark ``test`` ``gradbench_cuda`` and skip it cleanly without a GPU."""
    skip = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
    return pytest.mark.gradbench_cuda(skip(test))


def _is_cuda(device: Any) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    if isinstance(device, str):
        return device.split(":")[0] == "cuda"
    return False


class _Placements(TorchFunctionMode):
    """Rewrite CUDA device arguments to the CPU, logging ``(label, device)`` for each."""

    def __init__(self, log: list[tuple[str, str]], label: list[str]) -> None:
        super().__init__()
        self.log, self.label = log, label

    def _cpu(self, device: Any) -> Any:
        if _is_cuda(device):
            self.log.append((self.label[0], str(device)))
            return torch.device("cpu")
        return device

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = dict(kwargs or {})
        if "device" in kwargs:
            kwargs["device"] = self._cpu(kwargs["device"])
        if func is torch.Tensor.cuda:
            self._cpu(f"cuda:{args[1]}" if len(args) > 1 else "cuda")
            return args[0]
        if func is torch.Tensor.to and len(args) > 1 and not isinstance(args[1], torch.Tensor):
            args = (args[0], self._cpu(args[1]), *args[2:])
        return func(*args, **kwargs)


class FakeCuda:
    """``count`` fake CUDA devices for the duration of :meth:`active`.

    Attributes:
        placements: ``(label, device)`` for every CUDA placement, ``label`` the value of
            :attr:`label` at the time (a test sets it to the node id it runs).
        current: the index last passed to ``torch.cuda.set_device``.
    """

    def __init__(self, count: int = 1) -> None:
        self.count = count
        self.placements: list[tuple[str, str]] = []
        self.label = [""]
        self.current = 0

    def _set_device(self, device: Any) -> None:
        self.current = device.index if isinstance(device, torch.device) else int(device)

    @contextmanager
    def active(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCuda]:
        for name, value in (("is_available", lambda: True),
                            ("device_count", lambda: self.count),
                            ("get_device_name", lambda device=None: "fake GPU"),
                            ("set_device", self._set_device),
                            ("current_device", lambda: self.current),
                            ("synchronize", lambda device=None: None)):
            monkeypatch.setattr(torch.cuda, name, value)
        with _Placements(self.placements, self.label):
            yield self
