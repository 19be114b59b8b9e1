"""Stopping a tender: suspension (暂停, e.g. while a complaint is handled) and its resumption with a
new deadline, a lot's suspension after the deadline, and termination (终止招标) with its notice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import Role, User
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.procedures.calendar import days_between
from trading.procedures.operations import get_procedure, overrides
from trading.tenders import notifications
from trading.tenders.hooks import tender_terminated
from trading.tenders.lifecycle import move_lot, move_tender
from trading.tenders.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    Lot,
    LotState,
    Tender,
    TenderState,
)
from trading.tenders.operations import ensure_current, horizon_problem, require_state, tender_announcement
from trading.tenders.publishing import seal


def suspend_tender(session: Session, staff: User, tender: Tender, reason: str) -> None:
    """PUBLISHED → SUSPENDED (e.g. while a complaint is handled); the deadline stops counting."""
    ensure_current(session, tender)
    require_state(tender, TenderState.PUBLISHED)
    tender.status_reason = reason
    move_tender(session, staff, tender, TenderState.SUSPENDED, action="tender.suspend", detail={"reason": reason})


def resume_tender(session: Session, staff: User, tender: Tender, new_deadline: dt.datetime) -> None:
    """SUSPENDED → PUBLISHED with a deadline that again leaves the amendment lead time."""
    require_state(tender, TenderState.SUSPENDED)
    proc = get_procedure(session, tender.procedure_code)
    now = clock.now()
    far = horizon_problem(now, new_deadline)
    if far is not None:
        raise InvalidInput(far, code="bad_deadline", fields={"new_deadline": "超过一年"})
    if days_between(now, new_deadline, proc.day_kind, overrides(session)) < proc.amendment_lead_days:
        raise InvalidInput(
            f"恢复后投标截止时间距今不得少于 {proc.amendment_lead_days} 日", fields={"new_deadline": "时间太短"}
        )
    tender.bid_deadline, tender.status_reason = new_deadline, None
    move_tender(
        session,
        staff,
        tender,
        TenderState.PUBLISHED,
        action="tender.resume",
        detail={"deadline": new_deadline.isoformat()},
    )


#: a lot past its deadline can be suspended while it is still being decided: after the award the
#: complaint's measures (e.g. 重新评标) are ordered by the decision, not by a suspension
SUSPENDABLE_LOTS = frozenset({LotState.OPENING, LotState.EVALUATING, LotState.PUBLICITY})


def suspend_lot(session: Session, actor: User, lot: Lot, reason: str, *, complaint: str) -> None:
    """暂停: the supervising department suspends a lot's procedure while it handles a complaint
    (招标投标法实施条例第六十二条：行政监督部门……必要时可以责令暂停招标投标活动; 财政部令第94号第二十八条).
    The award waits (``Lot.suspended_at``); the opening and the room keep their own pauses. The
    one writer of ``Lot.suspended_at``, with ``resume_lot``."""
    if lot.status not in SUSPENDABLE_LOTS:
        raise Conflict(f"标段{lot.status.label}，不能暂停", code="lot_not_suspendable")
    if lot.suspended_at is not None:
        raise Conflict("标段已暂停", code="lot_suspended")
    lot.suspended_at, lot.suspension_reason = clock.now(), reason
    session.flush()
    record_event(session, actor, "lot.suspend", lot, {"reason": reason, "complaint": complaint})
    tender = lot.tender
    message = f"《{tender.title}》（{tender.code}）第{lot.number}标段暂停招标投标活动：{reason}"
    notifications.notify_orgs(session, tender, notifications.interested_orgs(session, tender), message)
    notifications.notify_managers(session, tender, message)


def resume_lot(session: Session, actor: User, lot: Lot, *, complaint: str) -> None:
    """恢复: the suspension ends (the complaint is decided, or the department lifts it)."""
    if lot.suspended_at is None:
        raise Conflict("标段未暂停", code="lot_not_suspended")
    since = lot.suspended_at
    lot.suspended_at, lot.suspension_reason = None, None
    session.flush()
    record_event(session, actor, "lot.resume", lot, {"since": since.isoformat(), "complaint": complaint})
    tender = lot.tender
    message = f"《{tender.title}》（{tender.code}）第{lot.number}标段恢复招标投标活动。"
    notifications.notify_orgs(session, tender, notifications.interested_orgs(session, tender), message)
    notifications.notify_managers(session, tender, message)


def terminate_tender(session: Session, user: User, tender: Tender, reason: str) -> None:
    """→ TERMINATED (终止招标). A tender already public gets a termination notice at once."""
    if not (tender.can_manage(user) or Role.STAFF in user.roles):
        raise Forbidden("只有招标人、其代理机构或交易中心工作人员可以终止招标")
    ensure_current(session, tender)
    require_state(tender, TenderState.DRAFT, TenderState.SUBMITTED, TenderState.PUBLISHED, TenderState.SUSPENDED)
    was_public = tender.is_public
    tender.status_reason = reason
    move_tender(session, user, tender, TenderState.TERMINATED, action="tender.terminate", detail={"reason": reason})
    tender_terminated(session, tender)  # the opening cancels the rooms that have not opened
    for lot in tender.lots:  # a tender never published has no rooms: its lots end here
        if lot.status is LotState.BIDDING:
            move_lot(session, user, lot, LotState.TERMINATED, reason=reason, now=clock.now())
    if was_public:
        now = clock.now()
        ann = Announcement(
            tender_id=tender.id,
            kind=AnnouncementKind.TERMINATION,
            status=AnnouncementState.DRAFT,
            title=f"{tender.title}终止公告",
            body=f"本项目终止招标。原因：{reason}",
            supersedes_id=tender_announcement(tender).id,
            created_by_user_id=user.id,
            created_at=now,
        )
        session.add(ann)
        session.flush()
        ann.tender = tender
        seal(session, ann, None, now)
        record_event(session, user, "announcement.publish", ann, {"tender": tender.code, "kind": "termination"})
        notifications.notify_downloaders(session, tender, f"《{tender.title}》已终止招标。原因：{reason}")
