"""Recolouring the running clocks when their instant comes (黄灯预警、红灯), and the warnings: the audit
event of each change and the notices to whom the rule names."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event, write_pending
from archive.db import locked
from trading.accounts.models import Organisation, OrgKind
from trading.core.formats import local_time
from trading.core.scheduler import attempt, error_summary
from trading.procedures.calendar import Overrides
from trading.supervision.clock_subjects import as_int
from trading.supervision.models import (
    Colour,
    Complaint,
    StatementRequest,
    SupervisionClock,
)
from trading.supervision.rulebook import Rulebook, RuleVersion
from trading.supervision.rules import (
    colour_at,
    next_check,
    worse,
)
from trading.tenders import notifications
from trading.tenders.models import Lot, Tender

log = logging.getLogger("ggzy.supervision")

#: clocks recoloured per sweep at most (the next sweep goes on), and per transaction
RECOLOUR_LIMIT = 20_000
RECOLOUR_BATCH = 200
RECOLOUR_FAILED = "supervision_clock.recolour_failed"
#: the audit action of a change of colour
COLOUR_ACTIONS = {Colour.YELLOW: "supervision_clock.yellow", Colour.RED: "supervision_clock.red"}


class SweepContext:
    """What one sweep reads once: the rules, the calendar, who is warned by kind."""

    def __init__(self, session: Session, book: Rulebook, overrides: Overrides, now: dt.datetime) -> None:
        self.session, self.book, self.overrides, self.now = session, book, overrides, now
        self._orgs: dict[OrgKind, list[int]] = {}

    def orgs_of_kind(self, kind: OrgKind) -> list[int]:
        if kind not in self._orgs:
            self._orgs[kind] = list(self.session.scalars(select(Organisation.id).where(Organisation.kind == kind)))
        return self._orgs[kind]


# ---------------------------------------------------------------- recolouring and warning
def recolour_due(ctx: SweepContext) -> int:
    """The running clocks whose ``next_check_at`` has come, a batch per transaction: the batch in
    a savepoint, and if it fails each clock through ``attempt`` (its own savepoint; its failure the
    audit event ``supervision_clock.recolour_failed``, retried with a pause up to a cap). A clock
    that failed before goes through ``attempt`` straight away, so it holds up no batch again."""
    session, now = ctx.session, ctx.now
    due = list(
        session.scalars(
            select(SupervisionClock.id)
            .where(SupervisionClock.next_check_at <= now)
            .order_by(SupervisionClock.next_check_at, SupervisionClock.id)
            .limit(RECOLOUR_LIMIT)
        )
    )
    session.commit()
    changed = 0
    for i in range(0, len(due), RECOLOUR_BATCH):
        batch = due[i : i + RECOLOUR_BATCH]
        try:
            changed += _recolour_batch(ctx, batch)
            session.commit()
        except OperationalError as exc:  # contention or a lost connection: the next sweep tries again
            session.rollback()
            log.warning(
                "supervision: %s clocks not recoloured this time (%s)", len(batch), error_summary(exc)["message"]
            )
    return changed


def _recolour_batch(ctx: SweepContext, ids: list[int]) -> int:
    session = ctx.session
    failed = set(
        session.scalars(
            select(AuditEvent.object_id).where(
                AuditEvent.action == RECOLOUR_FAILED,
                AuditEvent.object_type == "supervision_clock",
                AuditEvent.object_id.in_([str(i) for i in ids]),
            )
        )
    )
    clean = [i for i in ids if str(i) not in failed]
    one_by_one = [i for i in ids if str(i) in failed]
    changed = 0
    if clean:
        write_pending(session)  # appends made before the savepoint must not be dropped with it
        try:
            with session.begin_nested():
                q = locked(select(SupervisionClock).where(SupervisionClock.id.in_(clean)), skip_locked=True)
                changed = sum(_recolour(ctx, c) for c in sorted(session.scalars(q), key=lambda c: c.id))
        except OperationalError:
            raise
        except Exception as exc:
            log.error("supervision: a batch of %s clocks failed; taking them one by one", len(clean), exc_info=exc)
            one_by_one = ids
    return changed + sum(_attempt_one(ctx, i) for i in one_by_one)


def _attempt_one(ctx: SweepContext, clock_id: int) -> int:
    def move() -> int:
        return _recolour_one(ctx, clock_id)

    return attempt(ctx.session, RECOLOUR_FAILED, ("supervision_clock", str(clock_id)), ctx.now, move)


def _recolour_one(ctx: SweepContext, clock_id: int) -> int:
    c = ctx.session.scalar(locked(select(SupervisionClock).where(SupervisionClock.id == clock_id), skip_locked=True))
    return 0 if c is None else _recolour(ctx, c)


def _recolour(ctx: SweepContext, c: SupervisionClock) -> int:
    """Bring one running clock's colour up to ``now``: on a change, its audit event and notices."""
    session, now = ctx.session, ctx.now
    if c.stopped_seq is not None or c.paused_since is not None or c.next_check_at is None:
        return 0  # stopped or paused since the sweep read it
    if clock.as_utc(c.next_check_at) > now:
        return 0
    yellow_at, due_at = clock.as_utc(c.yellow_at), clock.as_utc(c.due_at)
    new = worse(colour_at(yellow_at, due_at, None, now), c.colour)
    c.next_check_at = next_check(new, yellow_at, due_at)
    if new is c.colour:
        return 0
    rule = ctx.book.by_id[c.rule_id]
    c.colour, c.worst = new, worse(c.worst, new)
    record_event(session, SYSTEM, COLOUR_ACTIONS[new], c, clock_payload(c, rule))
    warn(ctx, c, rule, new.value)
    return 1


