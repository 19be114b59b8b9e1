"""The result, public once the lot has ended: the signed statement over the API, its PDF and the
成交公示 / 流拍公告 page; before the end each answers with its named refusal."""

from __future__ import annotations

import datetime as dt
import io

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from archive import clock
from signing.statements import SignedStatement
from tests.trading.auctions.helpers_lots import draft_lot, published_lot, staff_user
from tests.trading.auctions.test_bidding import T0, bid, make_lot
from trading.auctions import setup
from trading.auctions.models import AuctionState
from trading.auctions.tasks import auction_clock_job
from trading.core.services import services


def test_before_the_end_there_is_no_result(client: FlaskClient, session: Session, app: Flask) -> None:
    a, (b1, _, _) = make_lot(session, app)
    for path in (f"/api/v1/auctions/{a.code}/result", f"/auctions/{a.code}/result.pdf"):
        r = client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "auction_not_ended", path
    with clock.frozen(T0 + dt.timedelta(seconds=1)):
        bid(session, services(app), a, b1, "1000000.00")
        assert client.get(f"/api/v1/auctions/{a.code}/result").get_json()["error"]["code"] == "auction_not_ended"
        assert client.get(f"/auctions/{a.code}/result").status_code == 409
    assert client.get("/api/v1/auctions/PM-NONE/result").get_json()["error"]["code"] == "auction_not_found"
    draft = draft_lot(session)
    assert client.get(f"/api/v1/auctions/{draft.code}/result").status_code == 404
    staff = staff_user(session)
    cancelled = published_lot(session, app, staff=staff)
    setup.cancel(session, services(app), staff, cancelled.code, "出让人撤回出让计划")
    r = client.get(f"/api/v1/auctions/{cancelled.code}/result")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_result"


def test_a_sale_is_published_with_its_signed_statement(client: FlaskClient, session: Session, app: Flask) -> None:
    svc = services(app)
    a, (b1, b2, _) = make_lot(session, app, reserve_price="1005000.00")
    with clock.frozen(T0 + dt.timedelta(seconds=1)) as c:
        bid(session, svc, a, b1, "1000000.00")
        bid(session, svc, a, b2, "1010000.00")
        c.set(T0 + dt.timedelta(minutes=16))
        auction_clock_job(session, clock.now(), svc)
        assert a.state is AuctionState.SOLD
        r = client.get(f"/api/v1/auctions/{a.code}/result")
        assert r.status_code == 200, r.get_json()
        j = r.get_json()
        org = b2.keys.user.organisation
        assert org is not None
        assert j["outcome"] == "sold" and j["final_price"] == "1010000.00" and j["in_publicity"] is True
        assert j["winner"] == {"bidding_number": b2.number, "name": org.name, "credit_code": org.credit_code}
        body = SignedStatement.from_json(j["statement"].encode()).verify(trusted=svc.keys.sign_cert)["body"]
        assert body == j["result"] and j["result_sm3"] == a.result_sm3
        page = client.get(f"/auctions/{a.code}/result").get_data(as_text=True)
        for part in ("成交公示", org.name, "1,010,000.00", "1,005,000.00", a.reserve_salt or "-", j["pdf"]):
            assert part in page, part
        pdf = client.get(j["pdf"])
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
        assert "成交确认书" in text and org.name in text
        session.refresh(a)
        assert a.result_pdf_key is not None and client.get(j["pdf"]).data == pdf.data  # stored once
        c.set(clock.as_utc(a.publicity_ends_at) + dt.timedelta(seconds=1))  # type: ignore[arg-type]
        assert client.get(f"/api/v1/auctions/{a.code}/result").get_json()["in_publicity"] is False


def test_a_failure_is_announced(client: FlaskClient, session: Session, app: Flask) -> None:
    a, _ = make_lot(session, app)
    with clock.frozen(T0 + dt.timedelta(minutes=30)):
        auction_clock_job(session, clock.now(), services(app))
    j = client.get(f"/api/v1/auctions/{a.code}/result").get_json()
    assert j["outcome"] == "failed" and j["winner"] is None and j["final_price"] is None
    page = client.get(f"/auctions/{a.code}/result").get_data(as_text=True)
    assert "流拍公告" in page and "竞价期间无人出价" in page and "未设底价" in page
