"""Options, markers, the session state, and "in use" by explicit request."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gradbench.plugin import options, state

_RESTORE_NUMERICS = pytest.StashKey[Callable[[], None]]()

MARKERS = (
    "gradbench: a gradbench suite case (applied to every test of the gradbench suites)",
    "gradbench_cuda: needs a CUDA device (skipped when none is available)",
    "gradbench_slow: long-running; runs in the full profile only (skipped in quick)",
    "gradbench_statistical: a calibrated statistical claim",
    "gradbench_remedies(kind, claims): parametrize (remedy, claim) over the remedy registry",
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from gradbench.plugin import hookspec

    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's, which loads --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    """Validate options, register markers, keep the state; act only when asked to."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    settings = options.parse(config)
    config.stash[state.KEY] = state.GradbenchSession(settings=settings)
    if settings.tf32 is not None or settings.deterministic is not None:
        from gradbench.devices import set_numerics

        config.stash[_RESTORE_NUMERICS] = set_numerics(settings.tf32, settings.deterministic)
    if settings.writes_results and not state.is_worker(config):
        _check_output(settings)
    reason = options.requested(config)
    if reason is not None:
        state.use_gradbench(config, reason)


def _check_output(settings: options.Settings) -> None:
    """Refuse, before anything runs, a results folder that cannot be written."""
    from gradbench import storage
    from gradbench.errors import InvalidArgument

    try:
        if settings.json_path is not None:
            storage.check_writable(settings.json_path.parent)
            storage.check_no_journal(settings.json_path)
        else:
            storage.check_writable(settings.storage)
    except InvalidArgument as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    state.release(config)
    restore = config.stash.get(_RESTORE_NUMERICS, None)
    if restore is not None:  # the flags were set for this session (each process its own)
        restore()
        del config.stash[_RESTORE_NUMERICS]
