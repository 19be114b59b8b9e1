"""Text a participant typed reaches our PDFs as text, never as markup: the opening record, the
evaluation report and the award notice, each with hostile text in every free-text field that
reaches it, read back with pypdf. Before, reportlab parsed it: an objection ``请核对 <b>唱标结果``
stopped the final opening record (staff's advance answered 500), a clarification answer
``工期 <b>160 天`` the evaluation report, and a well-formed tag changed what a record showed."""

from __future__ import annotations

import base64
import datetime as dt
import io
import pathlib
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.statements import evaluation_report_statement
from tests.factories import api_token
from tests.trading.opening.test_ceremony import all_released, open_tender
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import start_review
from trading.accounts.models import Organisation
from trading.core import pdf
from trading.core.services import services
from trading.evaluation.models import Expert
from trading.opening.decryption import run_pending
from trading.tenders.models import Lot, Tender

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Every kind of markup reportlab's paragraph parser acts on, and what breaks it.
NASTY = '<b>&<para>x</para><font name="x">]]><i>未闭合 &amp; &#0; <br/>'


def hostile(label: str, long: bool = False) -> str:
    """A distinct hostile string per field, so that each field is found (or missed) on its own."""
    text = f"{label}{NASTY}"
    return text + "长" * 900 if long else text


def pdf_text(data: bytes) -> str:
    """The PDF's text with all white space removed (lines wrap anywhere in CJK text)."""
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", "", text)


#: The head rows of the PDFs' tables: repeated where a long cell runs onto the next page.
HEADS = (
    "序号投标人统一社会信用代码投标报价（元）其他报价内容保证金解密结果",
    "编号姓名身份所在地区职务",
    "投标人结论不通过理由",
    "排名投标人投标报价（元）评分因素得分价格分总分",
    "专家投标人各因素得分合计",
)


def shows(data: bytes, *texts: str) -> None:
    got = pdf_text(data)
    for head in HEADS:
        got = got.replace(head, "")
    missing = [t[:40] for t in texts if re.sub(r"\s+", "", t) not in got]
    assert not missing, f"not shown literally: {missing}"


def rename(session: Session, t: dict[str, object], tag: str) -> dict[str, str]:
    """What participants typed as names: the tender's title and lot name, each organisation's name."""
    tender = session.scalar(select(Tender).where(Tender.code == t["code"]))
    assert tender is not None
    lot = session.scalar(select(Lot).where(Lot.tender_id == tender.id))
    assert lot is not None
    names = {"title": hostile(f"{tag}项目"), "lot": hostile(f"{tag}标段")}
    tender.title, lot.name = names["title"], names["lot"]
    orgs = [b.user.organisation_id for b in t["bidders"]]  # type: ignore[attr-defined]
    orgs.append(t["tenderee_signer"].user.organisation_id)  # type: ignore[attr-defined]
    for i, org_id in enumerate(orgs):
        org = session.get(Organisation, org_id)
        assert org is not None
        org.name = names[f"org{i}"] = hostile(f"{tag}单位{i}")
    session.commit()
    return names


def test_no_pdf_builder_parses_text_as_markup() -> None:
    """Only trading/core/pdf.py makes a reportlab Paragraph, and it escapes what it is given: a new
    builder cannot forget to."""
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("trading", "bidding", "archive")
        for p in (ROOT / pkg).rglob("*.py")
        if p != ROOT / "trading" / "core" / "pdf.py"
        and re.search(r"\bParagraph\(|\bXPreformatted\(", p.read_text("utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "text",
    [
        "请核对 <b>唱标结果",
        '<font name="x">y',
        "]]>",
        "<para>",
        "a & b &lt; &#x110000;",
        "<i><b>交错</i></b>",
        "中" * 4000 + "尾",  # longer than a page, in a table cell
        "第一行\n第二行",
        "孤立代理项\ud800",
    ],
)
def test_the_helpers_show_any_text_as_it_is(text: str) -> None:
    body, _ = pdf.styles()
    data = pdf.build("t", 15, [pdf.para(text, body), pdf.table([["头"], [text]], body, [60])])
    expected = text.replace("\ud800", "\ufffd")
    # the table's head row is repeated on each page a long cell runs over
    assert pdf_text(data).replace("头", "").count(re.sub(r"\s+", "", expected)) == 2


def test_the_opening_record_shows_hostile_text_literally(client: FlaskClient, session: Session, app: Flask) -> None:
    """The issue's case: an objection ``请核对 <b>唱标结果`` made the final record fail to build, so
    the room never closed and every request to it answered 500."""
    t = open_tender(client, session, app, 3)
    names = rename(session, t, "开标")
    room = f"/api/v1/ceremonies/{t['cid']}"
    objection = "请核对 <b>唱标结果"
    long_objection = hostile("长异议") + "异" * (1000 - len(hostile("长异议")))
    answer = hostile("答复")
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)) as moment:
        all_released(client, t)
        run_pending(app.extensions["ggzy.db"], services(app))
        for _ in range(3):  # each window runs out in turn, up to the record the bidders confirm
            moment.advance(hours=1)
            if client.get(room).get_json()["stage"] == "confirming":
                break
        assert client.get(room).get_json()["stage"] == "confirming"
        shows(client.get(f"{room}/record.pdf").data, names["title"], names["lot"], names["org0"], names["org2"])
        ids = []
        for i, text in enumerate((objection, long_objection)):
            r = client.post(f"{room}/objections", json={"text": text}, headers=t["headers"][i])
            assert r.status_code == 201, r.get_json()
            ids.append(r.get_json()["id"])
        for oid in ids:
            r = client.post(f"{room}/objections/{oid}/answer", json={"answer": answer}, headers=t["staff"])
            assert r.status_code == 200, r.get_json()
        moment.advance(hours=1)
        st = client.get(room)
        assert st.status_code == 200 and st.get_json()["stage"] == "closed", st.get_json()
        final = client.get(f"{room}/record.pdf?final=1")
        assert final.status_code == 200
    shows(final.data, objection, long_objection, answer, names["title"], names["lot"], names["org1"])


