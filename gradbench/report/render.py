"""A :class:`~gradbench.report.page.Page` -> one self-contained HTML document.

The markup lives in ``templates/*.html.j2`` (jinja2 with autoescape on: every value is
escaped unless it is markup already), the style and the script in
``templates/style.css`` and ``templates/report.js``; all three are package data, and the
CSS, the JavaScript and every chart are inlined, so the page fetches nothing. The
Content-Security-Policy allows exactly the inlined script, by its SHA-256.

Template layout rule: a line break, with the spaces around it, is dropped where it
touches a tag (``>`` before it or ``<`` after it) or a template tag, and becomes one space
between two words. So templates can be indented freely while the output stays compact
and byte-for-byte stable; a space that must separate a tag from text is written on the
same line, or as ``{{ " " }}``. :func:`strip_layout` is the rule.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.resources
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
from markupsafe import Markup

from gradbench import records
from gradbench.report import svg
from gradbench.report.compare import Comparison, compare_runs
from gradbench.report.growth import CLASSES, STABLE_WITHIN
from gradbench.report.model import Run, expand_paths, load_run
from gradbench.report.page import CLASS_TEXT, Page, Section
from gradbench.report.sections import SECTIONS
from gradbench.report.text import config_label, num, seconds, sort_key

__all__ = [
    "page_data",
    "render_comparison",
    "render_page",
    "render_report",
    "strip_layout",
    "write_report",
]

_BADGE_TEXT = {
    "pass": "pass",
    "fail": "FAIL",
    "none": "no verdict",
    "regression": "REGRESSION",
    "improvement": "improvement",
    "same": "unchanged",
    "incomplete": "incomplete",
    "only_base": "removed",
    "only_new": "new",
}

# --------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------

_LAYOUT = re.compile(r"[ \t]*\n\s*")


def strip_layout(text: str) -> str:
    """Apply the template layout rule to a run of template text between template tags.

    Examples:
        >>> strip_layout("\\n  <p>one\\n    two</p>\\n")
        '<p>one two</p>'
    """

    def join(m: re.Match[str]) -> str:
        start, end = m.start(), m.end()
        if start == 0 or end == len(text) or text[start - 1] == ">" or text[end] == "<":
            return ""
        return " "

    return _LAYOUT.sub(join, text)


class _Layout(jinja2.ext.Extension):
    """Applies :func:`strip_layout` to the template text (line numbers stay right)."""

    def filter_stream(self, stream: jinja2.lexer.TokenStream) -> Iterator[jinja2.lexer.Token]:
        for token in stream:
            if token.type == "data":
                yield jinja2.lexer.Token(token.lineno, "data", strip_layout(token.value))
            else:
                yield token


def _wbr(label: str) -> Markup:
    """A label that may wrap after its hyphens."""
    return Markup("-<wbr>").join(str(label).split("-"))


@functools.cache
def environment() -> jinja2.Environment:
    """The report's template environment (built once per process)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gradbench.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=[_Layout],
    )
    env.filters["wbr"] = _wbr
    env.filters["config"] = config_label
    env.tests["finite"] = math.isfinite
    env.globals.update(
        num=num,
        sort_key=sort_key,
        seconds=seconds,
        classes=CLASSES,
        class_text=CLASS_TEXT,
        badge_text=_BADGE_TEXT,
        stable_within=STABLE_WITHIN,
        nl="\n",
    )
    return env


@functools.cache
def _asset(name: str) -> str:
    """An inlined file, starting on its own line in the page."""
    path = importlib.resources.files("gradbench.report") / "templates" / name
    return "\n" + path.read_text(encoding="utf-8")


