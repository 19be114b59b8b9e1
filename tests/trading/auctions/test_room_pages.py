"""The bidding room's pages: the public page (numbers, never names; anyone), the buyer's page (its own
number and the signing form, or why it may not bid), the page's bid with its session and CSRF token,
and staff's console (whose each number is; pause, resume and the increment with reasons)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.statements import auction_bid_statement
from tests.factories import csrf_from, make_bidder_with_keys, make_user, page_login
from tests.trading.auctions.test_bidding import T0, bid, make_lot
from trading.accounts.models import Organisation, Role
from trading.auctions.models import AuctionBid, AuctionState
from trading.core.services import services

JSON = {"Accept": "application/json"}
START = T0 + dt.timedelta(seconds=5)


def room_data(html: str) -> dict[str, Any]:
    m = re.search(r"data-room='([^']*)'", html)
    assert m is not None
    return dict(json.loads(unescape(m.group(1))))


def test_anyone_watches_by_number_without_names(client: FlaskClient, session: Session, app: Flask) -> None:
    a, buyers = make_lot(session, app)
    with clock.frozen(START):
        bid(session, services(app), a, buyers[0], "1000000.00")
        bid(session, services(app), a, buyers[1], "1010000.00")
        session.commit()
        html = client.get(f"/auctions/{a.code}/watch").get_data(as_text=True)
    names = session.scalars(select(Organisation.name)).all()
    assert not [n for n in names if n in html]
    assert buyers[1].number in html and "1,010,000.00" in html and "1,020,000.00" in html  # price, next
    assert "<script>" not in html and "auction.js" in html and "sm-crypto" not in html
    data = room_data(html)
    assert data["state"]["current_seq"] == 2 and [b["seq"] for b in data["bids"]] == [1, 2]
    assert data["events_url"] == f"/api/v1/auctions/{a.code}/events" and "names" not in data
    assert data["live"] is None  # no LIVE_URL in tests: the page polls the feed
    assert client.get("/auctions/PM-NONE/watch").status_code == 404


def test_the_buyer_page_shows_its_number_or_why_not(client: FlaskClient, session: Session, app: Flask) -> None:
    a, buyers = make_lot(session, app)
    outsider = make_bidder_with_keys(session, app)
    session.commit()
    assert client.get(f"/auctions/{a.code}/room").status_code == 302  # to the login page
    with clock.frozen(START):
        page_login(client, buyers[0].keys.user.username)
        html = client.get(f"/auctions/{a.code}/room").get_data(as_text=True)
    assert f'id="my-number" class="badge">{buyers[0].number}<' in html and 'id="bid-form"' in html
    assert room_data(html)["number"] == buyers[0].number and "ukey.js" in html
    other = app.test_client()
    page_login(other, outsider.user.username)
    html = other.get(f"/auctions/{a.code}/room").get_data(as_text=True)
    assert "贵单位未申请竞买本标的" in html and 'id="bid-form"' not in html
    assert room_data(html).get("number") is None


def test_the_page_bids_with_its_session_and_csrf_token(client: FlaskClient, session: Session, app: Flask) -> None:
    a, (b1, _, _) = make_lot(session, app)
    session.commit()
    st = auction_bid_statement(a.code, b1.number, "1000000.00", 0)
    body = {"amount": "1000000.00", "seen_seq": 0, "signature": base64.b64encode(b1.keys.sign_key.sign(st)).decode()}
    url = f"/auctions/{a.code}/room/bid"
    with clock.frozen(START):
        page_login(client, b1.keys.user.username)
        token = csrf_from(client.get(f"/auctions/{a.code}/room").get_data(as_text=True))
        r = client.post(url, json=body, headers=JSON)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf"
        r = client.post(url, json={**body, "amount": "1000000.01"}, headers={**JSON, "X-CSRFToken": token})
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_signature"
        r = client.post(url, json=body, headers={**JSON, "X-CSRFToken": token})
        assert r.status_code == 201 and r.get_json()["seq"] == 1
        r = client.post(url, json=body, headers={**JSON, "X-CSRFToken": token})
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "bid_too_low"
    assert session.scalars(select(AuctionBid.bidding_number)).all() == [b1.number]


def test_staff_console_maps_numbers_and_runs_the_room(client: FlaskClient, session: Session, app: Flask) -> None:
    a, buyers = make_lot(session, app)
    staff, supervisor = make_user(session, Role.STAFF), make_user(session, Role.SUPERVISOR)
    with clock.frozen(START):
        bid(session, services(app), a, buyers[2], "1000000.00")
    session.commit()
    org = session.get(Organisation, buyers[2].keys.user.organisation_id)
    assert org is not None
    page_login(client, buyers[0].keys.user.username)
    assert client.get(f"/auctions/{a.code}/console").status_code == 403
    watcher = app.test_client()
    page_login(watcher, supervisor.username)
    html = watcher.get(f"/auctions/{a.code}/console").get_data(as_text=True)
    assert org.name in html and 'id="pause-form"' not in html  # supervisors read, do not run the room
    client = app.test_client()
    with clock.frozen(START + dt.timedelta(seconds=10)):
        page_login(client, staff.username)
        html = client.get(f"/auctions/{a.code}/console").get_data(as_text=True)
        assert room_data(html)["names"][buyers[2].number] == org.name and 'id="pause-form"' in html
        token = csrf_from(html)
        url = f"/auctions/{a.code}/console"
        r = client.post(f"{url}/pause", data={"csrf_token": token, "reason": ""}, follow_redirects=True)
        assert "未执行：请填写原因" in r.get_data(as_text=True) and a.state is AuctionState.FREE
        r = client.post(f"{url}/pause", data={"csrf_token": token, "reason": "电子竞价系统故障"}, follow_redirects=True)
        assert "竞价已暂停" in r.get_data(as_text=True) and "暂停原因：电子竞价系统故障" in r.get_data(as_text=True)
        r = client.post(f"{url}/resume", data={"csrf_token": token}, follow_redirects=True)
        assert "竞价已恢复" in r.get_data(as_text=True)
        r = client.post(f"{url}/increment", data={"csrf_token": token, "increment": "abc", "reason": "调"})
        assert r.status_code == 302
        r = client.post(
            f"{url}/increment",
            data={"csrf_token": token, "increment": "20000", "reason": "报价踊跃"},
            follow_redirects=True,
        )
        assert "加价幅度已调整" in r.get_data(as_text=True) and "20,000.00" in r.get_data(as_text=True)
        assert client.post(f"{url}/explode", data={"csrf_token": token}).status_code == 302
    session.refresh(a)
    assert a.increment == 20000 and a.state is AuctionState.FREE
