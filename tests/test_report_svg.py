"""Tests of gradbench.report.svg, the report's chart library, through its public API.

The SVG it writes is well-formed XML, so the tests parse it with ElementTree and look at
elements and attributes rather than at substrings.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import pytest

from gradbench.report import svg


def parse(chart: svg.Chart, clip_id: str = "c1") -> ET.Element:
    return ET.fromstring(chart.render(clip_id=clip_id))


def plot_area(root: ET.Element) -> tuple[float, float, float, float]:
    rect = root.find("rect[@class='pa']")
    assert rect is not None
    return tuple(float(rect.get(k, "nan")) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def path_commands(root: ET.Element) -> list[str]:
    return [p.get("d", "") for p in root.iter("path")]


# --------------------------------------------------------------------------------------
# Ticks
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "target", "integer", "expected"),
    [
        (0.0, 1.0, 5, False, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (-3.0, 7.0, 5, False, [-2.0, 0.0, 2.0, 4.0, 6.0]),
        (0.5, 3.4, 10, True, [1.0, 2.0, 3.0]),
        (1.0, 30.0, 5, True, [10.0, 20.0, 30.0]),
        (1.0, 30.0, 10, True, [5.0, 10.0, 15.0, 20.0, 25.0, 30.0]),
        (2.0, 2.0, 5, False, [2.0]),
        (0.0, math.inf, 5, False, [0.0]),
    ],
)
def test_linear_ticks(
    lo: float, hi: float, target: int, integer: bool, expected: list[float]
) -> None:
    assert svg.linear_ticks(lo, hi, target, integer=integer) == expected


def test_log_ticks_are_powers_of_ten_over_decades() -> None:
    ticks = svg.log_ticks(-2.2, 1.3)
    assert ticks == [(-2.0, "10⁻²"), (-1.0, "10⁻¹"), (0.0, "1"), (1.0, "10")]
    every_other = svg.log_ticks(-6.2, 1.3)  # about six ticks: a step of two decades
    assert [label for _, label in every_other] == ["10⁻⁶", "10⁻⁴", "10⁻²", "1"]
    assert len(svg.log_ticks(-0.1, 0.2)) >= 2
    wide = svg.log_ticks(-40.0, 40.0)
    assert len(wide) <= 9
    assert all(label.startswith(("10", "1")) for _, label in wide)


def test_log_ticks_within_a_decade_use_multiples() -> None:
    ticks = svg.log_ticks(-0.1, 0.8)  # 0.79 .. 6.3
    assert [label for _, label in ticks] == ["1", "2", "5"]
    assert ticks[1][0] == pytest.approx(math.log10(2))
    narrow = svg.log_ticks(0.0, 0.2)  # 1 .. 1.58: no 1-2-5 tick inside, linear ticks instead
    assert len(narrow) >= 2
    assert all(0.0 - 1e-9 <= pos <= 0.2 + 1e-9 for pos, _ in narrow)


def test_log_ticks_degenerate_range_is_one_labelled_tick() -> None:
    assert svg.log_ticks(2.0, 2.0) == [(2.0, "100")]
    assert svg.log_ticks(500.0, 500.0) == [(500.0, "1e500")]


# --------------------------------------------------------------------------------------
# Chart: frame, ranges, text
# --------------------------------------------------------------------------------------


def test_render_is_deterministic_and_well_formed() -> None:
    def build() -> svg.Chart:
        ch = svg.Chart("t", "x", "y", ylog=True)
        ch.add(svg.Band([1, 2, 3], [-1, -2, -3], [0, -1, -2], color="#abc"))
        ch.add(svg.Line([1, 2, 3], [-0.5, -1.5, -2.5], color="#123", label="mean"))
        return ch

    a, b = build().render("c9"), build().render("c9")
    assert a == b
    root = ET.fromstring(a)
    assert root.tag == "svg"
    assert root.get("class") == "chart"
    legend = root.find("g[@class='lg']/rect")
    assert legend is not None
    height = float(legend.get("y", "nan")) + float(legend.get("height", "nan"))
    # the legend row is added under the nominal 380 x 250, not taken from the plot
    assert root.get("width") == "380"
    assert 250 < height <= int(root.get("height", "0")) <= height + 8
    assert root.get("viewBox") == f"0 0 380 {root.get('height')}"
    _, _, _, plot_height = plot_area(root)
    assert plot_height == 250 - 30 - 38


def test_clip_id_names_the_clip_path_and_every_clipped_group() -> None:
    ch = svg.Chart("t", "x", "y")
    ch.add(svg.Band([0, 1], [0, 0], [1, 1], color="#000"))
    ch.add(svg.Line([0, 1], [0, 1], color="#000"))
    root = parse(ch, clip_id="clip7")
    assert [c.get("id") for c in root.iter("clipPath")] == ["clip7"]
    groups = [g for g in root.iter("g") if g.get("clip-path")]
    assert len(groups) == 2
    assert {g.get("clip-path") for g in groups} == {"url(#clip7)"}


def title_lines(root: ET.Element) -> list[str]:
    title = root.find("text[@class='t']")
    assert title is not None
    return [t.text or "" for t in title.iter("tspan")]


def test_text_is_escaped_and_very_long_titles_are_cut() -> None:
    evil = "<script>alert('x') & \"y\"</script>"
    ch = svg.Chart("T" * 200 + evil, evil, evil, subtitle=evil * 3, tooltip=evil)
    ch.add(svg.Line([0, 1], [0, 1], color="#000", label=evil, markers=True, tips=[evil, evil]))
    text = ch.render()
    assert "<script>" not in text
    root = ET.fromstring(text)  # well-formed despite the markup in every string
    lines = title_lines(root)
    assert len(lines) == 3  # wrapped onto three lines, then cut
    assert lines[-1].endswith("…")
    assert "".join(lines).startswith("T" * 120)
    assert evil in (root.get("aria-label") or "")  # the full text stays accessible
    assert root.findtext("title") == evil
    assert [t.text for t in root.iter("text") if t.get("class") == "xl"] == [evil]


def test_fixed_and_automatic_ranges() -> None:
    ch = svg.Chart("t", "x", "y", xlim=(0.0, 10.0), ylim=(-1.0, 1.0))
    ch.add(svg.Points([0, 10], [-1, 1], color="#000"))
    root = parse(ch)
    x, y, w, h = plot_area(root)
    cx = [float(c.get("cx", "nan")) for c in root.iter("circle")]
    cy = [float(c.get("cy", "nan")) for c in root.iter("circle")]
    assert cx == [pytest.approx(x), pytest.approx(x + w, abs=0.05)]
    assert cy == [pytest.approx(y + h, abs=0.05), pytest.approx(y)]
    auto = svg.Chart("t", "x", "y")
    auto.add(svg.Points([0, 10], [-1, 1], color="#000"))
    inner = [float(c.get("cx", "nan")) for c in parse(auto).iter("circle")]
    assert x < inner[0] < inner[1] < x + w  # 5% padding on each side


def test_degenerate_range_is_padded() -> None:
    ch = svg.Chart("t", "x", "y")
    ch.add(svg.Points([3, 3], [5, 5], color="#000"))
    root = parse(ch)
    x, y, w, h = plot_area(root)
    circle = next(root.iter("circle"))
    assert float(circle.get("cx", "nan")) == pytest.approx(x + w / 2, abs=0.1)
    assert float(circle.get("cy", "nan")) == pytest.approx(y + h / 2, abs=0.1)


def test_titles_wrap_after_hyphens_and_keep_what_tells_panels_apart() -> None:
    """Labels that differ only at their end (``...-branch_scale=0.25`` / ``=0.5``) stay whole."""
    labels = [f"residual-L3-n256-relu-he_normal-branch_scale={v}-rezero" for v in (0.25, 0.5)]
    shown = []
    for label in labels:
        root = parse(svg.Chart(label, "x", "y", subtitle="measured ×0.93/layer"))
        lines = title_lines(root)
        assert len(lines) == 2
        assert all(line.endswith("-") for line in lines[:-1])  # broken after a hyphen
        assert all(len(line) * 8.0 <= 380 - 16 for line in lines)
        shown.append("".join(lines))
        _, top, _, _ = plot_area(root)
        assert top >= 16 * 2 + 13  # the plot starts under both title lines and the subtitle
    assert shown == labels


def test_wrap() -> None:
    assert svg.wrap("", 10, 2) == []
    assert svg.wrap("short", 10, 2) == ["short"]
    assert svg.wrap("a-b-c-d-e-f", 4, 3) == ["a-b-", "c-d-", "e-f"]
    assert svg.wrap("a b c d", 3, 1) == ["a …"]
    assert svg.wrap("x" * 9, 4, 2) == ["xxxx", "xxx…"]


def test_flat_ranges_get_distinct_tick_labels() -> None:
    ticks = svg.log_ticks(-1e-9, 1e-9)
    labels = [label for _, label in ticks]
    assert len(labels) == len(set(labels)) >= 1
    linear = svg._axis_ticks(1.0, 1.0 + 1e-9, False, 5)
    assert len({label for _, label in linear}) == len(linear)


def test_empty_chart_renders_axes_only() -> None:
    root = parse(svg.Chart("empty", "x", "y"))
    assert root.find("rect[@class='pa']") is not None
    assert list(root.iter("path")) == []
    assert root.find("g[@class='lg']") is None


def test_frame_maps_values_and_clamps() -> None:
    f = svg.Frame(10, 20, 100, 50, (0.0, 1.0), (0.0, 2.0), "c")
    assert f.x(0.0) == 10
    assert f.x(1.0) == 110
    assert f.x(2.0) == 110  # clamped
    assert f.x(2.0, clamp=False) == 210
    assert f.x(math.inf, clamp=False) == 110  # infinities always land on the edge
    assert f.x(math.nan) is None
    assert f.y(0.0) == 70
    assert f.y(2.0) == 20
    assert f.y(1e9, clamp=False) == 70 - 51 * 50  # far outside: capped
    assert f.clipped(["<a/>"]) == ['<g clip-path="url(#c)">', "<a/>", "</g>"]


# --------------------------------------------------------------------------------------
# Series kinds
# --------------------------------------------------------------------------------------


def test_line_breaks_at_nan_and_marks_infinities_on_the_edge() -> None:
    ch = svg.Chart("t", "x", "y")
    ch.add(svg.Line([1, 2, 3, 4, 5, 6], [0, 1, math.nan, 2, math.inf, 3], color="#f00", dash=True))
    root = parse(ch)
    (d,) = path_commands(root)
    assert d.count("M") == 3  # three pieces: 1-2, 4, 6
    assert d.count("L") == 1
    path = next(root.iter("path"))
    assert path.get("stroke-dasharray") == "5 3"
    triangles = [p for p in root.iter("polygon") if p.get("fill") == "#f00"]
    assert len(triangles) == 1
    assert triangles[0].findtext("title") == "inf"
    _, top, _, _ = plot_area(root)
    apex = triangles[0].get("points", "").split()[-1]
    assert float(apex.split(",")[1]) == pytest.approx(top)  # clamped to the top edge


def test_line_markers_carry_tooltips() -> None:
    ch = svg.Chart("t", "x", "y")
    ch.add(svg.Line([1, 2, 3], [1, 2, 3], color="#000", markers=True, tips=["a", "b"]))
    circles = list(parse(ch).iter("circle"))
    assert len(circles) == 3
    assert [c.findtext("title") for c in circles] == ["a", "b", None]


def test_band_splits_at_non_finite_bounds() -> None:
    ch = svg.Chart("t", "x", "y")
    x = [1, 2, 3, 4, 5, 6]
    ch.add(svg.Band(x, [0, 0, math.nan, 0, 0, 0], [1, 1, 1, 1, math.inf, 1], color="#0a0"))
    polygons = list(parse(ch).iter("polygon"))
    assert len(polygons) == 1  # 1-2 is a band; 4 and 6 stand alone, too short to fill
    assert len(polygons[0].get("points", "").split()) == 4
    assert polygons[0].get("fill-opacity") == "0.18"
    nothing = svg.Chart("t", "x", "y")
    nothing.add(svg.Band([1, 2], [math.nan, math.nan], [math.nan, math.nan], color="#000"))
    assert [g for g in parse(nothing).iter("g") if g.get("clip-path")] == []  # no empty group


def test_points_with_error_bars_fills_and_rings() -> None:
    ch = svg.Chart("t", "x", "y")
    ch.add(
        svg.Points(
            [1, 2, 3],
            [1, math.nan, 3],
            color=["#a00", "#0a0", "#00a"],
            strokes=["#111"],
            err_lo=[0.5, 0.5, 2.5],
            err_hi=[1.5, 1.5, 3.5],
            tips=["one", "two", "three"],
            radius=5,
        )
    )
    root = parse(ch)
    circles = list(root.iter("circle"))
    assert [c.get("fill") for c in circles] == ["#a00", "#00a"]  # NaN point skipped
    assert [c.get("stroke") for c in circles] == ["#111", "#fff"]
    assert [c.get("r") for c in circles] == ["5", "5"]
    assert [c.findtext("title") for c in circles] == ["one", "three"]
    bars = [ln for ln in root.iter("line") if ln.get("stroke-opacity") == "0.7"]
    assert [b.get("stroke") for b in bars] == ["#a00", "#00a"]


def test_bars_start_at_zero_and_skip_empty_bins() -> None:
    ch = svg.Chart("t", "x", "count")
    ch.add(svg.Bars([0, 1, 2, 3], [2, 0, 4], color="#e67e22", label="h"))
    root = parse(ch)
    x, y, _, h = plot_area(root)
    rects = [r for r in root.iter("rect") if r.get("fill-opacity") == "0.55"]
    assert len(rects) == 2
    bottoms = {round(float(r.get("y", "nan")) + float(r.get("height", "nan")), 1) for r in rects}
    assert bottoms == {round(y + h, 1)}  # drawn from zero, which is the bottom edge
    assert float(rects[0].get("x", "nan")) == pytest.approx(x)  # no x padding for histograms


def test_a_new_series_kind_is_one_subclass() -> None:
    """The extension point: a series class with draw/swatch/x_values/y_values."""

    class VLine(svg.Series):
        def __init__(self, at: float, color: str, label: str) -> None:
            self.at, self.color, self.label = at, color, label

        def x_values(self) -> Sequence[float]:
            return (self.at,)

        def y_values(self) -> Sequence[float]:
            return ()

        def draw(self, frame: svg.Frame, occupied: list[tuple[float, float]]) -> list[str]:
            px = frame.x(self.at)
            return [f'<line class="v" x1="{px}" x2="{px}" y1="{frame.top}" y2="0"/>']

        def swatch(self, x: float, y: float) -> str:
            return f'<rect class="sw" x="{x}" y="{y}" width="3" height="3"/>'

    ch = svg.Chart("t", "x", "y")
    ch.add(svg.Points([0, 4], [0, 1], color="#000"), VLine(2.0, "#f0f", "threshold"))
    root = parse(ch)
    assert len(root.findall("line[@class='v']")) == 1
    legend = root.find("g[@class='lg']")
    assert legend is not None
    assert legend.find("rect[@class='sw']") is not None
    assert [t.text for t in legend.iter("text")] == ["threshold"]


# --------------------------------------------------------------------------------------
# Legend
# --------------------------------------------------------------------------------------


def legend_texts(root: ET.Element) -> list[str | None]:
    legend = root.find("g[@class='lg']")
    assert legend is not None
    return [t.text for t in legend.iter("text")]


def test_legend_lists_labelled_series_then_keys_and_counts_the_rest() -> None:
    ch = svg.Chart("t", "x", "y")
    for i in range(10):
        ch.add(svg.Line([0, 1], [i, i], color=svg.PALETTE[i], label=f"run {i}"))
    ch.add(svg.Line([0, 1], [0, 0], color="#000"))  # no label: not in the legend
    ch.legend("ring: predicted", "#555", "ring")
    texts = legend_texts(parse(ch))
    assert texts == [f"run {i}" for i in range(8)] + ["+3 more"]
    short = svg.Chart("t", "x", "y")
    short.add(svg.Points([0], [0], color="#0f0", label="x" * 70))
    short.legend("ring: predicted", "#555", "ring")
    short.legend("filled", "#555")
    root = parse(short)
    assert legend_texts(root) == ["x" * 59 + "…", "ring: predicted", "filled"]
    legend = root.find("g[@class='lg']")
    assert legend is not None
    fills = [c.get("fill") for c in legend.iter("circle")]
    assert fills == ["#0f0", "#fff", "#555"]  # dot, ring, dot


def test_legend_is_under_the_plot_and_keeps_labels_whole() -> None:
    label = "measured (mean of 32 seeds, 95% CI)"
    ch = svg.Chart("t", "x", "y")
    xs = [i / 10 for i in range(101)]
    ch.add(svg.Points(xs, [9.0] * 101, color="#000", label=label))  # points in every corner
    ch.add(svg.Points(xs, [0.0] * 101, color="#000", label="theory"))
    root = parse(ch)
    _, y, _, h = plot_area(root)
    box = root.find("g[@class='lg']/rect")
    assert box is not None
    assert float(box.get("y", "nan")) > y + h + 13  # below the axis and its tick labels
    assert float(box.get("y", "nan")) + float(box.get("height", "nan")) <= float(
        root.get("height", "nan")
    )
    assert legend_texts(root) == [label, "theory"]
    many = svg.Chart("t", "x", "y")
    for i in range(6):
        many.add(svg.Line([0, 1], [0, 1], color="#000", label=f"a fairly long label {i}"))
    rows = {t.get("y") for t in parse(many).findall("g[@class='lg']/text")}
    assert len(rows) > 1  # wrapped onto more rows rather than running out of the picture


def test_legend_right_takes_room_from_the_plot() -> None:
    plain = svg.Chart("t", "x", "y", width=540)
    right = svg.Chart("t", "x", "y", width=540, legend_right=True)
    for ch in (plain, right):
        ch.add(svg.Points([0, 1], [0, 1], color="#000", label="a label"))
    _, _, w_plain, _ = plot_area(parse(plain))
    x, _, w_right, _ = plot_area(parse(right))
    assert w_right < w_plain
    box = parse(right).find("g[@class='lg']/rect")
    assert box is not None
    assert float(box.get("x", "nan")) > x + w_right


@pytest.mark.parametrize(
    ("marker", "tag"),
    [("dot", "circle"), ("ring", "circle"), ("line", "line"), ("dash", "line"), ("box", "rect")],
)
def test_key_markers(marker: str, tag: str) -> None:
    key = svg.Key("k", "#123", marker)  # type: ignore[arg-type]
    element = ET.fromstring(key.swatch(0.0, 20.0))
    assert element.tag == tag
    assert "#123" in (element.get("fill", ""), element.get("stroke", ""))
    assert (element.get("stroke-dasharray") is not None) == (marker == "dash")
    assert svg.Key("k", "#123", "none").swatch(0.0, 20.0) == ""


def test_nothing_non_finite_leaks_into_the_markup() -> None:
    ch = svg.Chart("t", "x", "y", ylog=True)
    ch.add(svg.Line([1, 2, 3], [math.nan, math.inf, -math.inf], color="#000", label="bad"))
    ch.add(svg.Band([1, 2], [math.nan, math.nan], [math.nan, math.nan], color="#000"))
    ch.add(svg.Points([1], [math.nan], color="#f00"))
    ch.add(svg.Bars([0, 1], [math.nan], color="#00f"))
    text = ch.render()
    assert "nan" not in text.lower().replace("aria", "")
    ET.fromstring(text)
