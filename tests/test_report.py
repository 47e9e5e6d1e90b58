"""Tests of gradbench.report: loading, bad input, escaping, comparison, determinism.

The synthetic input files are built by :func:`make_run`; ``tests/data/report_base.json``
and ``tests/data/report_new.json`` are its committed output (used by the golden test
and the browser test). Regenerate them and the golden summary with::

    python tests/test_report.py
"""

from __future__ import annotations

import copy
import dataclasses
import html
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from resultdoc import STABILITY_BENCHES, results_doc

from gradbench import records, report
from gradbench.errors import InvalidArgument
from gradbench.report import render, svg
from gradbench.report.page import Figures, Page, Section, configurations, worst
from gradbench.report.sections import SECTIONS

DATA = Path(__file__).parent / "data"
EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


# --------------------------------------------------------------------------------------
# Synthetic input
# --------------------------------------------------------------------------------------


def _spec(family: str, **fields: Any) -> dict[str, Any]:
    return {"family": family, **fields}


def _measurement(
    spec: dict[str, Any],
    factor: float,
    sites: int,
    seeds: int = 8,
    seed: int = 0,
    noise: float = 0.05,
) -> records.Measurement:
    """Gradient norms that change by ``factor`` per layer going towards the input (top norm ~1)."""
    rng = np.random.default_rng(seed)
    depth_from_top = np.arange(sites)[::-1]
    logs = depth_from_top[None, :] * math.log(factor) + noise * rng.standard_normal((seeds, sites))
    norms = np.exp(logs)
    return records.Measurement(
        spec=spec,
        seeds=seeds,
        batch=16,
        seed=seed,
        device="cpu",
        dtype="float32",
        act_grad_norms=norms,
        weight_grad_norms=norms * 2.0,
        preact_second_moment=np.ones((seeds, sites)),
        nonfinite=~np.isfinite(norms),
    )


def _prediction(
    spec: dict[str, Any], factor: float | None, sites: int, valid: bool = True
) -> records.Prediction:
    lg = None if factor is None else np.full(sites - 1, math.log(factor))
    return records.Prediction(
        spec=spec,
        log_growth=lg,
        valid=valid,
        reason="" if valid else "width < 4 * depth",
        assumptions=("width >> 1",),
        domain="width >= 4 * depth",
        source="Schoenholz et al. 2017",
        quantities={"chi1": factor**2 if factor else None},
    )


def _verdict(
    claim: str,
    spec: dict[str, Any],
    predicted: float,
    measured: float,
    passed: bool,
    pvalue: float = 0.3,
    half: float = 0.01,
) -> records.Verdict:
    return records.Verdict(
        claim=claim,
        spec=spec,
        predicted=predicted,
        measured=measured,
        statistic=1.0,
        pvalue=pvalue,
        ci_low=measured - half,
        ci_high=measured + half,
        alpha=0.01,
        passed=passed,
        effect_size=0.1,
        n=8,
        method="t-test on per-seed slopes",
        source="Schoenholz et al. 2017",
        note="",
    )


def _case(
    case: str,
    claim: str,
    label: str,
    spec: dict[str, Any],
    *,
    m: Any = None,
    p: Any = None,
    v: Any = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "case": case,
        "claim": claim,
        "source": "Schoenholz et al. 2017, arXiv:1611.01232",
        "spec": spec,
        "label": label,
        "measurement": m.to_dict() if m is not None else None,
        "prediction": p.to_dict() if p is not None else None,
        "verdict": v.to_dict() if v is not None else None,
        "extra": extra or {},
    }


def _slope_cases() -> list[dict[str, Any]]:
    """Configurations with a measured gradient profile and a slope claim."""
    out = []
    table = [
        # label, spec, measured factor, predicted factor, sites, passed
        (
            "mlp-L20-n256-tanh-xavier_normal",
            _spec("mlp", depth=20, width=256, activation="tanh", init="xavier_normal"),
            0.93,
            0.93,
            20,
            True,
        ),
        (
            "mlp-L20-n256-relu-he_normal",
            _spec("mlp", depth=20, width=256, activation="relu", init="he_normal"),
            1.0,
            1.0,
            20,
            True,
        ),
        (
            "mlp-L30-n256-relu-xavier_normal",
            _spec("mlp", depth=30, width=256, activation="relu", init="xavier_normal"),
            0.71,
            0.707,
            30,
            True,
        ),
        (
            "mlp-L20-n256-tanh-sigma_w2=4.0",
            _spec(
                "mlp", depth=20, width=256, activation="tanh", init="xavier_normal", sigma_w2=4.0
            ),
            1.3,
            1.22,
            20,
            False,
        ),
        (
            "residual-L24-n128-relu-he_normal-branch_scale=1/sqrt(L)",
            _spec(
                "residual",
                depth=24,
                width=128,
                activation="relu",
                init="he_normal",
                branch_scale="1/sqrt(L)",
            ),
            1.02,
            1.02,
            24,
            True,
        ),
        (
            "rnn-rnn_tanh-n64-L30-orthogonal",
            _spec("rnn", cell="rnn_tanh", hidden=64, steps=30, init="orthogonal"),
            0.9,
            0.91,
            30,
            True,
        ),
        (
            "rnn-lstm-n64-L30-orthogonal",
            _spec("rnn", cell="lstm", hidden=64, steps=30, init="orthogonal"),
            0.98,
            None,
            30,
            True,
        ),
    ]
    for i, (label, spec, f, pf, sites, passed) in enumerate(table):
        m = _measurement(spec, f, sites, seed=i)
        p = _prediction(spec, pf, sites)
        v = _verdict(
            "mean_field_slope",
            spec,
            math.log(pf) if pf else math.nan,
            math.log(f),
            passed,
            pvalue=0.4 if passed else 1e-5,
        )
        out.append(
            _case(
                f"suites/test_slopes.py::test_slope[{label}]",
                "mean_field_slope",
                label,
                spec,
                m=m,
                p=p,
                v=v,
            )
        )
    return out


def _nonfinite_case() -> dict[str, Any]:
    spec = _spec("mlp", depth=12, width=64, activation="relu", init="he_normal", sigma_w2=20.0)
    m = _measurement(spec, 3.0, 12, seeds=4, seed=99)
    norms = m.act_grad_norms.copy()
    norms[:, :3] = np.inf  # exploded near the input
    norms[1, 3] = np.nan
    m = dataclasses.replace(m, act_grad_norms=norms, nonfinite=~np.isfinite(norms))
    p = _prediction(spec, 3.16, 12)
    v = records.Verdict(
        claim="mean_field_slope",
        spec=spec,
        predicted=math.log(3.16),
        measured=math.inf,
        statistic=math.nan,
        pvalue=math.nan,
        ci_low=-math.inf,
        ci_high=math.inf,
        alpha=0.01,
        passed=False,
        n=4,
        note="3 of 12 layers non-finite",
    )
    return _case(
        "suites/test_slopes.py::test_slope[exploding]",
        "mean_field_slope",
        "mlp-L12-n64-relu-sigma_w2=20.0",
        spec,
        m=m,
        p=p,
        v=v,
    )


def _evil_case() -> dict[str, Any]:
    spec = _spec("mlp", depth=8, width=64, activation=EVIL, init="he_normal")
    m = _measurement(spec, 0.5, 8, seed=7)
    p = _prediction(spec, 0.5, 8, valid=False)
    v = _verdict("<img src=x onerror=alert(2)>", spec, 0.0, math.log(0.5), False, pvalue=1e-3)
    return _case(
        "suites/test_remedies.py::test_user[evil]",
        "<img src=x onerror=alert(2)>",
        EVIL,
        spec,
        m=m,
        p=p,
        v=v,
        extra={"unknown_series": [1, 2, 3], "spectrum": {"eigenvalues": "garbage"}},
    )


