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
from gradbench.check import EQUIVALENCE_ALPHA, explain, jacobian_check

TANH_Q = 1 / 64
CASES = {
    "linear-gaussian": dict(activation="linear", init="normal", sigma_w2=1.0),
    "linear-orthogonal": dict(activation="linear", init="orthogonal"),
    "relu-gaussian": dict(activation="relu", init="he_normal"),
    "relu-orthogonal": dict(activation="relu", init="orthogonal(gain=1.4142135623730951)"),
    "tanh-critical-gaussian": dict(
        activation="tanh",
        init="normal",
        sigma_w2=1.0305575108,
        sigma_b2=4.6513e-6,
        input_var=TANH_Q,
    ),
    "tanh-critical-orthogonal": dict(
        activation="tanh",
        init="orthogonal",
        sigma_w2=1.0305575108,
        sigma_b2=4.6513e-6,
        input_var=TANH_Q,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_jacobian_spectrum(name, gradbench_record, gradbench_config, gradbench_device):
    """Spectral spread of J J^T: orthogonal tanh near isometry, ReLU never."""
    spec = gb.MLPSpec(depth=10, width=256, **CASES[name])
    verdict, eig = jacobian_check(
        spec,
        seeds=16,
        alpha=EQUIVALENCE_ALPHA,
        seed=gradbench_config.base_seed,
        device=gradbench_device,
    )
    gradbench_record(
        claim="jacobian_spectrum",
        spec=spec,
        verdict=verdict,
        source=verdict.source,
        extra={
            "spectrum": {
                "weights": "orthogonal" if "orthogonal" in name else "gaussian",
                "eigenvalues": np.sort(eig[0]).tolist(),
                "predicted_normalized_variance": verdict.predicted,
            }
        },
    )
    assert verdict.passed, explain(verdict)


def test_orthogonal_tanh_beats_relu(gradbench_config):
    """Near-isometry ordering: orthogonal tanh at small q* << orthogonal ReLU << Gaussian ReLU."""
    spread = {}
    for name in ("tanh-critical-orthogonal", "relu-orthogonal", "relu-gaussian"):
        spec = gb.MLPSpec(depth=10, width=256, **CASES[name])
        spread[name] = jacobian_check(spec, seeds=4, seed=gradbench_config.base_seed)[0].measured
    assert spread["tanh-critical-orthogonal"] < 0.1 * spread["relu-orthogonal"]
    assert spread["relu-orthogonal"] < spread["relu-gaussian"]
    assert theory.jacobian_normalized_variance("relu", 2.0, 0.0, 10, weights="orthogonal") > 5
