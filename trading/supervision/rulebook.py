"""The rule versions the clocks run by: the seed table written once (``ensure_seed``,
``supervision_rule.seed``, in force from ``SEED_FROM``: the laws applied before the platform, so
the whole log is measured), each change a new version (``change_rule``, ``supervision_rule.change``)
in force from its instant on, and the limit in force for an act (``limit_due``), which the
complaint pages and documents state so that they and the clocks say one date.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from archive.db import locked
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.core.db import locked_singleton
from trading.core.errors import Forbidden, InvalidInput, NotFound
from trading.procedures.operations import overrides as calendar_overrides
from trading.supervision.models import LimitUnit, SupervisionCursor, SupervisionRule
from trading.supervision.rules import (
    EDITABLE,
    LIMIT_MAX,
    SEED,
    SEED_BY_CODE,
    WARNED_LABELS,
    Matcher,
    RuleTokenError,
    due_instant,
    limit_text,
    parse_actions,
)

log = logging.getLogger("ggzy.supervision")

#: the seed versions are in force from here: every event of the log is measured by them
SEED_FROM = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def cursor(session: Session) -> SupervisionCursor:
    """The clocks' read cursor, locked: taking it serialises two sweeps (and two seeders)."""
    return locked_singleton(session, SupervisionCursor, seq=0)


def limit_due(session: Session, code: str, start: dt.datetime) -> dt.datetime:
    """When the act rule ``code`` times is due if its clock starts at ``start``: by the version in
    force then (the seed's before the table has one), with the platform's calendar. The complaint
    pages and documents state this instant; the clock reaches red at the same one (less any pause)."""
    version = load_rules(session).in_force(code, start)
    rule = version if version is not None else SEED_BY_CODE[code]
    return due_instant(start, rule, calendar_overrides(session))


# ---------------------------------------------------------------- the rule versions
@dataclass(frozen=True)
class RuleVersion:
    """One version of a rule as the sweep and the pages read it (a snapshot, no session needed)."""

    id: int
    code: str
    version: int
    title: str
    source: str
    source_text: str
    start_action: str
    stop_actions: str
    subject: str
    limit_value: int
    limit_unit: LimitUnit
    yellow_value: int
    warned: tuple[str, ...]
    enabled: bool
    effective_from: dt.datetime
    changed_by_user_id: int | None
    change_reason: str | None

    @classmethod
    def of(cls, r: SupervisionRule) -> RuleVersion:
        return cls(
            r.id,
            r.code,
            r.version,
            r.title,
            r.source,
            r.source_text,
            r.start_action,
            r.stop_actions,
            r.subject,
            r.limit_value,
            r.limit_unit,
            r.yellow_value,
            tuple(r.warned.split()),
            r.enabled,
            clock.as_utc(r.effective_from),
            r.changed_by_user_id,
            r.change_reason,
        )

    @property
    def limit(self) -> str:
        return limit_text(self.limit_value, self.limit_unit)

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("supervision_rule", str(self.id))


@dataclass
class Rulebook:
    """Every version of every rule, and the tokens of each rule code by action."""

    versions: dict[str, list[RuleVersion]] = field(default_factory=dict)  # oldest first
    by_id: dict[int, RuleVersion] = field(default_factory=dict)
    starts: dict[str, list[tuple[str, Matcher]]] = field(default_factory=lambda: defaultdict(list))
    stops: dict[str, list[tuple[str, Matcher]]] = field(default_factory=lambda: defaultdict(list))

    def in_force(self, code: str, at: dt.datetime) -> RuleVersion | None:
        """The newest version of ``code`` in force at ``at`` (None before its first)."""
        found = None
        for v in self.versions.get(code, []):
            if v.effective_from <= at:
                found = v
        return found

    def current(self, code: str) -> RuleVersion | None:
        vs = self.versions.get(code)
        return vs[-1] if vs else None

    def subject(self, code: str) -> str:
        current = self.current(code)
        return current.subject if current else "object"

    @property
    def actions(self) -> set[str]:
        return set(self.starts) | set(self.stops)


def load_rules(session: Session) -> Rulebook:
    """The rule book from the table. A version whose tokens cannot be read is left out (logged)."""
    book = Rulebook()
    rows = session.scalars(select(SupervisionRule).order_by(SupervisionRule.code, SupervisionRule.version))
    for row in rows:
        v = RuleVersion.of(row)
        book.versions.setdefault(v.code, []).append(v)
        book.by_id[v.id] = v
    for code, versions in book.versions.items():
        current = versions[-1]  # the events are the platform's: the newest version's name them
        try:
            starts, stops = parse_actions(current.start_action), parse_actions(current.stop_actions, stop=True)
        except RuleTokenError as exc:
            log.error("supervision rule %s v%s: %s", code, current.version, exc)
            continue
        for m in starts:
            book.starts[m.action].append((code, m))
        for m in stops:
            book.stops[m.action].append((code, m))
    return book


def ensure_seed(session: Session, actor: Actor) -> int:
    """Version 1 of each seed rule not yet in the table (``supervision_rule.seed``); how many."""
    cursor(session)  # serialises two seeders
    have = set(session.scalars(select(SupervisionRule.code).distinct()))
    made = 0
    for seed in SEED:
        if seed.code in have:
            continue
        row = SupervisionRule(
            code=seed.code,
            version=1,
            title=seed.title,
            source=seed.source,
            source_text=seed.source_text,
            start_action=seed.start_action,
            stop_actions=seed.stop_actions,
            subject=seed.subject,
            limit_value=seed.limit_value,
            limit_unit=seed.limit_unit,
            yellow_value=seed.yellow_value,
            warned=seed.warned,
            enabled=True,
            effective_from=SEED_FROM,
        )
        session.add(row)
        session.flush()
        record_event(session, actor, "supervision_rule.seed", row, _rule_payload(RuleVersion.of(row)))
        made += 1
    return made


