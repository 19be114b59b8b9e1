"""The bidding room's API: a bid signed and accepted, the public reads (numbers, never names), and
every refusal by its name: who may do what, and each bad input."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive import clock
from signing.statements import auction_bid_statement
from tests.factories import api_token, make_bidder_with_keys, make_user
from tests.trading.auctions.test_bidding import T0, Buyer, make_lot
from trading.accounts.models import Organisation, Role
from trading.auctions.models import Auction, AuctionBid, AuctionState

START = T0 + dt.timedelta(seconds=5)


def signed(a: Auction, b: Buyer, amount: str, seen: int) -> dict[str, Any]:
    st = auction_bid_statement(a.code, b.number, amount, seen)
    return {"amount": amount, "seen_seq": seen, "signature": base64.b64encode(b.keys.sign_key.sign(st)).decode()}


def post_bid(client: FlaskClient, h: dict[str, str], a: Auction, b: Buyer, amount: str, seen: int) -> Any:
    return client.post(f"/api/v1/auctions/{a.code}/bids", json=signed(a, b, amount, seen), headers=h)


def code_of(r: Any) -> tuple[int, str]:
    return r.status_code, r.get_json()["error"]["code"]


@pytest.fixture
def room(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    a, buyers = make_lot(session, app)
    staff = make_user(session, Role.STAFF)
    session.commit()
    return {
        "a": a,
        "buyers": buyers,
        "h": [api_token(client, b.keys.user.username) for b in buyers],
        "staff": api_token(client, staff.username),
    }


def test_a_signed_bid_is_accepted_and_read_back_by_number(
    client: FlaskClient, session: Session, room: dict[str, Any]
) -> None:
    a, (b1, b2, _), h = room["a"], room["buyers"], room["h"]
    with clock.frozen(START):
        r = post_bid(client, h[0], a, b1, "1000000.00", 0)
        assert r.status_code == 201, r.get_json()
        got = r.get_json()
        assert (got["seq"], got["amount"], got["bidding_number"]) == (1, "1000000.00", b1.number)
        assert got["accepted_at"] == START.isoformat() and got["countdown_ends_at"] is None
        assert post_bid(client, h[1], a, b2, "1010000.00", 1).status_code == 201
        bids = client.get(f"/api/v1/auctions/{a.code}/bids?after=1").get_json()  # anyone, not signed in
        events = client.get(f"/api/v1/auctions/{a.code}/events?after=0").get_json()
    assert [b["seq"] for b in bids["items"]] == [2] and bids["current_seq"] == 2 and not bids["more"]
    assert bids["items"][0]["bidding_number"] == b2.number and bids["items"][0]["phase_label"] == "自由竞价"
    kinds = [e["kind"] for e in events["items"]]
    assert kinds == ["state", "bid", "bid"]  # bidding opened at T0, then the two bids
    assert events["items"][0]["label"] == "自由竞价" and events["items"][1]["kind_label"] == "出价"
    state = events["state"]
    assert (state["current_price"], state["minimum_next"], state["current_seq"]) == ("1010000.00", "1020000.00", 2)
    assert state["ends_label"] == "距自由竞价结束" and state["server_time"] == START.isoformat()
    assert state["last_event_id"] == events["items"][-1]["id"]
    names = session.scalars(select(Organisation.name)).all()
    text = str(bids) + str(events)
    assert not [n for n in names if n in text]  # numbers, never names
    assert client.get(f"/api/v1/auctions/{a.code}/events?after={state['last_event_id']}").get_json()["items"] == []


def test_who_may_do_what(client: FlaskClient, session: Session, app: Flask, room: dict[str, Any]) -> None:
    a, (b1, _, _), h, staff = room["a"], room["buyers"], room["h"], room["staff"]
    outsider = make_bidder_with_keys(session, app)
    session.commit()
    ho = api_token(client, outsider.user.username)
    body = signed(a, b1, "1000000.00", 0)
    url = f"/api/v1/auctions/{a.code}"
    with clock.frozen(START):
        assert code_of(client.post(f"{url}/bids", json=body)) == (401, "unauthenticated")
        assert code_of(client.post(f"{url}/bids", json=body, headers=staff)) == (403, "forbidden")
        assert code_of(client.post(f"{url}/bids", json=body, headers=ho)) == (403, "not_a_buyer")
        assert code_of(client.post(f"{url}/timed", headers=ho)) == (403, "not_a_buyer")
        for action, data in (("pause", {"reason": "故障"}), ("resume", None), ("increment", {"increment": "1.00"})):
            assert code_of(client.post(f"{url}/{action}", json=data, headers=h[0])) == (403, "forbidden")
            assert code_of(client.post(f"{url}/{action}", json=data)) == (401, "unauthenticated")
        assert code_of(client.post("/api/v1/auctions/PM-NONE/bids", json=body, headers=h[0])) == (
            404,
            "auction_not_found",
        )
        assert code_of(client.get("/api/v1/auctions/PM-NONE/events")) == (404, "auction_not_found")
        # a draft is not public: staff read it, nobody else learns it exists
        session.execute(update(Auction).where(Auction.id == a.id).values(state=AuctionState.DRAFT))
        session.commit()
        assert code_of(client.get(f"{url}/bids")) == (404, "auction_not_found")
        assert code_of(client.get(f"{url}/events", headers=h[0])) == (404, "auction_not_found")
        assert client.get(f"{url}/events", headers=staff).status_code == 200


def test_every_bad_bid_is_refused_by_name(client: FlaskClient, session: Session, room: dict[str, Any]) -> None:
    a, (b1, b2, _), h, staff = room["a"], room["buyers"], room["h"], room["staff"]
    url = f"/api/v1/auctions/{a.code}/bids"
    with clock.frozen(T0 - dt.timedelta(seconds=1)) as c:
        assert code_of(post_bid(client, h[0], a, b1, "1000000.00", 0)) == (409, "auction_not_started")
        c.set(START)
        assert code_of(client.post(url, data="amount=1", headers=h[0])) == (415, "unsupported_media_type")
        assert code_of(client.post(url, data="{", headers=h[0], content_type="application/json")) == (
            400,
            "malformed_json",
        )
        assert code_of(client.post(url, json={"amount": "1.00"}, headers=h[0])) == (422, "invalid_input")
        assert code_of(client.post(url, json={**signed(a, b1, "1.00", 0), "seen_seq": "x"}, headers=h[0]))[0] == 422
        assert code_of(client.post(url, json={**signed(a, b1, "1.00", 0), "extra": 1}, headers=h[0])) == (
            422,
            "invalid_input",
        )
        for amount in ("abc", "1.001", "-5", "0", "NaN", "99999999999999999999.00"):
            assert code_of(post_bid(client, h[0], a, b1, amount, 0)) == (422, "invalid_amount"), amount
        assert code_of(post_bid(client, h[0], a, b1, "1000000.00", -1)) == (422, "seen_seq_invalid")
        assert code_of(post_bid(client, h[0], a, b1, "1000000.00", 1)) == (422, "seen_seq_invalid")
        other = signed(a, b2, "1000000.00", 0)  # b2's statement and signature, sent by b1
        assert code_of(client.post(url, json=other, headers=h[0])) == (422, "invalid_signature")
        assert code_of(client.post(url, json={**other, "signature": "@@@"}, headers=h[1])) == (
            422,
            "invalid_signature",
        )
        assert code_of(post_bid(client, h[0], a, b1, "999999.99", 0)) == (409, "bid_too_low")
        assert post_bid(client, h[0], a, b1, "1000000.00", 0).status_code == 201
        low = post_bid(client, h[1], a, b2, "1005000.00", 1)
        assert code_of(low) == (409, "bid_too_low") and "1,010,000.00" in low.get_json()["error"]["message"].replace(
            "1010000.00", "1,010,000.00"
        )
        assert code_of(client.post(f"/api/v1/auctions/{a.code}/timed", headers=h[1])) == (409, "not_listing")
        assert (
            client.post(f"/api/v1/auctions/{a.code}/pause", json={"reason": "网络故障"}, headers=staff).status_code
            == 200
        )
        assert code_of(post_bid(client, h[1], a, b2, "1010000.00", 1)) == (409, "auction_paused")
        assert client.post(f"/api/v1/auctions/{a.code}/resume", headers=staff).status_code == 200
        c.set(START + dt.timedelta(minutes=10, seconds=301))  # free 10 min, then 300 s without a bid
        assert code_of(post_bid(client, h[1], a, b2, "1010000.00", 1)) == (409, "bid_late")
        assert code_of(post_bid(client, h[1], a, b2, "1010000.00", 1)) == (409, "bid_late")  # sold: still late
        session.execute(update(Auction).where(Auction.id == a.id).values(state=AuctionState.CANCELLED))
        session.commit()
        assert code_of(post_bid(client, h[1], a, b2, "1010000.00", 1)) == (409, "auction_ended")
    assert session.scalars(select(AuctionBid.seq).where(AuctionBid.auction_id == a.id)).all() == [1]
    for after in ("-1", "x", str(2**64)):
        assert client.get(f"/api/v1/auctions/{a.code}/events?after={after}").status_code == 422
        assert client.get(f"/api/v1/auctions/{a.code}/bids?after={after}").status_code == 422


def test_staff_pause_resume_and_increment(client: FlaskClient, room: dict[str, Any]) -> None:
    a, (b1, _, _), h, staff = room["a"], room["buyers"], room["h"], room["staff"]
    url = f"/api/v1/auctions/{a.code}"
    with clock.frozen(START) as c:
        assert post_bid(client, h[0], a, b1, "1000000.00", 0).status_code == 201
        assert code_of(client.post(f"{url}/pause", json={"reason": "  "}, headers=staff)) == (422, "reason_required")
        assert code_of(client.post(f"{url}/pause", json={}, headers=staff)) == (422, "invalid_input")
        assert code_of(client.post(f"{url}/pause", json={"reason": "长" * 501}, headers=staff)) == (
            422,
            "reason_too_long",
        )
        assert code_of(client.post(f"{url}/resume", headers=staff)) == (409, "not_paused")
        r = client.post(f"{url}/pause", json={"reason": "竞价系统网络故障"}, headers=staff)
        state = r.get_json()
        assert r.status_code == 200 and state["paused"] and state["pause_reason"] == "竞价系统网络故障"
        assert state["ends_at"] is None and state["remaining_seconds"] == pytest.approx(595.0)
        assert code_of(client.post(f"{url}/pause", json={"reason": "再停"}, headers=staff)) == (409, "not_pausable")
        c.advance(seconds=60)
        state = client.post(f"{url}/resume", headers=staff).get_json()
        assert not state["paused"] and state["ends_at"] == (T0 + dt.timedelta(minutes=11)).isoformat()
        for bad, code in (("abc", "invalid_amount"), ("0", "invalid_amount"), ("10000.00", "increment_unchanged")):
            r = client.post(f"{url}/increment", json={"increment": bad, "reason": "调整"}, headers=staff)
            assert r.status_code in (409, 422) and r.get_json()["error"]["code"] == code
        r = client.post(f"{url}/increment", json={"increment": "50000", "reason": "报价踊跃"}, headers=staff)
        assert r.status_code == 200 and r.get_json()["minimum_next"] == "1050000.00"
        events = client.get(f"{url}/events").get_json()["items"]
    assert [e["kind"] for e in events][-3:] == ["state", "state", "increment"]  # pause, resume, increment
    assert events[-3]["reason"] == "竞价系统网络故障" and events[-1]["to"] == "50000.00"
