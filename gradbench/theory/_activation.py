"""Activations for theory: the one place a registry name becomes phi, phi' and phi''.

:func:`_resolve` turns a registry name (``"leaky_relu(negative_slope=0.2)"``) or an
:class:`ActivationFunctions` object into a hashable :class:`_Act`; :func:`_moments`
gives its cached Gaussian moments at one ``q``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol, Union

import numpy as np

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.theory._quadrature import Q_HUGE, Q_TINY, NumpyFn, _check_q, _nodes


class ActivationFunctions(Protocol):
    r"""What theory needs of an activation: float64 NumPy functions and kink locations.

    An object may also carry ``homogeneous = True`` when :math:`\phi(cx) = c\,\phi(x)` for
    every :math:`c > 0` (as the registry declaration of that name, see
    :mod:`gradbench.remedies.activations`); without it the activation is not treated as
    the identity or as a scaled ReLU.
    """

    @property
    def phi(self) -> NumpyFn:
        ...

    @property
    def dphi(self) -> NumpyFn:
        ...

    @property
    def d2phi(self) -> NumpyFn:
        ...

    @property
    def kinks(self) -> tuple[float, ...]:
        ...


Activation = Union[str, ActivationFunctions]


class _Act:
    """A resolved activation: NumPy functions plus a hashable identity for caching.

    ``source`` says where the functions come from: ``"reference"`` (a built-in's declared
    NumPy reference), ``"autograd"`` (a registered activation without one: the torch
    function and autograd, the explicit fallback) or ``"object"`` (passed in directly).
    """

    __slots__ = ("d2phi", "dphi", "homogeneous", "key", "kinks", "label", "phi", "ref", "source")

    def __init__(
        self, key: Hashable, label: str, funcs: Any, ref: object = None, source: str = "object"
    ) -> None:
        self.key, self.label, self.ref = key, label, ref
        self.phi: NumpyFn = funcs.phi
        self.dphi: NumpyFn = funcs.dphi
        self.d2phi: NumpyFn = funcs.d2phi
        self.kinks: tuple[float, ...] = tuple(float(k) for k in funcs.kinks)
        self.homogeneous = bool(getattr(funcs, "homogeneous", False))
        self.source: str = getattr(funcs, "source", source)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Act) and self.key == other.key


@functools.lru_cache(maxsize=256)
def _registered(key: Hashable, label: str) -> _Act:
    # torch-free for the built-ins (their NumPy references); the autograd fallback of a
    # user activation without one imports torch when first evaluated
    from gradbench.remedies.activations import numpy_activation

    return _Act(key, label, numpy_activation(label))


def _resolve(activation: Activation) -> _Act:
    """A registry name (with parameters) or an :class:`ActivationFunctions` object."""
    if isinstance(activation, _Act):
        return activation
    if isinstance(activation, str):
        remedy = registry.lookup("activation", activation)
        key = ("registered", remedy.name, remedy.obj, tuple(sorted(remedy.params.items())),
               remedy.meta.get("numpy"), bool(remedy.meta.get("homogeneous")))
        return _registered(key, remedy.label)
    missing = [a for a in ("phi", "dphi", "d2phi", "kinks") if not hasattr(activation, a)]
    if missing:
        raise InvalidArgument(
            f"activation={activation!r} must be a registered activation name or an object "
            f"with phi, dphi, d2phi and kinks (missing: {', '.join(missing)})"
        )
    label = str(getattr(activation, "label", type(activation).__name__))
    return _Act(("object", id(activation)), label, activation, ref=activation)


def _slopes(act: _Act) -> tuple[float, float] | None:
    """``(a, b)`` with ``phi(x) = a x`` for x > 0 and ``b x`` for x < 0; None unless homogeneous.

    A positively homogeneous activation (declared ``homogeneous=True``) is fixed by these
    two slopes, so ``phi(1)`` and ``-phi(-1)`` are all there is to read.
    """
    if not act.homogeneous:
        return None
    y = np.asarray(act.phi(np.array([1.0, -1.0])), dtype=np.float64)
    return float(y[0]), float(-y[1])


def _is_identity(act: _Act) -> bool:
    """``phi(x) = x``: homogeneous with both slopes 1 (the registered ``linear``)."""
    return _slopes(act) == (1.0, 1.0)


def _relu_scale(act: _Act) -> float:
    """``a`` if ``phi(x) = a max(x, 0)`` with ``a > 0`` (homogeneous, slope 0 below 0), else NaN."""
    slopes = _slopes(act)
    if slopes is not None and slopes[0] > 0.0 and slopes[1] == 0.0:
        return slopes[0]
    return math.nan


@dataclass(frozen=True)
class _Moments:
    """Gaussian moments of an activation at one q (all E over z ~ N(0,1), x = sqrt(q) z)."""

    phi: float  # E phi
    phi2: float  # E phi^2
    dphi: float  # E phi'
    dphi2: float  # E phi'^2
    dphi4: float  # E phi'^4
    phi_d2phi: float  # E phi phi''


def _clamp_q(q: float) -> float:
    if math.isnan(q):
        raise InvalidArgument("q is NaN")
    return min(max(q, Q_TINY), Q_HUGE)


@functools.lru_cache(maxsize=65536)
def _moments_at(act: _Act, q: float) -> _Moments:
    z, w = _nodes(q, act.kinks)
    x = math.sqrt(q) * z
    p = np.asarray(act.phi(x), dtype=np.float64)
    d = np.asarray(act.dphi(x), dtype=np.float64)
    dd = np.asarray(act.d2phi(x), dtype=np.float64)
    d2 = d * d
    return _Moments(
        phi=float(w @ p), phi2=float(w @ (p * p)), dphi=float(w @ d), dphi2=float(w @ d2),
        dphi4=float(w @ (d2 * d2)), phi_d2phi=float(w @ (p * dd)),
    )


def _moments(act: _Act, q: float) -> _Moments:
    """Moments at ``q``; ``q`` is clamped to [Q_TINY, Q_HUGE] (limits at 0 and inf)."""
    return _moments_at(act, _clamp_q(float(q)))


def _check_sigmas(sigma_w2: object, sigma_b2: object) -> tuple[float, float]:
    return _check_q("sigma_w2", sigma_w2), _check_q("sigma_b2", sigma_b2)
