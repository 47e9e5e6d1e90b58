"""Synthetic training tasks shipped with gradbench (no downloads), one table entry each.

A task turns (spec, base seed, network index) into one fixed training batch: inputs in
the layout :meth:`gradbench.models.Family.forward` expects (``x`` for feed-forward
specs, ``xs``/``h0`` for RNN specs), regression targets and an optional fixed linear
readout. Which tasks apply to a family, and its default, is the family's
:attr:`~gradbench.models.Family.tasks`. Every number is drawn in float64 on the CPU from a
``torch.Generator`` seeded by :func:`gradbench.models.derive_seed`, so a task is the same
bit for bit whatever the device, dtype or number of networks trained alongside it.

Tasks (:data:`TASKS`):

* ``teacher_student`` (feed-forward families): targets are the outputs of a *teacher*, a
  random network of the same spec drawn from its own seed stream (Gardner & Derrida
  1989; Saad & Solla 1995); inputs ``x ~ N(0, input_var)`` of the family's example shape.
* ``linear_teacher`` (MLP, residual): targets ``t = A x`` with ``A_ij ~ N(0, 1/width)``.
* ``adding`` (RNN): the adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly &
  Hinton 2015): channel 0 carries ``U(0, 1)`` values, channel 1 marks one step in the
  first half and one in the second half; the target is the sum of the two marked
  values, read out from ``h_T`` by a fixed random readout.
* ``copy`` (RNN): copy memory (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016):
  ``symbols`` one-hot symbols from an alphabet of size ``alphabet`` at the first
  steps, blanks, and a recall marker at the last step; the target is the
  concatenation of those one-hots, read out from ``h_T``.

An RNN's input dimension equals its hidden size (as in the probe), so the task's
input channels are the first coordinates of ``x_t`` and the rest are zero.
The loss is ``0.5 * mean((y @ readout - t)**2)`` over examples and outputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from gradbench.errors import InvalidArgument, choices_hint
from gradbench.models import Family, Params, draw_for, family_of, generator_for
from gradbench.registry import parse_name
from gradbench.specs import MLPSpec, ResidualSpec, RNNSpec, Spec

F64 = torch.float64


@dataclass(frozen=True)
class TaskBatch:
    """One network's fixed training batch (float64, CPU, no leading network axis).

    Attributes:
        data: the family's forward inputs (``x``, or ``xs`` and ``h0``), without ``R``.
        target: ``[batch, outputs]`` regression targets.
        readout: ``[width, outputs]`` fixed linear map applied to the network output,
            or ``None`` for the identity (the output itself is compared with the target).
    """

    data: Params
    target: Tensor
    readout: Tensor | None


@dataclass(frozen=True)
class Task:
    """A registered synthetic task.

    Attributes:
        name: table key.
        make: ``make(spec, batch, generator, base_seed, index, **params) -> TaskBatch``.
        paper: where the task comes from.
    """

    name: str
    make: Callable[..., TaskBatch]
    paper: str


def network_output(family: Family, spec: Spec, params: Params, data: Params) -> Tensor:
    r"""The network output ``y`` (with its autograd graph), from :meth:`Family.forward`.

    ``Family.forward`` returns the scalar :math:`\langle R, y\rangle`; with ``R`` a tensor
    of ones that requires grad, :math:`\partial\langle R, y\rangle / \partial R = y` exactly,
    and ``create_graph=True`` keeps ``y`` differentiable in the parameters. ``data`` and
    ``params`` may carry a leading network axis.
    """
    like = data[family.input_key]  # the network output has the shape of its first input
    ones = torch.ones(like.shape, dtype=like.dtype, device=like.device, requires_grad=True)
    fwd = family.forward(spec, params, {**data, "R": ones})
    (y,) = torch.autograd.grad(fwd.loss, ones, create_graph=torch.is_grad_enabled())
    return y


def _teacher_student(
    spec: Spec, batch: int, gen: torch.Generator, base_seed: int, index: int
) -> TaskBatch:
    family = family_of(spec)
    key = family.input_key
    shape = (batch, *family.example_shape(spec))
    x = torch.randn(shape, generator=gen, dtype=F64) * spec.input_var**0.5
    teacher = family.draw_parameters(spec, draw_for(spec, base_seed, index, "teacher"))
    teacher = family.calibrate(spec, teacher, {key: x})
    with torch.enable_grad():  # Family.forward retains site grads, so something must need grad
        x_in = x.clone().requires_grad_(True)
        t = network_output(family, spec, teacher, {key: x_in}).detach()
    return TaskBatch(data={key: x}, target=t.flatten(start_dim=1), readout=None)


def _linear_teacher(
    spec: MLPSpec | ResidualSpec, batch: int, gen: torch.Generator, base_seed: int, index: int
) -> TaskBatch:
    n = spec.width
    x = torch.randn(batch, n, generator=gen, dtype=F64) * spec.input_var**0.5
    a = torch.randn(n, n, generator=gen, dtype=F64) / n**0.5
    return TaskBatch(data={"x": x}, target=x @ a.T, readout=None)


def _readout(hidden: int, outputs: int, gen: torch.Generator) -> Tensor:
    return torch.randn(hidden, outputs, generator=gen, dtype=F64) / hidden**0.5


def _adding(
    spec: RNNSpec, batch: int, gen: torch.Generator, base_seed: int, index: int
) -> TaskBatch:
    steps, n = spec.steps, spec.hidden
    if steps < 2 or n < 2:
        raise InvalidArgument(
            f"task 'adding' needs RNNSpec.steps >= 2 and hidden >= 2, got steps={steps}, "
            f"hidden={n}"
        )
    values = torch.rand(batch, steps, generator=gen, dtype=F64)
    half = steps // 2
    first = torch.randint(0, half, (batch,), generator=gen)
    second = torch.randint(half, steps, (batch,), generator=gen)
    marks = torch.zeros(batch, steps, dtype=F64)
    rows = torch.arange(batch)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    xs = torch.zeros(steps, batch, n, dtype=F64)
    xs[:, :, 0] = values.T
    xs[:, :, 1] = marks.T
    target = (values * marks).sum(dim=1, keepdim=True)
    return TaskBatch(
        data={"xs": xs, "h0": torch.zeros(batch, n, dtype=F64)},
        target=target,
        readout=_readout(n, 1, gen),
    )


def _copy(
    spec: RNNSpec, batch: int, gen: torch.Generator, base_seed: int, index: int,
    symbols: float = 2.0, alphabet: float = 4.0,
) -> TaskBatch:
    steps, n, k, a = spec.steps, spec.hidden, int(symbols), int(alphabet)
    if k < 1 or a < 2 or steps < k + 1 or n < a + 1:
        raise InvalidArgument(
            f"task 'copy(symbols={k}, alphabet={a})' needs symbols >= 1, alphabet >= 2, "
            f"RNNSpec.steps >= symbols + 1 and hidden >= alphabet + 1, got steps={steps}, "
            f"hidden={n}"
        )
    seq = torch.randint(0, a, (batch, k), generator=gen)
    onehot = torch.nn.functional.one_hot(seq, a).to(F64)  # [batch, k, a]
    xs = torch.zeros(steps, batch, n, dtype=F64)
    xs[:k, :, :a] = onehot.transpose(0, 1)
    xs[-1, :, a] = 1.0  # recall marker
    return TaskBatch(
        data={"xs": xs, "h0": torch.zeros(batch, n, dtype=F64)},
        target=onehot.reshape(batch, k * a),
        readout=_readout(n, k * a, gen),
    )


TASKS: dict[str, Task] = {
    "teacher_student": Task("teacher_student", _teacher_student,
                            "Gardner & Derrida 1989; Saad & Solla 1995"),
    "linear_teacher": Task("linear_teacher", _linear_teacher,
                           "random linear teacher (Saxe et al. 2014, arXiv:1312.6120)"),
    "adding": Task("adding", _adding,
                   "Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015, arXiv:1504.00941"),
    "copy": Task("copy", _copy,
                 "Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016, arXiv:1511.06464"),
}


def parse_task(text: str) -> tuple[Task, dict[str, float]]:
    """Parse ``"copy"`` or ``"copy(symbols=3, alphabet=5)"`` against :data:`TASKS`.

    Raises:
        InvalidArgument: unknown task or parameter.
    """
    name, params = parse_name(text)
    task = TASKS.get(name)
    if task is None:
        raise InvalidArgument(f"task {name!r} is unknown; {choices_hint(name, TASKS)}")
    accepted = list(inspect.signature(task.make).parameters)[5:]
    for key in params:
        if key not in accepted:
            raise InvalidArgument(
                f"task {name!r} has no parameter {key!r}; "
                f"its parameters are: {', '.join(accepted) or 'none'}"
            )
    return task, params


def resolve_task(spec: Spec, task: str | None) -> str:
    """The task name to use for ``spec`` (its family's default when ``task`` is None).

    Raises:
        InvalidArgument: the task does not apply to the spec's family.
    """
    applicable = family_of(spec).tasks
    name = applicable[0] if task is None else task
    entry, _ = parse_task(name)
    if entry.name not in applicable:
        valid = sorted(applicable)
        raise InvalidArgument(
            f"task {name!r} does not apply to {type(spec).__name__}; valid choices: "
            f"{', '.join(valid)}"
        )
    return name


def make_task(spec: Spec, task: str | None, batch: int, base_seed: int, index: int) -> TaskBatch:
    """The fixed training batch of network ``index`` for ``task`` (see the module docstring).

    Args:
        spec: the network spec (decides the input layout and, for a teacher, the teacher).
        task: a :data:`TASKS` name, optionally with parameters; ``None`` for the default.
        batch: number of examples.
        base_seed: base seed (as in :func:`gradbench.probe.measure`).
        index: network index; seeds stream ``"task:<name>"`` of (spec, base_seed, index).

    Returns:
        A :class:`TaskBatch` in float64 on the CPU.

    Raises:
        InvalidArgument: unknown task, a task that does not fit the spec, or ``batch < 1``.

    Examples:
        >>> from gradbench import RNNSpec
        >>> b = make_task(RNNSpec(cell="rnn_tanh", hidden=8, steps=6), "adding", 4, 0, 0)
        >>> tuple(b.data["xs"].shape), tuple(b.target.shape)
        ((6, 4, 8), (4, 1))
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidArgument(f"batch={batch!r} is invalid: must be an integer >= 1")
    name = resolve_task(spec, task)
    entry, params = parse_task(name)
    gen = generator_for(spec, base_seed, index, f"task:{name}")
    return entry.make(spec, batch, gen, base_seed, index, **params)  # type: ignore[no-any-return]


def task_loss(y: Tensor, target: Tensor, readout: Tensor | None) -> Tensor:
    """Per-network loss ``0.5 * mean((y @ readout - target)**2)`` over examples and outputs.

    ``y`` is ``[..., batch, *example_shape]`` and ``target`` ``[..., batch, outputs]``; an
    example's output (after the readout, if any) is flattened as its target is, so any
    example shape works. Leading axes (networks) are kept.
    """
    pred = y if readout is None else y @ readout
    pred = pred.reshape(target.shape)
    return 0.5 * (pred - target).pow(2).mean(dim=(-2, -1))
