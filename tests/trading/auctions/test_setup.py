"""Setting lots up: drafts, publication under the procedures' periods, the reserve's commitment,
the signed announcement, cancellation and a disclosure's extension; who may do it."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from archive.transparency import LogCheckpoint
from signing.statements import SignedStatement, reserve_commitment
from tests.factories import TEST_ACTOR, api_token, make_user, page_login
from tests.trading.auctions.helpers_lots import beijing, draft_lot, lot_body, published_lot
from trading.accounts.models import Role
from trading.auctions import reserve, setup
from trading.auctions.bidding import get_auction
from trading.auctions.models import AuctionEvent, AuctionState
from trading.core.errors import DomainError
from trading.core.platform_keys import key_encryption_key
from trading.core.services import services
from trading.procedures.operations import set_holiday

#: a Monday, 09:00 in Beijing
T = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)
DAY = dt.date(2027, 3, 1)
#: 32号令 第十三条 counts the disclosure from the announcement to the registration's end, after which
#: the online bidding (30 minutes' free bidding, then the countdown) follows; ``rules.period_problems``
#: measures ``min_listing_days`` from the bidding's start to the free bidding's end for every method,
#: which would make a property lot's free bidding last 20 working days (lead: rules.py)


def refusal(fn: Any, *args: Any) -> DomainError:
    with pytest.raises(DomainError) as exc:
        fn(*args)
    return exc.value


def staff_headers(client: FlaskClient, session: Session) -> dict[str, str]:
    staff = make_user(session, Role.STAFF)
    session.commit()
    return api_token(client, staff.username)


def events(session: Session, code: str) -> list[AuditEvent]:
    q = select(AuditEvent).where(AuditEvent.object_type == "auction", AuditEvent.object_id == code)
    return list(session.scalars(q.order_by(AuditEvent.seq)))


# ---------------------------------------------------------------- drafts
def test_a_draft_is_numbered_recorded_and_hidden(client: FlaskClient, session: Session) -> None:
    h = staff_headers(client, session)
    r = client.post("/api/v1/auctions", json=lot_body(session, "land_listing"), headers=h)
    assert r.status_code == 201, r.get_json()
    lot = r.get_json()
    assert re.fullmatch(rf"PM-{clock.local(clock.now()).year}-\d{{4,}}", lot["code"])
    assert lot["state"] == "draft" and lot["state_label"] == "草稿" and lot["method"] == "listing"
    assert lot["category"] == "land_use" and lot["countdown_seconds"] == 300 and lot["reserve_sm3"] is None
    assert lot["starting_price"] == "1000000.00" and lot["periods"]["announced_at"] is None
    [created] = events(session, lot["code"])
    assert created.action == "auction.create" and json.loads(created.payload)["starting_price"] == "1000000.00"
    # a draft is the staff's: the public and bidders do not see it
    assert client.get(f"/api/v1/auctions/{lot['code']}").get_json()["error"]["code"] == "auction_not_found"
    assert client.get(f"/api/v1/auctions/{lot['code']}", headers=h).status_code == 200
    # an auction's free bidding defaults to the procedure's minutes
    auction = client.post("/api/v1/auctions", json=lot_body(session, "land_auction"), headers=h).get_json()
    start = dt.datetime.fromisoformat(auction["periods"]["bidding_starts_at"])
    assert dt.datetime.fromisoformat(auction["periods"]["free_ends_at"]) - start == dt.timedelta(minutes=30)


def test_a_draft_is_edited_until_it_is_published(client: FlaskClient, session: Session, app: Flask) -> None:
    h = staff_headers(client, session)
    code = client.post("/api/v1/auctions", json=lot_body(session), headers=h).get_json()["code"]
    r = client.put(f"/api/v1/auctions/{code}", json=lot_body(session, starting_price="2000000.50"), headers=h)
    assert r.status_code == 200 and r.get_json()["starting_price"] == "2000000.50"
    assert [e.action for e in events(session, code)] == ["auction.create", "auction.update"]
    assert client.post(f"/api/v1/auctions/{code}/publish", json={}, headers=h).status_code == 200
    r = client.put(f"/api/v1/auctions/{code}", json=lot_body(session), headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"
    r = client.post(f"/api/v1/auctions/{code}/publish", json={}, headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"


# ---------------------------------------------------------------- periods
def publish_at(session: Session, app: Flask, procedure: str, **periods: Any) -> DomainError | None:
    staff = make_user(session, Role.STAFF)
    a = draft_lot(session, procedure, staff=staff, **periods)
    try:
        setup.publish(session, services(app), staff, a.code, None)
    except DomainError as exc:
        return exc
    assert a.state is AuctionState.ANNOUNCED and a.announced_at == T
    return None


def test_land_is_announced_20_days_before_the_bidding(session: Session, app: Flask) -> None:
    """国土资源部令第39号 第十一条: at least 20 days from the announcement to the auction."""
    with clock.frozen(T):
        start = beijing(DAY + dt.timedelta(days=19), 9)
        exc = publish_at(session, app, "land_auction", bidding_starts_at=start, registration_ends_at=start)
        assert exc is not None and exc.status == 422 and exc.code == "auction_periods"
        assert set(exc.fields) == {"bidding_starts_at"} and "20日" in exc.fields["bidding_starts_at"]
        start = beijing(DAY + dt.timedelta(days=20), 9)
        assert publish_at(session, app, "land_auction", bidding_starts_at=start, registration_ends_at=start) is None


def test_a_land_listing_runs_at_least_10_days(session: Session, app: Flask) -> None:
    """39号令 第十九条: the listing period is at least 10 days."""
    start = beijing(DAY + dt.timedelta(days=21), 9)
    with clock.frozen(T):
        ends = beijing(DAY + dt.timedelta(days=30), 15)
        exc = publish_at(
            session, app, "land_listing", bidding_starts_at=start, free_ends_at=ends, registration_ends_at=ends
        )
        assert exc is not None and exc.code == "auction_periods"
        assert set(exc.fields) == {"free_ends_at"} and "挂牌期不得少于10日" in exc.fields["free_ends_at"]
        ends = beijing(DAY + dt.timedelta(days=31), 15)
        late = ends + dt.timedelta(hours=1)
        exc = publish_at(
            session, app, "land_listing", bidding_starts_at=start, free_ends_at=ends, registration_ends_at=late
        )
        assert exc is not None and set(exc.fields) == {"registration_ends_at"}
        assert (
            publish_at(
                session, app, "land_listing", bidding_starts_at=start, free_ends_at=ends, registration_ends_at=ends
            )
            is None
        )


def test_a_property_transfer_is_disclosed_20_working_days(session: Session, app: Flask) -> None:
    """国资委 财政部令第32号 第十三条: formal disclosure at least 20 working days, counted with the
    holiday calendar; the registration closes at the disclosure's end."""
    with clock.frozen(T):
        closes = beijing(dt.date(2027, 3, 26), 17)  # a Friday: 19 working days
        start = beijing(dt.date(2027, 3, 30), 9)
        exc = publish_at(session, app, "property_online", registration_ends_at=closes, bidding_starts_at=start)
        assert exc is not None and exc.code == "auction_periods" and "20个工作日" in "".join(exc.fields.values())
        closes = beijing(dt.date(2027, 3, 29), 17)  # Monday: 20 working days
        set_holiday(session, TEST_ACTOR, dt.date(2027, 3, 15), False, "测试休息日")
        exc = publish_at(session, app, "property_online", registration_ends_at=closes, bidding_starts_at=start)
        assert exc is not None and exc.code == "auction_periods"  # the holiday leaves 19
        set_holiday(session, TEST_ACTOR, dt.date(2027, 3, 15), True, "测试工作日")
        assert publish_at(session, app, "property_online", registration_ends_at=closes, bidding_starts_at=start) is None


