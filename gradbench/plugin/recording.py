"""Cases travel to the controlling process, go into the journal, and end in one results file.

A test's cases ride on its call report (``user_properties``), so they reach the
controller under pytest-xdist (and over execnet gateways) and are kept when
benchmarks are disabled. The controller (:class:`ResultsWriter`) appends each arriving
case to the run's journal (:mod:`gradbench.storage`), created with the run's number
when the first case arrives: a run that measured nothing (a usage error, an empty
selection) leaves no file. At the end of the session it writes the results file
atomically, removes the journal and renders the HTML report.

SIGTERM (a CI timeout, a cancelled job, ``docker stop``) stops the run like Ctrl-C
(:mod:`.interrupts`): the finished cases are written, with a line saying how many
tests did not run, and pytest exits non-zero. After SIGKILL the journal is left for
``gradbench report``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gradbench.errors import InvalidArgument
from gradbench.plugin import state
from gradbench.plugin.interrupts import Interrupts, stopped_by

if TYPE_CHECKING:
    from gradbench.records import RunInfo
    from gradbench.storage import Journal


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the item's recorded cases to its call report (crosses xdist process borders)."""
    outcome: Any = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    recorded = item.stash.get(state.ITEM_CASES, [])
    cases = []
    if recorded:
        import dataclasses

        session = state.get(item.config)
        cases = [dataclasses.replace(c, case=state.case_id(session, item, i))
                 for i, c in enumerate(state.kept_cases(recorded, report.failed))]
        payload = json.dumps([c.to_dict() for c in cases], allow_nan=False)
        report.user_properties.append((state.USER_PROPERTY, payload))
    from gradbench.errors import ClaimFailed

    if not (report.failed and call.excinfo is not None
            and isinstance(call.excinfo.value, ClaimFailed)):
        return
    if item.config.option.tbstyle == "auto":  # the claim's own words, no traceback
        report.longrepr = str(call.excinfo.value)
    if cases and state.get(item.config).settings.candidate:
        from gradbench.summary import is_candidate

        if not any(map(is_candidate, cases)):  # pytest counts it as xfailed, not failed
            report.outcome = "skipped"
            report.wasxfail = BASELINE_FAILED


BASELINE_FAILED = ("a baseline measured beside the candidate failed its claim: context, "
                   "not the candidate's verdict")
"""What pytest is told of a baseline's failed claim in a validation (``gradbench validate``
judges the candidate; its exit code and the report say the same)."""


def pytest_configure(config: pytest.Config) -> None:
    if not state.is_worker(config):
        config.pluginmanager.register(ResultsWriter(config), "gradbench-results")


