"""How numbers are written in the report: display text and table sort keys.

Non-finite values never raise and never print as Python spells them: NaN is ``nan``,
infinities are ``inf`` / ``-inf``; in sort keys they are the JavaScript spellings the
page's table sorter reads (``NaN``, ``Infinity``, ``-Infinity``).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["num", "seconds", "sort_key"]


def num(x: Any, digits: int = 3) -> str:
    """Format a number for display: ``nan``/``inf``/``-inf`` for non-finite values.

    Examples:
        >>> [num(v) for v in (None, 0.0, 0.5, 1234.4, 1e-7, float("inf"))]
        ['—', '0', '0.5', '1234', '1.00e-07', 'inf']
    """
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x).lower()
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if 1e3 <= abs(v) < 1e5:
        return f"{v:.0f}"
    if 1e-3 <= abs(v) < 1e3:
        return f"{v:.{digits}g}"
    return f"{v:.{max(digits - 1, 1)}e}"


def sort_key(x: float) -> str:
    """The ``data-sort`` value of a numeric table cell (exact, JavaScript-readable)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(float(x))


def seconds(v: float) -> str:
    """A duration in the largest unit that keeps it >= 1 (``1.2 ms``); ``—`` for NaN."""
    if not math.isfinite(v):
        return num(v) if not math.isnan(v) else "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(v) >= scale or unit == "ns":
            return f"{v / scale:.3g} {unit}"
    return num(v)
