"""Instants and codes a tender may carry: a year out of range, a deadline years ahead, a region
that is no GB/T 2260 code or an id past 64 bits is a named 422 in Chinese, in the form and the
API alike; and a deadline stored before these bounds still draws a page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import api_token, make_signer, make_user, page_login, tender_body
from tests.trading.tenders.test_pages import form, tender_form
from tests.trading.tenders.test_tender_api import DOC, people, published_tender  # noqa: F401  (a fixture)
from tests.trading.tenders.test_tender_form import tenderee_client
from trading.accounts.models import Role
from trading.accounts.regions import is_region
from trading.tenders.models import Lot, LotState, Tender, TenderState
from trading.tenders.timeline import draw, lot_steps


def text_of(html: str) -> str:
    return re.sub(r"<[^>]*>", "", html)


def test_a_deadline_out_of_range_is_refused_by_name_in_the_form(app: Flask, session: Session) -> None:
    c = tenderee_client(app, session)
    token = form(c, "/tenders/new")
    next_year = clock.local(clock.now() + dt.timedelta(days=400)).strftime("%Y-%m-%dT09:30")
    for deadline, said in (
        ("0001-01-01T00:00", "2000 年至 2099 年之间"),
        ("9999-12-31T23:59", "2000 年至 2099 年之间"),
        (next_year, "不得晚于一年以后"),
    ):
        r = c.post("/tenders/new", data=tender_form(token, bid_deadline=deadline))
        page = text_of(r.get_data(as_text=True))
        assert r.status_code == 422 and said in page and "投标截止时间" in page, (deadline, r.status_code)


def test_a_deadline_out_of_range_is_refused_by_name_in_the_api(app: Flask, session: Session) -> None:
    signer = make_signer(session, app, Role.TENDEREE)
    session.commit()
    c = app.test_client()
    h = api_token(c, signer.user.username)
    for deadline in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:00+08:00", "1999-12-31T23:59:59+00:00"):
        r = c.post("/api/v1/tenders", json=tender_body() | {"bid_deadline": deadline}, headers=h)
        assert r.status_code == 422, (deadline, r.status_code)
        assert "2000 年至 2099 年之间" in r.get_json()["error"]["fields"]["bid_deadline"]
    r = c.post("/api/v1/tenders", json=tender_body(clock.now() + dt.timedelta(days=367)), headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_deadline"
    r = c.post("/api/v1/tenders", json=tender_body(clock.now() + dt.timedelta(days=300)), headers=h)
    assert r.status_code == 201


def test_resumption_and_amendment_deadlines_are_bounded(
    client: FlaskClient,
    session: Session,
    people: dict[str, Any],  # noqa: F811
) -> None:
    code = published_tender(client, people)
    ht = api_token(client, people["tenderee"].user.username)
    hs = api_token(client, people["staff"].username)
    body = {"title": "关于工期的变更", "body": "工期由 300 日历天变更为 360 日历天。", "affects_bids": True}
    for deadline in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:00+08:00"):
        r = client.post(f"/api/v1/tenders/{code}/amendments", json=body | {"new_deadline": deadline}, headers=ht)
        assert r.status_code == 422, r.status_code
    far = (clock.now() + dt.timedelta(days=400)).isoformat()
    r = client.post(f"/api/v1/tenders/{code}/amendments", json=body | {"new_deadline": far}, headers=ht)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_deadline"
    assert client.post(f"/api/v1/tenders/{code}/suspend", json={"reason": "收到投诉"}, headers=hs).status_code == 200
    for deadline in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:00+08:00", far):
        r = client.post(f"/api/v1/tenders/{code}/resume", json={"new_deadline": deadline}, headers=hs)
        assert r.status_code == 422, (deadline, r.status_code)
    # the pages' own deadline fields (Beijing time, no zone) take the same bounds
    s = client.application.test_client()
    page_login(s, people["staff"].username)
    token = form(s, f"/tenders/{code}")
    for deadline in ("0001-01-01T00:00", "9999-12-31T23:59"):
        r = s.post(f"/tenders/{code}/resume", data={"csrf_token": token, "new_deadline": deadline})
        assert r.status_code == 422 and "2000 年至 2099 年之间" in r.get_data(as_text=True)


def test_a_deadline_stored_before_the_bounds_still_draws() -> None:
    """A tender saved with 9999-12-31 before requests were bounded: its timeline says so instead
    of failing (the opening's estimate and Beijing time are both past ``datetime``'s end)."""
    last = dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC)
    tender = Tender(title="闽江大桥维修加固工程", status=TenderState.DRAFT, bid_deadline=last, docs_issued_at=None)
    lot = Lot(number=1, name="施工", status=LotState.BIDDING)
    from trading.tenders.timeline import LotFacts

    steps = lot_steps(tender, lot, LotFacts(), clock.now(), opening_minutes=70)
    assert steps[2].at is None
    assert "时间超出范围" in draw(steps, clock.now(), "进度")


def test_a_region_must_be_a_gbt_2260_code(app: Flask, session: Session) -> None:
    assert is_region("350100") and is_region("350102") and is_region("350000") and is_region("330106")
    for code in ("999999", "350199", "359900", "350001", "000000", "35010", "３５０１００"):
        assert not is_region(code), code
    c = tenderee_client(app, session)
    token = form(c, "/tenders/new")
    r = c.post("/tenders/new", data=tender_form(token, region="999999"))
    assert r.status_code == 422 and "行政区划代码：不是有效的行政区划代码" in text_of(r.get_data(as_text=True))
    signer = make_signer(session, app, Role.TENDEREE)
    session.commit()
    h = api_token(c, signer.user.username)
    for body in (tender_body(region="999999"), tender_body(lots=[tender_body()["lots"][0] | {"region": "350199"}])):
        r = c.post("/api/v1/tenders", json=body, headers=h)
        assert r.status_code == 422 and "GB/T 2260" in str(r.get_json()["error"]["fields"])


def test_an_id_past_64_bits_is_named_as_the_form_names_it(app: Flask, session: Session) -> None:
    make_user(session, Role.AGENCY)
    c = tenderee_client(app, session)
    token = form(c, "/tenders/new")
    r = c.post("/tenders/new", data=tender_form(token, agency_org_id="9" * 20))
    page = text_of(r.get_data(as_text=True))
    assert r.status_code == 422 and "代理机构" in page
    assert "body." not in page and "agency_org_id" not in page
