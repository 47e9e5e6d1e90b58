"""Built-in optimizers, learning-rate schedules and gradient clipping (docs/theory.md §7).

Each optimizer is registered once, by decorator, as a factory
``fn(params, *, lr=..., **float_params) -> torch.optim.Optimizer`` that builds the real
``torch.optim`` class, so a registry name may carry its hyper-parameters:
``lookup("optimizer", "adam(lr=0.01, beta2=0.99)")``. Every factory declares

* ``first_step(g, w, **hyper) -> delta_w``: the exact update of the first step from a
  zero optimizer state (docs/theory.md §7 table; checked there to <= 3e-17 in float64),
  used as a test oracle;
* ``elementwise=True``: the update of every entry depends on that entry's gradient,
  weight and state only, so running the optimizer on parameters stacked along a
  leading seed axis is exactly the same as running one optimizer per seed.

Learning-rate schedules are a table (:data:`SCHEDULES`) of multiplicative factors
``f(step, total_steps, **params)`` applied through ``torch.optim.lr_scheduler.LambdaLR``;
their names use the same ``"name(k=v)"`` syntax, e.g. ``"step(step_size=10, gamma=0.5)"``.

Clipping follows ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` exactly but
per network when gradients carry a leading seed axis (:func:`clip_grad_norm_stacked_`):
the global norm of network ``s`` is taken over its own gradients only.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gradbench._lazy import lazy_import
from gradbench.errors import InvalidArgument, choices_hint
from gradbench.registry import Remedy, lookup, parse_name, register
from gradbench.remedies import update_rules

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    ParamsArg = Iterable[Tensor] | Iterable[dict[str, Any]]
else:  # registrations load without torch; it is imported when an optimizer is first built
    torch = lazy_import("torch")

#: ``torch.nn.utils.clip_grad_norm_`` divides by ``total_norm + CLIP_EPS``.
CLIP_EPS = 1e-6


# --------------------------------------------------------------------------------------
# First-step oracles (docs/theory.md §7, "First optimizer step from zero state")
# --------------------------------------------------------------------------------------


def _sgd_first(
    g: Tensor, w: Tensor, *, lr: float, weight_decay: float = 0.0, momentum: float = 0.0,
    nesterov: bool = False, **_: float,
) -> Tensor:
    """SGD (with momentum the buffer starts at ``g``): ``-lr (1 + mu [nesterov]) (g + wd w)``."""
    g = g + weight_decay * w
    return -lr * (1.0 + (momentum if nesterov else 0.0)) * g


def _adam_first(
    g: Tensor, w: Tensor, *, lr: float, eps: float = 1e-8, weight_decay: float = 0.0, **_: float
) -> Tensor:
    """Adam: bias corrections cancel, ``-lr g' / (|g'| + eps)`` with ``g' = g + wd w``."""
    g = g + weight_decay * w
    return -lr * g / (g.abs() + eps)


def _adamw_first(
    g: Tensor, w: Tensor, *, lr: float, eps: float = 1e-8, weight_decay: float = 0.01, **_: float
) -> Tensor:
    """AdamW: decoupled decay ``-lr wd w`` plus the Adam step ``-lr g / (|g| + eps)``."""
    return -lr * weight_decay * w - lr * g / (g.abs() + eps)


def _rmsprop_first(
    g: Tensor, w: Tensor, *, lr: float, alpha: float = 0.99, eps: float = 1e-8,
    weight_decay: float = 0.0, **_: float,
) -> Tensor:
    """RMSprop (no bias correction): ``-lr g' / (sqrt(1 - alpha) |g'| + eps)``."""
    g = g + weight_decay * w
    return -lr * g / (math.sqrt(1.0 - alpha) * g.abs() + eps)


def _adagrad_first(
    g: Tensor, w: Tensor, *, lr: float, eps: float = 1e-10, weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0, **_: float,
) -> Tensor:
    """Adagrad: ``-lr g' / (sqrt(acc0 + g'^2) + eps)``, i.e. ``-lr g/(|g| + eps)`` for acc0 = 0."""
    g = g + weight_decay * w
    return -lr * g / (torch.sqrt(initial_accumulator_value + g * g) + eps)


# --------------------------------------------------------------------------------------
# Optimizers (one registration each)
# --------------------------------------------------------------------------------------


@register("optimizer", "sgd", paper="Robbins & Monro 1951, A Stochastic Approximation Method",
          first_step=_sgd_first, elementwise=True, adaptive=False,
          documented={"weight_decay": 0.0},
          update_rule=update_rules.sgd)