def test_the_report_and_the_notice_show_hostile_text_literally(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """A clarification answer ``工期 <b>160 天`` broke the evaluation report the same way; and every
    other free text that reaches the report or the award notice: names of the project, the lot,
    the bidders, the tenderee and the experts, the clarification's question, an expert's reason
    for a failed compliance item, the reason a report was sent back."""
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)) as moment:
        t = open_tender(client, session, app, 3)
        names = rename(session, t, "评标")
        run_opening(client, app, t)
        r = start_review(client, session, app, t, 4)
        url, committee, bids, hs = r["url"], r["committee"], r["bids"], r["staff"]
        lead = committee[0]["h"]
        experts = []
        for i, x in enumerate(committee):
            e = session.get(Expert, x["id"])
            assert e is not None
            e.name = hostile(f"专家{i}")
            experts.append(e.name)
        session.commit()
        question, answer = hostile("澄清问题"), "工期 <b>160 天"
        q = {"bidder": bids[0], "question": question, "hours": 24}
        cid = client.post(f"{url}/clarify", json=q, headers=lead).get_json()["clarification"]
        ra = client.post(f"/api/v1/clarifications/{cid}/answer", json={"text": answer}, headers=t["headers"][0])
        assert ra.status_code == 200, ra.get_json()
        reason = hostile("否决说明") + "由" * 400
        for n, x in enumerate(committee):
            for b in bids:
                vote = {"passed": False, "failed_items": ["营业执照"], "reason": reason}
                body = vote if (n, b) == (0, bids[2]) else {"passed": True}  # a minority: the bid passes
                assert client.post(f"{url}/compliance", json={"bidder": b, **body}, headers=x["h"]).status_code == 200
        client.post(f"{url}/advance", headers=lead)
        for x in committee:
            for n, b in enumerate(bids):
                body = {"bidder": b, "scores": {"施工组织设计": str(45 - n), "项目管理机构": "8"}, "total": str(53 - n)}
                client.post(f"{url}/scores", json=body, headers=x["h"])
        first = client.post(f"{url}/advance", headers=lead).get_json()
        assert first["state"] == "signing", first
        back = hostile("退回理由", long=True)
        assert client.post(f"{url}/send-back", json={"reason": back}, headers=hs).status_code == 200
        report = client.post(f"{url}/advance", headers=lead).get_json()
        assert report["state"] == "signing", report
        shows(
            client.get(f"{url}/report.pdf", headers=hs).data,
            answer,
            question,
            reason,
            back,
            names["title"],
            names["lot"],
            names["org0"],
            names["org1"],
            names["org2"],
            *experts,
        )
        ev = r["ev"]["id"]
        for x in committee:
            message = evaluation_report_statement(ev, 2, x["id"], report["report_sm3"], "")
            sig = base64.b64encode(x["signer"].key.sign(message)).decode()
            assert client.post(f"{url}/sign", json={"signature": sig}, headers=x["h"]).status_code == 200
        assert client.post(f"{url}/publicity", headers=hs).status_code == 200
        moment.advance(days=3, seconds=1)
        ht = api_token(client, t["tenderee_username"])
        winner = report["report"]["candidates"][0]
        assert client.post(f"{url}/award", json={"winner": winner["bidder_id"]}, headers=ht).status_code == 200
        notice = client.get(f"{url}/notice.pdf", headers=ht)
        assert notice.status_code == 200
    shows(notice.data, names["title"], names["lot"], names["org3"], winner["bidder"])


def test_a_middle_dot_is_drawn_with_a_glyph_the_font_has() -> None:
    """STSong-Light's Unicode map has no U+00B7, and a title with "·" printed a gap (pdftotext read a
    line break there); the GB 2312 middle dot U+30FB is drawn instead."""
    body, _ = pdf.styles()
    data = pdf.build("t", 10, [pdf.para("（演示·已开标）• 第1标段", body)])
    assert PdfReader(io.BytesIO(data)).pages[0].extract_text().strip() == "（演示・已开标）・ 第1标段"
