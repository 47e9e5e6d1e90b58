"""Shared fixtures for the unit tests (kept small on purpose)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> str:
    """A torch device name; the CUDA case is skipped cleanly when no GPU is usable."""
    if request.param == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("CUDA is not available on this machine")
    return str(request.param)
