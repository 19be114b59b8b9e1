"""Buyers' registrations (竞买申请): applying, its documents, staff's qualification review with the
drawn bidding number (竞买号牌), and withdrawal: the one place that writes ``Registration.state``.

The bidding number is known only to the buyer and the platform until the result: the public sees
how many registered and were approved, never who holds which number. Every move is checked against
``MOVES`` (a named ``Conflict`` otherwise) and writes its audit event in the caller's transaction.

An application is checked against the credit register like a tender's registration
(``trading.credit.checks``): a buyer barred from bidding in the lot's region and category is
refused with the entries named (409 ``credit_barred``); the signed check's SM3 goes into the
application's audit event.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from typing import IO, Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from archive.db import locked
from archive.objectstore import ObjectStore
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.auctions import documents, rules
from trading.auctions.models import (
    Auction,
    AuctionBid,
    AuctionDocument,
    AuctionState,
    DepositState,
    Registration,
    RegistrationState,
)
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.platform_keys import PlatformKeys
from trading.core.schemas import checked_text, file_name
from trading.credit import checks
from trading.credit.models import CheckPurpose, CreditCheck, SubjectKind
from trading.credit.rules import Scope
from trading.tenders.documents import CreditBarred, contact_fields, entry_text

R = RegistrationState
MOVES: dict[RegistrationState, frozenset[RegistrationState]] = {
    R.SUBMITTED: frozenset({R.APPROVED, R.REJECTED, R.WITHDRAWN}),
    R.APPROVED: frozenset({R.WITHDRAWN}),
    R.REJECTED: frozenset(),
    R.WITHDRAWN: frozenset(),
}
ACTIONS = {
    R.SUBMITTED: "auction_registration.apply",
    R.APPROVED: "auction_registration.approve",
    R.REJECTED: "auction_registration.reject",
    R.WITHDRAWN: "auction_registration.withdraw",
}

#: one qualification document (营业执照, 授权委托书, …), and how many one application may carry
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_DOCUMENTS = 20
MAX_REASON = 500
#: tries at a bidding number another approval took at the same instant (a unique constraint)
DRAW_TRIES = 8


class RegistrationMoveRefused(Conflict):
    code = "registration_transition"


class AlreadyRegistered(Conflict):
    code = "already_registered"


class RegistrationClosed(Conflict):
    code = "registration_closed"


# ---------------------------------------------------------------- reading
def visible_lot(session: Session, code: str, user: User | None, *, for_update: bool = False) -> Auction:
    """A lot by its code; a draft only for those who manage or read lots (404 otherwise)."""
    q = select(Auction).where(Auction.code == code)
    a = session.scalars(locked(q) if for_update else q).one_or_none()
    if a is None or (a.state is AuctionState.DRAFT and not has(user, Permission.AUCTION_READ)):
        raise NotFound("未找到该标的", code="auction_not_found")
    return a


def own_registration(session: Session, a: Auction, user: User) -> Registration | None:
    """The caller's organisation's application for ``a``, if any."""
    if user.organisation_id is None:
        return None
    return session.scalar(
        select(Registration).where(Registration.auction_id == a.id, Registration.org_id == user.organisation_id)
    )


def require_own(session: Session, a: Auction, user: User, *, for_update: bool = False) -> Registration:
    reg = own_registration(session, a, user)
    if reg is None:
        raise NotFound("贵单位尚未提交本标的的竞买申请", code="registration_not_found")
    if for_update:
        session.scalar(locked(select(Registration).where(Registration.id == reg.id)))
    return reg


def get_registration(session: Session, user: User, reg_id: int, *, for_update: bool = False) -> Registration:
    """A registration by id, for the platform (AUCTION_READ) or its own organisation; 404 to anyone
    else, so that ids tell nobody which registrations exist."""
    q = select(Registration).where(Registration.id == reg_id)
    reg = session.scalar(locked(q) if for_update else q)
    if reg is None or not (has(user, Permission.AUCTION_READ) or user.organisation_id == reg.org_id):
        raise NotFound("竞买申请不存在", code="registration_not_found")
    return reg


def registrations_of(session: Session, a: Auction) -> list[Registration]:
    """Every application for ``a`` (the platform's list: names with numbers)."""
    return list(session.scalars(select(Registration).where(Registration.auction_id == a.id).order_by(Registration.id)))


def documents_of(session: Session, reg: Registration) -> list[AuctionDocument]:
    q = select(AuctionDocument).where(AuctionDocument.registration_id == reg.id).order_by(AuctionDocument.id)
    return list(session.scalars(q))


def counts(session: Session, a: Auction) -> dict[str, int]:
    """What the public may know of the buyers: how many applied, were approved, may bid."""
    rows = session.execute(
        select(Registration.state, Registration.deposit_state, func.count())
        .where(Registration.auction_id == a.id)
        .group_by(Registration.state, Registration.deposit_state)
    ).all()
    out = {"applied": 0, "approved": 0, "may_bid": 0}
    for state, deposit, n in rows:
        if state is not R.WITHDRAWN:
            out["applied"] += n
        if state is R.APPROVED:
            out["approved"] += n
            if deposit is DepositState.CONFIRMED:
                out["may_bid"] += n
    return out


def has_bid(session: Session, reg: Registration) -> bool:
    return session.scalar(select(AuctionBid.id).where(AuctionBid.registration_id == reg.id).limit(1)) is not None


# ---------------------------------------------------------------- the one writer of state
def move_registration(
    session: Session, actor: Actor, reg: Registration, to: RegistrationState, *, at: dt.datetime, **payload: Any
) -> None:
    """Move ``reg`` to ``to`` under its row lock; the audit event says so (with ``payload``)."""
    session.scalar(locked(select(Registration).where(Registration.id == reg.id)))
    frm = reg.state
    if to not in MOVES[frm]:
        raise RegistrationMoveRefused(f"竞买申请状态为“{frm.label}”，不能改为“{to.label}”")
    reg.state = to
    session.flush()
    a = session.get(Auction, reg.auction_id)
    assert a is not None  # a foreign key
    body = {"auction": a.code, "from": frm.value, "to": to.value, "at": clock.as_utc(at).isoformat(), **payload}
    record_event(session, actor, ACTIONS[to], reg, body)


# ---------------------------------------------------------------- the buyer
def buyer(user: User) -> None:
    if not has(user, Permission.AUCTION_BUY) or user.organisation is None:
        raise Forbidden("只有竞买人可以提交竞买申请", code="not_a_buyer")


def open_for_registration(a: Auction, now: dt.datetime) -> None:
    """Applications, documents and withdrawals: only between the announcement and the deadline."""
    if a.state is AuctionState.DRAFT or a.state.ended:
        raise RegistrationClosed(f"标的状态为“{a.state.label}”，不接受竞买申请")
    if now >= clock.as_utc(a.registration_ends_at):
        raise RegistrationClosed("竞买申请截止时间已过")


def credit_check(session: Session, keys: PlatformKeys, user: User, a: Auction, now: dt.datetime) -> CreditCheck:
    """The signed credit check of the application: the buyer's organisation, the lot's region and
    category, today (Beijing)."""
    org = user.organisation
    assert org is not None
    return checks.check(
        session,
        keys,
        checks.Subject(SubjectKind.ORGANISATION, org.credit_code, org.name),
        Scope(region=a.region, category=a.category, on=clock.local(now).date()),
        purpose=CheckPurpose.REGISTRATION,
        tender_code=a.code,
        lot_number=None,
        now=now,
    )


def apply(
    session: Session, user: User, a: Auction, contact_name: str, contact_phone: str, *, keys: PlatformKeys
) -> Registration:
    """竞买申请: one per organisation per lot, before the registration deadline, after a signed
    credit check. A barred buyer is refused (``CreditBarred``) after the check and the refusal's
    audit event are flushed: the caller commits them before answering, so the evidence outlives
    the refused request."""
    buyer(user)
    contact_name, contact_phone = contact_fields(contact_name, contact_phone)
    now = clock.now()
    open_for_registration(a, now)
    if own_registration(session, a, user) is not None:
        raise AlreadyRegistered("贵单位已提交过本标的的竞买申请")
    org = user.organisation
    assert org is not None
    check = credit_check(session, keys, user, a, now)
    facts = {"auction": a.code, "credit_check_sm3": check.statement_sm3, "credit_result": checks.result_of(check)}
    if check.barred:
        record_event(session, user, "auction_registration.refused", a, facts)
        barring = [e for e in check.found if e["measure"] == "bar_bidding"]
        raise CreditBarred(
            "贵单位存在限制参与竞买的信用记录，不能提交竞买申请："
            + "；".join(entry_text(e) for e in barring)
            + "。如对信用记录有异议，请向作出决定的机关申请更正或撤销。",
            barring,
            check,
        )
    reg = Registration(
        auction_id=a.id,
        org_id=org.id,
        user_id=user.id,
        contact_name=contact_name,
        contact_phone=contact_phone,
        state=R.SUBMITTED,
        deposit_state=DepositState.UNPAID,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(reg)
            session.flush()
    except IntegrityError:  # the same organisation's other request won the race
        raise AlreadyRegistered("贵单位已提交过本标的的竞买申请") from None
    record_event(session, user, ACTIONS[R.SUBMITTED], reg, {**facts, "to": R.SUBMITTED.value, "org": org.credit_code})
    return reg


def upload_document(
    session: Session, store: ObjectStore, user: User, reg: Registration, name: str, src: IO[bytes]
) -> AuctionDocument:
    """A qualification document of the buyer's application (bounded; stored by its SM3), while the
    application awaits review and before the deadline."""
    if user.organisation_id != reg.org_id or not has(user, Permission.AUCTION_BUY):
        raise NotFound("竞买申请不存在", code="registration_not_found")
    name = file_name(name, "file")
    a = session.get(Auction, reg.auction_id)
    assert a is not None  # a foreign key
    open_for_registration(a, clock.now())
    if reg.state is not R.SUBMITTED:
        raise Conflict(f"竞买申请状态为“{reg.state.label}”，不能再上传材料", code="registration_closed")
    if len(documents_of(session, reg)) >= MAX_DOCUMENTS:
        raise Conflict(f"每份竞买申请最多上传 {MAX_DOCUMENTS} 个文件", code="too_many_documents")
    doc = documents.stored_document(session, store, user, a, name, src, MAX_DOCUMENT_BYTES, reg.id)
    facts = {"auction": a.code, "document": doc.id, "name": name, "sm3": doc.sm3, "size": doc.size}
    record_event(session, user, "auction_registration.document", reg, facts)
    return doc


def open_document(
    session: Session, store: ObjectStore, user: User, reg: Registration, doc_id: int
) -> tuple[AuctionDocument, AbstractContextManager[BinaryIO]]:
    """A registration's document for the platform or its own organisation; the read is recorded."""
    doc = session.get(AuctionDocument, doc_id)
    if doc is None or doc.registration_id != reg.id:
        raise NotFound("文件不存在", code="document_not_found")
    record_event(session, user, "auction_document.read", reg, {"document": doc.id, "sm3": doc.sm3})
    return doc, store.open(doc.object_key)


def withdraw(session: Session, user: User, reg: Registration) -> Registration:
    """The buyer withdraws its application before the deadline and before it has bid; a deposit
    received is then refunded by staff (``deposits.refund``)."""
    buyer(user)
    if user.organisation_id != reg.org_id:
        raise NotFound("竞买申请不存在", code="registration_not_found")
    # the lot's lock first, then the registration's: the order a bid takes them in, so a bid and a
    # withdrawal are one after the other (a bid re-reads its registration under the lot's lock)
    a = session.scalars(locked(select(Auction).where(Auction.id == reg.auction_id))).one()
    session.scalar(locked(select(Registration).where(Registration.id == reg.id)))
    now = clock.now()
    open_for_registration(a, now)
    if has_bid(session, reg):
        raise Conflict("已出价的竞买人不能撤回竞买申请", code="already_bid")
    move_registration(session, user, reg, R.WITHDRAWN, at=now)
    return reg


# ---------------------------------------------------------------- staff
def review_reason(reason: str, approve: bool) -> str:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"理由不超过 {MAX_REASON} 字", fields={"reason": f"不超过 {MAX_REASON} 字"})
    if not approve and not reason:
        raise InvalidInput("审核不通过须说明理由", fields={"reason": "必填"})
    return checked_text(reason, "reason")


def review(session: Session, user: User, reg: Registration, approve: bool, reason: str) -> Registration:
    """Staff's qualification review (资格审核). Approval draws the bidding number, unique per lot:
    two approvals drawing the same number at once meet the unique constraint, and the loser draws
    again inside a savepoint."""
    if not has(user, Permission.AUCTION_MANAGE):
        raise Forbidden("只有交易中心工作人员可以审核竞买申请")
    reason = review_reason(reason, approve)
    session.scalar(locked(select(Registration).where(Registration.id == reg.id)))
    a = session.get(Auction, reg.auction_id)
    assert a is not None  # a foreign key
    if a.state.ended:
        raise Conflict(f"标的状态为“{a.state.label}”，不能再审核竞买申请", code="auction_ended")
    to = R.APPROVED if approve else R.REJECTED
    if to not in MOVES[reg.state]:
        raise RegistrationMoveRefused(f"竞买申请状态为“{reg.state.label}”，不能改为“{to.label}”")
    now = clock.now()
    if approve:
        draw(session, a, reg)
    reg.review_reason, reg.reviewed_by, reg.reviewed_at = reason or None, user.id, now
    move_registration(session, user, reg, to, at=now, reason=reason, bidding_number=reg.bidding_number)
    return reg


def draw(session: Session, a: Auction, reg: Registration) -> str:
    """Draw ``reg``'s bidding number among those not yet taken in ``a``."""
    for _ in range(DRAW_TRIES):
        taken = set(
            session.scalars(
                select(Registration.bidding_number).where(
                    Registration.auction_id == a.id, Registration.bidding_number.is_not(None)
                )
            )
        )
        number = rules.draw_number({n for n in taken if n is not None})
        try:
            with session.begin_nested():
                reg.bidding_number = number
                session.flush()
            return number
        except IntegrityError:
            continue  # the savepoint rolled back; another approval took the number
    raise Conflict("竞买号牌分配冲突，请重试", code="number_contention")
