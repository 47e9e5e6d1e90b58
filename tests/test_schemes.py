"""Transformer depth schemes: the documented constants, the acceptance of ``gradbench
validate`` on the built-ins and on two wrong DeepNorms, the guard, and the reference module.

The constants below are written from the papers (docs/theory.md §10.2), not read from
``gradbench.remedies.schemes``: a built-in whose fields drift from its paper fails here and
in ``remedy_constants``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradbench import claims, registry
from gradbench.candidate import register_target
from gradbench.claims.schemes import declared_slope
from gradbench.errors import InvalidArgument, RemedyFailed
from gradbench.remedies.schemes import scheme_spec

# (placement, alpha(N), beta(N) on V/O/W1/W2, per-block exponent p, input variance(N))
DOCUMENTED = {
    "post_ln": ("post", lambda n: 1.0, lambda n: 1.0, 0.0, lambda n: 1.0),
    "deepnorm": ("post", lambda n: (2 * n) ** 0.25, lambda n: (8 * n) ** -0.25, 0.0,
                 lambda n: 1.0),
    "admin": ("post", lambda n: math.sqrt((2 * n + 1) / math.log(2 * n + 1) - 1),
              lambda n: 1.0, 0.0, lambda n: 1.0),
    "tfixup": ("none", lambda n: 1.0, lambda n: 0.67 / n**0.25, 0.0,
               lambda n: (9 * n) ** -0.5),
    "dsinit": ("post", lambda n: 1.0, lambda n: 1.0, 0.5, lambda n: 1.0),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
@pytest.mark.parametrize("depth", [1, 6, 48])
def test_builtin_schemes_set_their_papers_constants(name: str, depth: int) -> None:
    placement, alpha, beta, p, input_var = DOCUMENTED[name]
    spec = scheme_spec(registry.lookup("depth_scheme", name), depth, width=16)
    assert spec.placement == placement
    assert spec.skip_scale == pytest.approx(alpha(depth), rel=1e-12)
    assert spec.branch_gain == pytest.approx(beta(depth), rel=1e-12)
    assert spec.layer_gain_exponent == p
    assert spec.input_var == pytest.approx(input_var(depth), rel=1e-12)


def test_admin_counts_sublayers_and_deepnorm_meets_the_deepnet_identity() -> None:
    """omega^2 + 1 = (n+1)/ln(n+1) with n = 2N: Admin's sum n/(omega^2+1) is ln-like."""
    for depth in (1, 3, 50):
        n = 2 * depth
        omega = registry.lookup("depth_scheme", "admin").fn(depth)["skip_scale"]
        assert n / (omega**2 + 1) == pytest.approx(n * math.log(n + 1) / (n + 1), rel=1e-12)
        fields = registry.lookup("depth_scheme", "deepnorm").fn(depth)
        assert n * 2 * fields["branch_gain"] ** 2 / fields["skip_scale"] ** 2 == (
            pytest.approx(1.0, rel=1e-12))


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_remedy_constants_holds_for_each_builtin(name: str) -> None:
    verdict = claims.check(f"depth_scheme:{name}", "remedy_constants", depth=5)
    assert verdict.passed, verdict.note
    assert verdict.statistic <= 1.0


def test_remedy_constants_catches_admin_counting_blocks_and_dsinit_on_variance() -> None:
    admin_law = registry.lookup("depth_scheme", "admin").meta["law"]
    with registry.temporary("depth_scheme", "t_admin_blocks",
                            lambda d: {"placement": "post",
                                       "skip_scale": ((d + 1) / math.log(d + 1) - 1) ** 0.5},
                            law=admin_law) as bad:
        verdict = claims.check(bad, "remedy_constants", depth=4)
    assert not verdict.passed
    assert "skip alpha" in verdict.note
    ds_law = registry.lookup("depth_scheme", "dsinit").meta["law"]
    with registry.temporary("depth_scheme", "t_ds_variance",
                            lambda d: {"placement": "post", "layer_gain_exponent": 0.25},
                            law=ds_law) as bad:
        verdict = claims.check(bad, "remedy_constants", depth=4)
    assert not verdict.passed
    assert "block " in verdict.note


