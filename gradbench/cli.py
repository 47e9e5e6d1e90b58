"""The ``gradbench`` command: run, merge, report, compare, theory, list, validate, gpu-check.

Exit codes: 0 success; 1 a claim failed or regressed (``compare``: a case that fails
in the new run and did not fail in the base, new cases included); 2 usage error (one
sentence on stderr, ``gradbench: error: ...``, no traceback), or nothing was measured
(no test selected, every selected test skipped, e.g. ``--devices cuda`` without a GPU),
or the results could not be written, or ``compare`` was given two runs that share no
case; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM (finished results written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.runner import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as InvalidArgument (one sentence, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidArgument(f"{self.prog}: {message}")


def cmd_run(args: argparse.Namespace, extra: Sequence[str] = ()) -> int:
    """The main job: the installed suites (quick profile, CPU) -> numbered JSON + HTML.

    Arguments gradbench does not know go to pytest as typed (``-k``, ``-m``, ``-x``,
    ``--lf``, test paths or node ids inside the suites); ``--remedy pkg.mod:obj`` adds a
    remedy not packaged yet to the run.
    """
    from gradbench.candidate import check_target
    from gradbench.runner import run_suites

    if args.output is not None and not args.output.endswith(".json"):  # not PATH.json
        raise InvalidArgument(f"--output {args.output!r} is invalid: the results file must "
                              "end in .json")
    for target in args.remedy:
        check_target(target)  # one sentence for a bad remedy, before any test runs
    shard = [] if args.shard is None else [f"--gradbench-shard={args.shard}"]
    name = args.profile if args.shard is None else (
        f"{args.profile}-shard{args.shard.index}of{args.shard.count}")
    run = run_suites(
        name=name, extra=extra, profile=args.profile, devices=args.devices,
        base_seed=args.base_seed, seeds=args.seeds, suites=args.suites, out_dir=args.out_dir,
        output=args.output, workers=args.workers,
        plugin_args=[*(f"--gradbench-remedy={r}" for r in args.remedy), *_numerics(args),
                     *shard],
        depth=args.depth,
    )
    if run.json_path is not None:
        print(f"gradbench: results {run.json_path}")
        if run.html_path is not None:
            print(f"gradbench: report  {run.html_path}")
    if run.problem:
        print(f"gradbench: error: {run.problem}", file=sys.stderr)
    if (run.exit_code in (EXIT_INTERRUPTED, EXIT_TERMINATED) and run.json_path is None
            and not getattr(run.outcome, "stopped_by", None)):  # before the session started
        print("gradbench: interrupted before any test ran; no results file was written",
              file=sys.stderr)
    return run.exit_code


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge the results of ``gradbench run --shard K/N`` (every K) into one run."""
    from gradbench import report, shards, storage, summary
    from gradbench.profiles import PROFILES

    output = Path(args.output)
    if output.suffix != ".json":
        raise InvalidArgument(f"--output {args.output!r} is invalid: the merged results file "
                              "must end in .json")
    if output.resolve() in {Path(f).resolve() for f in args.files}:
        raise InvalidArgument(f"--output {args.output!r} is one of the files to merge; "
                              "write the merged run to a new path")
    path = storage.write(output, shards.merge(args.files))
    merged = storage.load(path)
    cases = merged.records
    for text in summary.table(summary.tally(cases)):
        print(text)
    print(f"gradbench: {summary.outcome_line(cases, not merged.notes)} "
          f"({len(args.files)} shards merged)")
    profile = merged.run.profile if merged.run is not None else ""
    if profile in PROFILES:  # the family-wise bound, counted over the merged cases
        line = summary.statistical_line(cases, PROFILES[profile])
        if line:
            print(f"gradbench: {line}")
    for note in merged.notes:  # a shard interrupted, recovered, or with unverdicted tests
        print(f"gradbench: the merged run is not complete, so it is not a pass: {note}",
              file=sys.stderr)
    print(f"gradbench: results {path}")
    try:
        html = report.write_report([path], path.with_suffix(".html"))
    except Exception as exc:  # the merged JSON is written; a rendering failure loses nothing
        print(f"gradbench: warning: the HTML report could not be rendered ({exc})",
              file=sys.stderr)
    else:
        print(f"gradbench: report  {html}")
    return EXIT_FAILED if merged.notes or any(c.failed for c in cases) else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Render one or more result files into one HTML page (comparison when 2+)."""
    from gradbench import report, storage

    first = Path(args.files[0])
    default = first / "index.html" if first.is_dir() else first.with_suffix(".html")
    out = Path(args.output) if args.output else default
    path = report.write_report(args.files, out, title=args.title, baseline=args.baseline)
    for item in args.files:
        folder = Path(item)
        for run in storage.results_files(folder) if folder.is_dir() else [folder]:
            if storage.is_journal(run):
                print(
                    f"gradbench: warning: {run} is the journal of a run that did not finish; "
                    "its finished cases are shown, marked incomplete",
                    file=sys.stderr,
                )
    print(f"gradbench: report {path}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two runs; exit 1 when a case fails in the new run that did not in the base."""
    from gradbench import report

    base, new = report.load_run(args.base), report.load_run(args.new)
    comparison = report.compare_runs(base, new)
    if not comparison.shared:
        from gradbench.report.compare import sampling_differences

        differ = [f"{what} {b} and {n}" for what, b, n in sampling_differences(base, new)]
        raise InvalidArgument(
            f"{args.base!r} ({len(base.cases)} cases) and {args.new!r} ({len(new.cases)} "
            "cases) share no case (claim on the same configuration): there is nothing to "
            "compare; compare two runs of the same suites, selection, profile and base seed"
            + (f" (these have {', '.join(differ)})" if differ else ""))
    out = Path(args.output) if args.output else Path(f"compare_{base.label}_{new.label}.html")
    from gradbench.records import write_atomic

    path = write_atomic(out, report.render_comparison(base, new, comparison, title=args.title))
    for note in base.notes:  # an interrupted run, or a journal recovered after a kill
        print(f"gradbench: warning: {base.label}: {note}", file=sys.stderr)
    for warning in comparison.warnings:
        print(f"gradbench: warning: {warning}", file=sys.stderr)
    regressions = comparison.regressions
    for item in regressions:
        print(f"REGRESSION {item}")
    removed = len(comparison.only_base)
    cases = f"{removed} case{'s' * (removed != 1)} of {base.label}"
    are, they = ("are", "they were") if removed != 1 else ("is", "it was")
    if removed:  # not measured in NEW, so not judged: a narrower selection must not read as a pass
        gate = ("exit 1 (--fail-on-removed)" if args.fail_on_removed
                else "--fail-on-removed makes that exit 1")
        print(f"gradbench: warning: {cases} {are} not in {new.label}, so {they} not judged (a "
              f"narrower selection, or tests or remedies removed); {gate}", file=sys.stderr)
    added = len(comparison.only_new) + sum(d.base is None for d in comparison.deltas)
    incomplete = f", and {new.label} is not complete" if new.notes else ""
    if removed and args.fail_on_removed:
        incomplete += f", and {cases} {are} missing (--fail-on-removed)"
    print(f"gradbench: {len(regressions)} regressions{incomplete} ({comparison.shared} cases in "
          f"both runs, {added} only in {new.label}, {removed} only in "
          f"{base.label}); report {path}")
    # what NEW did not measure cannot show a regression, so an incomplete NEW is not a pass
    missing = bool(removed) and args.fail_on_removed
    return EXIT_FAILED if regressions or new.notes or missing else EXIT_OK


