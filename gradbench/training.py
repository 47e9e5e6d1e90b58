"""Training probes: a few optimizer steps on many random networks at once.

:func:`train_probe` draws ``seeds`` networks of a spec exactly as the gradient probe
does (:func:`gradbench.models.draw_network`), stacks their parameters along a leading
axis, and trains all of them together on a synthetic task (:mod:`gradbench.tasks`) with
one stacked forward/backward per step through :meth:`gradbench.models.Family.forward`.
The registered ``torch.optim`` optimizer is applied directly to the stacked leaf
tensors; this is exact because every built-in optimizer, L2 weight decay and
``LambdaLR`` schedule is elementwise (declared ``elementwise=True``). Clipping by
global norm is done per network on the stacked gradients
(:func:`~gradbench.remedies.optimizers.clip_grad_norm_stacked_`).

Per step and per layer it records the gradient norm, the update norm
``||Delta W_l||`` and the relative update ``||Delta W_l|| / ||W_l||`` (the quantity
that shows whether early layers learn at all), the loss, and divergence: the first
step whose loss is non-finite or exceeds ``1e6`` times the initial loss. A diverged
network is frozen from that step on and its later entries are NaN.

:func:`train_reference` does the same the naive way (one ``nn.Module`` per seed, the
real optimizer, ``torch.nn.utils.clip_grad_norm_``); the tests hold the two equal to
about 1e-10 in float64.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gradbench import registry
from gradbench.errors import InvalidArgument
from gradbench.models import Params, draw_network, family_of
from gradbench.probe import DTYPES, _measure_iv
from gradbench.records import decode_array, to_jsonable
from gradbench.remedies.optimizers import (
    build_optimizer,
    check_positive,
    clip_grad_norm_stacked_,
    clip_grad_value_,
    lr_lambda,
    parse_schedule,
)
from gradbench.specs import Spec
from gradbench.tasks import TaskBatch, make_task, network_output, parse_task, task_loss

#: A seed diverges at the first step whose loss is non-finite or above this times the initial loss.
DIVERGENCE_FACTOR = 1e6


@dataclass(frozen=True)
class TrainSpec:
    """How to train in a training probe (validated on construction).

    Attributes:
        optimizer: registered optimizer name, optionally with parameters,
            e.g. ``"adam(beta2=0.99)"``.
        lr: learning rate; ``None`` keeps the optimizer's default (or the one in the name).
        steps: number of optimizer steps (>= 1).
        clip_norm: clip each network's global gradient norm to this (``None``: off).
        clip_value: clamp every gradient entry to ``[-clip_value, clip_value]`` (after
            ``clip_norm`` when both are given).
        schedule: learning-rate schedule, ``"constant"``, ``"step(step_size=, gamma=)"``,
            ``"cosine(min_factor=)"``, ``"warmup(warmup_steps=)"``, ``"warmup_cosine"``.
        weight_decay: L2 coefficient (decoupled for AdamW); ``None`` keeps the default.
        dropout: probability ``p`` in ``[0, 1)`` of zeroing each post-activation
            ``phi(norm(h))`` (inverted dropout, survivors scaled by ``1/(1-p)``);
            MLP and residual specs only.
        batch: number of examples in each network's fixed training batch.
        task: a :data:`gradbench.tasks.TASKS` name; ``None`` for the family's default.
        loss_scale: the loss is multiplied by this before ``backward`` (recorded unscaled);
            adaptive optimizers are invariant to it up to ``eps`` (docs/theory.md §7).

    Examples:
        >>> TrainSpec(optimizer="adam", lr=1e-3, steps=5).optimizer
        'adam'
    """

    optimizer: str = "sgd"
    lr: float | None = None
    steps: int = 20
    clip_norm: float | None = None
    clip_value: float | None = None
    schedule: str = "constant"
    weight_decay: float | None = None
    dropout: float = 0.0
    batch: int = 32
    task: str | None = None
    loss_scale: float = 1.0

    def __post_init__(self) -> None:
        own = "TrainSpec"
        if not isinstance(self.optimizer, str):
            raise InvalidArgument(f"{own}.optimizer={self.optimizer!r} must be an optimizer name")
        try:
            remedy = registry.lookup("optimizer", self.optimizer)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{own}.optimizer={self.optimizer!r} is invalid: {exc}") from None
        object.__setattr__(self, "optimizer", remedy.label)
        for name in ("lr", "weight_decay"):
            if name in remedy.params and getattr(self, name) is not None:
                raise InvalidArgument(
                    f"{own}.{name}={getattr(self, name)!r} conflicts with {name} in "
                    f"optimizer={remedy.label!r}; give it once"
                )
        check_positive(own, "lr", self.lr, optional=True)
        check_positive(own, "clip_norm", self.clip_norm, optional=True)
        check_positive(own, "clip_value", self.clip_value, optional=True)
        check_positive(own, "loss_scale", self.loss_scale)
        for name in ("steps", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"{own}.{name}={value!r} is invalid: must be an integer >= 1")
        wd = self.weight_decay
        if wd is not None and (
            isinstance(wd, bool) or not isinstance(wd, (int, float)) or not 0 <= wd < math.inf
        ):
            raise InvalidArgument(
                f"{own}.weight_decay={wd!r} is invalid: must be a finite number >= 0 or None"
            )
        p = self.dropout
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise InvalidArgument(f"{own}.dropout={p!r} is invalid: must be a number in [0, 1)")
        if not isinstance(self.schedule, str):
            raise InvalidArgument(f"{own}.schedule={self.schedule!r} must be a schedule name")
        if self.task is not None and not isinstance(self.task, str):
            raise InvalidArgument(f"{own}.task={self.task!r} must be a task name or None")
        checks = (("schedule", parse_schedule), ("task", parse_task))
        for name, parse in checks:
            if getattr(self, name) is None:
                continue
            try:
                parse(getattr(self, name))
            except InvalidArgument as exc:
                raise InvalidArgument(
                    f"{own}.{name}={getattr(self, name)!r} is invalid: {exc}"
                ) from None
        for name in ("lr", "clip_norm", "clip_value", "weight_decay", "dropout", "loss_scale"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``TrainSpec(**d)`` inverts it."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainSpec:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TrainingRecord:
    """What a training probe measured (plain NumPy; strict JSON through :meth:`to_dict`).

    Layers are the spec's weight groups (MLP ``W{l}``; residual block ``W1_b + W2_b``;
    RNN ``W_hh`` and ``W_ih``). Entries after a seed's divergence step are NaN.

    Attributes:
        spec: the network spec as a dict.
        train: the :class:`TrainSpec` as a dict.
        seeds, seed, device, dtype: how many networks, the base seed, where and how.
        layers: layer names, one per column of the per-layer arrays.
        loss: ``[seeds, steps + 1]`` loss before each step, then after the last one.
        grad_norm: ``[seeds, steps, layers]`` ``||dL/dW_l||`` before clipping.
        update_norm: ``[seeds, steps, layers]`` ``||Delta W_l||`` actually applied.
        weight_norm: ``[seeds, steps, layers]`` ``||W_l||`` before the step.
        update_ratio: ``[seeds, steps, layers]`` ``||Delta W_l|| / ||W_l||``.
        diverged_step: ``[seeds]`` first diverged step, ``-1`` if none.
    """

    spec: dict[str, Any]
    train: dict[str, Any]
    seeds: int
    seed: int
    device: str
    dtype: str
    layers: tuple[str, ...]
    loss: np.ndarray
    grad_norm: np.ndarray
    update_norm: np.ndarray
    weight_norm: np.ndarray
    update_ratio: np.ndarray
    diverged_step: np.ndarray

    _ARRAYS = ("loss", "grad_norm", "update_norm", "weight_norm", "update_ratio", "diverged_step")

    @property
    def diverged(self) -> np.ndarray:
        """``[seeds]`` True where the seed diverged."""
        return self.diverged_step >= 0

    @property
    def loss_decreased(self) -> np.ndarray:
        """``[seeds]`` True where the final loss is finite and below the initial loss."""
        final, first = self.loss[:, -1], self.loss[:, 0]
        with np.errstate(invalid="ignore"):
            return np.isfinite(final) & (final < first)

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON-ready dict; :meth:`from_dict` inverts it exactly."""
        out = {"kind": "training", **{f.name: getattr(self, f.name) for f in fields(self)}}
        out["layers"] = list(self.layers)
        return to_jsonable(out)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingRecord:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            InvalidArgument: a field is missing or an array is malformed.
        """
        try:
            kwargs: dict[str, Any] = {
                f.name: decode_array(data[f.name]) if f.name in cls._ARRAYS else data[f.name]
                for f in fields(cls)
            }
        except KeyError as exc:
            raise InvalidArgument(f"training record lacks field {exc.args[0]!r}") from None
        kwargs["layers"] = tuple(kwargs["layers"])
        kwargs["diverged_step"] = kwargs["diverged_step"].astype(np.int64)
        return cls(**kwargs)


# --------------------------------------------------------------------------------------
# Layers, dropout and the mapping to the reference nn.Module
# --------------------------------------------------------------------------------------


def layer_groups(spec: Spec) -> list[list[str]]:
    """Per layer, the parameter names whose norms are recorded together (the family's)."""
    return family_of(spec).layer_groups(spec)


class DropoutMasks:
    """Inverted-dropout masks for networks ``indices``, one generator per network.

    Each call draws, for every network in order, a keep-mask ``U(0,1) >= p`` of one
    network's post-activation shape (``[batch, *example_shape]``) in float64 on the CPU
    from that network's own generator (stream ``"dropout"``), so stacked and per-network
    runs see identical masks.
    """

    def __init__(self, spec: Spec, base_seed: int, indices: Sequence[int], p: float) -> None:
        from gradbench.models import generator_for

        self.p = p
        self.ndim = 1 + len(family_of(spec).example_shape(spec))  # one network: batch first
        self.generators = [generator_for(spec, base_seed, i, "dropout") for i in indices]

    def __call__(self, z: Tensor) -> Tensor:
        """A keep-mask scaled by ``1/(1-p)``, shaped like ``z`` (stacked or one network)."""
        shape = tuple(z.shape[-self.ndim :])
        masks = [
            (torch.rand(shape, generator=g, dtype=torch.float64) >= self.p).to(torch.float64)
            for g in self.generators
        ]
        mask = torch.stack(masks) if z.dim() > self.ndim else masks[0]
        return (mask / (1.0 - self.p)).to(device=z.device, dtype=z.dtype)


@contextmanager
def _with_dropout(spec: Any, masks: DropoutMasks | None) -> Iterator[Any]:
    """``spec`` whose activation is followed by dropout (a temporary registration).

    Masks are only made for a family that ``supports_dropout`` (checked by ``_train_iv``),
    whose spec has an ``activation``.
    """
    if masks is None:
        yield spec
        return
    act = registry.lookup("activation", spec.activation).fn
    name = f"{spec.activation}+dropout(p={masks.p!r})"

    def dropped(z: Tensor) -> Tensor:
        return act(z) * masks(z)  # type: ignore[no-any-return]

    with registry.temporary("activation", name, dropped):
        yield spec.replace(activation=name)


# --------------------------------------------------------------------------------------
# The batched trainer
# --------------------------------------------------------------------------------------


def _frob(t: Tensor) -> Tensor:
    return t.detach().double().flatten(start_dim=1).norm(dim=1)


def _group_norms(tensors: Mapping[str, Tensor], groups: list[list[str]]) -> Tensor:
    """``[S, layers]`` Frobenius norm of each group (norm over the group's tensors)."""
    return torch.stack(
        [torch.sqrt(sum(_frob(tensors[n]) ** 2 for n in group)) for group in groups], dim=1  # type: ignore[arg-type]
    )


def _stack(items: Sequence[Mapping[str, Tensor]], device: str, dtype: torch.dtype) -> Params:
    return {k: torch.stack([p[k] for p in items]).to(device=device, dtype=dtype) for k in items[0]}


def _train_iv(spec: Spec, train: TrainSpec, seeds: int, device: str, dtype: str, seed: int) -> str:
    if not isinstance(train, TrainSpec):
        raise InvalidArgument(f"train={train!r} is invalid: must be a TrainSpec")
    _measure_iv(spec, seeds, train.batch, device, dtype, seed)
    if dtype == "bfloat16":
        raise InvalidArgument(
            "dtype='bfloat16' is invalid for training probes; valid choices: float32, float64"
        )
    if train.dropout > 0 and not family_of(spec).supports_dropout:
        raise InvalidArgument(
            f"TrainSpec.dropout={train.dropout!r} is invalid for {type(spec).__name__}: dropout "
            "is applied to post-activations, of feed-forward specs only"
        )
    from gradbench.tasks import resolve_task

    return resolve_task(spec, train.task)


def diverged(loss: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """True where ``loss`` is non-finite or above :data:`DIVERGENCE_FACTOR` x ``initial``."""
    with np.errstate(invalid="ignore", over="ignore"):
        return ~np.isfinite(loss) | (np.isfinite(initial) & (loss > DIVERGENCE_FACTOR * initial))


class _Log:
    """Per-step arrays, filled as training goes."""

    def __init__(self, seeds: int, steps: int, layers: int) -> None:
        self.loss = np.full((seeds, steps + 1), np.nan)
        shape = (seeds, steps, layers)
        self.grad, self.update = np.full(shape, np.nan), np.full(shape, np.nan)
        self.weight = np.full(shape, np.nan)
        self.diverged_step = np.full(seeds, -1, dtype=np.int64)

    def check_divergence(
        self, step: int, loss: np.ndarray, active: np.ndarray, rows: slice | None = None
    ) -> np.ndarray:
        """Mark seeds (``rows``) whose ``loss`` at ``step`` diverged; return the active mask."""
        rows = slice(None) if rows is None else rows
        bad = diverged(loss, self.loss[rows, 0])
        self.diverged_step[rows][active & bad] = step
        return active & ~bad

    def record(
        self, spec: Spec, train: TrainSpec, seeds: int, seed: int, device: str, dtype: str,
        layers: list[str],
    ) -> TrainingRecord:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.update / self.weight
        return TrainingRecord(
            spec=spec.to_dict(), train=train.to_dict(), seeds=seeds, seed=seed, device=device,
            dtype=dtype, layers=tuple(layers), loss=self.loss, grad_norm=self.grad,
            update_norm=self.update, weight_norm=self.weight, update_ratio=ratio,
            diverged_step=self.diverged_step,
        )


class _Stacked:
    """``seeds`` networks of ``spec`` stacked along a leading axis, with their optimizer."""

    def __init__(
        self, spec: Spec, train: TrainSpec, seeds: int, device: str, dtype: str, seed: int
    ) -> None:
        task = _train_iv(spec, train, seeds, device, dtype, seed)
        self.spec, self.train, self.family = spec, train, family_of(spec)
        torch_dtype = DTYPES[dtype]
        nets = [draw_network(spec, train.batch, seed, i) for i in range(seeds)]
        batches = [make_task(spec, task, train.batch, seed, i) for i in range(seeds)]
        self.params = _stack([p for p, _ in nets], device, torch_dtype)
        for p in self.params.values():
            p.requires_grad_(True)
        self.data = _stack([b.data for b in batches], device, torch_dtype)
        self.target = torch.stack([b.target for b in batches]).to(device=device, dtype=torch_dtype)
        self.readout: Tensor | None = None
        if batches[0].readout is not None:
            self.readout = torch.stack([b.readout for b in batches]).to(  # type: ignore[misc]
                device=device, dtype=torch_dtype
            )
        self.opt = build_optimizer(train.optimizer, list(self.params.values()), lr=train.lr,
                                   weight_decay=train.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lr_lambda(train.schedule, train.steps)
        )
        self.groups = layer_groups(spec)
        self.masks = (
            DropoutMasks(spec, seed, range(seeds), train.dropout) if train.dropout else None
        )

    def losses(self, run_spec: Spec) -> Tensor:
        """``[S]`` task losses (with graph)."""
        y = network_output(self.family, run_spec, self.params, self.data)
        return task_loss(y, self.target, self.readout)

    def step(self, loss: Tensor, active: np.ndarray) -> dict[str, Params]:
        """Backward, clip per network, step; frozen networks keep their weights.

        Returns:
            ``{"before", "grad", "clipped", "delta"}``, each a dict of stacked tensors.
        """
        (loss * self.train.loss_scale).sum().backward()
        keep = torch.as_tensor(active, device=loss.device)
        with torch.no_grad():
            grads: dict[str, Tensor] = {k: p.grad for k, p in self.params.items()}  # type: ignore[misc]
            for g in grads.values():
                g[~keep] = 0.0  # frozen networks: keep NaN out of the optimizer state
            raw = {k: g.detach().clone() for k, g in grads.items()}
            if self.train.clip_norm is not None:
                clip_grad_norm_stacked_(list(grads.values()), self.train.clip_norm)
            if self.train.clip_value is not None:
                clip_grad_value_(list(grads.values()), self.train.clip_value)
            clipped = {k: g.detach().clone() for k, g in grads.items()}
            before = {k: p.detach().clone() for k, p in self.params.items()}
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.sched.step()
        with torch.no_grad():
            for k, p in self.params.items():
                p[~keep] = before[k][~keep]
            delta = {k: self.params[k].detach() - before[k] for k in self.params}
        return {"before": before, "grad": raw, "clipped": clipped, "delta": delta}


def train_probe(
    spec: Spec,
    train: TrainSpec,
    seeds: int = 8,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
) -> TrainingRecord:
    r"""Train ``seeds`` random networks of ``spec`` for ``train.steps`` steps, all at once.

    Each step: one stacked forward and backward of the task loss
    :math:`\ell_s = \tfrac12\,\mathrm{mean}(y_s R - t_s)^2` (network ``s``; the summed loss
    gives every network its own gradient), per-network clipping, one ``optimizer.step()``
    on the stacked leaves, one scheduler step. A network whose loss becomes non-finite
    or exceeds ``1e6`` times its initial loss is frozen from that step on.

    Args:
        spec: network family (weights drawn as in :func:`gradbench.probe.measure`).
        train: optimizer, steps, clipping, schedule, weight decay, dropout, batch, task.
        seeds: number of independent networks.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        dtype: ``"float32"`` or ``"float64"``.
        seed: base seed; network ``i`` is seeded from ``(spec, seed, i)``.

    Returns:
        A :class:`TrainingRecord`.

    Raises:
        InvalidArgument: a bad argument, a task that does not fit the spec, or dropout on
            an RNN.

    Examples:
        >>> from gradbench import MLPSpec
        >>> rec = train_probe(MLPSpec(depth=3, width=8), TrainSpec(steps=2), seeds=2)
        >>> rec.update_ratio.shape, rec.loss.shape
        ((2, 2, 3), (2, 3))
    """
    run = _Stacked(spec, train, seeds, device, dtype, seed)
    log = _Log(seeds, train.steps, len(run.groups))
    active = np.ones(seeds, dtype=bool)
    with _with_dropout(spec, run.masks) as run_spec:
        for step in range(train.steps + 1):
            loss = run.losses(run_spec)
            loss_np = loss.detach().double().cpu().numpy()
            log.loss[active, step] = loss_np[active]
            if step == train.steps:
                break
            active = log.check_divergence(step, loss_np, active)
            if not active.any():
                break
            out = run.step(loss, active)
            for name, key in (("grad", "grad"), ("update", "delta"), ("weight", "before")):
                norms = _group_norms(out[key], run.groups).cpu().numpy()
                getattr(log, name)[active, step] = norms[active]
    layers = [" + ".join(g) for g in run.groups]
    return log.record(spec, train, seeds, seed, str(device), dtype, layers)


@dataclass(frozen=True)
class FirstStep:
    """The first optimizer step of :func:`first_step`, as stacked tensors ``[seeds, ...]``.

    Attributes:
        groups: per layer, the parameter names of its weight group.
        loss: ``[seeds]`` the initial task loss (unscaled).
        before: parameters before the step.
        grad: gradients of ``loss_scale * loss`` before clipping.
        clipped: the gradients the optimizer saw (after clipping).
        delta: the applied update ``w_1 - w_0``.
    """

    groups: list[list[str]]
    loss: Tensor
    before: Params
    grad: Params
    clipped: Params
    delta: Params


def first_step(
    spec: Spec, train: TrainSpec, seeds: int = 4, device: str = "cpu", dtype: str = "float64",
    seed: int = 0,
) -> FirstStep:
    """One stacked optimizer step from zero state, returning the tensors (for oracle tests).

    Same networks, task, clipping and optimizer as :func:`train_probe` (``train.steps`` is
    ignored except by schedules).

    Examples:
        >>> from gradbench import MLPSpec
        >>> fs = first_step(MLPSpec(depth=2, width=4), TrainSpec(optimizer="adam"), seeds=2)
        >>> tuple(fs.delta["W0"].shape)
        (2, 4, 4)
    """
    run = _Stacked(spec, train, seeds, device, dtype, seed)
    with _with_dropout(spec, run.masks) as run_spec:
        loss = run.losses(run_spec)
        out = run.step(loss, np.ones(seeds, dtype=bool))
    return FirstStep(run.groups, loss.detach(), out["before"], out["grad"], out["clipped"],
                     out["delta"])


def steps_taken(
    spec: Spec, train: TrainSpec, seeds: int = 3, dtype: str = "float64", seed: int = 0,
    device: str = "cpu",
) -> list[dict[str, Params]]:
    """Each of ``train.steps`` steps as ``{"before", "grad", "clipped", "delta"}``.

    Same networks, task and optimizer as :func:`train_probe`; no divergence handling.
    For comparing optimizers: after step ``t`` the parameters are ``before + delta``.
    """
    run = _Stacked(spec, train, seeds, device, dtype, seed)
    with _with_dropout(spec, run.masks) as run_spec:
        return [run.step(run.losses(run_spec), np.ones(seeds, dtype=bool))
                for _ in range(train.steps)]


def parameter_trajectory(
    spec: Spec, train: TrainSpec, seeds: int = 3, dtype: str = "float64", seed: int = 0,
    device: str = "cpu",
) -> list[Params]:
    """Stacked parameters after each of ``train.steps`` steps (see :func:`steps_taken`)."""
    return [{k: s["before"][k] + s["delta"][k] for k in s["delta"]}
            for s in steps_taken(spec, train, seeds, dtype, seed, device)]


# --------------------------------------------------------------------------------------
# The naive reference
# --------------------------------------------------------------------------------------


def train_reference(spec: Spec, train: TrainSpec, seeds: int = 2, seed: int = 0) -> TrainingRecord:
    """The naive float64 reference of :func:`train_probe`: a Python loop over networks.

    Per network: build its ``nn.Module`` (:meth:`Family.module`), the registered
    ``torch.optim`` optimizer over the module's parameters, ``LambdaLR``, and train with
    ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``. Slow by design.
    """
    task = _train_iv(spec, train, seeds, "cpu", "float64", seed)
    family, groups = family_of(spec), layer_groups(spec)
    log = _Log(seeds, train.steps, len(groups))
    for index in range(seeds):
        params, _ = draw_network(spec, train.batch, seed, index)
        batch = make_task(spec, task, train.batch, seed, index)
        masks = DropoutMasks(spec, seed, [index], train.dropout) if train.dropout else None
        with _with_dropout(spec, masks) as run_spec:
            _train_one(family.module(run_spec, params), spec, train, batch, groups, log, index)
    return log.record(spec, train, seeds, seed, "cpu", "float64", [" + ".join(g) for g in groups])


def _train_one(
    model: nn.Module, spec: Spec, train: TrainSpec, batch: TaskBatch, groups: list[list[str]],
    log: _Log, index: int,
) -> None:
    named = family_of(spec).module_params(spec, model)
    trainable = list(named.values())
    opt = build_optimizer(train.optimizer, trainable, lr=train.lr, weight_decay=train.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(train.schedule, train.steps))
    alive = np.ones(1, dtype=bool)
    row = slice(index, index + 1)

    def norms(tensors: Mapping[str, Tensor]) -> np.ndarray:
        return _group_norms({k: v.unsqueeze(0) for k, v in tensors.items()}, groups).numpy()[0]

    for step in range(train.steps + 1):
        loss = task_loss(model(batch.data), batch.target, batch.readout)
        log.loss[index, step] = float(loss.detach())
        if step == train.steps:
            break
        alive = log.check_divergence(step, np.array([float(loss.detach())]), alive, rows=row)
        if not alive[0]:
            break
        (loss * train.loss_scale).backward()
        grad_norm = norms({k: p.grad for k, p in named.items()})  # type: ignore[misc]
        if train.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(trainable, train.clip_norm)
        if train.clip_value is not None:
            torch.nn.utils.clip_grad_value_(trainable, train.clip_value)
        before = {k: p.detach().clone() for k, p in named.items()}
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        log.grad[index, step] = grad_norm
        log.update[index, step] = norms({k: p.detach() - before[k] for k, p in named.items()})
        log.weight[index, step] = norms(before)