def test_output_change_slope_of_declared_orders() -> None:
    assert declared_slope(registry.lookup("depth_scheme", "deepnorm")) == 0.0
    assert declared_slope(registry.lookup("depth_scheme", "post_ln")) == pytest.approx(1.0)
    admin = declared_slope(registry.lookup("depth_scheme", "admin"))
    assert admin == pytest.approx(math.log((8 * math.log(9) / 9) / (2 * math.log(3) / 3))
                                  / math.log(4))


def test_reference_module_equals_probe_for_each_scheme() -> None:
    """Every scheme's network equals its torch.nn reference (float64, 1e-10)."""
    for name in sorted(DOCUMENTED):
        spec = scheme_spec(registry.lookup("depth_scheme", name), 3, width=16, heads=2,
                           seq=4, ffn=2, causal=name == "dsinit")
        verdict = claims.check(spec, "probe_equals_reference", seeds=2, batch=2)
        assert verdict.passed, (name, verdict.note)


def test_guard_refuses_a_field_a_scheme_may_not_set() -> None:
    from gradbench.candidate import scheme_guard

    with pytest.raises(RemedyFailed, match="set width; a scheme sets only"):
        scheme_guard("depth_scheme", "t_bad", lambda d: {"width": 8})(3)
    with pytest.raises(RemedyFailed, match="returned a float"):
        scheme_guard("depth_scheme", "t_num", lambda d: 1.0)(3)
    with pytest.raises(InvalidArgument, match=r"skip_scale=-1\.0 is invalid"):
        scheme_spec(registry.lookup("depth_scheme", "post_ln"), 2, width=8, skip_scale=-1.0)


USER_SCHEMES = textwrap.dedent('''
    import math


    def deepnorm_wrong_exponent(depth):
        """DeepNorm with beta = (8N)^(-1/2): the change shrinks like N^(-1/2)."""
        return {"placement": "post", "skip_scale": (2 * depth) ** 0.25,
                "branch_gain": (8 * depth) ** -0.5}


    def deepnorm_alpha_on_branch(depth):
        """LN(x + alpha G(x)): alpha on the branch (beta sqrt(alpha) on each of its two
        matrices, alpha G(x) exactly for one token and ReLU), the skip unscaled."""
        alpha, beta = (2 * depth) ** 0.25, (8 * depth) ** -0.25
        return {"placement": "post", "skip_scale": 1.0, "branch_gain": beta * alpha ** 0.5}


    def deepnorm_declared_wrong_exponent(depth):
        return {"placement": "post", "skip_scale": (2 * depth) ** 0.25,
                "branch_gain": (8 * depth) ** -0.5}


    deepnorm_declared_wrong_exponent.gradbench_meta = {
        "law": lambda depth: {"placement": "post", "skip": (2 * depth) ** 0.25,
                              "gains": [dict.fromkeys(("V", "O", "W1", "W2"),
                                                      (8 * depth) ** -0.25)] * depth},
        "output_change": lambda n: 1.0, "deepnet_identity": True}


    def _documented(name):
        """The registered scheme's declared law and output change: the user claims it."""
        from gradbench import registry

        meta = registry.lookup("depth_scheme", name).meta
        return {k: meta[k] for k in ("law", "output_change") if k in meta}


    def admin_blocks_not_sublayers(depth):
        """Admin's omega^2 = (n+1)/ln(n+1) - 1 with n = N blocks, not the 2N sublayers."""
        n = depth
        return {"placement": "post", "skip_scale": ((n + 1) / math.log(n + 1) - 1) ** 0.5}


    def admin_omega_on_branch(depth):
        """Admin's omega moved from the skip to the branch: LN(x + omega F(x))."""
        n = 2 * depth
        return {"placement": "post",
                "branch_gain": ((n + 1) / math.log(n + 1) - 1) ** 0.25}


    def tfixup_wrong_exponent(depth):
        """T-Fixup with beta = 0.67 N^(-1/2) in place of 0.67 N^(-1/4)."""
        return {"placement": "none", "branch_gain": 0.67 * depth ** -0.5,
                "input_var": (9 * depth) ** -0.5}


    def dsinit_wrong_exponent(depth):
        """DS-Init with block l's std scaled by 1/l in place of 1/sqrt(l)."""
        return {"placement": "post", "layer_gain_exponent": 1.0}


    admin_blocks_not_sublayers.gradbench_meta = _documented("admin")
    admin_omega_on_branch.gradbench_meta = _documented("admin")
    tfixup_wrong_exponent.gradbench_meta = _documented("tfixup")
    dsinit_wrong_exponent.gradbench_meta = _documented("dsinit")
''')


