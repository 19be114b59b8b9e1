"""Reading the audit trail for people: filters, pages of events in sequence order, and each event
described (who, in which organisation and role; what, by its label; about which object).

The audit page and ``ggzy audit list`` read it alike.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session, selectinload

from archive import clock
from archive.audit import AuditEvent
from trading.accounts.models import Role, User
from trading.audit import hooks
from trading.audit.labels import ACTION_LABELS, ACTOR_LABELS, action_label, namespaces, object_label
from trading.core.errors import InvalidInput
from trading.core.schemas import whole_number

PAGE_SIZE = 50
MAX_TEXT = 64


@dataclass(frozen=True)
class Filters:
    """What the reader asked for; empty strings and None mean "any"."""

    action: str = ""  # an action code, or ``ns.*`` for every action of a namespace
    tender: str = ""  # 项目编号
    actor: str = ""  # a username, or ``system``, ``sealed``, ``anonymous``, ``cli``
    start: dt.date | None = None  # Beijing dates, both included
    end: dt.date | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as the page's query string (for its page links)."""
        args = {"action": self.action, "tender": self.tender, "actor": self.actor}
        args |= {"from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else ""}
        return {k: v for k, v in args.items() if v}


#: the days a filter may name: the platform has no event before 2000, and the last day's next
#: midnight must still be an instant
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(9998, 12, 31)


def _date(text: str, name: str, title: str) -> dt.date | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{title}应为日期，例如 2026-12-20", code="bad_date", fields={name: "日期格式不正确"}, names={name: title}
        ) from None
    if not EARLIEST <= day <= LATEST:
        # 0001-01-01 and 9999-12-31 are dates, but their Beijing midnight is no UTC instant
        raise InvalidInput(
            f"{title}应在 {EARLIEST} 至 {LATEST} 之间",
            code="bad_date",
            fields={name: "超出可查询的范围"},
            names={name: title},
        )
    return day


def read_filters(args: dict[str, str]) -> Filters:
    """The page's query string as filters; a value no filter can mean is a named 422."""
    text = {k: (args.get(k) or "").strip() for k in ("action", "tender", "actor", "from", "to")}
    long = [k for k, v in text.items() if len(v) > MAX_TEXT]
    if long:
        raise InvalidInput("筛选条件太长", code="bad_filter", fields={k: f"不能超过 {MAX_TEXT} 个字符" for k in long})
    action = text["action"]
    if action and action not in ACTION_LABELS and action.removesuffix(".*") not in namespaces():
        raise InvalidInput(
            "没有这种操作类型", code="bad_filter", fields={"action": "不是可选的值"}, names={"action": "操作"}
        )
    start, end = _date(text["from"], "from", "开始日期"), _date(text["to"], "to", "结束日期")
    if start and end and start > end:
        raise InvalidInput(
            "开始日期晚于结束日期", code="bad_filter", fields={"from": "晚于结束日期"}, names={"from": "开始日期"}
        )
    return Filters(action, text["tender"], text["actor"], start, end)


def page_number(text: str) -> int:
    """The page asked for (1 when none); past the last page is the last page (``find``)."""
    if text == "":
        return 1
    try:
        return whole_number(text, "page", minimum=1)
    except InvalidInput:
        raise InvalidInput(
            "页码应为正整数", code="bad_integer", fields={"page": "应为正整数"}, names={"page": "页码"}
        ) from None


@dataclass
class Found:
    """One page of events (newest first) and what the filters could not match."""

    events: list[AuditEvent]
    total: int
    page: int
    pages: int
    notes: list[str] = field(default_factory=list)


def _day_start(day: dt.date) -> dt.datetime:
    """00:00 Beijing time of ``day``, as the UTC instant the trail stores."""
    return clock.as_utc(dt.datetime.combine(day, dt.time(), tzinfo=clock.SHANGHAI))


def _where(session: Session, q: Select[Any], f: Filters, notes: list[str]) -> Select[Any] | None:
    """``q`` narrowed by ``f``; None when a filter matches nothing (an unknown user or tender)."""
    if f.action.endswith(".*"):
        q = q.where(AuditEvent.action.startswith(f.action[:-1], autoescape=True))
    elif f.action:
        q = q.where(AuditEvent.action == f.action)
    if f.actor in ("system", "sealed", "anonymous"):
        q = q.where(AuditEvent.actor_id == f.actor)
    elif f.actor == "cli":
        q = q.where(AuditEvent.actor_id.startswith("cli:"))
    elif f.actor:
        user_id = session.scalar(select(User.id).where(User.username == f.actor))
        if user_id is None:
            notes.append(f"没有用户名为“{f.actor}”的用户")
            return None
        q = q.where(AuditEvent.actor_id == f"user:{user_id}")
    if f.tender:
        if not hooks.tender_objects.functions:
            notes.append("按项目编号筛选暂不可用")
            return None
        refs = sorted({ref for found in hooks.tender_objects(session, f.tender) for ref in found})
        if not refs:
            notes.append(f"没有项目编号为“{f.tender}”的招标项目")
            return None
        q = q.where(tuple_(AuditEvent.object_type, AuditEvent.object_id).in_(refs))
    if f.start:
        q = q.where(AuditEvent.at >= _day_start(f.start))
    if f.end:
        q = q.where(AuditEvent.at < _day_start(f.end + dt.timedelta(days=1)))
    return q


