"""The room's core: bids accepted in one order, the countdown, pauses, the end and its result."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from signing.statements import SignedStatement, auction_bid_statement, reserve_commitment
from tests.factories import BidderKeys, make_bidder_with_keys, make_user
from trading.accounts.models import Role
from trading.auctions import bidding, reserve, room
from trading.auctions.models import (
    Auction,
    AuctionBid,
    AuctionEvent,
    AuctionState,
    DepositState,
    Registration,
    RegistrationState,
)
from trading.auctions.results import result_body
from trading.auctions.tasks import auction_clock_job
from trading.core.errors import DomainError
from trading.core.platform_keys import key_encryption_key
from trading.core.services import Services, services

#: a day ahead of the real time the test certificates are issued at
T0 = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0)
_codes = iter(range(1, 10_000))


@dataclass
class Buyer:
    keys: BidderKeys
    number: str


def make_lot(
    session: Session,
    app: Flask,
    procedure: str = "land_auction",
    *,
    reserve_price: str | None = None,
    buyers: int = 3,
    free_minutes: int = 10,
) -> tuple[Auction, list[Buyer]]:
    """An announced lot whose bidding starts at T0, with ``buyers`` approved buyers whose deposits
    are confirmed (rows as the setup and registration stages leave them)."""
    staff = make_user(session, Role.STAFF)
    kek = key_encryption_key(app.extensions["ggzy.settings"])
    sm3, box = reserve.seal(kek, Decimal(reserve_price)) if reserve_price else (None, None)
    a = Auction(
        code=f"PM-T-{next(_codes):04d}",
        title="测试宗地",
        procedure_code=procedure,
        category="land_use",
        region="350100",
        transferor="某市自然资源局",
        starting_price=Decimal("1000000.00"),
        increment=Decimal("10000.00"),
        deposit=Decimal("200000.00"),
        reserve_sm3=sm3,
        reserve_box=box,
        countdown_seconds=300,
        announced_at=T0 - dt.timedelta(days=21),
        registration_ends_at=T0 - dt.timedelta(hours=1),
        bidding_starts_at=T0,
        free_ends_at=T0 + dt.timedelta(minutes=free_minutes),
        state=AuctionState.ANNOUNCED,
        created_by=staff.id,
        created_at=T0 - dt.timedelta(days=22),
    )
    session.add(a)
    session.flush()
    out = []
    for i in range(buyers):
        k = make_bidder_with_keys(session, app)
        assert k.user.organisation_id is not None
        r = Registration(
            auction_id=a.id,
            org_id=k.user.organisation_id,
            user_id=k.user.id,
            state=RegistrationState.APPROVED,
            bidding_number=str(1001 + 7 * i),
            deposit_state=DepositState.CONFIRMED,
            created_at=T0 - dt.timedelta(days=2),
        )
        session.add(r)
        out.append(Buyer(k, str(1001 + 7 * i)))
    session.flush()
    return a, out


def bid(session: Session, svc: Services, a: Auction, b: Buyer, amount: str, seen: int | None = None) -> AuctionBid:
    seen = a.current_seq if seen is None else seen
    st = auction_bid_statement(a.code, b.number, amount, seen)
    sig = base64.b64encode(b.keys.sign_key.sign(st)).decode()
    return bidding.place_bid(session, svc, b.keys.user, a.code, amount, seen, sig)


def refused(fn: Any, *args: Any) -> str:
    with pytest.raises(DomainError) as exc:
        fn(*args)
    return exc.value.code


@pytest.fixture
def svc(app: Flask) -> Services:
    return services(app)


def test_auction_runs_free_then_countdown_and_sells(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, b2, b3) = make_lot(session, app)
    with clock.frozen(T0 - dt.timedelta(minutes=1)) as c:
        assert refused(bid, session, svc, a, b1, "1000000.00") == "auction_not_started"
        c.set(T0 + dt.timedelta(seconds=5))
        first = bid(session, svc, a, b1, "1000000.00")
        assert (first.seq, a.state) == (1, AuctionState.FREE)
        assert refused(bid, session, svc, a, b2, "1005000.00") == "bid_too_low"
        bid(session, svc, a, b2, "1010000.00")
        bid(session, svc, a, b3, "1100000.00", seen=1)  # it had seen only the first: still higher
        # the free period ends at T0+10 min: the next bid finds the countdown running from then
        c.set(T0 + dt.timedelta(minutes=12))
        late_free = bid(session, svc, a, b1, "1110000.00")
        assert a.state is AuctionState.COUNTDOWN and late_free.phase.value == "countdown"
        assert a.countdown_ends_at == clock.now() + dt.timedelta(seconds=300)
        ends = a.countdown_ends_at
        c.set(ends - dt.timedelta(milliseconds=1))
        last = bid(session, svc, a, b2, "1120000.00")  # in the last instant: restarts the countdown
        assert last.countdown_ends_at == clock.now() + dt.timedelta(seconds=300)
        c.set(last.countdown_ends_at)
        assert refused(bid, session, svc, a, b3, "1130000.00") == "bid_late"
    assert a.state is AuctionState.SOLD and a.final_price == Decimal("1120000.00")
    seqs = session.scalars(select(AuctionBid.seq).where(AuctionBid.auction_id == a.id).order_by(AuctionBid.id)).all()
    assert seqs == [1, 2, 3, 4, 5]
    st = SignedStatement.from_json(a.result_statement.encode() if a.result_statement else b"")
    body = st.verify(trusted=svc.keys.sign_cert, expected_type="auction_result")["body"]
    assert body["outcome"] == "sold" and body["winner"]["bidding_number"] == b2.number
    assert body["final_price"] == "1120000.00" and body["bids"] == 5
    assert body["ended_at"] == last.countdown_ends_at.isoformat()
    winner = session.scalars(select(Registration).where(Registration.id == a.leader_id)).one()
    assert winner.deposit_state is DepositState.CONVERTED
    kinds = [e.kind for e in session.scalars(select(AuctionEvent).where(AuctionEvent.auction_id == a.id))]
    assert kinds.count("bid") == 5 and kinds.count("state") == 3  # free, countdown, sold
    actions = session.scalars(select(AuctionEvent.payload).where(AuctionEvent.kind == "bid")).all()
    assert all("name" not in p and "org" not in p for p in actions)


def test_below_the_reserve_fails_and_reveals_it(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, b2, _) = make_lot(session, app, reserve_price="1500000.00")
    assert a.reserve_sm3 is not None and a.reserve_price is None
    with clock.frozen(T0 + dt.timedelta(seconds=1)) as c:
        bid(session, svc, a, b1, "1200000.00")
        bid(session, svc, a, b2, "1300000.00")
        c.set(T0 + dt.timedelta(minutes=10, seconds=300))
        assert auction_clock_job(session, clock.now(), svc) == 1
    session.refresh(a)
    assert a.state is AuctionState.FAILED and a.final_price is None
    assert a.reserve_price == Decimal("1500000.00") and a.reserve_box is None
    assert a.reserve_salt is not None and reserve_commitment("1500000.00", a.reserve_salt) == a.reserve_sm3
    body = result_body(a)
    assert body is not None and body["outcome"] == "failed" and body["reason"] == "below_reserve"
    assert body["winner"] is None and body["highest"] == "1300000.00"
    regs = session.scalars(select(Registration).where(Registration.auction_id == a.id)).all()
    assert {r.deposit_state for r in regs} == {DepositState.CONFIRMED}  # all due back, none converted


def test_no_bid_fails(session: Session, app: Flask, svc: Services) -> None:
    a, _ = make_lot(session, app)
    with clock.frozen(T0 + dt.timedelta(minutes=30)):
        auction_clock_job(session, clock.now(), svc)
    session.refresh(a)
    body = result_body(a)
    assert a.state is AuctionState.FAILED and body is not None and body["reason"] == "no_bid"


def test_listing_goes_to_timed_bidding_only_with_two_requests(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, b2, b3) = make_lot(session, app, "land_listing", free_minutes=60 * 24 * 10)
    listing_end = a.free_ends_at
    with clock.frozen(T0 + dt.timedelta(days=1)) as c:
        bid(session, svc, a, b1, "1000000.00")
        assert a.state is AuctionState.LISTING
        bidding.request_timed(session, svc, b1.keys.user, a.code)
        bidding.request_timed(session, svc, b1.keys.user, a.code)  # twice is once
        bidding.request_timed(session, svc, b2.keys.user, a.code)
        c.set(listing_end + dt.timedelta(seconds=30))
        assert refused(bid, session, svc, a, b3, "1200000.00") == "not_in_timed_bidding"
        assert a.state is AuctionState.COUNTDOWN
        assert a.countdown_ends_at == listing_end + dt.timedelta(seconds=300)
        bid(session, svc, a, b2, "1020000.00")
        c.set(clock.now() + dt.timedelta(seconds=301))
        auction_clock_job(session, clock.now(), svc)
    session.refresh(a)
    assert a.state is AuctionState.SOLD and a.final_price == Decimal("1020000.00")


def test_listing_with_one_request_ends_at_its_end(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, b2, _) = make_lot(session, app, "land_listing", free_minutes=60 * 24 * 10)
    with clock.frozen(T0 + dt.timedelta(days=1)) as c:
        bid(session, svc, a, b1, "1000000.00")
        bid(session, svc, a, b2, "1010000.00")
        bidding.request_timed(session, svc, b1.keys.user, a.code)
        c.set(a.free_ends_at)
        auction_clock_job(session, clock.now(), svc)
    session.refresh(a)
    assert a.state is AuctionState.SOLD and a.final_price == Decimal("1010000.00")
    assert a.ended_at == a.free_ends_at


def test_pause_keeps_the_countdown(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, _, _) = make_lot(session, app, free_minutes=1)
    staff = make_user(session, Role.STAFF)
    with clock.frozen(T0 + dt.timedelta(minutes=2)) as c:
        bid(session, svc, a, b1, "1000000.00")
        assert a.state is AuctionState.COUNTDOWN and a.countdown_ends_at is not None
        left = a.countdown_ends_at - clock.now()
        c.advance(seconds=100)
        room.pause(session, svc, staff, a.code, "行情系统网络故障")
        assert refused(bid, session, svc, a, b1, "1010000.00") == "auction_paused"
        c.advance(minutes=30)
        auction_clock_job(session, clock.now(), svc)
        assert a.state is AuctionState.PAUSED
        room.resume(session, svc, staff, a.code)
        assert a.state is AuctionState.COUNTDOWN
        assert a.countdown_ends_at - clock.now() == left - dt.timedelta(seconds=100)
        assert refused(room.resume, session, svc, staff, a.code) == "not_paused"
        assert refused(room.pause, session, svc, staff, a.code, "  ") == "reason_required"


def test_increment_change_applies_from_the_next_bid(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, b2, _) = make_lot(session, app)
    staff = make_user(session, Role.STAFF)
    with clock.frozen(T0 + dt.timedelta(minutes=1)) as c:
        bid(session, svc, a, b1, "1000000.00")
        room.change_increment(session, svc, staff, a.code, "50000.00", "竞买人报价踊跃")
        assert refused(bid, session, svc, a, b2, "1040000.00") == "bid_too_low"
        bid(session, svc, a, b2, "1050000.00")
        assert refused(room.change_increment, session, svc, staff, a.code, "50000", "同") == "increment_unchanged"
        assert refused(room.change_increment, session, svc, staff, a.code, "-1", "负") == "invalid_amount"
        c.set(T0 + dt.timedelta(hours=1))
        auction_clock_job(session, clock.now(), svc)
    body = result_body(a)
    assert body is not None
    assert body["increments"] == [
        {"after_seq": 0, "increment": "10000.00"},
        {"after_seq": 1, "increment": "50000.00"},
    ]


def test_refusals_are_named(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, b2, _) = make_lot(session, app)
    outsider = make_bidder_with_keys(session, app)
    with clock.frozen(T0 + dt.timedelta(minutes=1)):
        st = auction_bid_statement(a.code, b1.number, "1000000.00", 0)
        wrong_key = base64.b64encode(b2.keys.sign_key.sign(st)).decode()
        assert refused(bidding.place_bid, session, svc, b1.keys.user, a.code, "1000000.00", 0, wrong_key) == (
            "invalid_signature"
        )
        assert refused(bidding.place_bid, session, svc, b1.keys.user, a.code, "10.001", 0, wrong_key) == (
            "invalid_amount"
        )
        for bad in ("NaN", "-5", "1e3x", "0", "99999999999999999999.00"):
            assert refused(bidding.place_bid, session, svc, b1.keys.user, a.code, bad, 0, "x") == "invalid_amount"
        assert refused(bidding.place_bid, session, svc, outsider.user, a.code, "1000000.00", 0, "x") == "not_a_buyer"
        assert refused(bidding.place_bid, session, svc, b1.keys.user, "PM-NONE", "1.00", 0, "x") == (
            "auction_not_found"
        )
        assert refused(bid, session, svc, a, b1, "1000000.00", 3) == "seen_seq_invalid"
        # a number signed for another buyer's bidding number is not this buyer's statement
        forged = auction_bid_statement(a.code, b2.number, "1000000.00", 0)
        sig = base64.b64encode(b1.keys.sign_key.sign(forged)).decode()
        assert refused(bidding.place_bid, session, svc, b1.keys.user, a.code, "1000000.00", 0, sig) == (
            "invalid_signature"
        )
    assert session.scalar(select(AuctionBid.id).where(AuctionBid.auction_id == a.id)) is None
    n = session.scalars(select(AuditEvent).where(AuditEvent.action == "auction.bid")).all()
    assert all(e.object_id != a.code for e in n)


@pytest.mark.parametrize(
    "text",
    ["１０００", "٣٠٠٠", "1_000_000", "1e3", " +1000 ", "\xa01000", "1000.000", "1,000", "+5", "0x10", "1000.", ".5"],
)
def test_amounts_are_plain_ascii_decimals(text: str) -> None:
    from trading.auctions.rules import parse_amount

    assert parse_amount(text) is None
    assert parse_amount("1000") == Decimal("1000.00") and parse_amount("1000.5") == Decimal("1000.50")


def test_an_increment_may_not_wall_the_room(session: Session, app: Flask, svc: Services) -> None:
    a, (b1, _, _) = make_lot(session, app)
    staff = make_user(session, Role.STAFF)
    with clock.frozen(T0 + dt.timedelta(minutes=1)):
        bid(session, svc, a, b1, "1000000.00")
        for huge in ("9999999999999999.99", "1000000.01"):
            assert refused(room.change_increment, session, svc, staff, a.code, huge, "调整") == "invalid_amount"
        assert a.increment == Decimal("10000.00")
        room.change_increment(session, svc, staff, a.code, "1000000.00", "至多为起始价")
