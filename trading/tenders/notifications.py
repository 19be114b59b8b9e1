"""Telling bidders about changes without revealing who they are (or how many) to anyone else."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from signing.digest import sm3_hex
from trading.core.errors import InvalidInput
from trading.tenders.models import DocumentDownload, Interest, Notification, Tender, TenderDocument
from trading.tenders.schemas import instant


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


#: ``since`` pages are at most this long (and this long unless ``limit`` says otherwise)
SINCE_LIMIT = 100


def for_org(session: Session, org_id: int, limit: int = 20) -> list[Notification]:
    """The latest ``limit``, newest first (the home page, and the API without ``since``)."""
    q = select(Notification).where(Notification.org_id == org_id).order_by(Notification.created_at.desc()).limit(limit)
    return list(session.scalars(q))


def since_for_org(
    session: Session, org_id: int, since: dt.datetime, limit: int = SINCE_LIMIT
) -> tuple[list[Notification], bool]:
    """Those created after ``since``, oldest first, at most ``limit``, and whether more follow.

    A client goes on from the last one's ``created_at``, so a page never ends inside a run of
    notices sharing one instant (one transaction sends several at once): it stops before that
    run, which the next page then starts with. Only a run longer than ``limit`` is cut."""
    q = (
        select(Notification)
        .where(Notification.org_id == org_id, Notification.created_at > since)
        .order_by(Notification.created_at, Notification.id)
        .limit(limit + 1)
    )
    rows = list(session.scalars(q))
    if len(rows) <= limit:
        return rows, False
    page = rows[:limit]
    cut = rows[limit].created_at
    whole = [n for n in page if n.created_at != cut]
    return (whole or page), True


def tender_codes(session: Session, rows: list[Notification]) -> dict[int, str]:
    ids = {n.tender_id for n in rows if n.tender_id is not None}
    if not ids:
        return {}
    return {i: code for i, code in session.execute(select(Tender.id, Tender.code).where(Tender.id.in_(ids)))}


def parse_since(raw: str | None) -> dt.datetime | None:
    """``since``: an ISO 8601 instant with its offset (``Z`` or ``+08:00``); anything else is a named 422."""
    if raw is None:
        return None
    refused = InvalidInput(
        "since 应为带时区的 ISO 8601 时刻，例如 2026-12-01T08:00:00+08:00", fields={"since": "ISO 8601 时刻"}
    )
    if not 10 <= len(raw) <= 40 or "\x00" in raw:
        raise refused
    try:
        text = raw.replace("Z", "+00:00")
        if "T" in text:  # an unencoded "+08:00" in a query string arrives as " 08:00"
            text = text.replace(" ", "+", 1)
        return instant(dt.datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        raise refused from None
