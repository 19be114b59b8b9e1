"""What each audit event is about, as the clocks read it: its lot, tender and complaint, found in one
query per kind of object, and the facts a rule's conditions ask of a lot (``@guarantees``, ``@package``…)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from trading.evaluation.models import Evaluation, PublicityObjection
from trading.guarantees.lifecycle import RELEASABLE
from trading.guarantees.models import Guarantee
from trading.opening.models import Ceremony
from trading.signals.models import ServiceRating
from trading.supervision.models import (
    Complaint,
    StatementRequest,
)
from trading.tenders.models import Lot, Tender

#: the pause and resume actions of a lot (tender), as the log reads them
PAUSE_ACTIONS = {"lot": ("lot.suspend", "lot.resume"), "tender": ("tender.suspend", "tender.resume")}


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


def as_int(text: Any) -> int | None:
    try:
        n = int(str(text))
    except ValueError:
        return None
    return n if 0 < n < 2**31 else None


def resolve(session: Session, events: Sequence[LogEvent]) -> dict[int, Where]:
    """Each event's lot, tender and complaint, read in one query per kind of object."""
    by_type: dict[str, set[int]] = defaultdict(set)
    packages: set[tuple[str, int]] = set()
    for ev in events:
        n = as_int(ev.object_id)
        if ev.object_type == "archive_package":
            lot_no = as_int(ev.payload.get("lot"))
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
    # a rating's answer is the center's, about a tender (its notices are filed there); never a lot's
    rating_tender: dict[int, int] = {}
    if by_type["service_rating"]:
        rq = (
            select(ServiceRating.id, Tender.id)
            .join(Tender, Tender.code == ServiceRating.tender_code)
            .where(ServiceRating.id.in_(by_type["service_rating"]))
        )
        rating_tender = dict(session.execute(rq).all())
    tenders: set[int] = set()
    if by_type["tender"]:
        tenders = set(session.scalars(select(Tender.id).where(Tender.id.in_(by_type["tender"]))))

    def on_lot(lot_id: int | None) -> Where:
        # a lot (tender) the event names that is not in the table is no subject (no clock can name it)
        return Where(lot_id, tender_of_lot[lot_id]) if lot_id in tender_of_lot else Where()

    out: dict[int, Where] = {}
    for ev in events:
        n = as_int(ev.object_id)
        if ev.object_type == "archive_package":
            lot_no = as_int(ev.payload.get("lot"))
            out[ev.seq] = on_lot(package_lot.get((str(ev.payload.get("tender")), lot_no or 0)))
        elif n is None:
            out[ev.seq] = Where()
        elif ev.object_type == "tender":
            out[ev.seq] = Where(None, n) if n in tenders else Where()
        elif ev.object_type == "service_rating":
            out[ev.seq] = Where(None, rating_tender[n]) if n in rating_tender else Where()
        elif (ev.object_type, n) in complaint_of:
            cid, tid, lid = complaint_of[(ev.object_type, n)]
            out[ev.seq] = Where(lid, tid, cid)
        else:
            out[ev.seq] = on_lot(lot_of.get((ev.object_type, n)))
    return out


class Facts:
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
