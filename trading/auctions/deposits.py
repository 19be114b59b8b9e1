"""The deposit ledger (竞买保证金): the one place that writes ``Registration.deposit_state``.

A buyer pays the lot's deposit by bank transfer and reports its reference; staff confirm it when
the bank shows it arrived; after the end the winner's deposit is counted toward the price and the
others' are paid back within the procedure's limit (国土资源部令第39号: 5 working days;
the exchanges' rules for property). Amounts are always the lot's deposit (no part payments).

Each move is checked against ``MOVES`` (a named ``Conflict`` otherwise) and appends exactly one
``DepositEntry`` line and one audit event in the caller's transaction; the registration's row is
locked first, so two staff confirming at once write one line, not two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from archive.db import locked
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.auctions import rules
from trading.auctions.models import (
    Auction,
    AuctionProcedure,
    AuctionState,
    DepositEntry,
    DepositKind,
    DepositState,
    Registration,
    RegistrationState,
)
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.schemas import checked_text
from trading.procedures.operations import overrides

D = DepositState
#: the allowed moves, and the ledger line each one writes
MOVES: dict[DepositState, dict[DepositState, DepositKind]] = {
    D.UNPAID: {D.REPORTED: DepositKind.REPORTED, D.CONFIRMED: DepositKind.CONFIRMED},
    D.REPORTED: {D.CONFIRMED: DepositKind.CONFIRMED, D.REFUNDED: DepositKind.REFUNDED},
    D.CONFIRMED: {D.CONVERTED: DepositKind.CONVERTED, D.REFUNDED: DepositKind.REFUNDED},
    D.CONVERTED: {},
    D.REFUNDED: {},
}

ACTIONS = {
    DepositKind.REPORTED: "auction_deposit.report",
    DepositKind.CONFIRMED: "auction_deposit.confirm",
    DepositKind.CONVERTED: "auction_deposit.convert",
    DepositKind.REFUNDED: "auction_deposit.refund",
}

#: the bank's reference of a transfer, as the ledger column holds it
MAX_REFERENCE = 100
#: a refund's reasons a registration may be refunded before the lot ends
LEFT = (RegistrationState.REJECTED, RegistrationState.WITHDRAWN)


class DepositMoveRefused(Conflict):
    code = "deposit_transition"


def reference_text(text: object, field: str = "reference") -> str:
    """A bank reference: one line, 1–100 characters after trimming; a named 422 otherwise."""
    if not isinstance(text, str):
        raise InvalidInput("请填写银行流水号或转账凭证号", fields={field: "必填"})
    text = text.strip()
    if not text:
        raise InvalidInput("请填写银行流水号或转账凭证号", fields={field: "必填"})
    if len(text) > MAX_REFERENCE:
        raise InvalidInput(f"流水号不超过 {MAX_REFERENCE} 字", fields={field: f"不超过 {MAX_REFERENCE} 字"})
    return checked_text(text, field, lines=False)


def actor_user_id(actor: Actor) -> int | None:
    return actor.id if isinstance(actor, User) else None


def lot_of(session: Session, reg: Registration) -> Auction:
    a = session.get(Auction, reg.auction_id)
    assert a is not None  # a foreign key
    return a


def move_deposit(
    session: Session,
    actor: Actor,
    reg: Registration,
    to: DepositState,
    *,
    at: dt.datetime,
    reference: str = "",
    note: str = "",
    due_by: dt.datetime | None = None,
) -> DepositEntry:
    """Move ``reg``'s deposit to ``to``, effective ``at``: one ledger line of the lot's deposit and
    one audit event, under the registration's row lock."""
    session.scalar(locked(select(Registration).where(Registration.id == reg.id)))
    frm = reg.deposit_state
    kind = MOVES[frm].get(to)
    if kind is None:
        raise DepositMoveRefused(f"保证金状态为“{frm.label}”，不能改为“{to.label}”")
    a = lot_of(session, reg)
    entry = DepositEntry(
        registration_id=reg.id,
        kind=kind,
        amount=a.deposit,
        reference=reference,
        note=note,
        actor_id=actor_user_id(actor),
        at=at,
        due_by=due_by,
    )
    session.add(entry)
    reg.deposit_state = to
    session.flush()
    body = {
        "auction": a.code,
        "from": frm.value,
        "to": to.value,
        "amount": rules.amount_text(a.deposit),
        "reference": reference,
        "note": note,
        "entry": entry.id,
        "at": clock.as_utc(at).isoformat(),
        "due_by": clock.as_utc(due_by).isoformat() if due_by else None,
    }
    record_event(session, actor, ACTIONS[kind], reg, body)
    return entry


