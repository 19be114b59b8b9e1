"""Telling bidders about changes without revealing who they are (or how many) to anyone else."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from signing.digest import sm3_hex
from trading.tenders.models import DocumentDownload, Interest, Notification, Tender, TenderDocument


def downloader_orgs(session: Session, tender: Tender) -> list[int]:
    q = (
        select(Interest.org_id)
        .join(DocumentDownload, DocumentDownload.interest_id == Interest.id)
        .join(TenderDocument, TenderDocument.id == DocumentDownload.document_id)
        .where(TenderDocument.tender_id == tender.id)
        .distinct()
    )
    return sorted(session.scalars(q))


def interested_orgs(session: Session, tender: Tender) -> list[int]:
    return sorted(session.scalars(select(Interest.org_id).where(Interest.tender_id == tender.id)))


def notify_orgs(session: Session, tender: Tender, orgs: list[int], message: str) -> None:
    """The named organisations, one notice each (``/my/notifications``)."""
    now = clock.now()
    session.add_all([Notification(org_id=o, tender_id=tender.id, message=message, created_at=now) for o in orgs])
    session.flush()
    # One event whatever the number of recipients: it commits to the set without revealing its size.
    salt = secrets.token_hex(16)
    record_event(
        session,
        SYSTEM,
        "notification.send",
        tender,
        {"message": message, "recipients_commitment": sm3_hex(f"{salt}:{orgs}".encode())},
    )


def notify_downloaders(session: Session, tender: Tender, message: str) -> None:
    """Every bidder that downloaded the tender documents (招标投标法实施条例第二十一条)."""
    notify_orgs(session, tender, downloader_orgs(session, tender), message)


def notify_managers(session: Session, tender: Tender, message: str) -> None:
    """The tenderee and, if it has one, its agency (招标人、招标代理机构): who answer for the tender."""
    notify_orgs(session, tender, [o for o in (tender.tenderee_org_id, tender.agency_org_id) if o is not None], message)


def notify_interested(session: Session, tender: Tender, message: str) -> None:
    notify_orgs(session, tender, interested_orgs(session, tender), message)


def for_org(session: Session, org_id: int, limit: int = 20) -> list[Notification]:
    q = select(Notification).where(Notification.org_id == org_id).order_by(Notification.created_at.desc()).limit(limit)
    return list(session.scalars(q))
