"""Tests of gradbench.theory against closed forms and the numbers of shared/THEORY.md.

Each table test names the THEORY.md section it reproduces. Tolerances follow the number
of digits the table gives (a value given to 10 digits is checked at rel 1e-9).
"""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import optimize, special

from gradbench import theory
from gradbench.errors import InvalidArgument

# ---------------------------------------------------------------------------------------
# Import hygiene
# ---------------------------------------------------------------------------------------


def test_import_does_not_import_torch() -> None:
    code = "import sys, gradbench.theory; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---------------------------------------------------------------------------------------
# Quadrature vs closed forms (THEORY.md 1.2)
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
    assert leaky == pytest.approx(theory._closed_leaky_relu_second_moment(q, 0.2), rel=1e-12)
    assert theory.gauss_expect(lambda x: x**2, q) == pytest.approx(q, rel=1e-12)
    assert theory.gauss_expect(lambda x: np.ones_like(x), q) == pytest.approx(1.0, rel=1e-13)


@pytest.mark.parametrize("q", [1e-4, 0.3, 1.0, 20.0])
def test_registered_activations_match_closed_forms(q: float) -> None:
    """The autograd-derived moments (through numpy_activation) agree with closed forms."""
    assert theory.q_map("relu", q, 2.0, 0.0) == pytest.approx(q, rel=1e-12)
    assert theory.chi1("relu", 1.3, 0.0, q=q) == pytest.approx(0.65, rel=1e-12)
    erf_q = 1.7 * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)) + 0.05
    assert theory.q_map("erf", q, 1.7, 0.05) == pytest.approx(erf_q, rel=1e-12)
    erf_chi = 1.7 * 4 / math.pi / math.sqrt(1 + 4 * q)
    assert theory.chi1("erf", 1.7, 0.05, q=q) == pytest.approx(erf_chi, rel=1e-12)
    lr = theory.q_map("leaky_relu(negative_slope=0.2)", q, 1.0, 0.0)
    assert lr == pytest.approx(theory._closed_leaky_relu_second_moment(q, 0.2), rel=1e-12)
    assert theory.chi1("leaky_relu(negative_slope=0.2)", 2.0, 0.0, q=q) == pytest.approx(
        1.04, rel=1e-12
    )
    assert theory.q_map("linear", q, 0.7, 0.1) == pytest.approx(0.7 * q + 0.1, rel=1e-12)


@pytest.mark.parametrize(("q1", "q2"), [(1.0, 1.0), (0.3, 2.0), (1e-3, 1e-3), (50.0, 3.0)])
@pytest.mark.parametrize("c", [-0.9, 0.0, 0.3, 0.5, 0.9, 0.99, 0.999999, 1.0])
def test_gauss_expect2_matches_kernels(q1: float, q2: float, c: float) -> None:
    """Arc-cosine (Cho & Saul 2009) and arcsine (Williams 1997) kernels, THEORY.md 1.2."""
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    step = lambda x: (x > 0).astype(np.float64)  # noqa: E731
    got = theory.gauss_expect2(relu, relu, q1, q2, c, kinks=(0.0,))
    assert got == pytest.approx(theory._closed_relu_kernel(q1, q2, c), rel=1e-11, abs=1e-14)
    got = theory.gauss_expect2(step, step, q1, q2, c, kinks=(0.0,))
    assert got == pytest.approx(theory._closed_relu_dkernel(c), abs=1e-11)
    got = theory.gauss_expect2(special.erf, special.erf, q1, q2, c)
    assert got == pytest.approx(theory._closed_erf_kernel(q1, q2, c), abs=1e-12)
    got = theory.gauss_expect2(_erf_dphi, _erf_dphi, q1, q2, c)
    assert got == pytest.approx(theory._closed_erf_dkernel(q1, q2, c), rel=1e-11)


