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
        family_alpha: the probability that a run in which every claim is true fails.
        statistical_cases: an upper bound on the statistical cases (t-, z-, chi-square and
            KS tests at the per-case level; exact identities and equivalence tests aside) a
            run of the built-in suites records; the run's summary line prints the real count.
    """

    name: str
    max_examples: int
    seeds: int
    batch: int
    width_scale: int
    family_alpha: float
    statistical_cases: int

    @property
    def case_alpha(self) -> float:
        """Per-case level, Bonferroni: ``family_alpha / statistical_cases``."""
        return self.family_alpha / self.statistical_cases


PROFILES: dict[str, Profile] = {
    # statistical cases recorded at base seed 0: quick 485 of 1268, full 1259 of 3220 (the
    # full count measured before the 2-D CNN cases were added; not re-measured since)
    "quick": Profile("quick", max_examples=15, seeds=16, batch=32, width_scale=1,
                     family_alpha=0.05, statistical_cases=500),
    "full": Profile("full", max_examples=40, seeds=32, batch=64, width_scale=2,
                    family_alpha=0.01, statistical_cases=1500),
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