def _phase_cases() -> list[dict[str, Any]]:
    out = []
    sw = np.linspace(0.5, 4.0, 8)
    curve = {
        "sigma_w2": [float(x) for x in np.linspace(1.0, 4.0, 16)],
        "sigma_b2": [float(x) for x in np.linspace(0.0, 0.3, 16) ** 1.5],
    }
    for act in ("tanh", "erf"):
        for sb in (0.0, 0.1, 0.2):
            for s in sw:
                crit = 1.0 + 9.0 * sb ** (2 / 3) if sb else 1.0
                pred = 0.5 * math.log(s / crit)
                meas = pred + (0.08 if act == "erf" and s > 3.5 else 0.01)
                label = f"mlp-L50-n256-{act}-sigma_w2={s:.2f}-sigma_b2={sb}"
                spec = _spec(
                    "mlp",
                    depth=50,
                    width=256,
                    activation=act,
                    init="xavier_normal",
                    sigma_w2=float(s),
                    sigma_b2=sb,
                )
                v = _verdict("phase_boundary", spec, pred, meas, abs(meas - pred) < 0.05)
                extra = {
                    "phase_point": {
                        "activation": act,
                        "sigma_w2": float(s),
                        "sigma_b2": sb,
                        "measured_log_growth": meas,
                        "predicted_log_growth": pred,
                        "critical_curve": curve,
                    }
                }
                out.append(
                    _case(
                        f"suites/test_phase.py::test_phase[{label}]",
                        "phase_boundary",
                        label,
                        spec,
                        v=v,
                        extra=extra,
                    )
                )
    # an exploding phase point whose growth is infinite
    spec = _spec(
        "mlp",
        depth=50,
        width=256,
        activation="tanh",
        init="xavier_normal",
        sigma_w2=50.0,
        sigma_b2=0.0,
    )
    out.append(
        _case(
            "suites/test_phase.py::test_phase[inf]",
            "phase_boundary",
            "mlp-L50-n256-tanh-sigma_w2=50",
            spec,
            extra={
                "phase_point": {
                    "activation": "tanh",
                    "sigma_w2": 3.9,
                    "sigma_b2": 0.25,
                    "measured_log_growth": {"nonfinite": "inf"},
                    "predicted_log_growth": 1.9,
                    "critical_curve": curve,
                }
            },
        )
    )
    return out


def _spectrum_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(5)
    out = []
    for weights in ("gaussian", "orthogonal"):
        spec = _spec(
            "mlp",
            depth=32,
            width=128,
            activation="linear",
            init="orthogonal" if weights == "orthogonal" else "xavier_normal",
        )
        if weights == "gaussian":
            ev = np.exp(rng.normal(0.0, 2.0, 128))
            pnv = 32.0
        else:
            ev = np.ones(128) + 0.01 * rng.standard_normal(128)
            pnv = 0.0
        ev[0] = 0.0  # a zero eigenvalue: dropped from the log histogram
        label = f"mlp-L32-n128-linear-{weights}"
        v = _verdict("dynamical_isometry", spec, pnv, float(np.var(ev) / np.mean(ev) ** 2), True)
        extra = {
            "spectrum": {
                "weights": weights,
                "eigenvalues": [float(x) for x in ev],
                "predicted_normalized_variance": pnv,
            }
        }
        out.append(
            _case(
                f"suites/test_spectrum.py::test_isometry[{weights}]",
                "dynamical_isometry",
                label,
                spec,
                v=v,
                extra=extra,
            )
        )
    return out


def _update_cases() -> list[dict[str, Any]]:
    out = []
    spec = _spec("mlp", depth=10, width=128, activation="relu", init="he_normal")
    for opt, base in (("sgd", 1e-3), ("adam", 1e-2)):
        layers = list(range(1, 11))
        ratio = [base * (1.3 ** (10 - i) if opt == "sgd" else 1.0) for i in layers]
        grad = [0.5 * 1.2 ** (10 - i) for i in layers]
        ratio[3] = {"nonfinite": "inf"} if opt == "sgd" else ratio[3]
        extra = {
            "update_ratios": {
                "optimizer": opt,
                "layers": layers,
                "update_weight_ratio": ratio,
                "grad_norm": grad,
            }
        }
        v = _verdict("update_ratio_uniform", spec, 1.0, 1.3 if opt == "sgd" else 1.0, opt == "adam")
        out.append(
            _case(
                f"suites/test_optim.py::test_updates[{opt}]",
                "update_ratio_uniform",
                "mlp-L10-n128-relu-he_normal",
                spec,
                v=v,
                extra=extra,
            )
        )
    return out


def _bench(case: dict[str, Any] | None, name: str, stats: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group": "gradbench" if case else "probe",
        "name": name,
        "fullname": f"suites/test_x.py::{name}",
        "params": None,
        "param": None,
        "stats": {
            "min": 0.0012,
            "max": 0.0031,
            "mean": 0.0018,
            "stddev": 0.0004,
            "rounds": 12,
            "median": 0.0017,
            "iqr": 0.0003,
            "q1": 0.0015,
            "q3": 0.0018,
            "iqr_outliers": 0,
            "stddev_outliers": 1,
            "outliers": "1;0",
            "ld15iqr": 0.0012,
            "hd15iqr": 0.0031,
            "ops": 555.5,
            "total": 0.0216,
            "iterations": 1,
        }
        if stats
        else None,
        "options": {},
        "extra_info": {"gradbench": case} if case else {},
    }
    return out


def make_run(variant: str = "base") -> dict[str, Any]:
    """A pytest-benchmark JSON document with every kind of gradbench record.

    ``variant="new"`` flips one passing case to failing (a regression), one failing
    case to passing (an improvement), drops one case and adds one.
    """
    cases = [
        *_slope_cases(),
        _nonfinite_case(),
        _evil_case(),
        *_phase_cases(),
        *_spectrum_cases(),
        *_update_cases(),
    ]
    remedies = {  # the remedy each of these cases covers, as the plugin records it
        "mlp-L20-n256-relu-he_normal": ("initializer", "he_normal", "built-in"),
        "mlp-L30-n256-relu-xavier_normal": ("initializer", "xavier_normal", "built-in"),
        "mlp-L20-n256-tanh-xavier_normal": ("activation", "scaled_tanh", "third-party"),
    }
    for c in cases:
        if c["label"] in remedies:
            kind, name, origin = remedies[c["label"]]
            c["remedy"] = {"kind": kind, "name": name, "origin": origin}
    if variant == "new":
        cases = copy.deepcopy(cases)
        for c in cases:
            if c["label"] == "mlp-L20-n256-relu-he_normal":
                c["verdict"]["passed"] = False
                c["verdict"]["measured"] = 0.08
                c["verdict"]["pvalue"] = 1e-4
            if c["label"] == "mlp-L20-n256-tanh-sigma_w2=4.0":
                c["verdict"]["passed"] = True
        cases = [c for c in cases if c["label"] != "rnn-lstm-n64-L30-orthogonal"]
        spec = _spec("rnn", cell="gru", hidden=64, steps=30, init="orthogonal")
        m = _measurement(spec, 0.99, 30, seed=42)
        cases.append(
            _case(
                "suites/test_slopes.py::test_slope[gru]",
                "mean_field_slope",
                "rnn-gru-n64-L30-orthogonal",
                spec,
                m=m,
                p=_prediction(spec, None, 30),
                v=_verdict("mean_field_slope", spec, 0.0, math.log(0.99), True),
            )
        )
    benchmarks = [_bench(c, f"test_{i}") for i, c in enumerate(cases)]
    benchmarks += copy.deepcopy(STABILITY_BENCHES)  # the recommendation's data
    benchmarks += [
        _bench(None, "test_probe_speed[mlp-L50]"),
        _bench(None, "test_probe_speed[rnn-T100]", stats=False),
    ]
    return {
        "machine_info": {
            "node": "</script><script>alert(3)</script>",
            "processor": "x86_64",
            "machine": "x86_64",
            "python_implementation": "CPython",
            "python_version": "3.11.2",
            "release": "6.1.0",
            "system": "Linux",
            "cpu": {
                "brand_raw": "Synthetic CPU @ 3.0GHz",
                "count": 8,
                "flags": [f"f{i}" for i in range(40)],
            },
            "gradbench": {
                "torch": "2.13.0",
                "device": "cpu",
                "cuda": None,
                "cudnn": None,
                "tf32_matmul": False,
                "deterministic": True,
            },
        },
        "commit_info": {
            "id": "0123456789abcdef",
            "time": "2025-01-01T00:00:00+00:00",
            "author_time": "2025-01-01T00:00:00+00:00",
            "dirty": False,
            "project": "gradbench",
            "branch": "main",
        },
        "benchmarks": benchmarks,
        "datetime": "2025-01-02T03:04:05.000000+00:00"
        if variant == "base"
        else "2025-01-03T03:04:05.000000+00:00",
        "version": "5.2.0",
        "gradbench": {
            "schema_version": 1,
            "version": "0.1.0",
            "suite_version": "0.1",
            "profile": "quick",
            "base_seed": 0,
        },
    }


