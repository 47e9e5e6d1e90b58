"""Every citation of the docs resolves, and nothing cites a file outside the repository.

The citation format is described in docs/index.md, "Citing the docs": ``docs/<page>.md``
for a page, ``docs/<page>.md §2.2`` for a numbered section (lists ``§1, §4``, ranges
``§1.3-§1.5``), and relative Markdown links such as ``theory.md#s2-2`` inside the docs.
Section ``§2.2`` is the anchor ``<a id="s2-2"></a>`` of its page.

The files are found by walking the repository (not from a fixed list), so new modules,
suites, examples and docs pages are checked as they land.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
DOCS = ROOT / "docs"

#: Folders and top-level files whose text is searched for citations.
SCAN_DIRS = ("gradbench", "suites", "tests", "docs", "examples", "reports", ".ci")
SCAN_FILES = ("README.md", "pyproject.toml", "tox.ini", "MANIFEST.in")
SKIP_DIRS = {
    "__pycache__", ".git", ".tox", ".venv", "venv", "build", "dist", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", ".hypothesis", ".benchmarks", "node_modules",
}
TEXT_SUFFIXES = {
    ".py", ".pyi", ".md", ".rst", ".txt", ".toml", ".ini", ".cfg", ".json", ".html", ".css",
    ".js", ".j2", ".jinja", ".tmpl", ".yml", ".yaml", "",
}
MAX_BYTES = 20_000_000
#: Generated results (``reports/NNNN_*.json`` / ``.html``) are not sources; only the
#: committed README of reports/ is checked.
GENERATED = re.compile(r"^reports/(?!README\.md$)")

#: Pages other engineers are writing (linked from docs/index.md). A citation of one of them
#: is accepted while the page does not exist yet, and checked like any other once it does.
PLANNED = {"claims", "remedies"}

# A citation: docs/<page>.md, optionally #fragment, optionally followed by § sections.
PAGE = re.compile(r"(?<![\w/.-])docs/(?P<page>[A-Za-z0-9_][\w./-]*?)\.md(?:#(?P<frag>[\w.-]+))?")
SECTION = re.compile(r"[`*]*[ \t]*§[ \t]*(?P<token>[\w.]+)")
TITLE = re.compile(r"[ \t]+(?:\"[^\"\n]{1,80}\"|'[^'\n]{1,80}')")
JOIN = re.compile(r"[ \t]*(?:,|-|–|—|\bto\b|\band\b|&)[ \t]*(?=§)")
RANGE_WITHOUT_SECTION = re.compile(r"[ \t]*[-–—][ \t]*\d")
NUMBER_WITHOUT_SECTION = re.compile(r"[`*]*[ \t]+(?:sections?[ \t]+)?\d+(?:\.\d+)*\b(?![.,]?\d)")
NUMBER = re.compile(r"\d+(?:\.\d+)*")
# A § section attached to some other .md name (e.g. "theory.md §2.2" without docs/).
BARE_SECTION = re.compile(r"(?P<path>[\w./-]*)\.md`*[ \t]*§")
ANCHOR = re.compile(r"<a\s+(?:id|name)=\"(?P<id>[^\"]+)\"")
HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<number>\d+(?:\.\d+)*)[ \t]")
LINK = re.compile(r"(?<!!)\[(?:[^\]\n]|\\\])*\]\((?P<target>[^)\s]+)(?:[ \t]+\"[^\"]*\")?\)")
FENCE = re.compile(r"^([ \t]*)(```|~~~).*?^\1\2[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")

# Files outside the repository that the code once cited. The patterns are assembled from
# pieces so that this file does not cite them itself.
_NOTES = "|".join(("THEO" + "RY", "DESI" + "GN", "STY" + "LE", "ECOSY" + "STEM", "REVI" + "EW"))
FORBIDDEN = (
    (re.compile(rf"(?<![\w-])(?:{_NOTES})\.md\b"), "an internal note outside the repository"),
    (re.compile(r"\.\.[/]shared\b"), "a folder outside the repository"),
    (re.compile(r"/work[/]shared\b"), "a folder outside the repository"),
)


@dataclass(frozen=True)
class Problem:
    where: str
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text!r}: {self.reason}"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def scanned_files() -> list[Path]:
    """Every text file of the repository that may hold a citation."""
    found: list[Path] = []
    for name in SCAN_FILES:
        if (ROOT / name).is_file():
            found.append(ROOT / name)
    for name in SCAN_DIRS:
        top = ROOT / name
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            parts = path.relative_to(ROOT).parts
            if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts):
                continue
            if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
                continue
            if GENERATED.match(_rel(path)) or path.stat().st_size > MAX_BYTES:
                continue
            found.append(path)
    return found


@cache
def read(path: Path) -> str | None:
    """The file's text, or None when it is not UTF-8 text."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