def sgd(params: ParamsArg, *, lr: float = 0.01, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    r"""Plain SGD, :math:`w \leftarrow w - \eta (g + \lambda w)`.

    Args:
        params: tensors (or parameter groups) to optimize.
        lr: learning rate :math:`\eta`.
        weight_decay: L2 coefficient :math:`\lambda` (added to the gradient).

    Returns:
        A ``torch.optim.SGD``.

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> type(sgd([w], lr=0.1)).__name__
        'SGD'
    """
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


@register("optimizer", "momentum",
          paper="Polyak 1964; Sutskever et al. 2013 (PyTorch's form), ICML",
          first_step=_sgd_first, elementwise=True, adaptive=False,
          documented={"momentum": 0.9, "weight_decay": 0.0},
          update_rule=update_rules.momentum)
def sgd_momentum(
    params: ParamsArg, *, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    r"""Heavy-ball SGD: :math:`b \leftarrow \mu b + g`, :math:`w \leftarrow w - \eta b`.

    PyTorch sets :math:`b_1 = g_1` (no dampening), so the first step is plain SGD.

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> sgd_momentum([w]).defaults["momentum"]
        0.9
    """
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@register("optimizer", "nesterov", paper="Nesterov 1983; Sutskever et al. 2013, ICML",
          first_step=lambda g, w, **h: _sgd_first(g, w, nesterov=True, **h),
          elementwise=True, adaptive=False,
          documented={"momentum": 0.9, "weight_decay": 0.0},
          update_rule=update_rules.nesterov)
def nesterov(
    params: ParamsArg, *, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    r"""Nesterov momentum :math:`w \leftarrow w - \eta (g + \mu b)`.

    The first step is :math:`-\eta(1+\mu)g` (docs/theory.md §7).

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> nesterov([w]).defaults["nesterov"]
        True
    """
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay
    )


@register("optimizer", "adam", paper="Kingma & Ba 2015, arXiv:1412.6980",
          first_step=_adam_first, elementwise=True, adaptive=True,
          documented={"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                      "weight_decay": 0.0},
          update_rule=update_rules.adam)
def adam(
    params: ParamsArg, *, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
    eps: float = 1e-8, weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    r"""Adam with L2 weight decay added to the gradient.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
        \quad \Delta w = -\eta\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}.

    At :math:`t = 1` this is :math:`-\eta\, g/(|g| + \epsilon)`: the step does not depend on
    the gradient's scale, so it is the same in every layer (docs/theory.md §7).

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> adam([w], beta2=0.99).defaults["betas"]
        (0.9, 0.99)
    """
    return torch.optim.Adam(
        params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay
    )


@register("optimizer", "adamw", paper="Loshchilov & Hutter 2019, arXiv:1711.05101",
          first_step=_adamw_first, elementwise=True, adaptive=True,
          documented={"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                      "weight_decay": 0.01},
          update_rule=update_rules.adamw)
def adamw(
    params: ParamsArg, *, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
    eps: float = 1e-8, weight_decay: float = 0.01,
) -> torch.optim.Optimizer:
    r"""AdamW: Adam plus decoupled decay :math:`w \leftarrow (1 - \eta\lambda) w` (default 0.01).

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> adamw([w]).defaults["weight_decay"]
        0.01
    """
    return torch.optim.AdamW(
        params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay
    )


@register("optimizer", "rmsprop", paper="Tieleman & Hinton 2012, Coursera lecture 6.5",
          first_step=_rmsprop_first, elementwise=True, adaptive=True,
          documented={"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0},
          update_rule=update_rules.rmsprop)
def rmsprop(
    params: ParamsArg, *, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    r"""RMSprop, :math:`v_t = \alpha v_{t-1} + (1-\alpha) g^2`.

    The update is :math:`\Delta w = -\eta g/(\sqrt{v_t}+\epsilon)`.

    No bias correction, so the first step is :math:`-\eta g/(\sqrt{1-\alpha}|g| + \epsilon)`,
    about :math:`-10\eta\,\mathrm{sign}(g)` at :math:`\alpha = 0.99`.

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> rmsprop([w]).defaults["alpha"]
        0.99
    """
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)


@register("optimizer", "adagrad", paper="Duchi, Hazan & Singer 2011, JMLR 12",
          first_step=_adagrad_first, elementwise=True, adaptive=True,
          documented={"lr": 1e-2, "eps": 1e-10, "weight_decay": 0.0,
                      "initial_accumulator_value": 0.0},
          update_rule=update_rules.adagrad)
def adagrad(
    params: ParamsArg, *, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
) -> torch.optim.Optimizer:
    r"""Adagrad, :math:`G_t = G_{t-1} + g^2`, :math:`\Delta w = -\eta g / (\sqrt{G_t} + \epsilon)`.

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> adagrad([w]).defaults["eps"]
        1e-10
    """
    return torch.optim.Adagrad(
        params, lr=lr, eps=eps, weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value,
    )


def hyperparameters(remedy: Remedy, **overrides: float | None) -> dict[str, float]:
    """Hyper-parameters of the first-step oracle: the factory's keyword defaults, then the
    documented values declared at registration (``documented``, the paper's or PyTorch's
    defaults, so an oracle never merely rereads the factory), then the name's parameters,
    then non-None overrides."""
    sig = inspect.signature(remedy.obj)
    hyper = {n: p.default for n, p in sig.parameters.items() if p.default is not p.empty}
    hyper.update(remedy.meta.get("documented", {}))
    hyper.update(remedy.params)
    hyper.update({k: v for k, v in overrides.items() if v is not None})
    return hyper


def build_optimizer(
    name: str, params: ParamsArg, *, lr: float | None = None, weight_decay: float | None = None
) -> torch.optim.Optimizer:
    """Build the registered optimizer ``name`` (``"adam(beta2=0.99)"``) over ``params``.

    ``lr``/``weight_decay`` override the defaults when not ``None``.

    Raises:
        InvalidArgument: unknown optimizer or parameter; the factory did not return a
            ``torch.optim.Optimizer``.

    Examples:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> build_optimizer("adam(beta1=0.5)", [w], lr=0.1).defaults["lr"]
        0.1
    """
    remedy = lookup("optimizer", name)
    kwargs = dict(remedy.params)
    kwargs.update({k: v for k, v in (("lr", lr), ("weight_decay", weight_decay)) if v is not None})
    opt = remedy.obj(params, **kwargs)
    if not isinstance(opt, torch.optim.Optimizer):
        raise InvalidArgument(
            f"optimizer {name!r} returned a {type(opt).__name__}, not a torch.optim.Optimizer"
        )
    return opt


def first_step_update(
    name: str, g: Tensor, w: Tensor, *, lr: float | None = None, weight_decay: float | None = None
) -> Tensor:
    """The exact first update ``delta_w`` of optimizer ``name`` from zero state (docs/theory.md §7).

    Raises:
        InvalidArgument: unknown optimizer, or one that declares no ``first_step`` formula.

    Examples:
        >>> g = torch.tensor([1e-3, -2.0])
        >>> first_step_update("adam", g, torch.zeros(2), lr=0.1)
        tensor([-0.1000,  0.1000])
    """
    remedy = lookup("optimizer", name)
    formula = remedy.meta.get("first_step")
    if formula is None:
        raise InvalidArgument(f"optimizer {name!r} declares no first_step formula")
    return formula(g, w, **hyperparameters(remedy, lr=lr, weight_decay=weight_decay))  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------
# Learning-rate schedules (table-driven; factors for LambdaLR)
# --------------------------------------------------------------------------------------


def _constant(step: int, total: int) -> float:
    """Factor 1."""
    return 1.0


def _step_decay(step: int, total: int, step_size: float = 10.0, gamma: float = 0.1) -> float:
    """``gamma ** floor(step / step_size)`` (He et al. 2016 style step decay)."""
    return float(gamma ** (step // max(1, int(step_size))))


def _cosine(step: int, total: int, min_factor: float = 0.0) -> float:
    """``min + (1 - min) (1 + cos(pi step / total)) / 2`` (Loshchilov & Hutter 2017, SGDR)."""
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * step / max(1, total)))


def _warmup(step: int, total: int, warmup_steps: float = 5.0) -> float:
    """Linear warm-up ``min(1, (step + 1) / warmup_steps)`` (Goyal et al. 2017)."""
    return min(1.0, (step + 1) / max(1.0, warmup_steps))


def _warmup_cosine(step: int, total: int, warmup_steps: float = 5.0) -> float:
    """Linear warm-up, then cosine decay to 0 over the remaining steps."""
    w = max(1, int(warmup_steps))
    if step < w:
        return (step + 1) / w
    return _cosine(step - w, max(1, total - w))


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: ``factor(step, total_steps, **params)`` and its source."""

    factor: Callable[..., float]
    paper: str


SCHEDULES: dict[str, Schedule] = {
    "constant": Schedule(_constant, ""),
    "step": Schedule(_step_decay, "He et al. 2016, arXiv:1512.03385 (step decay)"),
    "cosine": Schedule(_cosine, "Loshchilov & Hutter 2017, arXiv:1608.03983"),
    "warmup": Schedule(_warmup, "Goyal et al. 2017, arXiv:1706.02677"),
    "warmup_cosine": Schedule(_warmup_cosine, "Goyal et al. 2017; Loshchilov & Hutter 2017"),
}


def parse_schedule(text: str) -> tuple[Schedule, dict[str, float]]:
    """Parse ``"cosine"`` or ``"step(step_size=5, gamma=0.5)"``.

    Raises:
        InvalidArgument: unknown schedule or parameter (the message lists the valid ones).
    """
    name, params = parse_name(text)
    schedule = SCHEDULES.get(name)
    if schedule is None:
        raise InvalidArgument(f"schedule {name!r} is unknown; {choices_hint(name, SCHEDULES)}")
    accepted = [p for p in inspect.signature(schedule.factor).parameters][2:]
    for key in params:
        if key not in accepted:
            raise InvalidArgument(
                f"schedule {name!r} has no parameter {key!r}; "
                f"its parameters are: {', '.join(accepted) or 'none'}"
            )
    return schedule, params


def lr_lambda(text: str, total_steps: int) -> Callable[[int], float]:
    """The factor function of schedule ``text`` for ``LambdaLR`` over ``total_steps`` steps.

    Examples:
        >>> f = lr_lambda("step(step_size=2, gamma=0.5)", 10)
        >>> [f(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    schedule, params = parse_schedule(text)
    return lambda step: float(schedule.factor(step, total_steps, **params))


# --------------------------------------------------------------------------------------
# Clipping, per network on stacked gradients
# --------------------------------------------------------------------------------------


def stacked_global_norm(grads: Sequence[Tensor]) -> Tensor:
    """``[S]`` global 2-norm of each network's gradients (leading axis = network).

    Computed like ``clip_grad_norm_``: the norm of the per-tensor norms.
    """
    norms = [g.flatten(start_dim=1).norm(dim=1) for g in grads]
    return torch.stack(norms, dim=1).norm(dim=1)


def clip_grad_norm_stacked_(grads: Sequence[Tensor], max_norm: float) -> Tensor:
    r"""Per-network ``clip_grad_norm_`` on gradients with a leading network axis, in place.

    Network ``s`` with global norm :math:`T_s` is scaled by
    :math:`\min(1, c/(T_s + 10^{-6}))` (PyTorch's formula; Pascanu et al. 2013,
    Algorithm 1), which preserves its direction and every per-layer norm ratio.

    Args:
        grads: gradients, each of shape ``[S, ...]``.
        max_norm: the threshold ``c > 0``.

    Returns:
        ``[S]`` global norms before clipping (as ``clip_grad_norm_`` returns).

    Examples:
        >>> g = [torch.tensor([[3.0, 4.0], [0.3, 0.4]])]
        >>> clip_grad_norm_stacked_(g, 1.0).tolist()
        [5.0, 0.5]
        >>> [round(float(x), 6) for x in g[0].norm(dim=1)]
        [1.0, 0.5]
    """
    total = stacked_global_norm(grads)
    coef = torch.clamp(max_norm / (total + CLIP_EPS), max=1.0)
    for g in grads:
        g.mul_(coef.reshape((-1,) + (1,) * (g.dim() - 1)).to(g.dtype))
    return total


def clip_grad_value_(grads: Sequence[Tensor], clip_value: float) -> None:
    """Clamp every entry to ``[-clip_value, clip_value]`` in place (elementwise: stacking is exact).

    Unlike norm clipping this changes the gradient's direction and caps each tensor's
    norm at ``clip_value * sqrt(numel)`` (docs/theory.md §7).
    """
    for g in grads:
        g.clamp_(-clip_value, clip_value)


def check_positive(owner: str, name: str, value: object, *, optional: bool = False) -> None:
    """Raise :class:`InvalidArgument` unless ``value`` is a finite number > 0 (or None)."""
    if optional and value is None:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:  # type: ignore[arg-type]
        raise InvalidArgument(
            f"{owner}.{name}={value!r} is invalid: must be a finite number > 0"
            + (" or None" if optional else "")
        )


def optimizer_meta(name: str) -> Mapping[str, Any]:
    """The declarations (``first_step``, ``elementwise``, ``adaptive``) of optimizer ``name``."""
    return lookup("optimizer", name).meta
