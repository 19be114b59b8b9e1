"""The tender timeline (项目进度): which steps a lot goes through, when, and where "now" is, drawn
as SVG on the server (no script, no CDN).

The steps follow the law's order: 发布 (招标公告, 招标投标法第十六条) → 投标截止/开标 (the same
instant, 第三十四条) → 评标 (第三十七条) → 公示 (实施条例第五十四条) → 定标 (第四十五条). A lot that
fails (流标, 第二十八条、第四十二条) or is terminated (终止, 实施条例第三十一条) gets that end as a step
of its own where it happened, and the steps it will never reach are marked 未进行.

``lot_steps`` is the rule (pure: it reads the tender and the lot, and the instants later stages
know, ``LotFacts``); ``draw`` turns steps into markup, every text escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from markupsafe import Markup, escape

from archive import clock
from trading.tenders.lifecycle import failure_title
from trading.tenders.models import AnnouncementKind, Lot, LotState, Tender, TenderState

STEP_NAMES = ("发布", "投标截止/开标", "评标", "公示", "定标")


class StepState(StrEnum):
    DONE = "done"  # 已完成
    CURRENT = "current"  # 进行中
    TODO = "todo"  # 未到
    SKIPPED = "skipped"  # 不会进行 (the lot ended before it)
    ENDED = "ended"  # the lot's end: 流标 or 终止


@dataclass(frozen=True)
class LotFacts:
    """Instants the later stages know about one lot (the opening, the evaluation, the awards)."""

    evaluation_at: dt.datetime | None = None  # the opening closed, the committee's work began
    publicity_at: dt.datetime | None = None  # 中标候选人公示 published
    publicity_ends_at: dt.datetime | None = None
    awarded_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None  # 流标 (its announcement)


@dataclass(frozen=True)
class Step:
    name: str
    state: StepState
    at: dt.datetime | None  # actual once done or under way, planned (or estimated) before
    tag: str  # 已完成 / 进行中 / 计划 / 预计 / 待定 / 未进行 / 已结束
    note: str = ""  # shown where a step has no time yet
    detail: str = ""  # a second line (the end of the publicity)


def _reached(tender: Tender, lot: Lot, facts: LotFacts, now: dt.datetime) -> int:
    """How many of the five steps have begun."""
    if lot.status is LotState.AWARDED:
        return 5
    if lot.status is LotState.PUBLICITY:
        return 4
    if lot.status is LotState.EVALUATING or facts.evaluation_at is not None:
        return 3
    if tender.docs_issued_at is None:
        return 0
    after_deadline = lot.status in (LotState.OPENING, LotState.FAILED) or (
        tender.status in (TenderState.PUBLISHED, TenderState.BIDDING_CLOSED) and tender.deadline_passed(now)
    )
    return 2 if after_deadline else 1


def _ending(tender: Tender, lot: Lot, facts: LotFacts) -> tuple[str, dt.datetime | None] | None:
    if lot.status is LotState.FAILED:
        return "流标", facts.failed_at
    if lot.status is LotState.TERMINATED or tender.status is TenderState.TERMINATED:
        return "终止", tender.updated_at
    return None


def _planned(index: int, tender: Tender, facts: LotFacts, opening_minutes: int) -> tuple[dt.datetime | None, str, str]:
    """(time, tag, note) of a step not begun yet."""
    if index == 0:
        note = "待交易中心审核发布" if tender.status is TenderState.SUBMITTED else "草稿，待提交审核"
        return None, "待定", note
    if index == 1:
        if tender.status is TenderState.SUSPENDED:
            return None, "暂停", "项目暂停，恢复时重新确定"
        return tender.bid_deadline, "计划", ""
    if index == 2:
        return _later(tender.bid_deadline, opening_minutes), "预计", ""
    if index == 3:
        return None, "待定", "评标结束后"
    if facts.publicity_ends_at is not None:
        return facts.publicity_ends_at, "预计", ""
    return None, "待定", "公示期满后"


def _later(at: dt.datetime, minutes: int) -> dt.datetime | None:
    """``minutes`` after ``at``; None past the last instant ``datetime`` holds (a deadline stored
    before requests were bounded, ``schemas.instant``): the page shows no time rather than a 500."""
    try:
        return at + dt.timedelta(minutes=minutes)
    except OverflowError:
        return None


def _actual(index: int, tender: Tender, facts: LotFacts) -> dt.datetime | None:
    return (tender.docs_issued_at, tender.bid_deadline, facts.evaluation_at, facts.publicity_at, facts.awarded_at)[
        index
    ]


def lot_steps(tender: Tender, lot: Lot, facts: LotFacts, now: dt.datetime, opening_minutes: int = 0) -> list[Step]:
    """The steps of one lot, in order, each done, under way, to come, or never to come.

    ``opening_minutes`` is how long the opening takes after the deadline (the procedure's sign-in,
    decryption and confirmation windows): the committee's estimated start."""
    reached = _reached(tender, lot, facts, now)
    ending = _ending(tender, lot, facts)
    steps: list[Step] = []
    for index, name in enumerate(STEP_NAMES):
        if index < reached:
            # 发布 and 定标 are instants; the deadline's step lasts while the opening runs, the
            # evaluation's and the publicity's while the lot is in them
            running = {1: LotState.OPENING, 2: LotState.EVALUATING, 3: LotState.PUBLICITY}.get(index)
            under_way = index == reached - 1 and running is lot.status
            state = StepState.CURRENT if under_way else StepState.DONE
            detail = ""
            if index == 3 and facts.publicity_ends_at is not None:
                detail = "公示期至 " + _time(facts.publicity_ends_at)
            steps.append(
                Step(name, state, _actual(index, tender, facts), "进行中" if under_way else "已完成", "", detail)
            )
            continue
        if ending is not None:
            if len(steps) == reached:
                steps.append(Step(ending[0], StepState.ENDED, ending[1], "已结束", "" if ending[1] else "见公告"))
            steps.append(Step(name, StepState.SKIPPED, None, "未进行"))
            continue
        at, tag, note = _planned(index, tender, facts, opening_minutes)
        steps.append(Step(name, StepState.TODO, at, tag, note))
    return steps