@cache
def anchors(page: Path) -> frozenset[str]:
    text = read(page) or ""
    return frozenset(m.group("id") for m in ANCHOR.finditer(text))


def section_anchor(number: str) -> str:
    return "s" + number.replace(".", "-")


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.is_file())


def _lines(text: str) -> Iterator[tuple[int, str]]:
    yield from enumerate(text.splitlines(), start=1)


def _page_problem(page: str) -> str | None:
    path = DOCS / f"{page}.md"
    if path.is_file():
        return None
    if page in PLANNED:
        return ""  # not written yet: accepted
    return f"docs/{page}.md does not exist"


def citation_problems(path: Path, text: str) -> Iterator[Problem]:
    """Problems with the ``docs/<page>.md [§N...]`` citations of one file."""
    # A § after some other .md name is a citation without its docs/ prefix; in Markdown,
    # link texts such as [theory.md §1](theory.md#s1) and code blocks are fine.
    bare = _strip_links(_strip_code(text)) if path.suffix == ".md" else text
    for (lineno, line), bare_line in zip(_lines(text), bare.splitlines()):
        where = f"{_rel(path)}:{lineno}"
        for m in PAGE.finditer(line):
            page = m.group("page")
            missing = _page_problem(page)
            if missing:
                yield Problem(where, m.group(0), missing)
                continue
            target = DOCS / f"{page}.md"
            frag = m.group("frag")
            if frag and missing is None and frag not in anchors(target):
                yield Problem(where, m.group(0), f"docs/{page}.md has no anchor {frag!r}")
            pos = m.end()
            bare_number = NUMBER_WITHOUT_SECTION.match(line, pos)
            if bare_number:
                yield Problem(where, line[m.start() : bare_number.end()],
                              "write the section with §, e.g. docs/theory.md §2.2")
            numbers: list[str] = []
            while True:
                sec = SECTION.match(line, pos)
                if sec is None:
                    break
                token = sec.group("token").rstrip(".")
                if not NUMBER.fullmatch(token):
                    yield Problem(where, line[m.start() : sec.end()],
                                  "a section is cited by number, e.g. §2.2 (docs/index.md)")
                    break
                numbers.append(token)
                pos = sec.start("token") + len(token)
                title = TITLE.match(line, pos)
                join = JOIN.match(line, title.end() if title else pos)
                if join is None:
                    break
                pos = join.end()
            cited = line[m.start() : pos]
            if numbers and RANGE_WITHOUT_SECTION.match(line, pos):
                yield Problem(where, line[m.start() : pos + 4],
                              "write a range with a § on both ends, e.g. §1.3-§1.5")
            if missing == "":
                continue
            for number in numbers:
                if section_anchor(number) not in anchors(target):
                    yield Problem(where, cited, f"docs/{page}.md has no section §{number} "
                                  f"(anchor {section_anchor(number)!r})")
        for m in BARE_SECTION.finditer(bare_line):
            if not re.search(r"(?:^|/)docs/[\w./-]+$", m.group("path")):
                yield Problem(where, m.group(0),
                              "cite a section as docs/<page>.md §N (docs/index.md)")


