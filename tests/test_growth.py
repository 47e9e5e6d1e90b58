"""The one growth estimator and vocabulary (gradbench.stats, docs/theory.md §9.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from gradbench import stats
from gradbench.errors import InvalidArgument


def _walks(per_step: float, sites: int, seeds: int = 12, spread: float = 0.05,
           seed: int = 0) -> np.ndarray:
    """``[seeds, sites]`` norms whose log ratio per network is (L-1) ln per_step + noise."""
    rng = np.random.default_rng(seed)
    top = np.exp(rng.normal(0.0, 1.0, (seeds, 1)))  # the last site's norm, arbitrary
    steps = np.arange(sites)[::-1][None, :]
    noise = rng.normal(0.0, spread, (seeds, 1)) * steps / max(1, sites - 1)
    return top * np.exp(steps * math.log(per_step) + noise)


def test_the_estimate_is_the_mean_end_to_end_ratio_with_a_t_interval() -> None:
    norms = _walks(1.05, 30)
    g = stats.gradient_growth(norms, confidence=0.9)
    r = np.log(norms[:, 0]) - np.log(norms[:, -1])
    assert g.log_ratio == pytest.approx(r.mean())
    half = sps.t.ppf(0.95, r.size - 1) * r.std(ddof=1) / math.sqrt(r.size)
    assert (g.low, g.high) == pytest.approx((r.mean() - half, r.mean() + half))
    assert (g.sites, g.steps, g.networks, g.seeds) == (30, 29, 12, 12)
    assert g.end_to_end == pytest.approx(math.exp(r.mean()))
    assert g.per_step == pytest.approx(math.exp(r.mean() / 29))
    assert g.per_step == pytest.approx(1.05, rel=2e-3)
    assert g.end_to_end_interval == pytest.approx((math.exp(g.low), math.exp(g.high)))


@pytest.mark.parametrize(("per_step", "sites", "klass"), [
    (1.0, 30, "stable"),
    (1.0999, 30, "exploding"),  # x16 over 29 steps: tanh with Xavier gain 5/3
    (1.0514, 30, "stable"),  # x4.3: tanh with He weights
    (1.0514, 100, "exploding"),  # x140
    (0.9382, 30, "stable"),  # x0.16: tanh with Xavier gain 1
    (0.9754, 100, "vanishing"),  # x0.085
    (0.71, 30, "vanishing"),  # ReLU with Xavier weights
    (1.0352, 67, "stable"),  # SELU with LeCun weights: x9.8, the deepest stable depth
    (1.0352, 68, "exploding"),
])
def test_classes_judge_the_end_to_end_factor_at_the_depth(per_step: float, sites: int,
                                                         klass: str) -> None:
    g = stats.gradient_growth(_walks(per_step, sites, spread=1e-3))
    assert g.klass() == klass


def test_a_straddling_interval_is_inconclusive_and_k_is_a_parameter() -> None:
    assert stats.classify_growth(1.0, 3.0) == "inconclusive"
    assert stats.classify_growth(1.0, 3.0, within=30.0) == "stable"
    assert stats.classify_growth(math.nan, math.nan) == "inconclusive"
    assert stats.STABLE_WITHIN == 10.0


def test_nonfinite_norms_decide_the_class_and_leave_the_estimate_to_the_finite_networks() -> None:
    norms = np.ones((3, 5))
    norms[0, 0] = np.inf
    g = stats.gradient_growth(norms)
    assert (g.klass(), g.networks, g.n_inf) == ("exploding", 2, 1)
    assert g.per_step == 1.0
    norms[0, 0] = np.nan
    assert stats.gradient_growth(norms).klass() == "nonfinite"
    norms[0, 0] = 0.0
    assert stats.gradient_growth(norms).klass() == "vanishing"
    nothing = stats.gradient_growth(np.full((2, 4), np.nan))
    assert nothing.networks == 0
    assert math.isnan(nothing.per_step)
    assert nothing.words == "gradients are not finite at depth 4"
    zeros = np.ones((2, 4))
    zeros[:, 0] = 0.0  # an all-zero initializer: nothing reaches the first layer
    vanished = stats.gradient_growth(zeros)
    assert (vanished.klass(), vanished.networks) == ("vanishing", 0)
    assert vanished.words == ("gradients are exactly zero within depth 4 in every network "
                              "(nothing reaches the input)")
    logs = stats.log_norms([[1.0, 0.0, -1.0, np.inf]])[0]
    assert logs[0] == 0.0
    assert np.isnan(logs[1:]).all()


@pytest.mark.parametrize(("per_step", "sites", "unit", "words"), [
    (1.0999, 30, "layer",
     "gradients grow x1.10 per layer, x16 over the 29 layer-to-layer steps of depth 30"),
    (0.9, 30, "layer",
     "gradients shrink x0.90 per layer, x0.047 over the 29 layer-to-layer steps of depth 30"),
    (1.0999, 100, "layer",
     "gradients grow x1.10 per layer, x1.2e4 over the 99 layer-to-layer steps of depth 100"),
    (0.998, 30, "layer",
     "gradients shrink x0.998 per layer, x0.94 over the 29 layer-to-layer steps of depth 30"),
    (0.95, 20, "step", "gradients shrink x0.95 per time step, x0.38 over the 19 steps of 20 "
     "time steps"),
    (1.0, 24, "block",
     "gradients grow x1.00 per block, x1 over the 23 block-to-block steps of depth 24"),
    (2.0, 1, "layer", "one layer: no layer-to-layer step to grow over"),
])
def test_plain_words(per_step: float, sites: int, unit: str, words: str) -> None:
    assert stats.growth_in_words(per_step, sites, unit) == words


def test_stable_depth_is_the_deepest_network_inside_the_band() -> None:
    for per_step in (1.0999, 1.0352, 0.9754, 0.71):
        depth = stats.stable_depth(per_step)
        assert abs((depth - 1) * math.log(per_step)) < math.log(10)
        assert abs(depth * math.log(per_step)) >= math.log(10)
    assert stats.stable_depth(1.0) == math.inf
    assert stats.stable_depth(math.nan) == 1


def test_growth_round_trips_through_its_dict() -> None:
    g = stats.gradient_growth(_walks(0.97, 12), unit="block")
    data = g.to_dict()
    assert data["class"] == g.klass()
    assert data["words"] == g.words
    assert data["end_to_end"] == g.end_to_end
    assert stats.GradientGrowth.from_dict(data) == g
    with pytest.raises(InvalidArgument, match="gradient-growth record lacks field 'sites'"):
        stats.GradientGrowth.from_dict({k: v for k, v in data.items() if k != "sites"})


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"norms": np.ones((2, 3, 4))}, r"norms must be a \[seeds, sites\] array"),
    ({"norms": np.ones((2, 0))}, r"norms must be a \[seeds, sites\] array"),
    ({"norms": [["a", "b"]]}, "norms must be an array of gradient norms"),
    ({"norms": np.ones((2, 3)), "confidence": 1.0}, r"confidence=1.0 must be a number in"),
])
def test_bad_inputs(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        stats.gradient_growth(**kwargs)


def test_the_default_interval_is_the_stability_claims_tost_interval() -> None:
    from gradbench.claims import EQUIVALENCE_ALPHA

    assert stats.GROWTH_CONFIDENCE == pytest.approx(1 - 2 * EQUIVALENCE_ALPHA)


def test_growth_words_beyond_floats_range_and_at_zero() -> None:
    """`gradbench theory --sigma-w2 4 --depth 5000` said 'xinf over the 4999 ... steps' and
    `--sigma-w2 0` 'x0.0e0 per layer'; the factor is now written from its logarithm."""
    from gradbench.stats import growth_in_words

    assert growth_in_words(math.sqrt(2), 5000) == (
        "gradients grow x1.41 per layer, x2.7e752 over the 4999 layer-to-layer steps of depth "
        "5000")
    assert growth_in_words(1 / math.sqrt(2), 5000).endswith(", x3.8e-753 over the 4999 "
                                                            "layer-to-layer steps of depth 5000")
    assert growth_in_words(0.0, 30) == ("gradients shrink x0 per layer, x0 over the 29 "
                                        "layer-to-layer steps of depth 30")
    assert growth_in_words(0.9, 100).endswith("x3.0e-5 over the 99 layer-to-layer steps of "
                                              "depth 100")