def _validate(folder: Path, target: str) -> tuple[int, str, dict[str, list[bool]]]:
    proc = subprocess.run(
        [sys.executable, "-m", "gradbench", "validate", target, "--kind", "depth_scheme",
         "--out-dir", "out"], cwd=folder, capture_output=True, text=True, timeout=600)
    files = sorted((folder / "out").glob("*.json"))
    verdicts: dict[str, list[bool]] = {}
    for bench in json.loads(files[-1].read_text())["benchmarks"] if files else []:
        case = bench["extra_info"]["gradbench"]
        if case.get("remedy", {}).get("origin") == "candidate" and case["verdict"]:
            verdicts.setdefault(case["claim"], []).append(case["verdict"]["passed"])
    return proc.returncode, proc.stdout + proc.stderr, verdicts


@pytest.mark.parametrize("name", ["deepnorm", "admin", "tfixup", "dsinit"])
def test_validate_exits_0_for_the_documented_schemes(tmp_path: Path, name: str) -> None:
    code, out, verdicts = _validate(tmp_path, name)
    assert code == 0, out
    assert set(verdicts) == {"remedy_constants", "output_change_law"}
    assert all(all(v) for v in verdicts.values())


@pytest.mark.parametrize(("target", "failing"), [
    ("deepnorm_wrong_exponent", {"output_change_law"}),
    ("deepnorm_alpha_on_branch", {"output_change_law"}),
    ("deepnorm_declared_wrong_exponent", {"output_change_law", "remedy_constants"}),
    # declared as the documented scheme, built wrong: the exact constants catch every one;
    # Admin's output change n ln(n+1)/(n+1) hardly moves when n counts blocks, so only they do
    ("admin_blocks_not_sublayers", {"remedy_constants"}),
    ("admin_omega_on_branch", {"remedy_constants"}),
    ("tfixup_wrong_exponent", {"output_change_law", "remedy_constants"}),
    ("dsinit_wrong_exponent", {"output_change_law", "remedy_constants"}),
])
def test_validate_exits_1_for_a_wrong_scheme_naming_the_claim(tmp_path: Path, target: str,
                                                              failing: set[str]) -> None:
    (tmp_path / "user_schemes.py").write_text(USER_SCHEMES)
    code, out, verdicts = _validate(tmp_path, f"user_schemes:{target}")
    assert code == 1, out
    assert {c for c, v in verdicts.items() if not all(v)} == failing
    for claim in failing:
        assert f"claim {claim} FAILS" in out


def test_a_scheme_is_inferred_from_its_signature(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "user_schemes.py").write_text(USER_SCHEMES)
    monkeypatch.chdir(tmp_path)
    kind, name = register_target("user_schemes:deepnorm_wrong_exponent")
    try:
        assert kind == "depth_scheme"
    finally:
        registry.unregister("depth_scheme", name)
