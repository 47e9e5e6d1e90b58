"""Open the rendered report in headless Chromium and check what a reader would see.

One browser launch drives the page through the Chrome DevTools protocol over a pipe
(``--remote-debugging-pipe``: NUL-separated JSON on file descriptors 3 and 4, so no
websocket library and no port are needed). The test checks that

* the page loads with no JavaScript exception, no console error or warning (a blocked
  inline script, a CSP violation, a failed resource would all show up here), and no
  network request other than the page itself;
* the plots are drawn: the screenshot of the first chart has many distinct colours
  (decoded with the small PNG reader below; no Pillow);
* the verdict filter works: typing in the box and choosing pass/fail hides rows, the
  row counter follows, and a ``?q=...&status=...`` query string pre-fills the filter;
* clicking a header sorts the table.

Skipped, with the reason, when no ``chromium`` binary is on PATH. Set
``GRADBENCH_SCREENSHOT_DIR`` to keep full-page screenshots for a human to look at.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from resultdoc import STABILITY_BENCHES

from gradbench import report

DATA = Path(__file__).parent / "data"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)"
)]


class Browser:
    """A minimal DevTools-protocol client for one headless Chromium over --remote-debugging-pipe."""

    def __init__(self, profile: Path, timeout: float = 30.0) -> None:
        self._log = open(profile / "chromium.log", "wb")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # move the child's ends above 9 so that dup2 onto 3 and 4 cannot clobber them
        high_r, high_w = (
            fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10),
            fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        to_child_r, from_child_w = high_r, high_w
        args = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--mute-audio",
            "--hide-scrollbars",
            "--disable-dev-shm-usage",
            "--no-default-browser-check",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]

        def pipe_on_fds_3_and_4() -> None:  # runs in the child, before exec
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            args,
            preexec_fn=pipe_on_fds_3_and_4,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.timeout = timeout
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the devtools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: bool = True
    ) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for e in self.events:
            if e["method"] == method:
                return e
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read_message(deadline)
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg

    def open(self, url: str, width: int = 1280, height: int = 2000) -> None:
        self.events = []  # problems() reports this page's, not an earlier one's
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, session=False
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def eval(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": False}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def problems(self) -> list[str]:
        """Exceptions, console errors/warnings and network requests other than file:/data:."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(
                    "exception: "
                    f"{p['exceptionDetails'].get('exception', {}).get('description') or p}"
                )
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(
                    f"log {p['entry']['level']}: {p['entry'].get('text')} "
                    f"{p['entry'].get('url', '')}"
                )
            elif e["method"] == "Network.requestWillBeSent":
                url = p["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    out.append(f"network request: {url}")
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        self._log.close()


# --------------------------------------------------------------------------------------
# A tiny PNG reader (8-bit RGB/RGBA, non-interlaced: what Chromium writes)
# --------------------------------------------------------------------------------------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit truecolour PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert (depth, interlace) == (8, 0), header
    assert colour in (2, 6), header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif ftype == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def colour_stats(png: bytes) -> tuple[int, float]:
    """(distinct colours, fraction of non-white pixels) of a PNG."""
    width, _, rows = read_png(png)
    bpp = len(rows[0]) // width
    colours: set[bytes] = set()
    ink = total = 0
    for row in rows:
        for i in range(0, len(row), bpp):
            px = row[i : i + 3]
            colours.add(px)
            total += 1
            if min(px) < 235:
                ink += 1
    return len(colours), ink / max(total, 1)


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    base = report.load_run(DATA / "report_base.json")
    new = report.load_run(DATA / "report_new.json")
    single = report.write_report([DATA / "report_base.json"], folder / "single.html")
    assert single.read_text(encoding="utf-8") == report.render_report([base])
    double = folder / "comparison.html"
    double.write_text(report.render_comparison(base, new), encoding="utf-8")
    return {"single": single, "comparison": double}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="gradbench-chromium-") as profile:
        b = Browser(Path(profile))
        try:
            yield b
        finally:
            b.close()


