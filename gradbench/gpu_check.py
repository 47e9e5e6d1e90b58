"""The prepared GPU check: what to run in the few minutes a GPU is lent, in one command.

``gradbench gpu-check`` (or ``python -m gradbench.gpu_check``) runs, on one CUDA device
and with nothing to install (the suites and benchmarks ship with the package):

1. **probe = reference**: :func:`gradbench.measure` on the device, in float64, float32
   (TF32 off) and bfloat16, against :func:`gradbench.probe.measure_reference` (CPU,
   float64) on the same networks, within :data:`PROBE_RTOL`;
2. **CPU = CUDA verdicts**: a sample of the quick suite (:data:`SAMPLE`, a pytest ``-k``
   expression) run on the CPU and on the device, TF32 off; each case measured on the
   device is paired with its CPU case (same id, device ``cpu``; the parameters are drawn
   the same way on both) and must reach the same verdict, with the measured value within
   :data:`AGREEMENT_RTOL` (relative) + :data:`AGREEMENT_ATOL` (statistical claims; the
   exact identities report an error ratio, compared by verdict only);
3. **speed**: ``suites/bench_probe.py`` on the device (pytest-benchmark, the device
   synchronized inside every timed call): the batched probe, the naive and plain loops,
   the parameter draw and the user-block path (``suites/bench_blocks.py``), reported as
   medians and ratios, with no target.

It writes ``gpu-check.json`` and ``gpu-check.html`` (``--output-dir``, default
``gpu-check``). Exit status: 0 every check holds, 1 one does not, 2 no CUDA device (one
sentence; ``--skip-without-gpu`` makes that 0, for CPU CI) or a bad argument.
``--device cpu`` rehearses the whole check on the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import math
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gradbench.devices import DEVICE, is_cuda
from gradbench.errors import InvalidArgument

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # no CUDA device is a usage error (2)
SCHEMA_VERSION = 1

PROBE_RTOL = {"float64": 1e-9, "float32": 1e-4, "bfloat16": 1e-1}
"""Largest relative difference from the float64 CPU reference, per dtype, on
:func:`probe_specs` (4 networks, batch 16). float64: a reduction order apart (observed
7e-16 on CPU); float32 with TF32 off: unit roundoff 6e-8 over a few layers (observed
2.6e-7); bfloat16: unit roundoff 3.9e-3 over a few layers (observed 3.3e-2; a GPU may
also reduce bfloat16 matmuls in reduced precision)."""

AGREEMENT_RTOL, AGREEMENT_ATOL = 1e-3, 1e-5
"""CPU and device measured values of one case agree within ``ATOL + RTOL * max(|a|, |b|)``:
the suite's networks are float32, whose norms differ by a few unit roundoffs between two
summation orders; a statistic is a smooth function of them."""

SAMPLE = ("he_normal or relu or layernorm or adam or jacobian or clip or rnn_growth "
          "or bounded_in_depth or first_layers")
"""The quick suite's tests the CPU = CUDA check runs (pytest ``-k``): each kind of claim
measured on a device (mean field, stability, Jacobian, optimizers, clipping, residual)."""

BENCH_WORKLOAD = "acceptance"  # suites/bench_probe.py: MLP depth 50, width 128, batch 128, 64 nets


def probe_specs() -> list[Any]:
    """The networks of the probe = reference check: every family, with a normalization."""
    from gradbench.specs import Conv1DSpec, MLPSpec, ResidualSpec, RNNSpec, TransformerSpec

    return [
        MLPSpec(depth=6, width=16, activation="tanh", init="xavier_normal", norm="batchnorm"),
        MLPSpec(depth=6, width=16, activation="relu", init="he_normal", norm="layernorm"),
        ResidualSpec(depth=5, width=16, branch_scale="1/sqrt(L)"),
        RNNSpec(cell="lstm", hidden=12, steps=5, init="torch_default"),
        RNNSpec(cell="rnn_tanh", hidden=12, steps=5),
        Conv1DSpec(depth=4, channels=8, length=16),
        TransformerSpec(depth=2, width=16, heads=2, seq=6, causal=True, placement="pre"),
    ]


# --------------------------------------------------------------------------------------
# 1. probe = reference
# --------------------------------------------------------------------------------------


def relative_error(value: Any, reference: Any) -> float:
    """``max |value - reference| / |reference|`` over the reference's finite entries."""
    import numpy as np

    value, reference = np.asarray(value, dtype=float), np.asarray(reference, dtype=float)
    keep = np.isfinite(reference)
    if not keep.any():
        return 0.0
    diff = np.abs(value[keep] - reference[keep])
    scale = np.maximum(np.abs(reference[keep]), np.finfo(float).tiny)
    with np.errstate(invalid="ignore"):
        worst = np.max(diff / scale)
    return float(worst) if np.isfinite(worst) else math.inf


