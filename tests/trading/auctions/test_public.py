"""What the public reads of the lots: the list and the detail (API and pages), numbers of buyers but
never names, the reserve's commitment with how to check it, and the reserve itself only after the
end; the staff's setup pages."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from signing.statements import SignedStatement, reserve_commitment
from tests.factories import api_token, csrf_from, make_user, page_login
from tests.trading.auctions.helpers_lots import draft_lot, published_lot
from trading.accounts.models import Role
from trading.auctions.models import AuctionState
from trading.core.services import services

RESERVE = "1234567.89"
#: every way the reserve could be written on a page or in JSON
RESERVE_TEXTS = ("1234567.89", "1,234,567.89", "1234567.9", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分")


def public_texts(client: FlaskClient, code: str, headers: dict[str, str] | None = None) -> list[str]:
    """Every public answer about ``code``: the API's list, detail and announcement, and the pages."""
    h = headers or {}
    urls = [
        "/api/v1/auctions",
        f"/api/v1/auctions?category=land_use&state={AuctionState.ANNOUNCED.value}",
        f"/api/v1/auctions/{code}",
        f"/api/v1/auctions/{code}/announcement",
        "/auctions",
        f"/auctions/{code}",
    ]
    out = []
    for url in urls:
        r = client.get(url, headers=h)
        assert r.status_code == 200, (url, r.status_code)
        out.append(r.get_data(as_text=True))
    return out


def test_the_list_filters_and_pages(client: FlaskClient, session: Session, app: Flask) -> None:
    staff = make_user(session, Role.STAFF)
    land = published_lot(session, app, "land_listing", staff=staff)
    mining = published_lot(session, app, "mining_listing", staff=staff)
    draft = draft_lot(session, staff=staff)
    session.commit()
    codes = [i["code"] for i in client.get("/api/v1/auctions").get_json()["items"]]
    assert land.code in codes and mining.code in codes and draft.code not in codes
    items = client.get("/api/v1/auctions?category=mining").get_json()["items"]
    assert mining.code in [i["code"] for i in items] and all(i["category"] == "mining" for i in items)
    item = next(i for i in items if i["code"] == mining.code)
    assert item["method_label"] == "挂牌" and item["state_label"] == "公告中" and item["category_label"] == "矿业权"
    assert item["region_name"] == "福州市鼓楼区" and item["current_price"] is None
    assert client.get("/api/v1/auctions?state=draft").get_json()["items"] == []
    h = api_token(client, staff.username)
    assert draft.code in [i["code"] for i in client.get("/api/v1/auctions?state=draft", headers=h).get_json()["items"]]
    for bad in ("category=construction", "category=x" * 30, "state=sold_out", "page=0", "page=x", "page=" + "9" * 25):
        r = client.get(f"/api/v1/auctions?{bad}")
        assert r.status_code == 422, (bad, r.get_json())
        assert r.get_json()["error"]["code"] in ("invalid_input", "bad_integer")
    r = client.get("/api/v1/auctions?page=99999")  # past the last page: the last page
    assert r.status_code == 200 and r.get_json()["page"] == r.get_json()["pages"]
    # the page alike, with a named refusal for a bad filter
    html = client.get("/auctions?category=mining").get_data(as_text=True)
    assert mining.code in html and land.code not in html and "矿业权" in html
    r = client.get("/auctions?state=nonsense")
    assert r.status_code == 422 and 'id="filter-error"' in r.get_data(as_text=True)


