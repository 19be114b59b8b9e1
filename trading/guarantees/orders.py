"""Orders (保函申请): a bidder's application to an issuer for one lot, its cancellation, and the
issuer's side of it (the orders it receives, its refusal). Each function takes the actor, flushes,
writes its audit event and never commits.

Who bids is secret until the opening (Law 22), and an application says who means to bid: its
audit events are sealed (trading.tenders.sealed: a fresh commitment each, opened after the
deadline), never naming the tender, the order or the bidder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.db import locked
from signing.certs import Usage
from signing.messages import seal_field
from trading.accounts.models import Role, User
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.guarantees.issuers import connected_issuer, organisation
from trading.guarantees.lifecycle import Sealing, move_order
from trading.guarantees.models import LIVE_ORDER_STATES, Guarantee, GuaranteeOrder, OrderState
from trading.guarantees.rules import OrderFacts
from trading.pki.operations import current_certificate
from trading.tenders.documents import get_interest
from trading.tenders.models import Lot, Tender, TenderState
from trading.tenders.operations import ensure_current


def valid_until(tender: Tender) -> dt.date:
    """The last day of the bid validity period, counted from the deadline's Beijing date (Reg 26)."""
    return clock.local(tender.bid_deadline).date() + dt.timedelta(days=tender.bid_validity_days)


def bidder_sealing(session: Session, kek: bytes, user: User, tender: Tender, order: GuaranteeOrder) -> Sealing:
    """The bidder's own step, as a sealed event: neither tender, order nor bidder is named."""
    assert user.organisation is not None
    lot = session.get(Lot, order.lot_id)
    facts = {"order": order.id, "lot": lot.number if lot else None, "issuer": order.issuer_org_id, "user": user.id}
    return Sealing(kek, tender, user.organisation.credit_code, facts)


def apply(
    session: Session, user: User, tender: Tender, lot_number: int, issuer_code: str, *, kek: bytes
) -> GuaranteeOrder:
    """A bidder asks an issuer for a guarantee for one lot, before the deadline, once registered."""
    if Role.BIDDER not in user.roles or user.organisation is None:
        raise Forbidden("只有投标人可以申请电子保函")
    ensure_current(session, tender)
    if tender.status is not TenderState.PUBLISHED:
        raise Conflict("项目不在招标中（已截止或未发布），不能申请保函", code="wrong_state")
    interest = get_interest(session, tender, user)
    if interest is None:
        raise Conflict("请先报名本项目，再申请电子保函", code="not_registered")
    lot = next((lot for lot in tender.lots if lot.number == lot_number), None)
    if lot is None:
        raise NotFound(f"第{lot_number}标段不存在", code="no_such_lot")
    if lot.bond_amount <= 0:
        raise Conflict("本标段不要求投标保证金", code="no_bond")
    issuer = connected_issuer(session, issuer_code)
    live = session.scalar(
        select(GuaranteeOrder.id).where(
            GuaranteeOrder.lot_id == lot.id,
            GuaranteeOrder.org_id == user.organisation.id,
            GuaranteeOrder.state.in_(LIVE_ORDER_STATES),
        )
    )
    if live is not None:
        raise Conflict("本标段已有进行中的保函申请或有效保函", code="duplicate_order")
    order = GuaranteeOrder(
        tender_id=tender.id,
        lot_id=lot.id,
        org_id=user.organisation.id,
        user_id=user.id,
        issuer_org_id=issuer.id,
        state=OrderState.APPLIED,
        amount=lot.bond_amount,
        valid_until=valid_until(tender),
        created_at=clock.now(),
    )
    session.add(order)
    session.flush()
    bidder_sealing(session, kek, user, tender, order).record(session, "guarantee.apply")
    return order


def my_order(session: Session, user: User, order_id: int) -> GuaranteeOrder:
    """One of the caller's organisation's orders, locked (to cancel it)."""
    o = session.scalar(locked(select(GuaranteeOrder).where(GuaranteeOrder.id == order_id)))
    if o is None or o.org_id != user.organisation_id:
        raise NotFound("保函申请不存在")
    return o


