"""pytest-benchmark / gradbench JSON -> one self-contained HTML page.

The report reads the JSON files the pytest plugin writes (standard pytest-benchmark
files whose benchmarks carry ``extra_info["gradbench"]``) or plain gradbench JSON
written by :func:`gradbench.records.write_json`, and renders ONE HTML page with
inline CSS, inline SVG plots and a little inline JavaScript: nothing is fetched
over the network, and the same input always gives the same bytes.

The first screen answers "which configurations vanish or explode, by how much per
layer, and does theory agree" (see :mod:`gradbench.report.growth` for the numbers).
Two or more runs switch on comparison mode: each run is compared with the latest run
before it that shares cases with it, or with a chosen baseline (:func:`compare_runs`),
regressions are flagged at the top, and the
per-configuration plots overlay the runs.

The package never imports torch. Its modules:

* :mod:`~gradbench.report.model`: :class:`Run`, :class:`Case`, :class:`Timing`,
  :func:`load_run`;
* :mod:`~gradbench.report.growth`: :class:`Growth`, :func:`measured_growth`;
* :mod:`~gradbench.report.compare`: :func:`compare_runs`;
* :mod:`~gradbench.report.svg`: the chart library;
* :mod:`~gradbench.report.page`: the page model and :class:`~gradbench.report.page.Section`;
* :mod:`~gradbench.report.sections`: one module per section, and ``SECTIONS``;
* :mod:`~gradbench.report.render`: templates and assets -> HTML.

Examples:
    >>> from gradbench import report
    >>> run = report.load_run("reports/0001_quick.json")          # doctest: +SKIP
    >>> html = report.render_report([run], title="quick profile")  # doctest: +SKIP
    >>> report.write_report(["a.json", "b.json"], "reports/diff.html")  # doctest: +SKIP
"""

from __future__ import annotations

from gradbench.report.compare import CaseDelta, Comparison, compare_runs
from gradbench.report.growth import STABLE_WITHIN, Growth, measured_growth
from gradbench.report.model import SUPPORTED_SCHEMA_VERSIONS, Case, Run, Timing, load_run
from gradbench.report.render import render_comparison, render_report, write_report
from gradbench.report.text import num

__all__ = [
    "STABLE_WITHIN",
    "SUPPORTED_SCHEMA_VERSIONS",
    "Case",
    "CaseDelta",
    "Comparison",
    "Growth",
    "Run",
    "Timing",
    "compare_runs",
    "load_run",
    "measured_growth",
    "num",
    "render_comparison",
    "render_report",
    "write_report",
]
