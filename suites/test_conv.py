"""Deep convolutional networks (Xiao et al. 2018; docs/theory.md §10).

Claims (docs/claims.md):
- ``delta_orthogonal_isometry``: a linear circular 1-D CNN with delta-orthogonal kernels of
  gain g and no biases keeps every input's norm times g^L, and every singular value of its
  input-output Jacobian is g^L (float64, relative 1e-10) [10.1].
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import gradbench as gb
from gradbench.suite import budget

GAINS = st.floats(0.7, 1.4).filter(lambda g: abs(g - 1.0) > 0.05)


@budget(2 / 15)
@given(depth=st.integers(2, 24), channels=st.sampled_from([4, 8, 16]),
       length=st.integers(5, 12), kernel=st.sampled_from([1, 3, 5]), gain=GAINS)
def test_delta_orthogonal_isometry(depth, channels, length, kernel, gain, run_claim):
    """Linear delta-orthogonal CNN: ||x^L|| = g^L ||x^0||, Jacobian singular values all g^L."""
    spec = gb.Conv1DSpec(depth=depth, channels=channels, length=length, kernel=kernel,
                         activation="linear", init=f"delta_orthogonal(gain={gain!r})",
                         sigma_b2=0.0)
    run_claim(spec, "delta_orthogonal_isometry")
