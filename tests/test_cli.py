"""The gradbench command: every subcommand, exit codes, and one-sentence errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from resultdoc import results_doc

from gradbench import records
from gradbench.cli import main


def _results(path, passed: bool, version: str = "0.1"):
    records.write_json(path, results_doc(passed=passed, suite_version=version))
    return path


def test_list_shows_every_kind(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in (
        "activation",
        "initializer",
        "normalization",
        "residual",
        "he_normal",
        "tanh",
        "batchnorm",
        "1/sqrt(L)",
    ):
        assert word in out


def test_theory_json_matches_the_library(capsys):
    from gradbench import theory

    assert main(["theory", "--activation", "tanh", "--sigma-w2", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert math.isclose(data["chi1"], theory.chi1("tanh", 2.0, 0.0), rel_tol=1e-12)
    assert data["phase"] == "chaotic"


def test_theory_depth_counts_the_layer_to_layer_steps(capsys):
    """The claims' convention: depth L has L - 1 steps, each a factor sqrt(chi_1) in the
    gradient norm (tanh with Xavier gain 5/3: chi_1 = 1.2098, docs/theory.md §1.5)."""
    assert main(["theory", "--activation", "tanh", "--sigma-w2", str(25 / 9), "--depth", "30",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert math.isclose(data["gradient_factor_per_layer"], math.sqrt(data["chi1"]))
    assert math.isclose(data["gradient_factor_over_depth"], data["chi1"] ** 14.5)
    assert data["gradients"] == ("gradients grow x1.10 per layer, x16 over the 29 "
                                 "layer-to-layer steps of depth 30")


def test_theory_depth_past_float_range_is_inf_not_a_traceback(capsys):
    """`theory --activation relu --sigma-w2 4 --depth 5000` (x1.41 per layer) ended in an
    OverflowError traceback; the factor over the depth is inf, as in the JSON's strict form."""
    assert main(["theory", "--activation", "relu", "--sigma-w2", "4", "--depth", "5000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "gradient_factor_over_depth          inf" in lines


def test_run_remedy_of_unknown_kind_is_not_told_to_pass_an_option_run_lacks(tmp_path,
                                                                           monkeypatch, capsys):
    """`gradbench run --remedy f.py:obj` has no --kind: the sentence names the attribute."""
    (tmp_path / "odd.py").write_text("def odd():\n    return 3\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--remedy", "odd.py:odd"]) == 2
    err = capsys.readouterr().err
    assert "set its attribute gradbench_kind (valid choices: activation," in err
    assert "or pass --kind to gradbench validate" in err
    assert not list(tmp_path.glob("reports/*"))


def test_compare_flags_a_regression(tmp_path, capsys):
    base = _results(tmp_path / "0001_quick.json", passed=True)
    new = _results(tmp_path / "0002_quick.json", passed=False)
    assert main(["compare", str(base), str(new), "-o", str(tmp_path / "c.html")]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert (tmp_path / "c.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["compare", str(base), str(base), "-o", str(tmp_path / "d.html")]) == 0


def _with_case(path, doc, claim: str, passed: bool):
    """``doc`` with one more case (another claim on another configuration), written to path."""
    extra = results_doc(passed=passed)["benchmarks"][0]
    case = extra["extra_info"]["gradbench"]
    case.update(case=f"suite::test_{claim}#0", claim=claim, label=f"{claim}-config")
    case["verdict"]["claim"] = claim
    extra.update(name=claim, fullname=claim)
    doc["benchmarks"].append(extra)
    records.write_json(path, doc)
    return path


def test_compare_counts_a_new_failing_case_as_a_regression(tmp_path, capsys):
    """The same run plus a remedy that fails: its new failures are regressions (exit 1)."""
    base = _results(tmp_path / "0001_quick.json", passed=True)
    new = _with_case(tmp_path / "0002_quick.json", results_doc(passed=True), "added", False)
    assert main(["compare", str(base), str(new), "-o", str(tmp_path / "c.html")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION added on added-config: absent -> 0.1 (failed) [regression]" in out
    assert "1 regressions (1 cases in both runs, 1 only in 0002_quick" in out
    passing = _with_case(tmp_path / "0003_quick.json", results_doc(passed=True), "added", True)
    assert main(["compare", str(base), str(passing), "-o", str(tmp_path / "d.html")]) == 0


def test_compare_says_what_new_did_not_measure_and_can_fail_on_it(tmp_path, capsys):
    """A NEW narrower than BASE (a -k in the PR's job) passes with a warning naming the cases
    not judged; --fail-on-removed makes it exit 1 for a gate that needs every case."""
    base = _with_case(tmp_path / "0001_quick.json", results_doc(passed=True), "dropped", True)
    new = _results(tmp_path / "0002_quick.json", passed=True)
    assert main(["compare", str(base), str(new), "-o", str(tmp_path / "c.html")]) == 0
    err = capsys.readouterr().err
    assert "1 case of 0001_quick is not in 0002_quick, so it was not judged" in err
    assert "--fail-on-removed makes that exit 1" in err
    assert main(["compare", str(base), str(new), "-o", str(tmp_path / "c.html"),
                 "--fail-on-removed"]) == 1
    out, err = capsys.readouterr()
    assert "0 regressions, and 1 case of 0001_quick is missing (--fail-on-removed)" in out
    assert err.rstrip().endswith("not judged (a narrower selection, or tests or remedies "
                                 "removed); exit 1 (--fail-on-removed)")
    assert main(["compare", str(new), str(base), "-o", str(tmp_path / "d.html"),
                 "--fail-on-removed"]) == 0  # NEW measuring more is fine
    assert "not judged" not in capsys.readouterr().err


def test_compare_of_runs_sharing_no_case_is_one_sentence(tmp_path, capsys):
    base = _results(tmp_path / "0001_quick.json", passed=True)
    doc = results_doc(passed=True)
    doc["benchmarks"] = []
    other = _with_case(tmp_path / "0002_other.json", doc, "other", True)
    assert main(["compare", str(base), str(other), "-o", str(tmp_path / "c.html")]) == 2
    err = capsys.readouterr().err
    assert "share no case" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.html").exists()
    # runs at other base seeds share no remedy case: the sentence says why (found comparing
    # a -k run at base seed 0 with a full run at base seed 1)
    doc = results_doc(passed=True)
    doc["gradbench"]["base_seed"] = 1
    doc["benchmarks"] = []
    seeded = _with_case(tmp_path / "0003_seeded.json", doc, "other", True)
    assert main(["compare", str(base), str(seeded), "-o", str(tmp_path / "c.html")]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "compare two runs of the same suites, selection, profile and base seed (these have "
        "base seeds 0 and 1)")


def test_compare_writes_its_page_where_it_says(tmp_path, monkeypatch, capsys):
    """Not into either run's folder: the current directory, and the path is printed."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "here").mkdir()
    base = _results(tmp_path / "a" / "0001_quick.json", passed=True)
    new = _results(tmp_path / "b" / "0007_quick.json", passed=True)
    monkeypatch.chdir(tmp_path / "here")
    assert main(["compare", str(base), str(new)]) == 0
    assert "report compare_0001_quick_0007_quick.html" in capsys.readouterr().out
    assert (tmp_path / "here" / "compare_0001_quick_0007_quick.html").exists()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["0001_quick.json"]
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["0007_quick.json"]


def test_report_compares_each_run_with_the_previous_one_it_shares_cases_with(tmp_path):
    """A folder of runs is not N comparisons with the first: each run with the one before
    it (or with --baseline); a run sharing nothing with earlier ones is compared with none."""
    from gradbench import report
    from gradbench.report.page import baseline_comparisons

    _results(tmp_path / "0001_quick.json", passed=True)
    _results(tmp_path / "0002_quick.json", passed=False)
    _results(tmp_path / "0003_quick.json", passed=True)
    doc = results_doc(passed=True)
    doc["benchmarks"] = []
    _with_case(tmp_path / "0004_other.json", doc, "other", True)
    runs = [report.load_run(p) for p in report.model.expand_paths(tmp_path)]
    pairs = [(c.base_label, c.new_label, len(c.regressions)) for c in baseline_comparisons(runs)]
    assert pairs == [("0001_quick", "0002_quick", 1), ("0002_quick", "0003_quick", 0)]
    pairs = [(c.base_label, c.new_label) for c in baseline_comparisons(runs, runs[2])]
    assert pairs == [("0003_quick", "0001_quick"), ("0003_quick", "0002_quick")]
    assert main(["report", str(tmp_path), "--baseline", str(tmp_path / "0003_quick.json")]) == 0
    assert "0003_quick → 0002_quick" in (tmp_path / "index.html").read_text()


def test_report_and_compare_open_a_file_written_by_main_880c548(tmp_path, capsys):
    data = Path(__file__).parent / "data" / "main_880c548.json"
    assert main(["report", str(data), "-o", str(tmp_path / "r.html")]) == 0
    assert main(["compare", str(data), str(data), "-o", str(tmp_path / "c.html")]) == 0
    assert "0 regressions (33 cases in both runs" in capsys.readouterr().out


def test_report_writes_html(tmp_path):
    path = _results(tmp_path / "0001_quick.json", passed=True)
    assert main(["report", str(path)]) == 0
    assert (tmp_path / "0001_quick.html").exists()


def test_report_of_a_directory_writes_its_index(tmp_path):
    """`gradbench report reports` renders every run in it into reports/index.html."""
    _results(tmp_path / "0001_quick.json", passed=True)
    _results(tmp_path / "0002_quick.json", passed=False)
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "index.html").read_text()
    assert "0001_quick" in html
    assert "0002_quick" in html
    assert not tmp_path.with_suffix(".html").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["theory", "--activation", "tahn", "--sigma-w2", "1"], "did you mean 'tanh'"),
        (["theory", "--activation", "tanh", "--sigma-w2", "nan"], "--sigma-w2=nan is invalid"),
        (["report", "/no/such/file.json"], "does not exist"),
        (["validate", "no_such_module:thing"], "module 'no_such_module' not found"),
        (["run", "--suites", "/no/such/dir"], "does not exist"),
        (["run", "--depth", "1"], "argument --depth: '1' is invalid: the stability settings "
         "need an integer depth from 2 to 200"),
        (["validate", "x:y", "--depth", "deep"], "argument --depth: 'deep' is invalid"),
        (["theory", "--activation", "tanh", "--sigma-w2", "1", "--depth", "0"],
         "--depth=0 is invalid: must be an integer >= 1"),
        (["list", "--kind", "optimiser"], "invalid choice: 'optimiser'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["run", "--devices", "gpu"],
         "argument --devices: 'gpu' is invalid; valid choices: cpu, cuda, cuda:N"),
        (["validate", "he_normal", "--devices", "cpu,tpu"], "argument --devices: 'cpu,tpu'"),
        (["run", "--seeds", "1"], "argument --seeds: '1' is invalid: must be an integer >= 2"),
        (["run", "--base-seed", "-3"], "argument --base-seed: '-3' is invalid"),
        (["run", "--remedy", "no_such_module:x"], "module 'no_such_module' not found"),
        (["validate", "./no_such_file.py:x"], "'no_such_file.py' is not a Python file"),
        (["run", "--bogus-flag"], "gradbench: error: pytest rejected its arguments "
         "(unrecognized arguments: --bogus-flag); gradbench passes the options it does not "
         "define to pytest as typed"),
        (["validate", "he_normal", "--durations=x"],
         "pytest rejected its arguments (argument --durations: invalid int value: 'x')"),
    ],
)
def test_usage_errors_are_one_sentence(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("gradbench: error: ")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["run"], ["validate", "he_normal", "--kind", "initializer"]])
def test_a_bad_memory_budget_is_one_sentence_before_any_test(argv, monkeypatch, capsys):
    monkeypatch.setenv("GRADBENCH_MEMORY_BUDGET_MB", "abc")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradbench: error: GRADBENCH_MEMORY_BUDGET_MB='abc' is invalid: "
                          "must be a positive number")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["run", "-n", "2"], ["run", "--", "-n2"],
                                  ["validate", "he_normal", "--kind", "initializer", "-n", "2"]])
def test_workers_without_pytest_xdist_is_one_sentence_naming_the_extra(argv, monkeypatch,
                                                                        capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "xdist" else real(name, *a))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs pytest-xdist, which is not installed: pip install 'gradbench[xdist]'" in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_and_foreign_files(tmp_path, capsys):
    (tmp_path / "trunc.json").write_text('{"benchmarks": [')
    (tmp_path / "foreign.json").write_text('{"hello": "world"}')
    (tmp_path / "empty.json").write_text("")
    for name in ("trunc.json", "foreign.json", "empty.json"):
        assert main(["report", str(tmp_path / name)]) == 2
        assert name in capsys.readouterr().err


def test_unwritable_output_path(tmp_path, capsys):
    path = _results(tmp_path / "0001_quick.json", passed=True)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", str(path), "-o", str(blocker / "sub" / "r.html")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.integration
def test_python_dash_m_and_run(tmp_path):
    """``python -m gradbench run`` runs a suite folder and writes JSON + HTML under --out-dir."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_one.py").write_text(
        "import gradbench as gb\n"
        "def test_one(gradbench_record):\n"
        "    spec = gb.MLPSpec(depth=2, width=4)\n"
        "    gradbench_record(claim='demo', spec=spec, measurement=gb.measure(spec, seeds=2,"
        " batch=2))\n"
    )
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "gradbench", "run", "--suites", str(suites), "--out-dir", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "0001_quick.json").exists()
    assert (out / "0001_quick.html").exists()
    doc = json.loads((out / "0001_quick.json").read_text())
    assert doc["benchmarks"][0]["extra_info"]["gradbench"]["claim"] == "demo"


def test_pytest_selection_resolves_paths_inside_the_suites(tmp_path, monkeypatch):
    """Test paths and node ids are looked up in the suites; option values are left alone."""
    suites = tmp_path / "site" / "gradbench_suites"
    suites.mkdir(parents=True)
    (suites / "test_a.py").write_text("")
    monkeypatch.chdir(tmp_path)
    from gradbench.runner import pytest_selection

    args, has_paths = pytest_selection(["-k", "test_a.py", "-x", "--lf"], suites)
    assert args == ["-k", "test_a.py", "-x", "--lf"]
    assert not has_paths
    args, has_paths = pytest_selection(
        ["--", "test_a.py::t[x]", "suites/test_a.py", "-m", "not slow", "nope.py"], suites
    )
    assert args == [f"{suites}/test_a.py::t[x]", f"{suites}/test_a.py", "-m", "not slow",
                    "nope.py"]  # pytest says what is not found
    assert has_paths
    args, has_paths = pytest_selection(["--deselect", "test_a.py::t"], suites)
    assert args == ["--deselect", f"{suites}/test_a.py::t"]
    assert not has_paths


TINY_SUITE = """
import pytest

@pytest.mark.parametrize("depth", [2, 3])
def test_one(depth, gradbench_record):
    gradbench_record(claim="demo", spec={"depth": depth}, extra={"depth": depth})

def test_two(gradbench_record):
    gradbench_record(claim="other", spec={"depth": 9})
"""


def _gradbench(cwd, *argv):
    return subprocess.run(
        [sys.executable, "-m", "gradbench", *argv], capture_output=True, text=True, cwd=cwd,
        timeout=300,
    )


@pytest.mark.integration
def test_run_takes_pytest_selection(tmp_path):
    """`gradbench run -k X` and node ids inside the suites run only what they select."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_tiny.py").write_text(TINY_SUITE)
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out", "-k", "one")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "0001_quick.json").read_text())
    assert sorted(b["extra_info"]["gradbench"]["claim"] for b in doc["benchmarks"]) == [
        "demo", "demo",
    ]
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out",
                      "test_tiny.py::test_one[3]", "-x")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "0002_quick.json").read_text())
    assert [b["extra_info"]["gradbench"]["extra"] for b in doc["benchmarks"]] == [{"depth": 3}]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["-k", "no_such_test"], 2, "gradbench: no test was selected; no results file was written"),
        (["--", "-k", "no_such_test"], 2, "gradbench: no test was selected"),
        (["--no-such-option"], 2, "unrecognized arguments: --no-such-option"),
        (["-k"], 2, "argument -k: expected one argument"),
        (["no_such_file.py"], 2, "file or directory not found: no_such_file.py"),
    ],
    ids=["empty-selection", "dashdash", "bad-option", "missing-value", "missing-path"],
)
@pytest.mark.integration
def test_run_usage_errors_write_no_results(tmp_path, argv, code, message):
    """A run that measured nothing because of how it was called leaves no file."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_tiny.py").write_text(TINY_SUITE)
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out", *argv)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr
    out = tmp_path / "out"  # pytest's own cache (.pytest_cache, for --lf) may be there
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


def test_report_and_compare_read_a_journal(tmp_path, capsys):
    """After a SIGKILL the journal is what is left: both commands read it, marked incomplete."""
    from gradbench import storage

    base = _results(tmp_path / "0001_quick.json", passed=True)
    doc = results_doc(passed=True)
    header = storage.journal_header(
        records.RunInfo.from_dict(doc["gradbench"]),
        records.MachineInfo.from_dict(doc["machine_info"]),
        "2026-12-01T00:00:00+00:00",
    )
    journal = storage.reserve(tmp_path, "quick", header)
    journal.append([doc["benchmarks"][0]["extra_info"]["gradbench"]])
    journal.close()
    assert main(["report", str(journal.path), "-o", str(tmp_path / "j.html")]) == 0
    err = capsys.readouterr().err
    assert "is the journal of a run that did not finish" in err
    html = (tmp_path / "j.html").read_text()
    assert "incomplete: recovered 1 finished cases" in html
    # as NEW it cannot pass: what it did not measure could hide a regression; as BASE it can
    assert main(["compare", str(base), str(journal.path), "-o", str(tmp_path / "c.html")]) == 1
    captured = capsys.readouterr()
    assert ("gradbench: warning: 0002_quick.partial is not complete, so what it did not measure "
            "may hide regressions: incomplete: recovered 1 finished cases") in captured.err
    assert "0 regressions, and 0002_quick.partial is not complete (" in captured.out
    assert "may hide regressions: incomplete: recovered" in (tmp_path / "c.html").read_text()
    assert main(["compare", str(journal.path), str(base), "-o", str(tmp_path / "c.html")]) == 0
    assert ("gradbench: warning: 0002_quick.partial: incomplete: recovered 1 finished cases"
            in capsys.readouterr().err)
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "all.html")]) == 0
    assert "0002_quick.partial" in (tmp_path / "all.html").read_text()


