"""Tests of gradbench.theory against closed forms and the numbers of docs/theory.md.

Each table test names the docs/theory.md section it reproduces. Tolerances follow the number
of digits the table gives (a value given to 10 digits is checked at rel 1e-9).
"""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import oracles
import pytest
from scipy import optimize, special

from gradbench import theory
from gradbench.errors import InvalidArgument
from gradbench.theory import _activation

# ---------------------------------------------------------------------------------------
# Import hygiene
# ---------------------------------------------------------------------------------------


def test_import_does_not_import_torch() -> None:
    code = "import sys, gradbench.theory; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


PUBLIC = {  # theory.__all__ of the single-module theory.py (4b1eec6): the facade keeps it
    "BN_MIN_BATCH", "MIN_WIDTH", "Q_HUGE", "Q_TINY", "Z_MAX", "Activation",
    "ActivationFunctions", "CriticalPoint", "JacobianSpectrum", "LogNormLaw", "MeanField",
    "RNNMeanField", "ReluLayerLaw", "ResidualMeanField", "batchnorm_log_growth",
    "batchnorm_rate", "c_map", "c_star", "chi1", "chi_c", "critical_point", "critical_sigma_w2",
    "depth_scales", "gauss_expect", "gauss_expect2", "jacobian_normalized_variance",
    "jacobian_spectrum", "layernorm_log_growth", "layernorm_rate", "length_map_slope",
    "linear_rnn_log_growth", "mean_field", "phase", "predict", "q_map", "q_star",
    "q_trajectory", "relu_finite_width", "relu_log_norm_law", "residual_log_growth",
    "residual_mean_field", "rnn_fixed_point", "rnn_mean_field",
} | {"CRITICAL_BIASES", "MIN_CRITICAL_Q", "stable_critical_point"}  # an activation's own
# critical initialization (docs/theory.md §9.3)
PUBLIC |= {"carry_gate_mean"}  # added on main with the reference check (carry_gate_mean claim)
PUBLIC |= {"finite_width_drift"}  # the drift the claims test and the report draws (§2.2)
PUBLIC |= {"preln_stream_second_moment"}  # the transformer family's Pre-LN law (§10)
PUBLIC |= {"SpatialModes", "conv_spatial_modes", "spatial_mode_factor",
           "spatial_modes_issue"}  # deep CNNs: the spatial-mode law (§11.2)


def test_facade_keeps_the_public_names() -> None:
    """The package facade re-exports exactly the old module's names, each defined."""
    assert set(theory.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(theory, name) is not None, name
    assert callable(theory.mean_field)  # not shadowed by a submodule of that name
    assert callable(theory.predict)


# ---------------------------------------------------------------------------------------
# Quadrature vs closed forms (docs/theory.md §1.2)
# ---------------------------------------------------------------------------------------

QS = [1e-6, 1e-3, 0.1, 0.5, 1.0, 3.7, 50.0, 1e4]


def _erf_dphi(x: np.ndarray) -> np.ndarray:
    return 2.0 / math.sqrt(math.pi) * np.exp(-x * x)


@pytest.mark.parametrize("q", QS)
def test_gauss_expect_matches_closed_forms(q: float) -> None:
    relu2 = theory.gauss_expect(lambda x: np.maximum(x, 0.0) ** 2, q, kinks=(0.0,))
    assert relu2 == pytest.approx(q / 2, rel=1e-12)
    erf2 = theory.gauss_expect(lambda x: special.erf(x) ** 2, q)
    assert erf2 == pytest.approx(2 / math.pi * math.asin(2 * q / (1 + 2 * q)), rel=1e-12)
    derf2 = theory.gauss_expect(lambda x: _erf_dphi(x) ** 2, q)
    assert derf2 == pytest.approx(4 / math.pi / math.sqrt(1 + 4 * q), rel=1e-12)
    leaky = theory.gauss_expect(lambda x: np.where(x > 0, x, 0.2 * x) ** 2, q, kinks=(0.0,))
    assert leaky == pytest.approx(oracles.leaky_relu_second_moment(q, 0.2), rel=1e-12)
    assert theory.gauss_expect(lambda x: x**2, q) == pytest.approx(q, rel=1e-12)
    assert theory.gauss_expect(lambda x: np.ones_like(x), q) == pytest.approx(1.0, rel=1e-13)


@pytest.mark.parametrize("q", [1e-4, 0.3, 1.0, 20.0])
def test_registered_activations_match_closed_forms(q: float) -> None:
    """The moments of the registered activations (their NumPy references) match closed forms."""
    assert theory.q_map("relu", q, 2.0, 0.0) == pytest.approx(q, rel=1e-12)
    assert theory.chi1("relu", 1.3, 0.0, q=q) == pytest.approx(0.65, rel=1e-12)
    erf_q = 1.7 * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)) + 0.05
    assert theory.q_map("erf", q, 1.7, 0.05) == pytest.approx(erf_q, rel=1e-12)
    erf_chi = 1.7 * 4 / math.pi / math.sqrt(1 + 4 * q)
    assert theory.chi1("erf", 1.7, 0.05, q=q) == pytest.approx(erf_chi, rel=1e-12)
    lr = theory.q_map("leaky_relu(negative_slope=0.2)", q, 1.0, 0.0)
    assert lr == pytest.approx(oracles.leaky_relu_second_moment(q, 0.2), rel=1e-12)
    assert theory.chi1("leaky_relu(negative_slope=0.2)", 2.0, 0.0, q=q) == pytest.approx(
        1.04, rel=1e-12
    )
    assert theory.q_map("linear", q, 0.7, 0.1) == pytest.approx(0.7 * q + 0.1, rel=1e-12)


@pytest.mark.parametrize(("q1", "q2"), [(1.0, 1.0), (0.3, 2.0), (1e-3, 1e-3), (50.0, 3.0)])
@pytest.mark.parametrize("c", [-0.9, 0.0, 0.3, 0.5, 0.9, 0.99, 0.999999, 1.0])
def test_gauss_expect2_matches_kernels(q1: float, q2: float, c: float) -> None:
    """Arc-cosine (Cho & Saul 2009) and arcsine (Williams 1997) kernels, docs/theory.md §1.2."""
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    step = lambda x: (x > 0).astype(np.float64)  # noqa: E731
    got = theory.gauss_expect2(relu, relu, q1, q2, c, kinks=(0.0,))
    assert got == pytest.approx(oracles.relu_kernel(q1, q2, c), rel=1e-11, abs=1e-14)
    got = theory.gauss_expect2(step, step, q1, q2, c, kinks=(0.0,))
    assert got == pytest.approx(oracles.relu_dkernel(c), abs=1e-11)
    got = theory.gauss_expect2(special.erf, special.erf, q1, q2, c)
    assert got == pytest.approx(oracles.erf_kernel(q1, q2, c), abs=1e-12)
    got = theory.gauss_expect2(_erf_dphi, _erf_dphi, q1, q2, c)
    assert got == pytest.approx(oracles.erf_dkernel(q1, q2, c), rel=1e-11)


def test_relu_c_map_at_he_init() -> None:
    """docs/theory.md §1.2: f(0) = 1/pi, f(0.5) = 0.6089977810, and the closed-form c-map."""
    assert theory.c_map("relu", 0.0, 2.0, 0.0) == pytest.approx(1 / math.pi, rel=1e-10)
    assert theory.c_map("relu", 0.5, 2.0, 0.0) == pytest.approx(0.6089977810, rel=1e-9)
    for c in (0.1, 0.7, 0.95, 0.9999):
        want = oracles.relu_cmap_he(c)
        assert theory.c_map("relu", c, 2.0, 0.0) == pytest.approx(want, rel=1e-11)


def test_relu_c_map_polynomial_approach_l10() -> None:
    """docs/theory.md §1.2: l^2 (1 - c^l) under the ReLU He c-map; quadrature vs closed form."""
    c_quad = c_closed = 0.0
    for _ in range(10):
        c_quad = theory.c_map("relu", c_quad, 2.0, 0.0)
        c_closed = oracles.relu_cmap_he(c_closed)
    assert 100 * (1 - c_quad) == pytest.approx(100 * (1 - c_closed), rel=1e-9)
    c = 0.0
    for _ in range(10_000):
        c = oracles.relu_cmap_he(c)
    assert 1e8 * (1 - c) == pytest.approx(44.25, abs=0.01)  # -> 9 pi^2 / 2 = 44.41


