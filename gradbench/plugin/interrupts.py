"""SIGTERM and Ctrl-C as interrupts that never drop the report of a test that finished.

:class:`Interrupts` is registered (as a plugin object) by the controlling process of
a run that keeps results. SIGTERM (a CI timeout, a cancelled job, ``docker stop``)
raises :class:`Terminated`, a ``KeyboardInterrupt``, so pytest ends the session the
way Ctrl-C does and the write-up runs. Either signal is *held back* while a finished
test's report is being made and handed to every ``pytest_runtest_logreport``
implementation (the journal among them), and delivered right after: a test whose
body returned always has its cases kept; a signal during a test body stops it at once.
A second SIGTERM is ignored, so the write-up is not cut short by a repeated signal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt so that pytest finishes its session."""


def stopped_by(exc: BaseException | None) -> str | None:
    """``"SIGTERM"`` or ``"KeyboardInterrupt"`` when ``exc`` is a signal that stopped the run,
    else ``None``: pytest's own ``Session.Interrupted`` (errors during collection, ``--sw``
    at a failure) is a ``KeyboardInterrupt`` too, but no one pressed Ctrl-C."""
    if isinstance(exc, Terminated):
        return "SIGTERM"
    if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, pytest.Session.Interrupted):
        return "KeyboardInterrupt"
    return None


class Interrupts:
    """Signal handlers for the session, plus the hooks that mark the report pipeline."""

    def __init__(self) -> None:
        self._depth = 0  # inside pytest_runtest_logreport
        self._finished: str | None = None  # a test whose body returned, not yet logged
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> bool:
        """Take over SIGTERM, and SIGINT if it still has Python's default handler."""
        if threading.current_thread() is not threading.main_thread():
            return False  # signal handlers can only be set from the main thread
        self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._handle)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._handle)
        return True

    def restore(self) -> None:
        """Give the handlers back; a signal still held back is dropped (the session is over)."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        self._depth, self._finished, self._pending = 0, None, None

    def ignore_sigterm(self) -> None:
        """During the write-up: a SIGTERM must not cut it short (SIGKILL still can)."""
        if self._previous:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def _held(self) -> bool:
        return self._depth > 0 or self._finished is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGTERM:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one write-up
        self._pending = signum
        self._deliver()

    def _deliver(self) -> None:
        if self._pending is None or self._held():
            return
        signum, self._pending = self._pending, None
        if signum == signal.SIGTERM:
            raise Terminated("stopped by SIGTERM")
        raise KeyboardInterrupt

    # -- the report pipeline: from a test body's return to its report being logged ------

    @pytest.hookimpl(hookwrapper=True, trylast=True)  # innermost: right after the body
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Iterator[None]:
        outcome: Any = yield
        error = outcome.excinfo[1] if outcome.excinfo is not None else None
        if not isinstance(error, KeyboardInterrupt):
            self._finished = pyfuncitem.nodeid  # passed or failed: its report is kept

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Iterator[None]:
        if call.when == "call":  # (an interrupted call never gets here: pytest re-raises)
            self._finished = item.nodeid  # also for items that are not Python functions
        outcome: Any = yield
        if outcome.excinfo is not None:  # no report will be logged
            self._finished = None
            self._deliver()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Iterator[None]:
        """Every implementation sees the report (the journal keeps it), then the signal."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if report.when == "call" and report.nodeid == self._finished:
                self._finished = None
            self._deliver()

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        """Safety net: a report made but never logged does not hold signals back for ever."""
        self._finished = None
        self._deliver()
