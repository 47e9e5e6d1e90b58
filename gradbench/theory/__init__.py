r"""Theory predictions for gradient flow at initialization (numpy/scipy only, no torch).

Everything here is a deterministic function of numbers and activation functions; the
formulas and reference numbers are those of ``docs/theory.md`` (section numbers are
cited in each docstring). Conventions (docs/theory.md §1): fan-in scaling
``Var W_ij = sigma_w2 / fan_in``, bias variance ``sigma_b2``, pre-activation second moment
``q``, ``z ~ N(0, 1)``.

The package is a facade (as ``scipy.stats`` over its private modules): every public
name is re-exported here, implemented in

* ``_quadrature`` and ``_activation``: Gaussian quadrature, activation resolution;
* ``_mean_field``, ``_finite_width``, ``_jacobian``, ``_normalization``, ``_residual``,
  ``_rnn``: one theory each;
* ``_predict``: :func:`predict`, dispatching to the predictor each spec class declares
  (the MLP's here, the residual and RNN ones in their modules).

The implementation modules are private (their names would otherwise clash with the
functions ``mean_field`` and ``predict``); import public names from here.

Contents:

* Gaussian expectations by composite Gauss-Legendre quadrature split at kinks
  (:func:`gauss_expect`, :func:`gauss_expect2`).
* Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017):
  :func:`q_map`, :func:`q_star`, :func:`chi1`, :func:`c_map`, :func:`c_star`,
  :func:`chi_c`, :func:`depth_scales`, :func:`phase`, :func:`critical_point`,
  :func:`critical_sigma_w2`, :func:`stable_critical_point`, :func:`mean_field`.
* The exact finite-width law of ReLU gradient norms (Hanin 2018; Hanin & Nica 2020):
  :func:`relu_finite_width`, :func:`relu_log_norm_law`.
* The Jacobian spectrum (Pennington, Schoenholz & Ganguli 2017): :func:`jacobian_spectrum`.
* Residual networks (Yang & Schoenholz 2017; De & Smith 2020), vanilla RNNs (Pascanu et
  al. 2013; Chen et al. 2018), BatchNorm/LayerNorm (Yang et al. 2019).
* Transformers: the exact Pre-LN stream second moment (Xiong et al. 2020, refined):
  :func:`preln_stream_second_moment`.
* :func:`predict`: a :class:`~gradbench.records.Prediction` for any spec.

Activations are given by registry name (``"tanh"``, ``"leaky_relu(negative_slope=0.2)"``)
or as an object with ``phi``, ``dphi``, ``d2phi`` (float64 NumPy functions) and ``kinks``
(:class:`ActivationFunctions`, e.g. a
:class:`~gradbench.remedies.activations.NumpyActivation`). A built-in name resolves to the
NumPy reference its registration declares, so theory never imports torch, neither on import
nor when called; only a registered user activation that declares no reference falls back
to torch autograd (the explicit fallback, ``source="autograd"``).
"""

from __future__ import annotations

from gradbench.theory._activation import Activation, ActivationFunctions
from gradbench.theory._conv import (
    SpatialModes,
    conv_spatial_modes,
    spatial_mode_factor,
    spatial_modes_issue,
)
from gradbench.theory._finite_width import (
    LogNormLaw,
    ReluLayerLaw,
    relu_finite_width,
    relu_log_norm_law,
)
from gradbench.theory._jacobian import (
    JacobianSpectrum,
    jacobian_normalized_variance,
    jacobian_spectrum,
)
from gradbench.theory._mean_field import (
    CRITICAL_BIASES,
    MIN_CRITICAL_Q,
    CriticalPoint,
    MeanField,
    c_map,
    c_star,
    chi1,
    chi_c,
    critical_point,
    critical_sigma_w2,
    depth_scales,
    length_map_slope,
    mean_field,
    phase,
    q_map,
    q_star,
    q_trajectory,
    stable_critical_point,
)
from gradbench.theory._normalization import (
    batchnorm_log_growth,
    batchnorm_rate,
    layernorm_log_growth,
    layernorm_rate,
)
from gradbench.theory._predict import BN_MIN_BATCH, MIN_WIDTH, finite_width_drift, predict
from gradbench.theory._quadrature import Q_HUGE, Q_TINY, Z_MAX, gauss_expect, gauss_expect2
from gradbench.theory._residual import ResidualMeanField, residual_log_growth, residual_mean_field
from gradbench.theory._rnn import (
    RNNMeanField,
    carry_gate_mean,
    linear_rnn_log_growth,
    rnn_fixed_point,
    rnn_mean_field,
)
from gradbench.theory._transformer import preln_stream_second_moment

__all__ = [
    "BN_MIN_BATCH", "CRITICAL_BIASES", "MIN_CRITICAL_Q", "MIN_WIDTH", "Q_HUGE", "Q_TINY", "Z_MAX",
    "Activation", "ActivationFunctions", "CriticalPoint", "JacobianSpectrum", "LogNormLaw",
    "MeanField", "RNNMeanField", "ReluLayerLaw", "ResidualMeanField", "SpatialModes",
    "batchnorm_log_growth", "batchnorm_rate", "c_map", "c_star", "carry_gate_mean", "chi1",
    "chi_c", "conv_spatial_modes", "critical_point", "critical_sigma_w2", "depth_scales",
    "finite_width_drift", "gauss_expect", "gauss_expect2", "jacobian_normalized_variance",
    "jacobian_spectrum", "layernorm_log_growth", "layernorm_rate", "length_map_slope",
    "linear_rnn_log_growth", "mean_field", "phase", "predict", "preln_stream_second_moment",
    "q_map", "q_star", "q_trajectory", "relu_finite_width", "relu_log_norm_law",
    "residual_log_growth", "residual_mean_field", "rnn_fixed_point", "rnn_mean_field",
    "spatial_mode_factor", "spatial_modes_issue",
    "stable_critical_point",
]