def cancel(session: Session, user: User, order: GuaranteeOrder, *, kek: bytes) -> None:
    if order.org_id != user.organisation_id:
        raise NotFound("保函申请不存在")
    if order.state is not OrderState.APPLIED:
        raise Conflict(f"申请{order.state.label}，不能取消", code="wrong_state")
    tender = session.get(Tender, order.tender_id)
    assert tender is not None
    sealing = bidder_sealing(session, kek, user, tender, order)
    move_order(session, user, order, OrderState.CANCELLED, now=clock.now(), sealing=sealing)


def my_orders(session: Session, user: User) -> list[GuaranteeOrder]:
    if user.organisation_id is None:
        return []
    q = select(GuaranteeOrder).where(GuaranteeOrder.org_id == user.organisation_id)
    return list(session.scalars(q.order_by(GuaranteeOrder.id.desc())))


def guarantee_of(session: Session, order: GuaranteeOrder) -> Guarantee | None:
    return session.scalar(select(Guarantee).where(Guarantee.order_id == order.id))


# ---------------------------------------------------------------- the issuer's side
def facts(session: Session, order: GuaranteeOrder) -> OrderFacts:
    tender, lot = session.get(Tender, order.tender_id), session.get(Lot, order.lot_id)
    assert tender is not None and lot is not None
    return OrderFacts(
        order=order.id,
        issuer=organisation(session, order.issuer_org_id).credit_code,
        beneficiary=organisation(session, tender.tenderee_org_id).credit_code,
        principal=organisation(session, order.org_id).credit_code,
        tender=tender.code,
        lot=lot.number,
        bond=order.amount,
        valid_until=order.valid_until,
        deadline=clock.local(tender.bid_deadline).date(),
    )


def order_json(session: Session, order: GuaranteeOrder, issuer_user: User) -> dict[str, Any]:
    """An order as the issuer receives it; the principal (who means to bid) is sealed to the
    issuer's encryption certificate, so that it is readable by the issuer alone wherever it passes."""
    f = facts(session, order)
    tender, lot = session.get(Tender, order.tender_id), session.get(Lot, order.lot_id)
    assert tender is not None and lot is not None
    enc = current_certificate(session, issuer_user, Usage.ENCRYPT)
    assert enc is not None
    principal = organisation(session, order.org_id)
    return {
        "order": order.id,
        "state": order.state.value,
        "tender": f.tender,
        "tender_title": tender.title,
        "lot": f.lot,
        "lot_name": lot.name,
        "beneficiary": {"credit_code": f.beneficiary, "name": organisation(session, tender.tenderee_org_id).name},
        "principal": seal_field({"credit_code": principal.credit_code, "name": principal.name}, enc.public_key),
        "amount": str(order.amount),
        "currency": "CNY",
        "sealed": lot.guarantee_sealed,  # 保函加密: tender, lot and beneficiary as commitments
        "valid_until": order.valid_until.isoformat(),
        "bid_deadline": tender.bid_deadline.isoformat(),
        "deadline_date": f.deadline.isoformat(),
        "created_at": order.created_at.isoformat(),
    }


def issuer_orders(session: Session, issuer_user: User, state: OrderState = OrderState.APPLIED) -> list[GuaranteeOrder]:
    q = select(GuaranteeOrder).where(
        GuaranteeOrder.issuer_org_id == issuer_user.organisation_id, GuaranteeOrder.state == state
    )
    return list(session.scalars(q.order_by(GuaranteeOrder.id)))


def issuer_order(session: Session, issuer_user: User, order_id: int, *, for_update: bool = False) -> GuaranteeOrder:
    q = select(GuaranteeOrder).where(GuaranteeOrder.id == order_id)
    if for_update:
        q = locked(q)
    order = session.scalar(q)
    if order is None or order.issuer_org_id != issuer_user.organisation_id:
        raise NotFound("保函申请不存在", code="no_such_order")
    return order


def require_applied(order: GuaranteeOrder) -> None:
    """An issuer decides an order once."""
    if order.state is not OrderState.APPLIED:
        raise Conflict(f"申请{order.state.label}，不能再处理", code="wrong_state")


def reject(session: Session, issuer_user: User, order: GuaranteeOrder, reason: str) -> None:
    require_applied(order)
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 500:
        raise InvalidInput("请填写拒绝原因（2–500 字）", fields={"reason": "2–500 字"})
    order.reject_reason = reason
    move_order(session, issuer_user, order, OrderState.REJECTED, now=clock.now(), detail={"reason": reason})
