"""The way to publication: the tenderee submits the tender and its announcement, the trading
center's staff return it with reasons (退回) or publish it; the review queue."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from trading.accounts.models import User
from trading.core.config import Settings
from trading.core.errors import InvalidInput
from trading.tenders.documents import current_documents
from trading.tenders.hooks import tender_published
from trading.tenders.lifecycle import move_tender
from trading.tenders.models import Announcement, AnnouncementKind, AnnouncementState, Tender, TenderState
from trading.tenders.operations import check_deadline, require_manager, require_state, tender_announcement
from trading.tenders.publishing import seal


def submit_tender(session: Session, user: User, tender: Tender) -> None:
    """DRAFT → SUBMITTED: the tenderee hands the tender and its announcement to staff for review."""
    require_manager(tender, user)
    require_state(tender, TenderState.DRAFT)
    if not current_documents(session, tender):
        raise InvalidInput("请先上传招标文件", code="documents_missing")
    check_deadline(session, tender.procedure_code, clock.now(), tender.bid_deadline)
    ann = tender_announcement(tender)
    ann.status, ann.submitted_at, ann.review_reason = AnnouncementState.SUBMITTED, clock.now(), None
    tender.return_reason = None
    move_tender(session, user, tender, TenderState.SUBMITTED, action="tender.submit")


def return_tender(session: Session, staff: User, tender: Tender, reason: str) -> None:
    """SUBMITTED → DRAFT with the reviewer's reasons (退回)."""
    require_state(tender, TenderState.SUBMITTED)
    ann = tender_announcement(tender)
    ann.status, ann.review_reason, ann.reviewed_by_user_id = AnnouncementState.RETURNED, reason, staff.id
    tender.return_reason = reason
    move_tender(session, staff, tender, TenderState.DRAFT, action="tender.return", detail={"reason": reason})


def publish_tender(session: Session, staff: User, tender: Tender, settings: Settings) -> None:
    """SUBMITTED → PUBLISHED: documents count as issued now; the deadline rule is checked again.
    Then ``tender_published`` (the opening makes the ceremonies; ``settings`` locate the key that
    wraps each new ceremony's private key)."""
    require_state(tender, TenderState.SUBMITTED)
    now = clock.now()
    check_deadline(session, tender.procedure_code, now, tender.bid_deadline)
    tender.docs_issued_at = now
    ann = tender_announcement(tender)
    ann.deadline_after = tender.bid_deadline
    seal(session, ann, staff, now)
    move_tender(
        session,
        staff,
        tender,
        TenderState.PUBLISHED,
        action="tender.publish",
        detail={"announcement": ann.id, "content_sm3": ann.content_sm3, "deadline": tender.bid_deadline.isoformat()},
    )
    # the opening makes each lot's ceremony here, in this transaction: its failure undoes the publication
    tender_published(session, tender, settings)


def review_queue(session: Session) -> tuple[list[Tender], list[Announcement]]:
    """Staff's queue: tenders and change notices waiting for review, oldest first."""
    tenders = session.scalars(
        select(Tender).where(Tender.status == TenderState.SUBMITTED).order_by(Tender.updated_at)
    ).all()
    anns = session.scalars(
        select(Announcement)
        .where(Announcement.status == AnnouncementState.SUBMITTED, Announcement.kind != AnnouncementKind.TENDER)
        .order_by(Announcement.submitted_at)
    ).all()
    return list(tenders), list(anns)
