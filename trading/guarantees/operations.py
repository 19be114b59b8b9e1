"""The guarantee flows (电子保函): a bidder's application, the issuer's decision and guarantee, the
platform's verification, the bond status the opening reads, release, and the issuer's answer to
a claim. Each function takes the actor, flushes, writes its audit event and never commits.

Who bids is secret until the opening (Law 22), and an application says who means to bid: its
audit events are sealed (trading.tenders.sealed: a fresh commitment each, opened after the
deadline), never naming the tender, the order or the bidder, and the
tenderee, staff and supervisors see a lot's guarantees only once the lot's bids are opened.
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor, record_event
from archive.db import locked
from archive.objectstore import ObjectStore
from signing.canonical import canonical_json
from signing.certs import TrustStore, Usage
from signing.digest import sm3_hex
from signing.messages import seal_field
from trading.accounts.models import Organisation, OrgKind, Role, User
from trading.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from trading.guarantees.models import (
    LIVE_ORDER_STATES,
    ClaimState,
    Guarantee,
    GuaranteeClaim,
    GuaranteeOrder,
    GuaranteeState,
    OrderState,
)
from trading.guarantees.rules import (
    GuaranteeRefused,
    OrderFacts,
    check_signature,
    check_terms,
    parse_content,
)
from trading.guarantees.rules import reveal as reveal_fields
from trading.pki.operations import current_certificate, registered_signing_cert
from trading.tenders.documents import get_interest
from trading.tenders.models import Lot, Tender, TenderState
from trading.tenders.operations import ensure_current
from trading.tenders.sealed import record_sealed

MAX_DOCUMENT = 512 * 1024  # a guarantee PDF/OFD is small; base64 of it fits the 1 MiB JSON limit


# ---------------------------------------------------------------- issuers
def issuer_api_user(session: Session, issuer: Organisation) -> User | None:
    """The issuer's API client: its active issuer-role user with registered signing and encryption
    certificates (the first, if several)."""
    for u in session.scalars(select(User).where(User.organisation_id == issuer.id, User.is_active.is_(True))):
        if (
            Role.ISSUER in u.roles
            and current_certificate(session, u, Usage.SIGN)
            and current_certificate(session, u, Usage.ENCRYPT)
        ):
            return u
    return None


def open_issuers(session: Session) -> list[Organisation]:
    """Issuers a bidder can choose: active issuer organisations with an API client set up."""
    orgs = session.scalars(select(Organisation).where(Organisation.kind == OrgKind.ISSUER).order_by(Organisation.name))
    return [o for o in orgs if issuer_api_user(session, o) is not None]


def _issuer(session: Session, credit_code: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.credit_code == credit_code))
    if org is None or org.kind is not OrgKind.ISSUER:
        raise InvalidInput(
            "出具机构不存在或未启用", fields={"issuer": "请选择平台已接入的出具机构"}, code="unknown_issuer"
        )
    if issuer_api_user(session, org) is None:
        raise Conflict("该出具机构尚未开通电子保函接口", code="issuer_not_connected")
    return org


# ---------------------------------------------------------------- application
def valid_until(tender: Tender) -> dt.date:
    """The last day of the bid validity period, counted from the deadline's Beijing date (Reg 26)."""
    return clock.local(tender.bid_deadline).date() + dt.timedelta(days=tender.bid_validity_days)


def _record_secretly(
    session: Session, kek: bytes, user: User, tender: Tender, order: GuaranteeOrder, action: str
) -> None:
    """The bidder's own step, as a sealed event: neither tender, order nor bidder is named."""
    assert user.organisation is not None
    lot = session.get(Lot, order.lot_id)
    facts = {"order": order.id, "lot": lot.number if lot else None, "issuer": order.issuer_org_id, "user": user.id}
    record_sealed(session, kek, tender, user.organisation.credit_code, action, facts)


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
    issuer = _issuer(session, issuer_code)
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
    _record_secretly(session, kek, user, tender, order, "guarantee.apply")
    return order


def cancel(session: Session, user: User, order: GuaranteeOrder, *, kek: bytes) -> None:
    if order.org_id != user.organisation_id:
        raise NotFound("保函申请不存在")
    if order.state is not OrderState.APPLIED:
        raise Conflict(f"申请{order.state.label}，不能取消", code="wrong_state")
    order.state, order.decided_at = OrderState.CANCELLED, clock.now()
    tender = session.get(Tender, order.tender_id)
    assert tender is not None
    _record_secretly(session, kek, user, tender, order, "guarantee.cancel")