def test_erf_closed_form_critical_line() -> None:
    """docs/theory.md §1.4: erf sigma_w2 = (pi/4) sqrt(1 + 4 q*) on the chi1 = 1 line."""
    for sb2 in (0.05, 0.3):
        sw2 = theory.critical_sigma_w2("erf", sb2)
        qs = theory.q_star("erf", sw2, sb2)
        assert sw2 == pytest.approx(math.pi / 4 * math.sqrt(1 + 4 * qs), rel=1e-11)


def test_selu_closed_form_chi1() -> None:
    """docs/theory.md §1.5: chi1 = lambda^2 (1/2 + alpha^2 e^2 Phi(-2)) = 1.071574992456."""
    assert oracles.selu_chi1() == pytest.approx(1.071574992456, rel=1e-12)
    assert theory.chi1("selu", 1.0, 0.0) == pytest.approx(oracles.selu_chi1(), rel=1e-11)


# ---------------------------------------------------------------------------------------
# Mean-field tables (docs/theory.md §1.3-§1.5)
# ---------------------------------------------------------------------------------------

# docs/theory.md §1.3, tanh, sigma_b2 = 0: sigma_w2, q*, chi1, slope dq/dq, xi_q, chi_c*, xi_c
TANH_SB0 = [
    (1.5, 0.2868942294, 1.040567565, 0.6954911539, 2.75378, 0.98108374, 52.363),
    (2.0, 0.6179647698, 1.105528820, 0.5525160009, 1.68556, 0.95501069, 21.724),
    (25 / 9, 1.178480490, 1.209831320, 0.43089939, 1.1878, 0.92079065, 12.118),
    (4.0, 2.121473568, 1.362673338, 0.33096715, 0.90437, 0.88221539, 7.9796),
]


@pytest.mark.parametrize("row", TANH_SB0, ids=lambda r: f"sw2={r[0]:.4g}")
def test_tanh_table_sigma_b0_theory_1_3(row: tuple[float, ...]) -> None:
    sw2, qs, chi, slope, xi_q, chic, xi_c = row
    mf = theory.mean_field("tanh", sw2, 0.0)
    assert mf.q_star == pytest.approx(qs, rel=1e-9)
    assert mf.chi1 == pytest.approx(chi, rel=1e-9)
    assert mf.slope_q == pytest.approx(slope, rel=1e-8)
    assert mf.xi_q == pytest.approx(xi_q, rel=1e-4)
    assert mf.c_star == 0.0
    assert mf.chi_c == pytest.approx(chic, rel=1e-7)
    assert mf.xi_c == pytest.approx(xi_c, rel=1e-4)
    assert mf.phase == "chaotic"


def test_tanh_table_sigma_b0_ordered_rows_theory_1_3() -> None:
    """sigma_w2 <= 1: q* = 0, chi1 = sigma_w2, xi_q = -1/ln sigma_w2 (inf at 1), xi_c undefined."""
    mf = theory.mean_field("tanh", 0.5, 0.0)
    assert (mf.q_star, mf.phase) == (0.0, "ordered")
    assert mf.chi1 == pytest.approx(0.5, rel=1e-12)
    assert mf.xi_q == pytest.approx(1.4427, rel=1e-4)
    assert math.isnan(mf.c_star)
    assert math.isnan(mf.xi_c)
    mf = theory.mean_field("tanh", 1.0, 0.0)
    assert (mf.q_star, mf.phase, mf.xi_q) == (0.0, "critical", math.inf)
    assert mf.chi1 == pytest.approx(1.0, rel=1e-12)


# docs/theory.md §1.3, tanh, sigma_b2 = 0.05: sigma_w2, q*, chi1, xi_q, c*, chi_c*, xi_c
TANH_SB005 = [
    (0.5, 0.08757986519, 0.4319873818, 1.0089, 1.0, 0.4319873818, 1.1914),
    (1.0, 0.1935925202, 0.7590316472, 1.7476, 1.0, 0.7590316472, 3.627),
    (1.5, 0.4180372005, 0.9386362682, 1.6828, 1.0, 0.9386362682, 15.791),
    (2.0, 0.7217618727, 1.047665999576, 1.38798, 0.74408242, 0.96111479, 25.213),
    (4.0, 2.195493928, 1.342402414, 0.87329, 0.16506496, 0.866528, 6.9803),
]


@pytest.mark.parametrize("row", TANH_SB005, ids=lambda r: f"sw2={r[0]}")
def test_tanh_table_sigma_b005_theory_1_3(row: tuple[float, ...]) -> None:
    sw2, qs, chi, xi_q, cs, chic, xi_c = row
    mf = theory.mean_field("tanh", sw2, 0.05)
    assert mf.q_star == pytest.approx(qs, rel=1e-9)
    assert mf.chi1 == pytest.approx(chi, rel=1e-9)
    assert mf.xi_q == pytest.approx(xi_q, rel=1e-4)
    assert mf.c_star == pytest.approx(cs, rel=1e-7)
    assert mf.chi_c == pytest.approx(chic, rel=1e-6)
    assert mf.xi_c == pytest.approx(xi_c, rel=2e-4)
    assert theory.c_star("tanh", sw2, 0.05) == pytest.approx(cs, rel=1e-7)
    assert theory.chi_c("tanh", sw2, 0.05) == pytest.approx(chic, rel=1e-6)
    assert theory.depth_scales("tanh", sw2, 0.05) == pytest.approx((xi_q, xi_c), rel=2e-4)


def test_tanh_marginal_polynomial_decay_theory_1_3() -> None:
    """tanh at sigma_w2 = 1, sigma_b = 0, from q0 = 1: l * prod_{k<l} chi^(k) -> 0.71."""
    qs = theory.q_trajectory("tanh", 1.0, 1.0, 0.0, 100)
    chis = np.array([theory.chi1("tanh", 1.0, 0.0, q=q) for q in qs])
    for layers, want in ((10, 0.7137), (50, 0.7167), (100, 0.7134)):
        assert layers * np.prod(chis[:layers]) == pytest.approx(want, abs=1e-4)
    assert qs[-1] * 2 * 99 == pytest.approx(1.0, rel=0.05)  # q^l ~ 1/(2l)


# docs/theory.md §1.4 critical lines: sigma_b2 -> (tanh sigma_w2, tanh q*, erf sigma_w2, erf q*)
CRITICAL = [
    (0.05, 1.760954639607, 0.570047881641, 1.375839007347, 0.517176837981),
    (0.1, 1.986072641136, 0.805799181913, 1.552117855334, 0.726359229385),
    (0.3, 2.505127189680, 1.46116944693, 1.963070586515, 1.31182394796),
    (1.0, 3.443210912265, 3.03639639462, 2.718381352335, 2.74489093034),
]


@pytest.mark.parametrize("row", CRITICAL, ids=lambda r: f"sb2={r[0]}")
def test_critical_lines_theory_1_4(row: tuple[float, ...]) -> None:
    sb2, tanh_w, tanh_q, erf_w, erf_q = row
    assert theory.critical_sigma_w2("tanh", sb2) == pytest.approx(tanh_w, rel=1e-11)
    assert theory.critical_sigma_w2("erf", sb2) == pytest.approx(erf_w, rel=1e-11)
    assert theory.q_star("tanh", tanh_w, sb2) == pytest.approx(tanh_q, rel=1e-9)
    assert theory.q_star("erf", erf_w, sb2) == pytest.approx(erf_q, rel=1e-9)
    assert theory.chi1("tanh", tanh_w, sb2) == pytest.approx(1.0, abs=1e-11)
    assert theory.phase("tanh", tanh_w, sb2, tol=1e-9) == "critical"


