"""Mean field across the phase diagram, RNNs and finite-width fluctuations.

Claims (docs/claims.md; docs/theory.md sections in brackets):
- ``mean_field_slope`` at points of the (sigma_w2, sigma_b2) phase diagram, tanh and erf,
  width 512, 32 networks, where a 2% error in chi_1 (1% per layer in the gradient norm)
  is a difference of 5/width against a model-error band of 2/width (power 49/50,
  ``tests/quality/power.py``; 16 networks gave 41/50) [1];
- ``mean_field_slope`` for vanilla RNNs: per-step decay chi^(1/2), rho exactly for
  orthogonal linear cells (Pascanu et al. 2013; Chen et al. 2018) [5];
- ``mean_field_slope`` at one example per ReLU network, with the exact finite-width bias
  and no model-error band, and ``finite_width_variance``: Var ln(||g_1||^2/||g_L||^2)
  follows the exact ReLU law (Hanin 2018; Hanin & Nica 2020) [2.2].
- ``mean_field_slope`` for circular 1-D CNNs: the per-layer factor is the MLP's chi at
  fan-in C k (Xiao et al. 2018) [1; docs/theory.md §1 via ``theory._conv``], and for
  circular 2-D CNNs and residual 2-D CNNs without BatchNorm at fan-in C k^2 [11.3]; with
  BatchNorm2d and 1 x 1 kernels, the BatchNorm MLP's rate at batch B H W [6, 11.3];
- ``carry_gate_mean``: an LSTM's forget gate and a GRU's update gate at initialization
  have mean E sigma(b + sqrt(v) z), the cell-state path's per-step factor, for forget
  biases b drawn in [0.5, 3] (a bias drawn into another gate, or input weights at the
  wrong scale, fail it) [5.5].
The whole-gradient decay of LSTM/GRU has no verified theory [5.4]: it is measured and
recorded without a verdict.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import gradbench as gb
from gradbench import stats, strategies, theory
from gradbench.claims.network import growth_per_layer
from gradbench.suite import budget
from gradbench.sweep import phase_point


@budget(6 / 15)
@given(sigma_w2=st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]),
       sigma_b2=st.sampled_from([0.0, 0.05, 0.3]),
       activation=st.sampled_from(["tanh", "erf"]), depth=st.integers(10, 20))
def test_phase_diagram_point(sigma_w2, sigma_b2, activation, depth, run_claim, gradbench_config):
    """A point of the (sigma_w2, sigma_b2) phase diagram: growth vs the chi_1 = 1 curve."""
    spec = gb.MLPSpec(depth=depth, width=512, activation=activation, init="normal",
                      sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    assume(theory.predict(spec).valid)
    run_claim(spec, "mean_field_slope", seeds=max(32, gradbench_config.profile.seeds),
              extra=phase_point(spec))


@budget(4 / 15)
@given(spec=strategies.rnn_specs(cells=("rnn_tanh", "rnn_relu", "linear"), hiddens=(256,),
                                 steps=st.integers(5, 30),
                                 inits=("orthogonal", "normal", "xavier_normal"),
                                 recurrent_scales=st.floats(0.6, 1.1)))
def test_rnn_growth(spec, run_claim):
    """Vanilla and linear RNN gradient decay per step matches theory."""
    assume(theory.predict(spec).valid)
    run_claim(spec, "mean_field_slope")


@budget(2 / 15)
@given(activation=st.sampled_from(["relu", "tanh", "gelu"]),
       init=st.sampled_from(["he_normal", "xavier_normal", "torch_default"]),
       kernel=st.sampled_from([1, 3, 5]), depth=st.integers(4, 16))
def test_conv1d_mean_field(activation, init, kernel, depth, run_claim):
    """Circular 1-D CNNs: per-layer gradient growth is the MLP's chi at fan-in C k."""
    spec = gb.Conv1DSpec(depth=depth, channels=64, length=16, kernel=kernel,
                         activation=activation, init=init)
    assume(theory.predict(spec).valid)
    run_claim(spec, "mean_field_slope")


@pytest.mark.parametrize("family", ["conv2d", "resconv2d"])
@budget(1 / 15)
@given(activation=st.sampled_from(["relu", "tanh", "gelu"]),
       init=st.sampled_from(["he_normal", "xavier_normal", "torch_default"]),
       kernel=st.sampled_from([3, 1]), depth=st.integers(4, 10),
       height=st.integers(3, 5), width=st.integers(3, 5), alpha=st.sampled_from([0.3, 1.0]))
