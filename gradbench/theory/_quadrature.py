r"""Gaussian expectations by composite Gauss-Legendre quadrature, split at kinks.

The one numerical integrator of :mod:`gradbench.theory`: :func:`gauss_expect` for
:math:`E f(\sqrt q z)` and :func:`gauss_expect2` for bivariate Gaussian expectations,
plus the argument checks the other theory modules share.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np

from gradbench.errors import InvalidArgument

NumpyFn = Callable[[np.ndarray], np.ndarray]


Z_MAX = 12.0
"""Truncation of the standard normal: P(|z| > 12) = 3.6e-33."""
_PANEL = 2.0  # base panel width in z
_ORDER = 16  # Gauss-Legendre nodes per panel
_FEATURES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # x-scales resolved for any q
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_ORDER)
_PANEL2, _ORDER2 = 3.0, 12  # inner panels of the bivariate quadrature
_GL2_X, _GL2_W = np.polynomial.legendre.leggauss(_ORDER2)
_FEATURES2 = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
Q_TINY = 1e-250
"""Activation moments at q = 0 are taken as their right limits, evaluated at this q."""
Q_HUGE = 1e250
"""Activation moments at q = inf are taken as their limits, evaluated at this q."""


def _feature_points(kinks: Sequence[float], features: Sequence[float] = _FEATURES) -> np.ndarray:
    feats = [s * f for f in features for s in (1.0, -1.0)]
    return np.asarray([*feats, *kinks], dtype=np.float64)


def _panels(
    breaks: np.ndarray, gl_x: np.ndarray = _GL_X, gl_w: np.ndarray = _GL_W
) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and Gaussian-weighted weights on consecutive ``breaks`` (last axis)."""
    a, b = breaks[..., :-1, None], breaks[..., 1:, None]
    half = (b - a) / 2.0
    z = (half * gl_x + (a + b) / 2.0).reshape(*breaks.shape[:-1], -1)
    w = (half * gl_w).reshape(*breaks.shape[:-1], -1) * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return z, w


@functools.lru_cache(maxsize=8192)
def _nodes(q: float, kinks: tuple[float, ...], extra: tuple[float, ...] = ()) -> tuple[
    np.ndarray, np.ndarray
]:
    """Nodes z and weights w with ``sum(w * f(sqrt(q) z)) ~= E f(sqrt(q) z)``."""
    base = np.arange(-Z_MAX, Z_MAX + 1e-9, _PANEL)
    parts = [base, np.asarray(extra, dtype=np.float64)]
    if q > 0.0:
        parts.append(_feature_points(kinks) / math.sqrt(q))
    breaks = np.unique(np.clip(np.concatenate(parts), -Z_MAX, Z_MAX))
    z, w = _panels(breaks)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def _check_q(name: str, q: object) -> float:
    ok = isinstance(q, (int, float, np.floating, np.integer)) and not isinstance(q, bool)
    if not ok or not math.isfinite(float(q)) or float(q) < 0:  # type: ignore[arg-type]
        raise InvalidArgument(f"{name}={q!r} must be a finite number >= 0")
    return float(q)  # type: ignore[arg-type]


def gauss_expect(f: NumpyFn, q: float, kinks: Sequence[float] = ()) -> float:
    r"""Gaussian expectation :math:`\mathbb{E}_{z\sim N(0,1)} f(\sqrt{q}\,z)`.

    Composite Gauss-Legendre quadrature (16 nodes per panel) on :math:`|z| \le 12`,
    with panel breaks every 2 in ``z``, at the images ``x / sqrt(q)`` of the points
    ``x = 0, +-1/4, ..., +-16`` (so sharp features at any scale ``q`` are resolved), and
    at every kink ``x`` of ``f`` (``z = x / sqrt(q)``). For the closed forms of docs/theory.md
    1.2 (ReLU, erf) it agrees to about 1e-15 relative over ``q`` in [1e-8, 1e8].

    Args:
        f: vectorised float64 function of ``x``.
        q: variance of the Gaussian argument (``q = 0`` gives ``f(0)``).
        kinks: points (in ``x``) where ``f`` is not smooth.

    Returns:
        The expectation.

    Raises:
        InvalidArgument: ``q`` negative or not finite.

    Examples:
        >>> round(gauss_expect(lambda x: np.maximum(x, 0.0) ** 2, 3.0, kinks=(0.0,)), 12)
        1.5
    """
    q = _check_q("q", q)
    if q == 0.0:
        return float(np.asarray(f(np.zeros(1)), dtype=np.float64)[0])
    z, w = _nodes(q, tuple(float(k) for k in kinks))
    return float(w @ np.asarray(f(math.sqrt(q) * z), dtype=np.float64))


