"""The project's own tests, asserting gradbench claims on its remedy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbench import registry
from gradbench.testing import assert_claim


@pytest.fixture(scope="module", autouse=True)
def fan_avg_he():
    from my_remedies import fan_avg_he as fn

    with registry.temporary("initializer", "fan_avg_he", fn, **fn.gradbench_meta) as remedy:
        yield remedy


@settings(max_examples=10, deadline=None)
@given(fan_in=st.integers(96, 320), fan_out=st.integers(96, 320))
def test_declared_variance(fan_in, fan_out):
    assert_claim("initializer:fan_avg_he", "initializer_variance", alpha=1e-4,
                 fan_in=fan_in, fan_out=fan_out)


def test_relu_nets_stay_stable():
    assert_claim("initializer:fan_avg_he", "stable_as_declared")
