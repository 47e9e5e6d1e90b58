r"""How much the gradient norm grows with depth: one estimator, one vocabulary.

Claims, the report and the CLI all measure growth here (docs/theory.md §9.1). Conventions:

* A network of **depth L** has L probe sites ``s_1 .. s_L`` (layers, residual blocks, time
  steps) and **L - 1 site-to-site steps** between the first and the last.
* Per network (the independent unit), the **end-to-end log ratio** towards the input
  :math:`r = \ln\|\partial L/\partial s_1\| - \ln\|\partial L/\partial s_L\|` (positive:
  the gradient grows on its way back to the input).
* Across networks, the mean :math:`\bar r` with a Student-t interval. The **end-to-end
  factor** is :math:`e^{\bar r}`, the **per-step factor** :math:`e^{\bar r/(L-1)}` (the
  geometric mean of the step factors; mean field: :math:`\sqrt{\chi_1}`, docs/theory.md §1.1).
  The end-to-end ratio is the efficient estimator of a random walk's drift (its spread is
  about 0.7 of a least-squares slope's) and it is the quantity a user meets: how much of
  the gradient reaches the first layer.
* **Classes**, the one vocabulary (:data:`GROWTH_CLASSES`), judged on the end-to-end factor
  at the depth measured against :data:`STABLE_WITHIN` = K: ``stable`` when its interval
  lies inside (1/K, K), ``vanishing`` below 1/K, ``exploding`` above K, ``inconclusive``
  when it straddles a bound, and ``nonfinite`` when a gradient is NaN (an infinite one
  is ``exploding``, an exact zero ``vanishing``). An interval at ``1 - 2 alpha`` makes
  ``stable`` the verdict of a TOST at level alpha (Schuirmann 1987).

Plain words (:func:`growth_in_words`): "gradients grow x1.10 per layer, x16 over the 29
layer-to-layer steps of depth 30".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradbench.errors import InvalidArgument
from gradbench.records import decode_float
from gradbench.stats._common import check_level, plain, t_interval

STABLE_WITHIN = 10.0
"""K: gradients are stable at a depth when the end-to-end factor lies in (1/K, K)
(docs/theory.md §9.2: one order of magnitude between the first and the last layer)."""

GROWTH_CONFIDENCE = 0.90
"""Default coverage of a growth interval: ``1 - 2 alpha`` at the stability claims' level
alpha = 0.05, so a class read from it is the verdict of their TOST."""

GROWTH_CLASSES = ("exploding", "nonfinite", "vanishing", "stable", "inconclusive")
"""Every class a growth can get, most alarming first."""

_MAX_EXP = 709.0  # exp() of anything larger overflows a float64


def _exp(x: float) -> float:
    """``exp(x)``, ``inf`` instead of an overflow and NaN for NaN."""
    if math.isnan(x):
        return math.nan
    return math.inf if x > _MAX_EXP else math.exp(x)


def _norms_2d(norms: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(norms, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"norms must be an array of gradient norms, got {type(norms).__name__}"
        ) from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise InvalidArgument(
            f"norms must be a [seeds, sites] array with at least one site, got shape {arr.shape}"
        )
    return arr


def log_norms(norms: ArrayLike) -> NDArray[np.float64]:
    """``[seeds, sites]`` natural log of the gradient norms; NaN where a norm is not finite
    and positive (the one place ``ln ||dL/ds||`` is computed).

    Examples:
        >>> log_norms([[1.0, 0.0, float("inf")]]).tolist()
        [[0.0, nan, nan]]
    """
    arr = _norms_2d(norms)
    out = np.full(arr.shape, np.nan)
    ok = np.isfinite(arr) & (arr > 0.0)
    out[ok] = np.log(arr[ok])
    return out


def log_ratios(norms: ArrayLike) -> NDArray[np.float64]:
    """Per network, the end-to-end log ratio ``ln ||dL/ds_1|| - ln ||dL/ds_L||`` towards the
    input (NaN where either norm is not finite and positive; 0 for a single site).

    Examples:
        >>> log_ratios([[4.0, 2.0, 1.0], [1.0, 1.0, 2.0]]).round(4).tolist()
        [1.3863, -0.6931]
    """
    logs = log_norms(norms)
    return logs[:, 0] - logs[:, -1]


def classify_growth(low: float, high: float, *, within: float = STABLE_WITHIN,
                    n_inf: int = 0, n_nan: int = 0, n_zero: int = 0) -> str:
    """The class of an interval ``[low, high]`` of the end-to-end log ratio (module docstring).

    Examples:
        >>> classify_growth(-0.5, 0.3), classify_growth(-6.0, -4.0), classify_growth(1.0, 3.0)
        ('stable', 'vanishing', 'inconclusive')
    """
    if n_inf:
        return "exploding"
    if n_nan:
        return "nonfinite"
    if n_zero:
        return "vanishing"
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    bound = math.log(within)
    if high < -bound:
        return "vanishing"
    if low > bound:
        return "exploding"
    if -bound < low and high < bound:
        return "stable"
    return "inconclusive"


def _factor(value: float) -> str:
    """A factor for plain words: 2 significant digits (16, 0.16, 2.7), scientific outside
    [1e-3, 1e4) (1.2e4, 4.7e-8); 0 for zero."""
    if not math.isfinite(value):
        return str(value)
    if value == 0.0:
        return "0"
    if not 1e-3 <= value < 1e4:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{float(f'{value:.2g}'):g}"


def _factor_of_log(log_value: float) -> str:
    """:func:`_factor` of ``exp(log_value)``, also beyond float's range (x2.7e752).

    Examples:
        >>> _factor_of_log(4999 * math.log(math.sqrt(2))), _factor_of_log(-math.inf)
        ('2.7e752', '0')
    """
    if abs(log_value) <= _MAX_EXP or not math.isfinite(log_value):
        return _factor(_exp(log_value))
    decimal = log_value / math.log(10.0)
    exponent = math.floor(decimal)
    mantissa = 10.0 ** (decimal - exponent)
    if round(mantissa, 1) >= 10.0:
        mantissa, exponent = mantissa / 10.0, exponent + 1
    return f"{mantissa:.1f}e{exponent}"


def _per_step(value: float) -> str:
    """A per-step factor: enough decimals to show how far it is from 1 (x1.10, x0.998)."""
    if not math.isfinite(value):
        return str(value)
    if value == 0.0 or not 0.1 <= value < 10:
        return _factor(value)
    gap = abs(value - 1.0)
    decimals = 2 if gap >= 0.01 or gap == 0.0 else 3 if gap >= 0.001 else 4
    return f"{value:.{decimals}f}"


def _span(sites: int, unit: str) -> str:
    if unit.endswith("step"):
        return f"the {sites - 1} steps of {sites} time steps"
    return f"the {sites - 1} {unit}-to-{unit} steps of depth {sites}"


def growth_in_words(per_step: float, sites: int, unit: str = "layer") -> str:
    """The growth in plain words, e.g. "gradients grow x1.10 per layer, x16 over the 29
    layer-to-layer steps of depth 30" (``unit``: ``layer``, ``block`` or ``step``).

    Args:
        per_step: the per-step factor (towards the input).
        sites: the depth L (probe sites).
        unit: what one site is.

    Examples:
        >>> growth_in_words(1.0999, 30)
        'gradients grow x1.10 per layer, x16 over the 29 layer-to-layer steps of depth 30'
        >>> growth_in_words(0.9, 100)
        'gradients shrink x0.90 per layer, x3.0e-5 over the 99 layer-to-layer steps of depth 100'
    """
    if sites < 2:
        return f"one {unit}: no {unit}-to-{unit} step to grow over"
    if not per_step >= 0.0 or math.isnan(per_step):
        return f"gradients are not finite at depth {sites}"
    log_total = (sites - 1) * math.log(per_step) if per_step > 0 else -math.inf
    verb = "grow" if per_step >= 1.0 else "shrink"
    per = "per time step" if unit.endswith("step") else f"per {unit}"
    return (f"gradients {verb} x{_per_step(per_step)} {per}, x{_factor_of_log(log_total)} over "
            f"{_span(sites, unit)}")


def stable_depth(per_step: float, within: float = STABLE_WITHIN) -> float:
    """The largest depth L whose end-to-end factor ``per_step ** (L - 1)`` stays strictly
    inside (1/K, K); ``inf`` for a per-step factor of exactly 1.

    Examples:
        >>> stable_depth(1.0999), stable_depth(1.0352), stable_depth(1.0)
        (25, 67, inf)
    """
    if not per_step > 0.0 or not math.isfinite(per_step):
        return 1
    rate = abs(math.log(per_step))
    if rate == 0.0:
        return math.inf
    return max(1, math.ceil(math.log(within) / rate))


@dataclass(frozen=True)
class GradientGrowth:
    """How the gradient norm grows from the last site to the first, across networks.

    Attributes:
        sites: the depth L (number of probe sites); L - 1 steps lie between them.
        log_ratio: mean over networks of ``ln ||dL/ds_1|| - ln ||dL/ds_L||`` (NaN when no
            network has a finite ratio).
        low, high: its Student-t interval at ``confidence`` (NaN with fewer than 2 networks).
        confidence: the interval's coverage.
        networks: networks with a finite ratio (the sample size).
        seeds: networks measured.
        n_inf, n_nan, n_zero: gradient norms (any site) that are infinite, NaN or exactly 0.
        unit: what a site is (``layer``, ``block``, ``step``), for the words.
    """

    sites: int
    log_ratio: float
    low: float
    high: float
    confidence: float
    networks: int
    seeds: int
    n_inf: int = 0
    n_nan: int = 0
    n_zero: int = 0
    unit: str = "layer"

    @property
    def steps(self) -> int:
        """Site-to-site steps, ``sites - 1``."""
        return max(0, self.sites - 1)

    def _per(self, x: float) -> float:
        if math.isnan(x):
            return math.nan
        return _exp(x / self.steps) if self.steps else 1.0

    @property
    def per_step(self) -> float:
        """Per-step factor ``exp(log_ratio / (L - 1))`` (< 1: shrinking towards the input)."""
        return self._per(self.log_ratio)

    @property
    def per_step_interval(self) -> tuple[float, float]:
        return self._per(self.low), self._per(self.high)

    @property
    def end_to_end(self) -> float:
        """End-to-end factor ``exp(log_ratio)``: the first site's norm over the last's."""
        return _exp(self.log_ratio)

    @property
    def end_to_end_interval(self) -> tuple[float, float]:
        return _exp(self.low), _exp(self.high)

    def klass(self, within: float = STABLE_WITHIN) -> str:
        """The class (:data:`GROWTH_CLASSES`) of the end-to-end interval at this depth."""
        return classify_growth(self.low, self.high, within=within, n_inf=self.n_inf,
                               n_nan=self.n_nan, n_zero=self.n_zero)

    @property
    def words(self) -> str:
        """:func:`growth_in_words` of the measured per-step factor at this depth."""
        if self.networks == 0 and self.n_zero and not (self.n_inf or self.n_nan):
            return (f"gradients are exactly zero within depth {self.sites} in every network "
                    "(nothing reaches the input)")
        if self.networks == 0:
            return f"gradients are not finite at depth {self.sites}"
        return growth_in_words(self.per_step, self.sites, self.unit)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (with the derived factors, for readers without this class)."""
        return {**plain(self), "per_step": self.per_step,
                "per_step_interval": list(self.per_step_interval),
                "end_to_end": self.end_to_end,
                "end_to_end_interval": list(self.end_to_end_interval),
                "class": self.klass(), "words": self.words}

    @classmethod
    def from_dict(cls, data: Any) -> GradientGrowth:
        """Rebuild from :meth:`to_dict` output (derived keys are ignored)."""
        try:
            counts = {k: int(data.get(k, 0)) for k in ("n_inf", "n_nan", "n_zero")}
            return cls(int(data["sites"]), decode_float(data["log_ratio"]),
                       decode_float(data["low"]), decode_float(data["high"]),
                       decode_float(data["confidence"]), int(data["networks"]),
                       int(data["seeds"]), **counts, unit=str(data.get("unit", "layer")))
        except KeyError as exc:
            raise InvalidArgument(f"gradient-growth record lacks field {exc.args[0]!r}") from None