# ---------------------------------------------------------------- the operations
def own(user: User, reg: Registration) -> None:
    """Only the buyer's own organisation acts on its deposit."""
    if not has(user, Permission.AUCTION_BUY) or user.organisation_id != reg.org_id:
        raise Forbidden("只能操作本单位的竞买申请")


def staff(user: User) -> None:
    if not has(user, Permission.AUCTION_MANAGE):
        raise Forbidden("只有交易中心工作人员可以处理保证金")


def report_transfer(session: Session, user: User, reg: Registration, reference: str) -> DepositEntry:
    """The buyer says it transferred the deposit (bank reference), before the registration deadline
    and while its application stands."""
    own(user, reg)
    reference = reference_text(reference)
    a = lot_of(session, reg)
    now = clock.now()
    if reg.state in LEFT:
        raise Conflict("竞买申请已撤回或未通过审核，不能缴纳保证金", code="registration_closed")
    if a.state.ended or now >= clock.as_utc(a.registration_ends_at):
        raise Conflict("保证金缴纳截止时间已过", code="registration_closed")
    return move_deposit(session, user, reg, D.REPORTED, at=now, reference=reference)


def confirm(session: Session, user: User, reg: Registration, reference: str) -> DepositEntry:
    """Staff: the bank shows the lot's deposit arrived (the reference of the bank's record)."""
    staff(user)
    reference = reference_text(reference)
    if reg.state in LEFT:
        raise Conflict("竞买申请已撤回或未通过审核，不能确认保证金", code="registration_closed")
    if lot_of(session, reg).state.ended:
        raise Conflict("标的已结束，不能再确认保证金", code="auction_ended")
    return move_deposit(session, user, reg, D.CONFIRMED, at=clock.now(), reference=reference)


def refund_limit(session: Session, a: Auction) -> dt.datetime | None:
    """The limit for paying back the others' deposits, once the lot has ended (rules.refund_due)."""
    if not a.state.ended or a.ended_at is None:
        return None
    proc = session.get(AuctionProcedure, a.procedure_code)
    assert proc is not None  # a foreign key
    return rules.refund_due(clock.as_utc(a.ended_at), proc, overrides(session))


def refund(session: Session, user: User, reg: Registration, reference: str) -> DepositEntry:
    """Staff: the deposit was paid back (the reference of the outgoing transfer): once the lot has
    ended, or at any time for an application rejected or withdrawn. Never the winner's."""
    staff(user)
    reference = reference_text(reference)
    a = lot_of(session, reg)
    if not a.state.ended and reg.state not in LEFT:
        raise Conflict("标的结束前只能退还已撤回或未通过审核的竞买人的保证金", code="refund_too_early")
    if a.state is AuctionState.SOLD and a.leader_id == reg.id:
        raise Conflict("竞得人的保证金转为成交价款，不予退还", code="winner_deposit")
    return move_deposit(
        session, user, reg, D.REFUNDED, at=clock.now(), reference=reference, due_by=refund_limit(session, a)
    )


def convert_winner(session: Session, actor: Actor, reg: Registration, at: dt.datetime) -> DepositEntry:
    """The winner's deposit counts toward the price (39号令): CONFIRMED → CONVERTED."""
    return move_deposit(session, actor, reg, D.CONVERTED, at=at, note="竞得人的保证金转为成交价款")


@dataclass(frozen=True)
class RefundDue:
    registration: Registration
    due_by: dt.datetime | None  # None: the lot has not ended (a rejected or withdrawn application)
    overdue: bool


def refunds_due(session: Session, auction: Auction, now: dt.datetime | None = None) -> list[RefundDue]:
    """The deposits still to pay back: every one received (reported or confirmed) of an application
    rejected or withdrawn, and once the lot has ended every one but the winner's, with their limit."""
    now = clock.as_utc(now or clock.now())
    limit = refund_limit(session, auction)
    q = (
        select(Registration)
        .where(
            Registration.auction_id == auction.id,
            Registration.deposit_state.in_((D.REPORTED, D.CONFIRMED)),
        )
        .order_by(Registration.id)
    )
    out = []
    for reg in session.scalars(q):
        if limit is None and reg.state not in LEFT:
            continue
        if auction.state is AuctionState.SOLD and auction.leader_id == reg.id:
            continue  # converted by the result; not a refund
        out.append(RefundDue(reg, limit, limit is not None and now > limit))
    return out
