"""The countdown's last instant on PostgreSQL (限时竞价): bids that arrive in the last 50 ms against the
closing sweep (``tasks.auction_clock_job``), on the real clock, each party on a connection of its
own and committing. A bid either restarts the countdown or is refused as late (``bid_late``), never
both (accepted and the lot ended) and never neither (lost, or another answer).

The lot's row lock decides: whoever holds it reads the server's clock after it is granted. First
each order forced at its worst instant (tests.races), then many lots raced at once."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from archive import clock
from signing.statements import auction_bid_statement
from tests.factories import api_token
from tests.races import locking_read, when_statement
from tests.trading.auctions.test_bidding import Buyer, make_lot
from trading.auctions.models import Auction, AuctionBid, AuctionEvent, AuctionState
from trading.auctions.tasks import auction_clock_job
from trading.core.services import services

pytestmark = pytest.mark.integration
COUNTDOWN = dt.timedelta(seconds=300)


def sleep_until(at: dt.datetime) -> None:
    time.sleep(max(0.0, (at - clock.now()).total_seconds()))


def counting_down(app: Flask, ends: dt.datetime, n: int = 1) -> list[tuple[int, Buyer, dict[str, str]]]:
    """``n`` lots counting down to ``ends`` (on the real clock), no bid yet; each with one buyer's
    (lot id, buyer, API headers)."""
    db, client = app.extensions["ggzy.db"], app.test_client()
    out = []
    for _ in range(n):
        with db.session() as s:
            a, buyers = make_lot(s, app, buyers=1)
            now = clock.now()
            s.execute(
                update(Auction)
                .where(Auction.id == a.id)
                .values(
                    state=AuctionState.COUNTDOWN,
                    bidding_starts_at=now - dt.timedelta(hours=1),
                    free_ends_at=now - dt.timedelta(minutes=1),
                    countdown_ends_at=ends,
                )
            )
            s.commit()
            out.append((a.id, buyers[0], api_token(client, buyers[0].keys.user.username)))
    return out


def post_bid(app: Flask, lot_id: int, b: Buyer, h: dict[str, str]) -> Any:
    with app.extensions["ggzy.db"].session() as s:
        code = s.scalar(select(Auction.code).where(Auction.id == lot_id))
    st = auction_bid_statement(str(code), b.number, "1000000.00", 0)
    body = {"amount": "1000000.00", "seen_seq": 0, "signature": base64.b64encode(b.keys.sign_key.sign(st)).decode()}
    client: FlaskClient = app.test_client()
    return client.post(f"/api/v1/auctions/{code}/bids", json=body, headers=h)


def sweep(app: Flask) -> int:
    with app.extensions["ggzy.db"].session() as s:
        return auction_clock_job(s, clock.now(), services(app))


def outcome(app: Flask, lot_id: int, ends: dt.datetime, r: Any) -> str:
    """What happened to one lot and its one bid: "restarted" or "late"; anything else fails here."""
    with app.extensions["ggzy.db"].session() as s:
        a = s.get(Auction, lot_id)
        assert a is not None
        bids = s.scalars(select(AuctionBid).where(AuctionBid.auction_id == lot_id)).all()
        ended = s.scalar(
            select(func.count())
            .select_from(AuctionEvent)
            .where(AuctionEvent.auction_id == lot_id, AuctionEvent.kind == "state")
        )
    if r.status_code == 201:
        (b,) = bids
        accepted = clock.as_utc(b.accepted_at)
        assert accepted < ends, "accepted after the countdown had run out"
        assert a.state is AuctionState.COUNTDOWN and ended == 0, "accepted, and the lot ended as well"
        assert a.countdown_ends_at is not None and clock.as_utc(a.countdown_ends_at) == accepted + COUNTDOWN
        assert r.get_json()["countdown_ends_at"] == (accepted + COUNTDOWN).isoformat()
        return "restarted"
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "bid_late"), r.get_json()
    assert bids == [], "refused as late, and stored as well"
    assert a.state is AuctionState.FAILED and a.ended_at is not None
    assert clock.as_utc(a.ended_at) == ends  # the countdown's own end, whoever wrote it down
    return "late"


def test_the_sweep_takes_the_lock_first_and_the_bid_is_late(pg_app: Flask) -> None:
    """The bid arrives 30 ms before the end; the sweep takes the lot's lock between the bid's checks
    and its lock, once the end has passed: the lot ends at its countdown's end, the bid is late."""
    app = pg_app
    ends = clock.now() + dt.timedelta(milliseconds=600)
    ((lot, buyer, h),) = counting_down(app, ends)
    swept: list[int] = []

    def the_sweep_at_the_end() -> None:
        sleep_until(ends + dt.timedelta(milliseconds=1))
        swept.append(sweep(app))

    sleep_until(ends - dt.timedelta(milliseconds=30))
    with when_statement(app, locking_read("auction"), the_sweep_at_the_end, after=False) as fired:
        r = post_bid(app, lot, buyer, h)
    assert fired[0] and swept == [1]
    assert outcome(app, lot, ends, r) == "late"


