"""Which devices a test runs on (a helper of the ``fixtures`` and ``remedies`` hooks).

A test that takes ``gradbench_device`` (``run_claim`` takes it) runs once per requested
device; a CUDA case carries the ``gradbench_cuda`` marker and skips without a GPU. A
``for_each`` test runs a claim that is not measured on a device
(:attr:`gradbench.claims.Claim.on_device` false) once, as its ``cpu`` case, whatever
the devices, so a run never counts it twice (docs/design.md §7).

The parameter is the device as requested (it names the case, the same on every
machine); the fixture's value is where this process runs it: ``cuda`` is pinned to
one GPU per xdist worker (:func:`gradbench.devices.worker_device`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

#: Where a device-independent claim is measured, and the id of its one case.
HOME = "cpu"


def params(devices: Sequence[str]) -> list[Any]:
    """One ``pytest.param`` per device, id the device, CUDA ones marked ``gradbench_cuda``."""
    from gradbench.devices import is_cuda

    return [pytest.param(d, marks=[pytest.mark.gradbench_cuda] if is_cuda(d) else [], id=d)
            for d in devices]


def pinned(config: pytest.Config, device: str) -> str:
    """The device this process runs ``device``'s cases on (xdist worker K: ``cuda:K mod G``).

    Also makes it torch's current CUDA device, so work that names no index lands there.
    """
    from gradbench.devices import is_cuda, worker_device, worker_index

    if not is_cuda(device):
        return device
    import torch

    if not torch.cuda.is_available():
        return device
    workerinput = getattr(config, "workerinput", None)
    worker = worker_index(workerinput.get("workerid") if workerinput else None)
    here = worker_device(device, worker, torch.cuda.device_count())
    if ":" in here:
        torch.cuda.set_device(int(here.split(":")[1]))
    return here
