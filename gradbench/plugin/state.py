"""The session's gradbench state, kept in ``config.stash`` (one object per pytest session).

:func:`use_gradbench` is the one place that decides gradbench is *in use*; only then
does the plugin change anything beyond registering options, markers and fixtures:

* an explicit ``--gradbench-*`` option or ``gradbench_*`` ini key (or a ``gradbench-*``
  Hypothesis profile), as Hypothesis's own plugin acts only on its options;
* the session collects the gradbench suites (their ``conftest.py`` says so);
* a collected test requests a gradbench fixture (threads only: its Hypothesis tests
  were defined before that is known, so their settings stay the project's own).

In use, the plugin loads its Hypothesis profile (:mod:`.hypothesis_profiles`) and gives
each xdist worker its share of the cores as torch threads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gradbench.plugin.options import Settings

if TYPE_CHECKING:
    from gradbench.records import CaseRecord
    from gradbench.storage import Journal

#: The ``user_properties`` key under which a test's cases travel to the controller.
USER_PROPERTY = "gradbench_cases"


@dataclass
class Outcome:
    """How the run's write-up went (read by ``gradbench run`` and the terminal summary).

    Attributes:
        json_path, html_path: what was written (``None``: nothing).
        journal_path: a journal left behind because the results could not be written.
        cases, failed: cases recorded and how many failed their claim.
        statistical: cases of registered claims tested at the per-case level (their
            false alarms add up; the profile splits its family-wise alpha over them).
        selected: tests selected to run (``None``: collection did not finish).
        skipped: selected tests that were skipped, and why (reason -> how many).
        tests_not_run: selected tests that did not run (interrupted runs).
        stopped_by: ``"SIGTERM"`` or ``"KeyboardInterrupt"`` when the run was stopped.
        unverdicted: node ids of tests that failed or errored (in setup, call or teardown)
            with no failed verdict to account for it (a fixture or the test's own code
            raised outside the claims): what they should have measured may be missing, so
            the run is not a pass.
        plugin_problems: what loading the installed plugins skipped, one sentence each
            (:func:`gradbench.registry.plugin_problems`), in a run that measures them (not
            a validation): their remedies were not measured, so the run is not a pass.
        error: the sentence saying what could not be written.
        warning: a problem that lost nothing (e.g. the HTML failed to render).
    """

    json_path: Path | None = None
    html_path: Path | None = None
    journal_path: Path | None = None
    cases: int = 0
    failed: int = 0
    statistical: int = 0
    selected: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    tests_not_run: int | None = None
    stopped_by: str | None = None
    unverdicted: list[str] = field(default_factory=list)
    plugin_problems: list[str] = field(default_factory=list)
    error: str | None = None
    warning: str | None = None


@dataclass
class GradbenchSession:
    """Everything the plugin keeps for one session (STYLE: state in ``config.stash``).

    Attributes:
        settings: the parsed options.
        in_use: why gradbench is in use (``None``: it is not, and stays inert).
        suites_roots: folders that declared themselves gradbench suites.
        cases: cases received by the controlling process, in arrival order.
        selected: tests selected to run (``None`` until collection is done).
        finished: node ids of tests that ran (their call reported back), or were skipped
            or errored in setup.
        journal: the run's journal, created when its first case arrives.
        started: ISO time the session started (the journal header's).
        outcome: filled in by the write-up at session finish.
        selection: which remedies the run covers (:class:`gradbench.suite.Selection`).
        shard: the shard's record (``--gradbench-shard``; :func:`gradbench.shards.shard_record`),
            once the split is made.
    """

    settings: Settings
    in_use: str | None = None
    suites_roots: list[Path] = field(default_factory=list)
    cases: list[CaseRecord] = field(default_factory=list)
    selected: int | None = None
    finished: set[str] = field(default_factory=set)
    journal: Journal | None = None
    started: str = ""
    outcome: Outcome = field(default_factory=Outcome)
    hypothesis_previous: str | None = None
    hypothesis_loaded: bool = False
    selection: Any = None  # gradbench.suite.Selection, set by the remedies feature
    shard: dict[str, Any] | None = None


@dataclass(frozen=True)
class Recorded:
    """One case as a test recorded it, with the Hypothesis example it came from.

    Attributes:
        record: the case.
        example: which example of the test recorded it (counted from 0), ``None``
            outside Hypothesis.
        final: recorded while Hypothesis replayed the (shrunk) failing example it reports.
    """

    record: CaseRecord
    example: int | None = None
    final: bool = False


KEY = pytest.StashKey[GradbenchSession]()
#: The cases a test recorded (``item.stash``), attached to its call report.
ITEM_CASES = pytest.StashKey["list[Recorded]"]()


_ACTIVE: list[Any] = []  # the running test's recorder, while gradbench is in use


@contextlib.contextmanager
def recording_into(recorder: Any) -> Iterator[None]:
    """Make ``recorder`` the :func:`active_recorder` for the ``with`` block (a test's call)."""
    _ACTIVE.append(recorder)
    try:
        yield
    finally:
        _ACTIVE.pop()


def active_recorder() -> Any:
    """The recorder of the test running now in a session where gradbench is in use
    (what ``gradbench.testing.assert_claim`` records through), or ``None``."""
    return _ACTIVE[-1] if _ACTIVE else None


def kept_cases(recorded: list[Recorded], failed: bool) -> list[CaseRecord]:
    """The cases a test's results keep, one per configuration, in the order first recorded.

    A test that passed keeps every example Hypothesis generated. When it failed,
    Hypothesis went on shrinking the failing example (many more configurations tried,
    passing and failing) and then replayed the smallest one: the results keep the
    examples generated before the first failure and the replayed one, so a failing
    remedy reports its shrunk configuration once and adds no more cases than a passing
    one. A configuration recorded twice (a replay) is one case, its last record.
    """
    finals = [r.example for r in recorded if r.final]
    if failed and finals:
        failing = [r.example for r in recorded if r.record.failed and not r.final]
        first = min(e for e in [*failing, *finals] if e is not None)
        recorded = [r for r in recorded
                    if r.final or r.example is None or r.example < first]
    out: dict[str, CaseRecord] = {}
    for r in recorded:
        out[_replay_key(r.record)] = r.record
    return list(out.values())


def _replay_key(record: CaseRecord) -> str:
    """What makes two records one case: the claim, the spec and the verdict's configuration.

    Seeds derive from the configuration, so a replayed example gives the same record."""
    import json

    config = (record.verdict or {}).get("spec")
    return json.dumps([record.claim, record.spec, config], sort_keys=True, default=str)


def get(config: pytest.Config) -> GradbenchSession:
    """The session state (set up by the plugin's ``pytest_configure``).

    Raises:
        pytest.UsageError: the gradbench plugin is not active in this session.
    """
    try:
        return config.stash[KEY]
    except KeyError:
        raise pytest.UsageError(
            "the gradbench plugin is not active in this session (was it disabled with "
            "-p no:gradbench?); the gradbench suites and fixtures need it"
        ) from None


def is_worker(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist worker (the controller writes results)."""
    return hasattr(config, "workerinput")


def use_gradbench(
    config: pytest.Config,
    reason: str,
    *,
    suites_root: str | os.PathLike[str] | None = None,
    hypothesis: bool = True,
) -> None:
    """Put gradbench in use for this session (idempotent); see the module docstring.

    Args:
        config: the session's config.
        reason: why, for ``--gradbench-*`` diagnostics (``"the gradbench suites"``).
        suites_root: a folder of gradbench suites: its tests are marked ``gradbench``
            and their case ids are ``suites/<path inside it>::...`` wherever installed.
        hypothesis: load the gradbench Hypothesis profile (only before test modules
            are imported: ``@given`` binds its settings when the module is imported).
    """
    session = get(config)
    if suites_root is not None:
        root = Path(suites_root).resolve()
        if root not in session.suites_roots:
            session.suites_roots.append(root)
    first = session.in_use is None
    if first:
        session.in_use = reason
    if hypothesis and not session.hypothesis_loaded:
        from gradbench.plugin import hypothesis_profiles

        session.hypothesis_previous = hypothesis_profiles.load(session.settings.profile, config)
        session.hypothesis_loaded = True
    if first and is_worker(config):
        _share_cores(int(config.workerinput.get("workercount", 1)))  # type: ignore[attr-defined]


def release(config: pytest.Config) -> None:
    """Undo what :func:`use_gradbench` changed that outlives the session (the profile)."""
    session = config.stash.get(KEY, None)
    if session is not None and session.hypothesis_loaded:
        from gradbench.plugin import hypothesis_profiles

        hypothesis_profiles.restore(session.hypothesis_previous)
        session.hypothesis_loaded = False


def _share_cores(workers: int) -> None:
    """Give each of ``workers`` xdist workers its share of the cores as torch threads.

    Without this every worker starts one intra-op thread per core, and N workers
    oversubscribe the machine N times over (measured: the quick suite ran 4x slower at
    ``-n 2`` than at ``-n 1`` on 2 cores). An explicit ``OMP_NUM_THREADS`` wins.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, (cores or 1) // max(1, workers)))


def suite_node_id(session: GradbenchSession, item: pytest.Item) -> str | None:
    """The node id with a suite file's path written ``suites/<path in the suites>``, the
    same wherever the suites are and whatever the rootdir; None outside the suites."""
    path = Path(str(item.path)).resolve()
    for root in session.suites_roots:
        if path.is_relative_to(root):
            rest = item.nodeid.split("::", 1)[1] if "::" in item.nodeid else ""
            return f"suites/{path.relative_to(root).as_posix()}" + (f"::{rest}" if rest else "")
    return None


def case_id(session: GradbenchSession, item: pytest.Item, index: int) -> str:
    """``<node id>#<index>``, with a suite file's path written ``suites/<path in the suites>``.

    So a case has the same id whether the suites ran from the checkout, from an
    installed package or with another rootdir, and runs compare case by case.
    """
    return f"{suite_node_id(session, item) or item.nodeid}#{index}"


def case_failed(case: dict[str, Any]) -> bool:
    """Whether a case dict (:func:`cases_in`) carries a failed verdict."""
    return bool(case.get("verdict")) and not case["verdict"].get("passed", True)


def cases_in(report: Any) -> list[dict[str, Any]]:
    """The case dicts a test report carries (empty for reports without any)."""
    import json

    return [
        case
        for key, value in getattr(report, "user_properties", ())
        if key == USER_PROPERTY
        for case in json.loads(str(value))
    ]