def test_the_bid_holds_the_lock_and_the_sweep_finds_the_countdown_restarted(pg_app: Flask) -> None:
    """The bid reaches the lot's lock 40 ms before the end and is accepted; while it still holds the
    lock the end passes and the sweep, which found the lot due, waits for the lock: it then reads
    the restarted countdown and moves nothing."""
    app = pg_app
    ends = clock.now() + dt.timedelta(milliseconds=900)
    ((lot, buyer, h),) = counting_down(app, ends)
    swept: list[int] = []

    def the_sweep_at_the_end() -> None:
        sleep_until(ends + dt.timedelta(milliseconds=1))
        swept.append(sweep(app))

    sweeper = threading.Thread(target=the_sweep_at_the_end)

    def hold_the_lock_past_the_end() -> None:
        sweeper.start()
        sleep_until(ends + dt.timedelta(milliseconds=100))

    def arrive() -> None:
        sleep_until(ends - dt.timedelta(milliseconds=40))

    with (
        when_statement(app, locking_read("auction"), arrive, after=False) as reached,
        when_statement(app, "INSERT INTO auction_bid", hold_the_lock_past_the_end, after=True) as held,
    ):
        r = post_bid(app, lot, buyer, h)
    assert reached[0] and held[0], r.get_json()  # it reached the lock in time and was accepted
    sweeper.join(30)
    assert swept == [0]
    assert outcome(app, lot, ends, r) == "restarted"


def server_latency(app: Flask) -> dt.timedelta:
    """How long a bid takes from its request to the server's clock read under the lock (the median
    of three), so that the race below schedules arrivals at the server, not departures."""
    lots = counting_down(app, clock.now() + dt.timedelta(hours=1), 3)
    took = []
    for lot, buyer, h in lots:
        sent = clock.now()
        r = post_bid(app, lot, buyer, h)
        took.append(dt.datetime.fromisoformat(r.get_json()["accepted_at"]) - sent)
    return sorted(took)[1]


def test_bids_in_the_last_fifty_milliseconds_restart_or_are_late(pg_app: Flask) -> None:
    """Twenty-four lots ending 25 ms apart, one bid each reaching the server from 50 ms before its
    lot's end to 50 ms after, and the sweep running every few milliseconds throughout. Each bid is
    checked (restarted or late, never both, never neither); a round whose arrivals all fell on one
    side of the ends (a loaded machine delays every thread alike) is played again, up to 3 times."""
    rounds = []
    for _ in range(3):
        seen = last_fifty_milliseconds(pg_app)
        rounds.append(seen)
        if "restarted" in seen and "late" in seen:
            return
    raise AssertionError(f"no round's arrivals straddled the ends: {rounds}")


def last_fifty_milliseconds(pg_app: Flask) -> list[str]:
    app, n = pg_app, 24
    latency = server_latency(app)
    lots = counting_down(app, clock.now() + dt.timedelta(hours=1), n)
    base = clock.now() + dt.timedelta(seconds=1)
    ends = [base + dt.timedelta(milliseconds=25 * i) for i in range(n)]
    offsets = [dt.timedelta(milliseconds=-50 + 100 * i / (n - 1)) for i in range(n)]
    with app.extensions["ggzy.db"].session() as s:
        for (lot, _, _), end in zip(lots, ends, strict=True):
            s.execute(update(Auction).where(Auction.id == lot).values(countdown_ends_at=end))
        s.commit()
    answers: list[Any] = [None] * n
    stop = threading.Event()

    def one(i: int) -> None:
        lot, buyer, h = lots[i]
        sleep_until(ends[i] + offsets[i] - latency)
        answers[i] = post_bid(app, lot, buyer, h)

    def sweeper() -> None:
        sleep_until(base - dt.timedelta(milliseconds=100))
        while not stop.is_set():
            sweep(app)
            time.sleep(0.003)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    sweeping = threading.Thread(target=sweeper)
    for t in [sweeping, *threads]:
        t.start()
    for t in threads:
        t.join(60)
    sleep_until(ends[-1] + dt.timedelta(milliseconds=300))
    stop.set()
    sweeping.join(30)
    sweep(app)  # whatever the sweeper left due
    return [outcome(app, lots[i][0], ends[i], answers[i]) for i in range(n)]