def test_the_registration_closes_before_the_bidding(session: Session, app: Flask) -> None:
    with clock.frozen(T):
        start = beijing(DAY + dt.timedelta(days=21), 9)
        exc = publish_at(
            session,
            app,
            "land_auction",
            bidding_starts_at=start,
            registration_ends_at=start + dt.timedelta(hours=1),
        )
        assert exc is not None and exc.code == "auction_periods" and "registration_ends_at" in exc.fields


# ---------------------------------------------------------------- the reserve and the announcement
def test_publication_commits_the_reserve_and_signs_the_announcement(session: Session, app: Flask) -> None:
    svc = services(app)
    before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    a = published_lot(session, app, "land_listing", reserve_price="1350000.00", documents={"出让须知.pdf": b"%PDF x"})
    # nothing of the price in clear on the row; its box opens to the commitment with the salt
    assert a.reserve_price is None and a.reserve_salt is None and a.reserve_sm3 and a.reserve_box
    assert b"1350000" not in a.reserve_box
    price, salt = reserve.open_box(key_encryption_key(svc.settings), a.reserve_sm3, a.reserve_box)
    assert str(price) == "1350000.00" and reserve_commitment("1350000.00", salt) == a.reserve_sm3
    assert reserve_commitment("1350000.01", salt) != a.reserve_sm3
    # the announcement: platform-signed, naming the commitment, the prices, periods and documents
    assert a.announcement_statement is not None
    st = SignedStatement.from_json(a.announcement_statement.encode())
    content = st.verify(trusted=svc.keys.sign_cert, expected_type="auction_announcement")
    body = content["body"]
    assert body["code"] == a.code and body["reserve_sm3"] == a.reserve_sm3 and body["method"] == "listing"
    assert body["starting_price"] == "1000000.00" and body["countdown_seconds"] == 300
    assert body["free_ends_at"] == a.free_ends_at.isoformat()
    [doc] = body["documents"]
    assert doc["name"] == "出让须知.pdf" and len(doc["sm3"]) == 64
    # the trail says it was announced, with the commitment, and a checkpoint is asked for
    trail = session.scalars(select(AuditEvent).where(AuditEvent.seq > before)).all()
    announce = next(e for e in trail if e.action == "auction.announce")
    assert json.loads(announce.payload)["reserve_sm3"] == a.reserve_sm3
    assert all("1350000" not in e.payload for e in trail)
    cp = session.scalars(select(LogCheckpoint).where(LogCheckpoint.subject == f"auction:{a.code}")).one()
    assert cp.reason == "auction_announce"
    # the room's feed tells the public the lot was announced
    feed = session.scalars(select(AuctionEvent).where(AuctionEvent.auction_id == a.id)).all()
    assert [e.kind for e in feed] == ["state"] and "1350000" not in json.dumps(feed[0].payload)