def cmd_theory(args: argparse.Namespace) -> int:
    """Print mean-field predictions for an activation and (sigma_w2, sigma_b2)."""
    from gradbench import theory
    from gradbench.registry import lookup

    lookup("activation", args.activation)  # one-sentence error for unknown names
    for name in ("sigma_w2", "sigma_b2"):
        value = getattr(args, name)
        if not value >= 0 or value == float("inf"):
            raise InvalidArgument(
                f"--{name.replace('_', '-')}={value!r} is invalid: must be a finite number >= 0"
            )
    act, sw2, sb2 = args.activation, args.sigma_w2, args.sigma_b2
    xi_q, xi_c = theory.depth_scales(act, sw2, sb2)
    rows: dict[str, Any] = {
        "activation": act,
        "sigma_w2": sw2,
        "sigma_b2": sb2,
        "q_star": theory.q_star(act, sw2, sb2),
        "chi1": theory.chi1(act, sw2, sb2),
        "phase": theory.phase(act, sw2, sb2),
        "xi_q": xi_q,
        "xi_c": xi_c,
        "critical_sigma_w2_at_this_sigma_b2": theory.critical_sigma_w2(act, sb2),
    }
    if args.depth is not None:
        rows.update(_growth_rows(rows["chi1"], args.depth))
    if args.json:
        from gradbench.records import dumps

        print(dumps(rows))
    else:
        width = max(len(k) for k in rows)
        for key, value in rows.items():
            text = f"{value:.10g}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {text}")
    return EXIT_OK


