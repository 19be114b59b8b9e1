"""The bidding room (竞价): signed bids accepted in one order, and the moves the clock makes.

Order is decided in one place: the lot's row lock. ``place_bid`` checks everything that does not
depend on the order first (who the buyer is, its signature), then takes the lock, reads the
platform clock, writes down any move whose time has passed (``advance``) and only then compares the
bid with the current price and the countdown. The closing sweep takes the same lock and ends a lot
only when its countdown is over by the same clock, so a bid in the last instant is either accepted
(and restarts the countdown) or refused as late, never both and never neither.

A buyer signs its bidding number, the amount and the last accepted bid it had seen
(``signing.statements.auction_bid_statement``); the accepted bid keeps the statement, the signature
and the certificate, so the order can be replayed from the archive by anyone.
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor, record_event
from archive.db import locked
from signing.statements import auction_bid_statement
from trading.accounts.models import User
from trading.auctions import rules
from trading.auctions.lifecycle import feed, iso, move_auction
from trading.auctions.models import (
    Auction,
    AuctionBid,
    AuctionProcedure,
    AuctionState,
    DepositState,
    Method,
    Registration,
    RegistrationState,
)
from trading.auctions.results import finish
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.formats import money
from trading.core.services import Services
from trading.pki.operations import check_signature, registered_signing_cert, trust_store

S = AuctionState
#: the most moves one ``advance`` can make (announced → free → countdown → end)
MAX_MOVES = 4


def get_auction(session: Session, code: str, *, for_update: bool = False) -> Auction:
    q = select(Auction).where(Auction.code == code)
    a = session.scalars(locked(q) if for_update else q).one_or_none()
    if a is None:
        raise NotFound("未找到该标的", code="auction_not_found")
    return a


def procedure_of(session: Session, a: Auction) -> AuctionProcedure:
    proc = session.get(AuctionProcedure, a.procedure_code)
    assert proc is not None
    return proc


#: a procedure's method, by code: it never changes (no operation edits it), and every bid asks
_methods: dict[str, Method] = {}


def method_of(session: Session, a: Auction) -> Method:
    method = _methods.get(a.procedure_code)
    if method is None:
        method = _methods[a.procedure_code] = procedure_of(session, a).method
    return method


def registration_of(session: Session, a: Auction, user: User) -> Registration | None:
    if user.organisation_id is None:
        return None
    return session.scalar(
        select(Registration).where(Registration.auction_id == a.id, Registration.org_id == user.organisation_id)
    )


def timed_requests(session: Session, a: Auction) -> int:
    """Buyers who may bid and asked to go on to timed bidding at the listing's end."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Registration)
            .where(Registration.auction_id == a.id, Registration.wants_timed.is_(True))
            .where(Registration.state == RegistrationState.APPROVED)
            .where(Registration.deposit_state == DepositState.CONFIRMED)
        )
        or 0
    )


def advance(session: Session, services: Services, a: Auction, now: dt.datetime, actor: Actor = SYSTEM) -> bool:
    """Write down every move of ``a`` whose time has passed by ``now`` (the caller holds its lock),
    each effective at the instant it became due. Returns whether anything moved."""
    moved = False
    for _ in range(MAX_MOVES):
        step = _due_move(session, a, now)
        if step is None:
            return moved
        to, at = step
        if to is None:
            finish(session, services, a, at)
        else:
            if to is S.COUNTDOWN:
                a.countdown_ends_at = rules.countdown_end(at, a.countdown_seconds)
            move_auction(session, actor, a, to, at=at)
        moved = True
    return moved


def _due_move(session: Session, a: Auction, now: dt.datetime) -> tuple[AuctionState | None, dt.datetime] | None:
    """The next move due by ``now``: (state, effective instant); (None, at) means the lot ends."""
    method = method_of(session, a)
    if a.state is S.ANNOUNCED and now >= a.bidding_starts_at:
        return rules.first_bidding_state(method), a.bidding_starts_at
    if a.state is S.FREE and now >= a.free_ends_at:
        return S.COUNTDOWN, a.free_ends_at
    if a.state is S.LISTING and now >= a.free_ends_at:
        if rules.goes_to_timed_bidding(timed_requests(session, a)):
            return S.COUNTDOWN, a.free_ends_at
        return None, a.free_ends_at
    if a.state is S.COUNTDOWN and a.countdown_ends_at is not None and now >= a.countdown_ends_at:
        return None, a.countdown_ends_at
    return None