def test_a_lot_without_reserve_commits_nothing(session: Session, app: Flask) -> None:
    a = published_lot(session, app, reserve_price="  ")
    assert a.reserve_sm3 is None and a.reserve_box is None
    assert SignedStatement.from_json(a.announcement_statement.encode()).body["reserve_sm3"] is None  # type: ignore[union-attr]


@pytest.mark.parametrize("price", ["abc", "-5", "0", "12.345", "NaN", "Infinity", "9" * 30, "1,000"])
def test_a_reserve_that_is_no_amount_is_refused(client: FlaskClient, session: Session, price: str) -> None:
    h = staff_headers(client, session)
    code = client.post("/api/v1/auctions", json=lot_body(session), headers=h).get_json()["code"]
    r = client.post(f"/api/v1/auctions/{code}/publish", json={"reserve_price": price}, headers=h)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["code"] == "invalid_amount" and "reserve_price" in r.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/auctions/{code}", headers=h).get_json()["state"] == "draft"


def test_a_reserve_below_the_starting_price_is_taken(client: FlaskClient, session: Session) -> None:
    """Only validity is checked: a land lot's reserve is usually above its starting price, but the
    rules do not forbid one below it."""
    h = staff_headers(client, session)
    code = client.post("/api/v1/auctions", json=lot_body(session), headers=h).get_json()["code"]
    r = client.post(f"/api/v1/auctions/{code}/publish", json={"reserve_price": "500000"}, headers=h)
    assert r.status_code == 200 and r.get_json()["reserve_sm3"]


# ---------------------------------------------------------------- cancel and extend
def test_a_lot_is_cancelled_only_before_its_bidding(session: Session, app: Flask) -> None:
    svc, staff = services(app), make_user(session, Role.STAFF)
    draft = draft_lot(session, staff=staff)
    setup.cancel(session, svc, staff, draft.code, "出让计划调整，终止出让")
    assert draft.state is AuctionState.CANCELLED
    a = published_lot(session, app, staff=staff)
    assert refusal(setup.cancel, session, svc, staff, a.code, " ").fields == {"reason": "必填"}
    with clock.frozen(a.bidding_starts_at + dt.timedelta(seconds=1)):
        exc = refusal(setup.cancel, session, svc, staff, a.code, "出让计划调整，终止出让")
        assert exc.code == "wrong_state"
        assert get_auction(session, a.code).state is AuctionState.FREE  # the due start was written first
    b = published_lot(session, app, staff=staff)
    setup.cancel(session, svc, staff, b.code, "出让计划调整，终止出让")
    assert b.state is AuctionState.CANCELLED
    [ev] = [e for e in events(session, b.code) if e.action == "auction.cancel"]
    assert json.loads(ev.payload)["reason"] == "出让计划调整，终止出让"