class ResultsWriter:
    """The controlling process's side: collect, journal, write up, summarize."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.session = state.get(config)
        self._interrupts: Interrupts | None = None
        self._stop: BaseException | None = None
        self._failed_verdicts: set[str] = set()  # tests whose call carried a failed verdict

    # -- during the run ----------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Note the start time; turn SIGTERM into an interrupt while results are kept."""
        import datetime as _dt

        self.session.started = _dt.datetime.now(_dt.timezone.utc).isoformat()
        if self.session.settings.writes_results:
            interrupts = Interrupts()
            if interrupts.install():
                self._interrupts = interrupts
                self.config.pluginmanager.register(interrupts, "gradbench-interrupts")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.session.selected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.session.selected = len(ids)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the cases of each finished test and journal them (flushed, fsynced)."""
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.session.finished.add(report.nodeid)  # it ran (or was skipped, or errored)
        if any(map(state.case_failed, state.cases_in(report))):
            self._failed_verdicts.add(report.nodeid)
        unverdicted = self.session.outcome.unverdicted
        if (report.failed and report.nodeid not in unverdicted
                and report.nodeid not in self._failed_verdicts):  # setup, call or teardown
            unverdicted.append(report.nodeid)
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = _skip_reason(report)
            skipped = self.session.outcome.skipped
            skipped[reason] = skipped.get(reason, 0) + 1
        if report.when != "call":
            return
        raw = state.cases_in(report)
        if not raw:
            return
        from gradbench.records import CaseRecord

        cases = [CaseRecord.from_dict(c) for c in raw]
        self.session.cases.extend(cases)
        if self.session.settings.writes_results and self.session.outcome.error is None:
            try:
                self._journal().append([c.to_dict() for c in cases])
            except InvalidArgument as exc:
                self.session.outcome.error = str(exc)
                pytest.exit(f"gradbench: {exc}; stopping the run",
                            returncode=pytest.ExitCode.USAGE_ERROR)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self._stop = excinfo.value

    def _run_info(self, **status: Any) -> RunInfo:
        from gradbench.records import RunInfo

        s = self.session.settings
        candidate = getattr(self.session.selection, "candidate", None)
        extra: dict[str, Any] = {"candidate": list(candidate)} if candidate else {}
        if s.depth is not None:  # the depth the stability claims judged (--depth)
            extra["depth"] = s.depth
        if s.shard is not None:  # the controller of an xdist run knows K/N before the record
            extra["shard"] = self.session.shard or {"index": s.shard.index,
                                                    "count": s.shard.count}
        return RunInfo(profile=s.profile.name, base_seed=s.base_seed, devices=s.devices,
                       extra=extra, **status)

    def _journal(self) -> Journal:
        """The run's journal, taking its number (or its explicit path) on first use."""
        if self.session.journal is None:
            from gradbench import storage
            from gradbench.machine import environment, platform_info
            from gradbench.records import MachineInfo

            s = self.session.settings
            machine = MachineInfo.from_cases([], platform_info(), environment())
            header = storage.journal_header(self._run_info(), machine, self.session.started)
            if s.json_path is not None:
                self.session.journal = storage.claim(s.json_path, header)
            else:
                self.session.journal = storage.reserve(s.storage, s.save or "run", header)
        return self.session.journal

    # -- the write-up ------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write the results (atomically) and the HTML; remove the journal."""
        out = self.session.outcome
        out.cases = len(self.session.cases)
        out.failed = sum(c.failed for c in self.session.cases)
        if self.session.cases:
            from gradbench.claims import counts_at_case_level

            out.statistical = sum(counts_at_case_level(c.verdict) for c in self.session.cases)
        out.stopped_by = stopped_by(self._stop)
        out.selected = self.session.selected
        if self.session.cases and not self.session.settings.candidate:
            from gradbench.registry import plugin_problems

            out.plugin_problems = plugin_problems()
            if out.plugin_problems and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if out.selected is not None and out.stopped_by:
            out.tests_not_run = max(0, out.selected - len(self.session.finished))
        if not self.session.settings.writes_results or not self.session.cases:
            return
        if self._interrupts is not None:
            self._interrupts.ignore_sigterm()  # let the write-up finish
        self._write_up(session)

    def _write_up(self, session: pytest.Session) -> None:
        from gradbench.machine import environment, platform_info
        from gradbench.records import MachineInfo, results_document
        from gradbench.summary import unverdicted_line

        out = self.session.outcome
        failed_outside = [unverdicted_line(out.unverdicted)] if out.unverdicted else []
        failed_outside += [f"{p} (so not measured)" for p in out.plugin_problems]
        if out.stopped_by:
            status: dict[str, Any] = dict(
                status="interrupted",
                tests_not_run=out.tests_not_run,
                note="; ".join([f"interrupted ({out.stopped_by}): {_not_run(out)}; the "
                                f"{out.cases} cases of the tests that finished are here",
                                *failed_outside]),
            )
        elif failed_outside:
            status = dict(status="incomplete", note=f"incomplete: {'; '.join(failed_outside)}")
        else:
            status = {}
        cases = self.session.cases
        machine = MachineInfo.from_cases(cases, platform_info(), environment())
        document = results_document(self._run_info(**status), machine, cases)
        self.config.hook.pytest_gradbench_update_machine_info(
            config=self.config, machine_info=document["machine_info"]
        )
        self.config.hook.pytest_gradbench_update_json(
            config=self.config, cases=[c.to_dict() for c in cases], output_json=document
        )
        try:
            out.json_path = self._journal().finish(document)
        except InvalidArgument as exc:
            kept = ""
            left = self.session.journal
            if left is not None and left.cases:
                kept = f"; the {left.cases} cases journaled so far are kept in {str(left.path)!r}"
                out.journal_path = left.path
            elif left is not None:
                left.discard()  # only its header: nothing to recover
            out.error = f"{exc}{kept}"
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        report = self.session.settings.report
        if report:
            html = out.json_path.with_suffix(".html") if report == "auto" else Path(report)
            try:
                from gradbench import report as _report

                out.html_path = _report.write_report([out.json_path], html)
            except Exception as exc:  # the JSON is written; a rendering failure loses nothing
                out.warning = f"the HTML report could not be rendered ({exc})"

    # -- what the terminal shows -------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        """What was recorded and where it went; why nothing was written, if so."""
        from gradbench import summary

        out, s = self.session.outcome, self.session.settings
        if not (self.session.cases or s.writes_results):
            return
        line = terminalreporter.write_line
        where = f"; results -> {out.json_path}" if out.json_path else ""
        html = f"; report -> {out.html_path}" if out.html_path else ""
        complete = not (out.stopped_by or out.unverdicted or out.plugin_problems)
        if out.cases:
            if s.writes_results:
                for text in summary.table(summary.tally(self.session.cases)):
                    line(text)
            line(
                f"gradbench: {summary.outcome_line(self.session.cases, complete)}"
                f" (profile {s.profile.name}, base seed {s.base_seed}){where}{html}",
                red=any(c.failed for c in summary.judged(self.session.cases)[0]),
            )
        if out.unverdicted:
            line(f"gradbench: {summary.unverdicted_line(out.unverdicted)}", red=True)
        for problem in out.plugin_problems:
            line(f"gradbench: not a pass: {problem}, so what it skipped was not measured (fix "
                 "the plugin, or set GRADBENCH_NO_PLUGINS=1 to run without plugins)", red=True)
        if out.statistical:
            line(f"gradbench: {summary.statistical_line(self.session.cases, s.profile)}")
        if out.stopped_by:
            verb = "interrupted" if out.stopped_by == "KeyboardInterrupt" else (
                f"stopped by {out.stopped_by}"
            )
            kept = f"; finished results kept in {out.json_path}" if out.json_path else ""
            line(f"gradbench: {verb}: {_not_run(out)}{kept}")
        if out.error:
            line(f"gradbench: error: {out.error}", red=True)
        if out.warning:
            line(f"gradbench: warning: {out.warning}", yellow=True)
        if s.writes_results and out.json_path is None and not out.error:
            shard = self.session.shard
            if shard is not None and not shard["tests"] and shard["selection"]["tests"]:
                from gradbench.shards import Shard, empty_shard_message

                which = Shard(shard["index"], shard["count"])
                line(f"gradbench: error: {empty_shard_message(which, shard['selection']['tests'])}",
                     red=True)
            elif exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
                line("gradbench: no test was selected; no results file was written")
            elif out.stopped_by:
                line("gradbench: the run was stopped before any case finished; "
                     "no results file was written")
            elif exitstatus == pytest.ExitCode.INTERRUPTED:  # errors during collection, --sw
                line("gradbench: pytest stopped the run before any case finished (its errors "
                     "are above); no results file was written", red=True)
            elif exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                line("gradbench: no test recorded a case; no results file was written")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._interrupts is not None:
            self._interrupts.restore()
            self.config.pluginmanager.unregister(self._interrupts)
            self._interrupts = None
        journal = self.session.journal
        if journal is not None:
            journal.close()


def _skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped test gave (``"skipped"`` when it gave none)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return "skipped"


def _not_run(out: state.Outcome) -> str:
    if out.tests_not_run is None or out.selected is None:
        return "it was stopped before its tests were collected"
    return f"{out.tests_not_run} of {out.selected} tests did not run"
