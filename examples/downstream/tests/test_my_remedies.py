"""The project's own tests, asserting gradbench claims on its remedy.

``assert_claim`` takes the remedy as ``gradbench validate`` does (here the import path; the
function itself works too), so nothing is registered by hand. Run under
``pytest --gradbench-json=...`` the verdicts also land in a gradbench results file.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gradbench.testing import assert_claim


@settings(max_examples=10, deadline=None)
@given(fan_in=st.integers(96, 320), fan_out=st.integers(96, 320))
def test_declared_variance(fan_in, fan_out):
    assert_claim("my_remedies:fan_avg_he", "initializer_variance", alpha=1e-4,
                 fan_in=fan_in, fan_out=fan_out)


def test_relu_nets_stay_stable():
    from my_remedies import fan_avg_he

    assert_claim(fan_avg_he, "stable_as_declared")