def _rule_payload(v: RuleVersion) -> dict[str, Any]:
    return {
        "code": v.code,
        "version": v.version,
        "title": v.title,
        "source": v.source,
        "source_text": v.source_text,
        "start": v.start_action,
        "stop": v.stop_actions,
        "subject": v.subject,
        "limit": v.limit_value,
        "unit": v.limit_unit.value,
        "yellow": v.yellow_value,
        "warned": list(v.warned),
        "enabled": v.enabled,
        "effective_from": v.effective_from.isoformat(),
    }


def rule_versions(session: Session, code: str) -> list[RuleVersion]:
    """Every version of ``code``, oldest first (NotFound for an unknown code)."""
    rows = session.scalars(
        select(SupervisionRule).where(SupervisionRule.code == code).order_by(SupervisionRule.version)
    )
    versions = [RuleVersion.of(r) for r in rows]
    if not versions:
        raise NotFound(f"没有监督规则“{code}”", code="unknown_rule")
    return versions


def change_rule(session: Session, user: User, code: str, changes: Mapping[str, Any], reason: str) -> SupervisionRule:
    """A new version of rule ``code`` with ``changes`` (fields of ``EDITABLE``), in force from now
    on: clocks already running keep the version they started under. The audit event
    ``supervision_rule.change`` names each change (old and new) and the reason."""
    if not has(user, Permission.SUPERVISION_RULES):
        raise Forbidden("只有行政监督部门的监督人员可以修改监督规则")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput("这些字段不能修改：" + "、".join(unknown), fields={k: "不能修改" for k in unknown})
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 500:
        raise InvalidInput("请写明修改理由（5–500 字）", fields={"reason": "5–500 字"})
    newest = session.scalar(
        locked(select(SupervisionRule).where(SupervisionRule.code == code).order_by(SupervisionRule.version.desc()))
    )
    if newest is None:
        raise NotFound(f"没有监督规则“{code}”", code="unknown_rule")
    top = session.scalar(select(func.max(SupervisionRule.version)).where(SupervisionRule.code == code)) or 0
    old = RuleVersion.of(newest)
    new = _changed(old, changes)
    diff = {
        k: [_plain(getattr(old, k)), _plain(getattr(new, k))] for k in EDITABLE if getattr(old, k) != getattr(new, k)
    }
    if not diff:
        raise InvalidInput("修改后的规则与现行版本相同", code="rule_unchanged")
    row = SupervisionRule(
        code=code,
        version=top + 1,
        title=new.title,
        source=new.source,
        source_text=new.source_text,
        start_action=old.start_action,
        stop_actions=old.stop_actions,
        subject=old.subject,
        limit_value=new.limit_value,
        limit_unit=new.limit_unit,
        yellow_value=new.yellow_value,
        warned=" ".join(new.warned),
        enabled=new.enabled,
        effective_from=clock.now(),
        changed_by_user_id=user.id,
        change_reason=reason,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        user,
        "supervision_rule.change",
        row,
        {"code": code, "version": row.version, "changes": diff, "reason": reason},
    )
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, LimitUnit):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def _changed(old: RuleVersion, changes: Mapping[str, Any]) -> RuleVersion:
    """``old`` with ``changes`` applied and checked: a named 422 for a value out of its bounds."""
    values = {k: v for k, v in changes.items() if v is not None}
    unit = LimitUnit(values.get("limit_unit", old.limit_unit))
    limit = int(values.get("limit_value", old.limit_value))
    yellow = int(values.get("yellow_value", old.yellow_value))
    if not 1 <= limit <= LIMIT_MAX[unit]:
        raise InvalidInput(
            f"时限应为 1–{LIMIT_MAX[unit]}{unit.label}",
            code="bad_limit",
            fields={"limit_value": f"1–{LIMIT_MAX[unit]}"},
        )
    if not 0 <= yellow <= limit:
        raise InvalidInput("黄灯提前量应在 0 与时限之间", code="bad_limit", fields={"yellow_value": f"0–{limit}"})
    warned_in = values.get("warned", old.warned)
    warned = tuple(dict.fromkeys(warned_in.split() if isinstance(warned_in, str) else warned_in))
    if not warned or any(w not in WARNED_LABELS for w in warned):
        raise InvalidInput("请选择预警通知对象", fields={"warned": "、".join(WARNED_LABELS)})
    texts = {k: str(values.get(k, getattr(old, k))).strip() for k in ("title", "source", "source_text")}
    for k, most in (("title", 100), ("source", 200), ("source_text", 5000)):
        if not 1 <= len(texts[k]) <= most:
            raise InvalidInput(f"字段长度应为 1–{most} 字", fields={k: f"1–{most} 字"})
    return RuleVersion(
        old.id,
        old.code,
        old.version,
        texts["title"],
        texts["source"],
        texts["source_text"],
        old.start_action,
        old.stop_actions,
        old.subject,
        limit,
        unit,
        yellow,
        warned,
        bool(values.get("enabled", old.enabled)),
        old.effective_from,
        old.changed_by_user_id,
        old.change_reason,
    )
