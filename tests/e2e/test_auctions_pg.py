"""Issue 23's end-to-end checks on PostgreSQL, over real HTTP with the platform clock moved: a land
listing (挂牌) that ends in timed bidding between three buyers, a property transfer's online bidding
that ends below its reserve (流拍), and a land auction won after a pause and an increment change.
Staff set each lot up and run it through the API, buyers register, pay and bid with their UKey keys
through ``bidding.auction`` (as ``ggzy-bid auction`` does), the scheduler's own jobs move the room's
clock and build the archive package, and the package, downloaded over the API, is checked offline:
it verifies, and its replay of the bids reaches the winner and the price the platform signed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from archive import clock
from bidding import auction
from signing.statements import reserve_commitment
from tests.e2e.auction_flow import (
    Party,
    Platform,
    assert_no_names,
    at,
    countdown_end,
    package_json,
    refused,
)
from tests.e2e.conftest import LiveServer
from trading.cli import main as ggzy
from trading.core.services import services

pytestmark = pytest.mark.integration

#: a day ahead of the real time the platform CA was made at, to the second
START = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0)
COUNTDOWN = dt.timedelta(seconds=300)


@pytest.fixture
def platform(pg_app: Flask) -> Iterator[Platform]:
    with LiveServer(pg_app) as server:
        yield Platform(pg_app, server.url)


def result_of(platform: Platform, code: str) -> dict[str, Any]:
    return dict(platform.public.request("GET", f"{auction.lot_path(code)}/result"))


def registrations(staff: Party, code: str) -> dict[str, dict[str, Any]]:
    """Staff's list of the lot's applications, by bidding number."""
    items = staff.call("GET", f"{auction.lot_path(code)}/registrations")["items"]
    return {str(r["bidding_number"]): r for r in items}


def settle(platform: Platform, staff: Party, code: str, winner: Party | None, others: list[Party]) -> None:
    """After the end: the winner's deposit counted toward the price; every other one due back within
    5 working days (39号令 第二十二条) and refunded by staff with the bank's reference."""
    regs = registrations(staff, code)
    if winner is not None:
        assert auction.own(winner.api, code)["deposit_state"] == "converted"
        assert regs[winner.number]["refund_due_by"] is None
        assert refused(lambda: platform.refund(staff, winner)) == (409, "winner_deposit")
    ended = at(result_of(platform, code)["ended_at"])
    for b in others:
        due = at(regs[b.number]["refund_due_by"])
        assert ended + dt.timedelta(days=5) <= due <= ended + dt.timedelta(days=14)  # 5 working days
        assert not regs[b.number]["refund_overdue"]
        done = platform.refund(staff, b)
        assert done["deposit_state"] == "refunded", done
        mine = auction.own(b.api, code)
        assert mine["deposit_state"] == "refunded" and not mine["may_bid"]
        last = mine["deposit_entries"][-1]
        assert (last["kind"], last["reference"]) == ("refunded", f"REFUND-{b.registration:05d}")
        assert at(last["due_by"]) == due and at(last["at"]) == clock.now() < due
    assert all(r["refund_due_by"] is None for r in registrations(staff, code).values())


def checked_package(platform: Platform, staff: Party, code: str, end_state: str) -> tuple[bytes, str]:
    """The lot's package verifies offline; returns it and the replay's summary."""
    data, report = platform.package(staff, code)
    assert report.ok, report.failures
    manifest = package_json(data, "manifest.json")
    assert manifest["auction"] == code and manifest["end_state"] == end_state
    return data, report.replay


