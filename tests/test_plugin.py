"""The pytest plugin: cases reach the JSON serially, under xdist and with benchmarks disabled."""

from __future__ import annotations

import json

import pytest

# Imported here, before any pytester test: pytester restores sys.modules after each test,
# and torch imported inside one would be unloaded and could not be imported again.
import torch
from ci_env import set_ci

pytestmark = pytest.mark.integration  # starts subprocesses
pytest_plugins = ["pytester"]

SUITE = """
import pytest
import gradbench as gb

@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_case(depth, gradbench_record, gradbench_config):
    spec = gb.MLPSpec(depth=depth, width=8)
    m = gb.measure(spec, seeds=2, batch=4, seed=gradbench_config.base_seed)
    gradbench_record(claim="demo", spec=spec, measurement=m, extra={"depth": depth})

def test_timed(benchmark, gradbench_record):
    spec = gb.MLPSpec(depth=2, width=4)
    m = benchmark(gb.measure, spec, seeds=2, batch=2)
    gradbench_record(claim="timed", spec=spec, measurement=m)
"""


def _run(pytester: pytest.Pytester, *args: str) -> dict:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gradbench-json=out.json", *args
    )
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["gradbench: 5 cases recorded, every claim holds*"])
    return json.loads((pytester.path / "out.json").read_text(), parse_constant=_reject)


def _reject(token: str) -> None:
    raise AssertionError(f"non-strict JSON token {token}")


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--benchmark-disable",),
        ("-n", "2"),
        ("-n", "2", "--benchmark-disable"),
        # explicit execnet gateways: the path remote workers (--tx ssh=...) take
        ("--dist", "load", "--tx", "2*popen"),
    ],
    ids=["serial", "benchmark-disabled", "xdist", "xdist-benchmark-disabled", "gateways"],
)
def test_cases_reach_the_json(pytester, args):
    """Every recorded case is in the JSON however the run is distributed."""
    doc = _run(pytester, *args)
    cases = [b["extra_info"]["gradbench"] for b in doc["benchmarks"]]
    assert sorted(c["claim"] for c in cases) == ["demo"] * 4 + ["timed"]
    assert sorted(c["extra"]["depth"] for c in cases if c["claim"] == "demo") == [2, 3, 4, 5]
    assert all(c["measurement"]["kind"] == "measurement" for c in cases)
    assert doc["gradbench"]["profile"] == "quick"
    assert doc["machine_info"]["gradbench"]["torch"]


def test_same_command_gives_identical_measurements(pytester):
    """Determinism: two runs differ at most in timestamps, timings and where they ran.

    ``env`` is left out: it records the process that measured, and two xdist workers
    run torch on half the cores each (``num_threads``).
    """
    first = _run(pytester, "-n", "2")
    (pytester.path / "out.json").unlink()
    second = _run(pytester)

    def strip(doc: dict) -> list:
        cases = [dict(b["extra_info"]["gradbench"]) for b in doc["benchmarks"]]
        envs = [case.pop("env") for case in cases]
        assert {e["device"] for e in envs} == {"cpu"}
        return cases

    assert strip(first) == strip(second)


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_progress_lines_follow_the_run(pytester, args):
    """--gradbench-progress=on: one line per finished test, with its cases and running totals."""
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gradbench-progress=on", *args
    )
    result.assert_outcomes(passed=5)
    lines = [x for x in result.stdout.lines if x.startswith("gradbench [")]
    assert len(lines) == 5, result.stdout.lines
    assert all(": 1 cases, 0 failed" in x for x in lines), lines
    for i, x in enumerate(lines, 1):  # the total is unknown to the xdist controller
        assert x.startswith((f"gradbench [{i}/5 tests, 0:", f"gradbench [{i} tests done, 0:")), x
    assert lines[-1].endswith("(run: 5 cases, 0 failed)"), lines
    assert sorted(x.split("] ", 1)[1].split(": ")[0] for x in lines) == sorted(
        [f"test_suite.py::test_case[{d}]" for d in (2, 3, 4, 5)] + ["test_suite.py::test_timed"]
    )


