"""Following the audit log: the events after the cursor, in chunks, each chunk in a savepoint (an event
that fails is taken alone and recorded as ``supervision_clock.event_failed``); starts open clocks,
stops stop them, suspensions pause and resume them."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event, write_pending
from trading.core.scheduler import error_summary
from trading.supervision.clock_colours import SweepContext, clock_payload, warn
from trading.supervision.clock_subjects import Facts, LogEvent, Where, resolve
from trading.supervision.models import (
    Colour,
    SupervisionClock,
)
from trading.supervision.rulebook import cursor
from trading.supervision.rules import (
    Matcher,
    colour_at,
    due_instant,
    next_check,
    resumed,
    worse,
    yellow_instant,
)

log = logging.getLogger("ggzy.supervision")

#: events read per transaction
CHUNK = 500
#: the suspensions that pause a lot's (a tender's) clocks: action → (object type, pauses)
SUSPENSIONS: dict[str, tuple[str, bool]] = {
    "lot.suspend": ("lot", True),
    "lot.resume": ("lot", False),
    "tender.suspend": ("tender", True),
    "tender.resume": ("tender", False),
}
KEY_MAX = 80  # SupervisionClock.subject_key


def follow_log(ctx: SweepContext) -> int:
    session = ctx.session
    if not ctx.book.versions:
        return 0  # no rules yet (``ensure_seed`` first): the cursor must not pass events unmeasured
    actions = sorted(ctx.book.actions | set(SUSPENSIONS))
    head = session.scalar(select(func.max(AuditEvent.seq))) or 0
    changed = 0
    while True:
        cur = cursor(session)
        if cur.seq >= head:
            session.commit()
            return changed
        rows = session.execute(
            select(
                AuditEvent.seq,
                AuditEvent.at,
                AuditEvent.action,
                AuditEvent.object_type,
                AuditEvent.object_id,
                AuditEvent.payload,
            )
            .where(AuditEvent.seq > cur.seq, AuditEvent.seq <= head, AuditEvent.action.in_(actions))
            .order_by(AuditEvent.seq)
            .limit(CHUNK)
        ).all()
        events = [LogEvent(r[0], clock.as_utc(r[1]), r[2], r[3], r[4], _payload(r[5])) for r in rows]
        if events:
            changed += _apply_chunk(ctx, events)
        cur.seq = events[-1].seq if len(events) == CHUNK else head
        session.commit()


def _payload(raw: str) -> Mapping[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _apply_chunk(ctx: SweepContext, events: Sequence[LogEvent]) -> int:
    """The chunk in a savepoint; if it fails, each event in one of its own, and the one that fails
    recorded and passed over."""
    session = ctx.session
    write_pending(session)  # appends made before the savepoint must not be dropped with it
    try:
        with session.begin_nested():
            return _Chunk(ctx, events).apply()
    except OperationalError:
        raise  # contention or a lost connection: the sweep stops, the next one goes on from the cursor
    except Exception as exc:
        log.error("supervision: a chunk of %s events failed; taking them one by one", len(events), exc_info=exc)
    done = 0
    for ev in events:
        write_pending(session)
        try:
            with session.begin_nested():
                done += _Chunk(ctx, [ev]).apply()
        except OperationalError:
            raise
        except Exception as exc:
            log.error("supervision: event %s (%s) passed over", ev.seq, ev.action, exc_info=exc)
            record_event(
                session,
                SYSTEM,
                "supervision_clock.event_failed",
                ("audit_event", str(ev.seq)),
                {"action": ev.action, **error_summary(exc)},
            )
    return done


class _Chunk:
    """The events of one chunk, applied in order."""

    def __init__(self, ctx: SweepContext, events: Sequence[LogEvent]) -> None:
        self.ctx, self.session, self.book, self.events = ctx, ctx.session, ctx.book, events
        self.where = resolve(self.session, events)
        self.facts = Facts(self.session)
        self.open: dict[tuple[str, str], list[SupervisionClock]] = defaultdict(list)

    def _key(self, subject: str, ev: LogEvent) -> str | None:
        where = self.where[ev.seq]
        if subject == "lot":
            key = f"lot:{where.lot_id}" if where.lot_id else None
        elif subject == "tender":
            key = f"tender:{where.tender_id}" if where.tender_id else None
        else:
            key = f"{ev.object_type}:{ev.object_id}"
        return key if key is not None and len(key) <= KEY_MAX else None

    def _prefetch(self) -> None:
        keys: set[str] = set()
        for ev in self.events:
            for code, _ in [*self.book.starts.get(ev.action, []), *self.book.stops.get(ev.action, [])]:
                key = self._key(self.book.subject(code), ev)
                if key is not None:
                    keys.add(key)
        ordered = sorted(keys)
        for i in range(0, len(ordered), 500):
            q = select(SupervisionClock).where(
                SupervisionClock.stopped_seq.is_(None), SupervisionClock.subject_key.in_(ordered[i : i + 500])
            )
            for c in self.session.scalars(q.order_by(SupervisionClock.id)):
                self.open[(c.rule_code, c.subject_key)].append(c)

    def apply(self) -> int:
        self._prefetch()
        starting = [self.where[e.seq] for e in self.events if e.action in self.book.starts]
        self.facts.read_suspensions(w for w in starting if w.complaint_id is None)
        changed = 0
        with self.session.no_autoflush:  # the new clocks go in one batch (queries that must see them flush first)
            for ev in self.events:
                changed += self._apply_one(ev)
        self.session.flush()
        return changed

    def _apply_one(self, ev: LogEvent) -> int:
        changed = 0
        where = self.where[ev.seq]

        def holds(guard: str) -> bool:
            return self.facts.holds(guard, ev, where)

        if ev.action in SUSPENSIONS:
            changed += self._suspension(ev, where)
        for code, m in self.book.stops.get(ev.action, []):
            if m.matches(ev.action, ev.payload, holds):
                changed += self._stop_all(code, m, ev, where)
        for code, m in self.book.starts.get(ev.action, []):
            if m.matches(ev.action, ev.payload, holds):
                changed += self._start(code, ev, where)
        return changed

    # -- start
    def _start(self, code: str, ev: LogEvent, where: Where) -> int:
        rule = self.book.in_force(code, ev.at)
        if rule is None or not rule.enabled:
            return 0
        key = self._key(rule.subject, ev)
        if key is None or self.open[(code, key)]:
            return 0  # nothing to pair it with, or the limit already runs from an earlier start
        ov = self.ctx.overrides
        yellow, due = yellow_instant(ev.at, rule, ov), due_instant(ev.at, rule, ov)
        paused = None
        if where.complaint_id is None:  # a complaint's limits run while the procedure is suspended
            since = [
                self.facts.suspended_since(kind, obj, ev.seq)
                for kind, obj in (("lot", where.lot_id), ("tender", where.tender_id))
                if obj is not None
            ]
            paused = ev.at if any(s is not None for s in since) else None
        c = SupervisionClock(
            rule_id=rule.id,
            rule_code=code,
            subject_key=key,
            tender_id=where.tender_id,
            lot_id=where.lot_id,
            complaint_id=where.complaint_id,
            started_seq=ev.seq,
            started_at=ev.at,
            yellow_at=yellow,
            due_at=due,
            paused_since=paused,
            paused_seconds=0,
            colour=Colour.GREEN,
            worst=Colour.GREEN,
            next_check_at=None if paused else next_check(Colour.GREEN, yellow, due),
        )
        self.session.add(c)
        self.open[(code, key)].append(c)
        return 1

    # -- stop
    def _stop_all(self, code: str, m: Matcher, ev: LogEvent, where: Where) -> int:
        if m.complaint_scope:
            if where.complaint_id is None:
                return 0
            self.session.flush()
            q = select(SupervisionClock).where(
                SupervisionClock.rule_code == code,
                SupervisionClock.complaint_id == where.complaint_id,
                SupervisionClock.stopped_seq.is_(None),
            )
            found = list(self.session.scalars(q))
        else:
            key = self._key(self.book.subject(code), ev)
            found = list(self.open.get((code, key), [])) if key is not None else []
        done = 0
        for c in found:
            if c.stopped_seq is None and c.started_seq < ev.seq:
                self._stop(c, ev)
                self.open[(c.rule_code, c.subject_key)].remove(c) if c in self.open[
                    (c.rule_code, c.subject_key)
                ] else None
                done += 1
        return done

    def _stop(self, c: SupervisionClock, ev: LogEvent) -> None:
        if c.paused_since is not None:  # stopped while suspended: the pause ends with it
            paused = max(ev.at - clock.as_utc(c.paused_since), dt.timedelta(0))
            c.yellow_at, c.due_at = resumed(clock.as_utc(c.yellow_at), clock.as_utc(c.due_at), paused)
            c.paused_seconds += int(paused.total_seconds())
            c.paused_since = None
        final = worse(colour_at(clock.as_utc(c.yellow_at), clock.as_utc(c.due_at), None, ev.at), c.colour)
        c.stopped_seq, c.stopped_at = ev.seq, ev.at
        c.colour, c.worst, c.next_check_at = final, worse(c.worst, final), None
        if final is Colour.RED:  # 红灯追责: done late, red for good, on the record
            self.session.flush()
            rule = self.book.by_id[c.rule_id]
            late = ev.at - clock.as_utc(c.due_at)
            record_event(
                self.session,
                SYSTEM,
                "supervision_clock.late",
                c,
                {
                    **clock_payload(c, rule),
                    "stopped_seq": ev.seq,
                    "stopped_at": ev.at.isoformat(),
                    "late_seconds": int(late.total_seconds()),
                },
            )
            warn(self.ctx, c, rule, "late")

    # -- pause and resume
    def _suspension(self, ev: LogEvent, where: Where) -> int:
        kind, pauses = SUSPENSIONS[ev.action]
        obj = where.lot_id if kind == "lot" else where.tender_id
        if obj is None:
            return 0
        column = SupervisionClock.lot_id if kind == "lot" else SupervisionClock.tender_id
        self.session.flush()
        q = select(SupervisionClock).where(
            column == obj,
            SupervisionClock.complaint_id.is_(None),
            SupervisionClock.stopped_seq.is_(None),
            SupervisionClock.started_seq < ev.seq,
            SupervisionClock.paused_since.is_(None) if pauses else SupervisionClock.paused_since.is_not(None),
        )
        clocks = list(self.session.scalars(q))
        for c in clocks:
            if pauses:
                c.paused_since, c.next_check_at = ev.at, None
                continue
            paused = max(ev.at - clock.as_utc(c.paused_since or ev.at), dt.timedelta(0))
            c.yellow_at, c.due_at = resumed(clock.as_utc(c.yellow_at), clock.as_utc(c.due_at), paused)
            c.paused_seconds += int(paused.total_seconds())
            c.paused_since = None
            c.next_check_at = next_check(c.colour, c.yellow_at, c.due_at)
        return len(clocks)
