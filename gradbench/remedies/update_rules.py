r"""Optimizer update rules written from the papers, independently of ``torch.optim``.

Each built-in optimizer declares its rule (``update_rule=``) at registration; the claim
``optimizer_update_rule`` runs the optimizer and its rule side by side for several steps
on the same networks and holds the trajectories equal, so a wrong hyper-parameter, a
missing bias correction or a coupled weight decay shows from the step where it matters
(a first step cannot see a wrong :math:`\beta_2` or momentum). A rule updates one
parameter ``w`` in place from its gradient ``g``, its ``state`` dict and the 1-based
``step``; hyper-parameters are keywords, PyTorch's conventions where papers differ
(momentum buffer :math:`b_1 = g_1`, no dampening; Adagrad's accumulator starts at
``initial_accumulator_value``; RMSprop without centring or momentum).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gradbench._lazy import lazy_import

if TYPE_CHECKING:
    import torch
    from torch import Tensor
else:
    torch = lazy_import("torch")


def sgd(w: Tensor, g: Tensor, state: dict[str, Any], step: int, *, lr: float,
        weight_decay: float = 0.0, **_: float) -> None:
    r""":math:`w \leftarrow w - \eta (g + \lambda w)` (Robbins & Monro 1951)."""
    w.sub_(lr * (g + weight_decay * w))


def momentum(w: Tensor, g: Tensor, state: dict[str, Any], step: int, *, lr: float,
             momentum: float = 0.9, weight_decay: float = 0.0, nesterov: bool = False,
             **_: float) -> None:
    r"""Heavy ball: :math:`b \leftarrow \mu b + g'`, :math:`w \leftarrow w - \eta b`
    (Polyak 1964); Nesterov: :math:`w \leftarrow w - \eta (g' + \mu b)` (Sutskever et al.
    2013), with :math:`g' = g + \lambda w` and :math:`b_1 = g'_1`."""
    grad = g + weight_decay * w
    buf = state.get("b")
    buf = grad.clone() if buf is None else buf.mul_(momentum).add_(grad)
    state["b"] = buf
    w.sub_(lr * (grad + momentum * buf if nesterov else buf))


def nesterov(w: Tensor, g: Tensor, state: dict[str, Any], step: int, **hyper: Any) -> None:
    """Nesterov momentum (:func:`momentum` with ``nesterov=True``)."""
    momentum(w, g, state, step, **{**hyper, "nesterov": True})


def adam(w: Tensor, g: Tensor, state: dict[str, Any], step: int, *, lr: float,
         beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
         weight_decay: float = 0.0, decoupled: bool = False, **_: float) -> None:
    r"""Adam (Kingma & Ba 2015, Algorithm 1): :math:`m \leftarrow \beta_1 m + (1-\beta_1) g'`,
    :math:`v \leftarrow \beta_2 v + (1-\beta_2) g'^2`,
    :math:`w \leftarrow w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)` with the bias
    corrections :math:`\hat m = m/(1-\beta_1^t)`, :math:`\hat v = v/(1-\beta_2^t)`; L2 decay
    in :math:`g'`, or decoupled (AdamW, Loshchilov & Hutter 2019): :math:`w \leftarrow
    (1 - \eta\lambda) w` first."""
    if decoupled:
        w.mul_(1.0 - lr * weight_decay)
        grad = g
    else:
        grad = g + weight_decay * w
    m = state.setdefault("m", torch.zeros_like(w)).mul_(beta1).add_((1.0 - beta1) * grad)
    v = state.setdefault("v", torch.zeros_like(w)).mul_(beta2).add_((1.0 - beta2) * grad * grad)
    m_hat = m / (1.0 - beta1**step)
    v_hat = v / (1.0 - beta2**step)
    w.sub_(lr * m_hat / (v_hat.sqrt() + eps))


def adamw(w: Tensor, g: Tensor, state: dict[str, Any], step: int, **hyper: Any) -> None:
    """AdamW: :func:`adam` with decoupled weight decay."""
    adam(w, g, state, step, **{**hyper, "decoupled": True})


def rmsprop(w: Tensor, g: Tensor, state: dict[str, Any], step: int, *, lr: float,
            alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
            **_: float) -> None:
    r"""RMSprop (Tieleman & Hinton 2012): :math:`v \leftarrow \alpha v + (1-\alpha) g'^2`,
    :math:`w \leftarrow w - \eta g' / (\sqrt v + \epsilon)`."""
    grad = g + weight_decay * w
    v = state.setdefault("v", torch.zeros_like(w)).mul_(alpha).add_((1.0 - alpha) * grad * grad)
    w.sub_(lr * grad / (v.sqrt() + eps))


def adagrad(w: Tensor, g: Tensor, state: dict[str, Any], step: int, *, lr: float,
            eps: float = 1e-10, weight_decay: float = 0.0,
            initial_accumulator_value: float = 0.0, **_: float) -> None:
    r"""Adagrad (Duchi, Hazan & Singer 2011): :math:`G \leftarrow G + g'^2`,
    :math:`w \leftarrow w - \eta g' / (\sqrt G + \epsilon)`."""
    grad = g + weight_decay * w
    acc = state.setdefault("G", torch.full_like(w, initial_accumulator_value))
    acc.add_(grad * grad)
    w.sub_(lr * grad / (acc.sqrt() + eps))


__all__ = ["adagrad", "adam", "adamw", "momentum", "nesterov", "rmsprop", "sgd"]
