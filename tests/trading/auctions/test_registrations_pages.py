"""The registration pages: a buyer applies, uploads, sees its number and reports its transfer;
staff review, confirm and refund, with the refunds due (overdue in red); supervisors read without
forms; and nothing public ever shows an organisation next to a bidding number."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM
from signing.statements import auction_bid_statement
from tests.factories import csrf_from, make_user, page_login
from tests.trading.auctions.helpers_buyers import approved_buyers, make_lot
from trading.accounts.models import Role
from trading.auctions import bidding
from trading.auctions.lifecycle import move_auction
from trading.auctions.models import AuctionEvent, AuctionState, DepositState, Registration, RegistrationState
from trading.core.services import services


def form_post(client: FlaskClient, page: str, action: str, **data: str) -> str:
    """Post a form of ``page`` (its CSRF token) and return the page it redirects to."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    r = client.post(action, data={"csrf_token": token, **data})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client.get(r.headers["Location"]).get_data(as_text=True)


def test_a_buyer_applies_and_follows_its_application(client: FlaskClient, session: Session, app: Flask) -> None:
    a = make_lot(session)
    buyer = make_user(session, Role.BIDDER)
    staff = make_user(session, Role.STAFF)
    session.commit()
    page_login(client, buyer.username)
    own = f"/auctions/{a.code}/registration"
    html = client.get(own).get_data(as_text=True)
    assert 'id="apply-form"' in html and a.title in html and "200,000.00" in html

    html = form_post(client, own, f"{own}/apply", contact_name="王五", contact_phone="0591-1")
    assert "竞买申请已提交" in html and 'id="state">待审核' in html
    assert "按公告指定账户" in html and 'id="upload-form"' in html and 'id="report-form"' in html

    token = csrf_from(html)
    r = client.post(
        f"{own}/documents",
        data={"csrf_token": token, "file": (io.BytesIO(b"%PDF licence"), "营业执照.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    html = client.get(own).get_data(as_text=True)
    assert "营业执照.pdf" in html and "材料已上传" in html

    html = form_post(client, own, f"{own}/deposit", reference="x" * 101)
    assert "未报告" in html and 'id="deposit-state">未缴纳' in html
    html = form_post(client, own, f"{own}/deposit", reference="ICBC-0001")
    assert 'id="deposit-state">待确认到账' in html and "ICBC-0001" in html

    client.post("/logout", data={"csrf_token": csrf_from(html)})
    page_login(client, staff.username)
    staff_page = f"/auctions/{a.code}/registrations"
    html = client.get(staff_page).get_data(as_text=True)
    assert buyer.organisation is not None and buyer.organisation.name in html and "营业执照.pdf" in html
    reg = session.query(Registration).filter_by(auction_id=a.id).one()
    html = form_post(client, staff_page, f"/auction-registrations/{reg.id}/approve")
    assert "审核通过，已抽取竞买号牌" in html
    html = form_post(client, staff_page, f"/auction-registrations/{reg.id}/deposit/confirm", reference="到账-1")
    assert "已确认保证金到账" in html
    session.expire_all()
    approved = session.get(Registration, reg.id)
    assert approved is not None and approved.may_bid and approved.bidding_number
    assert f'class="reg-number">{approved.bidding_number}<' in html

    client.post("/logout", data={"csrf_token": csrf_from(html)})
    page_login(client, buyer.username)
    html = client.get(own).get_data(as_text=True)
    assert f'id="bidding-number">{approved.bidding_number}<' in html and "可以出价" in html


def test_staff_reject_with_a_reason_and_refund_after_the_end(client: FlaskClient, session: Session, app: Flask) -> None:
    staff = make_user(session, Role.STAFF)
    a = make_lot(session, staff=staff)
    winner, loser = approved_buyers(session, app, a, 2, staff=staff)
    (pending,) = approved_buyers(session, app, a, 1, staff=staff, confirmed=False)
    pending.registration.state, pending.registration.bidding_number = RegistrationState.SUBMITTED, None
    session.commit()
    page_login(client, staff.username)
    staff_page = f"/auctions/{a.code}/registrations"
    html = form_post(client, staff_page, f"/auction-registrations/{pending.registration.id}/reject")
    assert "未审核" in html  # a rejection needs its reason
    html = form_post(
        client, staff_page, f"/auction-registrations/{pending.registration.id}/reject", reason="<b>材料不全</b>"
    )
    assert "已审核为不通过" in html and "&lt;b&gt;材料不全&lt;/b&gt;" in html

    html = form_post(
        client, staff_page, f"/auction-registrations/{loser.registration.id}/deposit/refund", reference="R"
    )
    assert "标的结束前只能退还" in html

    ended = clock.now() - dt.timedelta(days=30)  # its refunds are overdue by now
    move_auction(session, SYSTEM, a, AuctionState.FREE, at=ended)
    a.leader_id, a.final_price = winner.registration.id, a.starting_price
    move_auction(session, SYSTEM, a, AuctionState.SOLD, at=ended)
    session.commit()
    html = client.get(staff_page).get_data(as_text=True)
    due = html.split('id="refunds-due"')[1].split("</table>")[0]
    assert loser.bidding_number in due and winner.bidding_number not in due
    assert re.search(r'<tr class="error"><td>' + loser.bidding_number, due) and "已逾期" in due

    html = form_post(
        client, staff_page, f"/auction-registrations/{loser.registration.id}/deposit/refund", reference="退款-1"
    )
    assert "已登记退还保证金" in html and "没有待退还的保证金" in html
    session.expire_all()
    refunded = session.get(Registration, loser.registration.id)
    assert refunded is not None and refunded.deposit_state is DepositState.REFUNDED


def test_supervisors_read_without_forms_and_bidders_not_at_all(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    a = make_lot(session)
    (b,) = approved_buyers(session, app, a, 1)
    supervisor = make_user(session, Role.SUPERVISOR)
    session.commit()
    page_login(client, supervisor.username)
    html = client.get(f"/auctions/{a.code}/registrations").get_data(as_text=True)
    assert b.bidding_number in html
    main = html.split("<main", 1)[1]
    assert "<form" not in main.split("</main>")[0].replace('<form method="post" action="/logout"', "")
    r = client.post(f"/auction-registrations/{b.registration.id}/approve", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    page_login(client, b.user.username)
    assert client.get(f"/auctions/{a.code}/registrations").status_code == 403


def test_nothing_public_shows_an_organisation_with_a_number(client: FlaskClient, session: Session, app: Flask) -> None:
    a = make_lot(session)
    buyers = approved_buyers(session, app, a, 3, client=client)
    names = [b.user.organisation.name for b in buyers if b.user.organisation]
    codes = [b.user.organisation.credit_code for b in buyers if b.user.organisation]
    with clock.frozen(clock.as_utc(a.bidding_starts_at) + dt.timedelta(minutes=1)):
        for i, b in enumerate(buyers[:2]):  # two bids: numbers in the room's bids and its feed
            amount = str(a.starting_price + i * a.increment)
            st = auction_bid_statement(a.code, b.bidding_number, amount, i)
            sig = base64.b64encode(b.sign_key.sign(st)).decode()
            bidding.place_bid(session, services(app), b.user, a.code, amount, i, sig)
        session.commit()
        public = [
            "/api/v1/auctions",
            f"/api/v1/auctions/{a.code}",
            f"/api/v1/auctions/{a.code}/bids",
            f"/api/v1/auctions/{a.code}/events",
            f"/api/v1/auctions/{a.code}/announcement",
            "/auctions",
            f"/auctions/{a.code}",
            f"/auctions/{a.code}/watch",
        ]
        seen = ""
        for url in public:
            r = client.get(url)
            assert r.status_code in (200, 404), (url, r.status_code)
            text = r.get_data(as_text=True)
            seen += text
            leaked = [n for n in names + codes if n in text]
            assert not leaked, (url, leaked)
        assert buyers[0].bidding_number in seen  # the numbers are public, the names never
    feed = session.scalars(select(AuctionEvent.payload).where(AuctionEvent.auction_id == a.id)).all()
    assert feed and not [n for n in names + codes if n in json.dumps(feed, ensure_ascii=False)]
    # the staff's list and each buyer's own application are not public
    assert client.get(f"/api/v1/auctions/{a.code}/registrations").status_code == 401
    assert client.get(f"/auctions/{a.code}/registrations").status_code == 302  # to the login page
    assert client.get(f"/api/v1/auctions/{a.code}/registration").status_code == 401
    # a buyer reads its own number, never another's, and no organisation's name but its own
    for b, name in zip(buyers, names, strict=True):
        own = client.get(f"/api/v1/auctions/{a.code}/registration", headers=b.headers).get_data(as_text=True)
        others = [x.bidding_number for x in buyers if x is not b]
        assert b.bidding_number in own and not any(f'"{n}"' in own for n in others)
        assert not [n for n in names + codes if n in own]
        assert name not in own  # the application carries its number, not the name
