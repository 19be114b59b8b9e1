"""A complaint's handling as a service its parties may rate (好差评): the complainant, the tender's
tenderee (and agency), and every organisation asked for a statement, once the department decided,
refused or the complainant withdrew. Connected to ``trading.signals.service_ratings``' hooks in
``trading.app.connect_stages`` (signals comes before supervision and cannot name it)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from trading.signals.models import RaterRole, ServiceKind
from trading.signals.service_ratings import Service
from trading.supervision.models import Complaint, ComplaintState, StatementRequest
from trading.tenders.models import Tender


def withdrawals(session: Session, complaints: list[Complaint]) -> dict[int, dt.datetime]:
    """When each withdrawn complaint was withdrawn (the row keeps no time; its audit event does)."""
    ids = [str(c.id) for c in complaints if c.state is ComplaintState.WITHDRAWN]
    if not ids:
        return {}
    q = select(AuditEvent.object_id, AuditEvent.at).where(
        AuditEvent.action == "complaint.withdraw", AuditEvent.object_type == "complaint", AuditEvent.object_id.in_(ids)
    )
    return {int(i): clock.as_utc(at) for i, at in session.execute(q)}


def ended_at(c: Complaint, withdrawn: dict[int, dt.datetime]) -> dt.datetime | None:
    """When the handling was over: the decision, the refusal or the withdrawal."""
    if c.state is ComplaintState.DECIDED:
        return c.decided_at
    if c.state is ComplaintState.REFUSED:
        return c.refused_at
    if c.state is ComplaintState.WITHDRAWN:
        return withdrawn.get(c.id, c.filed_at)
    return None


def service(c: Complaint, t: Tender, org_id: int, withdrawn: dict[int, dt.datetime]) -> Service:
    role = RaterRole.TENDEREE if org_id in (t.tenderee_org_id, t.agency_org_id) else RaterRole.BIDDER
    title = f"《{t.title}》（{t.code}）投诉 {c.number} 的处理"
    return Service(ServiceKind.COMPLAINT, c.number, t.code, title, role, ended_at(c, withdrawn))


def complaint_services(session: Session, org_id: int) -> list[Service]:
    """The complaints ``org_id`` is a party to, handled or not."""
    asked = select(StatementRequest.complaint_id).where(StatementRequest.org_id == org_id)
    q = (
        select(Complaint, Tender)
        .join(Tender, Tender.id == Complaint.tender_id)
        .where(
            or_(
                Complaint.complainant_org_id == org_id,
                Tender.tenderee_org_id == org_id,
                Tender.agency_org_id == org_id,
                Complaint.id.in_(asked),
            )
        )
    )
    rows = session.execute(q).all()
    withdrawn = withdrawals(session, [c for c, _ in rows])
    return [service(c, t, org_id, withdrawn) for c, t in rows]


def complaint_service(session: Session, kind: ServiceKind, subject: str, org_id: int) -> Service | None:
    """The complaint numbered ``subject`` if ``org_id`` is a party to it."""
    if kind is not ServiceKind.COMPLAINT:
        return None
    row = session.execute(
        select(Complaint, Tender).join(Tender, Tender.id == Complaint.tender_id).where(Complaint.number == subject)
    ).first()
    if row is None:
        return None
    c, t = row
    asked = session.scalar(
        select(StatementRequest.id).where(StatementRequest.complaint_id == c.id, StatementRequest.org_id == org_id)
    )
    party = org_id in (c.complainant_org_id, t.tenderee_org_id, t.agency_org_id) or asked is not None
    return service(c, t, org_id, withdrawals(session, [c])) if party else None