def write_run(path: Path, variant: str = "base", mutate: Any = None, compact: bool = False) -> Path:
    doc = make_run(variant)
    if mutate is not None:
        mutate(doc)
    if compact:  # same content, smaller file (the committed fixtures)
        return records.write_atomic(
            path,
            json.dumps(
                records.to_jsonable(doc), sort_keys=True, separators=(",", ":"), allow_nan=False
            )
            + "\n",
        )
    return records.write_json(path, doc)


def _page_data(html_text: str) -> dict[str, Any]:
    m = re.search(
        r'<script type="application/json" id="gradbench-data">(.*?)</script>', html_text, re.S
    )
    assert m is not None
    return json.loads(m.group(1))


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs") / "0001_base.json")


@pytest.fixture(scope="module")
def new_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs") / "0002_new.json", "new")


@pytest.fixture(scope="module")
def base_html(base_path: Path) -> str:
    return report.render_report([report.load_run(base_path)])


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def test_load_run_reads_cases_and_timings(base_path: Path) -> None:
    run = report.load_run(base_path)
    assert run.label == "0001_base"
    assert run.gradbench_info["suite_version"] == "0.1"
    assert run.machine_info["gradbench"]["device"] == "cpu"
    assert len(run.timings) == 2
    assert run.timings[1].stats is None
    by_label = {c.label: c for c in run.cases}
    c = by_label["mlp-L30-n256-relu-xavier_normal"]
    assert c.claim == "mean_field_slope"
    assert c.family == "mlp"
    assert c.status == "pass"
    assert c.measurement is not None
    assert c.measurement.act_grad_norms.shape == (8, 30)
    assert c.prediction is not None
    assert c.prediction.log_growth is not None
    assert math.isinf(by_label["mlp-L12-n64-relu-sigma_w2=20.0"].verdict.measured)


def test_load_plain_gradbench_json(tmp_path: Path) -> None:
    doc = make_run()
    plain = {
        "gradbench": doc["gradbench"],
        "machine_info": doc["machine_info"],
        "benchmarks": doc["benchmarks"],
    }
    path = records.write_json(tmp_path / "plain.json", plain)
    run = report.load_run(path)
    assert len(run.cases) == len(report.load_run(write_run(tmp_path / "full.json")).cases)
    assert run.datetime == ""
    assert run.commit_info == {}


def test_load_plain_pytest_benchmark_file_without_gradbench(tmp_path: Path) -> None:
    doc = {
        "machine_info": {},
        "commit_info": {},
        "benchmarks": [_bench(None, "test_a")],
        "version": "5.2.0",
    }
    run = report.load_run(records.write_json(tmp_path / "timings.json", doc))
    assert run.cases == []
    assert len(run.timings) == 1
    page = report.render_report([run])
    assert "test_a" in page
    assert "No gradient measurements" in page


def _schema(version: Any, where: str = "run") -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        if where == "run":
            doc["gradbench"]["schema_version"] = version
        else:
            doc["benchmarks"][0]["extra_info"]["gradbench"]["schema_version"] = version

    return mutate


def _raw(text: str) -> Any:
    return text


