"""Shared input validation and small helpers of :mod:`gradbench.stats`."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from gradbench.errors import InvalidArgument
from gradbench.records import ConfidenceInterval

# --------------------------------------------------------------------------------------
# Shared validation helpers
# --------------------------------------------------------------------------------------


def check_real(name: str, value: object) -> float:
    """``value`` as a finite float, or raise naming ``name``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not ok or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise InvalidArgument(f"{name}={value!r} must be a finite real number")
    return float(value)  # type: ignore[arg-type]


def check_level(name: str, value: object) -> float:
    """A probability strictly inside (0, 1), e.g. ``alpha`` or ``confidence_level``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if not ok or not 0.0 < float(value) < 1.0:  # type: ignore[arg-type]
        raise InvalidArgument(f"{name}={value!r} must be a number in the open interval (0, 1)")
    return float(value)  # type: ignore[arg-type]


def check_count(name: str, value: object, low: int) -> int:
    """An integer ``>= low`` (bools rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {low}")
    if value < low:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {low}")
    return int(value)


def check_float_array(name: str, value: ArrayLike, ndim: int | None) -> NDArray[np.float64]:
    """``value`` as a float64 array with ``ndim`` dimensions (any when ``None``)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"{name} must be an array of real numbers, got {type(value).__name__}"
        ) from None
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgument(
            f"{name} must be a {ndim}-D array, got shape {arr.shape} ({arr.ndim}-D)"
        )
    return arr


def finite_sample(name: str, value: ArrayLike, min_n: int = 2) -> tuple[NDArray[np.float64], int]:
    """The finite entries of a 1-D sample and how many were dropped as non-finite."""
    arr = check_float_array(name, value, ndim=1)
    finite = arr[np.isfinite(arr)]
    if finite.size < min_n:
        raise InvalidArgument(
            f"{name} has {finite.size} finite value(s) out of {arr.size}, "
            f"need at least {min_n} finite seeds"
        )
    return finite, int(arr.size - finite.size)


def t_ratio(numerator: float, se: float) -> float:
    """``numerator / se`` with the limits ``0/0 = 0`` and ``x/0 = +-inf`` (zero spread)."""
    if se > 0.0:
        return numerator / se
    if numerator == 0.0:
        return 0.0
    return math.copysign(math.inf, numerator)


def mean_sd(x: NDArray[np.float64]) -> tuple[float, float]:
    return float(np.mean(x)), float(np.std(x, ddof=1))


def t_interval(estimate: float, se: float, df: int, confidence_level: float) -> ConfidenceInterval:
    half = float(sps.t.ppf(0.5 + confidence_level / 2.0, df)) * se
    return ConfidenceInterval(estimate - half, estimate + half)


def plain(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}