# ---------------------------------------------------------------- 1. 挂牌 → 限时竞价
def test_a_land_listing_ends_in_timed_bidding_between_three_buyers(platform: Platform, tmp_path: Path) -> None:
    with clock.frozen(START) as moment:
        staff = platform.staff()
        a, b, c = platform.buyers(3)
        lot = platform.publish(staff, "land_listing", "1050000.00")
        code, periods = lot["code"], lot["periods"]
        opens, closes = at(periods["bidding_starts_at"]), at(periods["free_ends_at"])
        # 39号令 第十一条、第十九条: announced 20 days before the listing, listed at least 10 days
        assert opens - at(periods["announced_at"]) >= dt.timedelta(days=20)
        assert closes - opens >= dt.timedelta(days=10) and lot["method"] == "listing"

        moment.advance(hours=2)
        platform.register(staff, code, [a, b, c])
        assert refused(lambda: a.bid(code, "1000000.00")) == (409, "auction_not_started")

        # the listing opens: quotes (挂牌报价) at or above the starting price, then by the increment
        moment.set(opens + dt.timedelta(minutes=5))
        platform.tick()
        assert platform.lot(code)["state"] == "listing"
        assert a.bid(code, "1000000.00")["seq"] == 1
        moment.advance(days=2)
        assert b.bid(code, "1010000.00")["seq"] == 2
        assert refused(lambda: c.bid(code, "1015000.00")) == (409, "bid_too_low")
        moment.advance(days=3)
        quote = a.bid(code, "1030000.00")
        assert (quote["seq"], quote["phase"], quote["countdown_ends_at"]) == (3, "listing", None)
        # two buyers ask to go on to timed bidding at the listing's end (asking twice is asking once)
        moment.advance(days=1)
        assert auction.request_timed(b.api, code)["wants_timed"]
        assert auction.request_timed(c.api, code)["wants_timed"]
        assert auction.request_timed(c.api, code)["wants_timed"]
        assert_no_names(platform, code, [a, b, c], viewer=c)

        # the listing ends with two requests: the countdown runs from its end
        moment.set(closes + dt.timedelta(seconds=2))
        platform.tick()
        room = platform.lot(code)
        assert room["state"] == "countdown" and at(room["countdown_ends_at"]) == closes + COUNTDOWN
        assert at(room["server_time"]) == clock.now()  # the server's clock decides, and the page shows it
        assert room["current_price"] == "1030000.00" and room["minimum_next"] == "1040000.00"
        assert refused(lambda: a.bid(code, "1040000.00")) == (409, "not_in_timed_bidding")
        moment.set(closes + dt.timedelta(seconds=100))
        first = c.bid(code, "1040000.00")
        assert at(first["countdown_ends_at"]) == countdown_end(first)
        # past the countdown that ran from the listing's end, inside the restarted one
        moment.set(closes + dt.timedelta(seconds=350))
        platform.tick()
        assert platform.lot(code)["state"] == "countdown"
        second = b.bid(code, "1050000.00")
        moment.set(at(second["countdown_ends_at"]) - dt.timedelta(seconds=1))  # the last second
        third = c.bid(code, "1060000.00")
        assert at(third["countdown_ends_at"]) == countdown_end(third)
        moment.advance(seconds=120)
        last = b.bid(code, "1080000.00")
        assert_no_names(platform, code, [a, b, c], viewer=a)

        # nobody bids again: a bid at the instant the countdown runs out is late, and the lot ends
        moment.set(at(last["countdown_ends_at"]))
        assert refused(lambda: c.bid(code, "1090000.00")) == (409, "bid_late")
        platform.tick()
        result = result_of(platform, code)
        assert (result["state"], result["outcome"], result["final_price"]) == ("sold", "sold", "1080000.00")
        assert result["winner"] == {"bidding_number": b.number, "name": b.org_name, "credit_code": b.credit_code}
        assert result["result"]["bids"] == 7 and result["ended_at"] == last["countdown_ends_at"]
        ended = platform.lot(code)
        assert ended["reserve"]["price"] == "1050000.00"
        assert reserve_commitment(ended["reserve"]["price"], ended["reserve"]["salt"]) == lot["reserve_sm3"]
        # the scheduler built the package at the end (before staff paid anything back)
        data, replay = checked_package(platform, staff, code, "sold")

        moment.advance(days=1)
        settle(platform, staff, code, winner=b, others=[a, c])

    assert f"sold to {b.number} at 1080000.00" in replay
    # and as anyone checks it from the terminal, with the platform's root certificate
    (tmp_path / "package.zip").write_bytes(data)
    (tmp_path / "root.pem").write_bytes(services(platform.app).keys.ca.cert.to_pem())
    out = CliRunner().invoke(
        ggzy, ["archive", "verify", str(tmp_path / "package.zip"), "--root", str(tmp_path / "root.pem")]
    )
    assert out.exit_code == 0, out.output
    assert f"竞价复算结果 (replayed)：成交：竞买号牌 {b.number}（{b.org_name}），成交价 1080000.00 元" in out.output
    bids = package_json(data, "auction/bids.json")
    assert [x["bidding_number"] for x in bids] == [a.number, b.number, a.number, c.number, b.number, c.number, b.number]
    assert [x["phase"] for x in bids] == ["listing"] * 3 + ["countdown"] * 4
    regs = {r["bidding_number"]: r for r in package_json(data, "auction/registrations.json")}
    assert {n: r["wants_timed"] for n, r in regs.items()} == {a.number: False, b.number: True, c.number: True}
    ledger = package_json(data, "auction/deposits.json")
    assert [e["kind"] for e in ledger if e["bidding_number"] == b.number] == ["reported", "confirmed", "converted"]


