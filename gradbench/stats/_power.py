"""Binomial intervals, power of the t-test, and the seeds a claim needs."""

from __future__ import annotations

import math

from scipy import stats as sps

from gradbench.errors import InvalidArgument
from gradbench.records import ConfidenceInterval
from gradbench.stats._common import (  # noqa: F401
    check_count,
    check_float_array,
    check_level,
    check_real,
    finite_sample,
    mean_sd,
    plain,
    t_interval,
    t_ratio,
)

# --------------------------------------------------------------------------------------
# Binomial interval, power and sample size
# --------------------------------------------------------------------------------------


def _binomial_interval_iv(k: object, n: object, confidence_level: object) -> tuple[int, int, float]:
    nn = check_count("n", n, 1)
    kk = check_count("k", k, 0)
    if kk > nn:
        raise InvalidArgument(f"k={k!r} must be an integer in [0, n={nn}]")
    return kk, nn, check_level("confidence_level", confidence_level)


def binomial_interval(k: int, n: int, confidence_level: float = 0.99) -> ConfidenceInterval:
    r"""Clopper-Pearson (exact) confidence interval for a binomial proportion.

    With :math:`k` successes in :math:`n` trials and :math:`a = 1 - c`:

    .. math::

        \text{low} = B^{-1}(a/2;\, k, n - k + 1), \qquad
        \text{high} = B^{-1}(1 - a/2;\, k + 1, n - k),

    with ``low = 0`` when ``k = 0`` and ``high = 1`` when ``k = n`` (Clopper & Pearson
    1934). Coverage is at least ``c`` for every true proportion. Used to check that a
    measured false-alarm rate is consistent with the nominal ``alpha``.

    Args:
        k: number of successes, ``0 <= k <= n``.
        n: number of trials, ``>= 1``.
        confidence_level: coverage in (0, 1).

    Returns:
        ``ConfidenceInterval(low, high)``.

    Raises:
        InvalidArgument: ``n < 1``, ``k`` outside [0, n], or ``confidence_level``
            outside (0, 1).

    Examples:
        >>> ci = binomial_interval(10, 1000)
        >>> round(ci.low, 5), round(ci.high, 5)
        (0.00373, 0.02128)
    """
    kk, nn, level = _binomial_interval_iv(k, n, confidence_level)
    a = 1.0 - level
    low = 0.0 if kk == 0 else float(sps.beta.ppf(a / 2.0, kk, nn - kk + 1))
    high = 1.0 if kk == nn else float(sps.beta.ppf(1.0 - a / 2.0, kk + 1, nn - kk))
    return ConfidenceInterval(low, high)


def _t_test_power_iv(
    effect: object, sd: object, n: object, alpha: object
) -> tuple[float, float, int, float]:
    e = check_real("effect", effect)
    s = check_real("sd", sd)
    if s <= 0.0:
        raise InvalidArgument(f"sd={sd!r} must be > 0")
    return e, s, check_count("n", n, 2), check_level("alpha", alpha)


def _power(effect_over_sd: float, n: int, alpha: float) -> float:
    df = n - 1
    crit = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    nc = effect_over_sd * math.sqrt(n)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def t_test_power(effect: float, sd: float, n: int, alpha: float = 0.01) -> float:
    r"""Power of the two-sided one-sample t-test (:func:`slope_test` with ``tolerance=0``).

    With noncentrality :math:`\lambda = \sqrt n\, \delta/\sigma` and critical value
    :math:`c = t_{n-1, 1-\alpha/2}`, the power is
    :math:`P(T' > c) + P(T' < -c)`, :math:`T' \sim t'_{n-1}(\lambda)` (noncentral t;
    e.g. Cohen 1988, ch. 2).

    Args:
        effect: true deviation :math:`\delta` of the mean from the tested value.
        sd: per-seed standard deviation :math:`\sigma > 0`.
        n: number of seeds, ``>= 2``.
        alpha: significance level in (0, 1).

    Returns:
        The rejection probability (equal to ``alpha`` when ``effect == 0``).

    Raises:
        InvalidArgument: non-finite ``effect``, ``sd <= 0``, ``n < 2`` or ``alpha``
            outside (0, 1).

    Examples:
        >>> round(t_test_power(1.0, 1.0, 16, alpha=0.01), 4)
        0.8346
    """
    e, s, nn, a = _t_test_power_iv(effect, sd, n, alpha)
    return _power(e / s, nn, a)


def _required_seeds_iv(
    effect: object, sd: object, alpha: object, power: object, max_seeds: object
) -> tuple[float, float, float, int]:
    e = check_real("effect", effect)
    if e == 0.0:
        raise InvalidArgument(f"effect={effect!r} must be non-zero")
    s = check_real("sd", sd)
    if s <= 0.0:
        raise InvalidArgument(f"sd={sd!r} must be > 0")
    a = check_level("alpha", alpha)
    pw = check_level("power", power)
    if pw <= a:
        raise InvalidArgument(f"power={power!r} must exceed alpha={alpha!r}")
    return abs(e) / s, a, pw, check_count("max_seeds", max_seeds, 2)


def required_seeds(
    effect: float,
    sd: float,
    alpha: float = 0.01,
    power: float = 0.9,
    *,
    max_seeds: int = 1_000_000,
) -> int:
    r"""Smallest number of seeds for the two-sided one-sample t-test to reach ``power``.

    Returns the least :math:`n \ge 2` with :func:`t_test_power` ``(effect, sd, n, alpha)
    >= power`` (noncentral t; Cohen 1988, ch. 2), found by doubling then bisection on
    the power, which increases with :math:`n`. Use it to plan ``n_seeds`` for
    :func:`slope_test` from a pilot estimate of the per-seed slope sd.

    Args:
        effect: smallest deviation worth detecting (its sign is irrelevant), non-zero.
        sd: per-seed standard deviation, ``> 0``.
        alpha: significance level in (0, 1).
        power: target power in (``alpha``, 1).
        max_seeds: give up above this many seeds.

    Returns:
        The required number of seeds.

    Raises:
        InvalidArgument: ``effect == 0``, ``sd <= 0``, ``alpha`` or ``power`` outside
            (0, 1), ``power <= alpha``, or more than ``max_seeds`` seeds would be needed.

    Examples:
        >>> required_seeds(1.0, 1.0, alpha=0.01, power=0.9)
        19
    """
    ratio, a, pw, cap = _required_seeds_iv(effect, sd, alpha, power, max_seeds)
    if _power(ratio, 2, a) >= pw:
        return 2
    lo, hi = 2, 4  # invariant: power(lo) < pw
    while _power(ratio, min(hi, cap), a) < pw:
        if hi >= cap:
            raise InvalidArgument(
                f"max_seeds={cap!r} seeds are not enough for power={pw!r} at "
                f"effect/sd={ratio:.3g} and alpha={a!r}; raise max_seeds or the effect"
            )
        lo, hi = hi, 2 * hi
    hi = min(hi, cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _power(ratio, mid, a) >= pw:
            hi = mid
        else:
            lo = mid
    return hi