def probe_vs_reference(device: str, specs: Sequence[Any] | None = None, seeds: int = 4,
                       batch: int = 16) -> dict[str, Any]:
    """The probe on ``device`` in each dtype of :data:`PROBE_RTOL` against the reference."""
    from gradbench.devices import set_numerics
    from gradbench.probe import measure, measure_reference
    from gradbench.specs import spec_label

    rows = []
    restore = set_numerics(tf32=False)
    try:
        for spec in probe_specs() if specs is None else specs:
            ref = measure_reference(spec, seeds=seeds, batch=batch)
            for dtype, rtol in PROBE_RTOL.items():
                m = measure(spec, seeds=seeds, batch=batch, device=device, dtype=dtype)
                error = max(relative_error(getattr(m, name), getattr(ref, name))
                            for name in ("act_grad_norms", "weight_grad_norms",
                                         "preact_second_moment"))
                rows.append({"spec": spec_label(spec), "dtype": dtype, "device": m.device,
                             "max_rel_error": error, "rtol": rtol, "passed": error <= rtol})
    finally:
        restore()
    return {"passed": bool(rows) and all(r["passed"] for r in rows), "tf32": False,
            "seeds": seeds, "batch": batch, "rows": rows}


# --------------------------------------------------------------------------------------
# 2. CPU = device verdicts
# --------------------------------------------------------------------------------------


def cpu_case_id(case_id: str, device: str) -> str:
    """The id of the CPU case a case on ``device`` pairs with (the device parameter -> cpu).

    Examples:
        >>> cpu_case_id("suites/t.py::test[adam-optimizer_descent-cuda]#2", "cuda")
        'suites/t.py::test[adam-optimizer_descent-cpu]#2'
    """
    head, bracket, rest = case_id.partition("[")
    if not bracket:
        return case_id
    params, close, tail = rest.rpartition("]")
    swapped = "-".join("cpu" if token == device else token for token in params.split("-"))
    return f"{head}[{swapped}{close}{tail}"


def _cases(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["extra_info"]["gradbench"]["case"]: b["extra_info"]["gradbench"]
            for b in doc.get("benchmarks", [])}