# ---------------------------------------------------------------- 2. 网络竞价 below the reserve: 流拍
def test_a_property_online_bidding_below_its_reserve_fails(platform: Platform) -> None:
    with clock.frozen(START) as moment:
        staff = platform.staff()
        a, b, c = platform.buyers(3)
        # 32号令 第十三条: a disclosure of 20 working days from the announcement to the registrations'
        # end; ten calendar days are refused by name
        short = platform.body("property_online")
        short["registration_ends_at"] = (START + dt.timedelta(days=10)).isoformat()
        draft = staff.call("POST", "/api/v1/auctions", short)["code"]
        status, code_ = refused(lambda: staff.call("POST", f"{auction.lot_path(draft)}/publish", {}))
        assert (status, code_) == (422, "auction_periods")
        lot = platform.publish(staff, "property_online", "1500000.00")
        code = lot["code"]
        assert lot["method"] == "online" and lot["reserve"] is None and len(lot["reserve_sm3"]) == 64
        # no buyer yet: staff extend the disclosure, by at least 5 working days
        moment.advance(days=7)
        why = "信息披露期内未征集到意向受让方，延长信息披露期"
        extend = f"{auction.lot_path(code)}/extend"
        assert refused(lambda: staff.call("POST", extend, {"days": 4, "reason": why}))[0] == 422
        periods = staff.call("POST", extend, {"days": 5, "reason": why})["periods"]
        assert at(periods["registration_ends_at"]) - at(lot["periods"]["registration_ends_at"]) >= dt.timedelta(days=5)
        opens, free_ends = at(periods["bidding_starts_at"]), at(periods["free_ends_at"])
        assert at(periods["registration_ends_at"]) - at(periods["announced_at"]) >= dt.timedelta(days=28)

        moment.advance(days=3)
        platform.register(staff, code, [a, b, c])
        moment.set(opens + dt.timedelta(minutes=1))
        platform.tick()
        assert platform.lot(code)["state"] == "free"
        a.bid(code, "1000000.00")
        b.bid(code, "1100000.00")
        c.bid(code, "1200000.00")
        moment.advance(minutes=10)
        a.bid(code, "1300000.00")
        assert_no_names(platform, code, [a, b, c], viewer=b)

        moment.set(free_ends + dt.timedelta(seconds=1))
        platform.tick()
        assert at(platform.lot(code)["countdown_ends_at"]) == free_ends + COUNTDOWN
        moment.set(free_ends + dt.timedelta(seconds=60))
        last = b.bid(code, "1350000.00")
        assert at(last["countdown_ends_at"]) == countdown_end(last)
        # the countdown runs out with nobody bidding: the sweep ends the lot below its reserve
        moment.set(at(last["countdown_ends_at"]))
        platform.tick()
        result = result_of(platform, code)
        assert (result["state"], result["outcome"], result["winner"], result["final_price"]) == (
            "failed",
            "failed",
            None,
            None,
        )
        body = result["result"]
        assert (body["reason"], body["highest"], body["bids"]) == ("below_reserve", "1350000.00", 5)
        # the reserve revealed opens the commitment published with the lot
        ended = platform.lot(code)
        assert ended["state_label"] == "流拍" and ended["reserve"]["price"] == "1500000.00"
        assert reserve_commitment("1500000.00", ended["reserve"]["salt"]) == lot["reserve_sm3"]
        assert body["reserve"] == {"sm3": lot["reserve_sm3"], "price": "1500000.00", "salt": ended["reserve"]["salt"]}
        # the 流拍 announcement: its page and the platform-signed PDF
        status, page = platform.text(f"/auctions/{code}/result")
        assert status == 200 and "流拍" in page and "1500000.00" in page.replace(",", "")
        pdf = platform.public.request("GET", f"/auctions/{code}/result.pdf")
        assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")
        data, replay = checked_package(platform, staff, code, "unsold")

        moment.advance(days=2)
        settle(platform, staff, code, winner=None, others=[a, b, c])

    assert "failed: below_reserve" in replay and "1350000.00" in replay
    reveal = package_json(data, "auction/reserve.json")
    assert reveal == body["reserve"]