def place_bid(
    session: Session, services: Services, user: User, code: str, amount: str, seen_seq: int, signature: str
) -> AuctionBid:
    """Accept a buyer's signed bid, or refuse it by name. Flushes; the caller commits."""
    a = get_auction(session, code)
    reg = registration_of(session, a, user)
    if reg is None or not reg.may_bid or reg.bidding_number is None:
        raise Forbidden("您不是本标的已审核通过且保证金已到账的竞买人", code="not_a_buyer")
    value = rules.parse_amount(amount)
    if value is None:
        raise InvalidInput("出价应为正数，最多两位小数", code="invalid_amount", fields={"amount": "格式错误"})
    if not 0 <= seen_seq <= a.current_seq + 1_000_000:
        raise InvalidInput("seen_seq 无效", code="seen_seq_invalid", fields={"seen_seq": "超出范围"})
    # A price only rises: a bid already below the minimum as last committed is refused before its
    # signature is checked or the lot's lock is asked for (in a busy room most bids are these)
    _ensure_enough(value, rules.minimum_next(a.starting_price, a.increment, a.current_price))
    cert = registered_signing_cert(session, user, trust_store(session, services.keys))
    statement = auction_bid_statement(a.code, reg.bidding_number, rules.amount_text(value), seen_seq)
    check_signature(cert, statement, signature, "出价")

    a = get_auction(session, code, for_update=True)
    # read again under the lot's lock: a withdrawal (which takes the same lock) may have committed
    # since, and a withdrawn buyer's bid must not lead the lot
    reg = session.scalars(locked(select(Registration).where(Registration.id == reg.id))).one()
    if not reg.may_bid:
        raise Forbidden("您不是本标的已审核通过且保证金已到账的竞买人", code="not_a_buyer")
    now = clock.now()
    advance(session, services, a, now)
    _ensure_open(session, a, reg, now)
    if seen_seq > a.current_seq:
        raise InvalidInput(f"您看到的出价序号 {seen_seq} 不存在（当前为 {a.current_seq}）", code="seen_seq_invalid")
    _ensure_enough(value, rules.minimum_next(a.starting_price, a.increment, a.current_price))
    phase = rules.phase_of(a.state)
    if a.state is S.COUNTDOWN:
        a.countdown_ends_at = rules.countdown_end(now, a.countdown_seconds)
    bid = AuctionBid(
        auction_id=a.id,
        seq=a.current_seq + 1,
        registration_id=reg.id,
        bidding_number=reg.bidding_number,
        amount=value,
        seen_seq=seen_seq,
        phase=phase,
        statement=statement.decode(),
        signature=signature,
        signer_cert=base64.b64encode(cert.der).decode(),
        accepted_at=now,
        countdown_ends_at=a.countdown_ends_at if a.state is S.COUNTDOWN else None,
    )
    a.current_seq, a.current_price, a.leader_id = bid.seq, value, reg.id
    session.add(bid)
    session.flush()
    public = {
        "seq": bid.seq,
        "bidding_number": bid.bidding_number,
        "amount": rules.amount_text(value),
        "phase": phase.value,
        "accepted_at": now.isoformat(),
        "countdown_ends_at": iso(bid.countdown_ends_at),
    }
    record_event(session, user, "auction.bid", a, public)
    feed(session, a, "bid", public)
    return bid


def _ensure_enough(value: Decimal, minimum: Decimal) -> None:
    if value < minimum:
        raise Conflict(f"出价 {money(value)} 元低于当前最低应价 {money(minimum)} 元", code="bid_too_low")


def _ensure_open(session: Session, a: Auction, reg: Registration, now: dt.datetime) -> None:
    """A bid may be placed now, in this state, by this buyer; else the named refusal."""
    if a.state is S.PAUSED:
        raise Conflict("竞价因技术故障暂停，请等待恢复", code="auction_paused")
    if a.state in (S.DRAFT, S.ANNOUNCED):
        raise Conflict("竞价尚未开始", code="auction_not_started")
    if a.state in (S.SOLD, S.FAILED):
        raise Conflict("竞价已结束：出价到达时竞价时间已截止", code="bid_late")
    if a.state.ended:
        raise Conflict(f"竞价已结束（{a.state.label}）", code="auction_ended")
    method = method_of(session, a)
    if a.state is S.COUNTDOWN and method is Method.LISTING and not reg.wants_timed:
        raise Conflict("挂牌期截止时您未申请参加限时竞价", code="not_in_timed_bidding")


def request_timed(session: Session, services: Services, user: User, code: str) -> Registration:
    """挂牌: ask to go on to timed bidding if the listing ends with two or more such requests (39号令). Only during the listing, by a buyer who may bid; asking twice is asking once."""
    a = get_auction(session, code, for_update=True)
    advance(session, services, a, clock.now())
    reg = registration_of(session, a, user)
    if reg is None or not reg.may_bid:
        raise Forbidden("您不是本标的已审核通过且保证金已到账的竞买人", code="not_a_buyer")
    if method_of(session, a) is not Method.LISTING or a.state is not S.LISTING:
        raise Conflict("只有挂牌期间可以申请参加限时竞价", code="not_listing")
    if not reg.wants_timed:
        reg.wants_timed = True
        session.flush()
        record_event(session, user, "auction.timed_request", a, {"bidding_number": reg.bidding_number})
        feed(session, a, "timed", {"requests": timed_requests(session, a)})
    return reg


def due_lots(session: Session, now: dt.datetime) -> list[int]:
    """Lots with a move due by ``now`` (read without locks; ``advance`` decides under the lock)."""
    q = select(Auction.id).where(
        (Auction.state == S.ANNOUNCED) & (Auction.bidding_starts_at <= now)
        | Auction.state.in_([S.FREE, S.LISTING]) & (Auction.free_ends_at <= now)
        | (Auction.state == S.COUNTDOWN) & (Auction.countdown_ends_at <= now)
    )
    return list(session.scalars(q.order_by(Auction.id)))


def advance_one(session: Session, services: Services, auction_id: int) -> bool:
    """The sweep's move of one lot, under its lock, by the clock read after the lock is held."""
    a = session.scalars(locked(select(Auction).where(Auction.id == auction_id))).one()
    return advance(session, services, a, clock.now())