def test_base_seed_changes_measurements(pytester):
    """--gradbench-base-seed reaches the fixture and changes every network."""
    a = _run(pytester)
    (pytester.path / "out.json").unlink()
    b = _run(pytester, "--gradbench-base-seed=7")
    assert b["gradbench"]["base_seed"] == 7
    assert [x["extra_info"] for x in a["benchmarks"]] != [x["extra_info"] for x in b["benchmarks"]]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--gradbench-profile=quik", "*profile 'quik' is unknown*did you mean 'quick'*"),
        ("--gradbench-devices=tpu", "*--gradbench-devices='tpu' is invalid*cpu, cuda*"),
        ("--gradbench-seeds=x", "*--gradbench-seeds='x' is invalid*"),
        ("--gradbench-progress=yes", "*--gradbench-progress='yes' is invalid*on, off*"),
        ("--gradbench-depth=1", "*--gradbench-depth=1 is invalid: the stability settings need "
         "an integer depth from 2 to 200*"),
        ("--gradbench-depth=deep", "*--gradbench-depth='deep' is invalid*"),
    ],
)
def test_bad_options_are_usage_errors(pytester, option, message):
    """One sentence naming the option, the value and the valid choices; exit code 4."""
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


DEPTH_SUITE = """
from hypothesis import given, strategies as st
from gradbench.suite import for_each

@for_each("initializer", ["stable_as_declared"])
def test_stability(remedy, claim, run_claim):
    run_claim(remedy, claim)

@given(fan=st.integers(8, 64))
def test_drawn(fan, run_claim):
    run_claim("initializer:he_normal", "initializer_variance", fan_in=fan, fan_out=fan)
"""


def _cases(pytester: pytest.Pytester, *args: str) -> dict[str, dict]:
    """The verdicts by case id; the run-level ``depth`` (absent without --depth) under ``"run"``."""
    pytester.makepyfile(test_depth=DEPTH_SUITE)
    out = pytester.path / "out.json"
    out.unlink(missing_ok=True)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--gradbench-json={out}", "test_depth.py::test_drawn",
        "test_depth.py::test_stability[he_normal-stable_as_declared-cpu]", *args)
    assert result.ret == 0, result.stdout.str()[-2000:]
    document = json.loads(out.read_text())
    cases = [b["extra_info"]["gradbench"] for b in document["benchmarks"]]
    return {"run": {"depth": document["gradbench"].get("depth")},
            **{c["case"]: c["verdict"] for c in cases}}


def test_depth_moves_the_stability_settings_only(pytester):
    """``--gradbench-depth`` (or the ini key ``gradbench_depth``) sets the depth the stability
    claims judge; every case keeps its id, and the cases Hypothesis draws stay as they are."""
    default = _cases(pytester)
    deep = _cases(pytester, "--gradbench-depth=12")
    pytester.makeini("[pytest]\ngradbench_depth = 12\n")
    from_ini = _cases(pytester)
    assert list(default) == list(deep) == list(from_ini)
    # the run records the depth it judged, so shards of other depths do not merge
    assert [d.pop("run") for d in (default, deep, from_ini)] == [{"depth": None}, {"depth": 12},
                                                                 {"depth": 12}]
    stability = [c for c in default if "test_stability" in c]
    assert len(stability) == 1
    assert len(default) > 5
    for case in default:
        if case in stability:
            assert (default[case]["spec"]["depth"], deep[case]["spec"]["depth"]) == (30, 12)
            assert from_ini[case] == deep[case]
        else:
            assert default[case] == deep[case] == from_ini[case]  # same draws, same verdicts


