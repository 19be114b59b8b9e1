"""The evaluation's and the award's pages as people use them: the expert's declaration form (rows,
not JSON; errors per row in Chinese; nothing typed is lost), codes shown by name, steps not
allowed now disabled with the rule's reason, the award's confirmation, and the award notice
stating the receipt's instant and the price in figures and in words."""

from __future__ import annotations

import datetime as dt
import io
import re

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.statements import SignedStatement
from tests.factories import api_token, csrf_from, make_user, page_login, valid_code
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_publicity
from trading.accounts.models import Role
from trading.bids.models import Bid
from trading.core.formats import amount_in_words, local_time, money
from trading.evaluation.models import Expert
from trading.opening.models import CeremonyBidder


def _expert(client: FlaskClient, session: Session) -> tuple[str, Expert]:
    """An expert of the pool (specialty A08, region 350102), logged in to the pages."""
    staff = make_user(session, Role.STAFF)
    user = make_user(session, Role.EXPERT)
    session.commit()
    body = {
        "name": "林建华",
        "username": user.username,
        "specialties": ["A08"],
        "region": "350102",
        "employer": valid_code(710_000_001),
    }
    r = client.post("/api/v1/experts", json=body, headers=api_token(client, staff.username))
    assert r.status_code == 201, r.get_json()
    page_login(client, user.username)
    e = session.get(Expert, r.get_json()["id"])
    assert e is not None
    return user.username, e


def _rows(html: str) -> list[tuple[str, str, str, str]]:
    """The declaration rows as the page fills them in: (kind, code, from, to)."""
    out = []
    for tr in re.findall(r'<fieldset class="card" data-row="\d+".*?</fieldset>', html, re.S):
        kind = re.search(r'<option value="([a-z]*)" selected>', tr)
        values = re.findall(r'name="row_(?:code|from|to)" value="([^"]*)"', tr)
        code, start, end = values
        out.append((kind.group(1) if kind else "", code, start, end))
    return out


def test_the_declaration_is_a_form_of_rows(client: FlaskClient, session: Session) -> None:
    _, e = _expert(client, session)
    html = client.get("/expert").get_data(as_text=True)
    assert "JSON" not in html and "kinship" not in html.replace('value="kinship"', "")
    assert "工程施工" in html and "福州市鼓楼区" in html  # codes by name, not A08 · 350102
    assert _rows(html) == [("", "", "", "")]  # nothing declared yet: one blank row
    token = csrf_from(html)
    former, relative = valid_code(710_000_002), valid_code(710_000_003)
    typed = {
        "csrf_token": token,
        "employer": e.employer,
        "available": "1",
        "row_kind": ["employment", "kinship"],
        "row_code": [former, relative],
        "row_from": ["2019-01-01", "2000-05-01"],
        "row_to": ["2023-06-30", ""],
    }
    # add a row: the page comes back with what was typed and one more blank row, nothing saved
    r = client.post("/expert/declarations", data={**typed, "action": "add"})
    assert r.status_code == 200
    assert _rows(r.get_data(as_text=True)) == [
        ("employment", former, "2019-01-01", "2023-06-30"),
        ("kinship", relative, "2000-05-01", ""),
        ("", "", "", ""),
    ]
    session.expire_all()
    assert session.get(Expert, e.id).history == []  # type: ignore[union-attr]
    # remove the first row: the other stays as typed
    r = client.post("/expert/declarations", data={**typed, "action": "remove-0"})
    assert _rows(r.get_data(as_text=True)) == [("kinship", relative, "2000-05-01", "")]
    # save: stored as the API stores it; the API reads it unchanged
    r = client.post("/expert/declarations", data={**typed, "action": "save"})
    assert r.status_code == 302
    session.expire_all()
    stored = session.get(Expert, e.id)
    assert stored is not None
    assert stored.history == [{"credit_code": former, "from": "2019-01-01", "to": "2023-06-30"}]
    assert stored.relations == [{"credit_code": relative, "from": "2000-05-01", "to": None, "kind": "kinship"}]
    html = client.get("/expert").get_data(as_text=True)
    assert "申报已更新" in html
    assert _rows(html) == [
        ("employment", former, "2019-01-01", "2023-06-30"),
        ("kinship", relative, "2000-05-01", ""),
        ("", "", "", ""),
    ]


def test_a_wrong_row_is_named_in_chinese_and_nothing_typed_is_lost(client: FlaskClient, session: Session) -> None:
    _, e = _expert(client, session)
    token = csrf_from(client.get("/expert").get_data(as_text=True))
    good = valid_code(710_000_004)
    bad = {
        "csrf_token": token,
        "action": "save",
        "employer": "91350100MA2X<b>",
        "row_kind": ["director", "", "shareholder", "employment"],
        "row_code": [good, good, "12345", good],
        "row_from": ["2022-01-01", "2022-01-01", "2021-01-01", ""],
        "row_to": ["2021-01-01", "", "", ""],
    }
    r = client.post("/expert/declarations", data=bad)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "未保存" in html
    assert "第 1 项：截止日期不能早于起始日期" in html
    assert "第 2 项：请选择类型" in html
    assert "第 3 项：统一社会信用代码应为 18 位" in html
    assert "第 4 项：请填写起始日期" in html
    assert "<B>" not in html and "91350100MA2X&lt;B&gt;" in html  # the employer as typed (in capitals), escaped
    assert _rows(html) == [
        ("director", good, "2022-01-01", "2021-01-01"),
        ("", good, "2022-01-01", ""),
        ("shareholder", "12345", "2021-01-01", ""),
        ("employment", good, "", ""),
    ]
    assert not re.search(r"[A-Za-z_]{3,}：", html.split("<main>")[1].split("</main>")[0])  # no English field names
    session.expire_all()
    assert session.get(Expert, e.id).employer == e.employer  # type: ignore[union-attr]
    # a kind nobody offered, and a row count past the limit, are refused as well
    r = client.post("/expert/declarations", data={**bad, "row_kind": ["x", "", "", ""]})
    assert r.status_code == 400 and "第 1 项：请选择类型" in r.get_data(as_text=True)


