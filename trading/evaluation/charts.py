"""The experts' scores per bidder as a picture (评分分布图): one row per bidder, a dot for each
expert's total on a common scale, the average (the bidder's factor score, ``scoring``) marked.

A reader sees at once what fifteen rows of figures hide: how far the experts agree on each bid, who
stands apart, and how close the bids are. The figure is laid out once as plain shapes (``layout``)
and drawn from that either as SVG for the pages (``svg``) or as a reportlab drawing for the
evaluation report PDF (``drawing``), so the two never disagree. Every text in it (bidder and expert
names come from participants) is escaped in the SVG, and is a plain string in the PDF, cleaned as
every PDF text is (``pdf.plain_text``: middle dots the font has, no lone surrogates).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from trading.core import charts as drawn
from trading.core.charts import FONT as FONT
from trading.core.charts import GRID as GRID
from trading.core.charts import Anchor as Anchor
from trading.core.charts import Dot as Dot
from trading.core.charts import Figure as Figure
from trading.core.charts import Stroke as Stroke
from trading.core.charts import Text as Text
from trading.core.charts import clip as clip
from trading.core.charts import drawing as drawing
from trading.core.charts import text_width as text_width
from trading.evaluation.scoring import q2

#: Each expert keeps a colour (and a lane) across all bidders, so one expert can be followed.
PALETTE = ("#1d4ed8", "#047857", "#b45309", "#7c3aed", "#0e7490", "#4d7c0f", "#334155", "#92400e", "#4338ca")
MEAN_COLOUR = "#b91c1c"
WIDTH = 360  # viewBox units; the page shows it in a card (at most 488 px wide), a phone at about 330 px
LANE = 6  # vertical distance between two experts' dots in a row, so equal totals do not hide
PAD = 12


@dataclass(frozen=True)
class Mark:
    """One expert's total for one bidder; keys tell bidders (and experts) apart, labels are shown.
    ``bidder_note`` (the credit code) is shown after the name only where two bidders share a name
    (``notes``): organisation names are not unique, credit codes are."""

    bidder_key: str
    bidder: str
    expert_key: str
    expert: str
    total: Decimal
    bidder_note: str = ""


@dataclass(frozen=True)
class Row:
    """A bidder's row: its experts' totals (expert key → total) and their average."""

    key: str
    name: str
    totals: dict[str, Decimal]
    mean: Decimal
    note: str = ""

    @property
    def label(self) -> str:
        return named(self.name, self.note)


def named(name: str, note: str) -> str:
    """A bidder's name as shown, with its note (credit code) where it needs one."""
    return f"{name}（{note}）" if note else name


def notes(bidders: Iterable[tuple[str, str, str | None]]) -> dict[str, str]:
    """key → what to show after the name of each (key, name, credit code): the credit code where
    another bidder has the same name (the key itself if no code is known), else nothing. Two keys
    with one credit code are one bidder (a report signed before entries carried ids names it by
    name in one list and by id in another)."""
    listed = list(bidders)
    firms: dict[str, set[str]] = {}
    for key, name, code in listed:
        firms.setdefault(name.strip(), set()).add(code or key)
    return {key: (code or f"编号 {key}") if len(firms[name.strip()]) > 1 else "" for key, name, code in listed}


def rows(marks: Iterable[Mark]) -> list[Row]:
    """The bidders in order of first appearance, each with the mean of its experts' totals
    (two places, ROUND_HALF_UP: the factor score ``scoring.mean_factor_totals`` ranks by)."""
    names: dict[str, tuple[str, str]] = {}
    totals: dict[str, dict[str, Decimal]] = {}
    for m in marks:
        names.setdefault(m.bidder_key, (m.bidder, m.bidder_note))
        totals.setdefault(m.bidder_key, {})[m.expert_key] = m.total
    out = []
    for key, t in totals.items():
        name, note = names[key]
        out.append(Row(key, name, t, q2(sum(t.values(), Decimal(0)) / len(t)), note))
    return out


def experts(marks: Iterable[Mark]) -> list[tuple[str, str]]:
    """(key, label) of each expert, in order of first appearance: one lane and colour each."""
    seen: dict[str, str] = {}
    for m in marks:
        seen.setdefault(m.expert_key, m.expert)
    return list(seen.items())


def scale(values: Iterable[Decimal]) -> tuple[int, int, int]:
    """(low, high, step) of the axis: whole tens around the totals within 0–100, so that close
    totals are told apart; a tick every 10 points (every 5 on a span of 20 or less)."""
    vs = [float(v) for v in values] or [0.0]
    low = max(0, math.floor((min(vs) - 1) / 10) * 10)
    high = min(100, math.ceil((max(vs) + 1) / 10) * 10)
    if high <= low:
        low, high = max(0, high - 10), max(high, 10)
    return low, high, 5 if high - low <= 20 else 10


# ---------------------------------------------------------------- the figure as plain shapes
# (the shapes, ``svg`` and ``drawing`` are trading.core.charts', shared with the supervision's charts)


