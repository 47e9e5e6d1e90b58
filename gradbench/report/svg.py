"""A small SVG chart library: deterministic, offline, and free of dependencies.

A :class:`Chart` is a titled plot area with axes; :meth:`Chart.add` puts series on it
and :meth:`Chart.render` returns one ``<svg>`` element as text. The series kinds are
classes that draw themselves:

* :class:`Line`: a polyline (optionally dashed, optionally with point markers);
* :class:`Band`: a filled band between a lower and an upper curve (a confidence band);
* :class:`Points`: markers with optional error bars, per-point fills and outlines;
* :class:`Bars`: a histogram over bin edges.

``xlog``/``ylog`` mean the values given are already log10 of the data; the ticks are
then labelled as powers of ten. Non-finite values never raise: NaN breaks a line or is
skipped, +-inf is clamped to the edge of the plot (a :class:`Line` marks it with a
triangle there). Every coordinate is rounded to 0.1 px, so the same input gives the same
bytes, and every piece of text is escaped.

Examples:
    >>> chart = Chart("growth", "layer l", "norm (log scale)", ylog=True, xint=True)
    >>> chart.add(Line([1, 2, 3], [0.0, -0.5, -1.0], color="#1f77b4", label="measured"))
    >>> chart.render(clip_id="c1").startswith('<svg class="chart"')
    True
"""

from __future__ import annotations

import abc
import html
import math
from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

from gradbench.report.text import num

__all__ = [
    "PALETTE",
    "Band",
    "Bars",
    "Chart",
    "Frame",
    "Key",
    "Line",
    "Points",
    "Series",
    "linear_ticks",
    "log_ticks",
]

#: Colours for series that have no colour of their own (matplotlib's "tab10").
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_LEGEND_ROWS = 8  # legend entries shown; the rest are counted in a "+N more" entry
_LEGEND_CHARS = 60  # legend labels are cut to this many characters
_CHAR_PX = 5.8  # width of one 10 px character, for laying out legend entries
_TITLE_CHAR_PX = 8.0  # width of one 12 px bold title character (generous: never clipped)
_TITLE_LINES = 3  # a title wraps onto at most this many lines (then it is cut)
_SUBTITLE_LINES = 2


def _esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def _c(v: float) -> str:
    """An SVG coordinate, rounded so output is stable."""
    r = round(v, 1)
    return f"{r:.1f}".rstrip("0").rstrip(".") if r != 0 else "0"


