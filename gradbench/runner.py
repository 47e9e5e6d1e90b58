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

    def pytest_unconfigure(self, config: Any) -> None:
        from gradbench.plugin import state

        session = config.stash.get(state.KEY, None)
        self.outcome = session.outcome if session is not None else None


@dataclass(frozen=True)
class SuiteRun:
    """What a run of the suites gave: pytest's status, gradbench's exit code and outcome.

    Attributes:
        pytest_exit: ``pytest.main``'s status.
        exit_code: gradbench's (0 ok, 1 failed, 2 usage, 130/143 stopped).
        outcome: the plugin's write-up (paths written, cases, failed), or ``None`` when
            the session never got that far.
    """

    pytest_exit: int
    exit_code: int
    outcome: Any

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
) -> SuiteRun:
    """Run the suites: numbered ``out_dir/NNNN_<name>.json`` (or ``output``) and its HTML.

    Arguments gradbench does not know (``extra``) go to pytest as typed (``-k``, ``-m``,
    ``-x``, ``--lf``, test paths or node ids inside the suites); ``plugin_args`` are
    further ``--gradbench-*`` options (``--gradbench-candidate``, ``--gradbench-remedy``);
    ``depth`` is the depth of the stability settings (``--gradbench-depth``).

    Raises:
        InvalidArgument: ``suites`` does not exist, or no suites are installed.
    """
    import pytest

    folder = suites_dir(suites)
    selection, has_paths = pytest_selection(extra, folder)
    written = (
        [f"--gradbench-json={output}"]
        if output
        else [f"--gradbench-save={name}", f"--gradbench-storage={out_dir}"]
    )
    cache = [] if "no:cacheprovider" in selection else [
        "-o", f"cache_dir={Path.cwd() / '.pytest_cache'}"  # for --lf, wherever suites live
    ]
    pytest_args = [
        *([] if has_paths else [str(folder)]),
        f"--rootdir={folder}",  # node ids as in the suites: `gradbench run test_x.py::t`
        f"--gradbench-profile={profile}",
        f"--gradbench-devices={devices}",
        f"--gradbench-base-seed={base_seed}",
        *written,
        "--gradbench-report=auto",
        "--gradbench-progress=on",
        *cache,
        "-W",  # this process imported gradbench (the plugin) before pytest started
        "ignore::pytest.PytestAssertRewriteWarning",
        *(["--gradbench-seeds", str(seeds)] if seeds else []),
        *([f"--gradbench-depth={depth}"] if depth is not None else []),
        *(["-n", str(workers), "--benchmark-disable"] if workers else []),
        *plugin_args,
        *selection,
    ]
    keeper = _Outcome()
    code = int(pytest.main(pytest_args, plugins=[keeper]))
    return SuiteRun(code, _run_exit_code(code, keeper.outcome), keeper.outcome)


def _run_exit_code(code: int, outcome: Any) -> int:
    """pytest's exit status as gradbench's (0 ok, 1 failed, 2 usage, 130/143 stopped)."""
    if outcome is not None and outcome.stopped_by == "SIGTERM":
        return EXIT_TERMINATED
    if outcome is not None and outcome.stopped_by == "KeyboardInterrupt":
        return EXIT_INTERRUPTED
    if code == 0:
        return EXIT_OK
    if code in (3, 4, 5):  # internal/usage error, or no test selected
        return EXIT_USAGE
    return EXIT_FAILED


__all__ = ["SuiteRun", "pytest_selection", "run_suites", "suites_dir"]