def _keep(name: str, png: bytes) -> None:
    folder = os.environ.get("GRADBENCH_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(png)


VISIBLE_ROWS = (
    "Array.from(document.querySelectorAll('#verdicts tbody tr')).filter(r => !r.hidden).length"
)
COUNTER = "document.getElementById('verdict-count').textContent"


def test_page_loads_cleanly_and_draws_plots(browser: Browser, pages: dict[str, Path]) -> None:
    browser.open(pages["single"].as_uri())
    assert browser.eval("document.readyState") == "complete"
    assert browser.problems() == []
    n_rows = browser.eval("document.querySelectorAll('#verdicts tbody tr').length")
    assert n_rows > 50
    assert browser.eval(VISIBLE_ROWS) == n_rows
    assert browser.eval("document.querySelectorAll('svg.chart').length") >= 17
    # the injected strings stayed text: no element was created from them
    assert browser.eval("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert browser.eval("document.scripts.length") == 2
    assert (
        browser.eval(
            "JSON.parse(document.getElementById('gradbench-data').textContent).runs.length"
        )
        == 1
    )
    # the summary scatter follows the failures, within the first 2000 px, with real pixels
    rect = browser.eval(
        "(() => { const r = document.querySelector('#summary svg.chart').getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
    )
    assert rect["y"] + rect["height"] <= 2000, rect
    distinct, ink = colour_stats(browser.screenshot(rect))
    assert distinct >= 20, (distinct, ink)
    assert ink > 0.03, (distinct, ink)
    grad = browser.eval(
        "(() => { const r = document.querySelector('#gradients svg.chart').getBoundingClientRect();"
        " return {x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height}; })()"
    )
    distinct, ink = colour_stats(browser.screenshot(grad))
    assert distinct >= 20, (distinct, ink)
    assert ink > 0.03, (distinct, ink)
    _keep("report_single.png", browser.screenshot())


def test_verdict_filter_and_sort(browser: Browser, pages: dict[str, Path]) -> None:
    browser.open(pages["single"].as_uri())
    total = browser.eval("document.querySelectorAll('#verdicts tbody tr').length")
    fails = browser.eval("document.querySelectorAll('#verdicts tbody tr[data-status=fail]').length")
    type_in = (
        "(q => { const box = document.getElementById('verdict-filter'); box.value = q;"
        " box.dispatchEvent(new Event('input', {bubbles: true})); })"
    )
    browser.eval(f"{type_in}('mean_field_slope')")
    assert browser.eval(VISIBLE_ROWS) == 8  # 7 slope configurations + the exploding one
    assert browser.eval(COUNTER) == f"8 of {total} rows"
    browser.eval(f"{type_in}('<script>')")  # the malicious label is searchable text
    assert browser.eval(VISIBLE_ROWS) == 1
    browser.eval(f"{type_in}('')")
    browser.eval(
        "(() => { const s = document.getElementById('verdict-status'); s.value = 'fail';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert browser.eval(VISIBLE_ROWS) == fails
    assert browser.eval(COUNTER) == f"{fails} of {total} rows"
    # sort by p-value, ascending then descending; NaN stays last
    col = browser.eval(
        "Array.from(document.querySelectorAll('#verdicts thead th'))"
        ".findIndex(th => th.textContent === 'p (raw)')"
    )
    click = f"document.querySelectorAll('#verdicts thead th')[{col}].click()"
    values = (
        f"Array.from(document.querySelectorAll('#verdicts tbody tr')).map(r => r.cells[{col}]"
        ".getAttribute('data-sort'))"
    )
    browser.eval(click)
    asc = [float(v) for v in browser.eval(values)]
    finite = [v for v in asc if v == v]
    assert finite == sorted(finite)
    assert all(v != v for v in asc[len(finite) :])
    browser.eval(click)
    desc = [float(v) for v in browser.eval(values)]
    finite = [v for v in desc if v == v]
    assert finite == sorted(finite, reverse=True)
    assert browser.eval(VISIBLE_ROWS) == fails  # sorting keeps the filter
    assert browser.problems() == []


def test_query_string_prefills_filter(browser: Browser, pages: dict[str, Path]) -> None:
    browser.open(pages["single"].as_uri() + "?q=phase_boundary&status=pass")
    expected = browser.eval(
        "Array.from(document.querySelectorAll('#verdicts tbody tr')).filter(r =>"
        " r.textContent.includes('phase_boundary') && r.dataset.status === 'pass').length"
    )
    assert expected > 0
    assert browser.eval(VISIBLE_ROWS) == expected
    assert browser.eval("document.getElementById('verdict-filter').value") == "phase_boundary"
    assert browser.problems() == []


def test_comparison_page(browser: Browser, pages: dict[str, Path]) -> None:
    browser.open(pages["comparison"].as_uri())
    assert browser.problems() == []
    top = browser.eval("document.querySelector('#regressions .bad').getBoundingClientRect().top")
    assert 0 <= top < 400
    assert "1 regression(s)" in browser.eval(
        "document.querySelector('#regressions .bad').textContent"
    )
    _keep("report_comparison.png", browser.screenshot())


def test_problems_are_detected(browser: Browser, tmp_path: Path) -> None:
    """Negative control: the checks above would see a broken page."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>x</p>"
        '<img src="http://127.0.0.1:9/never.png" alt="">'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    browser.open(page.as_uri())
    found = "\n".join(browser.problems())
    assert "console.error" in found
    assert "undefinedFunction" in found
    assert "network request: http://127.0.0.1:9/never.png" in found


# --------------------------------------------------------------------------------------
# What a new reader sees first (issue 19's report acceptance)
# --------------------------------------------------------------------------------------

NOISY_LABELS = [
    f"residual-L3-n256-relu-he_normal-branch_scale={v!r}" for v in (0.35355339059327373, 0.5)
]
DICT_LABEL = "{'kind': 'activation', 'remedy': 'elu', 'q': 0.10000000000000002, 'seed': 0}"


@pytest.fixture(scope="module")
def reader_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report_base plus what real runs record: residual configurations whose labels differ
    only after 50 characters (with float noise), and a remedy's own case stored as a dict."""
    folder = tmp_path_factory.mktemp("reader")
    data = json.loads((DATA / "report_base.json").read_text(encoding="utf-8"))
    benches = data["benchmarks"]
    residual = next(
        b for b in benches if b["extra_info"]["gradbench"]["label"].startswith("residual-")
    )
    for i, label in enumerate(NOISY_LABELS):
        clone = json.loads(json.dumps(residual))
        case = clone["extra_info"]["gradbench"]
        case["label"] = label
        case["case"] = f"{case['case']}#{i + 10}"
        case["spec"] = {**case["spec"], "branch_scale": float(label.rsplit("=", 1)[1])}
        clone["fullname"] = clone["name"] = case["case"]
        benches.append(clone)
    remedy = json.loads(json.dumps(next(
        b for b in benches if b["extra_info"]["gradbench"].get("verdict")
    )))
    case = remedy["extra_info"]["gradbench"]
    case.update(label=DICT_LABEL, measurement=None, prediction=None, case="remedy-case#0",
                spec={"kind": "activation", "remedy": "elu", "q": 0.10000000000000002,
                      "seed": 0},
                remedy={"kind": "activation", "name": "elu", "origin": "built-in"})
    remedy["fullname"] = remedy["name"] = "remedy-case#0"
    benches.append(remedy)
    benches.extend(STABILITY_BENCHES)
    source = folder / "reader.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    return report.write_report([source], folder / "reader.html")


def test_first_screen_reads_as_a_verdict(browser: Browser, reader_page: Path) -> None:
    browser.open(reader_page.as_uri(), height=1000)
    assert browser.problems() == []
    verdict = browser.eval(
        "(() => { const v = document.getElementById('verdict'); const r ="
        " v.getBoundingClientRect(); return {text: v.textContent, top: r.top}; })()"
    )
    assert verdict["top"] < 200
    assert verdict["text"].startswith("✗ 7 of ")
    # the failures come first, each naming its claim and configuration
    blocks = browser.eval(
        "Array.from(document.querySelectorAll('#failures .failure')).map(b => b.textContent)"
    )
    assert len(blocks) == 4
    assert any("mean_field_slope failed for mlp" in b and "mlp-L12-n64-relu-sigma_w2=20.0" in b
               for b in blocks)
    first = browser.eval("document.querySelector('#failures').getBoundingClientRect().top")
    assert first < 300
    _keep("reader_top.png", browser.screenshot())


def test_verdicts_collapsed_with_failures_first(browser: Browser, reader_page: Path) -> None:
    browser.open(reader_page.as_uri())
    assert browser.eval("document.getElementById('verdicts-details').open") is False
    assert browser.eval("document.getElementById('verdicts').checkVisibility()") is False
    # the Machine section is a short scroll away, not under a thousand rows
    machine = browser.eval("document.getElementById('machine').getBoundingClientRect().top")
    verdicts = browser.eval(
        "document.getElementById('verdicts-section').getBoundingClientRect().top"
    )
    assert machine - verdicts < 1500
    statuses = browser.eval(
        "Array.from(document.querySelectorAll('#verdicts tbody tr')).map(r => r.dataset.status)"
    )
    order = {"fail": 0, "none": 1, "pass": 2}
    assert statuses == sorted(statuses, key=order.__getitem__)
    assert statuses[0] == "fail"
    # a filter in the address opens the table
    browser.open(reader_page.as_uri() + "?status=fail")
    assert browser.eval("document.getElementById('verdicts-details').open") is True
    assert browser.problems() == []


def test_configurations_read_without_reprs_or_float_noise(
    browser: Browser, reader_page: Path
) -> None:
    browser.open(reader_page.as_uri())
    shown = browser.eval("document.querySelector('main').innerText")
    text = browser.eval("document.getElementById('verdicts').textContent")  # collapsed
    for page_text in (shown, text):
        assert "{'kind'" not in page_text
        assert "0.10000000000000002" not in page_text
        assert "0.35355339059327373" not in page_text
    assert "elu, q=0.1, seed=0" in text
    assert "branch_scale=0.3536" in text
    # a remedy's own case says its kind, not "?"
    row = browser.eval(
        "Array.from(document.querySelectorAll('#verdicts tbody tr'))"
        ".find(r => r.textContent.includes('elu, q=0.1')).cells[2].textContent"
    )
    assert row == "activation"


def test_panel_titles_are_distinct_within_a_section(browser: Browser, reader_page: Path) -> None:
    browser.open(reader_page.as_uri())
    grids = browser.eval(
        "Array.from(document.querySelectorAll('section .grid')).map(g =>"
        " Array.from(g.querySelectorAll('svg.chart > text.t')).map(t => t.textContent))"
    )
    assert grids
    for titles in grids:
        assert len(titles) == len(set(titles)), titles
    residual = [t for titles in grids for t in titles if t.startswith("residual-L3")]
    assert sorted(residual) == sorted(
        ["residual-L3-n256-relu-he_normal-branch_scale=0.3536",
         "residual-L3-n256-relu-he_normal-branch_scale=0.5"]
    )
    # and each title fits in its chart (nothing clipped at the right edge)
    overflow = browser.eval(
        "Array.from(document.querySelectorAll('svg.chart')).filter(s => {"
        " const box = s.getBoundingClientRect();"
        " return Array.from(s.querySelectorAll(':scope > text.t tspan')).some(t =>"
        "  t.getBoundingClientRect().right > box.right + 0.5); }).length"
    )
    assert overflow == 0


def test_legends_do_not_cover_plotted_points(browser: Browser, reader_page: Path) -> None:
    browser.open(reader_page.as_uri())
    overlaps = browser.eval(
        "(() => { const out = []; const hit = (a, b) => a.left < b.right && b.left < a.right"
        " && a.top < b.bottom && b.top < a.bottom;"
        " document.querySelectorAll('svg.chart').forEach((s, i) => {"
        "  const lg = s.querySelector(':scope > g.lg'); if (!lg) { return; }"
        "  const box = lg.getBoundingClientRect();"
        "  s.querySelectorAll('circle, polygon, path').forEach(p => {"
        "   if (lg.contains(p)) { return; }"
        "   if (hit(box, p.getBoundingClientRect())) { out.push(i); } }); });"
        " return out.length; })()"
    )
    charts = browser.eval("document.querySelectorAll('svg.chart g.lg').length")
    assert charts > 10
    assert overlaps == 0


def test_recommendation_names_the_stable_remedies_per_setting(
    browser: Browser, reader_page: Path
) -> None:
    """"For my activation at my depth, which initializers keep gradients stable": one row per
    setting, the stable ones named, the others with their growth in words."""
    browser.open(reader_page.as_uri())
    assert browser.problems() == []
    rows = browser.eval(
        "Array.from(document.querySelectorAll('#recommend-table tbody tr')).map(r =>"
        " ({cells: Array.from(r.cells).map(c => c.innerText), title: r.title,"
        " visible: r.checkVisibility()}))"
    )
    assert [r["cells"][:4] for r in rows] == [
        ["initializers", "relu activation", "30", "he_normal, lsuv"],
        ["initializers", "tanh activation", "30", "no remedy measured here did"],
    ]
    assert all(r["visible"] for r in rows)
    assert rows[0]["cells"][4] == "—"
    assert rows[1]["cells"][4].startswith("lsuv exploding gradients grow x1.09 per layer")
    assert rows[1]["title"] == ("With tanh activation at depth 30, no initializer measured "
                                "kept gradients stable; lsuv did not.")
    lead = browser.eval("document.querySelector('#recommend p.lead').innerText")
    assert "with gradbench run --depth L; add your own remedy with --remedy or" in lead
    assert browser.eval(
        "document.querySelector('a[href=\"#recommend\"]') !== null") is True
