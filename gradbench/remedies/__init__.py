"""Built-in remedies; importing this package registers them.

The registrations are plain data and load without torch (see :mod:`gradbench._lazy`); each
remedy imports torch when it is first called.
"""

from gradbench.remedies import activations, initializers, norms, optimizers, residual, schemes

__all__ = ["activations", "initializers", "norms", "optimizers", "residual", "schemes"]