def clock_payload(c: SupervisionClock, rule: RuleVersion) -> dict[str, Any]:
    return {
        "rule": rule.code,
        "version": rule.version,
        "subject": c.subject_key,
        "started_seq": c.started_seq,
        "yellow_at": clock.as_utc(c.yellow_at).isoformat(),
        "due_at": clock.as_utc(c.due_at).isoformat(),
        "paused_seconds": c.paused_seconds,
    }


def recipients(ctx: SweepContext, c: SupervisionClock, rule: RuleVersion, tender: Tender) -> list[int]:
    """The organisations the rule names for this clock."""
    session = ctx.session
    orgs: set[int] = set()
    for who in rule.warned:
        if who == "managers":
            orgs |= {o for o in (tender.tenderee_org_id, tender.agency_org_id) if o is not None}
        elif who == "supervisors":
            orgs |= set(ctx.orgs_of_kind(OrgKind.SUPERVISION))
        elif who == "center":
            orgs |= set(ctx.orgs_of_kind(OrgKind.TRADING_CENTER))
        elif who == "complainant" and c.complaint_id is not None:
            org = session.scalar(select(Complaint.complainant_org_id).where(Complaint.id == c.complaint_id))
            orgs |= {org} if org is not None else set()
        elif who == "asked" and c.subject_key.startswith("complaint_statement:"):
            sid = as_int(c.subject_key.split(":", 1)[1])
            org = session.scalar(select(StatementRequest.org_id).where(StatementRequest.id == sid)) if sid else None
            orgs |= {org} if org is not None else set()
    return sorted(orgs)


def clock_where(
    tender: tuple[str, str] | None, lot_number: int | None, complaint_number: str | None, subject: str
) -> str:
    """《项目名称》（编号）第N标段 / 投诉 TS-…: what a clock is about, in words (``tender``: title, code)."""
    parts = []
    if tender is not None:
        parts.append(f"《{tender[0]}》（{tender[1]}）")
    if lot_number is not None:
        parts.append(f"第{lot_number}标段")
    if complaint_number is not None:
        parts.append(f"投诉 {complaint_number}")
    return "".join(parts) or subject


def where_text(session: Session, c: SupervisionClock) -> str:
    """``clock_where`` for a clock, read from the database."""
    tender = session.get(Tender, c.tender_id) if c.tender_id is not None else None
    lot = session.get(Lot, c.lot_id) if c.lot_id is not None else None
    number = None
    if c.complaint_id is not None:
        number = session.scalar(select(Complaint.number).where(Complaint.id == c.complaint_id))
    return clock_where(
        (tender.title, tender.code) if tender is not None else None, lot.number if lot else None, number, c.subject_key
    )


def warn(ctx: SweepContext, c: SupervisionClock, rule: RuleVersion, what: str) -> None:
    session = ctx.session
    tender = session.get(Tender, c.tender_id) if c.tender_id is not None else None
    if tender is None:
        return  # notices are filed under a tender; the audit event stands alone
    where, due = where_text(session, c), local_time(c.due_at, seconds=False)
    if what == "yellow":
        message = f"【黄灯预警】{where}“{rule.title}”将于 {due} 到期（{rule.source}：{rule.limit}），请及时办理。"
    elif what == "red":
        message = (
            f"【红灯超期】{where}“{rule.title}”已于 {due} 到期仍未办结（{rule.source}：{rule.limit}），已记录在案。"
        )
    else:
        done = local_time(c.stopped_at, seconds=False)
        message = f"【红灯追责】{where}“{rule.title}”于 {done} 办结，超过 {due} 的时限（{rule.source}），超期记录保留。"
    orgs = recipients(ctx, c, rule, tender)
    if orgs:
        notifications.notify_orgs(session, tender, orgs, message)
