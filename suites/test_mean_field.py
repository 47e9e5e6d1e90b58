"""Mean-field gradient scaling of deep MLPs across activations x initializers x sigma_b2.

Claim ``mean_field_slope``: the per-layer slope of log ||dL/dh_l|| equals the
prediction from the chi_1 trajectory (Poole et al. 2016; Schoenholz et al. 2017;
docs/theory.md §1), with the exact finite-width bias for ReLU (docs/theory.md §2) and a
model-error band of 2/width otherwise. Validity domain: width >= 128, depth <= 30,
inits with i.i.d. entries (theory says which specs it has no prediction for).
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from gradbench import strategies, theory
from gradbench.check import explain

INITS = ("he_normal", "xavier_normal", "lecun_normal", "torch_default", "he_uniform")


@given(
    spec=strategies.mlp_specs(
        depths=st.integers(5, 30),
        widths=(128, 256),
        activations=("relu", "tanh", "erf", "leaky_relu", "selu", "sigmoid", "linear"),
        inits=INITS,
        sigma_b2=strategies.sigma_b2s(0.3),
    )
)
def test_mean_field_slope_mlp(spec, run_claim):
    """Measured per-layer log gradient growth matches mean field (chi_1 trajectory)."""
    assume(theory.predict(spec).valid)
    verdict = run_claim(spec, "mean_field_slope")
    assert verdict.passed, explain(verdict)


@given(
    sigma_w2=st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]),
    sigma_b2=st.sampled_from([0.0, 0.05, 0.3]),
    activation=st.sampled_from(["tanh", "erf"]),
)
def test_phase_diagram_point(sigma_w2, sigma_b2, activation, run_claim):
    """A point of the (sigma_w2, sigma_b2) phase diagram: growth vs the chi_1 = 1 curve."""
    import gradbench as gb

    spec = gb.MLPSpec(
        depth=20,
        width=128,
        activation=activation,
        init="normal",
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
    )
    prediction = theory.predict(spec)
    assume(prediction.valid)
    curve_b2 = [0.0, 0.05, 0.1, 0.2, 0.3]
    extra = {
        "phase_point": {
            "activation": activation,
            "sigma_w2": sigma_w2,
            "sigma_b2": sigma_b2,
            "predicted_log_growth": float(sum(prediction.log_growth)) / (spec.depth - 1),
            "critical_curve": {
                "sigma_b2": curve_b2,
                "sigma_w2": [theory.critical_sigma_w2(activation, b) for b in curve_b2],
            },
        }
    }
    verdict = run_claim(spec, "mean_field_slope", extra=extra)
    extra["phase_point"]["measured_log_growth"] = -verdict.measured
    assert verdict.passed, explain(verdict)
