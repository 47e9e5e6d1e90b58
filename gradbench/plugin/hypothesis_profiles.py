"""gradbench's Hypothesis profiles: own names, registered and loaded only when in use.

=================== ==================================================================
``gradbench-quick``  derandomized, no database, no deadline, the quick profile's examples
``gradbench-full``   the same with the full profile's examples
``gradbench-ci``     the active one on top of Hypothesis's ``ci`` (adds ``print_blob``);
                     chosen when Hypothesis itself loaded ``ci`` (it does on CI)
``gradbench-dev``    the active one, randomized, with Hypothesis's default database
=================== ==================================================================

Derandomized by default so that every verdict is a pure function of the command line.
``--hypothesis-profile`` or ``HYPOTHESIS_PROFILE`` choose any profile explicitly.
Hypothesis's own ``default`` and ``ci`` profiles are never replaced, and the profile
that was active before the session is loaded again when it ends.

Three more things keep a test's cases a function of that test alone:

* a parametrized test's examples are seeded with its suite id ``suites/<file>::<test>[...]``,
  not with the node id Hypothesis's pytest plugin uses, which depends on the rootdir
  (``gradbench.plugin.fixtures``): ``pytest suites`` in the checkout, ``gradbench run``
  and a copy of the suites elsewhere draw the same examples;

* ``report_multiple_bugs=False``: after a first failure Hypothesis would otherwise keep
  generating for up to 10 seconds of wall-clock time looking for other bugs, so how
  many cases a failing test records would depend on the machine's speed;
* Hypothesis (6.131 and later) mixes literals found in the source of every *local*
  module imported so far (not installed under ``site-packages``) into about 5% of its
  draws. Which modules are imported depends on what else the run loads: a
  ``--remedy my_remedies:he_init`` module in the working directory, or, with an editable
  install, the gradbench modules earlier tests happened to import. Adding an initializer
  then changed the ``q`` drawn for every activation test. While gradbench's profile is
  loaded that pool stays empty (:func:`_no_local_constants`); Hypothesis's built-in
  constants (0, 1, the float boundaries, ...) are still drawn. That pool also cached
  each module's literals under ``.hypothesis/constants/`` in the working directory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import pytest

from gradbench.profiles import PROFILES, Profile

NAMES = (*(f"gradbench-{name}" for name in PROFILES), "gradbench-ci", "gradbench-dev")


def register(active: Profile) -> None:
    """Register every ``gradbench-*`` profile (``ci`` and ``dev`` follow ``active``)."""
    from hypothesis import HealthCheck, settings

    def common(profile: Profile) -> dict[str, Any]:
        return dict(
            max_examples=profile.max_examples,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.function_scoped_fixture,
                HealthCheck.data_too_large,
            ],
        )

    for profile in PROFILES.values():
        settings.register_profile(
            f"gradbench-{profile.name}", derandomize=True, database=None, **common(profile)
        )
    settings.register_profile(
        "gradbench-ci", settings.get_profile("ci"), derandomize=True, database=None,
        print_blob=True, **common(active),
    )
    settings.register_profile(
        "gradbench-dev", derandomize=False, database=settings.get_profile("default").database,
        **common(active),
    )


def load(active: Profile, config: pytest.Config) -> str | None:
    """Register the profiles and load gradbench's; return the name to restore later.

    Nothing is loaded when ``--hypothesis-profile`` was given (Hypothesis's plugin
    loads that one). ``HYPOTHESIS_PROFILE`` names the profile to load instead.

    Raises:
        pytest.UsageError: ``HYPOTHESIS_PROFILE`` names no registered profile.
    """
    from hypothesis import settings
    from hypothesis.errors import InvalidArgument as HypothesisInvalidArgument

    register(active)
    if config.getoption("hypothesis_profile", None):
        _no_local_constants()
        return None
    previous = settings.get_current_profile_name()
    chosen = os.environ.get("HYPOTHESIS_PROFILE") or (
        "gradbench-ci" if previous == "ci" else f"gradbench-{active.name}"
    )
    try:
        settings.load_profile(chosen)
    except HypothesisInvalidArgument:
        raise pytest.UsageError(
            f"HYPOTHESIS_PROFILE={chosen!r} is not a registered Hypothesis profile; "
            f"gradbench's are {', '.join(NAMES)}"
        ) from None
    _no_local_constants()
    return previous


def restore(previous: str | None) -> None:
    """Load ``previous`` again (``None``: nothing was loaded); local constants come back."""
    _restore_local_constants()
    if previous is not None:
        from hypothesis import settings

        settings.load_profile(previous)


_saved: list[Callable[[], Any]] = []  # Hypothesis's own collector, once per nested session


def _no_local_constants() -> None:
    """Keep Hypothesis's pool of local-module literals empty (see the module docstring).

    Hypothesis has no setting for this, so the collector function its provider calls is
    replaced while gradbench is in use and put back by :func:`restore` (sessions nest:
    the outermost one puts it back); a Hypothesis without it has nothing to replace.
    ``tests/test_integration.py`` checks the effect: adding a remedy module leaves the
    configurations other tests draw as they were.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the module
        return
    collector = getattr(providers, "_get_local_constants", None)
    if collector is None:
        return
    _saved.append(collector)
    if len(_saved) == 1:
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty
        _clear_constant_cache(providers)


def _restore_local_constants() -> None:
    if not _saved:
        return
    from hypothesis.internal.conjecture import providers

    original = _saved.pop()
    if not _saved:
        providers._get_local_constants = original
        _clear_constant_cache(providers)


def _clear_constant_cache(providers: Any) -> None:
    """Drop the per-constraint constants Hypothesis cached from the pool it had before."""
    with contextlib.suppress(AttributeError):
        providers.CONSTANTS_CACHE.cache.clear()
