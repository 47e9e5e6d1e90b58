"""Running the suites: what ``gradbench run`` and ``gradbench validate`` share.

:func:`run_suites` runs the installed suites (or a folder) through ``pytest.main`` with
the plugin's options, arguments gradbench does not define passed to pytest as typed,
and returns pytest's status with the plugin's outcome (what was written). Validation
is the same run with ``--gradbench-candidate``: the suites with a remedy substituted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradbench.errors import InvalidArgument

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


#: pytest options whose value is never a test path (the token after them is left alone).
_VALUE_OPTIONS = frozenset({"-k", "-m", "-p", "-W", "-o", "-c", "-n", "-r", "--maxfail",
                            "--tb", "--rootdir", "--confcutdir", "--basetemp", "--durations",
                            "--numprocesses", "--dist", "--tx", "--junit-xml"})
#: pytest options whose value is a test path that is not a selection of what to run.
_PATH_VALUE_OPTIONS = frozenset({"--deselect", "--ignore", "--ignore-glob"})


def suites_dir(path: str | None) -> Path:
    """The suites to run: ``path``, or the installed ``gradbench_suites`` package.

    Raises:
        InvalidArgument: ``path`` does not exist, or no suites are installed.
    """
    if path is not None:
        folder = Path(path)
        if not folder.exists():
            raise InvalidArgument(
                f"suites path {path!r} does not exist; pass --suites PATH, or leave it out "
                "to run the installed gradbench suites"
            )
        return folder
    import importlib.util

    spec = importlib.util.find_spec("gradbench_suites")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidArgument(
            "the gradbench suites are not installed (no package 'gradbench_suites'); "
            "reinstall gradbench or pass --suites PATH"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _in_suites(token: str, suites: Path) -> str:
    """A test path or node id typed for the suites, made to point into ``suites``.

    As typed when it exists from here; else looked up inside the suites, with a
    leading ``suites/`` or ``gradbench_suites/`` dropped (node ids from any checkout).
    """
    path, sep, rest = token.partition("::")
    if Path(path).exists():
        return token
    candidates = [path]
    for prefix in ("suites/", "gradbench_suites/"):
        if path.startswith(prefix):
            candidates.append(path[len(prefix) :])
    for candidate in candidates:
        if (suites / candidate).exists():
            return f"{suites / candidate}{sep}{rest}"
    return token


def pytest_selection(tokens: Sequence[str], suites: Path) -> tuple[list[str], bool]:
    """pytest's arguments as typed after ``gradbench run``, test paths resolved in the suites.

    Returns:
        The arguments, and whether any of them selects test paths (else the whole
        suites folder runs).
    """
    out: list[str] = []
    has_paths = False
    previous = ""
    for token in tokens:
        if token == "--" and not out:
            continue
        if not token.startswith("-") and previous not in _VALUE_OPTIONS:
            resolved = _in_suites(token, suites)
            has_paths = has_paths or previous not in _PATH_VALUE_OPTIONS
            token = resolved
        out.append(token)
        previous = token
    return out, has_paths


class _Outcome:
    """Plugin object handed to ``pytest.main``: keeps the gradbench outcome of the run."""

    def __init__(self) -> None:
        self.outcome: Any = None
        self.stopped_by: str | None = None  # also when the session never started

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        from gradbench.plugin.interrupts import stopped_by

        self.stopped_by = stopped_by(excinfo.value)

    def pytest_unconfigure(self, config: Any) -> None:
        from gradbench.plugin import state

        session = config.stash.get(state.KEY, None)
        self.outcome = session.outcome if session is not None else None


def _usage_errors(typed: bool = True) -> object:
    """A pytest plugin turning pytest's usage errors (bad options, a bad ``-k`` expression, a
    missing test path) into :class:`InvalidArgument`, so they read as every other gradbench
    usage error (``gradbench: error: <one sentence>``, exit 2) instead of pytest's ``ERROR:``.
    ``typed``: the arguments are the user's, passed to pytest as typed (:func:`pytest_usage`);
    ``False``: gradbench built them from an option of its own, so the sentence is pytest's.
    """
    import pytest

    class UsageErrors:
        @pytest.hookimpl(wrapper=True)
        def pytest_cmdline_parse(self) -> Any:
            try:
                return (yield)
            except pytest.UsageError as exc:
                raise InvalidArgument(pytest_usage(exc, typed)) from None

        @pytest.hookimpl(wrapper=True)
        def pytest_cmdline_main(self) -> Any:
            try:
                return (yield)
            except pytest.UsageError as exc:
                raise InvalidArgument(pytest_usage(exc, typed)) from None

    return UsageErrors()


def pytest_usage(exc: BaseException, typed: bool = True) -> str:
    """pytest's usage error as one sentence: its ``error:`` line (argparse) or first line;
    ``typed``, saying that gradbench passed the user's arguments to pytest as typed.

    Examples:
        >>> pytest_usage(ValueError("usage: pytest.main() [options]\\n"
        ...     "pytest.main(): error: unrecognized arguments: --bad\\n  rootdir: /x"))[:62]
        'pytest rejected its arguments (unrecognized arguments: --bad);'
    """
    lines = [line.strip() for arg in exc.args for line in str(arg).splitlines() if line.strip()]
    found = [line.split(" error: ", 1)[1] for line in lines if " error: " in line]
    text = (found or lines or [type(exc).__name__])[0].rstrip(".")
    if not typed:
        return text
    return (f"pytest rejected its arguments ({text}); gradbench passes the options it does "
            "not define to pytest as typed")


@dataclass(frozen=True)
class SuiteRun:
    """What a run of the suites gave: pytest's status, gradbench's exit code and outcome.

    Attributes:
        pytest_exit: ``pytest.main``'s status.
        exit_code: gradbench's (0 ok, 1 failed, 2 usage or nothing measured, 130/143
            stopped).
        outcome: the plugin's write-up (paths written, cases, failed), or ``None`` when
            the session never got that far.
        problem: why the run exits 2 although pytest ran (one sentence), else ``None``.
    """

    pytest_exit: int
    exit_code: int
    outcome: Any
    problem: str | None = None

    @property
    def json_path(self) -> Path | None:
        return getattr(self.outcome, "json_path", None)

    @property
    def html_path(self) -> Path | None:
        return getattr(self.outcome, "html_path", None)


def run_suites(
    *,
    name: str,
    extra: Sequence[str] = (),
    profile: str = "quick",
    devices: str = "cpu",
    base_seed: int = 0,
    seeds: int | None = None,
    suites: str | None = None,
    out_dir: str | Path = "reports",
    output: str | Path | None = None,
    workers: str | None = None,
    plugin_args: Sequence[str] = (),
    depth: int | None = None,
    plugins: Sequence[object] = (),
) -> SuiteRun:
    """Run the suites: numbered ``out_dir/NNNN_<name>.json`` (or ``output``) and its HTML.

    Arguments gradbench does not know (``extra``) go to pytest as typed (``-k``, ``-m``,
    ``-x``, ``--lf``, test paths or node ids inside the suites); ``plugin_args`` are
    further ``--gradbench-*`` options (``--gradbench-candidate``, ``--gradbench-remedy``);
    ``depth`` is the depth of the stability settings (``--gradbench-depth``).
    ``plugins`` further pytest plugin objects for the session.

    Raises:
        InvalidArgument: ``suites`` does not exist, no suites are installed, or
            ``GRADBENCH_MEMORY_BUDGET_MB`` is not a positive number.
    """
    import pytest

    from gradbench.devices import require_devices
    from gradbench.probe import memory_budget

    require_devices(devices)
    memory_budget()  # a bad GRADBENCH_MEMORY_BUDGET_MB: one sentence now, not one per test
    folder = suites_dir(suites)
    selection, has_paths = pytest_selection(extra, folder)
    if workers or _asks_for_xdist(selection):
        require_xdist()
    results = Path(output).parent if output else Path(out_dir)
    from gradbench import storage

    storage.check_writable(results)  # one sentence now, not a pytest usage error later
    if output:
        storage.check_no_journal(output)  # a stopped run's cases: gradbench's own sentence
    written = (
        [f"--gradbench-json={output}"]
        if output
        else [f"--gradbench-save={name}", f"--gradbench-storage={out_dir}"]
    )
    # pytest's cache (for --lf, --ff, --sw) and pytest-benchmark's storage live in the
    # results folder, not in the directory the command was typed in
    cache = [] if "no:cacheprovider" in selection else [
        "-o", f"cache_dir={results.resolve() / '.pytest_cache'}"]
    benchmark = [] if "no:benchmark" in selection or _given("--benchmark-storage", selection) \
        else [f"--benchmark-storage={results.resolve()}"]
    pytest_args = [
        *([] if has_paths else [str(folder)]),
        f"--rootdir={folder}",  # node ids as in the suites: `gradbench run test_x.py::t`
        f"--gradbench-profile={profile}",
        f"--gradbench-devices={devices}",
        f"--gradbench-base-seed={base_seed}",
        *written,
        "--gradbench-report=auto",
        # the failure blocks above already give each claim's explanation; the short summary
        # keeps one line per test (pytest prints whole messages there when it sees CI)
        "--force-short-summary",
        *cache,
        *benchmark,
        "-W",  # this process imported gradbench (the plugin) before pytest started
        "ignore::pytest.PytestAssertRewriteWarning",
        *(["--gradbench-seeds", str(seeds)] if seeds else []),
        *([f"--gradbench-depth={depth}"] if depth is not None else []),
        *(["-n", str(workers), "--benchmark-disable"] if workers else []),
        *plugin_args,
        *selection,
    ]
    keeper = _Outcome()
    code = int(pytest.main(pytest_args, plugins=[keeper, _usage_errors(), *plugins]))
    problem = _nothing_measured(code, keeper.outcome)
    exit_code = EXIT_USAGE if problem else _run_exit_code(code, keeper.stopped_by)
    return SuiteRun(code, exit_code, keeper.outcome, problem)


def _given(option: str, tokens: Sequence[str]) -> bool:
    return any(t == option or t.startswith(option + "=") for t in tokens)


def _asks_for_xdist(tokens: Sequence[str]) -> bool:
    """Whether pytest arguments use pytest-xdist (``-n``, ``--numprocesses``, ``--dist``)."""
    return any((t.startswith("-n") and not t.startswith("--")) or _given("--numprocesses", [t])
               or _given("--dist", [t]) for t in tokens)


def require_xdist() -> None:
    """Raise the one sentence a user without pytest-xdist needs.

    pytest-xdist stays an extra (``gradbench[xdist]``) rather than a dependency: it is a
    pytest plugin, and installing gradbench would otherwise add ``-n`` and ``--dist`` to
    every pytest session of the environment, where a project may define its own ``-n``.

    Raises:
        InvalidArgument: pytest-xdist is not installed.
    """
    import importlib.util

    if importlib.util.find_spec("xdist") is None:
        raise InvalidArgument(
            "-n (parallel workers) needs pytest-xdist, which is not installed: "
            "pip install 'gradbench[xdist]' (or pytest-xdist), or leave -n out"
        )


def _nothing_measured(code: int, outcome: Any) -> str | None:
    """Why a run pytest counts as fine measured nothing (it then exits 2), else ``None``.

    A CI job whose GPU runner lost its GPU skips every CUDA case: that must not pass.
    """
    if code != 0 or outcome is None or outcome.cases or outcome.stopped_by:
        return None
    skipped = sum(outcome.skipped.values())
    if not skipped or not outcome.selected:
        return "nothing was measured: no selected test recorded a case"
    reasons = "; ".join(f"{n} x {r}" if len(outcome.skipped) > 1 else r
                        for r, n in sorted(outcome.skipped.items(), key=lambda x: -x[1]))
    if skipped >= outcome.selected:
        return (f"nothing was measured: all {outcome.selected} selected tests were skipped "
                f"({reasons})")
    return (f"nothing was measured: {skipped} of {outcome.selected} selected tests were "
            f"skipped ({reasons}) and the others recorded no case")


EXIT_BY_SIGNAL = {"KeyboardInterrupt": EXIT_INTERRUPTED, "SIGTERM": EXIT_TERMINATED}
"""The exit code of a run (or validation) a signal stopped, by what stopped it."""


def _run_exit_code(code: int, stopped_by: str | None) -> int:
    """pytest's exit status as gradbench's (0 ok, 1 failed, 2 usage, 130/143 stopped by a
    signal; pytest's other interruptions, errors during collection or ``--sw``, are 1)."""
    if stopped_by is not None:
        return EXIT_BY_SIGNAL[stopped_by]
    if code == 0:
        return EXIT_OK
    if code in (3, 4, 5):  # internal/usage error, or no test selected
        return EXIT_USAGE
    return EXIT_FAILED


__all__ = ["SuiteRun", "pytest_selection", "pytest_usage", "require_xdist", "run_suites",
           "suites_dir"]