@pytest.mark.integration
def test_run_last_failed(tmp_path):
    """`gradbench run --lf` reruns only what failed last time; pytest's cache lives in the
    results folder, and nothing (.pytest_cache, .benchmarks, .hypothesis) in ./"""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_tiny.py").write_text(
        TINY_SUITE + "\ndef test_broken(gradbench_record):\n"
        "    gradbench_record(claim='broken', spec={'depth': 1})\n    assert False\n"
    )
    first = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out")
    assert first.returncode == 1, first.stdout + first.stderr
    again = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out", "--lf")
    assert again.returncode == 1, again.stdout + again.stderr
    assert (tmp_path / "out" / ".pytest_cache").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "suites"]
    doc = json.loads((tmp_path / "out" / "0002_quick.json").read_text())
    assert [b["extra_info"]["gradbench"]["claim"] for b in doc["benchmarks"]] == ["broken"]


DEVICE_SUITE = """
def test_on_device(gradbench_device, gradbench_record):
    gradbench_record(claim="demo", spec={"device": gradbench_device})

def test_also(gradbench_device, gradbench_record):
    gradbench_record(claim="other", spec={"device": gradbench_device})
"""


SKIPPING_SUITE = """
import pytest

def test_on_device(gradbench_device, gradbench_record):
    pytest.skip("no data here")

def test_also(gradbench_record):
    pytest.skip("no data here")
"""


