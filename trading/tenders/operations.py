"""Tender rules: creation, review and publication, amendments, deadlines, suspension, termination.

Every status change of a tender or an announcement happens in one function here, which checks
the current state, writes the new one and appends the audit event in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor, record_event
from archive.db import locked
from archive.transparency import request_checkpoint
from trading.accounts.models import Organisation, OrgKind, Role, User
from trading.accounts.permissions import Permission, has
from trading.core.config import Settings
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.scheduler import each_attempted
from trading.procedures.calendar import add_days, days_between
from trading.procedures.models import AmendmentPolicy
from trading.procedures.operations import get_procedure, overrides
from trading.tenders import notifications
from trading.tenders.lifecycle import move_tender
from trading.tenders.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    Lot,
    Tender,
    TenderState,
)
from trading.tenders.publishing import seal
from trading.tenders.schemas import AmendmentIn, LotIn, TenderIn


# ---------------------------------------------------------------- loading and guards
def get_tender(session: Session, code: str, *, for_update: bool = False) -> Tender:
    q = select(Tender).where(Tender.code == code)
    if for_update:
        q = locked(q)
    tender = session.scalar(q)
    if tender is None:
        raise NotFound(f"招标项目 {code} 不存在")
    return tender


def visible_tender(session: Session, code: str, user: User | None) -> Tender:
    """A tender the user may see: public ones, or any for its managers and the platform's staff."""
    tender = get_tender(session, code)
    if tender.is_public or tender.can_manage(user) or has(user, Permission.TENDER_READ_ALL):
        return tender
    raise NotFound(f"招标项目 {code} 不存在")  # drafts of others are not even confirmed to exist


def _require_manager(tender: Tender, user: User) -> None:
    if not tender.can_manage(user):
        raise Forbidden("只有本项目的招标人或其委托的代理机构可以操作")


def _require_state(tender: Tender, *allowed: TenderState) -> None:
    if tender.status not in allowed:
        names = "、".join(s.label for s in allowed)
        raise Conflict(f"项目当前状态为“{tender.status.label}”，此操作只允许在“{names}”状态进行", code="wrong_state")


# ---------------------------------------------------------------- deadlines
def check_deadline(session: Session, procedure_code: str, issued_at: dt.datetime, deadline: dt.datetime) -> None:
    """Law 24: at least ``min_bid_days`` from the day documents are issued to the deadline."""
    proc = get_procedure(session, procedure_code)
    if deadline <= issued_at:
        raise InvalidInput("投标截止时间必须晚于现在", fields={"bid_deadline": "已过去"})
    days = days_between(issued_at, deadline, proc.day_kind, overrides(session))
    if days < proc.min_bid_days:
        unit = "日" if proc.day_kind.value == "calendar" else "个工作日"
        earliest = clock.local(add_days(issued_at, proc.min_bid_days, proc.day_kind, overrides(session))).date()
        raise InvalidInput(
            f"{proc.name}自招标文件发出之日至投标截止不得少于 {proc.min_bid_days} {unit}，"
            f"今天发布时投标截止最早为 {earliest:%Y-%m-%d}",
            fields={"bid_deadline": "时间太短"},
        )


def close_bidding(session: Session, tender: Tender, now: dt.datetime | None = None, actor: Actor = SYSTEM) -> bool:
    """PUBLISHED → BIDDING_CLOSED once the deadline has passed. Idempotent: False when nothing to do."""
    now = now or clock.now()
    if tender.status is not TenderState.PUBLISHED or not tender.deadline_passed(now):
        return False
    tender.closed_at = now
    move_tender(
        session,
        actor,
        tender,
        TenderState.BIDDING_CLOSED,
        action="tender.bidding_close",
        detail={"deadline": tender.bid_deadline.isoformat(), "closed_at": now.isoformat()},
    )
    # the deadline commitment: a signed checkpoint over every accepted bid's commitment
    request_checkpoint(session, "bid_deadline", f"tender:{tender.code}")
    return True


def ensure_current(session: Session, tender: Tender) -> Tender:
    """Enforce the deadline on every request that touches a tender, whether or not the job ran."""
    close_bidding(session, tender)
    return tender


def close_due(session: Session, now: dt.datetime) -> int:
    """The scheduler's sweep: close every tender whose deadline has passed, each in a transaction
    of its own (``each_apart``), so that a tender that cannot close (an unreadable row) holds up no
    other; its failure is the audit event ``tender.close_failed``, retried with a pause up to a cap."""
    due = session.scalars(
        select(Tender.id)
        .where(Tender.status == TenderState.PUBLISHED, Tender.deadline_passed_by(now))
        .order_by(Tender.id)
    ).all()

    def close_one(tender_id: int) -> bool:
        # a tender a request holds is skipped: every request enforces the deadline itself
        # (ensure_current), and the next sweep closes it
        tender = session.scalar(locked(select(Tender).where(Tender.id == tender_id), skip_locked=True))
        return tender is not None and close_bidding(session, tender, now)

    return each_attempted(
        session, due, now, "close_bidding", "tender.close_failed", lambda tid: ("tender", str(tid)), close_one
    )


