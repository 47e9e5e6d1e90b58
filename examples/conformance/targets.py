"""The remedies of the ecosystem conformance report, as import paths for gradbench validate.

Every initializer of ``torch.nn.init`` and every optimizer of ``torch.optim`` that fits
gradbench's calling convention, plus third-party remedies from PyPI when installed
(``pytorch-optimizer``: Lion, AdaBelief, LAMB). Functions that need an argument get a
named ``functools.partial`` here; remedies whose interface cannot fit (``LBFGS`` needs a
closure, ``SparseAdam`` sparse gradients, ``dirac_`` a kernel) are listed with the reason.
"""

from __future__ import annotations

import functools
import importlib.util

import torch

constant_half = functools.partial(torch.nn.init.constant_, val=0.5)
constant_half.__name__ = "constant_half"  # type: ignore[attr-defined]
sparse_90 = functools.partial(torch.nn.init.sparse_, sparsity=0.9)
sparse_90.__name__ = "sparse_90"  # type: ignore[attr-defined]

INIT = "torch.nn.init"
TORCH_INITIALIZERS = [
    f"{INIT}:uniform_", f"{INIT}:normal_", f"{INIT}:trunc_normal_", f"{INIT}:xavier_uniform_",
    f"{INIT}:xavier_normal_", f"{INIT}:kaiming_uniform_", f"{INIT}:kaiming_normal_",
    f"{INIT}:orthogonal_", f"{INIT}:eye_", f"{INIT}:zeros_", f"{INIT}:ones_",
    "targets:constant_half", "targets:sparse_90",
]
OPT = "torch.optim"
TORCH_OPTIMIZERS = [
    f"{OPT}:{name}" for name in ("SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop",
                                 "Adagrad", "Adadelta", "ASGD", "Rprop")
]
NOT_APPLICABLE = {
    f"{OPT}:LBFGS": "its step needs a closure that re-evaluates the loss",
    f"{OPT}:SparseAdam": "it takes sparse gradients only",
    f"{INIT}:dirac_": "it initializes convolution kernels (3-5 dimensions) only",
}
THIRD_PARTY = []
if importlib.util.find_spec("pytorch_optimizer") is not None:
    THIRD_PARTY += [f"pytorch_optimizer:{name}" for name in ("Lion", "AdaBelief", "Lamb")]

TARGETS = TORCH_INITIALIZERS + TORCH_OPTIMIZERS + THIRD_PARTY