def layout(marks: Sequence[Mark]) -> Figure | None:
    """The figure of ``marks`` (None without any): the axis on top, one row per bidder (its name
    and average above a track with one dot per expert in the expert's lane, the average a red
    bar across the lanes), the legend below."""
    if not marks:
        return None
    bidders, lanes = rows(marks), experts(marks)
    low, high, step = scale(m.total for m in marks)
    left, right = PAD, WIDTH - PAD

    def x(v: Decimal | float) -> float:
        return left + (float(v) - low) / (high - low) * (right - left)

    fig = Figure(
        WIDTH,
        0,
        "各专家评分分布",
        "；".join(f"{r.label}：平均 {r.mean}" for r in bidders),
    )
    add = fig.shapes.append
    y: float = FONT + 4
    for tick in range(low, high + 1, step):
        anchor: Anchor = "start" if tick == low else "end" if tick == high else "middle"
        add(Text(x(tick), y, str(tick), FONT - 2, anchor, "#6b7280"))
    y += 6
    top = y
    band = max(len(lanes) - 1, 1) * LANE
    for r in bidders:
        mean_label = f"平均 {r.mean}"
        room = right - left - text_width(mean_label, FONT) - FONT
        note = named("", r.note)  # kept whole when the name is cut: it is what tells two rows apart
        add(Text(left, y + FONT + 4, clip(r.name, FONT, room - text_width(note, FONT)) + note))
        add(Text(right, y + FONT + 4, mean_label, FONT, "end", MEAN_COLOUR))
        mid = y + FONT + 12 + band / 2 + 5
        add(Stroke(left, mid, right, mid, "#e5e7eb", 1))
        first = mid - band / 2 if len(lanes) > 1 else mid
        for i, (key, label) in enumerate(lanes):
            if key in r.totals:
                v = r.totals[key]
                add(Dot(x(v), first + i * LANE, PALETTE[i % len(PALETTE)], f"{label}：{r.label} {v} 分"))
        add(Stroke(x(r.mean), mid - band / 2 - 6, x(r.mean), mid + band / 2 + 6, MEAN_COLOUR, 2.5))
        y = mid + band / 2 + 12
    for tick in range(low, high + 1, step):  # the grid first: the dots are drawn over it
        fig.shapes.insert(0, Stroke(x(tick), top, x(tick), y, GRID, 0.6))
    y += 6
    cx: float = left
    line = y + FONT
    items = [(PALETTE[i % len(PALETTE)], label) for i, (_k, label) in enumerate(lanes)]
    for colour, label in [*items, (MEAN_COLOUR, "平均分")]:
        label = clip(label, FONT - 1, right - left - 16)
        w = 16 + text_width(label, FONT - 1) + 14
        if cx + w > right and cx > left:
            cx, line = left, line + FONT + 8
        if colour == MEAN_COLOUR:
            add(Stroke(cx + 5, line - FONT + 3, cx + 5, line + 1, MEAN_COLOUR, 2.5))
        else:
            add(Dot(cx + 5, line - FONT / 2 + 2, colour, label))
        add(Text(cx + 14, line, label, FONT - 1))
        cx += w
    fig.height = line + 8
    return fig


# ---------------------------------------------------------------- SVG for the pages
def svg(fig: Figure | None, element_id: str = "score-chart") -> Markup:
    """The figure as an inline ``<svg class="chart">`` (empty without a figure); every text escaped."""
    return drawn.svg(fig, element_id)


# ---------------------------------------------------------------- where the marks come from
def room_marks(state: dict[str, Any]) -> list[Mark]:
    """The marks of the room's state (``room_state.room_json``): only the sheets its viewer may see,
    bidders and experts in the room's order, each total the sum of the factor scores."""
    names = {s["expert"]: s["name"] for s in state["seats"]}
    order = {s["expert"]: i for i, s in enumerate(state["seats"])}
    bidders = {b["id"]: (i, b["name"]) for i, b in enumerate(state["bidders"])}
    note = notes((str(b["id"]), b["name"], b.get("credit_code")) for b in state["bidders"])
    sheets = sorted(
        (s for s in state["sheets"] if s["bidder"] in bidders),
        key=lambda s: (bidders[s["bidder"]][0], order.get(s["expert"], len(order)), s["expert"]),
    )
    return [
        Mark(
            str(s["bidder"]),
            bidders[s["bidder"]][1],
            str(s["expert"]),
            names.get(s["expert"], f"专家 {s['expert']}"),
            Decimal(s.get("factor_total") or s["total"]),
            note[str(s["bidder"])],
        )
        for s in sheets
    ]


def bidder_key(entry: dict[str, Any]) -> str:
    """Which bidder an entry of an evaluation report is about: its id (reports signed before the
    entries carried one name the bidder only, and are keyed by that name)."""
    if entry.get("bidder_id") is not None:
        return str(entry["bidder_id"])
    return str(entry.get("bidder") or "")


def report_bidders(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """key (``bidder_key``) → (name, note) of every bidder the report names, the note being the
    credit code where two bidders share a name."""
    seen: dict[str, tuple[str, str | None]] = {}
    for entry in [*report.get("compliance", ()), *report["ranking"]]:
        seen.setdefault(bidder_key(entry), (str(entry["bidder"]), entry.get("credit_code")))
    note = notes((key, name, code) for key, (name, code) in seen.items())
    return {key: (name, note[key]) for key, (name, _code) in seen.items()}


def report_marks(report: dict[str, Any]) -> list[Mark]:
    """The marks of an evaluation report (``report.build_report``): bidders in ranking order, told
    apart by id (two bidders may share a name)."""
    names = {c["expert"]: c["name"] for c in report["committee"]}
    order = {c["expert"]: i for i, c in enumerate(report["committee"])}
    bidders = report_bidders(report)
    rank: dict[str, int] = {}
    for i, x in enumerate(report["ranking"]):
        rank.setdefault(bidder_key(x), i)
        rank.setdefault(str(x["bidder"]), i)  # how the scores of an older report name it
    sheets = sorted(
        report["scores"],
        key=lambda s: (rank.get(bidder_key(s), len(rank)), order.get(s["expert"], len(order)), s["expert"]),
    )
    marks = []
    for s in sheets:
        name, note = bidders.get(bidder_key(s), (str(s["bidder"]), ""))
        expert = names.get(s["expert"], f"专家 {s['expert']}")
        marks.append(Mark(bidder_key(s), name, str(s["expert"]), expert, Decimal(s["total"]), note))
    return marks
