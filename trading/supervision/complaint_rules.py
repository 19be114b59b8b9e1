"""The law of complaints (投诉) in code: which regime a tender's complaint follows, which matters must
first be raised as an objection (异议 / 质疑) to the tenderee, when a complaint may be filed, and the
supervising department's time limits. Pure functions of dates and the holiday calendar.

Two regimes:

- **construction** (工程建设项目, and every other category tendered under 招标投标法):
  《招标投标法实施条例》第六十条：“投标人或者其他利害关系人认为招标投标活动不符合法律、行政法规规定的，
  可以自知道或者应当知道之日起10日内向有关行政监督部门投诉。投诉应当有明确的请求和必要的证明材料。
  就本条例第二十二条、第四十四条、第五十四条规定事项投诉的，应当先向招标人提出异议，异议答复期间不计算在前款
  规定的期限内。”
  七部委令第11号《工程建设项目招标投标活动投诉处理办法》第九条：“投诉人应当在知道或者应当知道其权益受到侵害之日起
  十日内提出书面投诉。依照有关行政法规提出异议的，异议答复期间不计算在内。”
- **procurement** (政府采购: goods and services), 财政部令第94号《政府采购质疑和投诉办法》：
  第十七条：“质疑供应商对采购人、采购代理机构的答复不满意，或者采购人、采购代理机构未在规定时间内作出答复的，
  可以在答复期满后15个工作日内向本办法第六条规定的财政部门提起投诉。”
  第十九条：“投诉人提起投诉应当符合下列条件：（一）提起投诉前已依法进行质疑；……（三）在投诉有效期限内提起投诉；……”

How the platform's records stand for the objection (异议 / 质疑) a complaint must follow:

- the documents (Reg 22: “对招标文件有异议的，应当在投标截止时间10日前提出。招标人应当自收到异议之日起3日内
  作出答复”): a question (答疑, ``trading.tenders.models.Question``) the complainant's organisation
  asked on the tender; the platform has no separate objection to the documents, and a question is
  the written, dated, answered record of one;
- the opening (Reg 44: “投标人对开标有异议的，应当在开标现场提出，招标人应当当场作出答复，并制作记录”): an
  objection raised in the lot's opening room (``trading.opening.models.Objection``); answered on the
  spot, so an unanswered one counts as answered (refused) when it was raised;
- the evaluation result (Reg 54: “应当在中标候选人公示期间提出。招标人应当自收到异议之日起3日内作出答复”):
  an objection to the lot's publicity (``trading.evaluation.models.PublicityObjection``).

In procurement every complaint follows a 质疑 (第十九条); a 质疑 is answered within 7 working days
(第十三条：“采购人、采购代理机构应当在收到质疑函后7个工作日内作出答复”), whatever the record. Its
"other" matters may follow any of the organisation's objections on the tender.

Periods in days end at 24:00 (Beijing) of the last day, the first day not counted, and a last day
that is not a working day moves to the next working day (《民法典》第二百零一条、第二百零三条：
“期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日”; “期间的最后一日的截止时间为二十四时”).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from archive.clock import local
from signing.statements import complaint_kind
from trading.core.errors import Conflict
from trading.procedures.calendar import Overrides, period_end
from trading.procedures.models import DayKind
from trading.supervision.models import ComplaintKind
from trading.tenders.models import TenderCategory

#: what a complaint is about (``Complaint.matter``)
MATTERS: dict[str, str] = {
    "documents": "招标文件（采购文件）",
    "opening": "开标（采购过程）",
    "evaluation_result": "评标结果（中标、成交结果）",
    "other": "其他事项",
}

#: The department's own limits (acceptance, decision, statements) are supervision rules, kept once in
#: ``trading.supervision.rules.SEED`` with their sources and versioned in the table;
#: ``trading.supervision.rulebook.limit_due`` gives the date in force.
#: 实施条例第二十二条、第五十四条: the tenderee answers an objection within 3 days
CONSTRUCTION_ANSWER_DAYS = 3
#: 94号令第十三条: a 质疑 is answered within 7 working days
PROCUREMENT_ANSWER_WORKING_DAYS = 7
#: 实施条例第六十条 / 七部委令第11号第九条: 10 days
CONSTRUCTION_FILING_DAYS = 10
#: 94号令第十七条: 15 working days after the answer period
PROCUREMENT_FILING_WORKING_DAYS = 15


class Source(StrEnum):
    """The platform's record of an objection (异议 / 质疑), named as its audit object type."""

    QUESTION = "question"  # 答疑: an objection to the documents (Reg 22)
    OPENING = "ceremony_objection"  # an objection in the opening room (Reg 44)
    PUBLICITY = "evaluation_objection"  # an objection to the candidates' publicity (Reg 54)

    @property
    def label(self) -> str:
        return {
            "question": "对招标文件的异议（答疑）",
            "ceremony_objection": "开标异议",
            "evaluation_objection": "中标候选人公示期间的异议",
        }[self.value]


#: the record each matter's objection is: 实施条例第六十条 names articles 22, 44 and 54
MATTER_SOURCES: dict[str, frozenset[Source]] = {
    "documents": frozenset({Source.QUESTION}),
    "opening": frozenset({Source.OPENING}),
    "evaluation_result": frozenset({Source.PUBLICITY}),
    "other": frozenset(Source),
}