def now_index(steps: Sequence[Step]) -> int:
    """Where "now" falls: after the last step that has begun (0: before the first)."""
    begun = [i for i, s in enumerate(steps) if s.state in (StepState.DONE, StepState.CURRENT, StepState.ENDED)]
    return begun[-1] + 1 if begun else 0


# ---------------------------------------------------------------- drawing
WIDTH = 360
ROW = 40  # one step
DETAIL = 18  # its second line
NOW_BAND = 26  # the "now" marker's own band, so it never overlaps a step's text
TOP = 14
COLOURS = {
    StepState.DONE: ("#047857", "#047857"),  # (circle fill, text)
    StepState.CURRENT: ("#b91c1c", "#b91c1c"),
    StepState.TODO: ("#ffffff", "#1f2328"),
    StepState.SKIPPED: ("#e5e7eb", "#9ca3af"),
    StepState.ENDED: ("#6b7280", "#6b7280"),
}


def _time(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    try:
        return clock.local(at).strftime("%Y-%m-%d %H:%M")
    except OverflowError:  # Beijing time of an instant within hours of year 9999's end
        return "时间超出范围"


def draw(steps: Sequence[Step], now: dt.datetime, caption: str) -> Markup:
    """The steps as a vertical SVG timeline, ``caption`` its accessible name (user text: escaped).

    Vertical so that a phone (390 px) shows it at full size: ``width="100%"`` with the drawing's own
    height, so on a wide page it keeps its natural size at the left instead of growing."""
    marker = now_index(steps)
    parts: list[str] = []
    y = TOP
    centres: list[float] = []
    now_y: float | None = None
    for index, step in enumerate(steps):
        if index == marker:
            now_y, y = y + NOW_BAND / 2 - 4, y + NOW_BAND
        fill, ink = COLOURS[step.state]
        cy = y + 10
        centres.append(cy)
        weight = ' font-weight="bold"' if step.state is StepState.CURRENT else ""
        parts.append(
            f'<circle cx="16" cy="{cy}" r="7" fill="{fill}" stroke="{ink}" stroke-width="2"/>'
            f'<text x="34" y="{cy + 5}" font-size="15" fill="{ink}"{weight}>{escape(step.name)}</text>'
            f'<text x="150" y="{cy + 5}" font-size="13" fill="{ink}">{escape(_time(step.at) or step.note)}</text>'
            f'<text x="{WIDTH - 4}" y="{cy + 5}" font-size="13" fill="{ink}" text-anchor="end">{escape(step.tag)}</text>'
        )
        if step.state is StepState.ENDED:
            parts.append(
                f'<path d="M11 {cy - 5} L21 {cy + 5} M21 {cy - 5} L11 {cy + 5}" stroke="#ffffff" stroke-width="2"/>'
            )
        if step.detail:
            parts.append(
                f'<text x="150" y="{cy + 5 + DETAIL}" font-size="12" fill="#6b7280">{escape(step.detail)}</text>'
            )
            y += DETAIL
        y += ROW
    if marker == len(steps):
        now_y, y = y + NOW_BAND / 2 - 4, y + NOW_BAND
    lines: list[str] = []
    for index in range(len(centres) - 1):
        upcoming = steps[index + 1].state in (StepState.TODO, StepState.SKIPPED)
        dash = ' stroke-dasharray="4 4"' if upcoming else ""
        lines.append(
            f'<line x1="16" y1="{centres[index] + 7}" x2="16" y2="{centres[index + 1] - 7}" '
            f'stroke="#9ca3af" stroke-width="2"{dash}/>'
        )
    if now_y is not None:
        # the line stops short of its label, which sits on the page's own background
        lines.append(
            f'<g class="now"><line x1="4" y1="{now_y}" x2="28" y2="{now_y}" stroke="#b91c1c" stroke-width="1.5"/>'
            f'<line x1="196" y1="{now_y}" x2="{WIDTH}" y2="{now_y}" stroke="#b91c1c" stroke-width="1.5" '
            f'stroke-dasharray="6 3"/>'
            f'<text x="34" y="{now_y + 5}" font-size="13" fill="#b91c1c">现在 {escape(_time(now))}</text></g>'
        )
    height = y
    label = escape(caption)
    return Markup(
        f'<svg class="timeline" role="img" aria-label="{label}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{label}</title>{''.join(lines)}{''.join(parts)}</svg>"
    )


# ---------------------------------------------------------------- the tender page
def _instant(value: object) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) else None


