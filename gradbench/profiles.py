"""Named run profiles: how much work a suite run does (no torch import).

``quick`` runs in a few minutes on 2 CPU cores; ``full`` is for nightly runs.
Suites read the active profile through the ``gradbench_config`` fixture, so the
same test file scales from a smoke run to a thorough one.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradbench.errors import InvalidArgument, choices_hint


@dataclass(frozen=True)
class Profile:
    """Work done by one suite run.

    Attributes:
        name: profile name.
        max_examples: Hypothesis examples per property test.
        seeds: independent networks per configuration.
        batch: examples per network.
        width_scale: multiplier on the suites' base widths.
        case_alpha: significance level of each statistical case: a family-wise level
            of 0.01 split (Bonferroni) over the cases a run of this profile checks, so a
            run with every claim true fails with probability <= 0.01.
    """

    name: str
    max_examples: int
    seeds: int
    batch: int
    width_scale: int
    case_alpha: float


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        "quick",
        max_examples=15,
        seeds=16,
        batch=32,
        width_scale=1,
        case_alpha=0.01 / 100,
    ),
    "full": Profile(
        "full",
        max_examples=40,
        seeds=32,
        batch=64,
        width_scale=2,
        case_alpha=0.01 / 1000,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``.

    Raises:
        InvalidArgument: unknown profile.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise InvalidArgument(
            f"profile {name!r} is unknown; {choices_hint(name, PROFILES)}"
        ) from None