# ---------------------------------------------------------------- 3. 拍卖 with a pause and an increment change
def test_a_land_auction_is_won_after_a_pause_and_an_increment_change(platform: Platform) -> None:
    with clock.frozen(START) as moment:
        staff = platform.staff()
        a, b, c = platform.buyers(3)
        lot = platform.publish(staff, "land_auction", "1040000.00")
        code, periods = lot["code"], lot["periods"]
        opens, free_ends = at(periods["bidding_starts_at"]), at(periods["free_ends_at"])
        assert opens - at(periods["announced_at"]) >= dt.timedelta(days=20)
        assert free_ends - opens == dt.timedelta(minutes=30)

        moment.advance(days=1)
        platform.register(staff, code, [a, b, c])
        moment.set(opens + dt.timedelta(minutes=1))
        platform.tick()
        a.bid(code, "1000000.00")
        b.bid(code, "1010000.00")
        # staff raise the increment, with a reason; it applies from the next bid on
        path = auction.lot_path(code)
        reason = "竞价激烈，经出让人同意调整加价幅度"
        room = staff.call("POST", f"{path}/increment", {"increment": "20000.00", "reason": reason})
        assert room["increment"] == "20000.00" and room["minimum_next"] == "1030000.00"
        assert refused(lambda: c.bid(code, "1020000.00")) == (409, "bid_too_low")
        c.bid(code, "1030000.00")

        moment.set(free_ends)
        platform.tick()
        assert at(platform.lot(code)["countdown_ends_at"]) == free_ends + COUNTDOWN
        moment.set(free_ends + dt.timedelta(seconds=100))
        raised = a.bid(code, "1050000.00")
        ends = at(raised["countdown_ends_at"])
        seen_by_c = auction.poll_events(c.api, code, 0).events[-1].id or 0  # then c's connection drops
        # a technical fault: staff pause with the reason, 250 s of the countdown are kept
        moment.set(free_ends + dt.timedelta(seconds=150))
        fault = "竞价系统网络故障，暂停竞价"
        paused = staff.call("POST", f"{path}/pause", {"reason": fault})
        assert (paused["state"], paused["pause_reason"], paused["remaining_seconds"]) == ("paused", fault, 250.0)
        assert refused(lambda: b.bid(code, "1070000.00")) == (409, "auction_paused")
        assert_no_names(platform, code, [a, b, c], viewer=b)
        moment.advance(minutes=20)
        platform.tick()  # the countdown's end has passed on the wall clock: the pause holds it
        assert platform.lot(code)["state"] == "paused"
        resumed = staff.call("POST", f"{path}/resume", {})
        assert resumed["state"] == "countdown"
        assert at(resumed["ends_at"]) == ends + dt.timedelta(minutes=20) == clock.now() + dt.timedelta(seconds=250)

        moment.advance(seconds=200)
        won = b.bid(code, "1070000.00")
        assert at(won["countdown_ends_at"]) == countdown_end(won)
        # c comes back and reads every event it missed, in order
        missed = auction.poll_events(c.api, code, seen_by_c)
        assert [e.kind for e in missed.events] == ["state", "state", "bid"]
        assert [e.data["to"] for e in missed.events[:2]] == ["paused", "countdown"] and missed.room["current_seq"] == 5
        moment.set(at(won["countdown_ends_at"]) - dt.timedelta(seconds=1))
        platform.tick()
        assert platform.lot(code)["state"] == "countdown"
        moment.advance(seconds=1)
        platform.tick()
        result = result_of(platform, code)
        assert (result["outcome"], result["final_price"], result["winner"]["bidding_number"]) == (
            "sold",
            "1070000.00",
            b.number,
        )
        assert result["result"]["increments"] == [
            {"after_seq": 0, "increment": "10000.00"},
            {"after_seq": 2, "increment": "20000.00"},
        ]
        events = platform.public.request("GET", f"{path}/events")["items"]
        kinds = [e["kind"] for e in events]
        assert "increment" in kinds and kinds.count("bid") == 5
        pause = next(e for e in events if e["kind"] == "state" and e.get("to") == "paused")
        assert pause["reason"] == fault
        data, replay = checked_package(platform, staff, code, "sold")

        moment.advance(days=1)
        settle(platform, staff, code, winner=b, others=[a, c])

    assert f"sold to {b.number} at 1070000.00" in replay
    feed = package_json(data, "auction/feed.json")
    assert [e["payload"]["to"] for e in feed if e["kind"] == "state"][-3:] == ["paused", "countdown", "sold"]
