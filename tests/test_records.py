"""Records: strict JSON, exact round trips (non-finite values included), atomic files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradbench import records
from gradbench.errors import InvalidArgument
from gradbench.records import Measurement, Prediction, Verdict

ARRAYS = ("act_grad_norms", "weight_grad_norms", "preact_second_moment", "nonfinite")


def strict_loads(text: str) -> Any:
    """``json.loads`` that fails on the bare NaN/Infinity tokens Python's json would accept."""

    def reject(token: str) -> Any:
        raise AssertionError(f"bare {token} in gradbench JSON")

    return json.loads(text, parse_constant=reject)


def _measurement(act: np.ndarray) -> Measurement:
    weights = act * 2
    q = np.abs(act) + 1
    nonfinite = ~(np.isfinite(act) & np.isfinite(weights) & np.isfinite(q))
    return Measurement(
        spec={"family": "mlp", "depth": act.shape[1], "width": 3, "sigma_w2": None},
        seeds=act.shape[0],
        batch=4,
        seed=0,
        device="cpu",
        dtype="float32",
        act_grad_norms=act,
        weight_grad_norms=weights,
        preact_second_moment=q,
        nonfinite=nonfinite,
    )


def _assert_measurements_equal(a: Measurement, b: Measurement) -> None:
    for name in ("spec", "seeds", "batch", "seed", "device", "dtype"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=x.dtype != bool), name
        # same signs of infinities and same NaN positions
        if x.dtype != bool:
            assert np.array_equal(np.isnan(x), np.isnan(y))
            assert np.array_equal(np.isposinf(x), np.isposinf(y))


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (1.5, 1.5),
        (0.0, 0.0),
        (-2.0, -2.0),
        (math.nan, {"nonfinite": "nan"}),
        (math.inf, {"nonfinite": "inf"}),
        (-math.inf, {"nonfinite": "-inf"}),
        (5e-324, 5e-324),
        (1.7976931348623157e308, 1.7976931348623157e308),
    ],
    ids=["1.5", "zero", "negative", "nan", "inf", "-inf", "subnormal", "max"],
)
def test_encode_decode_float(value: float, encoded: Any) -> None:
    assert records.encode_float(value) == encoded
    back = records.decode_float(strict_loads(json.dumps(encoded)))
    assert back == value or (math.isnan(back) and math.isnan(value))


@pytest.mark.parametrize(
    "bad",
    ["1.0", None, True, [1.0], {"nonfinite": "nope"}],
    ids=["str", "none", "bool", "list", "bad-tag"],
)
def test_decode_float_rejects_non_numbers(bad: Any) -> None:
    with pytest.raises((InvalidArgument, KeyError)):
        records.decode_float(bad)


def test_to_jsonable_converts_numpy_and_nested_values() -> None:
    obj = {
        "a": np.float32(0.5),
        "b": np.int64(3),
        "c": np.bool_(True),
        "d": (1, np.nan),
        "e": np.array([[1.0, np.inf]]),
        "f": np.array([True, False]),
        7: None,
    }
    out = records.to_jsonable(obj)
    assert out == {
        "a": 0.5,
        "b": 3,
        "c": True,
        "d": [1, {"nonfinite": "nan"}],
        "e": {"shape": [1, 2], "data": [1.0, {"nonfinite": "inf"}]},
        "f": {"shape": [2], "data": [True, False]},
        "7": None,
    }
    assert type(out["b"]) is int
    assert type(out["c"]) is bool


def test_to_jsonable_rejects_unknown_objects() -> None:
    with pytest.raises(InvalidArgument, match="cannot store a object in gradbench JSON"):
        records.to_jsonable({"x": object()})


def test_dumps_is_strict_and_deterministic() -> None:
    obj = {"z": math.nan, "a": [math.inf, -math.inf, 1.0]}
    text = records.dumps(obj)
    assert "NaN" not in text
    assert "Infinity" not in text
    assert list(strict_loads(text)) == ["a", "z"]  # sorted keys
    assert records.dumps(dict(reversed(list(obj.items())))) == text


