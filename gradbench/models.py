"""Spec -> parameters, inputs and networks: one stacked functional forward, one nn.Module.

Every random number is drawn on the CPU from a ``torch.Generator`` whose seed is
derived from (spec, base seed, seed index, stream) by :func:`derive_seed`, so a
network is the same bit for bit whatever the device, chunking or number of seeds
measured alongside it. Random entries are generated in float32
(:func:`~gradbench.remedies.initializers.standard_normal`) and scaled in the dtype
they are drawn in (float64 for the reference modules, float32 for float32 and
bfloat16 probes), so a network is also the same, up to rounding, in every dtype.
Parameters of one network are a ``dict[str, Tensor]``; stacking S of them along a
new leading axis gives a batch of S networks, and :meth:`Family.forward` runs either
form (``x @ W.mT`` broadcasts over the leading axis), which is what makes the probe
one forward and one backward for all seeds.

:meth:`Family.module` builds the same network for one seed as an ordinary
``nn.Module`` from standard layers (``nn.Linear``, ``nn.BatchNorm1d``, ``nn.LSTMCell``,
...), with a :class:`Tap` module at every probe site; it is the naive reference the
probe is tested against, and what a PyTorch user would write by hand.

A :class:`Family` subclass is everything the probe, the trainer and the tasks need to
know about one family (input key, example shape, default task, parameter groups, the
reference module's parameter names, memory estimate, batch requirements); nothing
outside this module dispatches on the spec's type. Its torch-free half (report title,
axis label, theory predictor, sizes) is declared on the spec class
(:class:`gradbench.specs.FamilyInfo`), so theory and the report reach it without torch.
A new family is a spec class decorated with :func:`gradbench.specs.register_family`, whose
:class:`~gradbench.specs.FamilyInfo` names its :class:`Family` subclass (here or in any
module) and its Hypothesis strategy: that one registration is all the probe, the trainer,
theory, the report and the suite's reference check need (tests/test_families.py registers
one from a test file).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from gradbench import registry
from gradbench.errors import SPEC, InvalidArgument, factory_form, refuse_module
from gradbench.remedies.initializers import STACK_MARK, fans, fill_standard_normal
from gradbench.specs import (
    BATCHNORM2D_EPS,
    CELL_KINDS,
    Conv1DSpec,
    Conv2DSpec,
    FamilyInfo,
    MLPSpec,
    ResConv2DSpec,
    ResidualSpec,
    RNNSpec,
    Spec,
    TransformerSpec,
    bias_variance,
    resolve,
    spec_types,
)
from gradbench.specs import LAYERNORM_EPS as _LN_EPS

Params = dict[str, Tensor]
L = TypeVar("L", nn.Linear, nn.Conv1d, nn.Conv2d)
STACK_ENTRIES = 1 << 16  # entries per initializer call on a stack of weights (256 KiB float32)
_ACTIVATION_COPIES = 8  # tensors of size batch x width kept per site (h, norm, phi, grads)
_WINDOW_COPIES = 2  # a convolution's k (1-D) or k^2 (2-D) shifted copies of x, and their gradient
# A weight that gets a gradient: the weight, its gradient, and the gradient as autograd first
# forms it (transposed), before it is laid out like the weight.
_WEIGHT_COPIES = 3


def derive_seed(spec: Spec, base_seed: int, index: int, stream: str) -> int:
    """A 63-bit seed that is a pure function of the spec, the base seed, the index and the stream.

    Uses BLAKE2b of the canonical JSON of those values, so it is stable across runs,
    platforms and Python versions (unlike ``hash``).
    """
    payload = json.dumps(
        {"spec": spec.to_dict(), "seed": base_seed, "index": index, "stream": stream},
        sort_keys=True,
    )
    digest = hashlib.blake2b(payload.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def generator_for(spec: Spec, base_seed: int, index: int, stream: str) -> torch.Generator:
    """A CPU generator seeded by :func:`derive_seed`."""
    return torch.Generator().manual_seed(derive_seed(spec, base_seed, index, stream))


Allocator = Callable[[tuple[int, ...]], Tensor]
"""Storage for the next tensor a :class:`Draw` makes, given its shape (see :meth:`Draw.empty`)."""
STREAMS = ("params", "data")
"""The random streams of one network: parameters, then inputs and readout."""


def draw_for(
    spec: Spec, base_seed: int, index: int, stream: str, dtype: torch.dtype = torch.float64,
    allocate: Allocator | None = None,
) -> Draw:
    """The :class:`Draw` of one network's stream, made in ``dtype``."""
    return Draw(generator_for(spec, base_seed, index, stream), dtype, allocate)


