"""``python -m gradbench.claims [--mutants tests/mutants.py]``: print the claims catalogue
(docs/claims.md), with the planted bugs each claim must kill when given the mutation list."""

import argparse
import os

from gradbench.claims.catalogue import markdown, mutants_from

parser = argparse.ArgumentParser(prog="python -m gradbench.claims")
parser.add_argument("--mutants", help="the mutation list, e.g. tests/mutants.py")
args = parser.parse_args()
if args.mutants and not os.path.isfile(args.mutants):
    parser.error(f"--mutants {args.mutants!r} is not a file; give the mutation list, "
                 "tests/mutants.py in a checkout")
print(markdown(mutants_from(args.mutants) if args.mutants else ()), end="")
