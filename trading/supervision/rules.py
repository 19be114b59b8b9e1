"""Supervision rules as data (监督点): what starts and stops a time limit, the limit, when it turns
yellow, and who is warned; the seed table with the law each limit comes from; and the pure
arithmetic of a clock (its due and yellow instants, its colour at an instant, a pause).

How a period is counted (decided here, once, for every rule):

- **Calendar days** (``日``): the day of the start is not counted and the period ends at 24:00
  (Beijing) of its last day (《民法典》第二百零一条：按照日计算期间的，开始的当日不计入，自下一日开始
  计算；第二百零三条：期间的最后一日的截止时间为二十四时). When the last day is not a working day of
  the platform's calendar (a weekend or a holiday; a 调休 Saturday that is worked counts as a working
  day), the period ends at 24:00 of the next working day (第二百零三条：期间的最后一日是法定休假日
  的，以法定休假日结束的次日为期间的最后一日). "Within 3 days" of Monday 10:00 is thus until
  Thursday 24:00, i.e. the instant Friday 00:00 Beijing, which is already late.
- **Working days** (``工作日``): the working days after the day of the start are counted
  (``trading.procedures.calendar``: holidays and 调休 from the platform's calendar); the period
  ends at 24:00 of the last of them.
- **Hours**: exactly that many hours after the start instant.

The yellow instant is the end of the period shortened by ``yellow_value`` units ("1 working day
before the limit": 24:00 of the working day before the last), without the holiday extension, and
never after the due instant; a ``yellow_value`` as large as the limit makes the clock yellow at
its start. At the due instant itself the clock is red (the act was due before it).

While the procedure is suspended (暂停) a clock stands still: its colour is the one it had when
the pause began, and on resumption its yellow and due instants move later by the time it stood
(seconds, whatever the unit: the days the procedure was suspended are not counted).

Events are named by tokens, space-separated: ``action``, optionally with conditions in brackets,
``action[key=value,@guard]``. ``key=value`` compares a value of the event's payload (as text);
``@guard`` is a fact the sweep looks up (``GUARDS``). On a stop token ``@complaint`` is a scope,
not a guard: the event stops every open clock of the rule about the same complaint, whatever
object it was started on (a complaint withdrawn ends its statement requests' clocks).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from trading.procedures.calendar import Overrides
from trading.procedures.calendar import period_end as calendar_period_end
from trading.procedures.models import DayKind
from trading.supervision.models import Colour, LimitUnit

#: who a rule can name to be warned of a change of colour
WARNED_LABELS: dict[str, str] = {
    "managers": "招标人及其招标代理机构",
    "supervisors": "行政监督部门",
    "center": "交易中心",
    "complainant": "投诉人",
    "asked": "被要求说明的当事人",
}

#: how a stop event finds the clock its start opened
SUBJECT_LABELS: dict[str, str] = {
    "object": "同一对象（同一异议、投诉或项目）",
    "lot": "同一标段",
    "tender": "同一招标项目",
}

#: the facts a token may require (looked up by the sweep, ``trading.supervision.clocks``)
GUARDS: dict[str, str] = {
    "package": "该标段结束时档案包将生成（有开标室，且不是评标中流标）",
    "guarantees": "合同签订时该标段尚有未释放的投标保函",
    "all_released": "该标段的投标保函已全部释放（本次释放为最后一笔）",
}
#: a stop token's scope flag: every open clock of the rule about the same complaint
COMPLAINT_SCOPE = "complaint"

#: what a supervisor may change in a new version; the events and the subject are the platform's
EDITABLE = ("title", "source", "source_text", "limit_value", "limit_unit", "yellow_value", "warned", "enabled")
#: the bounds of a limit, by unit (10 years of days, a year of hours)
LIMIT_MAX = {LimitUnit.CALENDAR_DAYS: 3650, LimitUnit.WORKING_DAYS: 2500, LimitUnit.HOURS: 8760}

_TOKEN = re.compile(r"^([a-z_]+\.[a-z_]+)(?:\[([^\]]*)\])?$")
_CONDITION = re.compile(r"^(?:@([a-z_]+)|([a-z_]+)=([A-Za-z0-9_.\-]+))$")


class RuleTokenError(ValueError):
    """A start or stop token the sweep cannot read."""


@dataclass(frozen=True)
class Matcher:
    """One event token: its action, payload conditions, guards and (stops) scope."""

    action: str
    equals: tuple[tuple[str, str], ...] = ()
    guards: tuple[str, ...] = ()
    complaint_scope: bool = False

    def matches(self, action: str, payload: Mapping[str, Any], holds: Callable[[str], bool]) -> bool:
        """Whether an event with ``action`` and ``payload`` matches; ``holds(guard)`` answers a guard
        (asked only once the action and the payload match)."""
        if action != self.action:
            return False
        if any(str(payload.get(k)) != v for k, v in self.equals):
            return False
        return all(holds(g) for g in self.guards)


def parse_token(token: str, *, stop: bool = False) -> Matcher:
    m = _TOKEN.match(token)
    if m is None:
        raise RuleTokenError(f"无法识别的事件：{token}")
    equals: list[tuple[str, str]] = []
    guards: list[str] = []
    scope = False
    for cond in filter(None, (c.strip() for c in (m.group(2) or "").split(","))):
        c = _CONDITION.match(cond)
        if c is None:
            raise RuleTokenError(f"无法识别的条件：{cond}")
        if c.group(1) is None:
            equals.append((c.group(2), c.group(3)))
        elif stop and c.group(1) == COMPLAINT_SCOPE:
            scope = True
        elif c.group(1) in GUARDS:
            guards.append(c.group(1))
        else:
            raise RuleTokenError(f"未知的条件：@{c.group(1)}")
    return Matcher(m.group(1), tuple(equals), tuple(guards), scope)


def parse_actions(text: str, *, stop: bool = False) -> tuple[Matcher, ...]:
    """The tokens of a rule's ``start_action`` or ``stop_actions``."""
    return tuple(parse_token(t, stop=stop) for t in text.split())


