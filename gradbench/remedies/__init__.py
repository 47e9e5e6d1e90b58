"""Built-in remedies; importing this package registers them (it imports torch)."""

from gradbench.remedies import activations, initializers, norms, optimizers, residual

__all__ = ["activations", "initializers", "norms", "optimizers", "residual"]
