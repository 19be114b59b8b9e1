"""The statistics' charts, drawn on the server as SVG (``trading.core.charts``: the same shapes and
renderer as the evaluation's score chart): a horizontal bar chart for a dimension's groups, and a
line chart for the months. Labels come from data (region and procedure names, a generated
history's keys) and are escaped by the renderer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.core.charts import FONT, GRID, Bar, Dot, Figure, Polyline, Stroke, Text, clip, text_width

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