def test_conv2d_mean_field(family, activation, init, kernel, depth, height, width, alpha,
                           run_claim):
    """Circular 2-D CNNs and residual 2-D CNNs (x + alpha conv2(phi(conv1 x))) without
    BatchNorm: per layer the MLP's chi, per block the residual factor, at fan-in C k^2.
    Kernel 3 comes first, so the quick profile's one example per family has a receptive
    field (a 1 x 1 kernel is an MLP per position)."""
    shape = dict(depth=depth, channels=32, height=height, width=width, kernel=kernel,
                 activation=activation, init=init)
    spec = (gb.Conv2DSpec(**shape) if family == "conv2d" else
            gb.ResConv2DSpec(**shape, out_init=init, alpha=alpha))
    assume(theory.predict(spec).valid)
    run_claim(spec, "mean_field_slope")


@budget(2 / 15)
@given(activation=st.sampled_from(["linear", "relu", "tanh"]), depth=st.integers(4, 10))
def test_conv2d_batchnorm_mean_field(activation, depth, run_claim):
    """1 x 1 kernels with BatchNorm2d: every position is an example, so the gradient grows at
    the BatchNorm MLP's rate at batch B H W = 8 x 4 x 4 = 128 (Yang et al. 2019); statistics
    taken per position (over the batch only) explode at batch 8's rate instead [6, 11.3]."""
    spec = gb.Conv2DSpec(depth=depth, channels=128, height=4, width=4, kernel=1,
                         batchnorm=True, activation=activation, init="he_normal")
    run_claim(spec, "mean_field_slope", batch=8)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@budget(2 / 15)
@given(init=st.sampled_from(["orthogonal", "xavier_normal", "torch_default"]),
       forget_bias=st.floats(0.5, 3.0), steps=st.integers(2, 30))
def test_gated_carry_gate(cell, init, forget_bias, steps, run_claim):
    """The forget (LSTM) or update (GRU) gate's mean follows its forget bias and variance."""
    spec = gb.RNNSpec(cell=cell, hidden=64, steps=steps, init=init, forget_bias=forget_bias)
    run_claim(spec, "carry_gate_mean")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("init", ["orthogonal", "torch_default"])
def test_gated_rnn_decay_measured(cell, init, gradbench_record, gradbench_config,
                                  gradbench_device):
    """LSTM/GRU: per-step decay measured and recorded (no verified theory, no verdict)."""
    spec = gb.RNNSpec(cell=cell, hidden=128, steps=30, init=init)
    profile = gradbench_config.profile
    m = gb.measure(spec, seeds=profile.seeds, batch=profile.batch, device=gradbench_device,
                   seed=gradbench_config.base_seed)
    gradbench_record(claim="gated_rnn_decay", spec=spec, measurement=m,
                     source="Gilboa et al. 2019 (docs/theory.md §5.4): no verified theory",
                     extra={"classification": {"measured": stats.gradient_growth(
                         m.act_grad_norms, unit="step").klass()},
                            "growth_per_step": growth_per_layer(m).tolist()})
    assert not m.nonfinite.any(), "gated RNN gradients must stay finite at initialization"


@budget(2 / 15)
@given(width=st.sampled_from([32, 64]), depth=st.integers(16, 24))
def test_relu_exact_finite_width_bias(width, depth, run_claim):
    """One example per network: the mean log-norm slope is chi_1's plus the exact ReLU
    finite-width bias (about -1.3/n per layer in the norm; docs/theory.md §2.2), no band.

    Sized for power: the per-seed growth has spread about sqrt(5/(n L)), so 1024 networks
    resolve a 2% chi_1 error (0.01 per layer) at z >= 5.5 and half the bias at z >= 8
    for n <= 64, L >= 16 (``tests/quality/power.py``)."""
    spec = gb.MLPSpec(depth=depth, width=width, activation="relu", init="he_normal",
                      sigma_b2=0.0)
    run_claim(spec, "mean_field_slope", seeds=1024, batch=1)


@budget(2 / 15)
@given(width=st.sampled_from([32, 48]), depth=st.integers(5, 12))
def test_finite_width_variance(width, depth, run_claim):
    """Log-norm fluctuations across networks grow like 5 sum 1/n_l (ReLU, Gaussian He).

    2048 networks of one example: ln(sample variance) has standard error 0.031, so a 20%
    error in the law's coefficient is 5.8 of them (power 97/100 at the quick per-case alpha,
    false alarms 2/100 at 0.01; ``tests/quality/power.py``). 96 networks saw only a x2 error.
    """
    spec = gb.MLPSpec(depth=depth, width=width, activation="relu", init="he_normal",
                      sigma_b2=0.0)
    run_claim(spec, "finite_width_variance", seeds=2048, batch=1)