def test_critical_lines_at_sigma_b0_theory_1_4() -> None:
    assert theory.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, rel=1e-12)
    assert theory.critical_sigma_w2("erf", 0.0) == pytest.approx(math.pi / 4, rel=1e-12)
    assert theory.critical_sigma_w2("sigmoid", 0.0) == pytest.approx(103.0075538555, rel=1e-10)
    assert theory.q_star("sigmoid", 103.0075538555, 0.0) == pytest.approx(45.6242777974, rel=1e-8)
    for sb2 in (0.0, 0.3, 1.0):  # ReLU: chi1 = sigma_w2 / 2 for every q and sigma_b
        assert theory.critical_sigma_w2("relu", sb2) == pytest.approx(2.0, rel=1e-13)


def test_sigmoid_tanh_identity_theory_1_4() -> None:
    """[derived] sigmoid(sw2, sb2) has the chi1 of tanh(sw2/16, sw2/16 + sb2/4)."""
    for sw2, sb2 in ((1.0, 0.0), (8.0, 0.2), (103.0075538555, 0.0)):
        want = theory.chi1("tanh", sw2 / 16, sw2 / 16 + sb2 / 4)
        assert theory.chi1("sigmoid", sw2, sb2) == pytest.approx(want, rel=1e-10)


# docs/theory.md §1.4, tanh critical points parametrised by q*: q*, sigma_w2, sigma_b2
TANH_BY_Q = [
    (1 / 64, 1.0305575108, 4.6513e-6),
    (1 / 16, 1.1153806244, 2.368768e-4),
    (1 / 4, 1.3939616283, 0.0081251542),
    (1 / 2, 1.6879751206, 0.0380412011),
    (1.0, 2.1533026489, 0.1509646294),
]


@pytest.mark.parametrize("row", TANH_BY_Q, ids=lambda r: f"q={r[0]}")
def test_tanh_critical_points_by_q_theory_1_4(row: tuple[float, float, float]) -> None:
    q, sw2, sb2 = row
    point = theory.critical_point("tanh", q)
    assert point.sigma_w2 == pytest.approx(sw2, rel=1e-10)
    assert point.sigma_b2 == pytest.approx(sb2, rel=5e-5)
    assert point.stable


# docs/theory.md §1.5: activation, sigma_w2, sigma_b2, q*, chi1
INIT_TABLE = [
    ("tanh", 1 / 3, 0.0, 0.0, 1 / 3),
    ("tanh", 1 / 3, 1 / 192, 0.007753665311, 0.3282998254),
    ("tanh", 1 / 3, 1 / 768, 0.00194934589, 0.3320425594),
    ("tanh", 1 / 3, 1 / 3072, 0.000488043, 0.3330085256),
    ("tanh", 25 / 9, 0.0, 1.17848049, 1.20983132),
    ("tanh", 25 / 9, 0.05, 1.264099432, 1.176359058),
    ("sigmoid", 1.0, 0.0, 0.2646868752, 0.05572070677),
    ("sigmoid", 1 / 3, 0.0, 0.08503376488, 0.02000782934),
    ("sigmoid", 1 / 3, 1 / 192, 0.0903438, 0.01995992165),
    ("sigmoid", 1 / 3, 1 / 768, 0.0863613, 0.01999581523),
    ("sigmoid", 1 / 3, 1 / 3072, 0.0853657, 0.02000482347),
    ("relu", 1 / 3, 1 / 192, 2 / (5 * 64), 1 / 6),
    ("selu", 1.0, 0.0, 1.0, 1.071574992),
    ("selu", 0.5625, 0.0, 0.02303378461, 1.003670351),
    ("erf", 1.0, 0.0, 0.1419237653, 1.01690252),
    ("erf", 2.0, 0.0, 0.8807506304, 1.197365386),
]


def _digits(x: float) -> float:
    """Relative tolerance for a table value: half a unit in its last printed digit, at least."""
    text = f"{x:.10g}".split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    return max(1e-11, 10.0 ** (1 - len(text)))


@pytest.mark.parametrize("row", INIT_TABLE, ids=lambda r: f"{r[0]}-{r[1]:.3g}-{r[2]:.3g}")
def test_common_initializations_theory_1_5(row: tuple[str, float, float, float, float]) -> None:
    act, sw2, sb2, qs, chi = row
    got_q = theory.q_star(act, sw2, sb2)
    if qs == 0.0:
        assert got_q == 0.0
    else:
        assert got_q == pytest.approx(qs, rel=_digits(qs))
    assert theory.chi1(act, sw2, sb2) == pytest.approx(chi, rel=_digits(chi))


def test_selu_details_theory_1_5() -> None:
    mf = theory.mean_field("selu", 1.0, 0.0)
    assert mf.q_star == pytest.approx(1.0, abs=1e-12)
    assert mf.xi_q == pytest.approx(4.0804, rel=1e-4)
    assert mf.c_star == 0.0
    assert mf.chi_c == pytest.approx(0.97068035, rel=1e-7)
    assert mf.xi_c == pytest.approx(33.604, rel=1e-4)
    assert mf.phase == "chaotic"


@pytest.mark.parametrize(
    ("act", "ratios"),
    [
        ("gelu", (0.250048, 0.254696, 0.290905, 0.425221, 0.494757, 0.499815, 0.5)),
        ("silu", (0.250019, 0.251860, 0.267326, 0.355776, 0.475164, 0.498772, 0.499999)),
    ],
)
def test_gelu_silu_second_moment_ratio_theory_1_5(act: str, ratios: tuple[float, ...]) -> None:
    """r(q) = E[phi(sqrt(q) z)^2] / q rises from 1/4 to 1/2."""
    for q, r in zip((1e-4, 0.01, 0.1, 1.0, 10.0, 100.0, 1e4), ratios):
        assert theory.q_map(act, q, 1.0, 0.0) / q == pytest.approx(r, abs=1e-6)


# docs/theory.md §1.5 He-init trajectories from q0 = 1: q^l at l = 1, 2, 5, 10, 20, 30 and
# chi^(l) at l = 0, 1, 2, 5, 10, 20, 29; product over 30 layers; the 29-step MC ratio.
TRAJ = {
    "gelu": (
        (0.850443, 0.705897, 0.326917, 0.0292563, 3.19e-5, 3.12e-8),
        (0.911702, 0.891021, 0.865417, 0.750129, 0.535189, 0.500041, 0.5),
        5.88e-8,
        1.176e-7,
    ),
    "silu": (
        (0.711551, 0.477737, 0.099261, 0.00356659, 3.50e-6, 3.42e-9),
        (0.758965, 0.713109, 0.664161, 0.545208, 0.501777, 0.500002, 0.5),
        4.60e-9,
        9.20e-9,
    ),
}


@pytest.mark.parametrize("act", ["gelu", "silu"])
def test_gelu_silu_he_trajectories_theory_1_5(act: str) -> None:
    q_want, chi_want, prod30, prod29 = TRAJ[act]
    qs = theory.q_trajectory(act, 1.0, 2.0, 0.0, 31)
    chis = np.array([theory.chi1(act, 2.0, 0.0, q=q) for q in qs])
    for layer, want in zip((1, 2, 5, 10, 20, 30), q_want):
        assert qs[layer] == pytest.approx(want, rel=2e-3)
    for layer, want in zip((0, 1, 2, 5, 10, 20, 29), chi_want):
        assert chis[layer] == pytest.approx(want, abs=1e-6)
    assert np.prod(chis[:30]) == pytest.approx(prod30, rel=2e-3)
    assert np.prod(chis[:29]) == pytest.approx(prod29, rel=2e-3)


