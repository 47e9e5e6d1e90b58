"""The gradbench suites: the property and benchmark tests ``gradbench run`` runs.

This folder is the source of truth; the wheel installs it as the package
``gradbench_suites`` (``setup.py`` maps the name), so ``gradbench run`` works from any
directory and ``pytest --pyargs gradbench_suites`` runs them where they are installed.
"""