@pytest.mark.integration
def test_cuda_without_a_gpu_exits_2_with_one_sentence(tmp_path):
    """A GPU runner without its GPU is not a green run: one sentence, nothing run or written."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the cases would run")
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_devices.py").write_text(DEVICE_SUITE)
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out",
                      "--devices", "cuda")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "gradbench: error: --devices cuda asks for CUDA, which is not available on this "
        f"machine (torch {torch.__version__}); use --devices cpu or run on a machine with a GPU"]
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))
    ran = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out")
    assert ran.returncode == 0, ran.stdout + ran.stderr


@pytest.mark.integration
def test_a_run_that_measured_nothing_exits_2_with_one_sentence(tmp_path):
    """Every selected test skipped: pytest is content, gradbench is not (exit 2)."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_skips.py").write_text(SKIPPING_SUITE)
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "gradbench: error: nothing was measured: all 2 selected tests were skipped "
        "(no data here)"]
    assert not list((tmp_path / "out").glob("*.json"))


@pytest.mark.integration
@pytest.mark.parametrize(("argv", "message"), [
    (["-k", "one and"], "pytest rejected its arguments (Wrong expression passed to '-k': "),
    (["test_nowhere.py"], "pytest rejected its arguments (file or directory not found: "
                          "test_nowhere.py)"),
    (["--maxfail=abc"], "pytest rejected its arguments (argument --maxfail: invalid int "
                        "value: 'abc')"),
])
def test_pytest_usage_errors_read_as_gradbench_errors(tmp_path, argv, message):
    """What pytest rejects comes out in gradbench's one error style, never pytest's ERROR:."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_tiny.py").write_text(TINY_SUITE)
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--out-dir", "out", *argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"gradbench: error: {message}"), errors[0]
    assert "ERROR" not in proc.stdout + proc.stderr


def test_a_run_that_measured_nothing_says_why():
    """The sentence behind exit 2 when pytest itself was content (everything skipped)."""
    from gradbench.plugin.state import Outcome
    from gradbench.runner import _nothing_measured

    cuda = "CUDA is not available on this machine"
    assert _nothing_measured(0, Outcome(cases=3, selected=3)) is None
    assert _nothing_measured(1, Outcome(selected=3)) is None  # failed: exit 1 says enough
    assert _nothing_measured(0, Outcome(selected=2, skipped={cuda: 2})) == (
        f"nothing was measured: all 2 selected tests were skipped ({cuda})")
    assert _nothing_measured(0, Outcome(selected=222, skipped={cuda: 221})) == (
        f"nothing was measured: 221 of 222 selected tests were skipped ({cuda}) and the "
        "others recorded no case")
    assert _nothing_measured(0, Outcome(selected=1)) == (
        "nothing was measured: no selected test recorded a case")


def test_run_checks_an_added_remedy_s_declarations_before_any_test(tmp_path, capsys):
    """`run --remedy` refuses a bad declaration as validate does, in gradbench's own sentence
    (it surfaced inside pytest's start-up as 'pytest rejected its arguments')."""
    module = tmp_path / "declares_a_typo.py"
    module.write_text("def my_init(w, *, generator):\n    w.normal_(generator=generator)\n\n\n"
                      "my_init.gradbench_meta = {'variant': lambda fan_in, fan_out: 1.0}\n")
    assert main(["run", "--out-dir", str(tmp_path / "out"), "--remedy",
                 f"{module}:my_init"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "gradbench: error: initializer 'my_init' declares 'variant', which initializers cannot "
        "declare: did you mean 'variance'? valid choices: bias_variance, data_dependent, "
        "distribution, examples, kernel, stable_for, stacks, variance")
    assert not (tmp_path / "out").exists()


FAILING_SUITE = TINY_SUITE + """
def test_broken(gradbench_record):
    gradbench_record(claim="broken", spec={"depth": 1})
    assert False
"""


@pytest.mark.integration
@pytest.mark.parametrize(("files", "argv"), [
    ({"test_tiny.py": TINY_SUITE, "test_syntax.py": "def test_x(:\n"}, []),
    ({"test_tiny.py": FAILING_SUITE}, ["--sw"]),
], ids=["collection-error", "stepwise"])
def test_pytest_stopping_the_run_is_not_a_ctrl_c(tmp_path, files, argv):
    """pytest stops a session itself on errors during collection and at `--sw`'s failure, by
    the KeyboardInterrupt subclass Session.Interrupted: a failed run (exit 1), never
    'interrupted (KeyboardInterrupt)' with Ctrl-C's 130 (found running a broken suite)."""
    suites = tmp_path / "suites"
    suites.mkdir()
    for name, text in files.items():
        (suites / name).write_text(text)
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--output", "out.json", *argv)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "KeyboardInterrupt" not in proc.stdout + proc.stderr
    assert "gradbench: interrupted" not in proc.stdout
    written = tmp_path / "out.json"
    if argv:  # the tests before the failure kept, the run marked incomplete, not interrupted
        run = json.loads(written.read_text())["gradbench"]
        assert run["status"] == "incomplete", run
    else:
        assert not written.exists()
        assert ("gradbench: pytest stopped the run before any case finished (its errors are "
                "above); no results file was written") in proc.stdout


@pytest.mark.integration
def test_ctrl_c_before_the_session_starts_exits_130(tmp_path):
    """Ctrl-C while pytest configures (importing the plugins: the first seconds of a run)
    exited 1, a failed claim's code, with no word; now 130 and one sentence."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_tiny.py").write_text(TINY_SUITE)
    (suites / "conftest.py").write_text("def pytest_configure(config):\n"
                                        "    raise KeyboardInterrupt\n")
    proc = _gradbench(tmp_path, "run", "--suites", str(suites), "--output", "out.json")
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "gradbench: interrupted before any test ran; no results file was written")
    assert not (tmp_path / "out.json").exists()


def test_a_stopped_run_s_journal_at_the_output_is_gradbench_s_own_sentence(tmp_path, capsys):
    """`run --output k.json` after a run to k.json was killed: the journal is kept, in one
    sentence of gradbench's, not 'pytest rejected its arguments (...); gradbench passes the
    options it does not define to pytest as typed' (found rerunning after a SIGKILL)."""
    journal = tmp_path / "k.partial.jsonl"
    journal.write_text("kept\n")
    assert main(["run", "--suites", str(tmp_path), "--output", str(tmp_path / "k.json")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"gradbench: error: journal {str(journal)!r} already exists: another run is writing "
        f"{str(tmp_path / 'k.json')!r}, or one was stopped before it finished (`gradbench "
        "report` reads its cases); remove it or choose another path")
    assert journal.read_text() == "kept\n"


def test_run_output_must_end_in_json(tmp_path, capsys):
    """`run --output out.txt` wrote out.txt.json (and out.txt.html) while CI looked for
    out.txt; refused in one sentence before anything runs, as `merge --output` is."""
    assert main(["run", "--suites", str(tmp_path), "--output", str(tmp_path / "out.txt")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"gradbench: error: --output {str(tmp_path / 'out.txt')!r} is invalid: the results "
        "file must end in .json")
    assert list(tmp_path.iterdir()) == []


def test_every_argument_of_every_command_says_what_it_is():
    """`gradbench report --help` listed `files`, `-o` and `--title` with no word of what they
    take (nor did compare, theory, list and validate's --out-dir)."""
    import argparse

    from gradbench.cli import build_parser

    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices
    bare = [f"{name} {a.option_strings or a.dest}" for name, parser in commands.items()
            for a in parser._actions if not a.help]
    assert bare == []
