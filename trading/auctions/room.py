"""Staff's hand on a running room: a pause for a technical fault, its end, and the increment.

A pause keeps the time that was left: every deadline still ahead when the room stopped (the start,
the free period's or the listing's end, the countdown) moves on by the length of the pause, so no
buyer loses a second of the countdown to the fault. The increment (加价幅度) may be adjusted while
bidding runs (国土资源部令第39号, for listings and auctions), with a
reason, and applies from the next bid on.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import User
from trading.auctions import rules
from trading.auctions.bidding import advance, get_auction
from trading.auctions.lifecycle import feed, move_auction
from trading.auctions.models import Auction, AuctionState
from trading.core.errors import Conflict, InvalidInput
from trading.core.schemas import checked_text
from trading.core.services import Services

S = AuctionState
MAX_REASON = 500


def _reason(text: str) -> str:
    text = checked_text(text or "", "reason").strip()
    if not text:
        raise InvalidInput("请填写原因", code="reason_required", fields={"reason": "必填"})
    if len(text) > MAX_REASON:
        raise InvalidInput(f"原因不超过{MAX_REASON}字", code="reason_too_long", fields={"reason": "过长"})
    return text


def pause(session: Session, services: Services, user: User, code: str, reason: str) -> Auction:
    """Stop the room for a technical fault, with the recorded reason; the time left is kept."""
    why = _reason(reason)
    a = get_auction(session, code, for_update=True)
    now = clock.now()
    advance(session, services, a, now)
    if a.state not in (S.ANNOUNCED, S.LISTING, S.FREE, S.COUNTDOWN):
        raise Conflict(f"标的状态为“{a.state.label}”，不能暂停", code="not_pausable")
    a.paused_at, a.pause_reason = now, why
    move_auction(session, user, a, S.PAUSED, at=now, reason=why)
    return a


def resume(session: Session, services: Services, user: User, code: str) -> Auction:
    """Restart a paused room: every deadline still ahead at the pause moves on by its length."""
    a = get_auction(session, code, for_update=True)
    if a.state is not S.PAUSED or a.paused_from is None or a.paused_at is None:
        raise Conflict("该标的未处于暂停状态", code="not_paused")
    now = clock.now()
    paused_at, shift = a.paused_at, now - a.paused_at
    if a.bidding_starts_at > paused_at:
        a.bidding_starts_at += shift
    if a.free_ends_at > paused_at:
        a.free_ends_at += shift
    if a.countdown_ends_at is not None and a.countdown_ends_at > paused_at:
        a.countdown_ends_at += shift
    back = a.paused_from
    a.paused_at = None
    move_auction(session, user, a, back, at=now, paused_ms=int(shift.total_seconds() * 1000))
    return a


def change_increment(
    session: Session, services: Services, user: User, code: str, increment: str, reason: str
) -> Auction:
    """Adjust the increment from the next bid on, with a reason (39号令)."""
    why = _reason(reason)
    value = rules.parse_amount(increment)
    if value is None:
        raise InvalidInput("加价幅度应为正数，最多两位小数", code="invalid_amount", fields={"increment": "格式错误"})
    a = get_auction(session, code, for_update=True)
    advance(session, services, a, clock.now())
    if a.state not in (S.ANNOUNCED, S.LISTING, S.FREE, S.COUNTDOWN, S.PAUSED):
        raise Conflict(f"标的状态为“{a.state.label}”，不能调整加价幅度", code="not_adjustable")
    if value == a.increment:
        raise Conflict("新的加价幅度与当前相同", code="increment_unchanged")
    problem = rules.increment_problem(value, a.starting_price, a.current_price)
    if problem is not None:
        raise InvalidInput(problem, code="invalid_amount", fields={"increment": problem})
    old: Decimal = a.increment
    a.increment = value
    body = {
        "after_seq": a.current_seq,
        "from": rules.amount_text(old),
        "to": rules.amount_text(value),
        "reason": why,
    }
    record_event(session, user, "auction.increment", a, body)
    feed(session, a, "increment", body)
    return a
