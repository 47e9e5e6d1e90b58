"""The ``gradbench`` command: run, report, compare, theory, list, validate.

Exit codes: 0 success; 1 a claim failed or regressed; 2 usage error (one sentence
on stderr, no traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gradbench.errors import InvalidArgument

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as InvalidArgument (one sentence, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidArgument(f"{self.prog}: {message}")


def next_report_path(folder: str | Path, name: str) -> Path:
    """``folder/NNNN_name.json``, NNNN one past the highest number there (as pytest-benchmark)."""
    folder = Path(folder)
    numbers = [
        int(m.group(1))
        for p in (folder.glob("[0-9][0-9][0-9][0-9]_*.json") if folder.is_dir() else [])
        if (m := re.match(r"(\d{4})_", p.name))
    ]
    return folder / f"{max(numbers, default=0) + 1:04d}_{name}.json"


def default_suites() -> Path:
    """The suites folder: ``./suites`` when present, else the one beside the package."""
    here = Path("suites")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "suites"


def cmd_run(args: argparse.Namespace) -> int:
    """The main job: run the suite (quick profile, CPU by default) and write JSON + HTML."""
    import pytest

    suites = Path(args.suites)
    if not suites.exists():
        raise InvalidArgument(
            f"suites path {str(suites)!r} does not exist; run from the gradbench checkout "
            "or pass --suites PATH"
        )
    json_path = Path(args.output) if args.output else next_report_path(args.out_dir, args.profile)
    html_path = json_path.with_suffix(".html")
    pytest_args = [
        str(suites),
        f"--gradbench-profile={args.profile}",
        f"--gradbench-devices={args.devices}",
        f"--gradbench-base-seed={args.base_seed}",
        f"--gradbench-json={json_path}",
        f"--gradbench-report={html_path}",
        "--gradbench-progress=on",
        "-p",
        "no:cacheprovider",
        "-W",  # this process imported gradbench (the plugin) before pytest started
        "ignore::pytest.PytestAssertRewriteWarning",
        *(["--gradbench-seeds", str(args.seeds)] if args.seeds else []),
        *(["-n", str(args.workers), "--benchmark-disable"] if args.workers else []),
        *args.pytest_args,
    ]
    code = int(pytest.main(pytest_args))
    if json_path.exists():
        print(f"gradbench: results {json_path}\ngradbench: report  {html_path}")
    return EXIT_OK if code == 0 else (EXIT_USAGE if code in (3, 4) else EXIT_FAILED)


def cmd_report(args: argparse.Namespace) -> int:
    """Render one or more result files into one HTML page (comparison when 2+)."""
    from gradbench import report

    first = Path(args.files[0])
    default = first / "index.html" if first.is_dir() else first.with_suffix(".html")
    out = Path(args.output) if args.output else default
    path = report.write_report(args.files, out, title=args.title)
    print(f"gradbench: report {path}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two runs; exit 1 when a claim regressed."""
    from gradbench import report

    base, new = report.load_run(args.base), report.load_run(args.new)
    comparison = report.compare_runs(base, new)
    out = Path(args.output) if args.output else Path(args.new).with_suffix(".compare.html")
    report.write_report([args.base, args.new], out, title=args.title)
    for warning in getattr(comparison, "warnings", []) or []:
        print(f"gradbench: warning: {warning}", file=sys.stderr)
    regressions = list(comparison.regressions)
    for item in regressions:
        print(f"REGRESSION {item}")
    print(f"gradbench: {len(regressions)} regressions; report {out}")
    return EXIT_FAILED if regressions else EXIT_OK


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
    if args.depth:
        chi = rows["chi1"]
        rows["gradient_ratio_over_depth"] = chi**args.depth
    if args.json:
        from gradbench.records import dumps

        print(dumps(rows))
    else:
        width = max(len(k) for k in rows)
        for key, value in rows.items():
            text = f"{value:.10g}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {text}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """List registered remedies (built-in and plugins) with their sources."""
    from gradbench import registry

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


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a user remedy: the suites with the candidate substituted."""
    from gradbench import validate

    result = validate.validate(
        args.target, kind=args.kind, profile=args.profile, out_dir=args.out_dir,
        base_seed=args.base_seed, pytest_args=args.pytest_args,
    )
    print(result.format_table())
    return int(result.exit_code)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from gradbench import __version__
    from gradbench.profiles import PROFILES

    parser = _Parser(prog="gradbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gradbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the suite and write JSON + HTML under reports/")
    run.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    run.add_argument("--devices", default="cpu", help="comma-separated, e.g. cpu,cuda")
    run.add_argument("--seeds", type=int, default=None, help="networks per configuration")
    run.add_argument("--base-seed", type=int, default=0)
    run.add_argument("--suites", default="suites", help="suite directory (default ./suites)")
    run.add_argument("--out-dir", default="reports", help="folder for NNNN_<profile>.json/.html")
    run.add_argument("-o", "--output", default=None, help="explicit JSON path")
    run.add_argument("-n", "--workers", default=None, help="pytest-xdist workers (e.g. auto)")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments")
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="render result JSON files into one HTML page")
    rep.add_argument("files", nargs="+")
    rep.add_argument("-o", "--output", default=None)
    rep.add_argument("--title", default=None)
    rep.set_defaults(func=cmd_report)

    cmp_ = sub.add_parser("compare", help="compare two runs; exit 1 if a claim regressed")
    cmp_.add_argument("base")
    cmp_.add_argument("new")
    cmp_.add_argument("-o", "--output", default=None)
    cmp_.add_argument("--title", default=None)
    cmp_.set_defaults(func=cmd_compare)

    th = sub.add_parser("theory", help="mean-field predictions for an activation")
    th.add_argument("--activation", required=True)
    th.add_argument("--sigma-w2", type=float, required=True)
    th.add_argument("--sigma-b2", type=float, default=0.0)
    th.add_argument("--depth", type=int, default=None)
    th.add_argument("--json", action="store_true")
    th.set_defaults(func=cmd_theory)

    ls = sub.add_parser("list", help="list registered remedies")
    ls.add_argument(
        "--kind", choices=["activation", "initializer", "normalization", "residual", "optimizer"]
    )
    ls.set_defaults(func=cmd_list)

    va = sub.add_parser("validate", help="validate a remedy given as pkg.module:object")
    va.add_argument("target")
    va.add_argument("--kind", default=None, help="initializer, activation, normalization, "
                    "residual or optimizer (inferred when unambiguous)")
    va.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    va.add_argument("--out-dir", default="reports")
    va.add_argument("--base-seed", type=int, default=0)
    va.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments")
    va.set_defaults(func=cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gradbench`` console script."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except InvalidArgument as exc:
        print(f"gradbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gradbench: interrupted; files already written are complete", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