def facts_from_context(tender: Tender, lot: Lot, later: Mapping[str, Any]) -> LotFacts:
    """A lot's instants from what the later stages add to the tender page
    (``trading.tenders.hooks.tender_page_context``): its opening room (``rooms``, closed when the
    committee's work begins) and its evaluation once public (``publicity``); read by attribute, as
    the template does, since tenders may not import those stages."""
    room = (later.get("rooms") or {}).get(lot.id)
    ev = (later.get("publicity") or {}).get(lot.id)
    published = {a.id: a.published_at for a in tender.announcements}
    failures = [
        a.published_at
        for a in tender.announcements
        if a.kind is AnnouncementKind.FAILURE and a.title == failure_title(tender, lot)
    ]
    return LotFacts(
        evaluation_at=_instant(getattr(room, "closed_at", None)),
        publicity_at=published.get(getattr(ev, "publicity_announcement_id", None) or 0),
        publicity_ends_at=_instant(getattr(ev, "publicity_ends_at", None)),
        awarded_at=_instant(getattr(ev, "awarded_at", None)),
        failed_at=failures[0] if failures else None,
    )


def tender_timelines(
    tender: Tender, later: Mapping[str, Any], now: dt.datetime, opening_minutes: int
) -> list[tuple[str, Markup]]:
    """The tender page's drawings with their headings: one for the tender while its lots move
    together (no heading), else one per lot."""
    per_lot = [
        (lot, lot_steps(tender, lot, facts_from_context(tender, lot, later), now, opening_minutes))
        for lot in tender.lots
    ]
    if not per_lot:
        return []
    if all(steps == per_lot[0][1] for _, steps in per_lot):
        return [("", draw(per_lot[0][1], now, f"{tender.title} 项目进度"))]
    return [
        (f"第{lot.number}标段 {lot.name}", draw(steps, now, f"第{lot.number}标段 {lot.name} 项目进度"))
        for lot, steps in per_lot
    ]
