"""The supervision clocks (黄灯预警、红灯追责), computed from the audit trail.

``sweep`` is the scheduler's idempotent job. It reads the audit events after the cursor
(``SupervisionCursor``), only those of the actions the rules name, in chunks: a start event opens
a clock under the rule version in force at the event's time (one clock per rule and subject at a
time: the limit runs from the first start), a stop event stops the open clocks of its subject,
``lot.suspend``/``lot.resume`` (``tender.suspend``/``tender.resume``) pause and resume the
clocks of the lot (tender), never a complaint's. Then it recolours the running clocks whose
``next_check_at`` has come (indexed: a clock that cannot change colour is never read). A change
of colour is the audit event ``supervision_clock.yellow`` / ``supervision_clock.red`` about the clock and a
notice to whom the rule names; a clock stopped after its due instant is red for good (``worst``)
and that is the audit event ``supervision_clock.late``.

Each chunk of events moves in a savepoint; should one fail, its events are taken one by one and
the event that fails is recorded (``supervision_clock.event_failed``) and passed over, so one bad event
never stops the others. Each recolouring is an item of ``each_attempted`` (its failure is
``supervision_clock.recolour_failed``, retried with a pause up to a cap). The cursor moves in the
transaction of the chunk it passes: twice the same sweep changes nothing.

The rule versions (their seed and changes) are ``trading.supervision.rulebook``'s.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event, write_pending
from archive.db import locked
from trading.accounts.models import Organisation, OrgKind
from trading.core.formats import local_time
from trading.core.scheduler import attempt, error_summary
from trading.evaluation.models import Evaluation, PublicityObjection
from trading.guarantees.lifecycle import RELEASABLE
from trading.guarantees.models import Guarantee
from trading.opening.models import Ceremony
from trading.procedures.calendar import Overrides
from trading.procedures.operations import overrides as calendar_overrides
from trading.supervision.models import (
    Colour,
    Complaint,
    StatementRequest,
    SupervisionClock,
)
from trading.supervision.rulebook import Rulebook, RuleVersion, cursor, load_rules
from trading.supervision.rules import (
    Matcher,
    colour_at,
    due_instant,
    next_check,
    resumed,
    worse,
    yellow_instant,
)
from trading.tenders import notifications
from trading.tenders.models import Lot, Tender

log = logging.getLogger("ggzy.supervision")

#: events read per transaction
CHUNK = 500
#: clocks recoloured per sweep at most (the next sweep goes on), and per transaction
RECOLOUR_LIMIT = 20_000
RECOLOUR_BATCH = 200
RECOLOUR_FAILED = "supervision_clock.recolour_failed"
#: the suspensions that pause a lot's (a tender's) clocks: action → (object type, pauses)
SUSPENSIONS: dict[str, tuple[str, bool]] = {
    "lot.suspend": ("lot", True),
    "lot.resume": ("lot", False),
    "tender.suspend": ("tender", True),
    "tender.resume": ("tender", False),
}
#: the pause and resume actions of a lot (tender), as the log reads them
PAUSE_ACTIONS = {"lot": ("lot.suspend", "lot.resume"), "tender": ("tender.suspend", "tender.resume")}
#: the audit action of a change of colour
COLOUR_ACTIONS = {Colour.YELLOW: "supervision_clock.yellow", Colour.RED: "supervision_clock.red"}
_KEY_MAX = 80  # SupervisionClock.subject_key


# ---------------------------------------------------------------- the clocks others read
def clocks_of_lots(session: Session, lot_ids: Iterable[int]) -> list[SupervisionClock]:
    """The clocks about these lots (a complaint's too, when it names the lot), oldest first."""
    ids = sorted(set(lot_ids))
    if not ids:
        return []
    q = select(SupervisionClock).where(SupervisionClock.lot_id.in_(ids)).order_by(SupervisionClock.id)
    return list(session.scalars(q))


def clock_refs_of_lot(session: Session, lot_id: int) -> list[tuple[str, str]]:
    """The audit refs of the lot's clocks and of the rule versions they ran by: the archive package
    takes their events (the seed or change of the rule, each yellow, red and late)."""
    clocks = clocks_of_lots(session, [lot_id])
    rules = {("supervision_rule", str(c.rule_id)): None for c in clocks}
    return [*rules, *(c.audit_ref for c in clocks)]


# ---------------------------------------------------------------- the sweep
def sweep(session: Session, now: dt.datetime) -> int:
    """Start, stop, pause and resume clocks from the new audit events, then recolour the running
    clocks that are due; how many clocks changed. Idempotent; commits as it goes (per chunk of
    events and per recoloured clock)."""
    ctx = _Context(session, load_rules(session), calendar_overrides(session), now)
    changed = _follow_log(ctx)
    return changed + _recolour_due(ctx)


@dataclass(frozen=True)
class LogEvent:
    seq: int
    at: dt.datetime
    action: str
    object_type: str
    object_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Where:
    """What an event is about, as far as the clocks care."""

    lot_id: int | None = None
    tender_id: int | None = None
    complaint_id: int | None = None


class _Context:
    """What one sweep reads once: the rules, the calendar, who is warned by kind."""

    def __init__(self, session: Session, book: Rulebook, overrides: Overrides, now: dt.datetime) -> None:
        self.session, self.book, self.overrides, self.now = session, book, overrides, now
        self._orgs: dict[OrgKind, list[int]] = {}

    def orgs_of_kind(self, kind: OrgKind) -> list[int]:
        if kind not in self._orgs:
            self._orgs[kind] = list(self.session.scalars(select(Organisation.id).where(Organisation.kind == kind)))
        return self._orgs[kind]


def _follow_log(ctx: _Context) -> int:
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


def _apply_chunk(ctx: _Context, events: Sequence[LogEvent]) -> int:
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


def _int(text: Any) -> int | None:
    try:
        n = int(str(text))
    except ValueError:
        return None
    return n if 0 < n < 2**31 else None


def _resolve(session: Session, events: Sequence[LogEvent]) -> dict[int, Where]:
    """Each event's lot, tender and complaint, read in one query per kind of object."""
    by_type: dict[str, set[int]] = defaultdict(set)
    packages: set[tuple[str, int]] = set()
    for ev in events:
        n = _int(ev.object_id)
        if ev.object_type == "archive_package":
            lot_no = _int(ev.payload.get("lot"))
            if isinstance(ev.payload.get("tender"), str) and lot_no is not None:
                packages.add((ev.payload["tender"], lot_no))
        elif n is not None:
            by_type[ev.object_type].add(n)

    def pairs(q: Any) -> dict[int, tuple[Any, ...]]:
        return {row[0]: tuple(row[1:]) for row in session.execute(q)}

    lot_of: dict[tuple[str, int], int | None] = {("lot", n): n for n in by_type["lot"]}
    lot_queries: dict[str, Any] = {
        "evaluation": select(Evaluation.id, Evaluation.lot_id).where(Evaluation.id.in_(by_type["evaluation"])),
        "evaluation_objection": select(PublicityObjection.id, Evaluation.lot_id)
        .join(Evaluation, Evaluation.id == PublicityObjection.evaluation_id)
        .where(PublicityObjection.id.in_(by_type["evaluation_objection"])),
        "guarantee": select(Guarantee.id, Guarantee.lot_id).where(Guarantee.id.in_(by_type["guarantee"])),
    }
    for kind, q in lot_queries.items():
        if by_type[kind]:
            lot_of |= {(kind, k): v[0] for k, v in pairs(q).items()}
    complaint_of: dict[tuple[str, int], tuple[Any, ...]] = {}
    complaint_queries: dict[str, Any] = {
        "complaint": select(Complaint.id, Complaint.id, Complaint.tender_id, Complaint.lot_id).where(
            Complaint.id.in_(by_type["complaint"])
        ),
        "complaint_statement": select(StatementRequest.id, Complaint.id, Complaint.tender_id, Complaint.lot_id)
        .join(Complaint, Complaint.id == StatementRequest.complaint_id)
        .where(StatementRequest.id.in_(by_type["complaint_statement"])),
    }
    for kind, q in complaint_queries.items():
        if by_type[kind]:
            complaint_of |= {(kind, k): v for k, v in pairs(q).items()}
    package_lot: dict[tuple[str, int], int] = {}
    if packages:
        pq = (
            select(Tender.code, Lot.number, Lot.id)
            .join(Lot, Lot.tender_id == Tender.id)
            .where(Tender.code.in_({code for code, _ in packages}))
        )
        package_lot = {(code, number): lot_id for code, number, lot_id in session.execute(pq)}
    lot_ids = {v for v in lot_of.values() if v is not None} | set(package_lot.values())
    tender_of_lot: dict[int, int] = {}
    if lot_ids:
        tender_of_lot = {k: v for k, v in session.execute(select(Lot.id, Lot.tender_id).where(Lot.id.in_(lot_ids)))}
    tenders: set[int] = set()
    if by_type["tender"]:
        tenders = set(session.scalars(select(Tender.id).where(Tender.id.in_(by_type["tender"]))))

    def on_lot(lot_id: int | None) -> Where:
        # a lot (tender) the event names that is not in the table is no subject (no clock can name it)
        return Where(lot_id, tender_of_lot[lot_id]) if lot_id in tender_of_lot else Where()

    out: dict[int, Where] = {}
    for ev in events:
        n = _int(ev.object_id)
        if ev.object_type == "archive_package":
            lot_no = _int(ev.payload.get("lot"))
            out[ev.seq] = on_lot(package_lot.get((str(ev.payload.get("tender")), lot_no or 0)))
        elif n is None:
            out[ev.seq] = Where()
        elif ev.object_type == "tender":
            out[ev.seq] = Where(None, n) if n in tenders else Where()
        elif (ev.object_type, n) in complaint_of:
            cid, tid, lid = complaint_of[(ev.object_type, n)]
            out[ev.seq] = Where(lid, tid, cid)
        else:
            out[ev.seq] = on_lot(lot_of.get((ev.object_type, n)))
    return out


class _Facts:
    """The facts the guards and the pauses ask about a lot (or tender), read once per chunk."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rooms: dict[int, bool] = {}
        self._guarantees: dict[int, tuple[int, dt.datetime | None]] = {}
        self._suspensions: dict[tuple[str, int], list[tuple[int, dt.datetime, bool]]] = {}

    def holds(self, guard: str, ev: LogEvent, where: Where) -> bool:
        lot = where.lot_id
        if lot is None:
            return False
        if guard == "package":
            if lot not in self._rooms:
                self._rooms[lot] = (
                    self.session.scalar(select(Ceremony.id).where(Ceremony.lot_id == lot).limit(1)) is not None
                )
            # a lot that fails in evaluation was archived when its opening closed (no new package)
            return self._rooms[lot] and (ev.action != "lot.fail" or ev.payload.get("from") in ("bidding", "opening"))
        pending, last = self._held(lot)
        if guard == "guarantees":  # something still to release when the contract was signed
            return pending > 0 or (last is not None and last >= ev.at)
        if guard == "all_released":  # nothing left, and no release came after this one
            return pending == 0 and (last is None or last <= ev.at)
        return False

    def _held(self, lot: int) -> tuple[int, dt.datetime | None]:
        if lot not in self._guarantees:
            pending = self.session.scalar(
                select(func.count(Guarantee.id)).where(
                    Guarantee.lot_id == lot, Guarantee.state.in_([s.value for s in RELEASABLE])
                )
            )
            last = self.session.scalar(select(func.max(Guarantee.released_at)).where(Guarantee.lot_id == lot))
            self._guarantees[lot] = (int(pending or 0), clock.as_utc(last) if last else None)
        return self._guarantees[lot]

    def read_suspensions(self, wheres: Iterable[Where]) -> None:
        """The suspensions and resumptions of these lots and tenders, in one query per kind."""
        for kind in PAUSE_ACTIONS:
            ids = {str(w.lot_id if kind == "lot" else w.tender_id) for w in wheres}
            ids -= {"None"} | {str(obj) for k, obj in self._suspensions if k == kind}
            if not ids:
                continue
            rows = self.session.execute(
                select(AuditEvent.seq, AuditEvent.at, AuditEvent.action, AuditEvent.object_id)
                .where(
                    AuditEvent.action.in_(PAUSE_ACTIONS[kind]),
                    AuditEvent.object_type == kind,
                    AuditEvent.object_id.in_(sorted(ids)),
                )
                .order_by(AuditEvent.seq)
            ).all()
            for obj in ids:
                self._suspensions[(kind, int(obj))] = []
            for seq, at, action, obj in rows:
                self._suspensions[(kind, int(obj))].append((seq, clock.as_utc(at), action == PAUSE_ACTIONS[kind][0]))

    def suspended_since(self, kind: str, obj: int, seq: int) -> dt.datetime | None:
        """When the lot (tender) was suspended as of event ``seq``, from the log; None if it was not."""
        if (kind, obj) not in self._suspensions:
            self.read_suspensions([Where(obj, None) if kind == "lot" else Where(None, obj)])
        last = None
        for s, at, suspends in self._suspensions[(kind, obj)]:
            if s >= seq:
                break
            last = at if suspends else None
        return last


class _Chunk:
    """The events of one chunk, applied in order."""

    def __init__(self, ctx: _Context, events: Sequence[LogEvent]) -> None:
        self.ctx, self.session, self.book, self.events = ctx, ctx.session, ctx.book, events
        self.where = _resolve(self.session, events)
        self.facts = _Facts(self.session)
        self.open: dict[tuple[str, str], list[SupervisionClock]] = defaultdict(list)

    def _key(self, subject: str, ev: LogEvent) -> str | None:
        where = self.where[ev.seq]
        if subject == "lot":
            key = f"lot:{where.lot_id}" if where.lot_id else None
        elif subject == "tender":
            key = f"tender:{where.tender_id}" if where.tender_id else None
        else:
            key = f"{ev.object_type}:{ev.object_id}"
        return key if key is not None and len(key) <= _KEY_MAX else None

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
                    **_clock_payload(c, rule),
                    "stopped_seq": ev.seq,
                    "stopped_at": ev.at.isoformat(),
                    "late_seconds": int(late.total_seconds()),
                },
            )
            _warn(self.ctx, c, rule, "late")

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


# ---------------------------------------------------------------- recolouring and warning
def _recolour_due(ctx: _Context) -> int:
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


def _recolour_batch(ctx: _Context, ids: list[int]) -> int:
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


def _attempt_one(ctx: _Context, clock_id: int) -> int:
    def move() -> int:
        return _recolour_one(ctx, clock_id)

    return attempt(ctx.session, RECOLOUR_FAILED, ("supervision_clock", str(clock_id)), ctx.now, move)


def _recolour_one(ctx: _Context, clock_id: int) -> int:
    c = ctx.session.scalar(locked(select(SupervisionClock).where(SupervisionClock.id == clock_id), skip_locked=True))
    return 0 if c is None else _recolour(ctx, c)


def _recolour(ctx: _Context, c: SupervisionClock) -> int:
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
    record_event(session, SYSTEM, COLOUR_ACTIONS[new], c, _clock_payload(c, rule))
    _warn(ctx, c, rule, new.value)
    return 1


def _clock_payload(c: SupervisionClock, rule: RuleVersion) -> dict[str, Any]:
    return {
        "rule": rule.code,
        "version": rule.version,
        "subject": c.subject_key,
        "started_seq": c.started_seq,
        "yellow_at": clock.as_utc(c.yellow_at).isoformat(),
        "due_at": clock.as_utc(c.due_at).isoformat(),
        "paused_seconds": c.paused_seconds,
    }


def recipients(ctx: _Context, c: SupervisionClock, rule: RuleVersion, tender: Tender) -> list[int]:
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
            sid = _int(c.subject_key.split(":", 1)[1])
            org = session.scalar(select(StatementRequest.org_id).where(StatementRequest.id == sid)) if sid else None
            orgs |= {org} if org is not None else set()
    return sorted(orgs)


def where_text(session: Session, c: SupervisionClock) -> str:
    """《项目名称》（编号）第N标段 / 投诉 TS-…: what the clock is about, in words."""
    parts = []
    tender = session.get(Tender, c.tender_id) if c.tender_id is not None else None
    if tender is not None:
        parts.append(f"《{tender.title}》（{tender.code}）")
    lot = session.get(Lot, c.lot_id) if c.lot_id is not None else None
    if lot is not None:
        parts.append(f"第{lot.number}标段")
    if c.complaint_id is not None:
        number = session.scalar(select(Complaint.number).where(Complaint.id == c.complaint_id))
        parts.append(f"投诉 {number}")
    return "".join(parts) or c.subject_key


def _warn(ctx: _Context, c: SupervisionClock, rule: RuleVersion, what: str) -> None:
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
