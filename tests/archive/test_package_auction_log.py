"""An auction package rewritten consistently (bids, feed and result alike, the result and manifest
signed anew with the platform's key) is still found: the lot's audit events, which the signed
checkpoint covers, say what was bid, which increment applied, how the room moved and which result
ended it; and the replay ends the lot when its countdown or listing ran out, not when the result
says. A listing that ends at the listing's end, and a published lot paused and extended before its
bidding, replay clean."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from archive import clock, package_auction
from archive import package_auction_records as records
from signing.statements import auction_bid_statement
from tests.archive.test_package_auction import Built, archive, codes, edit_json, rebuilt, resign_result, run_sold
from tests.archive.test_package_auction_flow import place
from tests.trading.auctions.helpers_buyers import approved_buyers
from tests.trading.auctions.helpers_lots import published_lot, staff_user
from tests.trading.auctions.test_bidding import T0, bid, make_lot
from trading.auctions import room, setup
from trading.auctions.models import AuctionState
from trading.auctions.tasks import auction_clock_job
from trading.core.services import services


@pytest.fixture
def sold(session: Session, app: Flask) -> Built:
    return run_sold(session, app)


def edit_events(files: dict[str, bytes], drop: Callable[[str, dict[str, Any]], bool]) -> None:
    """Leave lines out of ``log/events.jsonl`` (the others keep their inclusion proofs)."""
    lines = files["log/events.jsonl"].decode().splitlines()
    kept = [x for x in lines if not drop(json.loads(x)["action"], json.loads(json.loads(x)["payload"]))]
    assert len(kept) < len(lines)
    files["log/events.jsonl"] = ("\n".join(kept) + "\n").encode()


def _drop_last_bid(b: Built, files: dict[str, bytes]) -> None:
    """The real winner's (last) bid taken out of bids.json and the feed; the result re-signed to the
    runner-up with the digest of the four bids left."""
    b1 = b.buyers[0]
    state: dict[str, Any] = {}

    def change(bids: list[dict[str, Any]]) -> None:
        bids.pop()
        state["bids"] = bids

    edit_json(files, "auction/bids.json", change)
    edit_json(
        files, "auction/feed.json", lambda ev: [e for e in ev if not (e["kind"] == "bid" and e["payload"]["seq"] == 5)]
    )
    org = b1.keys.user.organisation
    assert org is not None

    def body(x: dict[str, Any]) -> None:
        x["bids"] = 4
        x["bids_sm3"] = package_auction.bid_digest(state["bids"])
        x["final_price"] = x["highest"] = "1050000.00"
        x["winner"] = {"bidding_number": b1.number, "name": org.name, "credit_code": org.credit_code}

    resign_result(b, body)(files)


def test_a_winning_bid_dropped_and_the_result_signed_to_the_runner_up_is_found(sold: Built) -> None:
    report = sold.verify(rebuilt(sold, lambda files: _drop_last_bid(sold, files)))
    found = codes(report)
    # the lot ended five minutes after the countdown the remaining bids leave ran out
    assert package_auction.END_MISMATCH in found, found
    assert {records.LOG_BID_MISSING, records.RESULT_NOT_LOGGED} <= found, found
    assert package_auction.RESULT_MISMATCH not in found  # the re-signed result agrees with the bids left
    (line,) = [c for c in report.checks if c.code == records.LOG_BID_MISSING]
    assert "出价 5" in line.detail and sold.buyers[1].number in line.detail and "1080000.00" in line.detail
    (end,) = [c for c in report.checks if c.code == package_auction.END_MISMATCH]
    assert "复算为" in end.detail


def test_the_dropped_bid_is_found_with_its_audit_event_left_out_too(sold: Built) -> None:
    def also_the_log(files: dict[str, bytes]) -> None:
        _drop_last_bid(sold, files)
        edit_events(files, lambda action, p: action == "auction.bid" and p["seq"] == 5)

    found = codes(sold.verify(rebuilt(sold, also_the_log)))
    assert {package_auction.END_MISMATCH, records.RESULT_NOT_LOGGED} <= found, found

    # and with the logged end left out as well: the feed's end is not in the log, nor is any result
    def and_the_end(files: dict[str, bytes]) -> None:
        also_the_log(files)
        edit_events(files, lambda action, p: action == "auction.sold")

    found = codes(sold.verify(rebuilt(sold, and_the_end)))
    assert {package_auction.END_MISMATCH, records.RESULT_NOT_LOGGED, records.MOVE_NOT_LOGGED} <= found, found


def test_an_increment_rewritten_in_the_result_and_the_feed_is_found(sold: Built) -> None:
    """Bid 3 accepted 10,000 above bid 2 under a 20,000 increment; the platform then reports the
    increment as 10,000 in the feed and in a re-signed result: the amounts replay clean against the
    rewritten increments, the log (20,000 after bid 2; bid 3 of 1,030,000) does not."""
    b3 = sold.buyers[2]
    state: dict[str, Any] = {}

    def low(files: dict[str, bytes]) -> None:
        def change(bids: list[dict[str, Any]]) -> None:
            x = bids[2]
            st = auction_bid_statement(sold.lot.code, b3.number, "1020000.00", x["seen_seq"])
            x["amount"], x["statement"] = "1020000.00", st.decode()
            x["signature"] = base64.b64encode(b3.keys.sign_key.sign(st)).decode()
            state["bids"] = bids

        edit_json(files, "auction/bids.json", change)

        def feed(ev: list[dict[str, Any]]) -> None:
            for e in ev:
                if e["kind"] == "bid" and e["payload"]["seq"] == 3:
                    e["payload"]["amount"] = "1020000.00"
                if e["kind"] == "increment":
                    e["payload"]["to"] = "10000.00"

        edit_json(files, "auction/feed.json", feed)

        def body(b: dict[str, Any]) -> None:
            b["increments"][1]["increment"] = "10000.00"
            b["bids_sm3"] = package_auction.bid_digest(state["bids"])

        resign_result(sold, body)(files)

    report = sold.verify(rebuilt(sold, low))
    found = codes(report)
    assert package_auction.BID_TOO_LOW not in found  # the rewritten increments allow it
    assert {records.INCREMENT_NOT_LOGGED, records.BID_NOT_LOGGED, records.RESULT_NOT_LOGGED} <= found, found
    details = " ".join(c.detail for c in report.checks if c.code == records.INCREMENT_NOT_LOGGED)
    assert "20000.00" in details and "10000.00" in details


def test_an_end_written_later_than_the_countdown_ran_out_is_found(sold: Built) -> None:
    """The feed's end and the result's ``ended_at`` a minute after the countdown ran out (a bid
    could have been taken in that minute): the replay ends the lot when the countdown ran out."""

    def later(files: dict[str, bytes]) -> None:
        feed = json.loads(files["auction/feed.json"])
        end = feed[-1]["payload"]
        assert end["to"] == "sold"
        end["at"] = (dt.datetime.fromisoformat(end["at"]) + dt.timedelta(minutes=1)).isoformat()
        edit_json(files, "auction/feed.json", lambda _: feed)
        resign_result(sold, lambda b: b.__setitem__("ended_at", end["at"]))(files)

    report = sold.verify(rebuilt(sold, later))
    found = codes(report)
    assert {package_auction.END_MISMATCH, records.MOVE_NOT_LOGGED, records.RESULT_NOT_LOGGED} <= found, found
    assert package_auction.FEED_MISMATCH not in found and package_auction.ENDED_EARLY not in found


def test_a_pause_taken_out_of_the_feed_is_found(sold: Built) -> None:
    """Without its pause the countdown ran out before the last bid: the bid is late, and the log
    still has the pause."""

    def no_pause(files: dict[str, bytes]) -> None:
        edit_json(
            files,
            "auction/feed.json",
            lambda ev: [
                e for e in ev if not (e["kind"] == "state" and "paused" in (e["payload"]["from"], e["payload"]["to"]))
            ],
        )

    found = codes(sold.verify(rebuilt(sold, no_pause)))
    assert {package_auction.BID_LATE, records.MOVE_NOT_LOGGED} <= found, found


def test_a_countdown_started_late_is_found(sold: Built) -> None:
    def late_start(files: dict[str, bytes]) -> None:
        def feed(ev: list[dict[str, Any]]) -> None:
            (e,) = [
                e
                for e in ev
                if e["kind"] == "state" and e["payload"]["to"] == "countdown" and e["payload"]["from"] == "free"
            ]
            e["payload"]["at"] = (dt.datetime.fromisoformat(e["payload"]["at"]) + dt.timedelta(seconds=30)).isoformat()

        edit_json(files, "auction/feed.json", feed)

    found = codes(sold.verify(rebuilt(sold, late_start)))
    assert {package_auction.PERIOD_MISMATCH, records.MOVE_NOT_LOGGED} <= found, found


def test_a_timed_bidding_request_made_up_is_found(sold: Built) -> None:
    def wants(files: dict[str, bytes]) -> None:
        edit_json(files, "auction/registrations.json", lambda regs: regs[0].__setitem__("wants_timed", True))

    assert codes(sold.verify(rebuilt(sold, wants))) == {records.TIMED_NOT_LOGGED}


def test_a_listing_ends_at_the_listings_end_and_replays(session: Session, app: Flask) -> None:
    svc = services(app)
    a, (b1, _, _) = make_lot(session, app, "land_listing", free_minutes=60)
    with clock.frozen(T0 + dt.timedelta(seconds=1)) as c:
        bid(session, svc, a, b1, "1000000.00")
        c.set(T0 + dt.timedelta(minutes=75))  # the sweep writes the end down late; it took effect at 60
        assert auction_clock_job(session, clock.now(), svc) == 1
        assert a.state is AuctionState.SOLD
        data = archive(session, svc, a)
    built = Built(data, svc, a, [])
    report = built.verify()
    assert report.ok, report.failures
    assert report.replay.startswith(f"成交：竞买号牌 {b1.number}")

    # a result claiming the listing ran on for another hour
    def longer(files: dict[str, bytes]) -> None:
        resign_result(built, lambda b: b.__setitem__("ended_at", (T0 + dt.timedelta(minutes=120)).isoformat()))(files)

    found = codes(built.verify(rebuilt(built, longer)))
    assert {package_auction.END_MISMATCH, records.RESULT_NOT_LOGGED} <= found, found


def test_a_published_lot_paused_and_extended_before_its_bidding_replays(session: Session, app: Flask) -> None:
    """The announcement's periods, moved by the extension and shifted by the pause, are the ones
    the room kept; a lot whose facts say otherwise is found."""
    svc = services(app)
    staff = staff_user(session)
    a = published_lot(session, app, "property_online", staff=staff)
    b1, b2 = approved_buyers(session, app, a, 2, staff=staff)
    with clock.frozen(clock.now()) as c:
        setup.extend(session, svc, staff, a.code, 5, "受让方要求延长信息披露期")
        c.set(clock.as_utc(a.bidding_starts_at) - dt.timedelta(hours=1))
        room.pause(session, svc, staff, a.code, "系统维护")
        c.advance(hours=2)
        room.resume(session, svc, staff, a.code)
        c.set(clock.as_utc(a.bidding_starts_at) + dt.timedelta(seconds=3))
        place(session, svc, a, b1, "1000000.00")
        place(session, svc, a, b2, "1010000.00")
        c.set(clock.as_utc(a.free_ends_at) + dt.timedelta(seconds=10))
        place(session, svc, a, b1, "1020000.00")
        c.advance(seconds=a.countdown_seconds)
        auction_clock_job(session, clock.now(), svc)
        assert a.state is AuctionState.SOLD
        data = archive(session, svc, a)
    built = Built(data, svc, a, [])
    report = built.verify()
    assert report.ok, report.failures

    def later_free_end(files: dict[str, bytes]) -> None:
        def change(lot: dict[str, Any]) -> None:
            lot["free_ends_at"] = (dt.datetime.fromisoformat(lot["free_ends_at"]) + dt.timedelta(minutes=1)).isoformat()

        edit_json(files, "auction/lot.json", change)

    found = codes(built.verify(rebuilt(built, later_free_end)))
    assert {package_auction.ANNOUNCEMENT_MISMATCH, package_auction.PERIOD_MISMATCH} <= found, found
