"""Drafting a tender (招标项目): creating it with its lots and its announcement, and editing the draft."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import Organisation, OrgKind, Role, User
from trading.core.errors import Forbidden, InvalidInput
from trading.procedures.operations import get_procedure
from trading.tenders.models import Announcement, AnnouncementKind, AnnouncementState, Lot, Tender, TenderState
from trading.tenders.operations import check_deadline, require_manager, require_state, tender_announcement
from trading.tenders.schemas import LotIn, TenderIn


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
        joint_opening=bool(data.joint_opening),
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


def update_tender(session: Session, user: User, tender: Tender, data: TenderIn) -> Tender:
    require_manager(tender, user)
    require_state(tender, TenderState.DRAFT)
    tenderee_id, agency_id = _resolve_orgs(session, user, data)
    if tenderee_id != tender.tenderee_org_id:
        raise InvalidInput("不能更改招标人", fields={"tenderee_org_id": "不可更改"})
    check_deadline(session, data.procedure_code, clock.now(), data.bid_deadline)
    fields = ("title", "description", "category", "procedure_code", "region", "bid_deadline", "bid_validity_days")
    for field in fields:
        setattr(tender, field, getattr(data, field))
    if data.joint_opening is not None:  # left out: kept (TenderIn.joint_opening)
        tender.joint_opening = data.joint_opening
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


def managed_tenders(session: Session, user: User) -> list[Tender]:
    """The tenders a tenderee or agency user manages, newest first."""
    q = select(Tender).where(
        (Tender.tenderee_org_id == user.organisation_id) | (Tender.agency_org_id == user.organisation_id)
    )
    return [t for t in session.scalars(q.order_by(Tender.id.desc())) if t.can_manage(user)]
