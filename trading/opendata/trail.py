"""The audit events of one tender that open data is made from, and the tender an event is about.

The tender's objects are those ``archives.audit_scope`` names for the audit page; only the actions
in ``TRIGGERS`` become OCDS releases, and each is about a public object (the tender, its lots,
announcements, documents, opening ceremonies, evaluations and publicity objections). Bids,
guarantees, registrations and questions make none: their events are sealed before the opening
(招标投标法第二十二条), and what the opening makes public is read from the ceremony's own event
(唱标, ``ceremony.reading``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from archive.audit import AuditEvent
from trading.archives.audit_scope import tender_objects
from trading.evaluation.models import Evaluation, PublicityObjection
from trading.opening.models import Ceremony
from trading.tenders.models import Announcement, Lot, Tender, TenderDocument

#: Every action a release is made from. ``announcement.publish`` counts for amendments, failures and
#: terminations (its payload's ``kind``); candidates and results come with ``lot.publicise``/``lot.award``.
TRIGGERS = frozenset(
    {
        "tender.publish",
        "tender.deadline_move",
        "tender.suspend",
        "tender.resume",
        "tender.terminate",
        "tender_document.upload",
        "announcement.publish",
        "ceremony.reading",
        "ceremony.objection",
        "ceremony.objection_answer",
        "lot.fail",
        "lot.terminate",
        "lot.publicise",
        "lot.award",
        "evaluation.objection",
        "evaluation.objection_answer",
        "evaluation.contract",
    }
)
#: What ``announcement.publish`` must announce to make a release (the others have their own event).
ANNOUNCEMENT_KINDS = frozenset({"amendment", "termination"})


def payload(event: AuditEvent) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(event.payload)
    return found


def is_trigger(event: AuditEvent) -> bool:
    if event.action not in TRIGGERS:
        return False
    return event.action != "announcement.publish" or payload(event).get("kind") in ANNOUNCEMENT_KINDS


def tender_of(session: Session, event: AuditEvent) -> int | None:
    """The tender an event of ``TRIGGERS`` is about, or None."""
    kind, oid = event.object_type, event.object_id
    if not oid.isdigit():
        return None
    key = int(oid)
    if kind == "tender":
        return key
    if kind == "lot":
        lot = session.get(Lot, key)
        return lot.tender_id if lot else None
    if kind == "announcement":
        ann = session.get(Announcement, key)
        return ann.tender_id if ann else None
    if kind == "tender_document":
        doc = session.get(TenderDocument, key)
        return doc.tender_id if doc else None
    if kind == "ceremony":
        c = session.get(Ceremony, key)
        return c.tender_id if c else None
    if kind == "evaluation":
        ev = session.get(Evaluation, key)
        return _lot_tender(session, ev.lot_id) if ev else None
    if kind == PublicityObjection.__tablename__:
        o = session.get(PublicityObjection, key)
        ev = session.get(Evaluation, o.evaluation_id) if o else None
        return _lot_tender(session, ev.lot_id) if ev else None
    return None


def _lot_tender(session: Session, lot_id: int) -> int | None:
    lot = session.get(Lot, lot_id)
    return lot.tender_id if lot else None


def tender_events(session: Session, tender: Tender, upto: int | None = None) -> Sequence[AuditEvent]:
    """The tender's events that releases are made from, in the trail's order (up to seq ``upto``)."""
    # the archives stage already names every object of a tender (its audit filter); every trigger
    # is about one of them, and none about a bid or a guarantee, so those are never read here
    refs = tender_objects(session, tender.code)
    by_type: dict[str, list[str]] = {}
    for kind, oid in refs:
        by_type.setdefault(kind, []).append(oid)
    about = or_(*(and_(AuditEvent.object_type == k, AuditEvent.object_id.in_(ids)) for k, ids in by_type.items()))
    q = select(AuditEvent).where(AuditEvent.action.in_(TRIGGERS), about)
    if upto is not None:
        q = q.where(AuditEvent.seq <= upto)
    return [e for e in session.scalars(q.order_by(AuditEvent.seq)) if is_trigger(e)]
