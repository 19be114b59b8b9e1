"""The tender pages as each role uses them (the browser test drives the same pages in Chromium)."""

from __future__ import annotations

import datetime as dt
import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import csrf_from, make_signer, make_user, page_login, sign_document
from trading.accounts.models import Role
from trading.tenders.models import Tender, TenderState


def form(client: FlaskClient, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return csrf_from(r.get_data(as_text=True))


def tender_form(token: str, **over: str) -> dict[str, str]:
    deadline = clock.local(clock.now() + dt.timedelta(days=22)).strftime("%Y-%m-%dT09:30")
    data = {
        "csrf_token": token,
        "title": "闽江大桥维修加固工程",
        "category": "construction",
        "procedure_code": "construction_open",
        "region": "350100",
        "bid_deadline": deadline,
        "bid_validity_days": "90",
        "announcement_body": "闽江大桥维修加固工程已批准，现公开招标施工单位。",
        "lot_name": "施工",
        "estimated_price": "5000000",
        "bond_amount": "100000",
        "template": "construction",
        "committee_size": "5",
        "specialty_code": "A01",
        "specialty_count": "4",
    }
    data.update(over)
    return data


def test_tender_through_the_pages(app: Flask, session: Session) -> None:
    signer = make_signer(session, app, Role.TENDEREE)
    staff, bidder = make_user(session, Role.STAFF), make_user(session, Role.BIDDER)
    session.commit()
    t = app.test_client()
    page_login(t, signer.user.username)
    token = form(t, "/tenders/new")
    r = t.post("/tenders/new", data=tender_form(token, bond_amount="100001"))
    assert r.status_code == 422 and "2%" in r.get_data(as_text=True)
    r = t.post("/tenders/new", data=tender_form(token))
    assert r.status_code == 302
    code = r.headers["Location"].rsplit("/", 1)[1]
    html = t.get(f"/tenders/{code}").get_data(as_text=True)
    assert "草稿" in html and "上传并验签" in html
    data = b"%PDF-1.7 bridge tender documents"
    sig = sign_document(signer, code, "招标文件.pdf", data)
    r = t.post(
        f"/tenders/{code}/documents",
        data={"csrf_token": csrf_from(html), "signature": "AAAA", "file": (io.BytesIO(data), "招标文件.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "签名验证失败" in r.get_data(as_text=True)
    r = t.post(
        f"/tenders/{code}/documents",
        data={"csrf_token": "forged", "signature": sig, "file": (io.BytesIO(data), "招标文件.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    r = t.post(
        f"/tenders/{code}/documents",
        data={"csrf_token": csrf_from(html), "signature": sig, "file": (io.BytesIO(data), "招标文件.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    assert t.post(f"/tenders/{code}/submit", data={"csrf_token": csrf_from(html)}).status_code == 302

    s = app.test_client()
    page_login(s, staff.username)
    html = s.get("/review").get_data(as_text=True)
    assert code in html
    html = s.get(f"/tenders/{code}").get_data(as_text=True)
    assert s.post(f"/tenders/{code}/publish", data={"csrf_token": csrf_from(html)}).status_code == 302

    b = app.test_client()
    page_login(b, bidder.username)
    html = b.get(f"/tenders/{code}").get_data(as_text=True)
    assert "报名参加" in html and "招标中" in html
    assert b.post(f"/tenders/{code}/interest", data={"csrf_token": csrf_from(html)}).status_code == 302
    html = b.get(f"/tenders/{code}").get_data(as_text=True)
    assert "您已报名" in html
    doc_link = f"/tenders/{code}/documents/"
    assert doc_link in html
    doc_id = html.split(doc_link)[1].split('"')[0]
    assert b.get(doc_link + doc_id).data == data
    r = b.post(f"/tenders/{code}/questions", data={"csrf_token": csrf_from(html), "text": "短"})
    assert r.status_code == 422 and "5–2000" in r.get_data(as_text=True)
    assert (
        b.post(
            f"/tenders/{code}/questions", data={"csrf_token": csrf_from(html), "text": "是否接受联合体投标？"}
        ).status_code
        == 302
    )
    # the tenderee answers on the page; the bidder sees the answer
    html = t.get(f"/tenders/{code}").get_data(as_text=True)
    qid = html.split("/questions/")[1].split("/answer")[0]
    assert (
        t.post(
            f"/tenders/{code}/questions/{qid}/answer",
            data={"csrf_token": csrf_from(html), "answer": "不接受联合体投标。"},
        ).status_code
        == 302
    )
    assert "不接受联合体投标。" in b.get(f"/tenders/{code}").get_data(as_text=True)
    assert "发布了新的答疑" in b.get("/my/notifications").get_data(as_text=True)
    # the bidder cannot use staff or tenderee forms
    btoken = form(b, f"/tenders/{code}")
    assert b.post(f"/tenders/{code}/suspend", data={"csrf_token": btoken, "reason": "x"}).status_code == 403
    # the public sees it on the portal, in search and in the feed; the deadline then closes it
    p = app.test_client()
    assert "闽江大桥维修加固工程招标公告" in p.get("/portal?q=大桥维修").get_data(as_text=True)
    assert "闽江大桥" not in p.get("/portal?q=隧道").get_data(as_text=True)
    assert p.get("/portal?category=bogus").status_code == 422
    assert "闽江大桥维修加固工程招标公告" in p.get("/feed.atom").get_data(as_text=True)
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None
    with clock.frozen(tender.bid_deadline + dt.timedelta(minutes=1)):
        assert "投标已截止" in p.get(f"/tenders/{code}").get_data(as_text=True)
    session.refresh(tender)
    assert tender.status is TenderState.BIDDING_CLOSED


def test_staff_calendar_page(app: Flask, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    session.commit()
    c = app.test_client()
    page_login(c, staff.username)
    token = form(c, "/calendar")
    assert c.post("/calendar", data={"csrf_token": token, "day": "2027-02-16", "name": "春节"}).status_code == 302
    assert "春节" in c.get("/calendar").get_data(as_text=True)
    r = c.post("/calendar", data={"csrf_token": token, "day": "not-a-date", "name": "x"})
    assert r.status_code == 422 and "日期格式不正确" in r.get_data(as_text=True)


def test_role_home_pages_list_tender_tasks(app: Flask, session: Session) -> None:
    for role, expected in (
        (Role.TENDEREE, "新建招标项目"),
        (Role.STAFF, "审核队列"),
        (Role.BIDDER, "报名与下载招标文件"),
    ):
        u = make_user(session, role)
        session.commit()
        c = app.test_client()
        page_login(c, u.username)
        assert expected in c.get("/").get_data(as_text=True)
