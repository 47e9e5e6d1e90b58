"""Helpers for a user's own pytest suite: assert a gradbench claim on your remedy or network.

    from gradbench.testing import assert_claim

    def test_my_init_keeps_relu_nets_stable():
        assert_claim("initializer:my_init", "stable_as_declared")

    @given(fan_in=st.integers(96, 320), fan_out=st.integers(96, 320))
    def test_my_init_variance(fan_in, fan_out):
        assert_claim("initializer:my_init", "initializer_variance", fan_in=fan_in,
                     fan_out=fan_out)

Under Hypothesis a failing claim shrinks to the minimal configuration, and the
``AssertionError`` states the claim, the prediction, the measurement with its interval
and that configuration, the way Hypothesis prints a falsifying example.
"""

from __future__ import annotations

from typing import Any

from gradbench.claims import check, explain
from gradbench.records import Verdict


def assert_claim(target: Any, claim: str, *, alpha: float = 0.01, seed: int = 0,
                 **config: Any) -> Verdict:
    """Check ``claim`` on ``target`` (a spec, a Remedy or ``"kind:name"``); raise if it fails.

    Args:
        target: what the claim is about.
        claim: a registered claim name (``docs/claims.md``).
        alpha: significance level of this one test.
        seed: base seed of every random draw.
        **config: the claim's configuration (e.g. ``fan_in``, ``seeds``).

    Returns:
        The passing :class:`~gradbench.records.Verdict`.

    Raises:
        AssertionError: the claim fails (message: :func:`gradbench.claims.explain`).
        InvalidArgument: unknown claim, or a target outside the claim's domain.
    """
    verdict = check(target, claim, alpha=alpha, seed=seed, **config)
    if not verdict.passed:
        raise AssertionError(explain(verdict))
    return verdict


__all__ = ["assert_claim"]