@pytest.mark.parametrize("act", ["gelu", "silu"])
def test_gelu_silu_degenerate_at_sigma_b0_theory_1_5(act: str) -> None:
    """sigma_w2 <= 2: q -> 0, chi1 -> sigma_w2/4; sigma_w2 >= 4: q -> inf, chi1 -> sigma_w2/2."""
    assert theory.q_star(act, 2.0, 0.0) == 0.0
    assert theory.chi1(act, 2.0, 0.0) == pytest.approx(0.5, rel=1e-12)
    assert theory.phase(act, 2.0, 0.0) == "ordered"
    assert theory.q_star(act, 4.0, 0.0) == math.inf
    assert theory.chi1(act, 4.0, 0.0) == pytest.approx(2.0, rel=1e-9)
    assert theory.phase(act, 4.0, 0.0) == "chaotic"
    # 2 < sigma_w2 < 4: the interior fixed point is unstable; q0 decides the side.
    assert theory.q_star(act, 3.0, 0.0, q0=1e-3) == 0.0
    assert theory.q_star(act, 3.0, 0.0, q0=1e3) == math.inf
    # no stable critical point at sigma_b = 0; the formal one is sigma_w2 = 4 at q* = 0
    assert math.isnan(theory.critical_sigma_w2(act, 0.0))
    assert theory.critical_sigma_w2(act, 0.0, require_stable=False) == pytest.approx(4.0, rel=1e-12)


def test_gelu_silu_critical_curves_theory_1_5() -> None:
    for sb2, want in ((0.3, 1.9561586283), (0.5, 1.9612150924), (1.0, 1.9766800125)):
        assert theory.critical_sigma_w2("gelu", sb2) == pytest.approx(want, rel=1e-10)
    assert theory.critical_sigma_w2("silu", 1.0) == pytest.approx(1.9670410826, rel=1e-10)
    # sigma_b2 = 0.5: SiLU's only critical point (q* = 12.11) is marginally unstable
    assert math.isnan(theory.critical_sigma_w2("silu", 0.5))
    unstable = theory.critical_sigma_w2("silu", 0.5, require_stable=False)
    assert unstable == pytest.approx(1.9974683890, rel=1e-10)
    assert theory.q_star("gelu", 1.9561586283, 0.3) == pytest.approx(8.772, abs=1e-3)


@pytest.mark.parametrize(("act", "sb2", "sw2", "q"), [
    ("tanh", 0.05, 1.760954639607, 0.570047881641),  # sigma_b = 0 gives q* = 0: skipped
    ("erf", 0.05, 1.375839007347, 0.517176837981),
    ("gelu", 0.3, 1.9561586283, 8.772),  # none is stable below sigma_b2 = 0.173
    ("silu", 1.0, 1.9670410826, 39.39),  # none is stable below sigma_b2 = 0.555
    ("sigmoid", 0.0, 103.0075538555, 45.6242777974),
    ("relu", 0.0, 2.0, 1.0),  # E phi'^2 = 1/2 at every q: any q is preserved
    ("leaky_relu(negative_slope=0.2)", 0.0, 2 / 1.04, 1.0),
])
def test_stable_critical_point_theory_9_3(act: str, sb2: float, sw2: float, q: float) -> None:
    """The critical initialization an activation's standard settings try (docs/theory.md §9.3),
    against the critical lines of §1.4 and §1.5."""
    p = theory.stable_critical_point(act)
    assert p is not None
    assert p.sigma_b2 == sb2
    assert p.sigma_w2 == pytest.approx(sw2, rel=1e-9)
    assert p.q_star == pytest.approx(q, rel=1e-3)
    assert p.stable
    assert theory.chi1(act, p.sigma_w2, p.sigma_b2, q=p.q_star) == pytest.approx(1.0, rel=1e-9)


def test_an_activation_without_a_critical_point_has_none() -> None:
    """softplus: sigma_b2 = q* - sigma_w2 E phi^2 < 0 all along its critical line."""
    assert theory.stable_critical_point("softplus") is None
    assert theory.stable_critical_point("gelu", sigma_b2s=(0.0, 0.1)) is None


def test_the_critical_point_from_the_forward_alone_matches_the_reference() -> None:
    """Finite differences of the torch forward give the same point as the declared NumPy
    derivatives, so a user's backward never enters (docs/theory.md §9.3)."""
    pytest.importorskip("torch")
    from gradbench import registry
    from gradbench.remedies.activations import forward_activation

    for name in ("tanh", "gelu", "silu", "selu", "elu", "relu"):
        fwd = theory.stable_critical_point(forward_activation(registry.lookup("activation", name)))
        ref = theory.stable_critical_point(name)
        assert fwd is not None
        assert ref is not None
        assert (fwd.sigma_w2, fwd.sigma_b2, fwd.q_star) == pytest.approx(
            (ref.sigma_w2, ref.sigma_b2, ref.q_star), rel=1e-7), name


@pytest.mark.parametrize(
    ("act", "q_edge", "sb2", "sw2"),
    [("gelu", (3 + math.sqrt(17)) / 2, 0.17292239, 1.98305826),
     ("silu", 14.3201736, 0.55514317, 1.98800468)],
)
def test_gelu_silu_stability_edge_theory_1_5(
    act: str, q_edge: float, sb2: float, sw2: float
) -> None:
    """The critical curve is stable (dq/dq < 1, i.e. E[phi phi''] < 0) for q* above the edge."""
    act_ = _activation._resolve(act)
    root = optimize.brentq(lambda q: _activation._moments(act_, q).phi_d2phi, 1.0, 30.0, xtol=1e-13)
    assert root == pytest.approx(q_edge, rel=1e-8)
    point = theory.critical_point(act, root)
    assert point.sigma_b2 == pytest.approx(sb2, rel=1e-7)
    assert point.sigma_w2 == pytest.approx(sw2, rel=1e-8)
    assert theory.critical_point(act, 1.01 * root).stable
    assert not theory.critical_point(act, 0.99 * root).stable


def test_relu_and_leaky_relu_facts_theory_1_4_1_5() -> None:
    assert theory.q_star("relu", 2.0, 0.1) == math.inf  # q^l = q^{l-1} + sigma_b2
    assert theory.chi1("relu", 2.0, 0.1) == pytest.approx(1.0, rel=1e-12)
    assert theory.phase("relu", 2.0, 0.1) == "critical"
    assert theory.q_star("relu", 2.0, 0.0, q0=3.5) == pytest.approx(3.5, rel=1e-12)  # preserved
    for sw2, sb2 in ((1.0, 0.1), (1.5, 0.3)):  # ordered: q* = sigma_b2 / (1 - sigma_w2 / 2)
        assert theory.q_star("relu", sw2, sb2) == pytest.approx(sb2 / (1 - sw2 / 2), rel=1e-12)
    assert theory.q_star("relu", 3.0, 0.0) == math.inf
    assert theory.chi1("relu", 3.0, 0.0) == pytest.approx(1.5, rel=1e-12)
    for alpha in (0.01, 0.2):
        name = f"leaky_relu(negative_slope={alpha})"
        kaiming = 2 / (1 + alpha**2)
        assert theory.q_star(name, kaiming, 0.0, q0=0.7) == pytest.approx(0.7, rel=1e-12)
        assert theory.chi1(name, kaiming, 0.0) == pytest.approx(1.0, rel=1e-12)
        assert theory.chi1(name, 2.0, 0.0) == pytest.approx(1 + alpha**2, rel=1e-12)


def test_degenerate_depth_scales_and_c_map() -> None:
    assert theory.depth_scales("relu", 2.0, 0.0) == (math.inf, math.inf)
    xi_q, xi_c = theory.depth_scales("relu", 2.0, 0.1)  # q* = inf
    assert math.isnan(xi_q)
    assert math.isnan(xi_c)
    assert math.isnan(theory.c_map("tanh", 0.5, 0.5, 0.0))  # q* = 0
    assert math.isnan(theory.c_star("gelu", 4.0, 0.0))
    assert math.isnan(theory.chi_c("gelu", 4.0, 0.0))
    assert theory.c_star("tanh", 1.5, 0.05) == 1.0  # ordered
    assert theory.q_star("tanh", 0.0, 0.3) == 0.3  # no weights: q = sigma_b2
    assert theory.q_star("tanh", 0.0, 0.0) == 0.0


