"""An auction lot set up, registered for and bid on through the stages' real operations: its
package holds the signed announcement and the documents it lists, the registrations with their
bidding numbers and the deposit ledger, and replays; a document that is not the one announced is
found; a lot terminated before its bidding is archived too, with nothing to replay."""

from __future__ import annotations

import base64
import datetime as dt
import json

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock, package_auction
from signing.statements import auction_bid_statement
from tests.archive.test_package_auction import Built, archive, codes, members, rebuilt
from tests.trading.auctions.helpers_buyers import Buyer, approved_buyers
from tests.trading.auctions.helpers_lots import published_lot, staff_user
from trading.auctions import bidding, setup
from trading.auctions.models import Auction, AuctionDocument, AuctionState
from trading.auctions.tasks import auction_clock_job
from trading.core.services import Services, services


def place(session: Session, svc: Services, a: Auction, b: Buyer, amount: str) -> None:
    st = auction_bid_statement(a.code, b.bidding_number, amount, a.current_seq)
    sig = base64.b64encode(b.sign_key.sign(st)).decode()
    bidding.place_bid(session, svc, b.user, a.code, amount, a.current_seq, sig)


def test_a_lot_run_through_the_stages_is_archived_and_replays(session: Session, app: Flask) -> None:
    svc = services(app)
    docs = {"出让须知.pdf": b"%PDF-1.4 notice", "宗地图.png": b"\x89PNG map"}
    a = published_lot(session, app, reserve_price="1015000.00", documents=docs)
    assert a.announcement_statement is not None
    b1, b2 = approved_buyers(session, app, a, 2)
    with clock.frozen(clock.as_utc(a.bidding_starts_at) + dt.timedelta(seconds=3)) as c:
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
    assert report.replay.startswith(f"成交：竞买号牌 {b1.bidding_number}（") and "1020000.00" in report.replay
    _, files = members(data)
    assert sorted(p for p in files if p.startswith("auction/documents/")) == sorted(
        f"auction/documents/{d.id:04d}-{d.name}" for d in setup_documents(session, a)
    )
    assert "auction/announcement.sig.json" in files
    regs = {r["bidding_number"]: r for r in json.loads(files["auction/registrations.json"])}
    assert regs[b2.bidding_number]["state"] == "approved" and regs[b2.bidding_number]["organisation"]
    ledger = json.loads(files["auction/deposits.json"])
    assert {(d["bidding_number"], d["kind"]) for d in ledger} >= {
        (b1.bidding_number, "confirmed"),
        (b1.bidding_number, "converted"),
        (b2.bidding_number, "confirmed"),
    }
    events = [json.loads(line)["action"] for line in files["log/events.jsonl"].decode().splitlines()]
    assert "auction.announce" in events and "auction.create" in events

    # another file in place of an announced document, listed and signed anew
    (path,) = [p for p in files if p.endswith("出让须知.pdf")]

    def swap(fs: dict[str, bytes]) -> None:
        fs[path] = b"%PDF-1.4 another notice"

    assert package_auction.ANNOUNCEMENT_MISMATCH in codes(built.verify(rebuilt(built, swap)))


def setup_documents(session: Session, a: Auction) -> list[AuctionDocument]:
    return list(session.scalars(select(AuctionDocument).where(AuctionDocument.auction_id == a.id)))


def test_a_lot_terminated_before_bidding_is_archived_without_a_replay(session: Session, app: Flask) -> None:
    svc = services(app)
    staff = staff_user(session)
    a = published_lot(session, app, staff=staff)
    setup.cancel(session, svc, staff, a.code, "出让人撤回出让计划")
    assert a.state is AuctionState.CANCELLED
    # the termination asks for no checkpoint of its own: the next public one covers it
    with clock.frozen(clock.now() + dt.timedelta(hours=1)):
        data = archive(session, svc, a)
    report = Built(data, svc, a, []).verify()
    assert report.ok and report.replay == "", list(report.lines())
    manifest, files = members(data)
    assert manifest["end_state"] == "cancelled" and "auction/result.sig.json" not in files