def _agree(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= AGREEMENT_ATOL + AGREEMENT_RTOL * max(abs(a), abs(b))


def compare_runs(reference: Mapping[str, Any], target: Mapping[str, Any],
                 device: str) -> dict[str, Any]:
    """Pair each case ``target`` measured on ``device`` with its CPU case in ``reference``.

    A pair agrees when both verdicts pass or both fail and, for a statistical claim, the
    measured values agree (:func:`_agree`). Cases recorded on another device (claims that
    do not depend on it, measured on the CPU) are not pairs.
    """
    from gradbench import claims
    from gradbench.records import decode_float

    cpu = _cases(reference)
    pairs, unpaired = [], []
    for case_id, case in _cases(target).items():
        recorded = (case.get("env") or {}).get("device") or ""
        if recorded.split(":")[0] != device.split(":")[0] or not case.get("verdict"):
            continue
        twin = cpu.get(cpu_case_id(case_id, device))
        if twin is None or not twin.get("verdict"):
            unpaired.append(case_id)
            continue
        mine, theirs = case["verdict"], twin["verdict"]
        name = str(mine["claim"])
        exact = name in claims.CLAIMS and claims.get_claim(name).exact
        measured = (decode_float(theirs["measured"]), decode_float(mine["measured"]))
        same_verdict = bool(mine["passed"]) == bool(theirs["passed"])
        close = exact or _agree(*measured)
        pairs.append({"case": case_id, "claim": name, "device": recorded,
                      "passed_cpu": bool(theirs["passed"]), "passed_device": bool(mine["passed"]),
                      "measured_cpu": measured[0], "measured_device": measured[1],
                      "compared": "verdict" if exact else "verdict and measured value",
                      "agree": same_verdict and close})
    return {"passed": bool(pairs) and not unpaired and all(p["agree"] for p in pairs),
            "rtol": AGREEMENT_RTOL, "atol": AGREEMENT_ATOL, "pairs": pairs,
            "unpaired": unpaired}


def verdict_agreement(device: str, sample: str = SAMPLE,
                      workdir: str | Path | None = None) -> dict[str, Any]:
    """Run the sample on the CPU and on ``device`` (TF32 off) and compare the verdicts."""
    from gradbench.records import read_json
    from gradbench.runner import run_suites

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        docs, exits = [], []
        for name, devices in (("cpu", "cpu"), ("device", device)):
            out = Path(tmp) / f"{name}.json"
            # on a GPU, only the cases measured on it (the others ran on the CPU already)
            only = ["-m", "gradbench_cuda"] if is_cuda(devices) else []
            run = run_suites(name=name, extra=["-k", sample, *only, "-p", "no:cacheprovider"],
                             devices=devices, output=out, out_dir=tmp,
                             plugin_args=["--gradbench-tf32=off"])
            exits.append(run.exit_code)
            if not out.exists():
                return {"passed": False, "sample": sample, "exit_codes": exits,
                        "error": f"the {name} run wrote no results (exit {run.exit_code})"}
            docs.append(read_json(out))
    return {"sample": sample, "exit_codes": exits, "tf32": False,
            **compare_runs(docs[0], docs[1], device)}


# --------------------------------------------------------------------------------------
# 3. speed
# --------------------------------------------------------------------------------------

BENCHMARKS = {"batched": ("bench_probe.py", "test_bench_batched_probe[{kind}-{workload}]"),
              "naive": ("bench_probe.py", "test_bench_naive_loop[{kind}-{workload}]"),
              "plain": ("bench_probe.py", "test_bench_plain_loop[{kind}-{workload}]"),
              "draw": ("bench_probe.py", "test_bench_parameter_draw[{kind}-{workload}]"),
              "block": ("bench_blocks.py",
                        "test_bench_block_path[{kind}-{workload}-with_output_change]")}
"""key -> (file in the suites folder, test id): the probe, the naive and plain loops, the
parameter draw, and the user-block path (``gradbench.blocks`` on the same workload as a
block, its plain loop being ``plain``'s)."""


def speed(device: str, workload: str = BENCH_WORKLOAD,
          workdir: str | Path | None = None) -> dict[str, Any]:
    """``suites/bench_probe.py`` and the user-block path of ``suites/bench_blocks.py`` on
    ``device``'s kind, in one pytest run: medians (s) and their ratios."""
    import pytest

    from gradbench.records import read_json
    from gradbench.runner import suites_dir

    folder = suites_dir(None)
    kind = device.split(":")[0]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        out = Path(tmp) / "bench.json"
        names = {key: test.format(kind=kind, workload=workload)
                 for key, (_, test) in BENCHMARKS.items()}
        tests = [f"{folder / file}::{names[key]}" for key, (file, _) in BENCHMARKS.items()]
        code = int(pytest.main([
            *tests, f"--rootdir={folder}", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
            "--benchmark-only", f"--benchmark-json={out}",
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
        ]))
        doc = read_json(out) if out.exists() else {"benchmarks": []}
    stats = {key: bench["stats"] for key, name in names.items() for bench in doc["benchmarks"]
             if bench["name"] == name}
    median = {key: float(s["median"]) for key, s in stats.items()}
    result: dict[str, Any] = {"passed": code == 0 and set(median) == set(BENCHMARKS),
                              "pytest_exit": code, "workload": workload, "median_s": median,
                              "rounds": {key: int(s["rounds"]) for key, s in stats.items()}}
    if result["passed"]:
        result["ratios"] = {"naive_over_batched": median["naive"] / median["batched"],
                            "plain_over_batched": median["plain"] / median["batched"],
                            "draw_over_batched": median["draw"] / median["batched"],
                            "block_over_plain": median["block"] / median["plain"]}
    return result


# --------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------

SECTIONS: dict[str, str] = {
    "probe_vs_reference": "probe = reference on the device (float64, float32, bfloat16)",
    "verdict_agreement": "CPU = device verdicts on a sample of the quick suite",
    "speed": "speed on the device (suites/bench_probe.py; reported, no target)",
}


def cuda_problem(device: str) -> str | None:
    """Why ``device`` cannot run here, in one sentence, or ``None``."""
    if not is_cuda(device):
        return None
    import torch

    if not torch.cuda.is_available():
        return ("no CUDA device is available here (torch.cuda.is_available() is False); "
                "run gradbench gpu-check on a machine with a GPU, or pass --skip-without-gpu")
    count = torch.cuda.device_count()
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= count:
        return (f"device {device!r} is not on this machine; valid choices: "
                + ", ".join(["cuda", *(f"cuda:{i}" for i in range(count))]))
    return None


def sample_problem(sample: str) -> str | None:
    """Why ``--sample`` cannot be run, in one sentence (a bad ``-k`` expression, or none of the
    quick suite's CPU tests selected), or ``None``: told before the device's minutes are spent."""
    import pytest

    from gradbench.runner import _usage_errors, suites_dir

    folder = suites_dir(None)
    selected: list[int] = []

    class Count:
        def pytest_collection_finish(self, session: Any) -> None:
            selected.append(len(session.items))

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the listing of what it collected
            code = pytest.main([str(folder), f"--rootdir={folder}", "--collect-only", "-q",
                                "-k", sample, "-p", "no:cacheprovider",
                                "--gradbench-devices=cpu",
                                "-W", "ignore::pytest.PytestAssertRewriteWarning"],
                               plugins=[Count(), _usage_errors(typed=False)])
    except InvalidArgument as exc:
        return (f"--sample {sample!r} is not a pytest -k expression ({exc}); give an expression of "
                f"the quick suite's test names (default: {SAMPLE!r})")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) or not selected:
        return f"--sample {sample!r} is invalid: collecting the quick suite with it failed"
    if not selected[0]:
        return (f"--sample {sample!r} selects none of the quick suite's tests; give a pytest -k "
                f"expression of its test names (default: {SAMPLE!r})")
    return None