def _floats(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _tip(tips: Sequence[str], i: int) -> str:
    return f"<title>{_esc(tips[i])}</title>" if i < len(tips) else ""


def wrap(text: str, chars: int, lines: int) -> list[str]:
    """``text`` on at most ``lines`` lines of at most ``chars`` characters, broken after a
    hyphen, a space or a comma (mid-word only when a word is longer than a line); what does
    not fit is cut with an ellipsis.

    Examples:
        >>> wrap("residual-L3-n256-relu-he_normal-branch_scale=0.25", 24, 3)
        ['residual-L3-n256-relu-', 'he_normal-', 'branch_scale=0.25']
        >>> wrap("abcdefghij", 4, 2)
        ['abcd', 'efg…']
    """
    chars = max(chars, 2)
    out: list[str] = []
    start = 0  # where the last line starts in ``text``
    rest = text
    while rest and len(out) < lines:
        start = len(text) - len(rest)
        if len(rest) <= chars:
            out.append(rest)
            return out
        cut = max(rest.rfind(c, 0, chars) for c in "- ,")
        end = cut + 1 if cut > 0 else chars
        out.append(rest[:end].rstrip(" "))
        rest = rest[end:].lstrip(" ")
    if rest:
        out[-1] = text[start : start + chars - 1] + "…"
    return out


# --------------------------------------------------------------------------------------
# Ticks
# --------------------------------------------------------------------------------------


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def linear_ticks(lo: float, hi: float, target: int = 5, integer: bool = False) -> list[float]:
    """About ``target`` round tick positions in ``[lo, hi]`` (steps of 1, 2, 2.5 or 5 x 10^k).

    Examples:
        >>> linear_ticks(0.0, 1.0)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        >>> linear_ticks(0.5, 3.4, 10, integer=True)
        [1.0, 2.0, 3.0]
    """
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return [lo]
    step = _nice_step(span, target)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _pow10(k: int) -> str:
    if k == 0:
        return "1"
    if k == 1:
        return "10"
    return "10" + str(k).translate(_SUP)


def _tick_text(v: float, step: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.1e}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 2
    return f"{v:.{min(decimals, 6)}f}"


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks for an axis whose values are log10 of the data: ``(position, label)`` pairs.

    Over two or more decades the ticks are powers of ten (``10⁻⁶``); over less, the
    1-2-5 (or 1..9) multiples of each decade, or failing that linear ticks of the data.

    Examples:
        >>> [label for _, label in log_ticks(-2.2, 1.3)]
        ['10⁻²', '10⁻¹', '1', '10']
    """
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return [(lo, num(10.0**lo) if abs(lo) < 300 else f"1e{lo:.0f}")]
    if span >= 2:
        step = max(1, int(_nice_step(span, 6)))
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        return [(float(k * step), _pow10(k * step)) for k in range(first, last + 1)]
    for mults in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = []
        for k in range(math.floor(lo) - 1, math.ceil(hi) + 1):
            for m in mults:
                pos = k + math.log10(m)
                if lo - 1e-9 <= pos <= hi + 1e-9:
                    ticks.append((pos, num(m * 10.0**k, 3)))
        if len(ticks) >= 3:
            return ticks
    vlo, vhi = 10.0**lo, 10.0**hi
    values = [v for v in linear_ticks(vlo, vhi, 4) if v > 0]
    vstep = values[1] - values[0] if len(values) > 1 else vhi - vlo
    return _distinct([(math.log10(v), _tick_text(v, vstep)) for v in values])


def _distinct(ticks: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The ticks whose label is not the same as an earlier one (a range narrower than the
    labels' precision would otherwise show ``1.000000`` four times)."""
    seen: set[str] = set()
    out = []
    for pos, label in ticks:
        if label not in seen:
            seen.add(label)
            out.append((pos, label))
    return out


def _axis_ticks(
    lo: float, hi: float, log: bool, target: int, integer: bool = False
) -> list[tuple[float, str]]:
    if log:
        return log_ticks(lo, hi)
    values = linear_ticks(lo, hi, target, integer=integer)
    step = values[1] - values[0] if len(values) > 1 else 1.0
    return _distinct([(v, _tick_text(v, step)) for v in values])


# --------------------------------------------------------------------------------------
# The plot frame: value -> pixel
# --------------------------------------------------------------------------------------


class Frame:
    """The plot area of one rendered chart and its value-to-pixel mapping.

    Attributes:
        left, top, width, height: the plot area in pixels.
        x0, x1, y0, y1: the value ranges the area spans.
        clip_id: the id of the ``<clipPath>`` that keeps series inside the area.
    """

    def __init__(
        self,
        left: int,
        top: int,
        width: int,
        height: int,
        xrange: tuple[float, float],
        yrange: tuple[float, float],
        clip_id: str,
    ) -> None:
        self.left, self.top, self.width, self.height = left, top, width, height
        self.x0, self.x1 = xrange
        self.y0, self.y1 = yrange
        self.clip_id = clip_id

    def x(self, v: float, clamp: bool = True) -> float | None:
        """The pixel column of ``v``; ``None`` for NaN. Infinities (and, with ``clamp``,
        values outside the range) land on the edge."""
        if math.isnan(v):
            return None
        if clamp or math.isinf(v):
            v = min(max(v, self.x0), self.x1)
        return self.left + (v - self.x0) / (self.x1 - self.x0) * self.width

    def y(self, v: float, clamp: bool = True) -> float | None:
        """The pixel row of ``v`` (as :meth:`x`; unclamped rows stay within 50 heights)."""
        if math.isnan(v):
            return None
        if clamp or math.isinf(v):
            v = min(max(v, self.y0), self.y1)
        frac = min(max((v - self.y0) / (self.y1 - self.y0), -50.0), 51.0)
        return self.top + self.height - frac * self.height

    def clipped(self, parts: list[str]) -> list[str]:
        """``parts`` inside a group clipped to the plot area."""
        return [f'<g clip-path="url(#{_esc(self.clip_id)})">', *parts, "</g>"]


# --------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------


def _swatch_stroke(x: float, y: float, color: str, dash: bool) -> str:
    da = ' stroke-dasharray="5 3"' if dash else ""
    return (
        f'<line x1="{_c(x + 5)}" x2="{_c(x + 19)}" y1="{_c(y - 3.5)}" y2="{_c(y - 3.5)}" '
        f'stroke="{color}" stroke-width="2"{da}/>'
    )


def _swatch_box(x: float, y: float, color: str) -> str:
    return (
        f'<rect x="{_c(x + 6)}" y="{_c(y - 8)}" width="12" height="9" '
        f'fill="{color}" fill-opacity="0.6"/>'
    )


def _swatch_dot(x: float, y: float, color: str, fill: str | None = None) -> str:
    if fill is None:
        return f'<circle cx="{_c(x + 12)}" cy="{_c(y - 3.5)}" r="3.6" fill="{color}"/>'
    return (
        f'<circle cx="{_c(x + 12)}" cy="{_c(y - 3.5)}" r="3.6" fill="{fill}" '
        f'stroke="{color}" stroke-width="1.8"/>'
    )


class Series(abc.ABC):
    """Something drawn in a chart's plot area, with an optional legend entry.

    A new kind of series is a subclass that sets :attr:`color` and :attr:`label` and
    implements the four methods below.
    """

    color: str
    label: str | None
    #: drawn up from zero: the y range then includes 0 and gets no padding below it,
    #: and the x range gets no padding at all.
    from_zero: ClassVar[bool] = False

    @abc.abstractmethod
    def x_values(self) -> Sequence[float]:
        """The x values that the automatic x range must cover."""

    @abc.abstractmethod
    def y_values(self) -> Sequence[float]:
        """The y values that the automatic y range must cover."""

    @abc.abstractmethod
    def draw(self, frame: Frame, occupied: list[tuple[float, float]]) -> list[str]:
        """SVG elements for this series; appends the pixels it covers to ``occupied``."""

    @abc.abstractmethod
    def swatch(self, x: float, y: float) -> str:
        """The legend's sample of this series for a legend row at ``(x, y)``."""


class Line(Series):
    """A polyline through ``(x, y)``; NaN breaks it, +-inf becomes a triangle on the edge.

    Args:
        x, y: the points.
        color: stroke colour.
        label: legend text (``None``: not in the legend).
        dash: dashed stroke.
        width: stroke width.
        markers: a small dot at every finite point, with its tooltip.
        tips: per-point tooltip text.
    """

    def __init__(
        self,
        x: Iterable[float],
        y: Iterable[float],
        *,
        color: str,
        label: str | None = None,
        dash: bool = False,
        width: float = 1.6,
        markers: bool = False,
        tips: Sequence[str] = (),
    ) -> None:
        self.x, self.y = _floats(x), _floats(y)
        self.color, self.label, self.dash, self.width = color, label, dash, width
        self.markers, self.tips = markers, tuple(tips)

    def x_values(self) -> Sequence[float]:
        return self.x

    def y_values(self) -> Sequence[float]:
        return self.y

    def _edge_marker(self, px: float, py: float, i: int) -> str:
        up = self.y[i] > 0
        tip = f"<title>{_esc(self.tips[i] if i < len(self.tips) else num(self.y[i]))}</title>"
        base = _c(py + 7) if up else _c(py - 7)
        tri = f"{_c(px - 4)},{base} {_c(px + 4)},{base} {_c(px)},{_c(py)}"
        return f'<polygon points="{tri}" fill="{self.color}">{tip}</polygon>'

    def draw(self, frame: Frame, occupied: list[tuple[float, float]]) -> list[str]:
        path: list[str] = []
        pen = False
        pts: list[tuple[float, float, int]] = []
        edges: list[tuple[float, float, int]] = []
        for i, (x, y) in enumerate(zip(self.x, self.y)):
            px, py = frame.x(x, False), frame.y(y, False)
            if px is None or py is None or not math.isfinite(y):
                pen = False
                if px is not None and py is not None:  # +-inf: a marker on the edge, no line
                    edges.append((px, py, i))
                continue
            path.append(f"{'L' if pen else 'M'}{_c(px)} {_c(py)}")
            pen = True
            pts.append((px, py, i))
            occupied.append((px, py))
        inner: list[str] = []
        if path:
            dash = ' stroke-dasharray="5 3"' if self.dash else ""
            inner.append(
                f'<path d="{"".join(path)}" fill="none" stroke="{self.color}" '
                f'stroke-width="{self.width}"{dash}/>'
            )
        if self.markers:
            inner += [
                f'<circle cx="{_c(px)}" cy="{_c(py)}" r="2.6" '
                f'fill="{self.color}">{_tip(self.tips, i)}</circle>'
                for px, py, i in pts
            ]
        return frame.clipped(inner) + [self._edge_marker(px, py, i) for px, py, i in edges]

    def swatch(self, x: float, y: float) -> str:
        return _swatch_stroke(x, y, self.color, self.dash)


class Band(Series):
    """A filled band between ``low`` and ``high`` over ``x``; non-finite bounds split it."""

    def __init__(
        self,
        x: Iterable[float],
        low: Iterable[float],
        high: Iterable[float],
        *,
        color: str,
        opacity: float = 0.18,
        label: str | None = None,
    ) -> None:
        self.x, self.low, self.high = _floats(x), _floats(low), _floats(high)
        self.color, self.opacity, self.label = color, opacity, label

    def x_values(self) -> Sequence[float]:
        return self.x

    def y_values(self) -> Sequence[float]:
        return self.low + self.high

    def draw(self, frame: Frame, occupied: list[tuple[float, float]]) -> list[str]:
        segments: list[list[tuple[float, float, float]]] = [[]]
        for x, lo, hi in zip(self.x, self.low, self.high):
            px, plo, phi = frame.x(x), frame.y(lo, False), frame.y(hi, False)
            finite = math.isfinite(lo) and math.isfinite(hi)
            if px is None or plo is None or phi is None or not finite:
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append((px, plo, phi))
        polygons = []
        for seg in segments:
            if len(seg) < 2:
                continue
            corners = [f"{_c(px)},{_c(phi)}" for px, _, phi in seg]
            corners += [f"{_c(px)},{_c(plo)}" for px, plo, _ in reversed(seg)]
            polygons.append(
                f'<polygon points="{" ".join(corners)}" fill="{self.color}" '
                f'fill-opacity="{self.opacity}"/>'
            )
        return frame.clipped(polygons) if polygons else []

    def swatch(self, x: float, y: float) -> str:
        return _swatch_box(x, y, self.color)


class Points(Series):
    """Markers at ``(x, y)``, optionally with error bars from ``err_lo`` to ``err_hi``.

    Args:
        x, y: the points.
        color: one fill colour, or one per point (``"none"`` for rings only).
        strokes: per-point outline colours (a thick ring); default a thin white outline.
        label: legend text.
        radius: marker radius.
        tips: per-point tooltip text.
        err_lo, err_hi: per-point error bar ends (both needed for a bar).
    """

    def __init__(
        self,
        x: Iterable[float],
        y: Iterable[float],
        *,
        color: str | Sequence[str],
        strokes: Sequence[str] = (),
        label: str | None = None,
        radius: float = 3.5,
        tips: Sequence[str] = (),
        err_lo: Iterable[float] = (),
        err_hi: Iterable[float] = (),
    ) -> None:
        self.x, self.y = _floats(x), _floats(y)
        self.fills = (color,) * len(self.x) if isinstance(color, str) else tuple(color)
        self.color = self.fills[0] if self.fills else "#000"
        self.strokes, self.label, self.radius = tuple(strokes), label, radius
        self.tips, self.err_lo, self.err_hi = tuple(tips), _floats(err_lo), _floats(err_hi)

    def x_values(self) -> Sequence[float]:
        return self.x

    def y_values(self) -> Sequence[float]:
        return self.y + self.err_lo + self.err_hi

    def _fill(self, i: int) -> str:
        return self.fills[i] if i < len(self.fills) else self.color

    def _error_bar(self, frame: Frame, px: float, i: int) -> list[str]:
        if i >= len(self.err_lo) or i >= len(self.err_hi):
            return []
        plo, phi = frame.y(self.err_lo[i]), frame.y(self.err_hi[i])
        if plo is None or phi is None:
            return []
        return [
            f'<line x1="{_c(px)}" x2="{_c(px)}" y1="{_c(plo)}" y2="{_c(phi)}" '
            f'stroke="{self._fill(i)}" stroke-width="1.2" stroke-opacity="0.7"/>'
        ]

    def draw(self, frame: Frame, occupied: list[tuple[float, float]]) -> list[str]:
        out: list[str] = []
        for i, (x, y) in enumerate(zip(self.x, self.y)):
            px, py = frame.x(x), frame.y(y)
            if px is None or py is None:
                continue
            out += self._error_bar(frame, px, i)
            if i < len(self.strokes):
                stroke = f' stroke="{self.strokes[i]}" stroke-width="2"'
            else:
                stroke = ' stroke="#fff" stroke-width="0.8"'
            out.append(
                f'<circle cx="{_c(px)}" cy="{_c(py)}" r="{self.radius}" '
                f'fill="{self._fill(i)}"{stroke}>{_tip(self.tips, i)}</circle>'
            )
            occupied.append((px, py))
        return out

    def swatch(self, x: float, y: float) -> str:
        return _swatch_dot(x, y, self.color)


class Bars(Series):
    """A histogram: ``counts[i]`` drawn from zero over ``[edges[i], edges[i + 1]]``."""

    from_zero = True

    def __init__(
        self,
        edges: Iterable[float],
        counts: Iterable[float],
        *,
        color: str,
        label: str | None = None,
        opacity: float = 0.55,
    ) -> None:
        self.edges, self.counts = _floats(edges), _floats(counts)
        self.color, self.label, self.opacity = color, label, opacity

    def x_values(self) -> Sequence[float]:
        return self.edges

    def y_values(self) -> Sequence[float]:
        return (*self.counts, 0.0)

    def draw(self, frame: Frame, occupied: list[tuple[float, float]]) -> list[str]:
        bars: list[str] = []
        base = frame.y(max(0.0, frame.y0))
        for i, count in enumerate(self.counts):
            if i + 1 >= len(self.edges) or not count > 0:
                continue
            xa, xb, top = frame.x(self.edges[i]), frame.x(self.edges[i + 1]), frame.y(count)
            if xa is None or xb is None or top is None or base is None:
                continue
            bars.append(
                f'<rect x="{_c(xa)}" y="{_c(top)}" width="{_c(max(xb - xa, 0.5))}" '
                f'height="{_c(max(base - top, 0))}" fill="{self.color}" '
                f'fill-opacity="{self.opacity}"/>'
            )
            occupied.append(((xa + xb) / 2, top))
        return frame.clipped(bars)

    def swatch(self, x: float, y: float) -> str:
        return _swatch_box(x, y, self.color)


class Key:
    """A legend entry that belongs to no series (e.g. what a ring around a point means).

    Args:
        label: legend text.
        color: the sample's colour.
        marker: ``dot`` (filled circle), ``ring``, ``line``, ``dash``, ``box`` or ``none``.
    """

    def __init__(
        self,
        label: str,
        color: str,
        marker: Literal["dot", "ring", "line", "dash", "box", "none"] = "dot",
    ) -> None:
        self.label, self.color, self.marker = label, color, marker

    def swatch(self, x: float, y: float) -> str:
        """The legend sample."""
        if self.marker in ("line", "dash"):
            return _swatch_stroke(x, y, self.color, self.marker == "dash")
        if self.marker == "box":
            return _swatch_box(x, y, self.color)
        if self.marker == "ring":
            return _swatch_dot(x, y, self.color, fill="#fff")
        return _swatch_dot(x, y, self.color) if self.marker == "dot" else ""


# --------------------------------------------------------------------------------------
# The chart
# --------------------------------------------------------------------------------------


class Chart:
    """A titled plot with axes, grid, series and a legend, rendered as one ``<svg>``.

    Args:
        title: the heading, wrapped after hyphens onto up to three lines (cut beyond that;
            the full text stays in aria-label).
        xlabel, ylabel: axis labels.
        width, height: the SVG size in pixels.
        xlog, ylog: the values are log10 of the data; label ticks as powers of ten.
        xlim, ylim: fixed value ranges (default: the data's range, padded by 5%).
            Both are plain attributes and may be set after construction.
        subtitle: smaller text under the title (up to two lines).
        xint: x ticks at integers only (layer indices).
        tooltip: a ``<title>`` for the whole chart.
        legend_right: the legend goes right of the plot area instead of under it.

    The legend is always outside the plot area, so it never hides a plotted point;
    ``width`` x ``height`` is the size with a one-line title and no legend, and more
    title lines or legend rows make the picture taller, never the plot smaller.
    """

    def __init__(
        self,
        title: str,
        xlabel: str,
        ylabel: str,
        *,
        width: int = 380,
        height: int = 250,
        xlog: bool = False,
        ylog: bool = False,
        xlim: tuple[float, float] | None = None,
        ylim: tuple[float, float] | None = None,
        subtitle: str = "",
        xint: bool = False,
        tooltip: str = "",
        legend_right: bool = False,
    ) -> None:
        self.title, self.xlabel, self.ylabel, self.subtitle = title, xlabel, ylabel, subtitle
        self.width, self.height, self.xlog, self.ylog, self.xint = width, height, xlog, ylog, xint
        self.xlim, self.ylim, self.tooltip = xlim, ylim, tooltip
        self.legend_right = legend_right
        self.series: list[Series] = []
        self.keys: list[Key] = []

    def add(self, *series: Series) -> None:
        """Draw ``series`` (in this order, after those already added)."""
        self.series.extend(series)

    def legend(self, label: str, color: str, marker: Literal["dot", "ring"] = "dot") -> None:
        """Add a legend entry that belongs to no series (listed after the series' entries)."""
        self.keys.append(Key(label, color, marker))

    # -- ranges -----------------------------------------------------------------------
    def _range(self, axis: Literal["x", "y"]) -> tuple[float, float]:
        fixed = self.xlim if axis == "x" else self.ylim
        if fixed is not None:
            return fixed
        vals = [v for s in self.series for v in (s.x_values() if axis == "x" else s.y_values())]
        finite = [v for v in vals if math.isfinite(v)]
        if not finite:
            return (0.0, 1.0)
        lo, hi = min(finite), max(finite)
        if hi - lo < 1e-12:
            log = self.xlog if axis == "x" else self.ylog
            pad = 0.5 if log else (abs(lo) * 0.1 or 0.5)
            return lo - pad, hi + pad
        from_zero = any(s.from_zero for s in self.series)
        if axis == "x" and from_zero:
            return lo, hi
        pad = (hi - lo) * 0.05
        return (lo if from_zero and lo == 0 else lo - pad), hi + pad

    # -- legend -----------------------------------------------------------------------
    def _legend_entries(self) -> list[tuple[str, Series | Key]]:
        entries: list[tuple[str, Series | Key]] = [(s.label, s) for s in self.series if s.label]
        entries += [(k.label, k) for k in self.keys]
        more = len(entries) - _LEGEND_ROWS
        if more > 0:
            entries = [*entries[:_LEGEND_ROWS], (f"+{more} more", Key("", "#999", "none"))]
        cut = _LEGEND_CHARS
        return [(lab if len(lab) <= cut else lab[: cut - 1] + "…", e) for lab, e in entries]

    def _legend_size(self) -> tuple[float, float]:
        """The right-hand legend's box (``legend_right``)."""
        entries = self._legend_entries()
        if not entries:
            return 0.0, 0.0
        return 26 + _CHAR_PX * max(len(lab) for lab, _ in entries), 6 + 13 * len(entries)

    def _legend_rows(self, width: float) -> list[list[tuple[float, str, Series | Key]]]:
        """The legend under the plot: entries flowing left to right, wrapped at ``width``."""
        rows: list[list[tuple[float, str, Series | Key]]] = []
        x = width
        for label, entry in self._legend_entries():
            w = 26 + _CHAR_PX * len(label)
            if not rows or x + w > width:
                rows.append([])
                x = 0.0
            rows[-1].append((x, label, entry))
            x += w + 8
        return rows

    def _legend(self, frame: Frame, bottom_space: float) -> list[str]:
        """Right of the plot area (``legend_right``) or under the axis label: outside the
        plot area either way, so it never covers a plotted point."""
        entries = self._legend_entries()
        if not entries:
            return []
        if self.legend_right:
            bw, bh = self._legend_size()
            bx, by = frame.left + frame.width + 8.0, float(frame.top)
            out = [
                f'<g class="lg"><rect x="{_c(bx)}" y="{_c(by)}" width="{_c(bw)}" '
                f'height="{bh}" rx="3"/>'
            ]
            for i, (label, entry) in enumerate(entries):
                yy = by + 11 + 13 * i
                out.append(entry.swatch(bx, yy))
                out.append(f'<text x="{_c(bx + 23)}" y="{_c(yy)}">{_esc(label)}</text>')
            out.append("</g>")
            return out
        rows = self._legend_rows(self.width - 16)
        top = bottom_space
        out = [
            f'<g class="lg"><rect x="4" y="{_c(top)}" width="{self.width - 8}" '
            f'height="{6 + 13 * len(rows)}" rx="3"/>'
        ]
        for r, row in enumerate(rows):
            yy = top + 11 + 13 * r
            for x, label, entry in row:
                out.append(entry.swatch(8 + x, yy))
                out.append(f'<text x="{_c(8 + x + 23)}" y="{_c(yy)}">{_esc(label)}</text>')
        out.append("</g>")
        return out

    def _legend_height(self) -> int:
        """Height added under the axes for the legend (none for ``legend_right``)."""
        if self.legend_right or not self._legend_entries():
            return 0
        return 10 + 13 * len(self._legend_rows(self.width - 16))

    # -- rendering --------------------------------------------------------------------
    def _title_lines(self) -> tuple[list[str], list[str]]:
        """The title and subtitle, wrapped to the chart's width (never cut mid-label unless
        a title needs more than three lines)."""
        chars = int((self.width - 16) / _TITLE_CHAR_PX)
        title = wrap(self.title, chars, _TITLE_LINES)
        sub = wrap(self.subtitle, int((self.width - 16) / 6.0), _SUBTITLE_LINES)
        return title, sub

    def _frame(self, clip_id: str) -> Frame:
        """The plot area: ``width`` x ``height`` minus the margins of a one-line title; more
        title lines and the legend make the picture taller, not the plot smaller."""
        left, right, bottom = 58, 12, 38
        title, sub = self._title_lines()
        top = 30 + (14 if self.subtitle else 0)
        height = self.height - top - bottom
        top = 16 * len(title) + 13 * len(sub) + 6
        width = self.width - left - right
        if self.legend_right:
            width -= int(self._legend_size()[0]) + 8
        return Frame(left, top, width, height, self._range("x"), self._range("y"), clip_id)

    def _total_height(self, frame: Frame) -> int:
        return frame.top + frame.height + 38 + self._legend_height()

    def _head(self, frame: Frame) -> list[str]:
        aria = self.title + (f" — {self.subtitle}" if self.subtitle else "")
        total = self._total_height(frame)
        out = [
            f'<svg class="chart" width="{self.width}" height="{total}" '
            f'viewBox="0 0 {self.width} {total}" role="img" aria-label="{_esc(aria)}">'
        ]
        if self.tooltip:
            out.append(f"<title>{_esc(self.tooltip)}</title>")
        title, sub = self._title_lines()
        spans = "".join(
            f'<tspan x="8" y="{16 * (i + 1)}">{_esc(line)}</tspan>' for i, line in enumerate(title)
        )
        out.append(f'<text class="t">{spans}</text>')
        if sub:
            y0 = 16 * len(title)
            spans = "".join(
                f'<tspan x="8" y="{y0 + 13 * (i + 1)}">{_esc(line)}</tspan>'
                for i, line in enumerate(sub)
            )
            out.append(f'<text class="st">{spans}</text>')
        out.append(
            f'<rect class="pa" x="{frame.left}" y="{frame.top}" width="{frame.width}" '
            f'height="{frame.height}"/>'
        )
        return out

    def _axes(self, f: Frame) -> list[str]:
        out: list[str] = []
        right, bottom = f.left + f.width, f.top + f.height
        for v, lab in _axis_ticks(f.y0, f.y1, self.ylog, 5):
            py = f.y(v)
            if py is None or not (f.y0 - 1e-9 <= v <= f.y1 + 1e-9):
                continue
            out.append(f'<line class="g" x1="{f.left}" x2="{right}" y1="{_c(py)}" y2="{_c(py)}"/>')
            out.append(f'<text class="yt" x="{f.left - 4}" y="{_c(py + 3.5)}">{_esc(lab)}</text>')
        target = max(2, f.width // 70)
        for v, lab in _axis_ticks(f.x0, f.x1, self.xlog, target, integer=self.xint):
            px = f.x(v)
            if px is None or not (f.x0 - 1e-9 <= v <= f.x1 + 1e-9):
                continue
            out.append(f'<line class="g" x1="{_c(px)}" x2="{_c(px)}" y1="{f.top}" y2="{bottom}"/>')
            out.append(f'<text class="xt" x="{_c(px)}" y="{bottom + 13}">{_esc(lab)}</text>')
        mid = _c(f.left + f.width / 2)
        out.append(f'<text class="xl" x="{mid}" y="{bottom + 32}">{_esc(self.xlabel)}</text>')
        cy = _c(f.top + f.height / 2)
        out.append(
            f'<text class="yl" x="12" y="{cy}" transform="rotate(-90 12 {cy})">'
            f"{_esc(self.ylabel)}</text>"
        )
        return out

    def render(self, clip_id: str = "clip") -> str:
        """The chart as one ``<svg>`` element.

        Args:
            clip_id: the id of the plot area's ``<clipPath>``; it must be unique in the
                page (:meth:`gradbench.report.page.Page.draw` numbers them).
        """
        frame = self._frame(clip_id)
        out = self._head(frame) + self._axes(frame)
        out.append(
            f'<clipPath id="{_esc(clip_id)}"><rect x="{frame.left}" y="{frame.top}" '
            f'width="{frame.width}" height="{frame.height}"/></clipPath>'
        )
        occupied: list[tuple[float, float]] = []
        for s in self.series:
            out.extend(s.draw(frame, occupied))
        out.extend(self._legend(frame, frame.top + frame.height + 40))
        out.append("</svg>")
        return "".join(out)