# ---------------------------------------------------------------- the arithmetic of a clock
class Limited(Protocol):
    @property
    def limit_value(self) -> int: ...

    @property
    def limit_unit(self) -> LimitUnit: ...

    @property
    def yellow_value(self) -> int: ...


def period_end(
    start: dt.datetime, n: int, unit: LimitUnit, overrides: Overrides, *, extend: bool = True
) -> dt.datetime:
    """The end of a period of ``n`` units from ``start``: hours from the instant, days as the civil
    code counts them (``trading.procedures.calendar.period_end``)."""
    if unit is LimitUnit.HOURS:
        return start + dt.timedelta(hours=n)
    kind = DayKind.CALENDAR if unit is LimitUnit.CALENDAR_DAYS else DayKind.WORKING
    return calendar_period_end(start, n, kind, overrides, extend=extend)


def due_instant(start: dt.datetime, rule: Limited, overrides: Overrides) -> dt.datetime:
    """When the act is late: the end of the rule's period from ``start``."""
    return period_end(start, rule.limit_value, rule.limit_unit, overrides)


def yellow_instant(start: dt.datetime, rule: Limited, overrides: Overrides) -> dt.datetime:
    """When the clock turns yellow: ``yellow_value`` units before the limit (never after the due
    instant; at the start when the yellow span covers the whole limit)."""
    n = rule.limit_value - rule.yellow_value
    if n <= 0:
        return start
    return min(period_end(start, n, rule.limit_unit, overrides, extend=False), due_instant(start, rule, overrides))