def test_depth_leaves_the_optimizers_stability_claim_alone(pytester):
    """``--gradbench-depth`` is the depth of the stability settings of the kinds that have
    them: optimizer_trains (a stability claim about optimizers, which takes no depth) runs as
    without it; it failed with 'takes no argument 'depth''."""
    pytester.makepyfile(test_opt="""
import gradbench as gb
from gradbench.suite import for_each

@for_each("optimizer", ["optimizer_trains"])
def test_trains(remedy, claim, run_claim):
    run_claim(remedy, claim, network=gb.MLPSpec(depth=3, width=8), steps=5)
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradbench-json=out.json",
                                           "--gradbench-depth=12", "-k", "sgd")
    result.assert_outcomes(passed=1)


ERRORS_SUITE = """
import pytest
import gradbench as gb
from gradbench.records import Verdict

SPEC = gb.MLPSpec(depth=2, width=4)

@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")

def test_fine(gradbench_record):
    gradbench_record(claim="demo", spec=SPEC)

def test_fixture_error(broken, gradbench_record):
    gradbench_record(claim="demo", spec=SPEC)

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("the teardown broke")

def test_raises_after_its_case(gradbench_record):
    gradbench_record(claim="demo", spec=SPEC)
    raise RuntimeError("broke after recording a passed case")

def test_teardown_error(broken_teardown, gradbench_record):
    gradbench_record(claim="demo", spec=SPEC)

def failed_claim(gradbench_record):
    verdict = Verdict(claim="demo", spec={}, predicted=1.0, measured=2.0, statistic=9.0,
                      pvalue=1e-9, ci_low=1.9, ci_high=2.1, alpha=1e-4, passed=False)
    gradbench_record(claim="demo", spec=SPEC, verdict=verdict)
    raise AssertionError("the claim failed")

def test_failed_claim(gradbench_record):
    failed_claim(gradbench_record)

def test_failed_claim_then_teardown_error(broken_teardown, gradbench_record):
    failed_claim(gradbench_record)
"""


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_tests_that_fail_outside_their_claims_are_named(pytester, args):
    """A test that fails outside its claims (its fixture raised in setup or teardown, or its
    own code after a passed case) may be missing what it should have measured: the run says
    how many, and which first, in red, beside the outcome line, and its results say it is
    incomplete, with that sentence (the report shows it). A failed claim is a verdict, not
    such a failure, even when its teardown then errors. Fails if setup or teardown errors or
    failures after a passed case go uncounted, or failed claims are counted."""
    pytester.makepyfile(test_errors=ERRORS_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly",
                                           "--gradbench-json=out.json", *args)
    result.assert_outcomes(passed=2, failed=3, errors=3)
    result.stdout.fnmatch_lines([
        "gradbench: 5 cases recorded, 2 claims failed in 2 cases*",
        "gradbench: 3 tests failed outside their claims, so what they should have measured "
        "may be missing (pytest's report of the run shows the error): "
        "test_errors.py::test_* and 2 more",
    ])
    named = [line for line in result.stdout.lines if "failed outside their claims" in line]
    assert len(named) == 1, named
    assert "test_failed_claim" not in named[0], named
    run = json.loads((pytester.path / "out.json").read_text())["gradbench"]
    assert run["status"] == "incomplete"
    assert run["note"] == "incomplete: " + named[0].removeprefix("gradbench: ")


BROKEN_PLUGIN_DIST = {
    "broken_gb_plugin-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: broken-gb-plugin\n"
                                              "Version: 0.1\n",
    "broken_gb_plugin-0.1.dist-info/entry_points.txt": "[gradbench.remedies]\n"
                                                      "broken = gb_broken_plugin\n",
    "gb_broken_plugin.py": "raise ImportError('no module named torch_extras')\n",
}


@pytest.mark.parametrize("no_plugins", [False, True], ids=["installed", "GRADBENCH_NO_PLUGINS"])
def test_a_broken_installed_plugin_makes_the_run_incomplete(pytester, monkeypatch, no_plugins):
    """An installed plugin that fails to import is skipped, so its remedies are not measured:
    a run that records cases says so in red, its results are marked incomplete with that
    sentence, and it exits 1 (it exited 0 with a warning: a CI job with a broken plugin
    measured less and showed green). ``GRADBENCH_NO_PLUGINS=1`` runs without it, exit 0."""
    for path, text in BROKEN_PLUGIN_DIST.items():
        (pytester.path / path).parent.mkdir(exist_ok=True)
        (pytester.path / path).write_text(text)
    pytester.makepyfile(test_one=ERRORS_SUITE.split("@pytest.fixture")[0]
                        + "def test_fine(gradbench_record):\n"
                          "    gradbench_record(claim='demo', spec=SPEC)\n")
    if no_plugins:
        monkeypatch.setenv("GRADBENCH_NO_PLUGINS", "1")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly",
                                           "--gradbench-json=out.json")
    run = json.loads((pytester.path / "out.json").read_text())["gradbench"]
    if no_plugins:
        assert result.ret == 0, result.stdout.str()[-2000:]
        assert "status" not in run or run["status"] != "incomplete", run
        return
    assert result.ret == 1, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines([
        "gradbench: 1 case recorded, every claim holds, but the run is not complete (*",
        "gradbench: not a pass: gradbench plugin 'broken' (gb_broken_plugin) failed to load "
        "and was skipped: no module named torch_extras, so what it skipped was not measured "
        "(fix the plugin, or set GRADBENCH_NO_PLUGINS=1 to run without plugins)",
    ])
    assert run["status"] == "incomplete"
    assert run["note"] == ("incomplete: gradbench plugin 'broken' (gb_broken_plugin) failed to "
                           "load and was skipped: no module named torch_extras (so not measured)")


def test_cuda_cases_skip_cleanly_without_a_gpu(pytester):
    """The device fixture parametrizes over cpu and cuda; cuda skips when unavailable."""
    pytester.makepyfile(test_dev="def test_dev(gradbench_device):\n    assert gradbench_device\n")
    result = pytester.runpytest_subprocess("--gradbench-devices=cpu,cuda", "-rs")
    if torch.cuda.is_available():
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(["*CUDA is not available*"])


@pytest.mark.parametrize(
    ("args", "ci", "loaded"),
    [
        (("--gradbench-profile=quick",), False, "gradbench-quick"),
        (("--gradbench-profile=full",), False, "gradbench-full"),
        (("--gradbench-profile=quick",), True, "gradbench-ci"),
        (("--gradbench-profile=quick", "--hypothesis-profile=gradbench-dev"), True,
         "gradbench-dev"),
    ],
)
def test_hypothesis_profiles_in_a_gradbench_session(pytester, monkeypatch, args, ci, loaded):
    """Asked for, the plugin loads its own derandomized profile (gradbench-ci on CI), named
    gradbench-*, and leaves Hypothesis's own ci and default profiles as they are."""
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    set_ci(monkeypatch, ci)
    pytester.makepyfile(
        test_h=f"""
from hypothesis import settings
def test_h():
    assert settings.get_current_profile_name() == {loaded!r}
    for name in ("gradbench-quick", "gradbench-full", "gradbench-ci", "gradbench-dev"):
        assert settings.get_profile(name).deadline is None
    assert settings.get_profile("gradbench-quick").derandomize
    assert settings.get_profile("gradbench-quick").max_examples == 15
    assert settings.get_profile("gradbench-full").max_examples == 40
    assert settings.get_profile("gradbench-ci").print_blob
    assert not settings.get_profile("gradbench-dev").derandomize
    assert settings.get_profile("default").max_examples == 100
    assert settings.get_profile("ci").max_examples == 100
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)


def test_xdist_workers_share_the_cores(pytester, monkeypatch):
    """In a gradbench session, each of N workers runs torch on cores // N threads."""
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    pytester.makepyfile(
        test_threads=f"""
import torch
def test_threads():
    assert torch.get_num_threads() == max(1, {cores} // 2)
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--gradbench-profile=quick"
    )
    result.assert_outcomes(passed=1)


DEVICE_SUITE = """
import dataclasses
import gradbench as gb

SPEC = gb.MLPSpec(depth=2, width=4)

def test_on_device(gradbench_record, gradbench_device):
    m = gb.measure(SPEC, seeds=2, batch=2, device=gradbench_device)
    gradbench_record(claim="demo", spec=SPEC, measurement=m)

def test_no_measurement(gradbench_record):
    gradbench_record(claim="other", spec={"depth": 1})

def test_as_a_cuda_run_records_it(gradbench_record):  # no GPU here: the device travels
    m = dataclasses.replace(gb.measure(SPEC, seeds=2, batch=2), device="cuda:0")
    gradbench_record(claim="demo", spec=SPEC, measurement=m)
"""


def test_machine_info_says_where_cases_ran_and_the_report_reads_it(pytester):
    """Writer and reader agree on real plugin-written files: the device, torch and the
    numerics flags reach the report's header and its "devices differ" warning."""
    from gradbench import report

    pytester.makepyfile(test_dev=DEVICE_SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gradbench-json=cpu.json", "-k", "not cuda"
    )
    result.assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gradbench-json=cuda.json", "-k", "cuda"
    )
    result.assert_outcomes(passed=1)
    doc = json.loads((pytester.path / "cpu.json").read_text())
    env = doc["machine_info"]["gradbench"]
    assert env["device"] == "cpu"
    assert env["devices"] == ["cpu"]
    assert env["torch"] == torch.__version__
    assert env["cuda"] == torch.version.cuda
    assert env["deterministic"] is False
    assert isinstance(env["tf32_matmul"], bool)
    assert {b["extra_info"]["gradbench"]["env"]["device"] for b in doc["benchmarks"]} == {"cpu"}
    cpu, cuda = (report.load_run(pytester.path / name) for name in ("cpu.json", "cuda.json"))
    warnings = report.compare_runs(cpu, cuda).warnings
    assert any(w.startswith("devices differ (cpu: cpu, cuda: cuda:0)") for w in warnings)
    assert "device cpu" in report.render_report([cpu])


def test_hooks_extend_the_results(pytester):
    """The pytest_gradbench_update_machine_info/_update_json hooks change the written file."""
    pytester.makeconftest(
        """
def pytest_gradbench_update_machine_info(config, machine_info):
    machine_info["gradbench"]["cluster"] = "rack-7"

def pytest_gradbench_update_json(config, cases, output_json):
    output_json["gradbench"]["cases_seen_by_hook"] = len(cases)
"""
    )
    pytester.makepyfile(
        test_x="""
def test_x(gradbench_record):
    gradbench_record(claim="demo", spec={"depth": 1})
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradbench-json=out.json")
    result.assert_outcomes(passed=1)
    doc = json.loads((pytester.path / "out.json").read_text())
    assert doc["machine_info"]["gradbench"]["cluster"] == "rack-7"
    assert doc["gradbench"]["cases_seen_by_hook"] == 1


@pytest.mark.parametrize(("profile", "outcome"), [("quick", "skipped"), ("full", "passed")])
def test_gradbench_slow_runs_in_the_full_profile_only(pytester, profile, outcome):
    pytester.makepyfile(
        test_slow="""
import pytest

@pytest.mark.gradbench_slow
def test_slow():
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs",
                                           f"--gradbench-profile={profile}")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "skipped":
        result.stdout.fnmatch_lines(["*gradbench_slow: runs in the full profile only*"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--gradbench-json=a.json", "--gradbench-save=x"), "*are exclusive*"),
        (("--gradbench-save=a/b",), "*--gradbench-save='a/b' is invalid*"),
        (("--gradbench-report=r.html",), "*needs --gradbench-json or --gradbench-save*"),
        # it was written to out.txt.json, a name no one asked for
        (("--gradbench-json=out.txt",), "*--gradbench-json='out.txt' is invalid: the results "
                                         "file must end in .json*"),
        (("--gradbench-save=x", "--gradbench-storage=blocker/sub"),
         "*cannot write results in 'blocker/sub'*"),
    ],
)
def test_bad_output_options_are_usage_errors(pytester, options, message):
    """Before anything runs: one sentence, exit 4, nothing written."""
    (pytester.path / "blocker").write_text("a file, not a folder")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    pytester_own = ("runpytest", "stdout", "stderr")
    left = sorted(p.name for p in pytester.path.iterdir() if not p.name.startswith(pytester_own))
    assert left == ["blocker", "test_x.py"]


REPLAYED = """
from hypothesis import given, strategies as st
import gradbench as gb

@given(fan=st.integers(96, 200))
def test_shrinks(fan, gradbench_record):
    with open("calls.txt", "a") as calls:
        calls.write(f"{fan}\\n")
    v = gb.records.Verdict(claim="demo", spec={"fan": fan}, predicted=0.0, measured=fan,
                           statistic=0.0, pvalue=1.0, ci_low=0.0, ci_high=0.0, alpha=0.01,
                           passed=fan < 150, effect_size=0.0, n=1, method="demo")
    gradbench_record(claim="demo", spec={"fan": fan}, verdict=v)
    assert v.passed
"""


def test_a_failing_test_keeps_its_generated_examples_and_the_shrunk_one(pytester):
    """Hypothesis tries many more examples while it shrinks a failure, then replays the
    smallest: the results keep the examples generated before the failure and that one."""
    pytester.makepyfile(test_replayed=REPLAYED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:xdist", "--gradbench-json=out.json",
        "--gradbench-profile=quick"
    )
    result.assert_outcomes(failed=1)
    cases = [b["extra_info"]["gradbench"]
             for b in json.loads((pytester.path / "out.json").read_text())["benchmarks"]]
    configs = [c["verdict"]["spec"]["fan"] for c in cases]
    calls = [int(x) for x in (pytester.path / "calls.txt").read_text().split()]
    first_failure = next(i for i, fan in enumerate(calls) if fan >= 150)
    assert sorted(configs) == sorted({*calls[:first_failure], 150})
    assert [c["verdict"]["passed"] for c in cases].count(False) == 1  # fan=150, once
    assert len(calls) > len(configs) + 5  # the shrinking tried more than was kept
    assert len({c["case"] for c in cases}) == len(cases)
    result.stdout.fnmatch_lines(["gradbench: * cases recorded, 1 claim failed in 1 case*"])


CLAIM_FAILS = """
import math

import torch
from hypothesis import given, strategies as st

from gradbench.testing import assert_claim


def wide_init(w, *, generator):
    \"\"\"Right up to fan_in 200, twice the declared variance above.\"\"\"
    scale = 2.0 if w.shape[1] > 200 else 1.0
    with torch.no_grad():
        w.normal_(0.0, math.sqrt(scale * 2.0 / w.shape[1]), generator=generator)


wide_init.gradbench_meta = {"variance": lambda fan_in, fan_out: 2.0 / fan_in,
                            "distribution": "normal"}


@given(fan_in=st.integers(96, 320))
def test_variance(fan_in):
    assert_claim(wide_init, "initializer_variance", alpha=1e-4, fan_in=fan_in, fan_out=128)


def test_named(fan_in=128):
    assert_claim("he_normal", "initializer_variance", fan_in=fan_in, fan_out=96)
"""


def test_a_failing_claim_is_its_own_words_with_the_shrunk_configuration(pytester):
    """assert_claim in a user's own tests: the verdicts reach the results of a gradbench
    session, and a failure shows the claim's explanation at the smallest failing
    configuration, no traceback through gradbench's code."""
    pytester.makepyfile(test_user=CLAIM_FAILS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:xdist", "--gradbench-json=out.json")
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    blocks = [line for line in out.splitlines() if line.startswith("claim ")]
    assert len(blocks) == 1
    assert blocks[0].startswith("claim initializer_variance FAILS for wide_init: predicted ")
    result.stdout.fnmatch_lines(["*configuration: kind='initializer', remedy='wide_init', "
                                 "fan_in=201, fan_out=128*"])
    assert "check_case" not in out
    assert "testing.py" not in out
    cases = [b["extra_info"]["gradbench"]
             for b in json.loads((pytester.path / "out.json").read_text())["benchmarks"]]
    failing = [c for c in cases if not c["verdict"]["passed"]]
    assert [c["verdict"]["spec"]["fan_in"] for c in failing] == [201]
    assert {c["remedy"]["name"] for c in cases} == {"wide_init", "he_normal"}
    assert {c["remedy"]["origin"] for c in cases if c["remedy"]["name"] == "wide_init"} == {
        "third-party"}


def test_the_summary_counts_the_statistical_cases_and_bounds_the_false_alarms(pytester):
    """Exact identities do not count; each statistical case adds the per-case alpha."""
    pytester.makepyfile(test_counted="""
def test_counted(run_claim):
    run_claim("initializer:he_normal", "initializer_variance", fan_in=96, fan_out=128)
    run_claim("initializer:he_normal", "initializer_variance", fan_in=128, fan_out=96)
    run_claim("activation:relu", "activation_backward", q=1.0)
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist",
                                           "--gradbench-profile=quick")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "gradbench: 3 cases recorded, every claim holds*",
        "gradbench: 2 statistical cases at alpha 0.0001 each: family-wise false-alarm "
        "rate <= 0.0002",
    ])
