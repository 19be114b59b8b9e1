"""What the pages, the API, the command line and the monitor show of the clocks (预警): each clock's
colour now (computed at the request, not only by the sweep), its rule with the law quoted, and
the audit events that started and stopped it, each with its inclusion proof against the newest
public signed checkpoint that covers it ("proof pending" until a checkpoint does).

The warnings are the clocks whose ``worst`` colour is yellow or red: a red light stays on the
record after the act is done late (红灯追责).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive import transparency as log
from archive.audit import AuditEvent
from archive.merkle import verify_inclusion
from trading.audit.labels import action_label
from trading.core.errors import InvalidInput, NotFound
from trading.core.schemas import printable
from trading.supervision.clock_colours import clock_where
from trading.supervision.clocks import clocks_of_lots
from trading.supervision.models import Colour, Complaint, SupervisionClock, SupervisionRule
from trading.supervision.rulebook import RuleVersion, rule_versions
from trading.supervision.rules import SUBJECT_LABELS, WARNED_LABELS, colour_at, colour_text
from trading.tenders.models import Lot, Tender

PER_PAGE = 50
PAGE_MAX = 10_000
TENDER_CODE_MAX = 32


@dataclass(frozen=True)
class ClockView:
    """One clock as people read it, at ``now``."""

    id: int
    rule: RuleVersion
    subject: str
    tender_code: str | None
    tender_title: str | None
    lot_id: int | None
    lot_number: int | None
    complaint_id: int | None
    complaint_number: str | None
    started_seq: int
    started_at: dt.datetime
    yellow_at: dt.datetime
    due_at: dt.datetime  # while paused: as if it resumed now
    stopped_seq: int | None
    stopped_at: dt.datetime | None
    paused_since: dt.datetime | None
    paused_seconds: int
    colour: Colour  # now
    worst: Colour
    now: dt.datetime

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def late(self) -> bool:
        """Done after the limit, or still running past it."""
        return (self.stopped_at or self.now) >= self.due_at

    @property
    def remaining_seconds(self) -> int | None:
        """Seconds left until the limit (negative: past it) while it runs; None once stopped."""
        return None if self.stopped_at else int((self.due_at - self.now).total_seconds())

    @property
    def colour_label(self) -> str:
        return colour_text(self.colour)

    @property
    def worst_label(self) -> str:
        return colour_text(self.worst)

    @property
    def where(self) -> str:
        tender = (self.tender_title or "", self.tender_code) if self.tender_code else None
        return clock_where(tender, self.lot_number, self.complaint_number, self.subject)

    def to_json(self) -> dict[str, Any]:
        r = self.rule
        return {
            "id": self.id,
            "rule": r.code,
            "rule_version": r.version,
            "rule_title": r.title,
            "source": r.source,
            "limit": r.limit,
            "subject": self.subject,
            "where": self.where,
            "tender": self.tender_code,
            "lot": self.lot_number,
            "complaint": self.complaint_number,
            "started_seq": self.started_seq,
            "started_at": self.started_at.isoformat(),
            "yellow_at": self.yellow_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "stopped_seq": self.stopped_seq,
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "paused": self.paused_since is not None,
            "paused_seconds": self.paused_seconds,
            "colour": self.colour.value,
            "colour_label": self.colour_label,
            "worst": self.worst.value,
            "worst_label": self.worst_label,
            "late": self.late,
            "remaining_seconds": self.remaining_seconds,
        }


def clock_views(session: Session, clocks: Sequence[SupervisionClock], now: dt.datetime) -> list[ClockView]:
    """Views of ``clocks`` at ``now``, their rules, tenders, lots and complaints read in one go."""
    if not clocks:
        return []
    rules = {
        r.id: RuleVersion.of(r)
        for r in session.scalars(select(SupervisionRule).where(SupervisionRule.id.in_({c.rule_id for c in clocks})))
    }
    tenders = {
        t.id: t
        for t in session.scalars(select(Tender).where(Tender.id.in_({c.tender_id for c in clocks if c.tender_id})))
    }
    lots = {
        lot.id: lot.number
        for lot in session.scalars(select(Lot).where(Lot.id.in_({c.lot_id for c in clocks if c.lot_id})))
    }
    complaint_ids = {c.complaint_id for c in clocks if c.complaint_id}
    complaints = {
        k: v for k, v in session.execute(select(Complaint.id, Complaint.number).where(Complaint.id.in_(complaint_ids)))
    }
    out = []
    for c in clocks:
        paused = clock.as_utc(c.paused_since) if c.paused_since else None
        yellow, due = clock.as_utc(c.yellow_at), clock.as_utc(c.due_at)
        stopped = clock.as_utc(c.stopped_at) if c.stopped_at else None
        if stopped is not None:
            colour = c.colour  # the colour it stopped in (red when done late)
        else:
            colour = colour_at(yellow, due, paused, now)
            colour = colour if colour.rank >= c.colour.rank else c.colour
        standing = max(now - paused, dt.timedelta(0)) if paused else dt.timedelta(0)
        tender = tenders.get(c.tender_id) if c.tender_id else None
        out.append(
            ClockView(
                id=c.id,
                rule=rules[c.rule_id],
                subject=c.subject_key,
                tender_code=tender.code if tender else None,
                tender_title=tender.title if tender else None,
                lot_id=c.lot_id,
                lot_number=lots.get(c.lot_id) if c.lot_id else None,
                complaint_id=c.complaint_id,
                complaint_number=complaints.get(c.complaint_id) if c.complaint_id else None,
                started_seq=c.started_seq,
                started_at=clock.as_utc(c.started_at),
                yellow_at=yellow + standing,
                due_at=due + standing,
                stopped_seq=c.stopped_seq,
                stopped_at=stopped,
                paused_since=paused,
                paused_seconds=c.paused_seconds,
                colour=colour,
                worst=colour if colour.rank > c.worst.rank else c.worst,
                now=now,
            )
        )
    return out


def views_of_lots(session: Session, lot_ids: Iterable[int], now: dt.datetime) -> list[ClockView]:
    """Every clock of these lots at ``now`` (the monitor's countdowns and warnings)."""
    return clock_views(session, clocks_of_lots(session, lot_ids), now)


# ---------------------------------------------------------------- the list and its filters
def parse_colour(text: str | None) -> Colour | None:
    """The colour filter: green, yellow or red (None: yellow and red, the warnings)."""
    if not text:
        return None
    try:
        return Colour(text)
    except ValueError:
        raise InvalidInput(
            "颜色应为 green（绿灯）、yellow（黄灯）或 red（红灯）",
            code="unknown_colour",
            fields={"colour": "green、yellow、red"},
        ) from None


def parse_rule(session: Session, text: str | None) -> str | None:
    if not text:
        return None
    if (
        len(text) > 40
        or session.scalar(select(SupervisionRule.id).where(SupervisionRule.code == text).limit(1)) is None
    ):
        raise InvalidInput(f"没有监督规则“{printable(text[:40])}”", code="unknown_rule", fields={"rule": "规则代码"})
    return text


def parse_tender(text: str | None) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > TENDER_CODE_MAX or not text.isprintable():
        raise InvalidInput("招标项目编号格式不对", fields={"tender": f"至多 {TENDER_CODE_MAX} 个字符"})
    return text


@dataclass(frozen=True)
class WarningsPage:
    items: list[ClockView]
    total: int
    page: int
    per_page: int = PER_PAGE


def list_warnings(
    session: Session,
    now: dt.datetime,
    *,
    colour: Colour | None = None,
    rule: str | None = None,
    tender: str | None = None,
    page: int = 1,
) -> WarningsPage:
    """The clocks whose worst colour is ``colour`` (default: yellow or red), newest first."""
    q = select(SupervisionClock)
    if colour is not None:
        q = q.where(SupervisionClock.worst == colour.value)
    else:
        q = q.where(SupervisionClock.worst != Colour.GREEN.value)
    if rule is not None:
        q = q.where(SupervisionClock.rule_code == rule)
    if tender is not None:
        q = q.join(Tender, Tender.id == SupervisionClock.tender_id).where(Tender.code == tender)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(SupervisionClock.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    return WarningsPage(clock_views(session, list(rows), now), total, page)


def get_view(session: Session, clock_id: int, now: dt.datetime) -> ClockView:
    c = session.get(SupervisionClock, clock_id)
    if c is None:
        raise NotFound(f"预警 {clock_id} 不存在")
    return clock_views(session, [c], now)[0]


# ---------------------------------------------------------------- rules
def rule_json(v: RuleVersion) -> dict[str, Any]:
    return {
        "code": v.code,
        "version": v.version,
        "title": v.title,
        "source": v.source,
        "source_text": v.source_text,
        "start_action": v.start_action,
        "stop_actions": v.stop_actions,
        "subject": v.subject,
        "subject_label": SUBJECT_LABELS.get(v.subject, v.subject),
        "limit_value": v.limit_value,
        "limit_unit": v.limit_unit.value,
        "limit_unit_label": v.limit_unit.label,
        "limit": v.limit,
        "yellow_value": v.yellow_value,
        "warned": list(v.warned),
        "warned_labels": [WARNED_LABELS.get(w, w) for w in v.warned],
        "enabled": v.enabled,
        "effective_from": v.effective_from.isoformat(),
        "changed_by_user_id": v.changed_by_user_id,
        "change_reason": v.change_reason,
    }


@dataclass(frozen=True)
class RuleHistory:
    current: RuleVersion
    versions: list[RuleVersion]  # newest first

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.current.code,
            "current": rule_json(self.current),
            "versions": [rule_json(v) for v in self.versions],
        }


def rule_histories(session: Session) -> list[RuleHistory]:
    """Every rule with every version, in the order of their first version."""
    by_code: dict[str, list[RuleVersion]] = {}
    for r in session.scalars(select(SupervisionRule).order_by(SupervisionRule.id)):
        by_code.setdefault(r.code, []).append(RuleVersion.of(r))
    out = []
    for versions in by_code.values():
        ordered = sorted(versions, key=lambda v: v.version, reverse=True)
        out.append(RuleHistory(ordered[0], ordered))
    return out


def rule_history(session: Session, code: str) -> RuleHistory:
    versions = sorted(rule_versions(session, code), key=lambda v: v.version, reverse=True)
    return RuleHistory(versions[0], versions)


# ---------------------------------------------------------------- events and their proofs
def newest_public_checkpoint(session: Session) -> log.CheckpointView | None:
    cp = session.scalar(
        select(log.LogCheckpoint)
        .where(log.LogCheckpoint.statement.is_not(None), log.LogCheckpoint.reason != log.ANCHOR)
        .order_by(log.LogCheckpoint.tree_size.desc(), log.LogCheckpoint.id.desc())
        .limit(1)
    )
    if cp is None:
        return None
    return log.CheckpointView(
        cp.id,
        cp.tree_size,
        cp.root_hash or b"",
        cp.signed_at or cp.requested_at,
        cp.reason,
        cp.subject,
        cp.statement or "",
    )


def event_with_proof(session: Session, seq: int, checkpoint: log.CheckpointView | None) -> dict[str, Any] | None:
    """The audit event ``seq`` with its inclusion proof against ``checkpoint`` (the newest public
    signed one), or marked pending when that checkpoint does not cover it yet."""
    e = session.get(AuditEvent, seq)
    if e is None:
        return None
    out: dict[str, Any] = {
        "seq": e.seq,
        "at": clock.as_utc(e.at).isoformat(),
        "action": e.action,
        "action_label": action_label(e.action),
        "object": f"{e.object_type}:{e.object_id}",
        "payload": json.loads(e.payload),
        "leaf_hash": e.leaf_hash.hex(),
        "checkpoint": None,
        "proof": None,
        "proof_pending": True,
        "verified": False,
    }
    if checkpoint is None or checkpoint.tree_size < seq:
        return out
    proof = log.inclusion_proof(session, seq, checkpoint.tree_size)
    out |= {
        "checkpoint": {
            "id": checkpoint.id,
            "tree_size": checkpoint.tree_size,
            "root_sm3": checkpoint.root.hex(),
            "signed_at": clock.as_utc(checkpoint.signed_at).isoformat(),
            "reason": checkpoint.reason,
            "subject": checkpoint.subject,
            "statement": checkpoint.statement,
        },
        "proof": [h.hex() for h in proof],
        "proof_pending": False,
        "verified": verify_inclusion(seq - 1, checkpoint.tree_size, e.leaf_hash, proof, checkpoint.root),
    }
    return out


def warning_detail(session: Session, clock_id: int, now: dt.datetime) -> dict[str, Any]:
    """One clock with its rule (the law quoted) and its start and stop events with their proofs."""
    v = get_view(session, clock_id, now)
    cp = newest_public_checkpoint(session)
    return v.to_json() | {
        "rule_detail": rule_json(v.rule),
        "start": event_with_proof(session, v.started_seq, cp),
        "stop": event_with_proof(session, v.stopped_seq, cp) if v.stopped_seq else None,
    }