def test_length_map_slope_matches_finite_difference() -> None:
    for act, q, sw2 in (("tanh", 0.7, 2.0), ("gelu", 3.0, 1.9), ("elu", 1.2, 1.5)):
        eps = 1e-5 * q
        up, down = theory.q_map(act, q + eps, sw2, 0.1), theory.q_map(act, q - eps, sw2, 0.1)
        fd = (up - down) / (2 * eps)
        assert theory.length_map_slope(act, q, sw2) == pytest.approx(fd, rel=1e-7)


def test_user_supplied_numpy_activation() -> None:
    """An object with phi/dphi/d2phi/kinks works without the registry (pure NumPy)."""
    tanh = SimpleNamespace(
        phi=np.tanh,
        dphi=lambda x: 1 - np.tanh(x) ** 2,
        d2phi=lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
        kinks=(),
    )
    assert theory.q_star(tanh, 2.0, 0.0) == pytest.approx(0.6179647698, rel=1e-9)
    assert theory.chi1(tanh, 2.0, 0.0) == pytest.approx(theory.chi1("tanh", 2.0, 0.0), rel=1e-13)
    assert theory.critical_sigma_w2(tanh, 0.05) == pytest.approx(1.760954639607, rel=1e-11)
    assert theory.c_star(tanh, 2.0, 0.05) == pytest.approx(0.74408242, rel=1e-7)
    relu = SimpleNamespace(
        phi=lambda x: np.maximum(x, 0.0),
        dphi=lambda x: (x > 0).astype(np.float64),
        d2phi=np.zeros_like,
        kinks=(0.0,),
    )
    assert theory.chi1(relu, 2.0, 0.0) == pytest.approx(1.0, rel=1e-13)


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (theory.q_star, {"activation": "tanh", "sigma_w2": -1.0, "sigma_b2": 0.0}, "sigma_w2"),
        (theory.q_star, {"activation": "tanh", "sigma_w2": 1.0, "sigma_b2": math.nan}, "sigma_b2"),
        (theory.q_star, {"activation": "tanhh", "sigma_w2": 1.0, "sigma_b2": 0.0}, "tanh"),
        (theory.q_star, {"activation": 3, "sigma_w2": 1.0, "sigma_b2": 0.0}, "activation"),
        (theory.q_star, {"activation": "tanh", "sigma_w2": 1.0, "sigma_b2": 0.0, "q0": 0.0}, "q0"),
        (theory.q_map, {"activation": "tanh", "q": -1.0, "sigma_w2": 1.0, "sigma_b2": 0.0}, "q="),
        (theory.c_map, {"activation": "tanh", "c": 1.5, "sigma_w2": 2.0, "sigma_b2": 0.0}, "c="),
        (theory.gauss_expect, {"f": np.cos, "q": math.inf}, "q="),
        (theory.critical_point, {"activation": "tanh", "q_star": 0.0}, "q_star"),
        (theory.critical_sigma_w2, {"activation": "tanh", "sigma_b2": -0.1}, "sigma_b2"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_bad_inputs(fn: object, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        fn(**kwargs)  # type: ignore[operator]


# ---------------------------------------------------------------------------------------
# Monte Carlo check of the chi1 oracle (docs/theory.md §1.6), small: width 512, 4 seeds
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("act", "sw2", "sb2"), [("tanh", 2.0, 0.0), ("erf", 2.0, 0.0), ("relu", 2.0, 0.0)]
)
def test_chi1_monte_carlo(act: str, sw2: float, sb2: float) -> None:
    """Geometric-mean per-layer ratio ||delta^l||^2/||delta^{l+1}||^2 at the fixed point."""
    torch = pytest.importorskip("torch")
    from gradbench.registry import lookup

    phi = lookup("activation", act).fn
    qs = theory.q_star(act, sw2, sb2)
    n, depth, batch = 512, 12, 8
    gen = torch.Generator().manual_seed(20240611)
    logs = []
    for _seed in range(4):
        h0 = torch.randn(batch, n, generator=gen, dtype=torch.float64) * math.sqrt(qs)
        h0.requires_grad_(True)
        x, sites = phi(h0), []
        for _ in range(depth):
            w = torch.randn(n, n, generator=gen, dtype=torch.float64) * math.sqrt(sw2 / n)
            b = torch.randn(n, generator=gen, dtype=torch.float64) * math.sqrt(sb2)
            h = x @ w.T + b
            h.retain_grad()
            sites.append(h)
            x = phi(h)
        readout = torch.randn(batch, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
        (x * readout).sum().backward()
        sq = torch.stack([s.grad.pow(2).sum() for s in sites]).log()
        logs.append((sq[:-1] - sq[1:]).numpy())
    estimate = math.exp(float(np.mean(logs)))
    assert estimate == pytest.approx(theory.chi1(act, sw2, sb2), rel=0.02)


# ---------------------------------------------------------------------------------------
# Finite-width ReLU law (docs/theory.md §2.2)
# ---------------------------------------------------------------------------------------

# n, E X^2, E ln X, Var ln X (per layer, K = 0 excluded)
RELU_LAYER = [
    (16, 1.312520027, -0.1763973244, 0.4195933941),
    (32, 1.156250000, -0.0825402081, 0.1774977872),
    (64, 1.078125000, -0.0401085988, 0.0829973506),
    (128, 1.039062500, -0.0197864019, 0.0402339926),
    (256, 1.019531250, -0.0098286594, 0.0198187089),
    (1024, 1.004882813, -0.0024453116, 0.0049005349),
]


@pytest.mark.parametrize("row", RELU_LAYER, ids=lambda r: f"n={r[0]}")
def test_relu_finite_width_table_theory_2_2(row: tuple[int, float, float, float]) -> None:
    n, ex2, elog, vlog = row
    law = theory.relu_finite_width(n)
    # the table prints 9-10 decimal places: half a unit in the last place
    assert law.e_x2 == pytest.approx(ex2, abs=6e-10)
    assert law.e_log == pytest.approx(elog, abs=6e-11)
    assert law.var_log == pytest.approx(vlog, abs=6e-11)
    assert law.e_x == pytest.approx(1 / (1 - 2.0**-n), rel=1e-13)
    assert law.e_log == pytest.approx(-5 / (2 * n), rel=20 / n)  # leading order
    assert law.var_log == pytest.approx(5 / n, rel=40 / n)


def test_relu_log_norm_oracle_theory_2_2() -> None:
    """L = 20 ReLU layers of width 64: the exact (derived) column of the oracle table."""
    law = theory.relu_log_norm_law([64] * 20)
    assert law.mean == pytest.approx(-0.8021719767, rel=1e-9)
    assert law.var == pytest.approx(1.6599470111, rel=1e-9)
    assert law.second_moment_ratio == pytest.approx(4.5017599700, rel=1e-10)
    assert math.sqrt(law.var) == pytest.approx(1.2883893, rel=1e-7)
    assert law[1] == law.var  # indexable (check.py uses law[1])
    assert theory.relu_log_norm_law([]) == (0.0, 0.0, 1.0)
    mixed = theory.relu_log_norm_law([32, 64])
    assert mixed.var == pytest.approx(0.1774977872 + 0.0829973506, rel=1e-9)


def test_relu_finite_width_digamma_mixture_by_hand() -> None:
    """Independent check at n = 4: enumerate K = 1..4 with Binomial weights."""
    n = 4
    ks = np.arange(1, n + 1)
    p = np.array([math.comb(n, k) for k in ks], dtype=float) / (2**n - 1)
    psi = special.digamma(ks / 2)
    law = theory.relu_finite_width(n)
    assert law.e_log == pytest.approx(p @ psi + math.log(4 / n), rel=1e-13)
    var = p @ special.polygamma(1, ks / 2) + p @ (psi - p @ psi) ** 2
    assert law.var_log == pytest.approx(var, rel=1e-13)


# ---------------------------------------------------------------------------------------
# Jacobian spectrum (docs/theory.md §3.2)
# ---------------------------------------------------------------------------------------


def test_jacobian_linear_and_relu_theory_3_2() -> None:
    for depth in (10, 50):
        lin = theory.jacobian_spectrum("linear", 1.0, 0.0, depth)
        assert lin.normalized_variance == pytest.approx(depth, rel=1e-12)
        assert lin.m1 == pytest.approx(1.0, rel=1e-12)
        orth = theory.jacobian_normalized_variance("linear", 1.0, 0.0, depth, "orthogonal")
        assert orth == pytest.approx(0.0, abs=1e-12)
        relu = theory.jacobian_normalized_variance("relu", 2.0, 0.0, depth)
        assert relu == pytest.approx(2 * depth, rel=1e-12)
        relu_o = theory.jacobian_normalized_variance("relu", 2.0, 0.0, depth, "orthogonal")
        assert relu_o == pytest.approx(depth, rel=1e-12)


# q* (None: the sigma_b2 = 0.05 critical point), mu2/mu1^2, Gaussian L=10, orthogonal L=50
JAC_TANH = [
    (1 / 64, 1.00168937, 10.016894, 0.084469),
    (1 / 16, 1.01919015, 10.191902, 0.959508),
    (1 / 4, 1.13697673, 11.369767, 6.848836),
    (None, 1.34225608, 13.422561, 17.112804),
    (1.0, 1.58347994, 15.834799, 29.173997),
]


@pytest.mark.parametrize("row", JAC_TANH, ids=lambda r: f"q={r[0]}")
def test_jacobian_tanh_critical_theory_3_2(row: tuple[float | None, float, float, float]) -> None:
    q, ratio, gauss10, orth50 = row
    if q is None:
        sw2, sb2 = theory.critical_sigma_w2("tanh", 0.05), 0.05
    else:
        point = theory.critical_point("tanh", q)
        sw2, sb2 = point.sigma_w2, point.sigma_b2
    spec = theory.jacobian_spectrum("tanh", sw2, sb2, 10)
    assert spec.m1 == pytest.approx(1.0, rel=1e-9)
    assert spec.mu2 / spec.mu1**2 == pytest.approx(ratio, rel=1e-8)
    assert spec.normalized_variance == pytest.approx(gauss10, abs=6e-7)  # 6 decimals printed
    orth = theory.jacobian_normalized_variance("tanh", sw2, sb2, 50, weights="orthogonal")
    assert orth == pytest.approx(orth50, abs=6e-7)


# ---------------------------------------------------------------------------------------
# Residual networks (docs/theory.md §4)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alphas", "want"),
    [
        ([1.0] * 10, 1024.0),
        ([1.0] * 50, 1.1259e15),
        ([10**-0.5] * 10, 2.593742),
        ([50**-0.5] * 50, 2.691588),
        ([1 / k for k in range(1, 11)], 3.342847),
        ([1 / k for k in range(1, 51)], 3.604007),  # docs/theory.md §4.1; exact 3.6040073
    ],
    ids=["a1-L10", "a1-L50", "sqrtL-L10", "sqrtL-L50", "1/l-L10", "1/l-L50"],
)
def test_residual_relu_growth_theory_4_1(alphas: list[float], want: float) -> None:
    """prod (1 + alpha_l^2 v), v = sigma_v2 sigma_w2 / 2 = 1 (He + LeCun)."""
    mf = theory.residual_mean_field("relu", 2.0, 0.0, 1.0, alphas)
    assert float(np.prod(mf.factor)) == pytest.approx(want, rel=1e-5)
    exact = np.prod([1 + a * a for a in alphas])
    assert float(np.prod(mf.factor)) == pytest.approx(exact, rel=1e-12)
    assert mf.p[-1] == pytest.approx(exact, rel=1e-12)  # forward: same product, exact


def test_residual_inverse_layer_limit_theory_4_1() -> None:
    """alpha_l = 1/l: prod (1 + 1/l^2) -> sinh(pi)/pi = 3.676077910."""
    growth = theory.residual_log_growth("relu", 2.0, 0.0, 1.0, [1 / k for k in range(1, 4001)])
    assert math.exp(2 * growth.sum()) == pytest.approx(math.sinh(math.pi) / math.pi, rel=3e-4)
    assert math.sinh(math.pi) / math.pi == pytest.approx(3.676077910, rel=1e-9)


@pytest.mark.parametrize(
    ("depth", "p_last", "ratio", "per_sqrt"),
    [(10, 6.776798, 14.0582, 0.8359), (50, 39.593526, 1361.17, 1.0205),
     (100, 84.449479, 38007.9, 1.0546), (200, 177.363702, 3.87188e6, 1.0726)],
)
def test_residual_tanh_table_theory_4_2(
    depth: int, p_last: float, ratio: float, per_sqrt: float
) -> None:
    """x_{l+1} = x_l + V tanh(W x_l), sigma_w2 = sigma_v2 = 1, no bias, p0 = 1."""
    mf = theory.residual_mean_field("tanh", 1.0, 0.0, 1.0, [1.0] * depth)
    assert mf.p[-1] == pytest.approx(p_last, rel=1e-6)
    assert float(np.prod(mf.factor)) == pytest.approx(ratio, rel=1e-5)
    assert math.log(np.prod(mf.factor)) / math.sqrt(depth) == pytest.approx(per_sqrt, abs=1e-4)


def test_residual_batchnorm_branch_theory_4_3() -> None:
    """ReLU + BN branch, W2 ~ N(0, 2/n): prod (1 + 1/(1 + (1 - 1/pi) l)), Var x_L = 1 + L."""
    for depth, want in ((10, 17.342), (50, 153.43)):
        mf = theory.residual_mean_field("relu", 2.0, 0.0, 2.0, [1.0] * depth, norm="batchnorm")
        closed = np.prod([1 + 1 / (1 + (1 - 1 / math.pi) * k) for k in range(depth)])
        assert float(np.prod(mf.factor)) == pytest.approx(closed, rel=1e-12)
        assert float(np.prod(mf.factor)) == pytest.approx(want, abs=1e-3 * want / 10)
        assert mf.p[-1] == pytest.approx(1 + depth, rel=1e-12)


def test_residual_reduces_to_one_plus_alpha2_v_for_relu_with_bias() -> None:
    """The general recursion uses E[phi'^2] = 1/2 for ReLU at every q, biases included."""
    alphas = [0.3, 1.0, 0.7]
    mf = theory.residual_mean_field("relu", 1.5, 0.4, 0.8, alphas)
    v = 0.8 * 1.5 / 2
    assert mf.factor == pytest.approx([1 + a * a * v for a in alphas], rel=1e-13)


def test_residual_zero_branches_are_exact() -> None:
    for norm in (None, "batchnorm", "layernorm"):
        mf = theory.residual_mean_field("tanh", 2.0, 0.1, 1.0, [0.0] * 5, norm=norm)
        assert np.all(mf.log_growth == 0.0)
        mf = theory.residual_mean_field("gelu", 2.0, 0.1, 0.0, [1.0] * 5, norm=norm)
        assert np.all(mf.log_growth == 0.0)


# ---------------------------------------------------------------------------------------
# RNNs (docs/theory.md §5) and normalization (docs/theory.md §6)
# ---------------------------------------------------------------------------------------

# sigma_w2, sigma_u2 q_x, sigma_b2, q*, chi per step
RNN_TABLE = [
    (0.5, 0.0, 0.0, 0.0, 0.5),
    (1 / 3, 0.0, 2 / 3072, 0.00097561, 0.33268514),
    (1.0, 0.05, 0.0, 0.19359252, 0.75903165),
    (1.0, 0.5, 0.0, 0.86886873, 0.48973189),
    (1.5, 0.05, 0.0, 0.41803720, 0.93863627),
    (2.0, 0.0, 0.0, 0.61796477, 1.10552882),
    (2.0, 0.5, 0.0, 1.41545329, 0.80888871),
]


@pytest.mark.parametrize("row", RNN_TABLE, ids=lambda r: f"w{r[0]:.3g}-u{r[1]}-b{r[2]:.3g}")
def test_rnn_tanh_table_theory_5_3(row: tuple[float, ...]) -> None:
    sw2, drive, sb2, qs, chi = row
    got_q, got_chi = theory.rnn_fixed_point("tanh", sw2, sb2, drive)
    assert got_q == pytest.approx(qs, rel=_digits(qs), abs=1e-12)
    assert got_chi == pytest.approx(chi, rel=1e-7)
    mf = theory.rnn_mean_field("tanh", sw2, sb2, 300, sigma_u2=1.0, input_var=drive)
    assert mf.factor[-1] == pytest.approx(chi, rel=1e-6)


def test_linear_rnn_exact_theory_5_2() -> None:
    assert math.exp(10 * theory.linear_rnn_log_growth(0.9)) == pytest.approx(
        0.348678440100, rel=1e-12
    )
    assert math.exp(29 * theory.linear_rnn_log_growth(1.1)) == pytest.approx(
        15.8630929717, rel=1e-11
    )
    assert theory.linear_rnn_log_growth(0.0) == -math.inf


@pytest.mark.parametrize(
    ("act", "bn", "ln"),
    [("relu", 1.4669422069, 1.0), ("linear", 1.0, 1.0), ("tanh", 1.1778072323, 1.1778072323),
     ("gelu", 1.31884497, 1.0720316), ("silu", 1.21208111, 1.0666342),
     ("selu", 1.07157499, 1.0715750), ("sigmoid", 1.03359239, 0.1528270),
     ("leaky_relu", None, 1.0)],
)
def test_normalization_rates_theory_6(act: str, bn: float | None, ln: float) -> None:
    if bn is not None:
        assert theory.batchnorm_rate(act) == pytest.approx(bn, rel=_digits(bn))
    assert theory.layernorm_rate(act) == pytest.approx(ln, rel=_digits(ln))
    assert theory.layernorm_log_growth(act) == pytest.approx(0.5 * math.log(ln), abs=1e-6)


def test_batchnorm_closed_forms_theory_6() -> None:
    assert theory.batchnorm_rate("relu") == pytest.approx(math.pi / (math.pi - 1), rel=1e-12)
    tanh = _activation._resolve("tanh")
    assert _activation._moments(tanh, 1.0).dphi2 == pytest.approx(0.4644029024, rel=1e-9)
    assert _activation._moments(tanh, 1.0).phi2 == pytest.approx(0.3942944904, rel=1e-9)
    for b, want in ((4, 2.0), (5, 1.5), (8, 1.2), (16, 1.076923), (32, 1.034483)):
        assert theory.batchnorm_rate("linear", batch=b) == pytest.approx(want, rel=1e-6)
    assert math.isnan(theory.batchnorm_rate("relu", batch=64))  # MC only
    assert math.isnan(theory.batchnorm_rate("linear", batch=3))
    assert theory.batchnorm_log_growth("relu") == pytest.approx(
        0.5 * math.log(math.pi / (math.pi - 1)), rel=1e-12
    )
    assert theory.layernorm_rate("tanh", 2.0, 0.3) == pytest.approx(
        2 * 0.4644029024 / (2 * 0.3942944904 + 0.3), rel=1e-9
    )


# ---------------------------------------------------------------------------------------
# predict(spec)
# ---------------------------------------------------------------------------------------


def test_predict_mlp_follows_q_trajectory() -> None:
    from gradbench.specs import MLPSpec

    spec = MLPSpec(depth=12, width=256, activation="tanh", init="normal", sigma_w2=2.0,
                   sigma_b2=0.05, input_var=0.5)
    p = theory.predict(spec)
    assert p.valid
    assert p.log_growth is not None
    assert p.log_growth.shape == (11,)
    qs = theory.q_trajectory("tanh", 2.0 * 0.5 + 0.05, 2.0, 0.05, 12)
    want = [0.5 * math.log(theory.chi1("tanh", 2.0, 0.05, q=q)) for q in qs[:-1]]
    assert p.log_growth == pytest.approx(want, rel=1e-12)
    assert p.quantities["site_second_moment"] == pytest.approx(qs, rel=1e-12)
    assert p.quantities["chi1"] == pytest.approx(1.047665999576, rel=1e-9)
    assert p.quantities["q_star"] == pytest.approx(0.7217618727, rel=1e-9)
    assert p.quantities["phase"] == "chaotic"
    assert p.quantities["xi_q"] == pytest.approx(1.38798, rel=1e-4)
    assert p.quantities["xi_c"] == pytest.approx(25.213, rel=1e-4)
    assert "finite_width_bias" not in p.quantities
    assert "Poole" in p.source
    assert "1.1" in p.source
    assert "width" in p.domain


def test_predict_relu_finite_width_bias_and_domain() -> None:
    from gradbench.specs import MLPSpec

    p = theory.predict(MLPSpec(depth=10, width=64, activation="relu", init="he_normal"))
    assert p.valid
    assert p.log_growth == pytest.approx([0.0] * 9, abs=1e-15)  # gain sqrt(2) squared
    assert p.quantities["finite_width_bias"] == pytest.approx(0.5 * -0.0401085988, rel=1e-9)
    assert p.quantities["phase"] == "critical"
    small = theory.predict(MLPSpec(depth=10, width=16, activation="relu", init="he_normal"))
    assert not small.valid
    assert "width=16" in small.reason
    assert small.log_growth is not None
    torch_default = theory.predict(MLPSpec(depth=6, width=64, activation="relu",
                                           init="torch_default"))
    assert torch_default.log_growth == pytest.approx([0.5 * math.log(1 / 6)] * 5, rel=1e-12)


@pytest.mark.parametrize(
    ("norm", "act", "rate"),
    [("batchnorm", "relu", math.pi / (math.pi - 1)), ("layernorm", "tanh", 1.1778072323),
     ("rmsnorm", "relu", 1.0), ("batchnorm", "linear", 1.0)],
)
def test_predict_normalized_mlp(norm: str, act: str, rate: float) -> None:
    from gradbench.specs import MLPSpec

    spec = MLPSpec(depth=6, width=256, activation=act, init="he_normal", norm=norm,
                   input_var=2.0)
    p = theory.predict(spec)
    assert p.valid
    assert p.log_growth[1:] == pytest.approx([0.5 * math.log(rate)] * 4, rel=1e-9)
    # first step: the normalization divides by the variance of h^1 = W x^0 (x^0 unnormalized)
    phi = _activation._moments(_activation._resolve(act), 1.0)
    first = phi.dphi2 / 2.0 if norm == "batchnorm" else 2.0 * phi.dphi2 / (2.0 * 2.0)
    assert p.log_growth[0] == pytest.approx(0.5 * math.log(first), rel=1e-9)
    assert p.quantities["rate"] == pytest.approx(rate, rel=1e-9)


def test_predict_batchnorm_linear_finite_batch() -> None:
    from gradbench.specs import MLPSpec

    spec = MLPSpec(depth=5, width=256, activation="linear", norm="batchnorm")
    p = theory.predict(spec, batch=8)
    assert p.log_growth[1:] == pytest.approx([0.5 * math.log(1.2)] * 3, rel=1e-12)
    relu = theory.predict(spec.replace(activation="relu"), batch=16)
    assert not relu.valid
    assert "batch=16" in relu.reason


@pytest.mark.parametrize("scale", ["fixup", "skipinit", "rezero"])
def test_predict_residual_zero_branch_is_exactly_zero(scale: str) -> None:
    from gradbench.specs import ResidualSpec

    p = theory.predict(ResidualSpec(depth=8, width=16, activation="tanh", branch_scale=scale))
    assert p.valid  # exact at any width
    assert p.log_growth.shape == (7,)
    assert np.all(p.log_growth == 0.0)


def test_predict_residual_relu_one_plus_alpha2_v() -> None:
    from gradbench.specs import ResidualSpec

    spec = ResidualSpec(depth=6, width=128, activation="relu", init="he_normal",
                        branch_scale="1/sqrt(L)", out_init="lecun_normal")
    p = theory.predict(spec)
    assert p.valid
    assert p.log_growth == pytest.approx([0.5 * math.log(1 + 1 / 6)] * 5, rel=1e-12)
    assert p.quantities["site_second_moment"][0] == pytest.approx(1.0)
    tanh = theory.predict(ResidualSpec(depth=11, width=512, activation="tanh",
                                       init="lecun_normal", out_init="lecun_normal"))
    # sites x_0..x_10 see blocks 1..10: the 4.2 table's L = 10 ratio
    assert math.exp(2 * tanh.log_growth.sum()) == pytest.approx(14.0582, rel=1e-5)


def test_predict_rnn_families() -> None:
    from gradbench.specs import RNNSpec

    lin = theory.predict(RNNSpec(cell="linear", hidden=8, steps=6, init="orthogonal",
                                 recurrent_scale=0.9))
    assert lin.valid  # exact at any width
    assert lin.log_growth == pytest.approx([math.log(0.9)] * 5, rel=1e-13)
    tanh = theory.predict(RNNSpec(cell="rnn_tanh", hidden=256, steps=400, init="normal",
                                  sigma_w2=2.0, sigma_u2=1.0, input_var=0.5, sigma_b2=0.0))
    assert tanh.valid
    assert tanh.log_growth[-1] == pytest.approx(0.5 * math.log(0.80888871), rel=1e-6)
    assert tanh.quantities["q_star"] == pytest.approx(1.41545329, rel=1e-7)
    for cell in ("lstm", "gru"):
        gated = theory.predict(RNNSpec(cell=cell, hidden=64, steps=5))
        assert not gated.valid
        assert gated.log_growth is None
        assert "gated" in gated.reason


def test_predict_outside_every_domain() -> None:
    from gradbench.registry import temporary
    from gradbench.specs import MLPSpec, RNNSpec

    for spec in (MLPSpec(depth=4, width=64, activation="tanh", init="lsuv"),
                 MLPSpec(depth=4, width=64, activation="tanh", init="identity"),
                 RNNSpec(cell="rnn_tanh", hidden=64, steps=4, init="identity")):
        p = theory.predict(spec)
        assert not p.valid
        assert p.log_growth is None
        assert p.reason.endswith(("advance and mean-field theory does not apply",
                                  "over i.i.d. or Haar-random weights"))
    with temporary("normalization", "mynorm", lambda h: h):
        p = theory.predict(MLPSpec(depth=4, width=64, activation="tanh", norm="mynorm"))
        assert not p.valid
        assert "mynorm" in p.reason


def test_normalization_theory_comes_from_its_statistics_declaration() -> None:
    """A user normalization declaring statistics='feature' is predicted like LayerNorm."""
    from gradbench.registry import lookup, temporary
    from gradbench.specs import MLPSpec, ResidualSpec

    layernorm = lookup("normalization", "layernorm").fn
    for cls in (MLPSpec, ResidualSpec):
        spec = cls(depth=5, width=64, activation="tanh", norm="layernorm")
        want = theory.predict(spec)
        with temporary("normalization", "my_ln", layernorm, statistics="feature"):
            got = theory.predict(spec.replace(norm="my_ln"))
        assert got.valid
        assert got.log_growth == pytest.approx(want.log_growth, rel=1e-15)
    with pytest.raises(InvalidArgument, match=r"declares no statistics.*batchnorm"):
        theory.residual_mean_field("relu", 2.0, 0.0, 1.0, [1.0], norm="none")


def test_rnn_prediction_reads_the_cell_kind() -> None:
    """A vanilla cell's activation comes from specs.CELL_KINDS; gated cells declare none."""
    from gradbench.specs import CELL_KINDS, RNNSpec

    assert {c for c, k in CELL_KINDS.items() if k.activation is None} == {"lstm", "gru"}
    spec = RNNSpec(cell="rnn_relu", hidden=64, steps=5, init="normal", sigma_w2=1.5)
    mf = theory.rnn_mean_field("relu", 1.5, 0.0, 5)
    assert theory.predict(spec).log_growth == pytest.approx(mf.log_growth, rel=1e-15)


def test_predict_is_json_safe_and_cached() -> None:
    import json

    from gradbench.records import Prediction, dumps
    from gradbench.specs import MLPSpec

    spec = MLPSpec(depth=5, width=64, activation="gelu", init="he_normal")
    p = theory.predict(spec)
    back = Prediction.from_dict(json.loads(dumps(p)))
    assert back.log_growth == pytest.approx(p.log_growth, rel=0, abs=0)
    assert back.quantities["phase"] == p.quantities["phase"]
    again = theory.predict(spec)
    assert again.log_growth is p.log_growth
    assert not p.log_growth.flags.writeable
    again.quantities["x"] = 1
    assert "x" not in theory.predict(spec).quantities


def test_predict_never_raises_on_a_grid_of_specs() -> None:
    from gradbench.specs import MLPSpec, ResidualSpec, RNNSpec

    specs: list[object] = []
    for act in ("relu", "tanh", "gelu", "selu", "softplus", "elu", "sigmoid"):
        for init in ("he_normal", "orthogonal", "torch_default"):
            for norm in (None, "batchnorm", "rmsnorm"):
                specs.append(MLPSpec(depth=3, width=32, activation=act, init=init, norm=norm,
                                     sigma_b2=0.2))
                specs.append(ResidualSpec(depth=3, width=32, activation=act, init=init,
                                          norm=norm, branch_scale="1/l"))
    specs += [MLPSpec(depth=300, width=32, activation="relu", init="normal", sigma_w2=1e4),
              MLPSpec(depth=1, width=32), MLPSpec(depth=3, width=32, sigma_w2=0.0),
              RNNSpec(cell="rnn_relu", hidden=32, steps=200, init="normal",
                      recurrent_scale=3.0)]
    for spec in specs:
        p = theory.predict(spec)  # type: ignore[arg-type]
        assert "numerically" not in p.reason
        if p.valid:
            assert p.log_growth is not None
            assert p.log_growth.shape == (spec.n_sites - 1,)  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match="spec"):
        theory.predict("mlp")  # type: ignore[arg-type]