def find(session: Session, f: Filters, page: int, size: int = PAGE_SIZE) -> Found:
    """Page ``page`` (from 1) of the events ``f`` matches, in sequence order, newest first."""
    notes: list[str] = []
    q = _where(session, select(AuditEvent), f, notes)
    if q is None:
        return Found([], 0, 1, 1, notes)
    total = int(session.scalar(select(func.count()).select_from(q.with_only_columns(AuditEvent.seq).subquery())) or 0)
    pages = max(1, -(-total // size))
    page = min(page, pages)
    events = list(session.scalars(q.order_by(AuditEvent.seq.desc()).offset((page - 1) * size).limit(size)))
    return Found(events, total, page, pages, notes)


# ---------------------------------------------------------------- describing an event


def role_labels(actor_role: str) -> str:
    """``bidder,staff`` (the roles the event recorded) → 投标人、交易中心工作人员."""
    labels = []
    for code in filter(None, actor_role.split(",")):
        try:
            labels.append(Role(code).label)
        except ValueError:
            labels.append({"system": "平台", "public": "公众"}.get(code, code))
    return "、".join(labels)


def actors(session: Session, events: list[AuditEvent]) -> dict[str, tuple[str, str]]:
    """Each event's actor as a person reads it (王工 · 福州市公共资源交易中心 · 交易中心工作人员), with
    the identifier that goes with it where the words do not name it (the operator's login name)."""
    ids = {int(e.actor_id[5:]) for e in events if e.actor_id.startswith("user:") and e.actor_id[5:].isdigit()}
    users = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)).options(selectinload(User.organisation)))
    }
    out: dict[str, tuple[str, str]] = {}
    for e in events:
        key = f"{e.actor_id}|{e.actor_role}"
        if key in out:
            continue
        kind, _, rest = e.actor_id.partition(":")
        user = users.get(int(rest)) if kind == "user" and rest.isdigit() else None
        if user is not None:
            parts = [user.display_name, user.organisation.name if user.organisation else "", role_labels(e.actor_role)]
            out[key] = (" · ".join(p for p in parts if p), "")
        elif kind == "cli":
            out[key] = (ACTOR_LABELS["cli"], rest)
        else:
            out[key] = (ACTOR_LABELS[e.actor_id], "") if e.actor_id in ACTOR_LABELS else ("", e.actor_id)
    return out


def _shown(value: Any) -> str:
    """A payload value for a person: an instant in Beijing time, anything structured as compact JSON."""
    if isinstance(value, str):
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if instant.tzinfo is not None and "T" in value:
            return f"{clock.local(instant):%Y-%m-%d %H:%M:%S}（北京时间）"
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return json.dumps(value, ensure_ascii=False)


HEX = re.compile(r"[0-9a-f]{32,}")


def payload_items(payload: str) -> list[tuple[str, str, bool]]:
    """The event's payload as (key, value, is a hash) lines; what is not a JSON object is one line.
    A hash is shown as ``code.hash`` (shortened, with a copy button) so it never widens the table."""
    try:
        data = json.loads(payload)
    except ValueError:
        return [("", payload, False)]
    pairs = sorted(data.items()) if isinstance(data, dict) else [("", data)]
    return [(str(k), text, bool(HEX.fullmatch(text))) for k, v in pairs for text in [_shown(v)]]


def describe(e: AuditEvent, who: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """One row of the audit page (or line of ``ggzy audit list``)."""
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": (actor := who.get(f"{e.actor_id}|{e.actor_role}", ("", e.actor_id)))[0],
        "actor_ident": actor[1],
        "action": e.action,
        "action_label": action_label(e.action),
        "object": f"{object_label(e.object_type)} {e.object_id}",
        "payload": payload_items(e.payload),
        "chain_hash": e.chain_hash.hex(),
    }


PLACES = {"event": "事件 #", "checkpoint": "检查点 ", "stored": "存档副本 "}


def problem_line(where: str, problem: str) -> tuple[str, str]:
    """A finding of the log check as the audit page says it: ``event 12`` is 事件 #12, and the
    English gloss the terminal prints after the Chinese (``(root mismatch)``) is left out."""
    kind, _, rest = where.partition(" ")
    place = f"{PLACES[kind]}{rest}" if kind in PLACES else where
    return place, re.sub(r"\s*\([\x20-\x7e]*\)$", "", problem)
