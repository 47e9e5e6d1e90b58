"""Every family's batched probe against its torch.nn reference module, in every run.

Claim ``probe_equals_reference``: on the same drawn networks (float64), the stacked probe
and the family's ordinary ``nn.Module`` (``nn.Linear``, ``nn.RNNCell``/``nn.LSTMCell``/
``nn.GRUCell``, ``nn.Conv1d``, ``nn.Conv2d``, ``nn.BatchNorm2d``; autograd, ``retain_grad``)
give the same per-site gradient norms, pre-activation second moments and weight-gradient
norms to a relative 1e-10. The other claims trust the probe; this one checks it, for every
registered family (``gradbench.specs.register_family``) and configurations Hypothesis draws
(docs/design.md §5).

An exact identity gains nothing from more networks: a wrong probe differs on every one. So
each configuration measures :data:`NETWORKS` networks of :data:`BATCH` examples in every
profile (the profile's seeds and batch are for the statistical claims; at the full
profile's 32 x 64 this test took 69 s of a 349 s run), and the full profile's extra
Hypothesis examples buy more configurations instead.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradbench.strategies import family_strategies
from gradbench.suite import budget

STRATEGIES = family_strategies()
NETWORKS, BATCH = 4, 8


@pytest.mark.parametrize("spec_type", list(STRATEGIES), ids=[t.family for t in STRATEGIES])
@budget(2 / 15)
@given(data=st.data())
def test_probe_equals_reference(spec_type, data, run_claim):
    """The batched probe equals the naive torch.nn reference (float64, rtol 1e-10)."""
    spec = data.draw(STRATEGIES[spec_type](), label="spec")
    run_claim(spec, "probe_equals_reference", seeds=NETWORKS, batch=BATCH)
