"""Initializers: declared variance, and which standard inits vanish, explode or stay stable.

Claims:
- ``initializer_variance``: every registered initializer's weights have the variance it
  declares (fan-in/fan-out/Glorot formulas; PyTorch ``test/nn/test_init.py`` style).
- ``init_classification``: the measured gradient behaviour with depth (vanishing /
  stable / exploding, TOST and one-sided CIs) agrees with the sign of the predicted
  log growth (Glorot & Bengio 2010; He et al. 2015; docs/theory.md §1.5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

import gradbench as gb
from gradbench import registry, theory
from gradbench.check import classify, stability_margin
from gradbench.records import Verdict

NON_DATA_INITS = [
    n
    for n in registry.names("initializer")
    if not registry.lookup("initializer", n).meta.get("data_dependent")
    and registry.lookup("initializer", n).meta.get("distribution") in ("normal", "uniform")
]


@given(
    init=st.sampled_from(NON_DATA_INITS),
    fan_in=st.integers(64, 512),
    fan_out=st.integers(64, 512),
    seed=st.integers(0, 2**31 - 1),
)
def test_initializer_variance(init, fan_in, fan_out, seed, gradbench_record, gradbench_config):
    """Empirical variance and distribution match the declaration (KS p > alpha)."""
    remedy = registry.lookup("initializer", init)
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    remedy.fn(w, generator=torch.Generator().manual_seed(seed))
    declared = remedy.meta["variance"](fan_in, fan_out)
    values = w.numpy().ravel()
    if remedy.meta["distribution"] == "normal":
        ks = sps.kstest(values, "norm", args=(0.0, math.sqrt(declared)))
    else:
        a = math.sqrt(3 * declared)
        ks = sps.kstest(values, "uniform", args=(-a, 2 * a))
    alpha = gradbench_config.profile.case_alpha
    verdict = Verdict(
        claim="initializer_variance",
        spec={"initializer": init, "fan_in": fan_in, "fan_out": fan_out},
        predicted=declared,
        measured=float(values.var()),
        statistic=float(ks.statistic),
        pvalue=float(ks.pvalue),
        ci_low=math.nan,
        ci_high=math.nan,
        alpha=alpha,
        passed=bool(ks.pvalue > alpha),
        n=values.size,
        method="Kolmogorov-Smirnov test",
        source=remedy.paper,
    )
    gradbench_record(
        claim="initializer_variance", spec=verdict.spec, verdict=verdict, source=remedy.paper
    )
    assert verdict.passed, f"{init}: KS p={ks.pvalue:.3g}, var {values.var():.4g} vs {declared:.4g}"


CASES = [
    (act, init)
    for act in ("relu", "tanh", "sigmoid")
    for init in ("he_normal", "xavier_normal", "lecun_normal", "torch_default")
]


def predicted_class(spec: gb.MLPSpec) -> str | None:
    """Class implied by the predicted total growth; None inside the ambiguous zone."""
    prediction = theory.predict(spec)
    slope = -float(np.mean(prediction.log_growth))
    margin = stability_margin(spec)
    if abs(slope) < 0.5 * margin:
        return "stable"
    if abs(slope) < 2 * margin:
        return None
    return "vanishing" if slope > 0 else "exploding"


@pytest.mark.parametrize(("activation", "init"), CASES, ids=[f"{a}-{i}" for a, i in CASES])
def test_init_classification(
    activation, init, gradbench_record, gradbench_config, gradbench_device
):
    """He+ReLU is stable; sigmoid and the torch default vanish; Glorot+tanh decays slowly."""
    spec = gb.MLPSpec(depth=30, width=128, activation=activation, init=init)
    expected = predicted_class(spec)
    if expected is None:
        pytest.skip("predicted growth lies in the ambiguous zone between classes")
    profile = gradbench_config.profile
    m = gb.measure(
        spec,
        seeds=profile.seeds,
        batch=profile.batch,
        device=gradbench_device,
        seed=gradbench_config.base_seed,
    )
    measured = classify(m, spec, alpha=profile.case_alpha)
    gradbench_record(
        claim="init_classification",
        spec=spec,
        measurement=m,
        prediction=theory.predict(spec),
        source="Glorot & Bengio 2010; He et al. 2015",
        extra={"classification": {"predicted": expected, "measured": measured}},
    )
    assert measured == expected, f"{spec}: predicted {expected}, measured {measured}"