def test_a_property_disclosure_is_extended_by_working_days(client: FlaskClient, session: Session, app: Flask) -> None:
    with clock.frozen(T):
        staff = make_user(session, Role.STAFF)
        a = published_lot(
            session,
            app,
            "property_online",
            staff=staff,
            registration_ends_at=beijing(dt.date(2027, 3, 31), 17),
            bidding_starts_at=beijing(dt.date(2027, 4, 1), 9),
        )
        session.commit()
        h = api_token(client, staff.username)
        r = client.post(f"/api/v1/auctions/{a.code}/extend", json={"days": 4, "reason": "未征集到受让方"}, headers=h)
        assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == {"days"}
        r = client.post(f"/api/v1/auctions/{a.code}/extend", json={"days": 5, "reason": "未征集到受让方"}, headers=h)
        assert r.status_code == 200, r.get_json()
        periods = r.get_json()["periods"]
        # Wednesday 31 March + 5 working days is Wednesday 7 April; the bidding moves alike
        assert periods["registration_ends_at"] == beijing(dt.date(2027, 4, 7), 17).isoformat()
        assert periods["bidding_starts_at"] == beijing(dt.date(2027, 4, 8), 9).isoformat()
        [ev] = [e for e in events(session, a.code) if e.action == "auction.extend"]
        assert json.loads(ev.payload)["days"] == 5
        kinds = session.scalars(select(AuctionEvent.kind).where(AuctionEvent.auction_id == a.id)).all()
        assert "extend" in kinds
        # land has no extension; and no lot is extended once its bidding has started
        land = published_lot(session, app, staff=staff)
        session.commit()
        r = client.post(f"/api/v1/auctions/{land.code}/extend", json={"days": 5, "reason": "未征集到受让方"}, headers=h)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"
    with clock.frozen(beijing(dt.date(2027, 4, 8), 9, 1)):
        h = api_token(client, staff.username)  # the first token has expired by now
        r = client.post(f"/api/v1/auctions/{a.code}/extend", json={"days": 5, "reason": "未征集到受让方"}, headers=h)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"


# ---------------------------------------------------------------- who may
def test_only_staff_set_lots_up(client: FlaskClient, session: Session, app: Flask) -> None:
    bidder, supervisor, staff = (make_user(session, r) for r in (Role.BIDDER, Role.SUPERVISOR, Role.STAFF))
    draft = draft_lot(session, staff=staff)
    session.commit()
    body = lot_body(session)
    assert client.post("/api/v1/auctions", json=body).status_code == 401
    for user in (bidder, supervisor):
        h = api_token(client, user.username)
        assert client.post("/api/v1/auctions", json=body, headers=h).status_code == 403
        assert client.post(f"/api/v1/auctions/{draft.code}/publish", json={}, headers=h).status_code == 403
        r = client.post(f"/api/v1/auctions/{draft.code}/cancel", json={"reason": "不想卖了，终止"}, headers=h)
        assert r.status_code == 403
    # the operations refuse too, whoever calls them
    assert refusal(setup.create_draft, session, bidder, None).status == 403
    assert refusal(setup.publish, session, services(app), bidder, draft.code, None).status == 403
    assert client.post("/api/v1/auctions", json=body, headers=api_token(client, staff.username)).status_code == 201
    # a supervisor reads every lot, drafts too; the public reads announced ones
    h = api_token(client, supervisor.username)
    assert client.get(f"/api/v1/auctions/{draft.code}", headers=h).status_code == 200
    assert client.get("/api/v1/auctions").status_code == 200


def test_staff_pages_are_staffs(client: FlaskClient, session: Session) -> None:
    bidder = make_user(session, Role.BIDDER)
    session.commit()
    r = client.get("/auctions/new")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    page_login(client, bidder.username)
    assert client.get("/auctions/new").status_code == 403
    assert client.get("/auctions/manage").status_code == 403