@dataclass(frozen=True)
class PriorObjection:
    """An objection the complainant's organisation raised, as the rules need it."""

    source: Source
    id: int
    raised_at: dt.datetime
    answered_at: dt.datetime | None

    @property
    def ref(self) -> str:
        return f"{self.source.value}:{self.id}"


@dataclass(frozen=True)
class Window:
    """When a complaint following one objection may be filed: from ``opens_at`` (inclusive) to
    ``closes_at`` (exclusive)."""

    opens_at: dt.datetime
    closes_at: dt.datetime


def kind_of(category: TenderCategory) -> ComplaintKind:
    """政府采购 (goods, services) → procurement (94号令); any other category → construction: the
    实施条例 governs every 招标投标活动 under 招标投标法, and 七部委令第11号 adds its procedure for
    工程建设项目 (land use, mining, state property and emission rights tendered here follow the
    实施条例 alike)."""
    return ComplaintKind(complaint_kind(category.value))


def must_object_first(kind: ComplaintKind, matter: str) -> bool:
    """Construction: only the matters of Reg 22, 44 and 54 (实施条例第六十条第二款); procurement: every
    complaint (94号令第十九条第一项：提起投诉前已依法进行质疑)."""
    return kind is ComplaintKind.PROCUREMENT or matter in ("documents", "opening", "evaluation_result")


def calendar_period_end(start: dt.datetime, days: int, overrides: Overrides) -> dt.datetime:
    """A period of ``days`` calendar days (民法典第二百零一条、第二百零三条: ``calendar.period_end``)."""
    return period_end(start, days, DayKind.CALENDAR, overrides)


def working_period_end(start: dt.datetime, days: int, overrides: Overrides) -> dt.datetime:
    """The end (24:00) of the ``days``-th working day after ``start`` (the platform's calendar, 调休 included)."""
    return period_end(start, days, DayKind.WORKING, overrides)


def answer_period_end(kind: ComplaintKind, o: PriorObjection, overrides: Overrides) -> dt.datetime:
    """When the tenderee's time to answer ``o`` is over (answered or not)."""
    if kind is ComplaintKind.PROCUREMENT:
        return working_period_end(o.raised_at, PROCUREMENT_ANSWER_WORKING_DAYS, overrides)
    if o.source is Source.OPENING:
        return o.raised_at  # 当场作出答复 (Reg 44): not answered there, it was not answered at all
    return calendar_period_end(o.raised_at, CONSTRUCTION_ANSWER_DAYS, overrides)


def filing_window(kind: ComplaintKind, o: PriorObjection, overrides: Overrides) -> Window:
    """When a complaint following ``o`` may be filed.

    Construction: from the answer (or the end of the answer period, unanswered), 10 days (Reg 60:
    the answer period does not count; the complainant is taken to know of its grievance, at the
    latest, when answered). Procurement: from the answer (or the end of the answer period), until
    15 working days after the answer period (94号令第十七条, as it is written: 答复期满后15个工作日内)."""
    due = answer_period_end(kind, o, overrides)
    opens = min(o.answered_at, due) if o.answered_at is not None else due
    if kind is ComplaintKind.PROCUREMENT:
        # counted from the answer period's last day (``due`` is 24:00 of it, the next day's first instant)
        last_day = due - dt.timedelta(microseconds=1)
        return Window(opens, working_period_end(last_day, PROCUREMENT_FILING_WORKING_DAYS, overrides))
    known = o.answered_at if o.answered_at is not None and o.answered_at < due else due
    return Window(opens, calendar_period_end(known, CONSTRUCTION_FILING_DAYS, overrides))


def prior_objection(
    kind: ComplaintKind, matter: str, objections: list[PriorObjection], now: dt.datetime, overrides: Overrides
) -> PriorObjection | None:
    """The objection a complaint filed ``now`` follows (None: the matter needs none), chosen among the
    complainant's ``objections`` of the right record as the one whose window stays open longest.
    Refused (409): ``objection_first`` when there is none, ``objection_pending`` while every one is
    still within its answer period, ``complaint_late`` when every window has closed."""
    if not must_object_first(kind, matter):
        return None
    relevant = [o for o in objections if o.source in MATTER_SOURCES[matter]]
    what = "质疑" if kind is ComplaintKind.PROCUREMENT else "异议"
    if not relevant:
        basis = (
            "《政府采购质疑和投诉办法》第十九条"
            if kind is ComplaintKind.PROCUREMENT
            else "《招标投标法实施条例》第六十条"
        )
        raise Conflict(
            f"就{MATTERS[matter]}投诉的，应当先向招标人（采购人）提出{what}（{basis}）；平台上没有贵单位就此提出的{what}记录",
            code="objection_first",
        )
    windows = sorted(((filing_window(kind, o, overrides), o) for o in relevant), key=lambda w: w[0].closes_at)
    open_now = [o for w, o in windows if w.opens_at <= now < w.closes_at]
    if open_now:
        return open_now[-1]
    waiting = [w for w, _ in windows if now < w.opens_at]
    if waiting:
        opens = min(w.opens_at for w in waiting)
        raise Conflict(
            f"{what}尚在答复期内：招标人（采购人）答复或 {local(opens):%Y-%m-%d %H:%M} 答复期满后才能投诉",
            code="objection_pending",
        )
    closes = windows[-1][0].closes_at
    raise Conflict(f"投诉期限已于 {local(closes):%Y-%m-%d %H:%M}（北京时间）届满", code="complaint_late")
