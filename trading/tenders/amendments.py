"""Amendments and clarifications (变更/澄清公告): drafted by the tenderee, published or returned by
staff; publishing one may move the bid deadline (招标投标法第二十三条, 实施条例第二十一条)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import User
from trading.core.errors import Conflict, InvalidInput
from trading.procedures.calendar import add_days, days_between
from trading.procedures.models import AmendmentPolicy
from trading.procedures.operations import get_procedure, overrides
from trading.tenders import notifications
from trading.tenders.models import Announcement, AnnouncementKind, AnnouncementState, Tender, TenderState
from trading.tenders.operations import (
    ensure_current,
    horizon_problem,
    require_manager,
    require_state,
    tender_announcement,
)
from trading.tenders.publishing import seal
from trading.tenders.schemas import AmendmentIn


def draft_amendment(session: Session, user: User, tender: Tender, data: AmendmentIn) -> Announcement:
    require_manager(tender, user)
    ensure_current(session, tender)
    require_state(tender, TenderState.PUBLISHED)
    if data.new_deadline is not None and data.new_deadline < tender.bid_deadline:
        raise InvalidInput("变更不能提前投标截止时间", fields={"new_deadline": "不得早于现截止时间"})
    now = clock.now()
    far = None if data.new_deadline is None else horizon_problem(now, data.new_deadline)
    if far is not None:
        raise InvalidInput(far, code="bad_deadline", fields={"new_deadline": "超过一年"})
    ann = Announcement(
        tender_id=tender.id,
        kind=AnnouncementKind.AMENDMENT,
        status=AnnouncementState.SUBMITTED,
        title=data.title,
        body=data.body,
        supersedes_id=tender_announcement(tender).id,
        affects_bids=data.affects_bids,
        requested_deadline=data.new_deadline,
        created_by_user_id=user.id,
        created_at=now,
        submitted_at=now,
    )
    session.add(ann)
    session.flush()
    record_event(
        session,
        user,
        "announcement.submit",
        ann,
        {"tender": tender.code, "kind": ann.kind.value, "affects_bids": ann.affects_bids},
    )
    return ann


def _amended_deadline(session: Session, tender: Tender, ann: Announcement, now: dt.datetime) -> dt.datetime:
    """Law 23 / Reg 21: a change that may affect bids needs ``amendment_lead_days`` before the deadline."""
    proc = get_procedure(session, tender.procedure_code)
    target = max(ann.requested_deadline or tender.bid_deadline, tender.bid_deadline)
    if not ann.affects_bids:
        return target
    holidays = overrides(session)
    if days_between(now, target, proc.day_kind, holidays) >= proc.amendment_lead_days:
        return target
    if proc.amendment_policy is AmendmentPolicy.REFUSE:
        raise Conflict(
            f"距投标截止不足 {proc.amendment_lead_days} 日，按本项目规则不得发布可能影响投标文件编制的澄清或修改",
            code="amendment_too_late",
        )
    earliest = add_days(now, proc.amendment_lead_days, proc.day_kind, holidays)
    old = clock.local(tender.bid_deadline)
    moved = clock.local(earliest).replace(hour=old.hour, minute=old.minute, second=old.second, microsecond=0)
    return moved.astimezone(dt.UTC)


def publish_announcement(session: Session, staff: User, ann: Announcement) -> None:
    """SUBMITTED → PUBLISHED for amendments and later notices; applies an amendment's deadline."""
    if ann.status is not AnnouncementState.SUBMITTED:
        raise Conflict(f"公告当前状态为“{ann.status.label}”，只能发布待审核的公告", code="wrong_state")
    if ann.kind is AnnouncementKind.TENDER:
        raise Conflict("招标公告随项目一起审核发布", code="wrong_state")
    tender = ann.tender
    ensure_current(session, tender)
    now = clock.now()
    payload: dict[str, object] = {"tender": tender.code, "kind": ann.kind.value}
    if ann.kind is AnnouncementKind.AMENDMENT:
        require_state(tender, TenderState.PUBLISHED)
        new_deadline = _amended_deadline(session, tender, ann, now)
        payload |= {"deadline_before": tender.bid_deadline.isoformat(), "deadline_after": new_deadline.isoformat()}
        if new_deadline != tender.bid_deadline:
            tender.bid_deadline = new_deadline
            record_event(session, staff, "tender.deadline_move", tender, payload)
        ann.deadline_after = new_deadline
    seal(session, ann, staff, now)
    record_event(session, staff, "announcement.publish", ann, payload | {"content_sm3": ann.content_sm3})
    if ann.kind is AnnouncementKind.AMENDMENT:
        local_deadline = clock.local(tender.bid_deadline)
        notifications.notify_downloaders(
            session,
            tender,
            f"《{tender.title}》发布了变更/澄清公告“{ann.title}”，"
            f"投标截止时间为 {local_deadline:%Y-%m-%d %H:%M}（北京时间）。",
        )


def return_announcement(session: Session, staff: User, ann: Announcement, reason: str) -> None:
    if ann.status is not AnnouncementState.SUBMITTED or ann.kind is AnnouncementKind.TENDER:
        raise Conflict("只能退回待审核的变更类公告", code="wrong_state")
    ann.status, ann.review_reason, ann.reviewed_by_user_id = AnnouncementState.RETURNED, reason, staff.id
    session.flush()
    record_event(session, staff, "announcement.return", ann, {"reason": reason})
