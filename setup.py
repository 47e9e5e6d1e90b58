"""Packaging that pyproject.toml cannot say: the top-level ``suites/`` folder installs as
the importable package ``gradbench_suites`` (so the suites ship with the wheel), beside
every ``gradbench*`` package found in the checkout. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["gradbench", "gradbench.*"]), "gradbench_suites"],
    package_dir={"gradbench_suites": "suites"},
)