@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (3, 0)], ids=["1x1", "2x5", "empty"])
def test_array_encoding_round_trips(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape)
    back = records.decode_array(strict_loads(records.dumps(a)))
    assert back.shape == shape
    assert np.array_equal(back, a)


def test_measurement_round_trip_with_nonfinite_values() -> None:
    act = np.array([[1.0, np.nan, np.inf], [0.0, 1e-300, -np.inf]])
    m = _measurement(act)
    assert m.nonfinite.tolist() == [[False, True, True], [False, False, True]]
    text = records.dumps(m.to_dict())
    data = strict_loads(text)
    assert data["kind"] == "measurement"
    back = Measurement.from_dict(data)
    _assert_measurements_equal(m, back)
    assert records.dumps(back.to_dict()) == text


def test_all_false_nonfinite_mask_stays_boolean() -> None:
    m = _measurement(np.ones((2, 3)))
    back = Measurement.from_dict(strict_loads(records.dumps(m.to_dict())))
    assert back.nonfinite.dtype == bool
    assert not back.nonfinite.any()


def test_a_verdict_carries_its_growth_through_json() -> None:
    from gradbench.stats import GradientGrowth, gradient_growth

    growth = gradient_growth(np.array([[4.0, 2.0, 1.0], [3.0, 2.0, 1.0]]), confidence=0.9)
    v = Verdict(claim="stable_gradients", spec={"family": "mlp"}, predicted=0.0,
                measured=growth.log_ratio, statistic=1.0, pvalue=0.01, ci_low=growth.low,
                ci_high=growth.high, alpha=0.05, passed=False, growth=growth.to_dict())
    back = Verdict.from_dict(strict_loads(records.dumps(v.to_dict())))
    assert GradientGrowth.from_dict(back.growth) == growth
    assert back.growth["words"] == growth.words
    assert Verdict.from_dict({k: x for k, x in v.to_dict().items() if k != "growth"}).growth is None


def test_measurement_from_dict_names_a_missing_field() -> None:
    data = _measurement(np.ones((1, 2))).to_dict()
    del data["batch"]
    with pytest.raises(InvalidArgument, match="measurement record lacks field 'batch'"):
        Measurement.from_dict(data)


def test_prediction_round_trip() -> None:
    p = Prediction(
        spec={"family": "mlp"},
        log_growth=np.array([0.1, -np.inf, np.nan]),
        valid=True,
        assumptions=("infinite width",),
        domain="width >= 4 * depth",
        source="Poole 2016",
        quantities={"chi1": 1.0, "q_star": math.nan},
    )
    back = Prediction.from_dict(strict_loads(records.dumps(p.to_dict())))
    assert np.array_equal(back.log_growth, p.log_growth, equal_nan=True)
    assert (back.valid, back.assumptions, back.domain, back.source) == (
        True,
        ("infinite width",),
        p.domain,
        p.source,
    )
    assert back.quantities["chi1"] == 1.0
    empty = Prediction(spec={}, log_growth=None, valid=False, reason="outside the domain")
    again = Prediction.from_dict(strict_loads(records.dumps(empty.to_dict())))
    assert again.log_growth is None
    assert again.reason == "outside the domain"
    assert not again.valid