def test_publicity_award_and_notice(client: FlaskClient, session: Session, app: Flask) -> None:
    """The award is refused on the page while the publicity runs (the rule's reason beside the
    disabled button), asks to be confirmed naming what follows; a bidder sees how to object; the
    notice states the receipt's instant and the price in words."""
    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_publicity(client, session, app, t)
        page = f"/evaluations/{got['id']}/publicity"
        anonymous = client.get(page).get_data(as_text=True)
        assert 'id="objection-how"' in anonymous and 'id="object"' not in anonymous
        page_login(client, t["bidders"][1].user.username)
        assert 'id="objection-form"' in client.get(page).get_data(as_text=True)
        page_login(client, t["tenderee_username"])
        html = client.get(page).get_data(as_text=True)
        assert re.search(r'<button id="award" disabled>.*?<span class="why">公示期至 [0-9-]+ [0-9:]+ 结束', html)
        assert "中标结果公告" in html and "中标通知书" in html and "不可撤回" in html  # the confirmation
        price = got["report"]["candidates"][0]["price"]
        assert money(price) in html
        moment.advance(days=3, seconds=1)
        page_login(client, t["bidders"][1].user.username)
        html = client.get(page).get_data(as_text=True)
        assert '<button id="object" disabled>提出异议</button><span class="why">公示期已结束' in html
        ht = api_token(client, t["tenderee_username"])
        winner = got["report"]["candidates"][0]["bidder_id"]
        assert client.post(f"{got['url']}/award", json={"winner": winner}, headers=ht).status_code == 200
    cb = session.get(CeremonyBidder, winner)
    assert cb is not None
    bid = session.scalar(select(Bid).where(Bid.id == cb.bid_id))
    assert bid is not None
    receipt = SignedStatement.from_json(bid.receipt.encode()).body
    statement = SignedStatement.from_json(
        client.get(f"/api/v1/evaluations/{got['id']}/publicity").get_json()["notice_statement"].encode()
    ).body
    assert statement["submitted_at"] == receipt["received_at"]
    pdf = client.get(f"/api/v1/evaluations/{got['id']}/notice.pdf").data
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    assert local_time(receipt["received_at"]).replace(" ", "") in text
    assert money(price) in text and amount_in_words(price) in text
    assert f"中标价为{money(price)}元（大写：{amount_in_words(price)}）" in text and text.count("人民币") == 1


def test_the_draw_page_names_codes_and_says_why_a_step_waits(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3, specialties=[{"code": "A08", "count": 5}])
    staff = make_user(session, Role.STAFF)
    session.commit()
    page_login(client, staff.username)
    html = client.get(f"/tenders/{t['code']}/lots/1/draws").get_data(as_text=True)
    assert "工程施工 5 名" in html and "A08 5" not in html
    # before the opening closed: the first round cannot be committed, and the page says why
    assert re.search(r'<button id="commit" disabled>[^<]*</button><span class="why">开标结束后才能抽取', html)
    assert re.search(r'<button id="open-room" disabled>[^<]*</button><span class="why">', html)


def test_the_room_says_why_the_next_step_waits(client: FlaskClient, session: Session, app: Flask) -> None:
    """The room's state carries, for its next step, the reason the operation would refuse it now
    (the page shows the button disabled with it), and None once it would not."""
    from tests.trading.test_evaluation import room_in_compliance

    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        r = room_in_compliance(client, session, app)
        url, committee, bids = r["url"], r["committee"], r["bids"]
        lead = committee[0]["h"]
        state = client.get(url, headers=lead).get_json()
        assert state["blocked"]["advance"].startswith("尚有专家未完成对")
        refused = client.post(f"{url}/advance", headers=lead).get_json()["error"]["message"]
        assert refused == state["blocked"]["advance"]  # the same rule, the same words
        for x in committee:
            for b in bids:
                client.post(f"{url}/compliance", json={"bidder": b, "passed": True}, headers=x["h"])
        assert client.get(url, headers=lead).get_json()["blocked"] == {"advance": None}
        scoring = client.post(f"{url}/advance", headers=lead).get_json()
        assert scoring["state"] == "scoring" and scoring["blocked"]["advance"] == "尚有 5 名专家未完成评分"
        assert scoring["seats"][0]["region_label"] == "福州市"
        page_login(client, committee[0]["signer"].user.username)
        html = client.get(f"/evaluations/{r['ev']['id']}").get_data(as_text=True)
        assert "GgzyEvaluation.start" not in html  # no inline script: the state is a JSON data block