# ---------------------------------------------------------------- drafting
def _resolve_orgs(session: Session, user: User, data: TenderIn) -> tuple[int, int | None]:
    if user.organisation_id is None:
        raise Forbidden("用户不属于任何机构")
    if Role.TENDEREE in user.roles:
        tenderee_id = user.organisation_id
        agency_id = data.agency_org_id
    elif Role.AGENCY in user.roles:
        if data.tenderee_org_id is None:
            raise InvalidInput("代理机构创建项目时须指明招标人", fields={"tenderee_org_id": "必填"})
        tenderee_id, agency_id = data.tenderee_org_id, user.organisation_id
    else:
        raise Forbidden("只有招标人或招标代理机构可以创建招标项目")
    tenderee = session.get(Organisation, tenderee_id)
    if tenderee is None or tenderee.kind is not OrgKind.TENDEREE:
        raise InvalidInput("招标人不存在或不是招标人类型的机构", fields={"tenderee_org_id": "无效"})
    if agency_id is not None:
        agency = session.get(Organisation, agency_id)
        if agency is None or agency.kind is not OrgKind.AGENCY:
            raise InvalidInput("代理机构不存在或不是代理机构类型", fields={"agency_org_id": "无效"})
    return tenderee_id, agency_id


def _lot(number: int, data: LotIn, region: str) -> Lot:
    return Lot(
        number=number,
        name=data.name,
        estimated_price=data.estimated_price,
        bond_amount=data.bond_amount,
        currency=data.currency,
        region=data.region or region,
        evaluation_method=data.evaluation_method,
        criteria=data.criteria.model_dump(mode="json"),
        committee_size=data.committee_size,
        specialties=[s.model_dump() for s in data.specialties],
        price_fields=[f.model_dump() for f in data.price_fields],
        guarantee_sealed=data.guarantee_sealed,
    )


def _tender_payload(t: Tender) -> dict[str, object]:
    return {
        "code": t.code,
        "title": t.title,
        "deadline": t.bid_deadline.isoformat(),
        "joint_opening": t.joint_opening,
        "lots": [
            {"number": lot.number, "estimate": str(lot.estimated_price), "bond": str(lot.bond_amount)} for lot in t.lots
        ],
    }


def create_tender(session: Session, user: User, data: TenderIn) -> Tender:
    tenderee_id, agency_id = _resolve_orgs(session, user, data)
    now = clock.now()
    get_procedure(session, data.procedure_code)
    check_deadline(session, data.procedure_code, now, data.bid_deadline)
    tender = Tender(
        code=f"TMP-{uuid.uuid4().hex[:20]}",
        title=data.title,
        description=data.description,
        category=data.category,
        procedure_code=data.procedure_code,
        tenderee_org_id=tenderee_id,
        agency_org_id=agency_id,
        region=data.region,
        status=TenderState.DRAFT,
        bid_deadline=data.bid_deadline,
        bid_validity_days=data.bid_validity_days,
        joint_opening=data.joint_opening,
        created_by_user_id=user.id,
        created_at=now,
        updated_at=now,
    )
    tender.lots = [_lot(i, lot, data.region) for i, lot in enumerate(data.lots, start=1)]
    session.add(tender)
    session.flush()
    tender.code = f"GGZY-{clock.local(now).year}-{tender.id:06d}"
    session.add(
        Announcement(
            tender_id=tender.id,
            kind=AnnouncementKind.TENDER,
            status=AnnouncementState.DRAFT,
            title=f"{data.title}招标公告",
            body=data.announcement_body,
            created_by_user_id=user.id,
            created_at=now,
        )
    )
    session.flush()
    record_event(session, user, "tender.create", tender, _tender_payload(tender))
    return tender


def tender_announcement(tender: Tender) -> Announcement:
    for a in tender.announcements:
        if a.kind is AnnouncementKind.TENDER:
            return a
    raise NotFound("招标公告不存在")


def update_tender(session: Session, user: User, tender: Tender, data: TenderIn) -> Tender:
    _require_manager(tender, user)
    _require_state(tender, TenderState.DRAFT)
    tenderee_id, agency_id = _resolve_orgs(session, user, data)
    if tenderee_id != tender.tenderee_org_id:
        raise InvalidInput("不能更改招标人", fields={"tenderee_org_id": "不可更改"})
    check_deadline(session, data.procedure_code, clock.now(), data.bid_deadline)
    fields = ("title", "description", "category", "procedure_code", "region", "bid_deadline", "bid_validity_days")
    for field in (*fields, "joint_opening"):
        setattr(tender, field, getattr(data, field))
    tender.agency_org_id = agency_id
    tender.lots.clear()
    session.flush()
    tender.lots.extend(_lot(i, lot, data.region) for i, lot in enumerate(data.lots, start=1))
    ann = tender_announcement(tender)
    ann.title, ann.body = f"{data.title}招标公告", data.announcement_body
    tender.updated_at = clock.now()
    session.flush()
    record_event(session, user, "tender.update", tender, _tender_payload(tender))
    return tender