def test_relu_c_map_at_he_init() -> None:
    """THEORY.md 1.2: f(0) = 1/pi, f(0.5) = 0.6089977810, and the closed-form c-map."""
    assert theory.c_map("relu", 0.0, 2.0, 0.0) == pytest.approx(1 / math.pi, rel=1e-10)
    assert theory.c_map("relu", 0.5, 2.0, 0.0) == pytest.approx(0.6089977810, rel=1e-9)
    for c in (0.1, 0.7, 0.95, 0.9999):
        want = theory._closed_relu_cmap_he(c)
        assert theory.c_map("relu", c, 2.0, 0.0) == pytest.approx(want, rel=1e-11)


def test_relu_c_map_polynomial_approach_l10() -> None:
    """THEORY.md 1.2: l^2 (1 - c^l) under the ReLU He c-map; quadrature vs closed form."""
    c_quad = c_closed = 0.0
    for _ in range(10):
        c_quad = theory.c_map("relu", c_quad, 2.0, 0.0)
        c_closed = theory._closed_relu_cmap_he(c_closed)
    assert 100 * (1 - c_quad) == pytest.approx(100 * (1 - c_closed), rel=1e-9)
    c = 0.0
    for _ in range(10_000):
        c = theory._closed_relu_cmap_he(c)
    assert 1e8 * (1 - c) == pytest.approx(44.25, abs=0.01)  # -> 9 pi^2 / 2 = 44.41


def test_erf_closed_form_critical_line() -> None:
    """THEORY.md 1.4: erf sigma_w2 = (pi/4) sqrt(1 + 4 q*) on the chi1 = 1 line."""
    for sb2 in (0.05, 0.3):
        sw2 = theory.critical_sigma_w2("erf", sb2)
        qs = theory.q_star("erf", sw2, sb2)
        assert sw2 == pytest.approx(math.pi / 4 * math.sqrt(1 + 4 * qs), rel=1e-11)


def test_selu_closed_form_chi1() -> None:
    """THEORY.md 1.5: chi1 = lambda^2 (1/2 + alpha^2 e^2 Phi(-2)) = 1.071574992456."""
    assert theory._closed_selu_chi1() == pytest.approx(1.071574992456, rel=1e-12)
    assert theory.chi1("selu", 1.0, 0.0) == pytest.approx(theory._closed_selu_chi1(), rel=1e-11)


# ---------------------------------------------------------------------------------------
# Mean-field tables (THEORY.md 1.3-1.5)
# ---------------------------------------------------------------------------------------

# THEORY.md 1.3, tanh, sigma_b2 = 0: sigma_w2, q*, chi1, slope dq/dq, xi_q, chi_c*, xi_c
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


# THEORY.md 1.3, tanh, sigma_b2 = 0.05: sigma_w2, q*, chi1, xi_q, c*, chi_c*, xi_c
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


# THEORY.md 1.4 critical lines: sigma_b2 -> (tanh sigma_w2, tanh q*, erf sigma_w2, erf q*)
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


# THEORY.md 1.4, tanh critical points parametrised by q*: q*, sigma_w2, sigma_b2
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


# THEORY.md 1.5: activation, sigma_w2, sigma_b2, q*, chi1
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


# THEORY.md 1.5 He-init trajectories from q0 = 1: q^l at l = 1, 2, 5, 10, 20, 30 and
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


@pytest.mark.parametrize(
    ("act", "q_edge", "sb2", "sw2"),
    [("gelu", (3 + math.sqrt(17)) / 2, 0.17292239, 1.98305826),
     ("silu", 14.3201736, 0.55514317, 1.98800468)],
)
def test_gelu_silu_stability_edge_theory_1_5(
    act: str, q_edge: float, sb2: float, sw2: float
) -> None:
    """The critical curve is stable (dq/dq < 1, i.e. E[phi phi''] < 0) for q* above the edge."""
    act_ = theory._resolve(act)
    root = optimize.brentq(lambda q: theory._moments(act_, q).phi_d2phi, 1.0, 30.0, xtol=1e-13)
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
# Monte Carlo check of the chi1 oracle (THEORY.md 1.6), small: width 512, 4 seeds
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
