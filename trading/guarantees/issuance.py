"""The issuer's guarantee and the platform's verification of it (保函真伪校验, rules.py): accepted
only if it satisfies the bond, or held sealed (保函加密) until the issuer reveals it at the opening.
Each function takes the actor, flushes, writes its audit event and never commits."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from archive.db import locked
from archive.objectstore import ObjectStore
from signing.canonical import canonical_json
from signing.certs import TrustStore
from signing.digest import sm3_hex
from trading.accounts.models import User
from trading.core.errors import Conflict, DomainError, NotFound
from trading.guarantees.lifecycle import move_guarantee, move_order
from trading.guarantees.models import Guarantee, GuaranteeOrder, GuaranteeState, OrderState
from trading.guarantees.orders import facts, require_applied
from trading.guarantees.rules import GuaranteeRefused, check_signature, check_terms, parse_content
from trading.guarantees.rules import reveal as reveal_fields
from trading.pki.operations import registered_signing_cert
from trading.tenders.models import Lot, Tender

MAX_DOCUMENT = 512 * 1024  # a guarantee PDF/OFD is small; base64 of it fits the 1 MiB JSON limit


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
    require_applied(order)
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
    order.last_refusal = None
    try:
        session.flush()
    except IntegrityError:  # the same number pushed twice at once
        raise Conflict(f"保函编号 {number} 已被使用", code="duplicate_number") from None
    detail = {"order": order.id, "number": number, "content_sm3": sm3_hex(content.encode())}
    move_order(session, issuer_user, order, OrderState.ISSUED, now=now, subject=g, detail=detail)
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
        g.revealed_at, g.openings = now, openings
        g.invalid_reason = {"code": exc.code, "message": exc.message}
        move_guarantee(session, issuer_user, g, GuaranteeState.INVALID, detail={"code": exc.code})
        raise
    g.document_key = store.put_bytes(document).key
    g.revealed_at, g.openings = now, openings
    move_guarantee(
        session, issuer_user, g, GuaranteeState.VALID, detail={"openings_sm3": sm3_hex(canonical_json(openings))}
    )
    return g
