"""``python -m gradbench.claims``: print the claims catalogue (docs/claims.md)."""

from gradbench.claims.catalogue import markdown

print(markdown(), end="")