def test_registered_user_activation_gets_theory_and_fresh_cache() -> None:
    """docs/design.md: a registered activation gets theory through quadrature + autograd."""
    torch = pytest.importorskip("torch")
    from gradbench.registry import temporary
    from gradbench.specs import MLPSpec

    tanh = theory.predict(MLPSpec(depth=6, width=64, activation="tanh", init="normal",
                                  sigma_w2=2.0))
    with temporary("activation", "mine", lambda x: torch.tanh(x)):
        spec = tanh.spec | {"activation": "mine"}
        first = theory.predict(MLPSpec(**{k: v for k, v in spec.items() if k != "family"}))
        assert theory.chi1("mine", 2.0, 0.0) == pytest.approx(1.105528820, rel=1e-9)
    assert first.log_growth == pytest.approx(tanh.log_growth, rel=1e-13)
    with temporary("activation", "mine", lambda x: torch.relu(x), kinks=(0.0,)):
        # an equal spec, a new function under the same name: not served from the cache
        second = theory.predict(MLPSpec(**{k: v for k, v in spec.items() if k != "family"}))
        assert theory.chi1("mine", 2.0, 0.0) == pytest.approx(1.0, rel=1e-12)
    assert second.log_growth == pytest.approx([0.0] * 5, abs=1e-15)


def test_carry_gate_mean_closed_forms_and_monte_carlo() -> None:
    """E sigma(b + sqrt(v) z): 1/2 at b = 0 for every v, sigma(b) at v = 0, decreasing in v
    for b > 0, and equal to a Monte Carlo mean (docs/theory.md §5.5)."""
    for v in (0.0, 0.3, 1.0, 7.0):
        assert theory.carry_gate_mean(0.0, v) == pytest.approx(0.5, abs=1e-14)
    assert theory.carry_gate_mean(1.0, 0.0) == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-14)
    assert theory.carry_gate_mean(1.0, 1.1) == pytest.approx(0.6942, abs=5e-5)
    assert theory.carry_gate_mean(1.0, 2.0) < theory.carry_gate_mean(1.0, 1.0)
    z = np.random.default_rng(0).standard_normal(2_000_000)
    mc = float(np.mean(1 / (1 + np.exp(-(2.0 + math.sqrt(1.5) * z)))))
    assert theory.carry_gate_mean(2.0, 1.5) == pytest.approx(mc, abs=5e-4)
