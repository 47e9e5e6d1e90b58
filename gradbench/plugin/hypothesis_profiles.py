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
"""

from __future__ import annotations

import os
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
    return previous


def restore(previous: str | None) -> None:
    """Load ``previous`` again (``None``: nothing was loaded)."""
    if previous is not None:
        from hypothesis import settings

        settings.load_profile(previous)