def _grid2(
    q1: float, q2: float, c: float, kinks: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nodes for :math:`E[f(u_1) g(u_2)]`: ``u1 (K,), w1 (K,), u2 (K, P), w2 (K, P)``.

    ``u1 = sqrt(q1) z1`` and ``u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2)``; the inner integral
    over ``z2`` is a 1-D Gaussian expectation of ``g(m + s z2)`` with ``m = sqrt(q2) c z1``,
    ``s = sqrt(q2 (1 - c^2))``, split at the kinks and features of ``g`` (which move with
    ``m``); the outer grid also resolves the smoothed kinks of the inner integral, which
    are sharp when ``c`` is near 1.
    """
    s = math.sqrt(max(q2 * (1.0 - c * c), 0.0))
    extra: list[float] = []
    if c != 0.0 and q2 > 0.0:
        scale = math.sqrt(q2) * abs(c)
        width = s / scale
        for k in (*kinks, 0.0):
            centre = k / (math.sqrt(q2) * c)
            extra.extend(centre + sign * a * width for a in _FEATURES2 for sign in (1.0, -1.0))
    z1, w1 = _nodes(q1, kinks, tuple(extra))
    u1 = math.sqrt(q1) * z1
    m = math.sqrt(q2) * c * z1
    if s == 0.0:
        return u1, w1, m[:, None], np.ones((z1.size, 1))
    base = np.arange(-Z_MAX, Z_MAX + 1e-9, _PANEL2)
    feats = _feature_points(kinks, _FEATURES2)
    moving = np.clip((feats[None, :] - m[:, None]) / s, -Z_MAX, Z_MAX)
    breaks = np.sort(
        np.concatenate([np.broadcast_to(base, (m.size, base.size)), moving], axis=1), axis=1
    )
    z2, w2 = _panels(breaks, _GL2_X, _GL2_W)
    return u1, w1, m[:, None] + s * z2, w2


def gauss_expect2(
    f: NumpyFn, g: NumpyFn, q1: float, q2: float, c: float, kinks: Sequence[float] = ()
) -> float:
    r"""Bivariate Gaussian expectation :math:`\mathbb{E}[f(u_1)\,g(u_2)]` (docs/theory.md §1.1).

    :math:`u_1 = \sqrt{q_1} z_1`, :math:`u_2 = \sqrt{q_2}(c z_1 + \sqrt{1-c^2} z_2)`, so
    :math:`\mathrm{Var}\,u_i = q_i` and :math:`\mathrm{Corr}(u_1, u_2) = c`. Nested
    quadrature (see :func:`gauss_expect`), split at ``kinks`` (shared by ``f`` and ``g``).
    Agrees with the arc-cosine (ReLU) and arcsine (erf) kernels of docs/theory.md §1.2 to about
    1e-15 for ``c`` in [-0.9, 1].

    Args:
        f, g: vectorised float64 functions (``g`` is called on 2-D arrays).
        q1, q2: variances (> 0).
        c: correlation in [-1, 1].
        kinks: points where ``f`` or ``g`` is not smooth.

    Returns:
        The expectation.

    Raises:
        InvalidArgument: a variance not > 0 or ``c`` outside [-1, 1].

    Examples:
        >>> relu = lambda x: np.maximum(x, 0.0)
        >>> round(gauss_expect2(relu, relu, 1.0, 1.0, 0.0, kinks=(0.0,)), 12)  # 1/(2 pi)
        0.159154943092
    """
    q1, q2 = _check_q("q1", q1), _check_q("q2", q2)
    if q1 == 0.0 or q2 == 0.0:
        raise InvalidArgument(f"q1={q1!r} and q2={q2!r} must be > 0")
    if not (isinstance(c, (int, float, np.floating)) and -1.0 <= float(c) <= 1.0):
        raise InvalidArgument(f"c={c!r} must be a correlation in [-1, 1]")
    u1, w1, u2, w2 = _grid2(q1, q2, float(c), tuple(float(k) for k in kinks))
    inner = (w2 * np.asarray(g(u2), dtype=np.float64)).sum(axis=1)
    return float(w1 @ (np.asarray(f(u1), dtype=np.float64) * inner))