def growth_of_ratios(ratios: ArrayLike, sites: int, *,
                     confidence: float = GROWTH_CONFIDENCE,
                     unit: str = "layer", n_inf: int = 0, n_nan: int = 0,
                     n_zero: int = 0) -> GradientGrowth:
    """:class:`GradientGrowth` from per-network end-to-end log ratios (:func:`log_ratios`)."""
    level = check_level("confidence", confidence)
    values = np.asarray(ratios, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    mean = float(finite.mean()) if n else math.nan
    low = high = math.nan
    if n >= 2:
        se = float(finite.std(ddof=1)) / math.sqrt(n)
        low, high = t_interval(mean, se, n - 1, level)
    return GradientGrowth(int(sites), mean, float(low), float(high), level, n, int(values.size),
                          n_inf, n_nan, n_zero, unit)


def gradient_growth(norms: ArrayLike, *, confidence: float = GROWTH_CONFIDENCE,
                    unit: str = "layer") -> GradientGrowth:
    """The growth of ``[seeds, sites]`` gradient norms (e.g. ``Measurement.act_grad_norms``).

    Args:
        norms: per network and site, ``||dL/ds||``.
        confidence: coverage of the interval (``1 - 2 alpha`` for a TOST at alpha).
        unit: what a site is, for the words.

    Returns:
        A :class:`GradientGrowth`.

    Raises:
        InvalidArgument: ``norms`` is not a ``[seeds, sites]`` array, or ``confidence`` is
            not in (0, 1).

    Examples:
        >>> g = gradient_growth([[4.0, 2.0, 1.0], [4.2, 2.0, 1.0]])
        >>> round(g.end_to_end, 2), round(g.per_step, 3), g.klass()
        (4.1, 2.025, 'stable')
        >>> g.words
        'gradients grow x2.02 per layer, x4.1 over the 2 layer-to-layer steps of depth 3'
    """
    arr = _norms_2d(norms)
    return growth_of_ratios(
        log_ratios(arr), arr.shape[1], confidence=confidence, unit=unit,
        n_inf=int(np.isposinf(arr).sum()), n_nan=int(np.isnan(arr).sum()),
        n_zero=int((arr == 0.0).sum()))


__all__ = [
    "GROWTH_CLASSES", "GROWTH_CONFIDENCE", "STABLE_WITHIN", "GradientGrowth", "classify_growth",
    "gradient_growth", "growth_in_words", "growth_of_ratios", "log_norms", "log_ratios",
    "stable_depth",
]