def test_verdict_round_trip_and_confidence_interval() -> None:
    v = Verdict(
        claim="mean_field_slope",
        spec={"family": "mlp"},
        predicted=-0.1,
        measured=-0.12,
        statistic=1.3,
        pvalue=0.2,
        ci_low=-0.15,
        ci_high=-0.09,
        alpha=0.01,
        passed=True,
        effect_size=math.nan,
        n=16,
        method="t-test",
        source="x",
        note="y",
    )
    back = Verdict.from_dict(strict_loads(records.dumps(v.to_dict())))
    assert math.isnan(back.effect_size)
    assert back.confidence_interval() == records.ConfidenceInterval(-0.15, -0.09)
    assert back.confidence_interval().low == -0.15
    assert (back.claim, back.passed, back.n, back.pvalue) == ("mean_field_slope", True, 16, 0.2)
    data = v.to_dict()
    del data["pvalue"]
    with pytest.raises(InvalidArgument, match="verdict record lacks field 'pvalue'"):
        Verdict.from_dict(data)


def test_write_and_read_json_atomically(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "0001_run.json"
    records.write_json(target, {"x": math.inf, "y": [1, 2]})
    assert records.read_json(target) == {"x": {"nonfinite": "inf"}, "y": [1, 2]}
    assert sorted(p.name for p in target.parent.iterdir()) == ["0001_run.json"]  # no temporary left
    records.write_json(target, {"x": 1})  # replaces
    assert records.read_json(target) == {"x": 1}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "does not exist"),
        ("", "is empty, expected JSON"),
        ('{"x": NaN}', "is not valid JSON"),
        ("{", "is not valid JSON"),
    ],
    ids=["missing", "empty", "bare-nan", "truncated"],
)
def test_read_json_errors_name_the_file(tmp_path: Path, content: str | None, match: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidArgument, match=rf"file '.*bad\.json' {match}"):
        records.read_json(path)


# ---------------------------------------------------------------------------------------
# Real measurements (these import torch through gradbench.probe)
# ---------------------------------------------------------------------------------------


def test_measurement_json_is_identical_across_runs() -> None:
    import gradbench as gb

    spec = gb.ResidualSpec(depth=4, width=8, branch_scale="1/sqrt(L)", norm="layernorm")
    first = records.dumps(gb.measure(spec, seeds=3, batch=4).to_dict())
    second = records.dumps(gb.measure(spec, seeds=3, batch=4).to_dict())
    assert first == second
    back = Measurement.from_dict(strict_loads(first))
    assert records.dumps(back.to_dict()) == first


def test_exploding_network_round_trips_with_nonfinite_flags() -> None:
    import gradbench as gb

    spec = gb.MLPSpec(depth=200, width=16, activation="relu", sigma_w2=50.0)
    m = gb.measure(spec, seeds=2, batch=4, dtype="float32")
    finite = (
        np.isfinite(m.act_grad_norms)
        & np.isfinite(m.weight_grad_norms)
        & np.isfinite(m.preact_second_moment)
    )
    assert np.array_equal(m.nonfinite, ~finite)
    assert m.nonfinite.any()
    assert np.isfinite(m.preact_second_moment[:, 0]).all()  # the first layers are still finite
    assert np.isnan(m.act_grad_norms).any()
    text = records.dumps(m.to_dict())
    assert "NaN" not in text
    assert "Infinity" not in text
    back = Measurement.from_dict(strict_loads(text))
    _assert_measurements_equal(m, back)
    assert records.dumps(back.to_dict()) == text


def _case_record(i: int, **env: Any) -> records.CaseRecord:
    return records.CaseRecord.build(
        case=f"suites/test_x.py::test_y[{i}]#0", claim="demo", spec={"depth": i}, label=f"L{i}",
        verdict=None, extra={"i": np.int64(i)}, env={"device": "cpu", **env},
    )


def test_case_record_round_trips_through_json() -> None:
    case = _case_record(3, tf32_matmul=False)
    again = records.CaseRecord.from_dict(strict_loads(records.dumps(case.to_dict())))
    assert again == case
    assert again.extra == {"i": 3}


def test_case_record_from_dict_names_what_is_missing() -> None:
    with pytest.raises(InvalidArgument, match=r"lacks field 'spec'"):
        records.CaseRecord.from_dict({"case": "x", "claim": "c"})
    with pytest.raises(InvalidArgument, match=r"must be an object"):
        records.CaseRecord.from_dict(["x"])  # type: ignore[arg-type]