def my_orders(session: Session, user: User) -> list[GuaranteeOrder]:
    if user.organisation_id is None:
        return []
    q = select(GuaranteeOrder).where(GuaranteeOrder.org_id == user.organisation_id)
    return list(session.scalars(q.order_by(GuaranteeOrder.id.desc())))


def guarantee_of(session: Session, order: GuaranteeOrder) -> Guarantee | None:
    return session.scalar(select(Guarantee).where(Guarantee.order_id == order.id))


# ---------------------------------------------------------------- the issuer's side
def _org(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    assert org is not None
    return org


def facts(session: Session, order: GuaranteeOrder) -> OrderFacts:
    tender, lot = session.get(Tender, order.tender_id), session.get(Lot, order.lot_id)
    assert tender is not None and lot is not None
    return OrderFacts(
        order=order.id,
        issuer=_org(session, order.issuer_org_id).credit_code,
        beneficiary=_org(session, tender.tenderee_org_id).credit_code,
        principal=_org(session, order.org_id).credit_code,
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
    principal = _org(session, order.org_id)
    return {
        "order": order.id,
        "state": order.state.value,
        "tender": f.tender,
        "tender_title": tender.title,
        "lot": f.lot,
        "lot_name": lot.name,
        "beneficiary": {"credit_code": f.beneficiary, "name": _org(session, tender.tenderee_org_id).name},
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


def _require_applied(order: GuaranteeOrder) -> None:
    if order.state is not OrderState.APPLIED:
        raise Conflict(f"申请{order.state.label}，不能再处理", code="wrong_state")


def reject(session: Session, issuer_user: User, order: GuaranteeOrder, reason: str) -> None:
    _require_applied(order)
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 500:
        raise InvalidInput("请填写拒绝原因（2–500 字）", fields={"reason": "2–500 字"})
    order.state, order.decided_at, order.reject_reason = OrderState.REJECTED, clock.now(), reason
    record_event(session, issuer_user, "guarantee.reject", order, {"reason": reason})


def issue(
    session: Session,
    store: ObjectStore,
    trust: TrustStore,
    issuer_user: User,
    order: GuaranteeOrder,
    *,
    content: str,
    signature: str,
    signer_cert: str,
    document: bytes,
) -> Guarantee:
    """The issuer's guarantee, accepted only if it satisfies the bond (rules.py); a refusal is
    named, recorded on the order for the bidder to read (the view commits it) and raised.
    Where the lot seals guarantees, project, lot and beneficiary are commitments and the document
    (which names them) comes with the reveal at the opening: the guarantee is held as sealed."""
    _require_applied(order)
    now = clock.now()
    lot = session.get(Lot, order.lot_id)
    assert lot is not None
    sealed = lot.guarantee_sealed
    try:
        if sealed and document:
            raise GuaranteeRefused("本标段要求保函加密：保函文件在开标时随揭示提交", code="document_before_opening")
        if not sealed and not 0 < len(document) <= MAX_DOCUMENT:
            raise GuaranteeRefused("保函文件为空或超过 512 KiB", code="bad_document")
        try:
            signer_der = base64.b64decode(signer_cert, validate=True)
        except ValueError:
            raise GuaranteeRefused("签名证书不是有效的 base64", code="bad_certificate") from None
        try:
            registered = registered_signing_cert(session, issuer_user, trust)
        except DomainError as exc:
            raise GuaranteeRefused(f"出具机构证书无效：{exc.message}", code=exc.code) from None
        check_signature(content, signature, signer_der, registered)
        value = parse_content(content)
        amount, starts, ends = check_terms(
            value, facts(session, order), None if sealed else sm3_hex(document), sealed=sealed
        )
        number = str(value["number"])
        taken = session.scalar(
            select(Guarantee.id).where(Guarantee.issuer_org_id == order.issuer_org_id, Guarantee.number == number)
        )
        if taken is not None:
            raise GuaranteeRefused(f"保函编号 {number} 已被本机构的另一份保函使用", code="duplicate_number")
    except GuaranteeRefused as exc:
        order.last_refusal = {"code": exc.code, "message": exc.message, "at": now.isoformat()}
        record_event(session, issuer_user, "guarantee.refuse", order, {"code": exc.code})
        raise
    obj = None if sealed else store.put_bytes(document)
    g = Guarantee(
        order_id=order.id,
        issuer_org_id=order.issuer_org_id,
        lot_id=order.lot_id,
        org_id=order.org_id,
        number=number,
        amount=amount,
        starts_on=starts,
        ends_on=ends,
        verification_code=str(value["verification_code"]),
        document_name=str(value["document_name"])[:200],
        document_key=obj.key if obj else None,
        document_sm3=str(value["document_sm3"]),
        content=content,
        signature=signature,
        signer_cert=signer_cert,
        state=GuaranteeState.SEALED if sealed else GuaranteeState.VALID,
        verified_at=now,
    )
    session.add(g)
    order.state, order.decided_at, order.last_refusal = OrderState.ISSUED, now, None
    try:
        session.flush()
    except IntegrityError:  # the same number pushed twice at once
        raise Conflict(f"保函编号 {number} 已被使用", code="duplicate_number") from None
    record_event(
        session,
        issuer_user,
        "guarantee.issue",
        g,
        {"order": order.id, "number": number, "content_sm3": sm3_hex(content.encode())},
    )
    return g


def issuer_reveals(session: Session, issuer_user: User) -> list[Guarantee]:
    """Sealed guarantees whose opening has come: the platform asks the issuer to reveal them."""
    q = (
        select(Guarantee)
        .join(Lot, Lot.id == Guarantee.lot_id)
        .join(Tender, Tender.id == Lot.tender_id)
        .where(
            Guarantee.issuer_org_id == issuer_user.organisation_id,
            Guarantee.state == GuaranteeState.SEALED,
            Tender.deadline_passed_by(clock.now()),
        )
    )
    return list(session.scalars(q.order_by(Guarantee.id)))


def issuer_guarantee(session: Session, issuer_user: User, guarantee_id: int) -> Guarantee:
    g = session.scalar(locked(select(Guarantee).where(Guarantee.id == guarantee_id)))
    if g is None or g.issuer_org_id != issuer_user.organisation_id:
        raise NotFound("保函不存在", code="no_such_guarantee")
    return g


def reveal(
    session: Session, store: ObjectStore, issuer_user: User, g: Guarantee, openings: Any, document: bytes
) -> Guarantee:
    """At the opening the issuer opens a sealed guarantee's commitments and hands over its document.
    Openings or a document that do not match what it signed are refused (nothing changes, it may
    send the right ones); revealed terms that do not satisfy the bond make the guarantee invalid,
    with the reason, which the bond column shows (the view commits that and raises)."""
    if g.state is not GuaranteeState.SEALED:
        raise Conflict(f"保函{g.state.label}，无需揭示", code="wrong_state")
    order = session.get(GuaranteeOrder, g.order_id)
    tender = session.get(Tender, order.tender_id) if order else None
    assert order is not None and tender is not None
    now = clock.now()
    if not tender.deadline_passed(now):
        raise Conflict("开标前不揭示保函", code="before_opening")
    if not 0 < len(document) <= MAX_DOCUMENT:
        raise GuaranteeRefused("保函文件为空或超过 512 KiB", code="bad_document")
    opened = reveal_fields(parse_content(g.content), openings)
    if opened["document_sm3"] != sm3_hex(document):
        raise GuaranteeRefused("保函文件的 SM3 与签名内容不符", code="document_hash_mismatch")
    try:
        check_terms(opened, facts(session, order), sm3_hex(document))
    except GuaranteeRefused as exc:
        g.state, g.revealed_at, g.openings = GuaranteeState.INVALID, now, openings
        g.invalid_reason = {"code": exc.code, "message": exc.message}
        record_event(session, issuer_user, "guarantee.invalid", g, {"code": exc.code})
        raise
    g.document_key = store.put_bytes(document).key
    g.state, g.revealed_at, g.openings = GuaranteeState.VALID, now, openings
    record_event(session, issuer_user, "guarantee.reveal", g, {"openings_sm3": sm3_hex(canonical_json(openings))})
    return g


# ---------------------------------------------------------------- the opening, release, claims
def bond_status(session: Session, lot_id: int, org_id: int) -> dict[str, Any]:
    """The price reading's bond column (保证金): satisfied by guarantee N from issuer X, or missing."""
    g = session.scalar(
        select(Guarantee)
        .where(Guarantee.lot_id == lot_id, Guarantee.org_id == org_id)
        .order_by(Guarantee.id.desc())
        .limit(1)
    )
    if g is None:
        order = session.scalar(
            select(GuaranteeOrder)
            .where(GuaranteeOrder.lot_id == lot_id, GuaranteeOrder.org_id == org_id)
            .order_by(GuaranteeOrder.id.desc())
            .limit(1)
        )
        if order is not None and order.last_refusal:
            return {"status": "invalid", "label": f"保函无效：{order.last_refusal['message']}"}
        return {"status": "missing", "label": "未提交电子保函"}
    issuer = _org(session, g.issuer_org_id).name
    if g.state is GuaranteeState.SEALED:
        return {"status": "sealed", "label": f"电子保函 {g.number}（{issuer}，待出具机构揭示）", "number": g.number}
    if g.state is GuaranteeState.INVALID:
        reason = (g.invalid_reason or {}).get("message", "")
        return {"status": "invalid", "label": f"保函无效：{reason}", "number": g.number}
    return {
        "status": "satisfied",
        "label": f"电子保函 {g.number}（{issuer}，{g.amount} 元，至 {g.ends_on}）",
        "number": g.number,
        "issuer": issuer,
        "amount": str(g.amount),
        "state": g.state.value,
    }


def release(session: Session, g: Guarantee, reason: str, actor: Actor = SYSTEM) -> None:
    g.state, g.released_at, g.release_reason = GuaranteeState.RELEASED, clock.now(), reason
    record_event(session, actor, "guarantee.release", g, {"reason": reason})


def lot_guarantees(session: Session, lot: Lot) -> list[Guarantee]:
    return list(session.scalars(select(Guarantee).where(Guarantee.lot_id == lot.id).order_by(Guarantee.id)))


def issuer_claims(session: Session, issuer_user: User, state: ClaimState = ClaimState.FILED) -> list[GuaranteeClaim]:
    q = (
        select(GuaranteeClaim)
        .join(Guarantee, Guarantee.id == GuaranteeClaim.guarantee_id)
        .where(Guarantee.issuer_org_id == issuer_user.organisation_id, GuaranteeClaim.state == state)
    )
    return list(session.scalars(q.order_by(GuaranteeClaim.id)))


def answer_claim(
    session: Session,
    issuer_user: User,
    claim_id: int,
    *,
    pay: bool,
    answer: str,
    paid_amount: Decimal | None,
    payment_reference: str | None,
) -> GuaranteeClaim:
    """The issuer's answer to a claim it received: paid (with the amount and the payment's
    reference) or refused with reasons."""
    claim = session.scalar(locked(select(GuaranteeClaim).where(GuaranteeClaim.id == claim_id)))
    g = session.get(Guarantee, claim.guarantee_id) if claim else None
    if claim is None or g is None or g.issuer_org_id != issuer_user.organisation_id:
        raise NotFound("索赔不存在", code="no_such_claim")
    if claim.state is not ClaimState.FILED:
        raise Conflict(f"索赔{claim.state.label}，不能再答复", code="wrong_state")
    answer = (answer or "").strip()
    if not 2 <= len(answer) <= 2000:
        raise InvalidInput("请填写答复（2–2000 字）", fields={"answer": "2–2000 字"})
    if pay:
        if paid_amount is None or not 0 < paid_amount <= g.amount or not payment_reference:
            raise InvalidInput(
                f"赔付金额应在 0–{g.amount} 元之间，并填写付款凭证号",
                fields={"paid_amount": "金额", "payment_reference": "凭证号"},
            )
        claim.state, claim.paid_amount, claim.payment_reference = ClaimState.PAID, paid_amount, payment_reference[:80]
        g.state = GuaranteeState.PAID
    else:
        claim.state = ClaimState.REFUSED
        g.state = GuaranteeState.VALID
    claim.answer, claim.answered_at = answer, clock.now()
    record_event(
        session,
        issuer_user,
        f"guarantee.claim_{claim.state.value}",
        claim,
        {"paid_amount": str(paid_amount) if pay else None, "payment_reference": payment_reference if pay else None},
    )
    return claim
