"""Charts drawn on the server (no script, no CDN): a figure is laid out once as plain shapes and
drawn from them either as inline SVG for the pages (``svg``) or as a reportlab drawing for a PDF
(``drawing``), so the two never disagree.

The evaluation lays out its own score distribution from these shapes; the bar and line charts at
the end (``bar_chart``, ``line_chart``) serve the supervision's statistics and the ratings' page. Every text is escaped in the SVG, and in the PDF is a plain
string cleaned as every PDF text is (``pdf.plain_text``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from markupsafe import Markup, escape
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib.colors import Color, HexColor

from trading.core import pdf

GRID = "#d1d5db"
FONT = 13
INK = "#1f2328"

Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # the baseline
    text: str
    size: float = FONT
    anchor: Anchor = "start"
    fill: str = INK


@dataclass(frozen=True)
class Stroke:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str = GRID
    width: float = 1


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    colour: str
    title: str
    r: float = 4.5


@dataclass(frozen=True)
class Bar:
    """A filled rectangle (a bar of a bar chart) with its tooltip."""

    x: float
    y: float  # the top
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Polyline:
    """A line through points (a series of a line chart)."""

    points: tuple[tuple[float, float], ...]
    colour: str
    width: float = 2


Shape = Text | Stroke | Dot | Bar | Polyline


@dataclass
class Figure:
    width: float
    height: float
    title: str
    summary: str
    shapes: list[Shape] = field(default_factory=list)


def text_width(text: str, size: float) -> float:
    """An estimate that errs wide: a CJK character is one em, anything else about 0.6 em."""
    return sum(size if ord(c) > 0x2E7F else size * 0.6 for c in text)


def clip(text: str, size: float, room: float) -> str:
    """``text`` cut with … to fit ``room`` (the full text stays in the shapes' titles)."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


# ---------------------------------------------------------------- SVG for the pages
def number(v: float) -> str:
    """A coordinate as SVG writes it: one decimal at most, no trailing zeros."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def svg(fig: Figure | None, element_id: str = "chart") -> Markup:
    """The figure as an inline ``<svg class="chart">`` (empty without a figure); every text escaped."""
    if fig is None:
        return Markup("")
    n, eid = number, escape(element_id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{eid}" role="img" '
        f'viewBox="0 0 {n(fig.width)} {n(fig.height)}" aria-labelledby="{eid}-title '
        f'{eid}-desc" font-size="{FONT}">',
        f'<title id="{eid}-title">{escape(fig.title)}</title>',
        f'<desc id="{eid}-desc">{escape(fig.summary)}</desc>',
    ]
    for s in fig.shapes:
        if isinstance(s, Text):
            out.append(
                f'<text x="{n(s.x)}" y="{n(s.y)}" font-size="{n(s.size)}" text-anchor="{s.anchor}" '
                f'fill="{escape(s.fill)}">{escape(s.text)}</text>'
            )
        elif isinstance(s, Stroke):
            out.append(
                f'<line x1="{n(s.x1)}" y1="{n(s.y1)}" x2="{n(s.x2)}" y2="{n(s.y2)}" '
                f'stroke="{escape(s.colour)}" stroke-width="{n(s.width)}"/>'
            )
        elif isinstance(s, Dot):
            out.append(
                f'<circle cx="{n(s.x)}" cy="{n(s.y)}" r="{n(s.r)}" fill="{escape(s.colour)}" '
                f'fill-opacity="0.85"><title>{escape(s.title)}</title></circle>'
            )
        elif isinstance(s, Bar):
            out.append(
                f'<rect class="bar" x="{n(s.x)}" y="{n(s.y)}" width="{n(s.width)}" height="{n(s.height)}" '
                f'fill="{escape(s.colour)}"><title>{escape(s.title)}</title></rect>'
            )
        else:
            points = " ".join(f"{n(x)},{n(y)}" for x, y in s.points)
            out.append(
                f'<polyline class="series" points="{points}" fill="none" stroke="{escape(s.colour)}" '
                f'stroke-width="{n(s.width)}"/>'
            )
    out.append("</svg>")
    return Markup("".join(out))


# ---------------------------------------------------------------- reportlab for the PDF
def drawing(fig: Figure, width_pt: float) -> Drawing:
    """The figure scaled to ``width_pt`` as a reportlab flowable (y grows upwards there)."""
    k = width_pt / fig.width
    d = Drawing(width_pt, fig.height * k)
    g = Group(transform=(k, 0, 0, k, 0, 0))
    h = fig.height
    font = pdf.font()
    for s in fig.shapes:
        if isinstance(s, Text):
            g.add(
                String(
                    s.x,
                    h - s.y,
                    one_line(s.text),
                    fontName=font,
                    fontSize=s.size,
                    textAnchor=s.anchor,
                    fillColor=colour(s.fill),
                )
            )
        elif isinstance(s, Stroke):
            g.add(Line(s.x1, h - s.y1, s.x2, h - s.y2, strokeColor=colour(s.colour), strokeWidth=s.width))
        elif isinstance(s, Dot):
            g.add(Circle(s.x, h - s.y, s.r, fillColor=colour(s.colour), strokeColor=None))
        elif isinstance(s, Bar):
            box = Rect(s.x, h - s.y - s.height, s.width, s.height)
            box.fillColor, box.strokeColor = colour(s.colour), None
            g.add(box)
        else:
            flat: list[float] = [c for x, y in s.points for c in (x, h - y)]
            g.add(PolyLine(flat, strokeColor=colour(s.colour), strokeWidth=s.width))
    d.add(g)
    return d


def one_line(text: str) -> str:
    """What a drawing's string shows: cleaned as every PDF text (``pdf.plain_text``), on one line
    (a ``String`` draws a line break as a gap, not a new line)."""
    return " ".join(pdf.plain_text(text).splitlines())


def colour(hex_colour: str) -> Color:
    return HexColor(hex_colour)


# ---------------------------------------------------------------- bar and line charts
WIDTH = 640
PAD = 12
BAR = 18  # a bar's height
GAP = 8
COLOURS = ("#1d4ed8", "#047857", "#b45309")
MUTED = "#6b7280"


@dataclass(frozen=True)
class Point:
    """One group's value: its label on the axis, the value, and how the value is shown."""

    label: str
    value: Decimal
    shown: str


def nice_top(value: float) -> float:
    """The axis' end: the value rounded up to 1, 2 or 5 × a power of ten (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def bar_chart(title: str, points: Sequence[Point], colour: str = COLOURS[0]) -> Figure | None:
    """One bar per point, its label on the left and its value at the bar's end (None without points)."""
    if not points:
        return None
    label_room = min(max(text_width(p.label, FONT) for p in points) + 8, WIDTH * 0.35)
    value_room = max(text_width(p.shown, FONT - 1) for p in points) + 8
    left, right = PAD + label_room, WIDTH - PAD - value_room
    top_value = nice_top(max(float(p.value) for p in points))
    fig = Figure(WIDTH, 0, title, "；".join(f"{p.label}：{p.shown}" for p in points))
    y: float = PAD
    for p in points:
        fig.shapes.append(Text(PAD, y + BAR - 4, clip(p.label, FONT, label_room - 8)))
        w = max(float(p.value), 0.0) / top_value * (right - left)
        fig.shapes.append(Bar(left, y, max(w, 1.0), BAR, colour, f"{p.label}：{p.shown}"))
        fig.shapes.append(Text(left + w + 4, y + BAR - 4, p.shown, FONT - 1, "start", MUTED))
        y += BAR + GAP
    fig.shapes.insert(0, Stroke(left, PAD - 4, left, y, GRID, 1))
    fig.height = y + PAD - GAP
    return fig


def line_chart(title: str, points: Sequence[Point], colour: str = COLOURS[0]) -> Figure | None:
    """The points left to right joined by a line, a dot on each (its value in the dot's title), the
    axis' top value and every label below (None without points)."""
    if not points:
        return None
    height = 220
    left, right, top, bottom = PAD + 64, WIDTH - PAD - 8, PAD + 8, height - 40
    top_value = nice_top(max(float(p.value) for p in points))
    fig = Figure(WIDTH, height, title, "；".join(f"{p.label}：{p.shown}" for p in points))
    for frac in (0, 0.5, 1):
        y = bottom - frac * (bottom - top)
        fig.shapes.append(Stroke(left, y, right, y, GRID, 0.6))
        shown = f"{top_value * frac:,.0f}" if top_value >= 10 else f"{top_value * frac:.2f}"
        fig.shapes.append(Text(left - 6, y + 4, shown, FONT - 2, "end", MUTED))
    step = (right - left) / max(len(points) - 1, 1)
    xy: list[tuple[float, float]] = []
    for i, p in enumerate(points):
        x = left + i * step if len(points) > 1 else (left + right) / 2
        y = bottom - max(float(p.value), 0.0) / top_value * (bottom - top)
        xy.append((x, y))
    fig.shapes.append(Polyline(tuple(xy), colour))
    every = max(1, math.ceil(len(points) * 56 / (right - left)))  # labels that would overlap are skipped
    for i, (p, (x, y)) in enumerate(zip(points, xy, strict=True)):
        fig.shapes.append(Dot(x, y, colour, f"{p.label}：{p.shown}", 3.5))
        if i % every == 0:
            fig.shapes.append(Text(x, bottom + 18, clip(p.label, FONT - 2, 56 * every), FONT - 2, "middle", MUTED))
    return fig
