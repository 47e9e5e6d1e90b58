"""Deep convolutional networks (Xiao et al. 2018; docs/theory.md §11).

Claims (docs/claims.md):
- ``delta_orthogonal_isometry``: a linear circular 1-D CNN with delta-orthogonal kernels of
  gain g and no biases keeps every input's norm times g^L, and every singular value of its
  input-output Jacobian is g^L (float64, relative 1e-10) [11.1];
- ``conv_spatial_modes``: with i.i.d. kernels, no biases and a linear or ReLU-like activation,
  the expected per-position second moment of h^L for input variance 1 + a cos(2 pi m t/T) is
  sigma_w2^L kappa^(L-1) (1 + a |lambda_m|^L cos(2 pi m t/T + L arg lambda_m)), exactly at
  every width [11.2]. 32 networks of 16 examples, 64 channels, 16 positions, depth <= 8;
  in 2-D the product of one factor per axis [11.4]: 32 networks of 8 examples, 32 channels,
  8-10 x 8-10 images, depth <= 4;
- ``jacobian_spectrum`` on a delta-orthogonal tanh CNN: its Jacobian is block-diagonal over
  positions, an orthogonal MLP's per position, so the free-probability law of docs/theory.md
  §3 applies [11.1].
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import gradbench as gb
from gradbench.suite import budget

GAINS = st.floats(0.7, 1.4).filter(lambda g: abs(g - 1.0) > 0.05)


@budget(2 / 15)
@given(depth=st.integers(2, 24), channels=st.sampled_from([4, 8, 16]),
       length=st.integers(5, 12), kernel=st.sampled_from([1, 3, 5]), gain=GAINS)
def test_delta_orthogonal_isometry(depth, channels, length, kernel, gain, run_claim):
    """Linear delta-orthogonal CNN: ||x^L|| = g^L ||x^0||, Jacobian singular values all g^L."""
    spec = gb.Conv1DSpec(depth=depth, channels=channels, length=length, kernel=kernel,
                         activation="linear", init=f"delta_orthogonal(gain={gain!r})",
                         sigma_b2=0.0)
    run_claim(spec, "delta_orthogonal_isometry")


@budget(2 / 15)
@given(depth=st.integers(2, 8), kernel=st.sampled_from([3, 5]), mode=st.integers(1, 3),
       modulation=st.floats(0.3, 0.9),
       activation=st.sampled_from(["linear", "relu", "leaky_relu(negative_slope=0.2)"]),
       init=st.sampled_from(["he_normal", "lecun_normal", "he_uniform"]))
def test_conv_spatial_modes(depth, kernel, mode, modulation, activation, init, run_claim):
    """i.i.d. kernels: Fourier mode m of E q^l(t) is multiplied by lambda_m per layer, the
    mean by sigma_w2 (kappa from layer 2 on); high frequencies die first [11.2]."""
    spec = gb.Conv1DSpec(depth=depth, channels=64, length=16, kernel=kernel,
                         activation=activation, init=init, sigma_b2=0.0, input_mode=mode,
                         input_modulation=modulation)
    run_claim(spec, "conv_spatial_modes", seeds=32, batch=16)


CRITICAL_TANH = dict(sigma_w2=1.0305575108, sigma_b2=4.6513e-6, input_var=1 / 64)


def test_delta_orthogonal_tanh_jacobian_spectrum(run_claim):
    """Delta-orthogonal tanh CNN near criticality (q* = 1/64): its Jacobian is an orthogonal
    MLP's per position, so jacobian_spectrum's free-probability law applies [11.1, 3]."""
    spec = gb.Conv1DSpec(depth=6, channels=128, length=4, kernel=3, activation="tanh",
                         init="delta_orthogonal", **CRITICAL_TANH)
    run_claim(spec, "jacobian_spectrum", seeds=16)


# --- 2-D convolutions (docs/theory.md §11.3) ------------------------------------------------


@budget(2 / 15)
@given(depth=st.integers(2, 16), channels=st.sampled_from([2, 4]), height=st.integers(3, 5),
       width=st.integers(3, 5), kernel=st.sampled_from([1, 3]),
       padding=st.sampled_from(["circular", "zeros"]), gain=GAINS)
def test_delta_orthogonal_isometry_2d(depth, channels, height, width, kernel, padding, gain,
                                      run_claim):
    """Linear 2-D delta-orthogonal CNN, either padding: ||x^L|| = g^L ||x^0||, Jacobian
    singular values all g^L (Xiao et al. 2018, Algorithm 2 in 2-D) [11.1, 11.3]."""
    spec = gb.Conv2DSpec(depth=depth, channels=channels, height=height, width=width,
                         kernel=kernel, padding=padding, activation="linear",
                         init=f"delta_orthogonal(gain={gain!r})", sigma_b2=0.0)
    run_claim(spec, "delta_orthogonal_isometry")


MODES_2D = st.sampled_from([(0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (0, 2), (2, 2)])


@budget(2 / 15)
@given(depth=st.integers(2, 4), height=st.integers(8, 10), width=st.integers(8, 10),
       modes=MODES_2D, modulation=st.floats(0.3, 0.9),
       activation=st.sampled_from(["linear", "relu", "leaky_relu(negative_slope=0.2)"]),
       init=st.sampled_from(["he_normal", "lecun_normal", "he_uniform"]))
def test_conv_spatial_modes_2d(depth, height, width, modes, modulation, activation, init,
                               run_claim):
    """Circular 3 x 3 convolutions with i.i.d. kernels: mode (m, n) of E q^l(s, t) is
    multiplied by lambda_m(H) lambda_n(W) per layer, the product of the two axes' 1-D
    factors [11.2, 11.4]."""
    spec = gb.Conv2DSpec(depth=depth, channels=32, height=height, width=width, kernel=3,
                         activation=activation, init=init, sigma_b2=0.0,
                         input_mode_h=modes[0], input_mode_w=modes[1],
                         input_modulation=modulation)
    run_claim(spec, "conv_spatial_modes", seeds=32, batch=8)


def test_delta_orthogonal_isometry_2d_zero_padding(run_claim):
    """A zero-padded 3 x 3 delta-orthogonal net: the border is never read by the centre tap,
    so the isometry is exact there too (a tap off the centre would lose the border)."""
    spec = gb.Conv2DSpec(depth=6, channels=2, height=4, width=5, kernel=3, padding="zeros",
                         activation="linear", init="delta_orthogonal(gain=1.1)", sigma_b2=0.0)
    run_claim(spec, "delta_orthogonal_isometry")
