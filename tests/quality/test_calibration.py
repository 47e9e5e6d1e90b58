"""Calibration and power of the mean-field slope test (slow; ``tox -e slow``).

- False-alarm rate, 200 independent base seeds, alpha = 0.05, under configurations where
  the claim is true:
  ReLU/He at batch 1 with the exact per-example finite-width bias: the number of
  rejections must lie in the central 99% interval of Binomial(200, 0.05) = [3, 19];
  tanh at criticality with the 2/width model-error band: at most the upper end (the band
  makes the test conservative); orthogonal linear: exact, never a false alarm.
- Power: an initializer that declares He variance (sigma_w2 = 2) but draws 10% more
  (2.2), depth 50, width 256, alpha = 0.01, is flagged in >= 90% of 100 seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

import gradbench as gb
from gradbench import registry
from gradbench.claims import check

pytestmark = pytest.mark.slow
TRIALS = 200


def binomial_central_interval(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Smallest/largest counts of the central ``level`` interval of Binomial(n, p)."""
    tail = (1 - level) / 2
    return int(sps.binom.ppf(tail, n, p)), int(sps.binom.isf(tail, n, p))


def false_alarms(spec: gb.MLPSpec, alpha: float, trials: int = TRIALS, batch: int = 32) -> int:
    return sum(
        not check(spec, "mean_field_slope", seeds=16, batch=batch, alpha=alpha, seed=s).passed
        for s in range(trials)
    )


def test_false_alarm_rate_relu_he():
    """Exact finite-width bias => the t-test has size alpha (two-sided, per-seed slopes)."""
    spec = gb.MLPSpec(depth=50, width=256, activation="relu", init="he_normal", sigma_b2=0.0)
    k = false_alarms(spec, alpha=0.05, batch=1)  # the exact law is per example
    lo, hi = binomial_central_interval(TRIALS, 0.05)
    print(f"relu/He false alarms: {k}/{TRIALS} (99% binomial interval [{lo}, {hi}])")
    assert lo <= k <= hi


def test_false_alarm_rate_tanh_critical():
    """tanh at chi_1 = 1 (sigma_w2 = 1.7609546, sigma_b2 = 0.05): conservative, <= upper end."""
    spec = gb.MLPSpec(
        depth=50,
        width=256,
        activation="tanh",
        init="normal",
        sigma_w2=1.760954639607,
        sigma_b2=0.05,
        input_var=0.570047881641,
    )
    k = false_alarms(spec, alpha=0.05)
    _, hi = binomial_central_interval(TRIALS, 0.05)
    print(f"tanh critical false alarms: {k}/{TRIALS} (upper end {hi})")
    assert k <= hi


def test_false_alarm_rate_orthogonal_linear():
    """Orthogonal linear nets are exact isometries: never a false alarm."""
    spec = gb.MLPSpec(depth=50, width=256, activation="linear", init="orthogonal", sigma_b2=0.0)
    assert false_alarms(spec, alpha=0.05, trials=50) == 0


def test_power_against_ten_percent_misscaled_init():
    """sigma_w2 10% above the declared He value is flagged with power >= 0.9."""

    def he_plus_ten(w: torch.Tensor, *, generator: torch.Generator) -> None:
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.2 / w.shape[1]), generator=generator)

    declared = registry.lookup("initializer", "he_normal").meta["variance"]
    with registry.temporary(
        "initializer", "he_plus_ten", he_plus_ten, variance=declared, distribution="normal"
    ):
        spec = gb.MLPSpec(depth=50, width=256, activation="relu", init="he_plus_ten", sigma_b2=0.0)
        flagged = np.mean(
            [
                not check(spec, "mean_field_slope", seeds=16, batch=1, alpha=0.01, seed=s).passed
                for s in range(100)
            ]
        )
    print(f"power against 10% mis-scaled He: {flagged:.2f}")
    assert flagged >= 0.9
