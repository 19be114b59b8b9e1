"""The tenderee's web form with several lots (标段), its errors per lot in Chinese, and the tender
page it leads to: the timeline, amounts, names for codes, confirmations and disabled buttons."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from archive import clock
from tests.factories import api_token, csrf_from, make_signer, make_user, page_login, tender_body, upload
from tests.trading.tenders.test_pages import form, tender_form
from trading.accounts.models import Role
from trading.tenders.models import Tender

LOT_KEYS = (
    "lot_name",
    "estimated_price",
    "bond_amount",
    "template",
    "committee_size",
    "specialty_code",
    "specialty_count",
)


def with_lots(token: str, lots: list[dict[str, str]], **over: str) -> list[tuple[str, str]]:
    """The form as the browser sends it: the tender's fields, then each lot's row in order."""
    base = {k: v for k, v in tender_form(token, **over).items() if k not in LOT_KEYS}
    pairs = list(base.items())
    for number, lot in enumerate(lots, start=1):
        row = {
            "lot_name": f"第{number}段施工",
            "estimated_price": "5000000",
            "bond_amount": "100000",
            "template": "construction",
            "committee_size": "5",
            "specialty_code": "A08",
            "specialty_count": "4",
        } | lot
        pairs += [(k, row[k]) for k in LOT_KEYS]
        if row.get("guarantee_sealed"):
            pairs.append(("guarantee_sealed", str(number)))
    return pairs


def post(client: FlaskClient, url: str, pairs: list[tuple[str, str]]) -> tuple[int, str, str]:
    r = client.post(url, data=MultiDict(pairs))
    return r.status_code, r.get_data(as_text=True), r.headers.get("Location", "")


def tenderee_client(app: Flask, session: Session) -> FlaskClient:
    signer = make_signer(session, app, Role.TENDEREE)
    session.commit()
    c = app.test_client()
    page_login(c, signer.user.username)
    return c


def test_the_form_makes_several_lots(app: Flask, session: Session) -> None:
    c = tenderee_client(app, session)
    html = c.get("/tenders/new").get_data(as_text=True)
    assert "多标段项目请使用" not in html and "再加一个标段" in html and html.count('name="lot_name"') == 1
    token = csrf_from(html)
    lots = [
        {},
        {"estimated_price": "1234567.8", "bond_amount": "20000", "guarantee_sealed": "1"},
        {"template": "lowest"},
    ]
    status, _, location = post(c, "/tenders/new", with_lots(token, lots))
    assert status == 302, status
    code = location.rsplit("/", 1)[1]
    tender = session.scalar(select(Tender).where(Tender.code == code))
    assert tender is not None
    assert [(lot.number, lot.name) for lot in tender.lots] == [(1, "第1段施工"), (2, "第2段施工"), (3, "第3段施工")]
    assert [lot.guarantee_sealed for lot in tender.lots] == [False, True, False]
    assert tender.lots[2].evaluation_method.value == "lowest_price"
    # the tender page: amounts with separators, specialty by name, the timeline drawn once
    page = c.get(f"/tenders/{code}").get_data(as_text=True)
    assert "1,234,567.80" in page and "5,000,000.00" in page and "工程施工专家 4 人" in page
    assert page.count('<svg class="timeline"') == 1 and "草稿，待提交审核" in page
    # the edit form shows the three rows again, and removing one keeps the others' values
    edit = c.get(f"/tenders/{code}/edit").get_data(as_text=True)
    assert edit.count('name="lot_name"') == 3 and 'value="1234567.80"' in edit
    pairs = [*with_lots(token, lots), ("remove_lot", "1")]
    status, html, _ = post(c, f"/tenders/{code}/edit", pairs)
    assert status == 200 and html.count('name="lot_name"') == 2 and "第1段施工" not in html
    assert "第3段施工" in html and "第2标段" in html and "第3标段" not in html  # renumbered
    session.refresh(tender)
    assert len(tender.lots) == 3  # nothing saved by a removal


def test_add_a_lot_without_script(app: Flask, session: Session) -> None:
    c = tenderee_client(app, session)
    token = form(c, "/tenders/new")
    status, html, _ = post(c, "/tenders/new", [*with_lots(token, [{"lot_name": "监理"}]), ("action", "add_lot")])
    assert status == 200 and html.count('name="lot_name"') == 2 and 'value="监理"' in html
    assert "第2标段" in html and "闽江大桥维修加固工程" in html  # the tender's fields kept
    assert session.scalars(select(Tender)).all() == []  # nothing saved


def test_errors_are_shown_per_lot_in_chinese(app: Flask, session: Session) -> None:
    c = tenderee_client(app, session)
    token = form(c, "/tenders/new")
    lots = [{}, {"estimated_price": "-5"}, {"bond_amount": "200000"}, {"template": "bogus"}]
    status, html, _ = post(c, "/tenders/new", with_lots(token, lots))
    assert status == 422
    assert "第2标段、第3标段、第4标段填写有误" in html
    alerts = re.findall(
        r'<h3 id="lot-(\d)-title">.*?</h3>\s*(?:<ul class="error" role="alert">(.*?)</ul>)?', html, re.S
    )
    shown = {int(n): text for n, text in alerts}
    assert shown[1] == ""
    assert "估算价：" in shown[2]
    assert "2%" in shown[3]
    assert "请选择评标办法" in shown[4]
    assert not re.search(r"estimated_price|lots\.\d|body", "".join(shown.values()))
    assert html.count('name="lot_name"') == 4  # every row comes back to be corrected


def test_bad_form_input_is_a_named_4xx(app: Flask, session: Session) -> None:
    c = tenderee_client(app, session)
    token = form(c, "/tenders/new")
    too_many = with_lots(token, [{}] * 51)
    status, html, _ = post(c, "/tenders/new", too_many)
    assert status == 422 and "最多 50 个" in html
    status, html, _ = post(c, "/tenders/new", [*with_lots(token, [{}]), ("remove_lot", "1")])
    assert status == 422 and "只剩一个标段" in html
    status, html, _ = post(c, "/tenders/new", [*with_lots(token, [{}, {}]), ("remove_lot", "x")])
    assert status == 422
    status, html, _ = post(c, "/tenders/new", with_lots(token, [{}], title="短"))
    assert status == 422 and "项目名称：至少 4 个字符" in html and "title" not in re.sub(r"<[^>]*>", "", html)
    status, html, _ = post(c, "/tenders/new", with_lots(token, [{}], bid_deadline="2020-01-01T09:30"))
    assert status == 422 and "投标截止时间" in html
    status, html, _ = post(c, "/tenders/new", with_lots(token, [{"lot_name": "<b>x</b>", "estimated_price": "oops"}]))
    assert status == 422 and "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_tender_page_confirms_and_explains(app: Flask, session: Session) -> None:
    c = tenderee_client(app, session)
    staff = make_user(session, Role.STAFF)
    session.commit()
    token = form(c, "/tenders/new")
    _status, _, location = post(c, "/tenders/new", with_lots(token, [{"lot_name": '<script>alert("标段")</script>'}]))
    code = location.rsplit("/", 1)[1]
    page = c.get(f"/tenders/{code}").get_data(as_text=True)
    # no documents yet: 提交审核 is disabled, with the reason
    assert re.search(r"<button type=\"submit\" disabled>提交审核</button><span class=\"why\">请先上传招标文件", page)
    assert 'data-confirm="终止后本项目所有标段结束' in page
    assert '<script>alert("标段")' not in page and "&lt;script&gt;alert(" in page
    s = app.test_client()
    page_login(s, staff.username)
    html = s.get(f"/tenders/{code}").get_data(as_text=True)
    assert "审核通过并发布" not in html  # a draft is not staff's to publish
    assert s.get("/review").status_code == 200


def test_refused_buttons_are_disabled_with_the_reason(app: Flask, session: Session) -> None:
    """Staff cannot publish once the deadline is too close (Law 24); after the deadline neither
    termination nor suspension is offered as a working button."""
    signer = make_signer(session, app, Role.TENDEREE)
    staff = make_user(session, Role.STAFF)
    session.commit()
    api = app.test_client()
    ht = api_token(api, signer.user.username)
    deadline = clock.now() + dt.timedelta(days=21)
    code = api.post("/api/v1/tenders", json=tender_body(deadline), headers=ht).get_json()["code"]
    upload(api, ht, signer, code, "招标文件.pdf", b"%PDF-1.7 tender documents")
    assert api.post(f"/api/v1/tenders/{code}/submit", headers=ht).status_code == 200
    with clock.frozen(clock.now() + dt.timedelta(days=5)):  # a session of its own: the day's has expired
        late = app.test_client()
        page_login(late, staff.username)
        html = late.get(f"/tenders/{code}").get_data(as_text=True)
        assert re.search(
            r'<button type="submit" disabled>审核通过并发布</button><span class="why">[^<]*不得少于 20 日', html
        )
    s = app.test_client()
    page_login(s, staff.username)
    html = s.get(f"/tenders/{code}").get_data(as_text=True)
    assert 'data-confirm="发布后招标公告立即公开' in html and '<button type="submit">审核通过并发布</button>' in html
    assert s.post(f"/tenders/{code}/publish", data={"csrf_token": csrf_from(html)}).status_code == 302
    with clock.frozen(deadline + dt.timedelta(minutes=1)):
        s = app.test_client()
        page_login(s, staff.username)
        html = s.get(f"/tenders/{code}").get_data(as_text=True)
        assert '<button type="button" disabled>暂停项目</button><span class="why">' in html
        t = app.test_client()
        page_login(t, signer.user.username)
        html = t.get(f"/tenders/{code}").get_data(as_text=True)
        assert '<button type="button" disabled>终止招标</button><span class="why">投标已截止' in html
        assert "投标截止/开标" in html and "已完成" in html  # the timeline moved on
