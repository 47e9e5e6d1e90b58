"""gradbench: a property-based benchmark and test suite for gradient flow in deep networks."""