def _growth_rows(chi1: float, depth: int) -> dict[str, Any]:
    """The mean-field gradient growth at ``depth`` in the conventions of the claims: sqrt(chi_1)
    per layer, its power L - 1 over the L - 1 layer-to-layer steps of depth L, in words."""
    import math

    from gradbench.stats import growth_in_words

    if isinstance(depth, bool) or depth < 1:
        raise InvalidArgument(f"--depth={depth!r} is invalid: must be an integer >= 1")
    per_layer = math.sqrt(chi1)
    log_over = (depth - 1) * math.log(per_layer) if per_layer > 0 else -math.inf
    over = math.inf if log_over > 709.0 else math.exp(log_over)  # not an OverflowError
    return {"depth": depth, "gradient_factor_per_layer": per_layer,
            "gradient_factor_over_depth": over,
            "gradients": growth_in_words(per_layer, depth)}


def cmd_list(args: argparse.Namespace) -> int:
    """List registered remedies (built-in and plugins) with their sources."""

    kinds = [args.kind] if args.kind else list(registry.KINDS)
    for kind in kinds:
        names = registry.names(kind)
        print(f"{kind} ({len(names)}):")
        for name in names:
            remedy = registry.lookup(kind, name)
            params = ", ".join(f"{k}={v}" for k, v in _defaults(remedy.obj).items())
            label = f"{name}({params})" if params else name
            print(f"  {label:<40} {remedy.paper}")
    return EXIT_OK


def _defaults(obj: Callable[..., Any]) -> dict[str, Any]:
    import inspect

    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return {}
    return {n: p.default for n, p in sig.parameters.items() if p.default is not p.empty}


def cmd_validate(args: argparse.Namespace, extra: Sequence[str] = ()) -> int:
    """Validate a remedy: the suites with the candidate substituted (pytest args as typed)."""
    from gradbench import validate

    result = validate.validate(
        args.target, kind=args.kind, profile=args.profile, out_dir=args.out_dir,
        base_seed=args.base_seed, suites=args.suites, pytest_args=extra,
        devices=args.devices, plugin_args=_numerics(args), depth=args.depth,
        baselines=args.baseline,
    )
    print(result.closing())
    return int(result.exit_code)


def cmd_gpu_check(args: argparse.Namespace) -> int:
    """The prepared GPU check (:mod:`gradbench.gpu_check`)."""
    from gradbench import gpu_check

    return gpu_check.main_with(args)


def _numerics(args: argparse.Namespace) -> list[str]:
    """``--tf32`` / ``--deterministic`` as the plugin's options (nothing when not given)."""
    return [f"--gradbench-{name}={getattr(args, name)}" for name in ("tf32", "deterministic")
            if getattr(args, name) is not None]


def _devices(text: str) -> str:
    """``--devices`` checked as argparse checks a type, so the error names ``--devices``."""
    from gradbench.devices import CHOICES, parse_devices

    try:
        parse_devices(text)
    except InvalidArgument:
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid; valid choices: {CHOICES}, comma-separated") from None
    return text


def _shard(text: str) -> Any:
    """``--shard K/N`` checked as argparse checks a type, so the error names ``--shard``."""
    from gradbench.shards import SHARD_RULE, parse_shard

    try:
        return parse_shard(text)
    except InvalidArgument:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: {SHARD_RULE}") from None


def _at_least(low: int) -> Callable[[str], int]:
    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is invalid: must be an integer >= {low}")
        return value

    return integer