def test_machine_info_merges_what_the_cases_ran_on() -> None:
    """One value where the cases agree, the distinct values joined where they do not."""
    cases = [_case_record(0, tf32_matmul=False), _case_record(1, tf32_matmul=False),
             _case_record(2, tf32_matmul=True, device="cuda:0", gpu="A100")]
    machine = records.MachineInfo.from_cases(cases, {"node": "n"}, {"torch": "2.13.0"})
    block = machine.to_dict()["gradbench"]
    assert machine.device == "cpu, cuda:0"
    assert block["devices"] == ["cpu", "cuda:0"]
    assert block["gpu"] == "A100"
    assert block["tf32_matmul"] == "False, True"
    assert block["torch"] == "2.13.0"  # from the fallback: no case says
    assert set(records.ENV_KEYS) <= set(block)


def test_machine_info_reads_any_writer() -> None:
    """The reader's view: every known key present (None when the writer left it out)."""
    machine = records.MachineInfo.from_dict({"gradbench": {"device": "cpu", "extra": 1}})
    assert machine.device == "cpu"
    assert machine.gradbench["cuda"] is None
    assert machine.gradbench["extra"] == 1
    assert records.MachineInfo.from_dict("garbage").device is None


def test_results_document_is_the_plugin_layout() -> None:
    run = records.RunInfo(profile="quick", base_seed=7, devices=("cpu",))
    cases = [_case_record(2), _case_record(1)]
    machine = records.MachineInfo.from_cases(cases, {"node": "n"}, {})
    doc = strict_loads(records.dumps(records.results_document(run, machine, cases)))
    assert set(doc) == {"machine_info", "commit_info", "datetime", "version", "gradbench",
                        "benchmarks"}
    assert doc["gradbench"]["base_seed"] == 7
    assert doc["gradbench"]["status"] == "complete"
    assert [b["fullname"] for b in doc["benchmarks"]] == [c.case for c in cases[::-1]]
    assert doc["benchmarks"][0]["extra_info"]["gradbench"]["extra"] == {"i": 1}
    assert doc["machine_info"]["gradbench"]["device"] == "cpu"
    assert records.RunInfo.from_dict(doc["gradbench"]) == run


def test_run_info_status_and_notes() -> None:
    run = records.RunInfo(profile="quick", base_seed=0, status="interrupted", tests_not_run=3,
                          note="interrupted (SIGTERM): 3 of 5 tests did not run")
    assert records.run_notes(run.to_dict()) == [run.note]
    assert records.run_notes(records.RunInfo(profile="quick", base_seed=0).to_dict()) == []
    with pytest.raises(InvalidArgument, match=r"status='done' is invalid; valid choices"):
        records.RunInfo(profile="quick", base_seed=0, status="done")


def test_a_verdict_carries_its_stability_settings_through_json() -> None:
    """``Verdict.settings`` survives a round trip; a verdict written before it reads as none."""
    settings = ({"setting": {"activation": "relu"}, "depth": 30, "width": 128, "stable": True,
                 "class": "stable", "words": "gradients shrink x0.998 per layer"},
                {"setting": {"init": "critical"}, "depth": 30, "width": 128, "stable": None,
                 "reason": "no stable critical point"})
    v = Verdict(claim="stable_somewhere", spec={}, predicted=0.0, measured=0.1, statistic=1.0,
                pvalue=0.01, ci_low=0.0, ci_high=0.2, alpha=0.05, passed=True,
                settings=settings)
    back = Verdict.from_dict(json.loads(json.dumps(v.to_dict())))
    assert back.settings == settings
    assert back == v
    old = {k: x for k, x in v.to_dict().items() if k != "settings"}
    assert Verdict.from_dict(old).settings == ()
    assert Verdict.from_dict({**old, "settings": "garbage"}).settings == ()