def test_the_detail_tells_the_terms_the_room_and_counts(client: FlaskClient, session: Session, app: Flask) -> None:
    a = published_lot(session, app, "land_auction", reserve_price=RESERVE, documents={"宗地图.pdf": b"map-bytes"})
    session.commit()
    lot = client.get(f"/api/v1/auctions/{a.code}").get_json()
    assert lot["state"] == "announced" and lot["state_label"] == "公告中" and lot["method"] == "auction"
    assert lot["starting_price"] == "1000000.00" and lot["increment"] == "10000.00" and lot["deposit"] == "200000.00"
    assert lot["minimum_next"] == "1000000.00" and lot["current_seq"] == 0 and lot["current_price"] is None
    assert lot["reserve_sm3"] == a.reserve_sm3 and lot["reserve"] is None and lot["result"] is None
    assert lot["buyers_approved"] == 0 and lot["buyers_ready"] == 0
    assert abs(dt.datetime.fromisoformat(lot["server_time"]) - clock.now()) < dt.timedelta(seconds=30)
    assert lot["periods"]["announced_at"] is not None and lot["countdown_seconds"] == 300
    [doc] = lot["documents"]
    assert doc["name"] == "宗地图.pdf" and len(doc["sm3"]) == 64
    # the announcement is the platform's signed statement, verifiable with its certificate
    st = SignedStatement.from_json(client.get(f"/api/v1/auctions/{a.code}/announcement").data)
    body = st.verify(trusted=services(app).keys.sign_cert, expected_type="auction_announcement")["body"]
    assert body["reserve_sm3"] == a.reserve_sm3 and body["documents"][0]["sm3"] == doc["sm3"]
    assert lot["announcement_sm3"] and client.get("/api/v1/auctions/PM-1999-0001").status_code == 404


@pytest.mark.parametrize("who", ["anonymous", "bidder", "supervisor"])
def test_the_reserve_is_never_public_before_the_end(
    client: FlaskClient, session: Session, app: Flask, who: str
) -> None:
    staff = make_user(session, Role.STAFF)
    a = published_lot(session, app, "land_listing", reserve_price=RESERVE, staff=staff)
    headers: dict[str, str] = {}
    if who != "anonymous":
        user = make_user(session, Role.BIDDER if who == "bidder" else Role.SUPERVISOR)
        session.commit()
        headers = api_token(client, user.username)
        page_login(client, user.username)
    session.commit()
    texts = public_texts(client, a.code, headers)
    if who == "anonymous":
        page_login(client, staff.username)  # nor on the staff's own setup page
        texts.append(client.get(f"/auctions/{a.code}/setup").get_data(as_text=True))
    for text in texts:
        for secret in RESERVE_TEXTS:
            assert secret not in text
    assert a.reserve_sm3 is not None and any(a.reserve_sm3 in t for t in texts)


def end_without_bids(client: FlaskClient, a: Any) -> dict[str, Any]:
    """Read the lot once its listing is over: the read writes the due end down (no bid: 流拍)."""
    with clock.frozen(a.free_ends_at + dt.timedelta(seconds=1)):
        lot: dict[str, Any] = client.get(f"/api/v1/auctions/{a.code}").get_json()
    return lot


def test_the_reserve_opens_its_commitment_after_the_end(client: FlaskClient, session: Session, app: Flask) -> None:
    a = published_lot(session, app, "land_listing", reserve_price=RESERVE)
    session.commit()
    lot = end_without_bids(client, a)
    assert lot["state"] == "failed" and lot["state_label"] == "流拍"
    reserve = lot["reserve"]
    assert reserve["price"] == RESERVE and reserve_commitment(reserve["price"], reserve["salt"]) == lot["reserve_sm3"]
    assert lot["result"]["outcome"] == "failed" and lot["result"]["reason"] == "no_bid"
    assert lot["minimum_next"] is None
    html = client.get(f"/auctions/{a.code}").get_data(as_text=True)
    assert RESERVE in html and reserve["salt"] in html and 'id="reserve-check">一致' in html
    assert f"printf '%s' '{reserve['salt']}{RESERVE}' | openssl dgst -sm3" in html