def _add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--devices", default="cpu", type=_devices,
                        help="comma-separated, e.g. cpu,cuda (with -n N on G GPUs, worker K "
                        "runs on cuda:K mod G)")
    parser.add_argument("--tf32", choices=["on", "off"], default=None,
                        help="allow TF32 in CUDA matmuls and cuDNN (default: torch's setting)")
    parser.add_argument("--deterministic", choices=["on", "off"], default=None,
                        help="torch.use_deterministic_algorithms (default: torch's setting)")


def _stability_depth(text: str) -> int:
    """``--depth``: an integer from 2 to the deepest stability setting (argparse type)."""
    from gradbench.claims.stability import stability_depth

    try:
        return stability_depth(int(text))
    except ValueError:  # InvalidArgument is one
        from gradbench.claims.stability import MAX_STABLE_DEPTH

        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: the stability settings need an integer depth from 2 to "
            f"{MAX_STABLE_DEPTH}") from None


def _depth_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--depth", type=_stability_depth, default=None, metavar="L",
        help="judge stability (stable_as_declared, stable_somewhere) at depth L, 2 to 200 "
        "(default 30; width max(128, 4 L)); the cases Hypothesis draws are unchanged")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from gradbench import __version__
    from gradbench.profiles import PROFILES

    parser = _Parser(prog="gradbench", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"gradbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="run the suites and write JSON + HTML under reports/",
        description="Run the installed gradbench suites. Arguments not listed here go to "
        "pytest as typed: -k EXPR, -m MARKEXPR, -x, --lf, test paths or node ids inside "
        "the suites (e.g. test_initializers.py::test_initializer_variance).",
        allow_abbrev=False,
    )
    run.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                    help="quick (CI, the default) or full (nightly: more examples, "
                    "more networks)")
    _add_device_options(run)
    run.add_argument("--seeds", type=_at_least(2), default=None,
                     help="networks per configuration")
    run.add_argument("--base-seed", type=_at_least(0), default=0,
                     help="offset of every seed (default 0): another sample of networks")
    run.add_argument("--suites", default=None,
                     help="suite directory (default: the installed gradbench suites)")
    run.add_argument("--out-dir", default="reports", help="folder for NNNN_<profile>.json/.html")
    run.add_argument("--output", default=None, help="explicit JSON path instead of numbering")
    run.add_argument("-n", "--workers", default=None,
                     help="pytest-xdist workers, e.g. auto (pip install 'gradbench[xdist]')")
    run.add_argument("--remedy", action="append", default=[], metavar="PKG.MOD:OBJ",
                     help="also cover this remedy (not packaged yet); repeatable")
    _depth_option(run)
    run.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                     help="run shard K of the selected tests split N ways (deterministic; "
                     "one CI job or machine each), then `gradbench merge` their results")
    run.set_defaults(func=cmd_run, takes_pytest_args=True)

    mer = sub.add_parser(
        "merge", help="merge the results of `gradbench run --shard K/N` into one run",
        description="Merge the results files of every shard of one sharded run into one "
        "results file (and its HTML report), as the unsharded run would have written.")
    mer.add_argument("files", nargs="+", help="the results of shards 1/N ... N/N")
    mer.add_argument("-o", "--output", required=True, help="the merged results file (.json)")
    mer.set_defaults(func=cmd_merge)

    rep = sub.add_parser("report", help="render result JSON files into one HTML page",
                         description="Render results files into one HTML page; with two or "
                         "more runs, each compared with the one before it that shares cases.")
    rep.add_argument("files", nargs="+", help="results files (.json), journals of runs that "
                     "did not finish (.partial.jsonl), or folders of them")
    rep.add_argument("-o", "--output", default=None,
                     help="the HTML page (default: FILE.html beside the first file, or "
                     "FOLDER/index.html)")
    rep.add_argument("--title", default=None, help="the page's title (default: the run labels)")
    rep.add_argument("--baseline", default=None, metavar="FILE",
                     help="compare every other run with this one (default: each run with "
                     "the run before it that shares cases with it)")
    rep.set_defaults(func=cmd_report)

    cmp_ = sub.add_parser(
        "compare", help="compare two runs; exit 1 if a case fails that did not fail before",
        description="Compare a new run with a base run, case by case. A case that fails in "
        "NEW and passed in BASE, or is new in NEW and fails, is a regression (exit 1). NEW "
        "not complete (interrupted, killed, or tests failed outside their claims) also exits "
        "1, and so does a case of BASE missing from NEW with --fail-on-removed; runs that "
        "share no case exit 2.")
    cmp_.add_argument("base", help="the reference run's results file (.json or .partial.jsonl)")
    cmp_.add_argument("new", help="the run to judge")
    cmp_.add_argument("-o", "--output", default=None,
                      help="the HTML page (default: ./compare_<base>_<new>.html)")
    cmp_.add_argument("--title", default=None, help="the page's title")
    cmp_.add_argument("--fail-on-removed", action="store_true",
                      help="exit 1 when a case of BASE is not in NEW (NEW measured less: a "
                      "narrower -k, a test or remedy removed); default: a warning")
    cmp_.set_defaults(func=cmd_compare)

    th = sub.add_parser("theory", help="mean-field predictions for an activation")
    th.add_argument("--activation", required=True,
                    help="a registered activation (gradbench list --kind activation)")
    th.add_argument("--sigma-w2", type=float, required=True,
                    help="weight variance times fan-in, e.g. 2 for He with ReLU")
    th.add_argument("--sigma-b2", type=float, default=0.0, help="bias variance (default 0)")
    th.add_argument("--depth", type=int, default=None, metavar="L",
                    help="also the gradient factor over the L - 1 layer-to-layer steps of depth L")
    th.add_argument("--json", action="store_true", help="print the predictions as JSON")
    th.set_defaults(func=cmd_theory)

    ls = sub.add_parser("list", help="list registered remedies")
    ls.add_argument("--kind", choices=list(registry.KINDS), help="only remedies of this kind")
    ls.set_defaults(func=cmd_list)

    va = sub.add_parser(
        "validate", help="the suites with your remedy (pkg.module:object) substituted",
        description="Run the suites of the remedy's kind with the remedy substituted, next to "
        "the built-in baselines. Arguments not listed here go to pytest as typed (-k, -x, -n).",
        allow_abbrev=False,
    )
    va.add_argument("target", help="pkg.module:object, path/to/file.py:object, or a "
                    "registered remedy name")
    va.add_argument("--kind", default=None, help="initializer, activation, normalization, "
                    "residual, optimizer, depth_scheme or block (inferred when unambiguous; a "
                    "block is a factory(width, *, layer, depth, generator) -> nn.Module, "
                    "docs/blocks.md; a depth_scheme maps the depth N in blocks to transformer "
                    "fields, docs/remedies.md)")
    va.add_argument("--baseline", action="append", default=[], metavar="PKG.MOD:FACTORY",
                    help="blocks only: measure this block factory beside yours on the same "
                    "seeds, instead of the built-in pre_ln and unscaled_residual; repeatable")
    va.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                    help="quick (CI, the default) or full (nightly: more examples, "
                    "more networks)")
    _add_device_options(va)
    va.add_argument("--out-dir", default="reports",
                    help="folder for NNNN_validate-<name>.json/.html")
    va.add_argument("--base-seed", type=_at_least(0), default=0,
                    help="offset of every seed (default 0): another sample of networks")
    va.add_argument("--suites", default=None,
                    help="suite directory (default: the installed gradbench suites)")
    _depth_option(va)
    va.set_defaults(func=cmd_validate, takes_pytest_args=True)

    from gradbench import gpu_check

    gpu = sub.add_parser(
        "gpu-check", help="the prepared GPU check: probe vs reference, CPU vs CUDA verdicts, "
        "speed; one JSON + HTML", description=(gpu_check.__doc__ or "").splitlines()[0])
    gpu_check.add_arguments(gpu)
    gpu.set_defaults(func=cmd_gpu_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gradbench`` console script."""
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if getattr(args, "takes_pytest_args", False):
            return int(args.func(args, extra))
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return int(args.func(args))
    except InvalidArgument as exc:
        print(f"gradbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gradbench: interrupted; files already written are complete", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