BAD_INPUTS = {
    "missing": (None, r"does not exist"),
    "empty": ("", r"is empty"),
    "whitespace": ("  \n", r"is empty"),
    "truncated": ("TRUNCATE", r"not valid JSON"),
    "corrupt": ("{'benchmarks': [}", r"not valid JSON"),
    "bare_nan": ('{"benchmarks": [], "x": NaN}', r"not valid JSON"),
    "foreign_list": ("[1, 2, 3]", r"not a pytest-benchmark or gradbench JSON file"),
    "foreign_object": (
        '{"name": "left-pad", "version": "1.3.0"}',
        r"not a pytest-benchmark or gradbench JSON file",
    ),
    "benchmarks_not_list": (
        '{"benchmarks": {"a": 1}}',
        r"not a pytest-benchmark or gradbench JSON file",
    ),
    "gradbench_not_object": (
        '{"benchmarks": [], "gradbench": 3}',
        r"'gradbench' entry that is not an object",
    ),
    "schema_newer": (_schema(2), r"schema_version 2, newer than .*supported: 1"),
    "schema_older": (_schema(0), r"schema_version 0, older than .*supported: 1"),
    "schema_not_int": (_schema("one"), r"not an integer \(supported: 1\)"),
    "schema_missing": (_schema(None), r"no gradbench schema_version \(supported: 1\)"),
    "case_schema_newer": (_schema(7, "case"), r"schema_version 7, newer than .*supported: 1"),
    "malformed_measurement": (
        lambda d: d["benchmarks"][0]["extra_info"]["gradbench"]["measurement"].pop("seeds"),
        r"is malformed \(measurement record lacks field 'seeds'\)",
    ),
    "malformed_array": (
        lambda d: d["benchmarks"][0]["extra_info"]["gradbench"]["measurement"].update(
            act_grad_norms=[1, 2]
        ),
        r"is malformed",
    ),
    "no_spec": (
        lambda d: d["benchmarks"][0]["extra_info"]["gradbench"].pop("spec"),
        r"has no 'spec' object",
    ),
    "duplicate_case": (
        lambda d: d["benchmarks"][1]["extra_info"]["gradbench"].update(
            case=d["benchmarks"][0]["extra_info"]["gradbench"]["case"]
        ),
        r"two gradbench records with case id",
    ),
    "benchmark_not_object": (
        lambda d: d["benchmarks"].append(5),
        r"benchmark #\d+ that is not an object",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_is_one_sentence_naming_the_file(tmp_path: Path, kind: str) -> None:
    content, pattern = BAD_INPUTS[kind]
    path = tmp_path / f"bad_{kind}.json"
    if content == "TRUNCATE":
        text = records.dumps(make_run())
        path.write_text(text[: len(text) // 2], encoding="utf-8")
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        write_run(path, mutate=content)
    with pytest.raises(InvalidArgument, match=pattern) as info:
        report.load_run(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert message.count(". ") == 0, message  # one sentence


def test_directory_and_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="is a directory"):
        report.load_run(tmp_path)
    with pytest.raises(InvalidArgument, match=r"holds no \.json files"):
        report.write_report([tmp_path], tmp_path / "out.html")
    with pytest.raises(InvalidArgument, match="no input files"):
        report.write_report([], tmp_path / "out.html")
    with pytest.raises(InvalidArgument, match="at least one run"):
        report.render_report([])


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------


def _m(norms: np.ndarray) -> records.Measurement:
    n = np.asarray(norms, dtype=float)
    return records.Measurement(
        spec={"family": "mlp"},
        seeds=n.shape[0],
        batch=1,
        seed=0,
        device="cpu",
        dtype="float32",
        act_grad_norms=n,
        weight_grad_norms=n,
        preact_second_moment=n,
        nonfinite=~np.isfinite(n),
    )


@pytest.mark.parametrize(
    ("factor", "klass"),
    [(0.7, "vanishing"), (1.0, "stable"), (1.35, "exploding"), (0.78, "stable"),
     (1.28, "stable"), (0.77, "vanishing"), (1.30, "exploding")],
    # over the 9 steps of depth 10, the stable_gradients band (1/10, 10): 10^(1/9) = 1.2915
)
def test_measured_growth_factor_and_class(factor: float, klass: str) -> None:
    sites = 10
    norms = factor ** np.arange(sites)[::-1][None, :].repeat(3, axis=0).astype(float)
    norms = norms * np.array([[1.0], [1.01], [0.99]])  # equal slopes, different offsets
    g = report.measured_growth(_m(norms))
    assert g.factor == pytest.approx(factor, rel=1e-9)
    assert g.factor_low == pytest.approx(factor, rel=1e-9)
    assert g.factor_high == pytest.approx(factor, rel=1e-9)
    assert g.klass == klass == g.growth.klass()
    assert g.words.startswith(f"gradients {'grow' if factor >= 1 else 'shrink'} x")
    assert g.seeds_used == 3
    assert g.over_depth == pytest.approx(factor ** (sites - 1))
    np.testing.assert_allclose(g.mean_log10[-1], 0.0, atol=0.01)


def test_measured_growth_nonfinite() -> None:
    norms = np.ones((2, 5))
    assert report.measured_growth(_m(norms)).klass == "stable"
    norms[0, 0] = np.inf
    g = report.measured_growth(_m(norms))
    assert g.klass == "exploding"
    assert g.n_inf == 1
    assert g.bad_sites.tolist() == [1, 0, 0, 0, 0]
    assert g.factor == pytest.approx(1.0)  # the seed with finite ends
    assert g.seeds_used == 1
    norms[0, 0] = np.nan
    assert report.measured_growth(_m(norms)).klass == "nonfinite"
    norms[0, 0] = 0.0
    assert report.measured_growth(_m(norms)).klass == "vanishing"
    all_bad = report.measured_growth(_m(np.full((2, 3), np.nan)))
    assert all_bad.klass == "nonfinite"
    assert math.isnan(all_bad.factor)
    assert all_bad.seeds_used == 0
    one_seed = report.measured_growth(_m(np.ones((1, 4))))
    assert one_seed.factor == 1.0
    assert math.isnan(one_seed.factor_low)


def test_num_formats_nonfinite_as_text() -> None:
    assert report.num(math.inf) == "inf"
    assert report.num(-math.inf) == "-inf"
    assert report.num(math.nan) == "nan"
    assert report.num(None) == "—"
    assert report.num(0.0) == "0"
    assert report.num(1234.4) == "1234"
    assert report.num(1e-7) == "1.00e-07"
    assert report.num(2e6) == "2.00e+06"
    assert report.num(0.5) == "0.5"


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def test_user_strings_are_escaped(base_html: str) -> None:
    assert EVIL not in base_html
    assert EVIL_ESCAPED in base_html
    assert "<img src=x" not in base_html
    assert "&lt;img src=x onerror=alert(2)&gt;" in base_html
    assert "</script><script>alert(3)" not in base_html
    # exactly two script elements: the JSON data and the page's own code
    assert base_html.count("<script") == 2
    assert base_html.count("</script>") == 2
    data = _page_data(base_html)
    assert any(v["label"] == EVIL for v in data["runs"][0]["verdicts"])  # intact once decoded


def test_no_external_resources(base_html: str) -> None:
    from html.parser import HTMLParser

    refs: list[tuple[str, str, str]] = []

    class Refs(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for name, value in attrs:
                if name in {"src", "href", "xlink:href", "action", "poster", "data", "srcset"}:
                    refs.append((tag, name, value or ""))
                if tag == "meta" and name == "http-equiv" and (value or "").lower() == "refresh":
                    refs.append((tag, name, value or ""))

    Refs().feed(base_html)
    assert refs, "expected in-page links"
    assert all(value.startswith("#") for _, _, value in refs), refs
    assert not {tag for tag, _, _ in refs} & {
        "img",
        "link",
        "iframe",
        "object",
        "embed",
        "audio",
        "video",
    }
    assert not re.search(
        r"url\(|@import|//[a-z0-9.-]+\.[a-z]{2,}/", base_html.split("<body>")[0], re.I
    )
    assert "Content-Security-Policy" in base_html
    assert "default-src 'none'" in base_html


def test_csp_hash_matches_script(base_html: str) -> None:
    import base64
    import hashlib

    script = re.findall(r"<script>(.*?)</script>", base_html, re.S)[-1]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in base_html


def test_first_screen_summary(base_html: str) -> None:
    head = base_html[: base_html.index('id="gradients"')].replace("<wbr>", "")
    assert 'id="summary"' in head
    assert "Worst offenders" in head
    data = _page_data(base_html)
    counts = data["runs"][0]["counts"]
    # 9 measured configs, judged over their depth (band 1/10..10): tanh-xavier x0.25 stable,
    # relu-he stable, relu-xavier x5e-5 vanishing, tanh-4 x151 exploding, residual stable,
    # rnn_tanh x0.048 vanishing, lstm stable, non-finite exploding, evil x0.0076 vanishing
    assert (counts["vanishing"], counts["stable"], counts["exploding"], counts["nonfinite"]) == (
        3,
        4,
        2,
        0,
    )
    assert counts["configurations"] == 9
    assert counts["fail"] == sum(1 for v in data["runs"][0]["verdicts"] if v["status"] == "fail")
    assert '<div class="card c-fail" id="count-fail"><b>' + str(counts["fail"]) + "</b>" in head
    # the worst offender is listed first: the configuration with infinite norms
    worst = head[head.index('id="worst"') :]
    assert worst.index("mlp-L12-n64-relu-sigma_w2=20.0") < worst.index(
        "mlp-L30-n256-relu-xavier_normal"
    )
    assert "×0.71" in worst  # measured factor per layer
    assert "Measured vs predicted growth per layer" in head


def test_sections_and_nonfinite_text(base_html: str) -> None:
    comparison_only = {"regressions", "comparison", "validated"}  # validated: 2+ validate runs
    for sid in [s.id for s in SECTIONS if s.id not in comparison_only]:
        assert f'<section id="{sid}"' in base_html, sid
        assert f'href="#{sid}"' in base_html
    for sid in comparison_only:
        assert f'id="{sid}"' not in base_html
        assert f'href="#{sid}"' not in base_html
    assert base_html.count("<svg") >= 17
    verdicts = base_html[base_html.index('id="verdicts"') :]
    assert ">inf<" in verdicts
    assert ">nan<" in verdicts
    assert "[-inf, inf]" in verdicts
    assert "theory&#x27;s phase agrees at" in base_html or "theory's phase agrees at" in base_html
    assert "χ₁ = 1 (theory)" in base_html
    assert "(1 ≤ 0 or non-finite)" in base_html  # the zero eigenvalue
    assert "Skipped 1 spectrum record(s) without usable eigenvalues" in base_html
    assert "sgd" in base_html
    assert "adam" in base_html
    assert "time step t" in base_html
    assert "unknown_series" not in base_html


def test_verdict_table_rows_and_filter_controls(base_html: str, base_path: Path) -> None:
    table = base_html[base_html.index('<table id="verdicts"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr data-status="(\w+)">', table)
    run = report.load_run(base_path)
    assert len(rows) == len(run.cases)
    assert rows.count("fail") == sum(1 for c in run.cases if c.status == "fail")
    assert 'id="verdict-filter"' in base_html
    assert 'id="verdict-status"' in base_html
    assert f">{len(rows)} of {len(rows)} rows<" in base_html


def test_rendering_is_deterministic(base_path: Path, new_path: Path, tmp_path: Path) -> None:
    a = report.render_report([report.load_run(base_path), report.load_run(new_path)])
    b = report.render_report([report.load_run(base_path), report.load_run(new_path)])
    assert a == b
    out1 = report.write_report([base_path], tmp_path / "a" / "r.html", title="T")
    out2 = report.write_report([base_path], tmp_path / "b" / "r.html", title="T")
    assert out1.read_bytes() == out2.read_bytes()
    assert "<title>T</title>" in out1.read_text(encoding="utf-8")


def test_write_report_accepts_a_directory(base_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bench" / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True)
    (folder / "0001_base.json").write_bytes(base_path.read_bytes())
    out = report.write_report(tmp_path / "bench", tmp_path / "reports" / "r.html")
    assert out == tmp_path / "reports" / "r.html"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list((tmp_path / "reports").glob(".*.tmp"))


def test_duplicate_run_labels_are_made_unique(base_path: Path) -> None:
    run = report.load_run(base_path)
    page = report.render_report([run, run])
    labels = [r["label"] for r in _page_data(page)["runs"]]
    assert labels == ["0001_base", "0001_base#2"]
    assert "No regressions 0001_base → 0001_base#2" in page


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------


def test_compare_flags_regression_and_improvement(base_path: Path, new_path: Path) -> None:
    base, new = report.load_run(base_path), report.load_run(new_path)
    comp = report.compare_runs(base, new)
    assert [(d.claim, d.label) for d in comp.regressions] == [
        ("mean_field_slope", "mlp-L20-n256-relu-he_normal")
    ]
    assert [(d.claim, d.label) for d in comp.improvements] == [
        ("mean_field_slope", "mlp-L20-n256-tanh-sigma_w2=4.0")
    ]
    assert [c.label for c in comp.only_base] == ["rnn-lstm-n64-L30-orthogonal"]
    assert [c.label for c in comp.only_new] == ["rnn-gru-n64-L30-orthogonal"]
    assert comp.warnings == []
    assert comp.warning is None
    reg = comp.regressions[0]
    assert reg.delta_measured == pytest.approx(0.08 - 0.0, abs=0.05)
    assert reg.delta_ci_width == pytest.approx(0.0, abs=1e-9)
    assert reg.base_factor == pytest.approx(reg.new_factor)
    assert comp.deltas[0].status == "regression"
    # the same run against itself: nothing changes
    same = report.compare_runs(base, base)
    assert same.regressions == []
    assert same.improvements == []
    assert all(d.status == "same" for d in same.deltas)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            lambda r: r.gradbench_info.update(suite_version="0.2"),
            r"suite versions differ .*0\.1.*0\.2",
        ),
        (lambda r: r.gradbench_info.update(schema_version=2), r"schema versions differ"),
        (lambda r: r.machine_info["gradbench"].update(device="cuda"), r"devices differ"),
        (lambda r: r.machine_info["gradbench"].update(torch="2.5.0"), r"torch versions differ"),
        (lambda r: r.machine_info["gradbench"].update(tf32_matmul=True), r"TF32 settings differ"),
        # runs at base seeds 1 and 2 matched 161 of 1268 cases, with no word why
        (lambda r: r.gradbench_info.update(base_seed=7),
         r"base seeds differ \(0001_base: 0, 0001_base: 7\): the runs measured other networks"),
        (lambda r: r.gradbench_info.update(profile="full"), r"profiles differ"),
    ],
)
def test_compare_warns_on_incompatible_runs(base_path: Path, change: Any, pattern: str) -> None:
    base, new = report.load_run(base_path), report.load_run(base_path)
    change(new)
    comp = report.compare_runs(base, new)
    assert comp.warning is not None
    assert re.search(pattern, comp.warning), comp.warning
    page = report.render_comparison(base, new, comp)
    assert 'class="warn"' in page


def test_compare_patch_release_and_dtype(base_path: Path) -> None:
    base, new = report.load_run(base_path), report.load_run(base_path)
    new.gradbench_info["suite_version"] = "0.1.7"
    assert report.compare_runs(base, new).warnings == []
    cases = [
        dataclasses.replace(c, measurement=dataclasses.replace(c.measurement, dtype="float64"))
        if c.measurement is not None
        else c
        for c in new.cases
    ]
    new64 = dataclasses.replace(new, cases=cases)
    assert re.search(r"dtypes differ", report.compare_runs(base, new64).warning or "")


def test_comparison_page_flags_regressions_at_top(base_path: Path, new_path: Path) -> None:
    base, new = report.load_run(base_path), report.load_run(new_path)
    page = report.render_comparison(base, new, report.compare_runs(base, new))
    assert page == report.render_report([base, new])
    page = page.replace("<wbr>", "")
    top = page.index('<section id="regressions"')
    assert top < page.index('<section id="summary"')
    banner = page[top : page.index("</section>", top)]
    assert "1 regression(s) 0001_base → 0002_new" in banner
    assert "mlp-L20-n256-relu-he_normal" in banner
    assert '<section id="comparison"' in page
    assert "REGRESSION" in page
    data = _page_data(page)
    assert data["comparisons"][0]["regressions"] == [
        ["mean_field_slope", "mlp-L20-n256-relu-he_normal"]
    ]
    assert [r["label"] for r in data["runs"]] == ["0001_base", "0002_new"]
    # plots overlay the runs: the run labels appear as legend entries
    grads = page[page.index('<section id="gradients"') : page.index('<section id="phase"')]
    assert "0001_base" in grads
    assert "0002_new" in grads


# --------------------------------------------------------------------------------------
# Golden and layering
# --------------------------------------------------------------------------------------


def _golden_pages() -> tuple[str, str]:
    base = report.load_run(DATA / "report_base.json")
    new = report.load_run(DATA / "report_new.json")
    return report.render_report([base]), report.render_report([base, new])


def test_golden_summary() -> None:
    single, double = _golden_pages()
    golden = json.loads((DATA / "report_golden.json").read_text(encoding="utf-8"))
    assert {"single": _page_data(single), "comparison": _page_data(double)} == golden


def test_report_imports_without_torch() -> None:
    code = "import sys, gradbench.report; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_report_renders_without_torch(tmp_path: Path) -> None:
    """Not only the import: loading, comparing and rendering never import torch either."""
    code = (
        "import sys\n"
        "from gradbench import report\n"
        f"base = report.load_run({str(DATA / 'report_base.json')!r})\n"
        f"new = report.load_run({str(DATA / 'report_new.json')!r})\n"
        f"report.write_report([base.path, new.path], {str(tmp_path / 'r.html')!r})\n"
        "assert report.render_comparison(base, new).startswith('<!DOCTYPE html>')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] == 'torch')\n"
        "assert not heavy, heavy[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
    assert (tmp_path / "r.html").stat().st_size > 100_000


def _regenerate() -> None:
    DATA.mkdir(exist_ok=True)
    write_run(DATA / "report_base.json", compact=True)
    write_run(DATA / "report_new.json", "new", compact=True)
    single, double = _golden_pages()
    records.write_atomic(
        DATA / "report_golden.json",
        json.dumps(
            {"single": _page_data(single), "comparison": _page_data(double)},
            sort_keys=True,
            indent=1,
        )
        + "\n",
    )


if __name__ == "__main__":
    _regenerate()


def test_worst_offenders_share_rows_between_exploding_and_vanishing() -> None:
    run = report.load_run(DATA / "report_base.json")
    cfgs = configurations(run)
    boom = [c for c in cfgs if c.growth.klass == "exploding"]
    fade = [c for c in cfgs if c.growth.klass == "vanishing"]
    assert (len(boom), len(fade)) == (2, 3)
    assert {c.growth.klass for c in worst(cfgs, 2)} == {"exploding", "vanishing"}
    assert len(worst(cfgs, 4)) == 4
    assert len([c for c in worst(cfgs, 5) if c.growth.klass == "vanishing"]) == 3
    assert len(worst(cfgs, 100)) == 5  # stable ones never appear


def test_case_delta_prints_as_one_line(base_path: Path, new_path: Path) -> None:
    comp = report.compare_runs(report.load_run(base_path), report.load_run(new_path))
    assert str(comp.regressions[0]) == (
        "mean_field_slope on mlp-L20-n256-relu-he_normal: 0 (passed) -> 0.08 (failed) [regression]"
    )


# --------------------------------------------------------------------------------------
# Sections and templates
# --------------------------------------------------------------------------------------


def test_section_ids_are_unique_and_name_their_elements(base_path: Path, new_path: Path) -> None:
    ids = [s.id for s in SECTIONS]
    assert len(ids) == len(set(ids))
    html_text = report.render_report([report.load_run(base_path), report.load_run(new_path)])
    body = [m.group(1) for m in re.finditer(r'<section id="([^"]+)"', html_text)]
    nav = re.findall(r'<a href="#([^"]+)">', html_text[: html_text.index("</nav>")])
    # a comparison page shows every section, in SECTIONS order, but the one for 2+ validate runs
    assert body == nav == [i for i in ids if i != "validated"]


def _demo_context(p: Page) -> dict[str, Any]:
    ch = svg.Chart("demo", "x", "y")
    ch.add(svg.Line([0, 1], [0, 1], color="#000", label="<b>line</b>"))
    return {"intro": "A demo & its <intro>.", "blocks": [Figures([ch], heading="one chart")]}


def test_sections_drive_body_and_navigation(base_path: Path) -> None:
    """A section is one Section entry; its context decides whether it is drawn and linked."""
    demo = Section("demo-plot", "A demo plot", _demo_context, nav="Demo")
    absent = Section("never", "Never shown", lambda p: None)
    by_id = {s.id: s for s in SECTIONS}
    sections = [by_id["summary"], demo, absent, by_id["machine"]]
    page = Page.from_runs([report.load_run(base_path)])
    html_text = render.render_page(page, sections)
    nav = html_text[html_text.index("<nav>") : html_text.index("</nav>")]
    assert re.findall(r'href="#([^"]+)">([^<]+)<', nav) == [
        ("summary", "Summary"),
        ("demo-plot", "Demo"),
        ("machine", "Machine"),
    ]
    assert 'id="never"' not in html_text
    demo_html = html_text[html_text.index('<section id="demo-plot">') :]
    demo_html = demo_html[: demo_html.index("</section>")]
    assert "<h2>A demo plot</h2>" in demo_html
    assert '<p class="muted small">A demo &amp; its &lt;intro&gt;.</p>' in demo_html
    assert "<h3>one chart</h3>" in demo_html
    assert demo_html.count("<svg") == 1
    assert "&lt;b&gt;line&lt;/b&gt;" in demo_html
    clip_ids = re.findall(r'<clipPath id="(clip\d+)">', html_text)
    assert clip_ids == [f"clip{i}" for i in range(1, len(clip_ids) + 1)]  # document order


def test_every_section_template_ships_with_the_package() -> None:
    import importlib.resources

    folder = importlib.resources.files("gradbench.report").joinpath("templates")
    shipped = {entry.name for entry in folder.iterdir()}
    assert {"page.html.j2", "style.css", "report.js", "figures.html.j2"} <= shipped
    assert {s.template for s in SECTIONS} <= shipped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\n  <td>\n    <b>x</b>\n  </td>\n", "<td><b>x</b></td>"),  # breaks at tags vanish
        ("one\n    two\n\n  three", "one two three"),  # breaks between words: one space
        ("a, <b>b</b> c", "a, <b>b</b> c"),  # spaces on a line are kept
        ("label:\n  <ul>", "label:<ul>"),
        ("</b>\n   words", "</b>words"),
        ("  \n", ""),
        ("x\t\n\ty", "x y"),
    ],
)
def test_template_layout_rule(text: str, expected: str) -> None:
    assert render.strip_layout(text) == expected


def test_template_errors_point_at_the_template_line() -> None:
    import traceback

    import jinja2

    env = render.environment().overlay(
        loader=jinja2.DictLoader({"t.html.j2": "<p>\n  <b>{{ x.y }}</b>\n</p>"})
    )
    with pytest.raises(jinja2.UndefinedError) as info:
        env.get_template("t.html.j2").render(x={})
    frames = [(f.filename, f.lineno) for f in traceback.extract_tb(info.value.__traceback__)]
    assert ("<template>", 2) in frames  # the layout rule keeps the template's line numbers


def test_remedies_and_claims_sections(base_path: Path) -> None:
    """Remedies are listed with their origin; claims with the registry's statement."""
    from gradbench.claims import get_claim
    from gradbench.report.sections import claims as claims_section
    from gradbench.report.sections import remedies as remedies_section

    page = Page.from_runs([report.load_run(base_path)])
    rows = {(r.kind, r.name): r for r in remedies_section.rows(page)}
    assert rows[("activation", "scaled_tanh")].origin == "third-party"
    assert rows[("initializer", "he_normal")].origin == "built-in"
    assert rows[("initializer", "he_normal")].total == 2  # a slope case, its stability case
    html_text = render.render_page(page, SECTIONS)
    section = html_text[html_text.index('id="remedies"'):html_text.index('id="claims"')]
    assert 'class="origin origin-third-party">third-party<' in section
    claim_rows = {r.name: r for r in claims_section.rows(page)}
    assert claim_rows["mean_field_slope"].statement == get_claim("mean_field_slope").statement
    assert claim_rows["mean_field_slope"].total >= 1


def _validate_run(folder: Path, n: int, name: str, fails: bool) -> Path:
    """A results file shaped like one ``gradbench validate`` run: report_base's cases, the
    first verdict of each claim re-labelled as the candidate ``name``'s (failing or not)."""
    data = json.loads((DATA / "report_base.json").read_text(encoding="utf-8"))
    seen: set[str] = set()
    for bench in data["benchmarks"]:
        case = bench.get("extra_info", {}).get("gradbench", {})
        verdict = case.get("verdict")
        if not verdict:
            continue
        if case["claim"] in seen:
            case["remedy"] = {"kind": "initializer", "name": "he_normal", "origin": "built-in"}
            verdict["passed"] = True
            continue
        seen.add(case["claim"])
        case["remedy"] = {"kind": "initializer", "name": name, "origin": "candidate"}
        verdict["passed"] = not fails
    data["gradbench"]["candidate"] = ["initializer", name]  # as gradbench validate records it
    path = folder / f"{n:04d}_validate-{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_several_validate_runs_lead_with_one_row_per_remedy(tmp_path: Path) -> None:
    paths = [
        _validate_run(tmp_path, i + 1, name, fails)
        for i, (name, fails) in enumerate(
            [("ok_a", False), ("bad_b", True), ("ok_c", False), ("ok_d", False), ("ok_e", False)]
        )
    ]
    page = Page.from_runs([report.load_run(p) for p in paths])
    html_text = render.render_page(page)
    body = [m.group(1) for m in re.finditer(r'<section id="([^"]+)"', html_text)]
    # the runs validate different remedies: none is compared with another (their built-in
    # cases are shared, but a validation is no baseline for another remedy's)
    assert page.comparisons == []
    assert body[:2] == ["validated", "failures"]
    assert "regressions" not in body
    assert page.title == "gradbench report: 5 remedies validated"
    table = html_text[html_text.index('id="validated-table"') :]
    table = table[: table.index("</table>")]
    names = re.findall(r"<tr data-status=\"(\w+)\"><td>(\w+)</td>", table)
    assert names == [("fail", "bad_b"), ("pass", "ok_a"), ("pass", "ok_c"), ("pass", "ok_d"),
                     ("pass", "ok_e")]
    assert "<b>4</b> of 5 remedies passed" in html_text
    assert "No regressions" not in html_text
    # two validations of one remedy (before and after a fix) are compared: one row each
    again = _validate_run(tmp_path, 6, "bad_b", False)
    two = Page.from_runs([report.load_run(p) for p in (*paths, again)])
    assert [(c.base_label, c.new_label) for c in two.comparisons] == [
        ("0002_validate-bad_b", "0006_validate-bad_b")]
    # a single run never gets the section
    single = render.render_page(Page.from_runs([report.load_run(paths[1])]))
    assert 'id="validated"' not in single
    assert '<p class="verdict verdict-fail" id="verdict">✗' in single


def test_a_run_that_is_not_complete_never_leads_with_a_pass(tmp_path: Path) -> None:
    """Every recorded check held, but the run is incomplete (here: a test failed outside its
    claims, as the plugin writes it): the page leads on grey with the count and the run's
    note, not with a green pass. Fails if the verdict line ignores the run's status."""
    path = _validate_run(tmp_path, 1, "ok_a", False)
    data = json.loads(path.read_text(encoding="utf-8"))
    complete = render.render_page(Page.from_runs([report.load_run(path)]))
    assert ('<p class="verdict verdict-pass" id="verdict">✓ the candidate &#39;ok_a&#39;: '
            'every one of the') in complete
    note = ("incomplete: 1 test failed outside its claims, so what it should have measured "
            "may be missing")
    data["gradbench"].update(status="incomplete", tests_not_run=None, note=note)
    path.write_text(json.dumps(data), encoding="utf-8")
    html_text = render.render_page(Page.from_runs([report.load_run(path)]))
    assert 'class="verdict verdict-pass"' not in html_text
    assert re.search(r'<p class="verdict verdict-none" id="verdict">the candidate &#39;ok_a&#39;: '
                     r"every one of the \d+ checks recorded held, but the run is not complete: "
                     + re.escape(note.removeprefix("incomplete: ")), html_text)
    assert "complete: incomplete" not in html_text


def test_a_validation_leads_with_the_candidate_and_shows_a_failed_baseline_as_context(
        tmp_path: Path) -> None:
    """A candidate whose checks all hold beside a baseline that fails (as a known-bad
    baseline does by design): the page leads green with the candidate's count, then the
    baseline's failure as context. It led with "✗ 1 of N checks failed" while validate
    exited 0 (found on a block validation, whose unscaled_residual baseline fails)."""
    path = _validate_run(tmp_path, 1, "ok_a", False)
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = [b["extra_info"]["gradbench"] for b in data["benchmarks"]
             if b.get("extra_info", {}).get("gradbench", {}).get("verdict")]
    mine = sum(c["remedy"]["origin"] == "candidate" for c in cases)
    baseline = next(c for c in cases if c["remedy"]["origin"] == "built-in")
    baseline["verdict"]["passed"] = False
    path.write_text(json.dumps(data), encoding="utf-8")
    status, text = render.verdict_line(Page.from_runs([report.load_run(path)]))
    assert status == "pass"
    assert text.startswith(f"✓ the candidate 'ok_a': every one of the {mine} checks held. ")
    assert (f"Baselines: 1 of {len(cases) - mine} checks failed (he_normal: "
            f"{baseline['claim']})") in text
    assert "context, not the candidate's verdict" in text
    # its failure box says so too, in the same words for any baseline, after the candidate's
    from gradbench.report.sections.failures import failures

    candidate = next(c for c in reversed(cases) if c["remedy"]["origin"] == "candidate")
    candidate["verdict"]["passed"] = False
    path.write_text(json.dumps(data), encoding="utf-8")
    page = Page.from_runs([report.load_run(path)])
    assert [(f.subject, f.context) for f in failures(page)] == [("ok_a", False),
                                                                ("he_normal", True)]
    html_text = " ".join(html.unescape(render.render_page(page)).split())
    assert html_text.count("A baseline measured beside the candidate, for comparison: context, "
                           "not the candidate's verdict.") == 1
    assert "known-bad" not in html_text
    candidate["verdict"]["passed"] = True
    # a selection that kept none of the candidate's cases judged nothing: no pass
    for bench in data["benchmarks"]:
        case = bench.get("extra_info", {}).get("gradbench", {})
        if case.get("remedy", {}).get("origin") == "candidate":
            case["remedy"] = {"kind": "initializer", "name": "he_normal", "origin": "built-in"}
    path.write_text(json.dumps(data), encoding="utf-8")
    assert render.verdict_line(Page.from_runs([report.load_run(path)])) == (
        "none", "the candidate 'ok_a' has no verdict in this run: nothing was validated")


def test_recommendation_regroups_the_stability_verdicts_by_setting(tmp_path: Path) -> None:
    """For an activation at a depth: the initializers measured stable there, and the others
    with their growth in words; read from ``Verdict.settings``, not judged again."""
    from gradbench.report.sections import recommend

    doc = results_doc()
    doc["benchmarks"] += STABILITY_BENCHES
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    page = Page.from_runs([report.load_run(path)])
    rows = recommend.settings(page)
    assert [(r.kind, r.text, r.depth) for r in rows] == [
        ("initializer", "relu activation", 30), ("initializer", "tanh activation", 30)]
    relu, tanh = rows
    assert [o.name for o in relu.having(True)] == ["he_normal", "lsuv"]
    assert relu.having(False) == []
    assert tanh.having(True) == []
    assert [o.name for o in tanh.having(False)] == ["lsuv"]
    assert relu.words == ("With relu activation at depth 30, he_normal, lsuv kept gradients "
                          "stable.")
    assert tanh.words == ("With tanh activation at depth 30, no initializer measured kept "
                          "gradients stable; lsuv did not.")
    html = report.render_report([report.load_run(path)])
    section = html[html.index('<section id="recommend">'):]
    section = section[:section.index("</section>")]
    assert "changing by less than ×10 between the top layer and the first" in section
    assert "gradients grow x1.09 per layer, x11 over the 29 layer-to-layer steps" in section
    # tanh's row: no remedy kept them stable, in words that cannot be read as the remedy 'none'
    assert "<i>no remedy measured here did</i>" in section
    assert 'href="#recommend"' in html
    # a run without stability verdicts has no recommendation (nor its link)
    plain = report.render_report([report.load_run(records.write_json(
        tmp_path / "plain.json", results_doc()))])
    assert 'id="recommend"' not in plain
    assert 'href="#recommend"' not in plain


def test_the_worst_outcome_of_a_remedy_stands_across_runs(tmp_path: Path) -> None:
    from resultdoc import stability_bench

    from gradbench.report.sections import recommend

    paths = []
    for i, stable in enumerate((True, False)):
        doc = {"benchmarks": [stability_bench("he_normal", "initializer", "stable_as_declared", [
            {"setting": {"activation": "relu"}, "stable": stable,
             "class": "stable" if stable else "vanishing", "words": f"run {i}"}])]}
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(doc), encoding="utf-8")
    (row,) = recommend.settings(Page.from_runs([report.load_run(p) for p in paths]))
    assert [(o.name, o.stable, o.words) for o in row.outcomes.values()] == [
        ("he_normal", False, "run 1")]



@pytest.mark.parametrize("batch", [1, 16])
def test_the_theory_line_is_what_mean_field_slope_tests(tmp_path: Path, batch: int) -> None:
    """A ReLU net measured one example per network drifts down by theory's exact finite-width
    bias (docs/theory.md §2.2) although chi_1 = 1: the panel's dashed line is the prediction
    plus that drift, the very mean the claim tests; with a batch theory has no drift and the
    line is the mean-field one."""
    from gradbench import theory
    from gradbench.claims.network import mean_field_slope
    from gradbench.report.sections.gradients import gradient_chart
    from gradbench.specs import MLPSpec

    spec = MLPSpec(depth=16, width=32, activation="relu", init="he_normal", sigma_b2=0.0)
    prediction = theory.predict(spec, batch=batch)
    drift = theory.finite_width_drift(prediction, batch)
    assert (drift is None) == (batch > 1)
    step = drift or 0.0
    m = dataclasses.replace(_measurement(spec.to_dict(), math.exp(step), 16, seeds=64),
                            batch=batch)
    verdict = mean_field_slope(spec, m, alpha=0.01)
    assert verdict.passed, verdict.note
    path = tmp_path / "relu.json"
    records.write_json(path, {"benchmarks": [{
        "name": "c", "fullname": "c", "group": "g", "params": None, "stats": None,
        "extra_info": {"gradbench": _case("c#0", "mean_field_slope", "mlp-L16-n32-relu",
                                          spec.to_dict(), m=m, p=prediction, v=verdict)}}]})
    page = Page.from_runs([report.load_run(path)])
    chart = gradient_chart(page, page.configs[page.runs[0].label], "layer l")
    (line,) = [s for s in chart.series if isinstance(s, svg.Line) and s.dash]
    steps = -np.diff(np.asarray(line.y)) * math.log(10.0)  # log growth per step, towards input
    assert steps == pytest.approx(np.asarray(prediction.log_growth) + step, abs=1e-12)
    assert float(steps.mean()) == pytest.approx(verdict.predicted + step, abs=1e-12)
    assert line.label == ("theory + finite-width drift" if drift is not None else "theory")
    if drift is not None:
        assert drift == pytest.approx(-5 / (4 * 32), rel=0.1)  # about -5/(4n) per layer
        flat = dataclasses.replace(_measurement(spec.to_dict(), 1.0, 16, seeds=64), batch=1)
        assert not mean_field_slope(spec, flat, alpha=0.01).passed  # the flat line is not it


def test_the_summary_speaks_of_the_latest_run_that_measured_gradients(tmp_path: Path,
                                                                     base_path: Path) -> None:
    """A conformance page ending with an optimizer's validation (no gradient measured): the
    summary's sentence and worst offenders are the latest run with configurations."""
    empty = records.write_json(tmp_path / "0009_validate-SGD.json", results_doc())
    page = Page.from_runs([report.load_run(base_path), report.load_run(empty)])
    assert page.configs["0009_validate-SGD"] == []
    html_text = render.render_page(page)
    assert "configuration(s) measured in 0001_base" in html_text
    assert "Worst offenders in 0001_base" in html_text


def test_a_comparison_of_runs_without_gradient_measurements_does_not_count_zero_configs(
        tmp_path: Path) -> None:
    """Two runs of remedy claims only (no network measured) read "0 configuration(s)
    measured in new: 0 vanish, 0 explode"; the comparison says what the one-run page says."""
    base = records.write_json(tmp_path / "0001_base.json", results_doc())
    new = records.write_json(tmp_path / "0002_new.json", results_doc())
    page = Page.from_runs([report.load_run(base), report.load_run(new)])
    assert all(not c for c in page.configs.values())
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", render.render_page(page))))
    assert "configuration(s) measured" not in text
    assert "Checks in 0002_new: 1 of 1 passed. 0002_new records no per-layer gradient" in text


def test_family_titles_come_from_each_family_s_declaration() -> None:
    """The report titles and labels every spec family from its FamilyInfo (1-D CNNs too)."""
    from gradbench.report import page
    from gradbench.specs import spec_types

    registered = spec_types()
    for name, spec_type in registered.items():
        info = spec_type.info
        assert page.family(name) == page.Family(info.title, info.x_label, info.per_site,
                                                info.over_time)
    assert page.family("conv1d").title == "1-D CNN"
    assert [n for n in registered if page.family(n).over_time] == ["rnn"]
    assert [page.family_order(n)[0] for n in registered] == list(range(len(registered)))
    assert page.family("no_such_family").title == "no_such_family"  # unknown: its own name


def test_a_failure_in_growth_words_gives_its_interval_as_factors() -> None:
    """The failure box's words are the verdict's gradient growth (factors): its interval is
    the growth's end-to-end interval, as factors. It printed the verdict's interval in
    natural-log units beside them ("x0.085 ... (interval [-2.473, -2.459] ...)")."""
    from gradbench import stats
    from gradbench.report.model import Case
    from gradbench.report.sections import failures

    growth = stats.gradient_growth(np.exp([[-2.47, 0.0], [-2.46, 0.0], [-2.48, 0.0]]))
    verdict = records.Verdict(
        claim="stable_as_declared", spec={"family": "mlp", "depth": 2}, predicted=0.0,
        measured=growth.log_ratio, statistic=-5.0, pvalue=1.0, ci_low=growth.low,
        ci_high=growth.high, alpha=0.05, passed=False, growth=growth.to_dict())
    case = Case("c#0", "stable_as_declared", "", {"family": "mlp"}, "mlp", None, None,
                verdict, {})
    low, high = growth.end_to_end_interval
    assert failures.in_words(case) == growth.words
    assert failures.interval(case) == (
        f"end to end ×{render.num(growth.end_to_end)}, interval [×{render.num(low)}, "
        f"×{render.num(high)}] at 90%, p = 1")
    assert "-2.4" not in failures.interval(case)


def test_a_block_failure_is_told_what_a_block_can_do() -> None:
    """A block failing block_depth_law was told to 'declare where the remedy is meant to keep
    them stable (stable_for)', a key a block may not declare (exit 2); a block's failure
    points at its own declarations (docs/blocks.md §1), a remedy's keeps its role's advice."""
    from gradbench.claims import CLAIMS
    from gradbench.report.sections import failures

    law = failures.what_to_do(CLAIMS["block_depth_law"])
    assert "stable_for" not in law
    assert "'expect': 'exponential'" in law
    for name in ("block_stream_growth", "block_output_change", "block_token_collapse"):
        advice = failures.what_to_do(CLAIMS[name])
        assert "docs/remedies.md" not in advice
        assert "docs/blocks.md §1" in advice
    assert failures.what_to_do(CLAIMS["stable_somewhere"]) == failures.WHAT_TO_DO["stability"]


def test_a_per_layer_growth_failure_counts_layer_to_layer_steps() -> None:
    """Depth 5 has 4 layer-to-layer steps: the end-to-end factor is exp(4 x slope), and the
    words say so (they said "over its 5 layers", with the factor of 4 steps)."""
    from gradbench.report.model import Case
    from gradbench.report.sections import failures

    verdict = records.Verdict(
        claim="mean_field_slope", spec={"family": "mlp", "depth": 5}, predicted=0.0,
        measured=-0.05, statistic=-5.0, pvalue=1e-6, ci_low=-0.06, ci_high=-0.04,
        alpha=0.01, passed=False)
    case = Case("c#0", "mean_field_slope", "", {"family": "mlp", "depth": 5}, "mlp", None,
                None, verdict, {})
    words = failures.in_words(case)
    assert f"×{render.num(math.exp(-0.2))} over the 4 layer-to-layer steps of depth 5" in words


def test_a_verdict_without_an_interval_shows_none_in_a_comparison(tmp_path: Path,
                                                                  base_path: Path) -> None:
    """An exact check has no interval: the comparison shows its value alone, not '[nan, nan]'
    (the failure box says 'no interval' of the same verdict)."""
    doc = json.loads(base_path.read_text())
    for bench in doc["benchmarks"]:
        verdict = (bench.get("extra_info", {}).get("gradbench") or {}).get("verdict")
        if verdict:
            verdict.update(ci_low={"nonfinite": "nan"}, ci_high={"nonfinite": "nan"}, passed=False)
    new = records.write_json(tmp_path / "0002_exact.json", doc)
    base, run = report.load_run(base_path), report.load_run(new)
    html = report.render_comparison(base, run)
    assert report.compare_runs(base, run).regressions
    assert "[nan, nan]" not in html


def _interrupted(doc: dict[str, Any]) -> None:
    doc["gradbench"].update(status="interrupted", tests_not_run=3,
                            note="interrupted (KeyboardInterrupt): 3 of 9 tests did not run")


def test_a_comparison_whose_new_run_is_not_complete_shows_no_green_box(
        tmp_path: Path, base_path: Path) -> None:
    """`gradbench compare` exits 1 when NEW was interrupted, but the page's box under the
    warning was the green 'No regressions' (found comparing a run with a Ctrl-C'd rerun)."""
    cut = write_run(tmp_path / "0002_cut.json", "base", _interrupted)
    base, new = report.load_run(base_path), report.load_run(cut)
    comparison = report.compare_runs(base, new)
    assert not comparison.regressions
    assert comparison.new_incomplete
    page = report.render_comparison(base, new, comparison).replace("<wbr>", "")
    top = page.index('<section id="regressions"')
    banner = page[top : page.index("</section>", top)]
    assert 'class="good"' not in banner
    assert re.search(r'<div class="bad">\s*<b>Not a pass 0001_base → 0002_cut</b>: no regression '
                     r"among the \d+ matched\s+case\(s\), but 0002_cut is not complete", banner)
    runs = [write_run(tmp_path / f"{i:04d}_r.json", "base", _interrupted if i == 5 else None)
            for i in range(1, 6)]  # more than three comparisons: one table row each
    table = report.render_report([report.load_run(p) for p in runs])
    assert table.count('<span class="b b-incomplete">incomplete</span>') == 1


def test_no_before_column_when_only_the_base_run_measured_configurations(
        tmp_path: Path, base_path: Path) -> None:
    """With a NEW run that measured no network configuration (an interrupted rerun), the
    worst offenders of the base run got a 'Before ×/layer' column: the base's own factor."""
    def no_measurements(doc: dict[str, Any]) -> None:
        doc["benchmarks"] = [b for b in doc["benchmarks"]
                             if not (b["extra_info"].get("gradbench") or {}).get("measurement")]

    bare = write_run(tmp_path / "0002_bare.json", "base", no_measurements)
    page = report.render_report([report.load_run(base_path), report.load_run(bare)])
    summary = page[page.index('<section id="summary"') : page.index('<section id="recommend"')]
    assert "Worst offenders in 0001_base" in summary
    assert "Before ×/layer" not in summary


def test_the_machine_table_says_none_for_what_a_run_recorded_as_absent(tmp_path: Path) -> None:
    """A CPU run records CUDA and cuDNN as null; the Machine table showed "CUDA null"."""
    from gradbench.report.sections.machine import run_fields

    doc = results_doc()
    doc["machine_info"].setdefault("gradbench", {}).update(cuda=None, cudnn=None)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    fields = run_fields(report.load_run(path))
    assert (fields["machine.gradbench.cuda"], fields["machine.gradbench.cudnn"]) == ("none", "none")
    assert "null" not in " ".join(fields.values())