# ---------------------------------------------------------------- pages
def test_the_lot_page_links_each_reader_to_its_part(client: FlaskClient, session: Session, app: Flask) -> None:
    a = published_lot(session, app, reserve_price=RESERVE)
    bidder = make_user(session, Role.BIDDER)
    session.commit()
    html = client.get(f"/auctions/{a.code}").get_data(as_text=True)
    assert f'href="/auctions/{a.code}/watch"' in html and f"/auctions/{a.code}/room" not in html
    assert a.reserve_sm3 is not None and a.reserve_sm3 in html
    assert "SM3(盐值‖底价)" in html and "资格审核通过 0 家" in html
    assert "服务器时间" in html and "壹佰万元整" in html
    page_login(client, bidder.username)
    html = client.get(f"/auctions/{a.code}").get_data(as_text=True)
    assert f'href="/auctions/{a.code}/registration"' in html and f'href="/auctions/{a.code}/room"' in html
    assert f"/auctions/{a.code}/setup" not in html
    draft = draft_lot(session)
    session.commit()
    assert client.get(f"/auctions/{draft.code}").status_code == 404


def test_staff_set_a_lot_up_on_the_pages(client: FlaskClient, session: Session, app: Flask) -> None:
    staff = make_user(session, Role.STAFF)
    session.commit()
    page_login(client, staff.username)
    html = client.get("/auctions/new").get_data(as_text=True)
    token = csrf_from(html)
    form = {
        "csrf_token": token,
        "title": "某县某地块国有建设用地使用权",
        "procedure_code": "land_auction",
        "region": "350102",
        "transferor": "某县自然资源局",
        "description": "第一行\r\n第二行",
        "qualification": "",
        "starting_price": "abc",
        "increment": "10000",
        "deposit": "0",
        "registration_ends_at": re.search(r'name="registration_ends_at" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "bidding_starts_at": re.search(r'name="bidding_starts_at" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "free_ends_at": "",
    }
    r = client.post("/auctions/new", data=form)
    assert r.status_code == 422 and "起始价" in r.get_data(as_text=True)  # named as the form names it
    assert 'value="某县某地块国有建设用地使用权"' in r.get_data(as_text=True)  # what was typed is kept
    r = client.post("/auctions/new", data={**form, "starting_price": "800000.00"})
    assert r.status_code == 302, r.get_data(as_text=True)
    setup_url = r.headers["Location"]
    code = setup_url.split("/")[2]
    r = client.post(
        f"/auctions/{code}/setup/documents",
        data={"csrf_token": token, "file": (io.BytesIO(b"rules"), "竞买须知.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    r = client.post(
        f"/auctions/{code}/setup/documents",
        data={"csrf_token": "forged", "file": (io.BytesIO(b"x"), "b.pdf")},
        content_type="multipart/form-data",
    )
    html = client.get(setup_url).get_data(as_text=True)
    assert "竞买须知.pdf" in html and "b.pdf" not in html and "安全令牌" in html
    r = client.post(f"/auctions/{code}/setup/publish", data={"csrf_token": token, "reserve_price": "1,000"})
    html = client.get(setup_url).get_data(as_text=True)
    assert "未发布" in html and "底价" in html and 'data-state="draft"' in html
    r = client.post(f"/auctions/{code}/setup/publish", data={"csrf_token": token, "reserve_price": "900000"})
    html = client.get(setup_url).get_data(as_text=True)
    assert "标的已发布" in html and 'data-state="announced"' in html and "900000" not in html
    assert 'id="cancel-form"' in html and 'id="lot-form"' not in html and 'id="extend-form"' not in html
    r = client.post(f"/auctions/{code}/setup/cancel", data={"csrf_token": token, "reason": "短"})
    assert "未终止" in client.get(setup_url).get_data(as_text=True)
    r = client.post(f"/auctions/{code}/setup/cancel", data={"csrf_token": token, "reason": "出让计划调整，终止出让"})
    html = client.get(setup_url).get_data(as_text=True)
    assert "标的已终止" in html and 'data-state="cancelled"' in html
    manage = client.get("/auctions/manage").get_data(as_text=True)
    assert code in manage and "已终止" in manage