@dataclass(frozen=True)
class Draw:
    """One network's random stream: a seeded CPU generator and the dtype parameters are made in.

    Gaussian entries are float32 normals scaled in ``dtype``
    (:func:`~gradbench.remedies.initializers.standard_normal`), so float32 and
    bfloat16 runs skip float64 generation and float64 runs hold the same numbers exactly.
    """

    generator: torch.Generator
    dtype: torch.dtype = torch.float64
    allocate: Allocator | None = None

    def empty(self, shape: tuple[int, ...]) -> Tensor:
        """Storage for the next tensor drawn: ``allocate(shape)`` when given (the probe hands
        out the slots of its stacked tensors, so a network is drawn where it is used), else
        fresh. The numbers do not depend on where they are drawn."""
        if self.allocate is not None:
            return self.allocate(shape)
        return torch.empty(shape, dtype=self.dtype)

    def weight(self, init: str, shape: tuple[int, ...], sigma_w2: float | None) -> Tensor:
        """One weight from the registered initializer, rescaled to ``sigma_w2`` if given."""
        remedy = registry.lookup("initializer", init)
        return self._initialize(remedy, self.empty(shape), shape, sigma_w2)

    def weights(self, init: str, shape: tuple[int, ...], count: int,
                sigma_w2: float | None) -> list[Tensor]:
        """``count`` weights, the numbers ``count`` calls of :meth:`weight` in a row draw, as
        the slices of one ``[count, *shape]`` tensor.

        An initializer registered with ``stacks=True`` draws several in one call (it reads
        each weight's shape with :func:`~gradbench.remedies.initializers.weight_shape`),
        :data:`STACK_ENTRIES` entries at most: fewer Python calls per network, on a stack
        small enough to stay in a core's cache (ATen's Gaussian fill passes over its tensor
        twice; on the whole stack of a deep network it ran 1.3x slower than per weight).
        ATen draws normals 16 at a time, so one call gives the numbers of as many calls only
        when 16 divides each weight's size; otherwise, and for any other initializer, each
        weight gets its own call.
        """
        remedy = registry.lookup("initializer", init)
        stack, size = self.empty((count, *shape)), math.prod(shape)
        stacks = remedy.meta.get("stacks") and size and size % 16 == 0
        if stacks:
            _check_stacking(remedy, shape, self.dtype)
        per_call = max(1, STACK_ENTRIES // size) if stacks else 1
        for first in range(0, count, per_call):
            group = stack[first:first + per_call] if per_call > 1 else stack[first]
            if per_call > 1:
                setattr(group, STACK_MARK, True)
            self._initialize(remedy, group, shape, sigma_w2)
        return list(stack.unbind(0))

    def _initialize(self, remedy: registry.Remedy, w: Tensor, shape: tuple[int, ...],
                    sigma_w2: float | None) -> Tensor:
        """``w`` (one weight of ``shape``, or a stack of them) filled by ``remedy`` and
        rescaled to ``sigma_w2`` if given: entries of variance ``sigma_w2 / fan_in``."""
        remedy.fn(w, generator=self.generator)
        if sigma_w2 is not None:
            fan_in, fan_out = fans(shape)
            declared = remedy.meta["variance"](fan_in, fan_out, **remedy.params) * fan_in
            w.mul_(math.sqrt(sigma_w2 / declared))
        return w

    def gaussian(self, shape: tuple[int, ...], variance: float) -> Tensor:
        """``N(0, variance)`` entries."""
        return fill_standard_normal(self.empty(shape), self.generator, math.sqrt(variance))

    def bias(self, size: int, variance: float) -> Tensor:
        """``N(0, variance)`` entries, or exact zeros (no draw) when the variance is 0."""
        if variance == 0.0:
            return self.empty((size,)).zero_()
        return self.gaussian((size,), variance)

    def readout(self, shape: tuple[int, ...]) -> Tensor:
        """Random readout R of ``shape`` (batch first), isotropic unit examples, ``||R||_F = 1``."""
        r = fill_standard_normal(self.empty(shape), self.generator)
        per_example = tuple(range(1, len(shape)))
        if len(per_example) > 2:  # images: Tensor.norm takes at most 2 dims
            return r / torch.linalg.vector_norm(r, dim=per_example, keepdim=True) / math.sqrt(
                shape[0])
        return r / r.norm(dim=per_example, keepdim=True) / math.sqrt(shape[0])


def _activation(name: str) -> Callable[[Tensor], Tensor]:
    return registry.lookup("activation", name).fn  # type: ignore[no-any-return]


def _norm_fn(name: str | None) -> Callable[[Tensor], Tensor]:
    return registry.lookup("normalization", name or "none").fn  # type: ignore[no-any-return]


class Tap(nn.Identity):
    """Marks a probe site in a reference module; hooks on it see the site's tensor."""


class Lambda(nn.Module):
    """Wraps an elementwise function from a registry as a module (for printing and hooks)."""

    def __init__(self, fn: Callable[[Tensor], Tensor], name: str) -> None:
        super().__init__()
        self.fn, self.name = fn, name

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def _norm_module(name: str | None, width: int) -> nn.Module:
    remedy = registry.lookup("normalization", name or "none")
    factory = remedy.meta.get("module")
    return factory(width) if factory else Lambda(remedy.fn, remedy.label)


def _load_linear(linear: L, weight: Tensor, bias: Tensor | None = None) -> L:
    """``linear`` (an ``nn.Linear`` or ``nn.Conv1d``) holding ``weight`` and ``bias``."""
    with torch.no_grad():
        linear.weight.copy_(weight)
        if bias is not None:
            linear.bias.copy_(bias)  # type: ignore[union-attr]
    return linear


@dataclass(frozen=True)
class Forward:
    """Result of a functional forward pass.

    Attributes:
        loss: scalar ``sum(R * y)`` summed over stacked networks.
        sites: the probe-site tensors, in the graph of ``loss``; the probe reads the
            gradient reaching each as backward forms it (a hook; nothing needs
            ``retain_grad``).
        weight_inputs: per site, ``(grad_source, input)`` pairs whose product
            ``(dloss/dgrad_source)^T @ input`` is the site's weight gradient, or ``None``
            when the site's weight gradients come from parameters' ``.grad``.
    """

    loss: Tensor
    sites: list[Tensor]
    weight_inputs: list[tuple[Tensor, Tensor]] | None = None


class Family:
    """Everything about one network family that needs torch; one subclass per spec class.

    The torch-free half is declared on the spec class itself (:attr:`info`: report title,
    axis label, the theory predictor; ``spec.n_sites``, ``spec.n_features``,
    ``spec.weight_fans``), so that theory and the report reach it without torch.

    Attributes:
        spec_type: the spec class this family handles.
        site_name: what a probe site is, for messages and plots.
        input_key: the data entry the network reads first; the probe makes it require grad
            (so the first site's gradient exists), and the network output has its shape.
        tasks: the :data:`gradbench.tasks.TASKS` that apply; the first is the default.
        supports_dropout: training may apply dropout after the activation.
        weight_grads_from_sites: :meth:`forward` returns ``weight_inputs`` that give every
            site's weight gradient, so the probe never needs the weights' ``.grad``.
    """

    spec_type: ClassVar[type[Any]]
    site_name: ClassVar[str] = "site"
    input_key: ClassVar[str] = "x"
    tasks: ClassVar[tuple[str, ...]] = ("teacher_student", "linear_teacher")
    supports_dropout: ClassVar[bool] = True
    weight_grads_from_sites: ClassVar[bool] = False

    @property
    def info(self) -> FamilyInfo:
        """The torch-free declarations of the family (on its spec class)."""
        return self.spec_type.info  # type: ignore[no-any-return]

    def example_shape(self, spec: Any) -> tuple[int, ...]:
        """Shape of one example of the input (and of every site): ``(n_features,)``."""
        return (spec.n_features,)

    def draw_parameters(self, spec: Any, draw: Draw) -> Params:
        """All parameters of one network, CPU, drawn in a fixed order."""
        raise NotImplementedError

    def draw_data(self, spec: Any, batch: int, draw: Draw) -> Params:
        """Inputs ``x ~ N(0, input_var)`` and the readout ``R`` of one network's batch, CPU."""
        shape = (batch, *self.example_shape(spec))
        return {"x": draw.gaussian(shape, spec.input_var), "R": draw.readout(shape)}

    def forward(self, spec: Any, params: Params, data: Params) -> Forward:
        """Run the network(s); params and data may carry a leading stack axis."""
        raise NotImplementedError

    def weight_groups(self, spec: Any) -> list[list[str]]:
        """Per site, the parameter names whose gradient norm is reported there (empty: RNN)."""
        return []

    def layer_groups(self, spec: Any) -> list[list[str]]:
        """Parameter groups whose norms a training probe records, one per layer."""
        return self.weight_groups(spec)

    def module(self, spec: Any, params: Params) -> nn.Module:
        """The same network (one seed) as an ordinary ``nn.Module``; ``forward(data) -> y``."""
        raise NotImplementedError

    def module_params(self, spec: Any, model: nn.Module) -> dict[str, nn.Parameter]:
        """The reference module's parameters under their functional names (``W0``, ...)."""
        raise NotImplementedError

    def reference_weight_norms(self, spec: Any, model: nn.Module) -> list[float]:
        """Per site, the norm of the reference module's weight gradients (after backward)."""
        named = self.module_params(spec, model)
        return [
            math.hypot(*(float(named[n].grad.norm()) for n in group))  # type: ignore[union-attr]
            for group in self.weight_groups(spec)
        ]

    def bytes_per_network(self, spec: Any, batch: int, itemsize: int) -> int:
        """Estimated memory of one network's forward and backward pass."""
        raise NotImplementedError

    def batch_issue(self, spec: Any, batch: int) -> str | None:
        """Why ``batch`` examples are too few for this spec (batch statistics), or None."""
        return None

    def has_jacobian(self, spec: Any) -> bool:
        """Whether :meth:`input_output_jacobian` is implemented for ``spec``."""
        return False

    def input_output_jacobian(self, spec: Any, params: Params, x: Tensor) -> Tensor:
        """``[S, n, n]`` Jacobians ``dx^L/dx^0`` of stacked networks at one input each."""
        raise NotImplementedError

    def calibrate(self, spec: Any, params: Params, data: Params) -> Params:
        """Data-dependent initialization (LSUV); identity unless the initializer asks for it."""
        init = getattr(spec, "init", None)  # a family may draw its weights its own way
        if init is not None and registry.lookup("initializer", init).meta.get("data_dependent"):
            raise InvalidArgument(
                f"initializer {spec.init!r} needs data and is supported for MLPSpec only, "
                f"not {type(spec).__name__}"
            )
        return params


def _dense_bytes(spec: Any, batch: int, itemsize: int, blocks: int,
                 weight_copies: int = 2) -> int:
    """Memory of ``n_sites`` sites of ``blocks`` n x n weights (``weight_copies`` of each)
    and ``batch x n`` activations."""
    n = spec.n_features
    per_site = batch * n * blocks * _ACTIVATION_COPIES + weight_copies * blocks * n * n
    return itemsize * spec.n_sites * per_site


def _affine(x: Tensor, w: Tensor, b: Tensor, add_bias: bool) -> Tensor:
    """``x W^T + b`` over stacked examples, the add left out when ``add_bias`` is False
    (biases of exact zeros, :func:`_adds_anything`)."""
    h = x @ w.mT
    return h + b.unsqueeze(-2) if add_bias else h


_STACKING_CHECKED: set[tuple[Any, ...]] = set()


def _check_stacking(remedy: registry.Remedy, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    """Refuse an initializer declaring ``stacks=True`` whose one call on a stack of two
    weights of ``shape`` draws other numbers than two calls in a row (e.g. it reads its fans
    from the stack's shape). Checked once per initializer, shape and dtype, on throwaway
    generators: two draws of one weight each."""
    key = (remedy.name, id(remedy.obj), repr(remedy.params), shape, dtype)
    if key in _STACKING_CHECKED:
        return
    one_by_one, stack = (torch.empty((2, *shape), dtype=dtype) for _ in range(2))
    generator = torch.Generator().manual_seed(0)
    for w in one_by_one.unbind(0):
        remedy.fn(w, generator=generator)
    setattr(stack, STACK_MARK, True)
    remedy.fn(stack, generator=torch.Generator().manual_seed(0))
    if not torch.equal(stack, one_by_one):
        raise InvalidArgument(
            f"initializer {remedy.name!r} declares stacks=True but draws 2 weights {shape} "
            "in one call unlike in 2 calls: use fans(weight_shape(w)) on w as passed "
            "(not w.detach()), or drop stacks"
        )
    _STACKING_CHECKED.add(key)


def _adds_anything(bias: Tensor) -> bool:
    """Whether ``h + bias`` can differ from ``h``: ``bias`` requires grad or has a nonzero
    entry. Skipping the add of exact zeros changes no number a probe reports (at most a
    -0.0 stays -0.0). Checked before the forward pass, so on a GPU the checks wait for no
    queued work."""
    return bias.requires_grad or bool(bias.any())


def _draw_layers(spec: Any, draw: Draw, shape: tuple[int, ...]) -> Params:
    """``W{l}`` of ``shape`` and ``b{l}`` of ``shape[0]`` for l < depth, drawn in that order.
    Zero biases draw nothing, so then the weights are drawn in a row (:meth:`Draw.weights`)
    and the biases are the rows of one zero tensor: the same numbers."""
    sb2, depth = bias_variance(spec), spec.depth
    if sb2 == 0.0:
        weights = draw.weights(spec.init, shape, depth, spec.sigma_w2)
        biases = list(draw.empty((depth, shape[0])).zero_().unbind(0))
    else:
        weights, biases = [], []
        for _ in range(depth):
            weights.append(draw.weight(spec.init, shape, spec.sigma_w2))
            biases.append(draw.bias(shape[0], sb2))
    params: Params = {}
    for layer, (w, b) in enumerate(zip(weights, biases)):
        params[f"W{layer}"], params[f"b{layer}"] = w, b
    return params


def _layer_params(layers: Iterable[nn.Module]) -> dict[str, nn.Parameter]:
    """``W{l}``, ``b{l}`` of a reference module's stack of ``nn.Linear``/``nn.Conv1d``."""
    out = {}
    for i, layer in enumerate(layers):
        out[f"W{i}"], out[f"b{i}"] = layer.weight, layer.bias
    return out  # type: ignore[return-value]


def _batch_statistics_issue(spec: Any, batch: int) -> str | None:
    """A normalization with batch statistics needs at least 2 examples."""
    norm = registry.lookup("normalization", spec.norm).meta if spec.norm else {}
    if batch < 2 and norm.get("statistics") == "batch":
        return f"batch={batch} is invalid with {spec.norm}: must be >= 2 (batch statistics)"
    return None


class MLPFamily(Family):
    """``h^l = W^l x^{l-1} + b^l``, ``x^l = phi(norm(h^l))``, sites ``h^1..h^L``."""

    spec_type = MLPSpec
    site_name = "pre-activation h^l"
    weight_grads_from_sites = True

    def draw_parameters(self, spec: MLPSpec, draw: Draw) -> Params:
        return _draw_layers(spec, draw, (spec.width, spec.width))

    def forward(self, spec: MLPSpec, params: Params, data: Params) -> Forward:
        act, norm = _activation(spec.activation), _norm_fn(spec.norm)
        x, sites, inputs = data["x"], [], []
        biased = [_adds_anything(params[f"b{layer}"]) for layer in range(spec.depth)]
        for layer in range(spec.depth):
            h = _affine(x, params[f"W{layer}"], params[f"b{layer}"], biased[layer])
            sites.append(h)
            inputs.append((h, x))  # dL/dW^l = (dL/dh^l)^T x^{l-1}
            x = act(norm(h))
        return Forward(loss=(data["R"] * x).sum(), sites=sites, weight_inputs=inputs)

    def weight_groups(self, spec: MLPSpec) -> list[list[str]]:
        return [[f"W{layer}"] for layer in range(spec.depth)]

    def calibrate(self, spec: MLPSpec, params: Params, data: Params) -> Params:
        """LSUV (Mishkin & Matas 2016): rescale W^l, layer by layer, so that Var h^l = 1."""
        if not registry.lookup("initializer", spec.init).meta.get("data_dependent"):
            return params
        act, norm, x = _activation(spec.activation), _norm_fn(spec.norm), data["x"]
        params = dict(params)
        for layer in range(spec.depth):
            w, b = params[f"W{layer}"], params[f"b{layer}"]
            h = x @ w.mT + b
            std = h.std(dim=(-2, -1), keepdim=True).squeeze(-1)
            params[f"W{layer}"] = w / std
            x = act(norm(x @ params[f"W{layer}"].mT + b))
        return params

    def module(self, spec: MLPSpec, params: Params) -> nn.Module:
        return _MLPModule(spec, params)

    def module_params(self, spec: MLPSpec, model: nn.Module) -> dict[str, nn.Parameter]:
        return _layer_params(model.linears)  # type: ignore[arg-type]

    def bytes_per_network(self, spec: MLPSpec, batch: int, itemsize: int) -> int:
        return _dense_bytes(spec, batch, itemsize, blocks=1)  # one layer per site

    def batch_issue(self, spec: MLPSpec, batch: int) -> str | None:
        return _batch_statistics_issue(spec, batch)

    def has_jacobian(self, spec: MLPSpec) -> bool:
        return spec.norm is None

    def input_output_jacobian(self, spec: MLPSpec, params: Params, x: Tensor) -> Tensor:
        """``J = D^L W^L ... D^1 W^1`` with ``D^l = diag(phi'(h^l))`` (autograd for phi')."""
        act = _activation(spec.activation)
        jac = torch.eye(spec.width, dtype=x.dtype, device=x.device).expand(x.shape[0], -1, -1)
        for layer in range(spec.depth):
            w = params[f"W{layer}"]
            h = (x @ w.mT + params[f"b{layer}"].unsqueeze(-2)).requires_grad_(True)
            y = act(h)
            (slope,) = torch.autograd.grad(y.sum(), h)  # phi'(h), elementwise
            jac = slope.mT * (w @ jac)  # D W J: scale row i by phi'(h_i)
            x = y.detach()
        return jac


class _MLPModule(nn.Module):
    def __init__(self, spec: MLPSpec, params: Params) -> None:
        super().__init__()
        n = spec.width
        self.linears = nn.ModuleList(
            _load_linear(nn.Linear(n, n, dtype=torch.float64), params[f"W{i}"], params[f"b{i}"])
            for i in range(spec.depth)
        )
        self.taps = nn.ModuleList(Tap() for _ in range(spec.depth))
        self.norms = nn.ModuleList(_norm_module(spec.norm, n) for _ in range(spec.depth))
        self.act = Lambda(_activation(spec.activation), spec.activation)

    def forward(self, data: Params) -> Tensor:
        x = data["x"]
        for linear, tap, norm in zip(self.linears, self.taps, self.norms):
            x = self.act(norm(tap(linear(x))))
        return x


class ResidualFamily(Family):
    """``x_l = x_{l-1} + alpha_l W2 phi(norm(W1 x_{l-1} + b))``, sites ``x_0..x_{L-1}``."""

    spec_type = ResidualSpec
    site_name = "residual stream x_l"

    def draw_parameters(self, spec: ResidualSpec, draw: Draw) -> Params:
        n, sb2, params = spec.width, bias_variance(spec), {}
        scaling = registry.lookup("residual", str(spec.branch_scale))
        w1_scale = scaling.meta.get("branch_weight_scale", lambda depth: 1.0)(spec.depth)
        for block in range(spec.depth):
            params[f"W1_{block}"] = draw.weight(spec.init, (n, n), spec.sigma_w2) * w1_scale
            params[f"b{block}"] = draw.bias(n, sb2)
            w2 = draw.weight(spec.out_init, (n, n), None)
            params[f"W2_{block}"] = torch.zeros_like(w2) if scaling.meta.get("zero_out") else w2
        return params

    def alphas(self, spec: ResidualSpec) -> list[float]:
        """Branch scale alpha_l for l = 1..L."""
        fn = registry.lookup("residual", str(spec.branch_scale)).fn
        return [float(fn(block + 1, spec.depth)) for block in range(spec.depth)]

    def forward(self, spec: ResidualSpec, params: Params, data: Params) -> Forward:
        act, norm = _activation(spec.activation), _norm_fn(spec.norm)
        x, sites = data["x"], []
        biased = [_adds_anything(params[f"b{block}"]) for block in range(spec.depth)]
        for block, alpha in enumerate(self.alphas(spec)):
            sites.append(x)
            h = _affine(x, params[f"W1_{block}"], params[f"b{block}"], biased[block])
            x = x + alpha * (act(norm(h)) @ params[f"W2_{block}"].mT)
        return Forward(loss=(data["R"] * x).sum(), sites=sites)

    def weight_groups(self, spec: ResidualSpec) -> list[list[str]]:
        return [[f"W1_{b}", f"W2_{b}"] for b in range(spec.depth)]

    def module(self, spec: ResidualSpec, params: Params) -> nn.Module:
        return _ResidualModule(spec, params, self.alphas(spec))

    def module_params(self, spec: ResidualSpec, model: nn.Module) -> dict[str, nn.Parameter]:
        out = {}
        for i, block in enumerate(model.blocks):  # type: ignore[arg-type]
            out[f"W1_{i}"], out[f"b{i}"], out[f"W2_{i}"] = (
                block.fc1.weight, block.fc1.bias, block.fc2.weight
            )
        return out

    def bytes_per_network(self, spec: ResidualSpec, batch: int, itemsize: int) -> int:
        """The branch's two layers, each weight counted :data:`_WEIGHT_COPIES` times."""
        return _dense_bytes(spec, batch, itemsize, blocks=2, weight_copies=_WEIGHT_COPIES)

    def batch_issue(self, spec: ResidualSpec, batch: int) -> str | None:
        return _batch_statistics_issue(spec, batch)


class _Block(nn.Module):
    def __init__(self, spec: ResidualSpec, params: Params, block: int, alpha: float) -> None:
        super().__init__()
        n, f64 = spec.width, torch.float64
        self.tap = Tap()
        self.fc1 = _load_linear(
            nn.Linear(n, n, dtype=f64), params[f"W1_{block}"], params[f"b{block}"]
        )
        self.norm = _norm_module(spec.norm, n)
        self.act = Lambda(_activation(spec.activation), spec.activation)
        self.fc2 = _load_linear(nn.Linear(n, n, bias=False, dtype=f64), params[f"W2_{block}"])
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        x = self.tap(x)
        return x + self.alpha * self.fc2(self.act(self.norm(self.fc1(x))))


class _ResidualModule(nn.Module):
    def __init__(self, spec: ResidualSpec, params: Params, alphas: list[float]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(_Block(spec, params, b, a) for b, a in enumerate(alphas)))

    def forward(self, data: Params) -> Tensor:
        return self.blocks(data["x"])  # type: ignore[no-any-return]


Step = Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class CellModel:
    """A recurrent cell's torch side: the stacked step function and the reference ``nn`` cell.

    The torch-free facts (gate count, a vanilla cell's activation) are the cell's
    :class:`~gradbench.specs.CellKind` in :data:`~gradbench.specs.CELL_KINDS`.
    """

    step: Step
    reference: Callable[[int], nn.Module]


def _vanilla(cell: str) -> Step:
    """``h' = phi(inp + rec)`` with the registered activation the cell kind declares."""

    def step(inp: Tensor, rec: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        return _activation(str(CELL_KINDS[cell].activation))(inp + rec), c

    return step


def _lstm_step(inp: Tensor, rec: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch LSTMCell equations, gate order (i, f, g, o) (Hochreiter & Schmidhuber 1997)."""
    i, f, g, o = (inp + rec).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _gru_step(inp: Tensor, rec: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch GRUCell equations, gate order (r, z, n) (Cho et al. 2014)."""
    i_r, i_z, i_n = inp.chunk(3, dim=-1)
    h_r, h_z, h_n = rec.chunk(3, dim=-1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h, c


class _LinearCell(nn.Module):
    """h' = W_ih x + b + W_hh h (no nonlinearity), the reference for the ``linear`` cell."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.weight_ih = nn.Parameter(torch.empty(hidden, hidden, dtype=torch.float64))
        self.weight_hh = nn.Parameter(torch.empty(hidden, hidden, dtype=torch.float64))
        self.bias_ih = nn.Parameter(torch.empty(hidden, dtype=torch.float64))
        self.bias_hh = nn.Parameter(torch.zeros(hidden, dtype=torch.float64))

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh


CELL_MODELS: dict[str, CellModel] = {
    "rnn_tanh": CellModel(_vanilla("rnn_tanh"), lambda n: nn.RNNCell(n, n, nonlinearity="tanh")),
    "rnn_relu": CellModel(_vanilla("rnn_relu"), lambda n: nn.RNNCell(n, n, nonlinearity="relu")),
    "linear": CellModel(_vanilla("linear"), _LinearCell),
    "lstm": CellModel(_lstm_step, lambda n: nn.LSTMCell(n, n)),
    "gru": CellModel(_gru_step, lambda n: nn.GRUCell(n, n)),
}


class RNNFamily(Family):
    """Unrolled recurrent net, loss on h_T, sites ``h_1..h_T`` (PyTorch cell equations)."""

    spec_type = RNNSpec
    site_name = "hidden state h_t"
    weight_grads_from_sites = True
    input_key = "h0"
    tasks = ("adding", "copy")
    supports_dropout = False

    def draw_parameters(self, spec: RNNSpec, draw: Draw) -> Params:
        n, gates = spec.hidden, CELL_KINDS[spec.cell].gates
        blocks = [draw.weight(spec.init, (n, n), spec.sigma_w2) for _ in range(gates)]
        w_ih = draw.gaussian((gates * n, n), spec.sigma_u2 / n)
        b = draw.bias(gates * n, bias_variance(spec))
        carry = CELL_KINDS[spec.cell].carry_gate
        if carry is not None:
            b[carry * n:(carry + 1) * n] += spec.forget_bias
        return {"W_hh": torch.cat(blocks) * spec.recurrent_scale, "W_ih": w_ih, "b": b}

    def draw_data(self, spec: RNNSpec, batch: int, draw: Draw) -> Params:
        n = spec.hidden
        return {
            "xs": draw.gaussian((spec.steps, batch, n), spec.input_var),
            "h0": draw.gaussian((batch, n), spec.h0_var),
            "R": draw.readout((batch, n)),
        }

    def forward(self, spec: RNNSpec, params: Params, data: Params) -> Forward:
        step = CELL_MODELS[spec.cell].step
        h, xs = data["h0"], data["xs"]
        c = torch.zeros_like(h)
        w_hh, w_ih, b = params["W_hh"], params["W_ih"], params["b"].unsqueeze(-2)
        sites, weight_inputs = [], []
        for t in range(spec.steps):
            rec = h @ w_hh.mT
            weight_inputs.append((rec, h))
            h, c = step(xs[..., t, :, :] @ w_ih.mT + b, rec, h, c)
            sites.append(h)
        return Forward(loss=(data["R"] * h).sum(), sites=sites, weight_inputs=weight_inputs)

    def module(self, spec: RNNSpec, params: Params) -> nn.Module:
        return _RNNModule(spec, params)

    def layer_groups(self, spec: RNNSpec) -> list[list[str]]:
        return [["W_hh"], ["W_ih"]]

    def module_params(self, spec: RNNSpec, model: nn.Module) -> dict[str, nn.Parameter]:
        cell: Any = model.cell
        cell.bias_hh.requires_grad_(False)  # the functional cell has one bias; keep this one at 0
        return {"W_hh": cell.weight_hh, "W_ih": cell.weight_ih, "b": cell.bias_ih}

    def reference_weight_norms(self, spec: RNNSpec, model: nn.Module) -> list[float]:
        """NaN: a step's weight-gradient contribution is not observable inside ``nn.RNNCell``."""
        return [math.nan] * spec.steps

    def bytes_per_network(self, spec: RNNSpec, batch: int, itemsize: int) -> int:
        """Each step's gate tensors, and ``W_hh`` and ``W_ih`` once: every step shares them
        (counted per step, 300 steps of hidden 4096 were estimated at 38 GiB, against 0.6
        GiB measured). Each weight counts twice :data:`_WEIGHT_COPIES`: the draw's gate
        blocks, their concatenation and the scaled ``W_hh`` are held at once."""
        n, gates = spec.hidden, CELL_KINDS[spec.cell].gates
        per_step = batch * n * gates * _ACTIVATION_COPIES
        return itemsize * (spec.steps * per_step + 2 * _WEIGHT_COPIES * 2 * gates * n * n)


class _RNNModule(nn.Module):
    def __init__(self, spec: RNNSpec, params: Params) -> None:
        super().__init__()
        cell: Any = CELL_MODELS[spec.cell].reference(spec.hidden).to(torch.float64)
        self.cell = cell
        self.is_lstm = isinstance(cell, nn.LSTMCell)
        with torch.no_grad():
            cell.weight_hh.copy_(params["W_hh"])
            cell.weight_ih.copy_(params["W_ih"])
            cell.bias_ih.copy_(params["b"])
            cell.bias_hh.zero_()
        self.taps = nn.ModuleList(Tap() for _ in range(spec.steps))

    def forward(self, data: Params) -> Tensor:
        h = data["h0"]
        c = torch.zeros_like(h)
        for t, tap in enumerate(self.taps):
            if self.is_lstm:
                h, c = self.cell(data["xs"][t], (h, c))
            else:
                h = self.cell(data["xs"][t], h)
            h = tap(h)
        return h


def _circular_windows(x: Tensor, kernel: int) -> Tensor:
    """``[..., C, T] -> [..., C, T, k]``: ``out[..., t, j] = x[..., (t + j - p) mod T]``."""
    p = (kernel - 1) // 2
    return torch.stack([torch.roll(x, p - j, dims=-1) for j in range(kernel)], dim=-1)


def _modulated_input(data: Params, spec: Any, draw: Draw) -> Params:
    """Scale the inputs ``x ~ N(0, input_var)`` to the per-position variance
    ``spec.input_variances`` of a modulated conv spec (docs/theory.md §11.2, §11.4)."""
    if spec.input_modulation != 0.0:
        ratio = torch.tensor(spec.input_variances, dtype=draw.dtype) / spec.input_var
        data["x"] = data["x"] * ratio.sqrt()
    return data


class Conv1DFamily(Family):
    """Circular 1-D convolutions ``h^l = W^l * x^{l-1} + b^l``, ``x^l = phi(h^l)``, sites h^l.

    Data are ``[batch, C, T]`` as for ``nn.Conv1d``; the stacked forward is the sum
    ``h[b, o, t] = sum_ij W[o, i, j] x[b, i, (t + j - p) mod T]`` over rolled copies of x.
    """

    spec_type = Conv1DSpec
    site_name = "pre-activation h^l"
    tasks = ("teacher_student",)

    def example_shape(self, spec: Conv1DSpec) -> tuple[int, ...]:
        return (spec.channels, spec.length)

    def draw_parameters(self, spec: Conv1DSpec, draw: Draw) -> Params:
        return _draw_layers(spec, draw, (spec.channels, spec.channels, spec.kernel))

    def draw_data(self, spec: Conv1DSpec, batch: int, draw: Draw) -> Params:
        return _modulated_input(super().draw_data(spec, batch, draw), spec, draw)

    def forward(self, spec: Conv1DSpec, params: Params, data: Params) -> Forward:
        act, x, sites = _activation(spec.activation), data["x"], []
        for layer in range(spec.depth):
            windows = _circular_windows(x, spec.kernel)
            h = torch.einsum("...oij,...bitj->...bot", params[f"W{layer}"], windows)
            h = h + params[f"b{layer}"].unsqueeze(-2).unsqueeze(-1)
            sites.append(h)
            x = act(h)
        return Forward(loss=(data["R"] * x).sum(), sites=sites)

    def weight_groups(self, spec: Conv1DSpec) -> list[list[str]]:
        return [[f"W{layer}"] for layer in range(spec.depth)]

    def module(self, spec: Conv1DSpec, params: Params) -> nn.Module:
        return _Conv1DModule(spec, params)

    def has_jacobian(self, spec: Conv1DSpec) -> bool:
        """Delta kernels (only the centre tap non-zero): the Jacobian is block-diagonal."""
        return registry.lookup("initializer", spec.init).meta.get("kernel") == "delta"

    def input_output_jacobian(self, spec: Conv1DSpec, params: Params, x: Tensor) -> Tensor:
        """``[S, T, C, C]``: the diagonal blocks ``D^L_t W_c^L ... D^1_t W_c^1`` of the
        block-diagonal Jacobian of a delta-kernel net (``W_c`` the centre tap) at one input
        ``x`` ``[S, 1, C, T]`` each; every position is an MLP of width C (docs/theory.md
        §11.1). Valid only for kernels declaring ``kernel="delta"`` (:meth:`has_jacobian`)."""
        act, centre = _activation(spec.activation), spec.kernel // 2
        xt = x[..., 0, :, :].mT  # [S, T, C]
        eye = torch.eye(spec.channels, dtype=x.dtype, device=x.device)
        jac = eye.expand(*xt.shape[:-1], -1, -1)
        for layer in range(spec.depth):
            w = params[f"W{layer}"][..., centre]  # [S, C, C]
            h = (xt @ w.mT + params[f"b{layer}"].unsqueeze(-2)).requires_grad_(True)
            y = act(h)
            (slope,) = torch.autograd.grad(y.sum(), h)
            jac = slope.unsqueeze(-1) * (w.unsqueeze(-3) @ jac)
            xt = y.detach()
        return jac

    def module_params(self, spec: Conv1DSpec, model: nn.Module) -> dict[str, nn.Parameter]:
        return _layer_params(model.convs)  # type: ignore[arg-type]

    def bytes_per_network(self, spec: Conv1DSpec, batch: int, itemsize: int) -> int:
        c, k = spec.channels, spec.kernel
        per_site = (batch * c * spec.length * (_WINDOW_COPIES * k + _ACTIVATION_COPIES)
                    + _WEIGHT_COPIES * c * c * k)
        return itemsize * spec.n_sites * per_site


class _Conv1DModule(nn.Module):
    def __init__(self, spec: Conv1DSpec, params: Params) -> None:
        super().__init__()
        c, k = spec.channels, spec.kernel
        self.convs = nn.ModuleList(
            _load_linear(
                nn.Conv1d(c, c, k, padding=(k - 1) // 2, padding_mode="circular",
                          dtype=torch.float64),
                params[f"W{i}"], params[f"b{i}"],
            )
            for i in range(spec.depth)
        )
        self.taps = nn.ModuleList(Tap() for _ in range(spec.depth))
        self.act = Lambda(_activation(spec.activation), spec.activation)

    def forward(self, data: Params) -> Tensor:
        x = data["x"]
        for conv, tap in zip(self.convs, self.taps):
            x = self.act(tap(conv(x)))
        return x


# --- transformer family (issue 17) -------------------------------------------------------

_ATTENTION_WEIGHTS = ("Q", "K", "V", "O")
_FFN_WEIGHTS = ("W1", "W2")


def _layer_norm(x: Tensor) -> Tensor:
    """LayerNorm over the last axis without affine parameters: ``(x - mean)/sqrt(var + eps)``."""
    mean = x.mean(dim=-1, keepdim=True)
    var = (x - mean).pow(2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + _LN_EPS)


def _linear(x: Tensor, w: Tensor) -> Tensor:
    """``x @ w^T`` with a leading seed axis broadcast. Stacked networks (``x: [S, batch, seq,
    d_in]``, one ``w: [S, d_out, d_in]`` per network) make one product per network with the
    example axes folded into rows; broadcasting ``w`` over the example axes instead would
    copy it once per example and keep the copies for backward (batch times the weights'
    memory). Any other shapes (one network, or shared data) broadcast as ``matmul`` does."""
    if w.dim() == 3 and x.dim() == 4:
        return (x.flatten(1, -2) @ w.mT).unflatten(1, x.shape[1:-1])
    return x @ w.unsqueeze(-3).mT


def _causal_mask(n: int, device: torch.device) -> Tensor:
    """``[n, n]``, True above the diagonal: key positions a query may not see."""
    return torch.ones(n, n, dtype=torch.bool, device=device).triu(1)


class TransformerFamily(Family):
    """An encoder stack (:class:`~gradbench.specs.TransformerSpec`), sites the stream after
    every sublayer (2 per block: attention, then FFN).

    Data are ``[batch, seq, width]``. Parameters per block b: ``Q{b}, K{b}, V{b}, O{b}``
    (``d x d``, ``nn.Linear`` layout ``(out, in)``) and ``W1_{b}`` (``d_ff x d``),
    ``W2_{b}`` (``d x d_ff``); no biases. The stacked forward writes multi-head attention
    with matmuls (a leading seed axis broadcasts); the reference module is built from
    ``nn.Linear``, ``torch.nn.functional.multi_head_attention_forward`` (the routine behind
    ``nn.MultiheadAttention``, with separate projection weights) and ``nn.LayerNorm``.

    Per-site weight-gradient norms (``Measurement.weight_grad_norms``) are the norm over the
    sublayer's group: attention sites ``[Q, K, V, O]``, FFN sites ``[W1, W2]``
    (:meth:`weight_groups`); one column per site, so per-matrix norms are not recorded (the
    groups' members are each checked against the reference in ``tests/test_transformer.py``).
    """

    spec_type = TransformerSpec
    site_name = "residual stream after a sublayer"
    tasks = ("teacher_student",)
    supports_dropout = False  # dropout masks have the example shape; the FFN is d_ff wide

    def example_shape(self, spec: TransformerSpec) -> tuple[int, ...]:
        return (spec.seq, spec.width)

    def draw_parameters(self, spec: TransformerSpec, draw: Draw) -> Params:
        """Per block, in order: W_Q, W_K, W_V, W_O, W1, W2 from ``spec.init``; ``branch_gain``
        multiplies V, O, W1, W2; uniform attention makes W_Q zero (not drawn); a
        ``layer_gain_exponent`` p then multiplies block l's six matrices by ``l^-p``."""
        d, d_ff, beta, params = spec.width, spec.d_ff, spec.branch_gain, {}
        for b in range(spec.depth):
            if spec.attention == "uniform":
                params[f"Q{b}"] = torch.zeros(d, d, dtype=draw.dtype)
            else:
                params[f"Q{b}"] = draw.weight(spec.init, (d, d), None)
            params[f"K{b}"] = draw.weight(spec.init, (d, d), None)
            params[f"V{b}"] = draw.weight(spec.init, (d, d), None) * beta
            params[f"O{b}"] = draw.weight(spec.init, (d, d), None) * beta
            params[f"W1_{b}"] = draw.weight(spec.init, (d_ff, d), None) * beta
            params[f"W2_{b}"] = draw.weight(spec.init, (d, d_ff), None) * beta
            if spec.layer_gain_exponent:
                for w in (*_ATTENTION_WEIGHTS, "W1_", "W2_"):
                    params[f"{w}{b}"] = params[f"{w}{b}"] * spec.layer_gain(b + 1)
        return params

    def _attention(self, spec: TransformerSpec, params: Params, b: int, x: Tensor) -> Tensor:
        heads, d = spec.heads, spec.width

        def split(w: Tensor) -> Tensor:  # [..., n, d] -> [..., heads, n, d/heads]
            return _linear(x, w).unflatten(-1, (heads, d // heads)).transpose(-3, -2)

        q, k, v = split(params[f"Q{b}"]), split(params[f"K{b}"]), split(params[f"V{b}"])
        scores = q @ k.mT / math.sqrt(d // heads)
        if spec.causal:
            scores = scores.masked_fill(_causal_mask(spec.seq, x.device), -math.inf)
        mixed = (torch.softmax(scores, dim=-1) @ v).transpose(-3, -2).flatten(-2)
        return _linear(mixed, params[f"O{b}"])

    def _ffn(self, spec: TransformerSpec, params: Params, b: int, x: Tensor) -> Tensor:
        hidden = _activation(spec.activation)(_linear(x, params[f"W1_{b}"]))
        return _linear(hidden, params[f"W2_{b}"])

    def forward(self, spec: TransformerSpec, params: Params, data: Params) -> Forward:
        x, sites, alpha = data["x"], [], spec.skip_scale
        for b in range(spec.depth):
            for sublayer in (self._attention, self._ffn):
                if spec.placement == "pre":
                    x = alpha * x + sublayer(spec, params, b, _layer_norm(x))
                elif spec.placement == "post":
                    x = _layer_norm(alpha * x + sublayer(spec, params, b, x))
                else:
                    x = alpha * x + sublayer(spec, params, b, x)
                sites.append(x)
        y = _layer_norm(x) if spec.placement == "pre" else x
        return Forward(loss=(data["R"] * y).sum(), sites=sites)

    def weight_groups(self, spec: TransformerSpec) -> list[list[str]]:
        groups = []
        for b in range(spec.depth):
            groups.append([f"{w}{b}" for w in _ATTENTION_WEIGHTS])
            groups.append([f"{w}_{b}" for w in _FFN_WEIGHTS])
        return groups

    def module(self, spec: TransformerSpec, params: Params) -> nn.Module:
        return _TransformerModule(spec, params)

    def module_params(self, spec: TransformerSpec, model: nn.Module) -> dict[str, nn.Parameter]:
        out = {}
        for b, block in enumerate(model.blocks):  # type: ignore[arg-type]
            attn, ffn = block.attn.fn, block.ffn.fn
            for w, linear in zip(_ATTENTION_WEIGHTS, (attn.q, attn.k, attn.v, attn.o)):
                out[f"{w}{b}"] = linear.weight
            out[f"W1_{b}"], out[f"W2_{b}"] = ffn[0].weight, ffn[2].weight
        return out

    def bytes_per_network(self, spec: TransformerSpec, batch: int, itemsize: int) -> int:
        """Per block: the stream, LN, q/k/v and mixed tensors (``batch seq d`` each, with
        their gradients), two ``batch heads seq^2`` score/probability tensors, the FFN's
        ``batch seq d_ff`` hidden layers and 4 d^2 + 2 d d_ff weights (each
        :data:`_WEIGHT_COPIES` times: they get gradients)."""
        d, d_ff, n = spec.width, spec.d_ff, spec.seq
        per_block = (batch * n * (2 * _ACTIVATION_COPIES * d + 3 * d_ff)
                     + 4 * batch * spec.heads * n * n
                     + _WEIGHT_COPIES * (4 * d * d + 2 * d * d_ff))
        return itemsize * spec.depth * per_block


class _Attention(nn.Module):
    """Multi-head self-attention from four bias-free ``nn.Linear`` (PyTorch's own routine)."""

    def __init__(self, spec: TransformerSpec, params: Params, b: int) -> None:
        super().__init__()
        d, f64 = spec.width, torch.float64
        self.heads, self.causal, self.seq = spec.heads, spec.causal, spec.seq
        self.q, self.k, self.v, self.o = (
            _load_linear(nn.Linear(d, d, bias=False, dtype=f64), params[f"{w}{b}"])
            for w in _ATTENTION_WEIGHTS
        )

    def forward(self, x: Tensor) -> Tensor:
        xt = x.transpose(0, 1)  # the functional routine is sequence-first
        mask = torch.ones(self.seq, self.seq, dtype=torch.bool).triu(1) if self.causal else None
        out, _ = nn.functional.multi_head_attention_forward(
            xt, xt, xt, x.shape[-1], self.heads, None, None, None, None, False, 0.0,
            self.o.weight, None, training=False, need_weights=False, attn_mask=mask,
            use_separate_proj_weight=True, q_proj_weight=self.q.weight,
            k_proj_weight=self.k.weight, v_proj_weight=self.v.weight,
        )
        return out.transpose(0, 1)


class _Sublayer(nn.Module):
    """One sublayer with its skip, LayerNorm placement and a :class:`Tap` on its output."""

    def __init__(self, fn: nn.Module, spec: TransformerSpec) -> None:
        super().__init__()
        self.fn, self.placement, self.alpha = fn, spec.placement, spec.skip_scale
        self.norm = nn.LayerNorm(spec.width, eps=_LN_EPS, elementwise_affine=False,
                                 dtype=torch.float64)
        self.tap = Tap()

    def forward(self, x: Tensor) -> Tensor:
        if self.placement == "pre":
            return self.tap(self.alpha * x + self.fn(self.norm(x)))
        if self.placement == "post":
            return self.tap(self.norm(self.alpha * x + self.fn(x)))
        return self.tap(self.alpha * x + self.fn(x))


class _TransformerBlock(nn.Module):
    def __init__(self, spec: TransformerSpec, params: Params, b: int) -> None:
        super().__init__()
        d, d_ff, f64 = spec.width, spec.d_ff, torch.float64
        self.attn = _Sublayer(_Attention(spec, params, b), spec)
        self.ffn = _Sublayer(nn.Sequential(
            _load_linear(nn.Linear(d, d_ff, bias=False, dtype=f64), params[f"W1_{b}"]),
            Lambda(_activation(spec.activation), spec.activation),
            _load_linear(nn.Linear(d_ff, d, bias=False, dtype=f64), params[f"W2_{b}"]),
        ), spec)

    def forward(self, x: Tensor) -> Tensor:
        return self.ffn(self.attn(x))  # type: ignore[no-any-return]


class _TransformerModule(nn.Module):
    def __init__(self, spec: TransformerSpec, params: Params) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(_TransformerBlock(spec, params, b)
                                      for b in range(spec.depth)))
        self.final = (nn.LayerNorm(spec.width, eps=_LN_EPS, elementwise_affine=False,
                                   dtype=torch.float64)
                      if spec.placement == "pre" else nn.Identity())

    def forward(self, data: Params) -> Tensor:
        return self.final(self.blocks(data["x"]))  # type: ignore[no-any-return]


# --- end of the transformer family ----------------------------------------------------------



# --- 2-D convolutional families (issue 17) ---------------------------------------------------


def _windows2d(x: Tensor, kernel: int, padding: str) -> Tensor:
    """``[..., C, H, W, k, k]``: entry ``[..., c, h, w, i, j]`` is the input seen by tap (i, j)
    at position (h, w), ``x[..., c, h + i - p, w + j - p]`` read periodically (``circular``)
    or as 0 outside the image (``zeros``), ``p = (k - 1) / 2``."""
    p = (kernel - 1) // 2
    height, width = x.shape[-2], x.shape[-1]
    if padding == "circular":
        taps = [torch.roll(x, (p - i, p - j), dims=(-2, -1))
                for i in range(kernel) for j in range(kernel)]
    else:
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        taps = [padded[..., i:i + height, j:j + width]
                for i in range(kernel) for j in range(kernel)]
    return torch.stack(taps, dim=-1).unflatten(-1, (kernel, kernel))


def _conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, spec: Any) -> Tensor:
    """``h[b, o, y, z] = sum_{i, u, v} W[o, i, u, v] x[b, i, y + u - p, z + v - p] + b[o]``;
    ``x`` ``[..., batch, C, H, W]``, ``weight`` ``[..., C, C, k, k]`` (stacked networks)."""
    h = torch.einsum("...oiuv,...bihwuv->...bohw", weight,
                     _windows2d(x, spec.kernel, spec.padding))
    if bias is not None:
        h = h + bias.unsqueeze(-2).unsqueeze(-1).unsqueeze(-1)
    return h


def _batchnorm2d(h: Tensor) -> Tensor:
    """Per channel, over the batch and all positions of ``[..., batch, C, H, W]``:
    ``(h - mean) / sqrt(var + eps)``, biased variance, eps = ``BATCHNORM2D_EPS``."""
    axes = (-4, -2, -1)
    mean = h.mean(dim=axes, keepdim=True)
    var = (h - mean).pow(2).mean(dim=axes, keepdim=True)
    return (h - mean) / torch.sqrt(var + BATCHNORM2D_EPS)


def _identity(h: Tensor) -> Tensor:
    return h


def _conv2d_norm(spec: Any) -> Callable[[Tensor], Tensor]:
    return _batchnorm2d if spec.batchnorm else _identity


def _conv2d_layer(spec: Any, bias: bool = True) -> nn.Conv2d:
    c, k = spec.channels, spec.kernel
    return nn.Conv2d(c, c, k, padding=(k - 1) // 2, padding_mode=spec.padding, bias=bias,
                     dtype=torch.float64)


def _batchnorm2d_module(spec: Any) -> nn.Module:
    if not spec.batchnorm:
        return nn.Identity()
    return nn.BatchNorm2d(spec.channels, eps=BATCHNORM2D_EPS, affine=False,
                          track_running_stats=False, dtype=torch.float64)


class Conv2DFamily(Family):
    """2-D convolutions ``h^l = W^l * x^{l-1} + b^l``, ``x^l = phi(BN(h^l))``, sites h^l.

    Data are ``[batch, C, H, W]`` as for ``nn.Conv2d``; the stacked forward sums the
    ``k^2`` shifted copies of x (:func:`_windows2d`), the reference module is
    ``nn.Conv2d`` and ``nn.BatchNorm2d`` (docs/theory.md §11.3).
    """

    spec_type = Conv2DSpec
    site_name = "pre-activation h^l"
    tasks = ("teacher_student",)

    def example_shape(self, spec: Conv2DSpec) -> tuple[int, ...]:
        return (spec.channels, spec.height, spec.width)

    def draw_parameters(self, spec: Conv2DSpec, draw: Draw) -> Params:
        c, k = spec.channels, spec.kernel
        return _draw_layers(spec, draw, (c, c, k, k))

    def draw_data(self, spec: Conv2DSpec, batch: int, draw: Draw) -> Params:
        return _modulated_input(super().draw_data(spec, batch, draw), spec, draw)

    def forward(self, spec: Conv2DSpec, params: Params, data: Params) -> Forward:
        act, bn, x, sites = _activation(spec.activation), _conv2d_norm(spec), data["x"], []
        for layer in range(spec.depth):
            h = _conv2d(x, params[f"W{layer}"], params[f"b{layer}"], spec)
            sites.append(h)
            x = act(bn(h))
        return Forward(loss=(data["R"] * x).sum(), sites=sites)

    def weight_groups(self, spec: Conv2DSpec) -> list[list[str]]:
        return [[f"W{layer}"] for layer in range(spec.depth)]

    def module(self, spec: Conv2DSpec, params: Params) -> nn.Module:
        return _Conv2DModule(spec, params)

    def module_params(self, spec: Conv2DSpec, model: nn.Module) -> dict[str, nn.Parameter]:
        return _layer_params(model.convs)  # type: ignore[arg-type]

    def bytes_per_network(self, spec: Conv2DSpec, batch: int, itemsize: int) -> int:
        c, k = spec.channels, spec.kernel
        copies = _WINDOW_COPIES * k * k + _ACTIVATION_COPIES
        per_site = (batch * c * spec.height * spec.width * copies
                    + _WEIGHT_COPIES * c * c * k * k)
        return itemsize * spec.n_sites * per_site


class _Conv2DModule(nn.Module):
    def __init__(self, spec: Conv2DSpec, params: Params) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            _load_linear(_conv2d_layer(spec), params[f"W{i}"], params[f"b{i}"])
            for i in range(spec.depth)
        )
        self.taps = nn.ModuleList(Tap() for _ in range(spec.depth))
        self.norms = nn.ModuleList(_batchnorm2d_module(spec) for _ in range(spec.depth))
        self.act = Lambda(_activation(spec.activation), spec.activation)

    def forward(self, data: Params) -> Tensor:
        x = data["x"]
        for conv, tap, norm in zip(self.convs, self.taps, self.norms):
            x = self.act(norm(tap(conv(x))))
        return x


class ResConv2DFamily(Family):
    """``x_l = x_{l-1} + alpha conv2(phi(BN(conv1(x_{l-1}))))``, sites ``x_0..x_{L-1}``
    (:class:`~gradbench.specs.ResConv2DSpec`; docs/theory.md §11.3)."""

    spec_type = ResConv2DSpec
    site_name = "residual stream x_l"
    tasks = ("teacher_student",)

    def example_shape(self, spec: ResConv2DSpec) -> tuple[int, ...]:
        return (spec.channels, spec.height, spec.width)

    def draw_parameters(self, spec: ResConv2DSpec, draw: Draw) -> Params:
        c, k, sb2, params = spec.channels, spec.kernel, bias_variance(spec), {}
        for block in range(spec.depth):
            params[f"W1_{block}"] = draw.weight(spec.init, (c, c, k, k), spec.sigma_w2)
            params[f"b{block}"] = draw.bias(c, sb2)
            params[f"W2_{block}"] = draw.weight(spec.out_init, (c, c, k, k), None)
        return params

    def forward(self, spec: ResConv2DSpec, params: Params, data: Params) -> Forward:
        act, norm, x, sites = _activation(spec.activation), _conv2d_norm(spec), data["x"], []
        for block in range(spec.depth):
            sites.append(x)
            h = _conv2d(x, params[f"W1_{block}"], params[f"b{block}"], spec)
            x = x + spec.alpha * _conv2d(act(norm(h)), params[f"W2_{block}"], None, spec)
        return Forward(loss=(data["R"] * x).sum(), sites=sites)

    def weight_groups(self, spec: ResConv2DSpec) -> list[list[str]]:
        return [[f"W1_{b}", f"W2_{b}"] for b in range(spec.depth)]

    def module(self, spec: ResConv2DSpec, params: Params) -> nn.Module:
        return _ResConv2DModule(spec, params)

    def module_params(self, spec: ResConv2DSpec, model: nn.Module) -> dict[str, nn.Parameter]:
        out = {}
        for i, block in enumerate(model.blocks):  # type: ignore[arg-type]
            out[f"W1_{i}"], out[f"b{i}"], out[f"W2_{i}"] = (
                block.conv1.weight, block.conv1.bias, block.conv2.weight
            )
        return out

    def bytes_per_network(self, spec: ResConv2DSpec, batch: int, itemsize: int) -> int:
        c, k = spec.channels, spec.kernel
        copies = 2 * (_WINDOW_COPIES * k * k + _ACTIVATION_COPIES)  # two convolutions
        per_site = (batch * c * spec.height * spec.width * copies
                    + 2 * _WEIGHT_COPIES * c * c * k * k)
        return itemsize * spec.n_sites * per_site


class _ConvBlock(nn.Module):
    def __init__(self, spec: ResConv2DSpec, params: Params, block: int) -> None:
        super().__init__()
        self.tap = Tap()
        self.conv1 = _load_linear(_conv2d_layer(spec), params[f"W1_{block}"],
                                  params[f"b{block}"])
        self.norm = _batchnorm2d_module(spec)
        self.act = Lambda(_activation(spec.activation), spec.activation)
        self.conv2 = _load_linear(_conv2d_layer(spec, bias=False), params[f"W2_{block}"])
        self.alpha = spec.alpha

    def forward(self, x: Tensor) -> Tensor:
        x = self.tap(x)
        return x + self.alpha * self.conv2(self.act(self.norm(self.conv1(x))))


class _ResConv2DModule(nn.Module):
    def __init__(self, spec: ResConv2DSpec, params: Params) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(_ConvBlock(spec, params, b) for b in range(spec.depth)))

    def forward(self, data: Params) -> Tensor:
        return self.blocks(data["x"])  # type: ignore[no-any-return]


# --- end of the 2-D convolutional families -------------------------------------------------


def _family_for(spec_type: type) -> Family:
    """The :class:`Family` a registered spec class names (``info.family``), one instance each."""
    family = _INSTANCES.get(spec_type)
    if family is None:
        family_cls = resolve(spec_type.info.family)  # type: ignore[attr-defined]
        if not (isinstance(family_cls, type) and issubclass(family_cls, Family)
                and family_cls.spec_type is spec_type):
            raise InvalidArgument(
                f"{spec_type.__name__}.info.family={family_cls!r} must be a "
                f"gradbench.models.Family subclass whose spec_type is {spec_type.__name__}"
            )
        family = _INSTANCES[spec_type] = family_cls()
    return family


_INSTANCES: dict[type, Family] = {}


def families() -> dict[type, Family]:
    """Every registered family (:func:`gradbench.specs.register_family`) by spec class."""
    return {cls: _family_for(cls) for cls in spec_types().values()}


def family_of(spec: Spec) -> Family:
    """The :class:`Family` that handles ``spec`` (its spec class's registration)."""
    refuse_module(spec, "gradbench", SPEC)
    registered = spec_types()
    form = factory_form(spec)
    if form is not None:
        name = getattr(spec, "__name__", type(spec).__name__)
        raise InvalidArgument(
            f"gradbench got the {form} factory {name}, not a spec; pass {SPEC}" if form == "model"
            else f"gradbench got the block factory {name}, not a spec; measure a block "
            f"with gradbench.blocks.report(factory, gradbench.blocks.BlockSpec("
            f"'pkg.mod:{name}')) or gradbench validate pkg.mod:{name} (docs/blocks.md §6)")
    if registered.get(str(getattr(spec, "family", ""))) is not type(spec):
        known = ", ".join(cls.__name__ for cls in registered.values())
        raise InvalidArgument(
            f"spec of type {type(spec).__name__} is not a gradbench spec; use one of: {known}"
        )
    return _family_for(type(spec))


def draw_network(
    spec: Spec, batch: int, base_seed: int, index: int, dtype: torch.dtype = torch.float64,
    allocators: dict[str, Allocator] | None = None,
) -> tuple[Params, Params]:
    """Parameters and data of network ``index`` (CPU), calibrated if the init needs it.

    ``dtype`` is the dtype the numbers are made in (see :class:`Draw`); float64 by default.
    ``allocators`` (per stream of :data:`STREAMS`) say where its tensors are drawn.
    """
    family = family_of(spec)
    params_draw, data_draw = (
        draw_for(spec, base_seed, index, stream, dtype, (allocators or {}).get(stream))
        for stream in STREAMS)
    params = family.draw_parameters(spec, params_draw)
    data = family.draw_data(spec, batch, data_draw)
    return family.calibrate(spec, params, data), data


def build_module(spec: Spec, seed: int = 0, index: int = 0, batch: int = 1) -> nn.Module:
    """The network ``index`` of ``spec`` as an ordinary float64 ``nn.Module``.

    Its :class:`Tap` submodules mark the probe sites (``named_modules()`` shows them).

    Examples:
        >>> from gradbench import MLPSpec
        >>> model = build_module(MLPSpec(depth=3, width=8))
        >>> sum(isinstance(m, Tap) for m in model.modules())
        3
    """
    params, _ = draw_network(spec, batch, seed, index)
    return family_of(spec).module(spec, params)
