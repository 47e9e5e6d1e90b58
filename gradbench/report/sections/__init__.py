"""The sections of the report page, one module each, in page order.

:data:`SECTIONS` drives both the page body and its navigation: a section is drawn, and
linked from the header, when its ``context`` returns something for the page.

To add a plot, write one module here that builds :class:`gradbench.report.svg.Chart`
objects from the page and defines ``SECTION = Section(id, title, context)``, then list
it below. Its context returns ``{"intro": "...", "blocks": [Figures(charts)]}`` for the
default template (``figures.html.j2``), or ``None`` when the page has nothing to show.
"""

from __future__ import annotations

from gradbench.report.page import Section
from gradbench.report.sections import (
    claims,
    comparison,
    failures,
    gradients,
    machine,
    phase,
    recommend,
    regressions,
    remedies,
    rnn,
    spectra,
    summary,
    timings,
    updates,
    validated,
    verdicts,
)

__all__ = ["SECTIONS"]

#: The page's sections, top to bottom.
SECTIONS: list[Section] = [
    regressions.SECTION,
    validated.SECTION,
    failures.SECTION,
    summary.SECTION,
    recommend.SECTION,
    gradients.SECTION,
    phase.SECTION,
    rnn.SECTION,
    spectra.SECTION,
    updates.SECTION,
    comparison.SECTION,
    remedies.SECTION,
    claims.SECTION,
    verdicts.SECTION,
    timings.SECTION,
    machine.SECTION,
]
