"""How numbers are written in the report: display text and table sort keys.

Non-finite values never raise and never print as Python spells them: NaN is ``nan``,
infinities are ``inf`` / ``-inf``; in sort keys they are the JavaScript spellings the
page's table sorter reads (``NaN``, ``Infinity``, ``-Infinity``).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["config_label", "num", "seconds", "sort_key"]

#: A float written with more digits than a reader can use (``0.10000000000000002``).
_LONG_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d{5,}(?:e[-+]?\d+)?(?![\w.])")
#: Labels longer than this are not parsed as a Python literal.
_MAX_LITERAL = 2000


def _short_float(m: re.Match[str]) -> str:
    return f"{float(m.group(0)):.4g}"


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}={_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def config_label(label: str) -> str:
    """A configuration label as the report shows it: floats to 4 significant digits, and a
    configuration stored as a Python dict (a remedy's test cases) as ``name, key=value``, its
    ``None`` fields (defaults) left out.

    The stored label stays the configuration's identity (comparisons match on it); this is
    its display only.

    Examples:
        >>> config_label("{'kind': 'activation', 'remedy': 'elu', 'q': 0.10000000000000002}")
        'elu, q=0.1'
        >>> config_label("{'remedy': 'he_init', 'depth': 30, 'norm': None}")
        'he_init, depth=30'
        >>> config_label("residual-L3-n256-relu-he_normal-branch_scale=0.35355339059327373")
        'residual-L3-n256-relu-he_normal-branch_scale=0.3536'
    """
    text = str(label)
    if text.startswith("{") and text.endswith("}") and len(text) <= _MAX_LITERAL:
        try:
            config = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            config = None
        if isinstance(config, dict):
            name = config.get("remedy", config.get("name"))
            rest = {k: v for k, v in config.items()  # None: the field's default
                    if k not in ("kind", "remedy", "name") and v is not None}
            parts = ([str(name)] if name is not None else []) + [
                f"{k}={_value(v)}" for k, v in rest.items()
            ]
            return ", ".join(parts) or text
    return _LONG_FLOAT.sub(_short_float, text)


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
