"""Tests of gradbench.validate with user remedies imported from a module on sys.path."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.validate import validate

MODULE = textwrap.dedent('''
    import math
    import torch


    def my_init(w, *, generator):
        """He initialization written by hand: W_ij ~ N(0, 2 / fan_in)."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(2.0 / w.shape[1]), generator=generator)


    my_init.gradbench_kind = "initializer"
    my_init.gradbench_claims = ["stable_gradients", "trains"]


    def timid_init(w, *, generator):
        """N(0, 0.5 / fan_in): a ReLU net's gradient halves every two layers."""
        with torch.no_grad():
            w.normal_(0.0, math.sqrt(0.5 / w.shape[1]), generator=generator)


    timid_init.gradbench_kind = "initializer"
    timid_init.gradbench_claims = ["stable_gradients"]


    def raising_init(w, *, generator):
        raise RuntimeError("this initializer is broken")


    raising_init.gradbench_kind = "initializer"


    def nan_init(w, *, generator):
        w.fill_(float("nan"))


    nan_init.gradbench_kind = "initializer"


    def squashing(x):
        return x.mean(dim=-1)


    squashing.gradbench_kind = "activation"

    not_a_remedy = 3
''')
QUICK = {"depths": (4, 8), "baselines": ("he_normal",)}


@pytest.fixture
def remedies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The example module, importable as ``user_remedies``."""
    (tmp_path / "user_remedies.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "user_remedies"


def test_worked_example_keeps_its_claims_and_writes_the_plugin_layout(
    remedies: str, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    res = validate(f"{remedies}:my_init", out_dir=out, **QUICK)
    assert res.kind == "initializer"
    assert res.name == "my_init"
    assert [c.claim for c in res.claims] == ["runs", "stable_gradients", "trains"]
    assert res.exit_code == 0, res.format_table()
    cand = [r for r in res.rows if r.role == "candidate"]
    assert len(cand) == 4  # 2 activations x 2 depths
    assert len(res.rows) == 8
    assert all(r.ok and r.verdict is not None for r in cand)
    assert res.stable_depth("my_init", "activation=relu") == 8
    assert ("initializer", "my_init") not in registry._REMEDIES  # registration was temporary
    assert res.json_path is not None
    assert Path(res.json_path).name == "0001_validate-my_init.json"
    doc = json.loads(Path(res.json_path).read_text(), parse_constant=pytest.fail)
    assert {"machine_info", "commit_info", "datetime", "version", "gradbench", "benchmarks"} <= set(
        doc
    )
    cases = [b["extra_info"]["gradbench"] for b in doc["benchmarks"]]
    assert len(cases) == len(res.rows)
    for case in cases:
        assert {"claim", "spec", "label", "measurement", "verdict", "extra"} <= set(case)
    assert sum(c["verdict"] is not None for c in cases) == 4
    assert doc["gradbench"]["validate"]["exit_code"] == 0
    table = res.format_table()
    assert "claim stable_gradients: kept" in table
    assert "exit code 0" in table
    again = validate(f"{remedies}:my_init", out_dir=out, **QUICK)
    assert Path(again.json_path or "").name.startswith("0002_")  # never overwrites a run


def test_a_remedy_that_breaks_its_claim_exits_1(remedies: str) -> None:
    res = validate(f"{remedies}:timid_init", out_dir=None, **QUICK)
    assert res.exit_code == 1
    kept = {c.claim: c.kept for c in res.claims}
    assert kept == {"runs": True, "stable_gradients": False}
    relu = [r for r in res.rows if r.remedy == "timid_init" and r.setting == "activation=relu"]
    assert all(r.growth < 0.9 for r in relu)  # sqrt(chi1) = sqrt(0.25) = 0.5 per layer
    assert "BROKEN" in res.format_table()


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("raising_init", "error: RuntimeError: this initializer is broken"),
        ("nan_init", "error: initializer 'nan_init' filled the weight with NaN or inf"),
    ],
)
def test_broken_remedies_are_reported_per_configuration_and_nothing_is_lost(
    remedies: str, tmp_path: Path, obj: str, message: str
) -> None:
    res = validate(f"{remedies}:{obj}", out_dir=tmp_path, **QUICK)
    cand = [r for r in res.rows if r.role == "candidate"]
    assert len(cand) == 4
    assert all(r.status == message for r in cand)
    base = [r for r in res.rows if r.role == "baseline"]
    assert len(base) == 4
    assert all(r.ok and r.measurement is not None for r in base)
    assert res.exit_code == 1
    assert not res.claims[0].kept
    doc = json.loads(Path(res.json_path or "").read_text())
    statuses = [b["extra_info"]["gradbench"]["extra"]["status"] for b in doc["benchmarks"]]
    assert statuses.count(message) == 4
    assert message in res.format_table()


def test_an_activation_returning_the_wrong_shape_is_reported(remedies: str) -> None:
    res = validate(f"{remedies}:squashing", out_dir=None, depths=(4,), baselines=("relu",))
    cand = [r for r in res.rows if r.role == "candidate"]
    assert cand
    pattern = (r"^error: activation 'squashing' returned \(16, 32\) "
               r"for an input of shape \(16, 32, 32\)$")
    assert all(re.match(pattern, r.status) for r in cand), [r.status for r in cand]
    assert res.exit_code == 1


def test_a_registered_name_validates_without_files() -> None:
    res = validate("layernorm", out_dir=None, depths=(4,), baselines=("none",))
    assert res.kind == "normalization"
    assert res.json_path is None
    assert res.exit_code == 0
    assert {r.remedy for r in res.rows} == {"layernorm", "none"}


@pytest.mark.parametrize(
    ("target", "kwargs", "match"),
    [
        ("no_such_module_xyz:f", {}, r"module 'no_such_module_xyz' not found"),
        ("user_remedies:missing", {}, r"has no attribute 'missing'"),
        ("user_remedies:not_a_remedy", {"kind": "initializer"}, r"not a callable remedy"),
        ("user_remedies:not_a_remedy", {}, r"cannot tell the kind"),
        ("user_remedies:my_init", {"kind": "initialiser"}, r"did you mean 'initializer'"),
        ("he_normall", {}, r"not a registered remedy"),
        ("user_remedies:my_init", {"depths": (1,)}, r"depths=\(1,\) is invalid"),
        ("user_remedies:my_init", {"baselines": ("he_norma",)}, r"did you mean 'he_normal'"),
        ("user_remedies:my_init", {"profile": "quik"}, r"profile 'quik' is unknown"),
    ],
)
def test_bad_targets_raise_one_sentence(
    remedies: str, target: str, kwargs: dict, match: str
) -> None:
    with pytest.raises(InvalidArgument, match=match):
        validate(target, out_dir=None, **kwargs)


def test_unknown_declared_claim(remedies: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import user_remedies  # type: ignore[import-not-found]

    monkeypatch.setattr(user_remedies.my_init, "gradbench_claims", ["stable_gradient"],
                        raising=False)
    with pytest.raises(InvalidArgument, match=r"did you mean 'stable_gradients'"):
        validate(f"{remedies}:my_init", out_dir=None, **QUICK)


def test_cli_validate_exit_codes(remedies: str, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`gradbench validate`: 2 for a target that cannot be imported, 1 for a broken remedy."""
    from gradbench.cli import main

    assert main(["validate", "nope_mod_zz:f"]) == 2
    assert "gradbench: error:" in capsys.readouterr().err
    import gradbench.validate as v

    monkeypatch.setitem(v.DEPTHS, "quick", (4,))
    assert main(["validate", f"{remedies}:nan_init", "--out-dir", str(tmp_path / "out")]) == 1
    assert "error: initializer 'nan_init'" in capsys.readouterr().out
