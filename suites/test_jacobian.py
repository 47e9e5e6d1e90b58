"""Jacobian spectra: dynamical isometry with orthogonal weights (docs/theory.md §3).

Claim ``jacobian_spectrum``: the normalised variance m2/m1^2 - 1 of the spectrum of J J^T
equals L (mu2/mu1^2 - 1 - s1), s1 = -1 for Gaussian and 0 for orthogonal weights
(Pennington, Schoenholz & Ganguli 2017; Saxe et al. 2014). Validity: layers at the
fixed point (inputs fed at q*), depth/width <= 0.05.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradbench as gb
from gradbench import theory
from gradbench.claims import check

TANH_Q = 1 / 64
CRITICAL_TANH = dict(sigma_w2=1.0305575108, sigma_b2=4.6513e-6, input_var=TANH_Q)
CASES = {
    "linear-gaussian": dict(activation="linear", init="normal", sigma_w2=1.0),
    "linear-orthogonal": dict(activation="linear", init="orthogonal"),
    "relu-gaussian": dict(activation="relu", init="he_normal"),
    "relu-orthogonal": dict(activation="relu", init="orthogonal(gain=1.4142135623730951)"),
    "tanh-critical-gaussian": dict(activation="tanh", init="normal", **CRITICAL_TANH),
    "tanh-critical-orthogonal": dict(activation="tanh", init="orthogonal", **CRITICAL_TANH),
}


@pytest.mark.parametrize("name", list(CASES))
def test_jacobian_spectrum(name, run_claim):
    """Spectral spread of J J^T: orthogonal tanh near isometry, ReLU never."""
    spec = gb.MLPSpec(depth=10, width=256, **CASES[name])
    run_claim(spec, "jacobian_spectrum", seeds=16)


def test_orthogonal_tanh_beats_relu(gradbench_config):
    """Near-isometry ordering: orthogonal tanh at small q* << orthogonal ReLU << Gaussian ReLU."""
    spread = {}
    for name in ("tanh-critical-orthogonal", "relu-orthogonal", "relu-gaussian"):
        spec = gb.MLPSpec(depth=10, width=256, **CASES[name])
        spread[name] = check(spec, "jacobian_spectrum", seeds=4,
                             seed=gradbench_config.base_seed).measured
    assert spread["tanh-critical-orthogonal"] < 0.1 * spread["relu-orthogonal"]
    assert spread["relu-orthogonal"] < spread["relu-gaussian"]
    assert theory.jacobian_normalized_variance("relu", 2.0, 0.0, 10, weights="orthogonal") > 5
    assert np.isfinite(list(spread.values())).all()