def colour_at(yellow_at: dt.datetime, due_at: dt.datetime, paused_since: dt.datetime | None, t: dt.datetime) -> Colour:
    """The colour at ``t`` of a clock with these instants; a paused clock keeps the colour it had
    when the pause began."""
    if paused_since is not None and t > paused_since:
        t = paused_since
    if t >= due_at:
        return Colour.RED
    if t >= yellow_at:
        return Colour.YELLOW
    return Colour.GREEN


def next_check(colour: Colour, yellow_at: dt.datetime, due_at: dt.datetime) -> dt.datetime | None:
    """When a running clock of ``colour`` can next change colour (None: red never changes)."""
    if colour is Colour.GREEN:
        return yellow_at if yellow_at < due_at else due_at
    if colour is Colour.YELLOW:
        return due_at
    return None


def worse(a: Colour, b: Colour) -> Colour:
    return a if a.rank >= b.rank else b


def resumed(yellow_at: dt.datetime, due_at: dt.datetime, paused: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    """The yellow and due instants after a pause of ``paused``: both later by it."""
    return yellow_at + paused, due_at + paused


def limit_text(value: int, unit: LimitUnit) -> str:
    """``3日``, ``5个工作日``, ``48小时``."""
    return f"{value}{unit.label}"


def colour_text(colour: Colour) -> str:
    """绿灯（正常）/ 黄灯（预警）/ 红灯（超期）: the colour in words, never by colour alone."""
    return colour.label


# ---------------------------------------------------------------- the seed table
@dataclass(frozen=True)
class SeedRule:
    rule_code: str  # (not ``code=``: the error-code catalogue's scan reads every ``code="…"`` as one)
    title: str
    source: str
    source_text: str
    start_action: str
    stop_actions: str
    subject: str
    limit_value: int
    limit_unit: LimitUnit
    yellow_value: int
    warned: str

    @property
    def code(self) -> str:
        return self.rule_code


_DAYS, _WORKING = LimitUnit.CALENDAR_DAYS, LimitUnit.WORKING_DAYS

SEED: tuple[SeedRule, ...] = (
    SeedRule(
        rule_code="objection_answer",
        title="答复对中标候选人的异议",
        source="《招标投标法实施条例》第五十四条",
        source_text=(
            "投标人或者其他利害关系人对依法必须进行招标的项目的评标结果有异议的，应当在中标候选人公示期间提出。"
            "招标人应当自收到异议之日起3日内作出答复；作出答复前，应当暂停招标投标活动。"
        ),
        start_action="evaluation.objection",
        stop_actions="evaluation.objection_answer",
        subject="object",
        limit_value=3,
        limit_unit=_DAYS,
        yellow_value=1,
        warned="managers center supervisors",
    ),
    SeedRule(
        # the report is complete when the last member signs it: the evaluation moves to REPORTED;
        # the clock stops when the lot is publicised, or the report is sent back (评标回退) or the
        # lot fails (every bid rejected: no candidates to publicise)
        rule_code="publicity_start",
        title="公示中标候选人",
        source="《招标投标法实施条例》第五十四条",
        source_text="依法必须进行招标的项目，招标人应当自收到评标报告之日起3日内公示中标候选人，公示期不得少于3日。",
        start_action="evaluation.stage[to=reported]",
        stop_actions="lot.publicise lot.fail evaluation.stage[to=scoring] evaluation.stage[to=compliance]",
        subject="lot",
        limit_value=3,
        limit_unit=_DAYS,
        yellow_value=1,
        warned="center managers supervisors",
    ),
    SeedRule(
        rule_code="award_after_publicity",
        title="公示后确定中标人",
        source="平台规定（依据《招标投标法》第四十五条、《评标委员会和评标方法暂行规定》第四十条）",
        source_text=(
            "平台规定：中标候选人公示发布之日起10个工作日内，招标人应当确定中标人（公示期与异议答复期计算在内）。"
            "《招标投标法》第四十五条：中标人确定后，招标人应当向中标人发出中标通知书，并同时将中标结果通知所有未中标的投标人。"
            "《评标委员会和评标方法暂行规定》第四十条要求评标和定标在投标有效期内完成。"
        ),
        start_action="lot.publicise",
        stop_actions="lot.award",
        subject="lot",
        limit_value=10,
        limit_unit=_WORKING,
        yellow_value=2,
        warned="managers supervisors",
    ),
    SeedRule(
        rule_code="contract",
        title="签订书面合同",
        source="《招标投标法》第四十六条",
        source_text=(
            "招标人和中标人应当自中标通知书发出之日起三十日内，按照招标文件和中标人的投标文件订立书面合同。"
            "招标人和中标人不得再行订立背离合同实质性内容的其他协议。"
        ),
        start_action="lot.award",
        stop_actions="evaluation.contract",
        subject="lot",
        limit_value=30,
        limit_unit=_DAYS,
        yellow_value=5,
        warned="managers supervisors",
    ),
    SeedRule(
        # the losers' guarantees are released after the award, the winner's after the contract:
        # the clock runs from the contract while a guarantee of the lot is still held and stops
        # at the release after which none is (the release sweep's last one for the lot)
        rule_code="bond_release",
        title="退还投标保证金（释放投标保函）",
        source="《招标投标法实施条例》第五十七条",
        source_text="招标人最迟应当在书面合同签订后5日内向中标人和未中标的投标人退还投标保证金及银行同期存款利息。",
        start_action="evaluation.contract[@guarantees]",
        stop_actions="guarantee.release[@all_released]",
        subject="lot",
        limit_value=5,
        limit_unit=_DAYS,
        yellow_value=1,
        warned="managers center supervisors",
    ),
    SeedRule(
        # the archive stage builds a package at each end it knows: the award, a failure at the
        # deadline or the opening, the termination of a lot with an opening room
        rule_code="archive_package",
        title="生成标段档案包",
        source="平台规定",
        source_text="平台规定：标段结束（定标、流标或终止）之日起5个工作日内，平台生成该标段的电子档案包并签名存档。",
        start_action="lot.award lot.fail[@package] lot.terminate[@package]",
        stop_actions="archive.build",
        subject="lot",
        limit_value=5,
        limit_unit=_WORKING,
        yellow_value=2,
        warned="center supervisors",
    ),
    SeedRule(
        rule_code="staff_review",
        title="交易中心审核招标公告",
        source="平台规定",
        source_text=(
            "平台规定：招标人提交招标项目及招标公告后，交易中心应当在3个工作日内审核并发布或者退回；"
            "提交后第1个工作日结束仍未审核的，黄灯预警。"
        ),
        start_action="tender.submit",
        stop_actions="tender.publish tender.return tender.terminate",
        subject="object",
        limit_value=3,
        limit_unit=_WORKING,
        # the center's own queue: warned once a whole working day has passed, two before the limit
        yellow_value=2,
        warned="center supervisors",
    ),
    SeedRule(
        rule_code="complaint_accept_construction",
        title="决定是否受理投诉（工程建设项目）",
        source="《招标投标法实施条例》第六十一条；《工程建设项目招标投标活动投诉处理办法》（七部委令第11号）第十一条",
        source_text=(
            "《招标投标法实施条例》第六十一条：行政监督部门应当自收到投诉之日起3个工作日内决定是否受理投诉，"
            "并自受理投诉之日起30个工作日内作出书面处理决定。"
            "七部委令第11号第十一条：行政监督部门收到投诉书后，应当在三个工作日内进行审查，视情况分别做出以下处理决定。"
        ),
        start_action="complaint.file[kind=construction]",
        stop_actions="complaint.accept complaint.refuse complaint.withdraw",
        subject="object",
        limit_value=3,
        limit_unit=_WORKING,
        yellow_value=1,
        warned="supervisors complainant",
    ),
    SeedRule(
        rule_code="complaint_accept_procurement",
        title="审查投诉并决定是否受理（政府采购）",
        source="《政府采购质疑和投诉办法》（财政部令第94号）第二十一条",
        source_text="财政部门收到投诉书后，应当在5个工作日内进行审查。",
        start_action="complaint.file[kind=procurement]",
        stop_actions="complaint.accept complaint.refuse complaint.withdraw",
        subject="object",
        limit_value=5,
        limit_unit=_WORKING,
        yellow_value=1,
        warned="supervisors complainant",
    ),
    SeedRule(
        # 第十一条 of 七部委令第11号: an accepted complaint counts as accepted on the day it was
        # received, so the 30 working days run from the filing; a refusal ends the clock too
        rule_code="complaint_decide_construction",
        title="作出投诉处理决定（工程建设项目）",
        source="《招标投标法实施条例》第六十一条；《工程建设项目招标投标活动投诉处理办法》（七部委令第11号）第十一条",
        source_text=(
            "《招标投标法实施条例》第六十一条：行政监督部门应当……自受理投诉之日起30个工作日内作出书面处理决定；"
            "需要检验、检测、鉴定、专家评审的，所需时间不计算在内。"
            "七部委令第11号第十一条：对于符合投诉处理条件并决定受理的，收到投诉书之日即为正式受理。"
        ),
        start_action="complaint.file[kind=construction]",
        stop_actions="complaint.decide complaint.refuse complaint.withdraw",
        subject="object",
        limit_value=30,
        limit_unit=_WORKING,
        yellow_value=5,
        warned="supervisors complainant",
    ),
    SeedRule(
        rule_code="complaint_decide_procurement",
        title="作出投诉处理决定（政府采购）",
        source="《政府采购质疑和投诉办法》（财政部令第94号）第二十六条",
        source_text="财政部门应当自收到投诉之日起30个工作日内，对投诉事项作出处理决定。",
        start_action="complaint.file[kind=procurement]",
        stop_actions="complaint.decide complaint.refuse complaint.withdraw",
        subject="object",
        limit_value=30,
        limit_unit=_WORKING,
        yellow_value=5,
        warned="supervisors complainant",
    ),
    SeedRule(
        rule_code="complaint_statement",
        title="被投诉人及相关当事人作出书面说明",
        source="《政府采购质疑和投诉办法》（财政部令第94号）第二十二条（工程建设项目参照执行，平台规定）",
        source_text=(
            "被投诉人和其他与投诉事项有关的当事人应当在收到投诉答复通知书及投诉书副本之日起5个工作日内，"
            "以书面形式向财政部门作出说明，并提交相关证据、依据和其他有关材料。"
        ),
        start_action="complaint.ask",
        stop_actions="complaint.statement complaint.decide[@complaint] complaint.withdraw[@complaint]",
        subject="object",
        limit_value=5,
        limit_unit=_WORKING,
        yellow_value=1,
        warned="asked supervisors",
    ),
    SeedRule(
        # a 差评 (score 1 or 2) asks the center to verify and answer; the rating's own answer stops it
        rule_code="service_rating_answer",
        title="答复服务差评（好差评整改）",
        source="《国务院办公厅关于建立政务服务“好差评”制度提高政务服务水平的意见》（国办发〔2019〕51号）；时限为平台规定",
        source_text=(
            "国办发〔2019〕51号要求建立差评和投诉问题调查核实、督促整改和反馈机制，做到差评件件有整改、有反馈，"
            "评价结果及整改情况向社会公开（摘要）。平台规定：“不满意”“非常不满意”的评价，交易中心应当自评价之日起"
            "15个工作日内核实并书面答复整改情况（与多地“好差评”实施办法的差评整改时限一致）。"
        ),
        start_action="service_rating.rate[bad=True]",
        stop_actions="service_rating.answer",
        subject="object",
        limit_value=15,
        limit_unit=_WORKING,
        yellow_value=3,
        warned="center supervisors",
    ),
)

SEED_BY_CODE: dict[str, SeedRule] = {r.code: r for r in SEED}
