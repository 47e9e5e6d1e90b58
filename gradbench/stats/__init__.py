"""Statistical tests for gradient-flow claims; NumPy/SciPy only (never imports torch).

The independent unit everywhere is the *seed*: one random network (weights and inputs)
yields one row of per-site log gradient norms, :func:`fit_slopes` turns each row into
one slope, and the tests below treat those per-seed values as i.i.d. draws. Sites
within one network are correlated and are never counted as independent samples.

Every test returns a ``@dataclass(frozen=True)`` result with ``statistic``, ``pvalue``,
``passed`` and ``confidence_interval(confidence_level)`` (scipy.stats style). Inputs are
validated once, in a ``_<fn>_iv`` helper, and a bad value raises
:class:`~gradbench.errors.InvalidArgument` with one sentence naming the argument, its
value and the valid range.

Growth of the gradient norm with depth (:func:`gradient_growth`, :func:`growth_in_words`,
:func:`classify_growth`) is measured in one place, for the claims, the report and the CLI:
the end-to-end log ratio per network over the L - 1 steps of depth L.

Conventions:
    * ``alpha`` is the pre-registered false-alarm rate of one test; correct for many
      tests with :func:`holm` (family-wise error) or :func:`benjamini_hochberg` (FDR).
    * ``slope_test`` *passes* when the claim is not rejected (``pvalue >= alpha``);
      ``tost`` *passes* when equivalence is shown (``pvalue < alpha``).
"""

from __future__ import annotations

from gradbench.stats._equivalence import TOSTResult, tost
from gradbench.stats._growth import (
    GROWTH_CLASSES,
    GROWTH_CONFIDENCE,
    STABLE_WITHIN,
    GradientGrowth,
    classify_growth,
    gradient_growth,
    growth_in_words,
    growth_of_ratios,
    log_norms,
    log_ratios,
    stable_depth,
)
from gradbench.stats._multiplicity import (
    benjamini_hochberg,
    benjamini_hochberg_adjusted,
    holm,
    holm_adjusted,
)
from gradbench.stats._power import binomial_interval, required_seeds, t_test_power
from gradbench.stats._slopes import SlopeTestResult, fit_slopes, slope_test
from gradbench.stats._variance import VarianceTestResult, variance_test

__all__ = [
    "GROWTH_CLASSES",
    "GROWTH_CONFIDENCE",
    "STABLE_WITHIN",
    "GradientGrowth",
    "SlopeTestResult",
    "TOSTResult",
    "VarianceTestResult",
    "benjamini_hochberg",
    "benjamini_hochberg_adjusted",
    "binomial_interval",
    "classify_growth",
    "fit_slopes",
    "gradient_growth",
    "growth_in_words",
    "growth_of_ratios",
    "holm",
    "holm_adjusted",
    "log_norms",
    "log_ratios",
    "required_seeds",
    "slope_test",
    "stable_depth",
    "t_test_power",
    "tost",
    "variance_test",
]