def run_checks(device: str, output_dir: str | Path, sample: str = SAMPLE,
               workload: str = BENCH_WORKLOAD, specs: Sequence[Any] | None = None,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the three checks on ``device`` and write ``gpu-check.json`` and ``.html``.

    A check that raises is recorded as failed with its error; the others still run.
    """
    from gradbench.machine import environment

    if is_cuda(device):
        import torch

        torch.cuda.set_device(torch.device(device if ":" in device else "cuda:0"))
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    checks: dict[str, Callable[[], dict[str, Any]]] = {
        "probe_vs_reference": lambda: probe_vs_reference(device, specs),
        "verdict_agreement": lambda: verdict_agreement(device, sample, folder),
        "speed": lambda: speed(device, workload, folder),
    }
    started = time.perf_counter()
    sections: dict[str, Any] = {}
    for name, check in checks.items():
        log(f"gradbench gpu-check: {SECTIONS[name]} ...")
        t0 = time.perf_counter()
        try:
            sections[name] = check()
        except Exception as exc:  # a broken check must not cost the other checks the GPU
            sections[name] = {"passed": False, "error": f"{type(exc).__name__}: {exc}"}
        sections[name]["elapsed_s"] = time.perf_counter() - t0
        log(f"gradbench gpu-check: {name}: {'ok' if sections[name]['passed'] else 'FAILED'} "
            f"({sections[name]['elapsed_s']:.1f} s)")
    report = {"gradbench_gpu_check": SCHEMA_VERSION, "device": device,
              "environment": environment(device), "sections": sections,
              "passed": all(s["passed"] for s in sections.values()),
              "elapsed_s": time.perf_counter() - started}
    write(report, folder)
    return report


def write(report: Mapping[str, Any], folder: Path) -> tuple[Path, Path]:
    """``gpu-check.json`` (strict JSON) and ``gpu-check.html`` in ``folder``."""
    from gradbench.records import write_atomic, write_json

    json_path = write_json(folder / "gpu-check.json", report)
    html_path = write_atomic(folder / "gpu-check.html", render_html(report))
    return json_path, html_path


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _failed(row: Mapping[str, Any]) -> bool:
    """A row saying a check or a pair failed (shown red)."""
    return (row.get("passed") is False or row.get("agree") is False
            or (row.get("key") == "passed" and row.get("value") is False))


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(("<tr class='failed'>" if _failed(r) else "<tr>")
                   + "".join(f"<td>{_cell(r.get(k))}</td>" for k in keys) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained page: the environment, then each check's table."""
    env = report["environment"]
    parts = [f"<h1>gradbench gpu-check on {html.escape(str(report['device']))}: "
             f"{'passed' if report['passed'] else 'FAILED'}</h1>",
             f"<p>{report['elapsed_s']:.1f} s in all.</p>",
             _table([{"key": k, "value": v} for k, v in env.items()])]
    for name, section in report["sections"].items():
        verdict = "ok" if section["passed"] else "FAILED"
        parts.append(f"<h2>{html.escape(SECTIONS[name])}: {verdict} "
                     f"({section['elapsed_s']:.1f} s)</h2>")
        if "error" in section:
            parts.append(f"<p><b>{html.escape(str(section['error']))}</b></p>")
        scalars = {k: v for k, v in section.items() if not isinstance(v, (list, dict))}
        parts.append(_table([{"key": k, "value": v} for k, v in scalars.items()]))
        for key, value in section.items():
            if isinstance(value, dict) and value:
                parts.append(f"<h3>{html.escape(key)}</h3>")
                parts.append(_table([{"name": k, "value": v} for k, v in value.items()]))
            elif isinstance(value, list) and value:
                parts.append(f"<h3>{html.escape(key)}</h3>")
                parts.append(_table([v if isinstance(v, dict) else {key: v} for v in value]))
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
             "margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
             "tr.failed{background:#fdd}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>gradbench gpu-check"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (shared by ``gradbench gpu-check`` and ``python -m``)."""
    parser.add_argument("--device", default="cuda",
                        help="cuda (default), cuda:N, or cpu to rehearse the check")
    parser.add_argument("--output-dir", default="gpu-check",
                        help="folder for gpu-check.json and gpu-check.html")
    parser.add_argument("--skip-without-gpu", action="store_true",
                        help="without a CUDA device, say so and exit 0 (for CPU CI)")
    parser.add_argument("--sample", default=SAMPLE,
                        help="pytest -k expression of the quick suite's tests to compare")


def main_with(args: argparse.Namespace) -> int:
    """Run the check for parsed arguments; the exit status (see the module docstring)."""
    if not DEVICE.fullmatch(args.device):
        raise InvalidArgument(f"--device={args.device!r} is invalid; valid choices: "
                              "cuda, cuda:N, cpu")
    problem = cuda_problem(args.device)
    if problem is not None:
        if args.skip_without_gpu and "is_available" in problem:
            print("gradbench gpu-check: no CUDA device is available here; skipped "
                  "(--skip-without-gpu)")
            return EXIT_OK
        print(f"gradbench gpu-check: {problem}", file=sys.stderr)
        return EXIT_USAGE
    problem = sample_problem(args.sample)
    if problem is not None:
        raise InvalidArgument(problem)
    report = run_checks(args.device, args.output_dir, sample=args.sample)
    folder = Path(args.output_dir)
    print(f"gradbench gpu-check: {'passed' if report['passed'] else 'FAILED'} in "
          f"{report['elapsed_s']:.0f} s; {folder / 'gpu-check.json'}, {folder / 'gpu-check.html'}")
    return EXIT_OK if report["passed"] else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gradbench.gpu_check``."""
    parser = argparse.ArgumentParser(prog="python -m gradbench.gpu_check",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return main_with(parser.parse_args(argv))
    except InvalidArgument as exc:
        print(f"gradbench gpu-check: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