def _strip_code(markdown: str) -> str:
    """Markdown with fenced blocks and code spans blanked (line numbers kept)."""

    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    return CODE_SPAN.sub(blank, FENCE.sub(blank, markdown))


def _strip_links(markdown: str) -> str:
    return LINK.sub(lambda m: " " * len(m.group(0)), markdown)


def link_problems(path: Path, text: str) -> Iterator[Problem]:
    """Problems with the relative Markdown links of one ``.md`` file."""
    for lineno, line in _lines(_strip_code(text)):
        where = f"{_rel(path)}:{lineno}"
        for m in LINK.finditer(line):
            target = m.group("target").strip("<>")
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            file_part, _, frag = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if file_part and not dest.exists():
                if dest.parent == DOCS.resolve() and dest.suffix == ".md" and dest.stem in PLANNED:
                    continue
                yield Problem(where, target, "the link points to a file that does not exist")
                continue
            if frag and dest.suffix == ".md" and frag not in anchors(dest):
                yield Problem(where, target, f"{dest.name} has no anchor {frag!r} "
                              "(links need an explicit <a id=...> anchor)")


def forbidden_problems(path: Path, text: str) -> Iterator[Problem]:
    for lineno, line in _lines(text):
        for pattern, what in FORBIDDEN:
            for m in pattern.finditer(line):
                yield Problem(f"{_rel(path)}:{lineno}", m.group(0),
                              f"cites {what}; cite docs/ or the paper instead")


def _report(problems: list[Problem]) -> str:
    shown = "\n".join(str(p) for p in problems[:60])
    more = f"\n... and {len(problems) - 60} more" if len(problems) > 60 else ""
    return f"{len(problems)} problem(s):\n{shown}{more}"


# ---------------------------------------------------------------------------------------


def test_the_docs_exist() -> None:
    assert DOCS.is_dir(), "docs/ is missing"
    for page in ("index", "theory", "report", "design"):
        assert (DOCS / f"{page}.md").is_file(), f"docs/{page}.md is missing"


def test_every_doc_citation_resolves() -> None:
    problems: list[Problem] = []
    for path in scanned_files():
        text = read(path)
        if path == SELF or text is None:
            continue  # this file's checker tests cite missing sections on purpose
        if "docs/" in text or "§" in text:
            problems += citation_problems(path, text)
    assert not problems, _report(problems)


def test_markdown_links_resolve() -> None:
    problems: list[Problem] = []
    for path in scanned_files():
        text = read(path)
        if path.suffix == ".md" and text is not None:
            problems += link_problems(path, text)
    assert not problems, _report(problems)


def test_nothing_cites_files_outside_the_repository() -> None:
    problems: list[Problem] = []
    for path in scanned_files():
        text = read(path)
        if text is not None:
            problems += forbidden_problems(path, text)
    assert not problems, _report(problems)


def test_numbered_headings_have_stable_anchors() -> None:
    """``## 2.2 Title`` is preceded by ``<a id="s2-2"></a>``; anchors are unique per page."""
    problems: list[Problem] = []
    for page in doc_pages():
        text = read(page) or ""
        lines = text.splitlines()
        ids = [m.group("id") for m in ANCHOR.finditer(text)]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(Problem(_rel(page), dup, "the anchor is defined twice"))
        in_fence = False
        for lineno, line in enumerate(lines, start=1):
            if re.match(r"^[ \t]*(```|~~~)", line):
                in_fence = not in_fence
            m = HEADING.match(line)
            if in_fence or m is None:
                continue
            want = section_anchor(m.group("number"))
            before = "\n".join(lines[max(0, lineno - 4) : lineno - 1])
            if f'id="{want}"' not in before:
                problems.append(Problem(f"{_rel(page)}:{lineno}", line.strip(),
                                        f'put <a id="{want}"></a> on the line before it'))
    assert not problems, _report(problems)