# ---------------------------------------------------------------- review and publication
def submit_tender(session: Session, user: User, tender: Tender) -> None:
    """DRAFT → SUBMITTED: the tenderee hands the tender and its announcement to staff for review."""
    _require_manager(tender, user)
    _require_state(tender, TenderState.DRAFT)
    from trading.tenders.documents import current_documents

    if not current_documents(session, tender):
        raise InvalidInput("请先上传招标文件", code="documents_missing")
    check_deadline(session, tender.procedure_code, clock.now(), tender.bid_deadline)
    ann = tender_announcement(tender)
    ann.status, ann.submitted_at, ann.review_reason = AnnouncementState.SUBMITTED, clock.now(), None
    tender.return_reason = None
    move_tender(session, user, tender, TenderState.SUBMITTED, action="tender.submit")


def return_tender(session: Session, staff: User, tender: Tender, reason: str) -> None:
    """SUBMITTED → DRAFT with the reviewer's reasons (退回)."""
    _require_state(tender, TenderState.SUBMITTED)
    ann = tender_announcement(tender)
    ann.status, ann.review_reason, ann.reviewed_by_user_id = AnnouncementState.RETURNED, reason, staff.id
    tender.return_reason = reason
    move_tender(session, staff, tender, TenderState.DRAFT, action="tender.return", detail={"reason": reason})


def publish_tender(session: Session, staff: User, tender: Tender, settings: Settings) -> None:
    """SUBMITTED → PUBLISHED: documents count as issued now; the deadline rule is checked again.
    ``settings`` locate the key that wraps each new ceremony's private key."""
    _require_state(tender, TenderState.SUBMITTED)
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
    from trading.opening.ceremonies import create_ceremonies  # the opening depends on tenders, not back

    create_ceremonies(session, tender, settings)


# ---------------------------------------------------------------- amendments (变更/澄清)
def draft_amendment(session: Session, user: User, tender: Tender, data: AmendmentIn) -> Announcement:
    _require_manager(tender, user)
    ensure_current(session, tender)
    _require_state(tender, TenderState.PUBLISHED)
    if data.new_deadline is not None and data.new_deadline < tender.bid_deadline:
        raise InvalidInput("变更不能提前投标截止时间", fields={"new_deadline": "不得早于现截止时间"})
    now = clock.now()
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
        _require_state(tender, TenderState.PUBLISHED)
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


# ---------------------------------------------------------------- suspension and termination
def suspend_tender(session: Session, staff: User, tender: Tender, reason: str) -> None:
    """PUBLISHED → SUSPENDED (e.g. while a complaint is handled); the deadline stops counting."""
    ensure_current(session, tender)
    _require_state(tender, TenderState.PUBLISHED)
    tender.status_reason = reason
    move_tender(session, staff, tender, TenderState.SUSPENDED, action="tender.suspend", detail={"reason": reason})


def resume_tender(session: Session, staff: User, tender: Tender, new_deadline: dt.datetime) -> None:
    """SUSPENDED → PUBLISHED with a deadline that again leaves the amendment lead time."""
    _require_state(tender, TenderState.SUSPENDED)
    proc = get_procedure(session, tender.procedure_code)
    now = clock.now()
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


def terminate_tender(session: Session, user: User, tender: Tender, reason: str) -> None:
    """→ TERMINATED (终止招标). A tender already public gets a termination notice at once."""
    if not (tender.can_manage(user) or Role.STAFF in user.roles):
        raise Forbidden("只有招标人、其代理机构或交易中心工作人员可以终止招标")
    ensure_current(session, tender)
    _require_state(tender, TenderState.DRAFT, TenderState.SUBMITTED, TenderState.PUBLISHED, TenderState.SUSPENDED)
    was_public = tender.is_public
    tender.status_reason = reason
    move_tender(session, user, tender, TenderState.TERMINATED, action="tender.terminate", detail={"reason": reason})
    from trading.opening.stages import cancel_for_termination  # the opening builds on tenders

    cancel_for_termination(session, tender)
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


def managed_tenders(session: Session, user: User) -> list[Tender]:
    """The tenders a tenderee or agency user manages, newest first."""
    q = select(Tender).where(
        (Tender.tenderee_org_id == user.organisation_id) | (Tender.agency_org_id == user.organisation_id)
    )
    return [t for t in session.scalars(q.order_by(Tender.id.desc())) if t.can_manage(user)]
