"""Publishing an announcement: its content fixed by SM3, searchable, and (for the ones the
platform writes itself) recorded in the same transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from trading.accounts.models import User
from trading.tenders.models import Announcement, AnnouncementKind, AnnouncementState, Tender
from trading.tenders.search import terms


def seal(session: Session, ann: Announcement, reviewer: User | None, now: dt.datetime) -> None:
    tender = ann.tender
    content = {
        "tender": tender.code,
        "kind": ann.kind.value,
        "title": ann.title,
        "body": ann.body,
        "published_at": now.isoformat(),
        "supersedes": ann.supersedes_id,
        "deadline": (ann.deadline_after or tender.bid_deadline).isoformat(),
    }
    ann.status, ann.published_at = AnnouncementState.PUBLISHED, now
    ann.content_sm3 = sm3_hex(canonical_json(content))
    ann.search_terms = terms(f"{ann.title} {ann.body} {tender.title} {tender.code}")
    if reviewer is not None:
        ann.reviewed_by_user_id = reviewer.id
    session.flush()


def publish_now(
    session: Session, tender: Tender, kind: AnnouncementKind, title: str, body: str, by: User | None
) -> Announcement:
    """An announcement the platform publishes itself, without staff review (the result announcement,
    the 流标公告): its text comes from the record, not from a participant."""
    now = clock.now()
    ann = Announcement(
        tender_id=tender.id,
        kind=kind,
        status=AnnouncementState.SUBMITTED,
        title=title,
        body=body,
        created_by_user_id=by.id if by else tender.created_by_user_id,
        created_at=now,
        submitted_at=now,
    )
    session.add(ann)
    session.flush()
    seal(session, ann, by, now)
    record_event(
        session,
        by or SYSTEM,
        "announcement.publish",
        ann,
        {"tender": tender.code, "kind": kind.value, "content_sm3": ann.content_sm3},
    )
    return ann