def test_theory_keeps_the_section_numbers_of_the_old_notes() -> None:
    """The citations were rewritten number for number; these sections must stay."""
    numbers = ["1", "2", "3", "4", "5", "6", "7", "8"]
    numbers += [f"1.{i}" for i in range(1, 7)] + ["2.1", "2.2", "3.1", "3.2"]
    numbers += ["4.1", "4.2", "4.3"] + [f"5.{i}" for i in range(1, 5)]
    have = anchors(DOCS / "theory.md")
    missing = [n for n in numbers if section_anchor(n) not in have]
    assert not missing, f"docs/theory.md lost sections {missing}"


def test_index_links_every_page() -> None:
    index = read(DOCS / "index.md") or ""
    linked = {Path(m.group("target").partition("#")[0]).name for m in LINK.finditer(index)}
    pages = {p.name for p in doc_pages()} - {"index.md"}
    assert not pages - linked, f"docs/index.md does not link {sorted(pages - linked)}"


def test_readme_links_the_docs() -> None:
    readme = read(ROOT / "README.md") or ""
    assert "docs/index.md" in readme, "README.md should link docs/index.md"


@pytest.mark.parametrize("page", sorted(PLANNED))
def test_planned_pages(page: str) -> None:
    """Visible in the summary while a page linked from docs/index.md is not written yet."""
    if not (DOCS / f"{page}.md").is_file():
        pytest.skip(f"docs/{page}.md is linked from docs/index.md but not written yet")


# -- the checker itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("see docs/theory.md §2.2.", True),
        ("(docs/theory.md §1.1 'finite-width bias', §2.2: 5/(4n))", True),
        ("docs/theory.md §1, §4, §6 and docs/design.md §2", True),
        ("docs/theory.md §1.3-§1.5", True),
        ("`docs/theory.md` §7 table", True),
        ("docs/theory.md#s2-2", True),
        ("docs/theory.md §9.9", False),
        ("docs/theory.md §1.3-1.5", False),
        ("docs/theory.md §summary", False),
        ("docs/theory.md 2.2", False),
        ("docs/theory.md section 7 table", False),
        ("docs/theory.md, 2 pages", True),
        ("docs/theory.md#nowhere", False),
        ("docs/nowhere.md", False),
        ("docs/claims.md §1", None),  # planned page: accepted until it exists
        ("see theory.md §2.2", False),
    ],
)
def test_citation_checker(line: str, ok: bool | None) -> None:
    problems = list(citation_problems(DOCS / "index.md", line))
    if ok is None:
        ok = not (DOCS / "claims.md").is_file() or not problems
        assert ok, problems
        return
    assert (not problems) == ok, problems


def test_forbidden_checker_catches_the_old_forms() -> None:
    name = "THEO" + "RY.md"
    for line in (f"({name} 2.2)", f"``shared/{name}``", "../" + "shared/x", f"{name}]"):
        assert list(forbidden_problems(DOCS / "index.md", line)), line
    assert not list(forbidden_problems(DOCS / "index.md", "docs/theory.md §2.2"))


def test_claims_catalogue_is_generated_from_the_registry() -> None:
    """docs/claims.md is exactly what ``python -m gradbench.claims`` prints."""
    from gradbench.claims.catalogue import markdown, mutants_from

    path = ROOT / "docs" / "claims.md"
    mutants = mutants_from(ROOT / "tests" / "mutants.py")
    assert path.read_text() == markdown(mutants), (
        "regenerate: python -m gradbench.claims --mutants tests/mutants.py > docs/claims.md")
    for mutant in mutants:  # every planted bug is listed under the claim expected to kill it
        section = path.read_text().split(f"### `{mutant.claim}`", 1)[1].split("### ", 1)[0]
        assert f"`{mutant.name}`" in section