class _ClipIds:
    """Draws charts for one page render, numbering their clip paths in document order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, chart: svg.Chart) -> Markup:
        self.count += 1
        return Markup(chart.render(clip_id=f"clip{self.count}"))


# --------------------------------------------------------------------------------------
# The data island
# --------------------------------------------------------------------------------------


def _script_json(obj: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', so no '</script>' or '<!--'."""
    text = json.dumps(
        records.to_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _run_data(page: Page, r: Run) -> dict[str, Any]:
    return {
        "label": r.label,
        "file": r.path.name,
        "gradbench": r.gradbench_info,
        "counts": page.counts(r),
        "configurations": [
            {
                "label": c.label,
                "family": c.family,
                "class": c.growth.klass,
                "factor": c.growth.factor,
                "factor_ci": [c.growth.factor_low, c.growth.factor_high],
                "words": c.growth.words,
                "predicted": c.predicted,
                "sites": c.growth.sites,
                "seeds": c.growth.seeds,
            }
            for c in page.configs[r.label]
        ],
        "verdicts": [
            {
                "case": c.case,
                "claim": c.claim,
                "label": c.label,
                "status": c.status,
                "measured": c.verdict.measured if c.verdict else None,
                "predicted": c.verdict.predicted if c.verdict else None,
                "pvalue": c.verdict.pvalue if c.verdict else None,
            }
            for c in r.cases
        ],
    }


def page_data(page: Page) -> dict[str, Any]:
    """What the page shows, as data (the page's ``gradbench-data`` JSON island)."""
    comparisons = [
        {
            "base": c.base_label,
            "new": c.new_label,
            "warnings": c.warnings,
            "regressions": [[d.claim, d.label] for d in c.regressions],
            "improvements": [[d.claim, d.label] for d in c.improvements],
            "only_base": [[x.claim, x.label] for x in c.only_base],
            "only_new": [[x.claim, x.label] for x in c.only_new],
        }
        for c in page.comparisons
    ]
    runs = [_run_data(page, r) for r in page.runs]
    return {"schema_version": 1, "runs": runs, "comparisons": comparisons}


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


def _chips(page: Page) -> list[tuple[Run, list[str]]]:
    """Per run, the facts shown under the title (profile, versions, device, date)."""
    chips = []
    for r in page.runs:
        gi, env = r.gradbench_info, r.environment
        facts = [
            f"{name} {value}".strip()
            for name, value in (
                ("profile", gi.get("profile")),
                ("suite", gi.get("suite_version")),
                ("gradbench", gi.get("version")),
                ("torch", env.get("torch")),
                ("device", env.get("device")),
                ("", r.datetime),
            )
            if value not in (None, "")
        ]
        chips.append((r, facts))
    return chips


def verdict_line(page: Page) -> tuple[str, str] | None:
    """The page's verdict in one sentence, ``(status, text)``, for a one-run page (a
    comparison page leads with its regressions instead). A validation run leads with the
    candidate's checks, its baselines' failures follow as context
    (:func:`gradbench.summary.judged`). A run that is not complete (interrupted, recovered
    from its journal, or with tests that failed outside their claims) is never shown as a
    pass: its note follows the count, on grey."""
    from gradbench.summary import is_candidate, judged

    if page.multi:
        return None
    run = page.runs[0]
    mine, context = judged([c for c in run.cases if c.status != "none"])
    candidate = (run.gradbench_info or {}).get("candidate")
    if candidate and not any(map(is_candidate, mine)):  # a validation that judged nothing
        return "none", (f"the candidate {candidate[-1]!r} has no verdict in this run: nothing "
                        "was validated")
    whose = (f"the candidate {mine[0].remedy['name']!r}: "
             if mine and is_candidate(mine[0]) and mine[0].remedy else "")
    failed = [c for c in mine if c.status == "fail"]
    if failed:
        claims = len({c.claim for c in failed})
        status, text = "fail", (f"✗ {whose}{len(failed)} of {len(mine)} checks failed, of "
                                f"{claims} claim(s): see Failures below")
    elif mine and run.notes:
        notes = "; ".join(n.removeprefix("incomplete: ") for n in run.notes)
        return "none", (f"{whose}every one of the {len(mine)} checks recorded held, but the "
                        f"run is not complete: {notes}")
    elif mine:
        status, text = "pass", f"✓ {whose}every one of the {len(mine)} checks held"
    else:
        return "none", "no claim was checked: this file holds no verdict"
    return status, text + _context_words(context)


def _context_words(context: Sequence[Any], shown: int = 3) -> str:
    """``". Baselines: 1 of 8 checks failed (unscaled_residual: block_depth_law), ..."``: the
    first ``shown`` failing (baseline, claim) pairs named, the rest counted."""
    if not context:
        return ""
    bad = [c for c in context if c.status == "fail"]
    if not bad:
        return f". Baselines: every one of their {len(context)} checks held"
    pairs = list(dict.fromkeys(
        f"{(c.remedy or {}).get('name', c.subject)}: {c.claim}" for c in bad))
    which = ", ".join(pairs[:shown]) + (f" and {len(pairs) - shown} more"
                                        if len(pairs) > shown else "")
    return (f". Baselines: {len(bad)} of {len(context)} checks failed ({which}): context, "
            "not the candidate's verdict")


def _csp(script: str) -> Markup:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    # only our own constant text and a base64 digest: markup as it stands
    return Markup(
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
        "img-src data:; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )


def render_page(page: Page, sections: Sequence[Section] = SECTIONS) -> str:
    """The HTML document for ``page``: its header, then every section that has content.

    Args:
        page: what to show.
        sections: the sections, in page order (default :data:`SECTIONS`); each one that
            has a context for the page is drawn and linked from the header.
    """
    env = environment()
    draw = _ClipIds()
    drawn: list[tuple[Section, Markup]] = []
    for section in sections:
        context = section.context(page)
        if context is not None:
            template = env.get_template(section.template)
            html = template.render(page=page, section=section, draw=draw, **context)
            drawn.append((section, Markup(html)))
    header = env.get_template("header.html.j2").render(
        page=page, sections=[s for s, _ in drawn], chips=_chips(page), verdict=verdict_line(page)
    )
    script = _asset("report.js")
    return env.get_template("page.html.j2").render(
        title=page.title,
        csp=_csp(script),
        style=Markup(_asset("style.css")),
        script=Markup(script),
        data=Markup(_script_json(page_data(page))),
        fragments=[Markup(header), *(html for _, html in drawn)],
    )


def render_report(runs: Sequence[Run], title: str | None = None,
                  baseline: Run | None = None) -> str:
    """Render runs as one self-contained HTML page.

    With two or more runs the page is in comparison mode: each run is compared with
    ``baseline``, or by default with the latest run before it that shares cases with it
    (:func:`~gradbench.report.page.baseline_comparisons`); regressions are flagged at the
    top, and plots overlay the runs.

    Args:
        runs: from :func:`load_run`; labels are made unique (``name#2``) if needed.
        title: page title; default ``"gradbench report: <labels>"``.
        baseline: the run every other run is compared with (one of ``runs`` or not).

    Returns:
        The HTML text; identical input gives identical output.

    Raises:
        InvalidArgument: no runs.
    """
    if baseline is not None and all(r.path != baseline.path for r in runs):
        runs = [baseline, *runs]
    return render_page(Page.from_runs(runs, None, title, baseline))


def render_comparison(
    base: Run, new: Run, comparison: Comparison | None = None, title: str | None = None
) -> str:
    """Render the two runs side by side with ``comparison`` (computed when ``None``) at the top."""
    comp = comparison if comparison is not None else compare_runs(base, new)
    return render_page(Page.from_runs([base, new], [comp], title))


def write_report(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    title: str | None = None,
    baseline: str | os.PathLike[str] | None = None,
) -> Path:
    """Read JSON files and write the HTML report atomically.

    Args:
        paths: JSON files (a directory stands for every ``*.json`` below it, sorted).
        out_path: the HTML file to write (its folder is created).
        title: page title.
        baseline: a results file every other run is compared with (see
            :func:`render_report`).

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        InvalidArgument: a bad input file (see :func:`load_run`) or an unwritable output.
    """
    runs = [load_run(p) for p in expand_paths(paths)]
    base = None
    if baseline is not None:
        base = next((r for r in runs if r.path.resolve() == Path(baseline).resolve()), None)
        base = base or load_run(baseline)
    return records.write_atomic(out_path, render_report(runs, title=title, baseline=base))
