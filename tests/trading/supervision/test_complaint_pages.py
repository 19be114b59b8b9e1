"""The complaint pages: a bidder files by uploading its signed complaint and evidence; the department
works its queue with confirmed forms; an asked party answers on the page. Hostile text is escaped
in the page and drawn as text in the PDF; who may not read a complaint gets 404 or the login page."""

from __future__ import annotations

import io
import json

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from tests.factories import csrf_from, page_login
from tests.trading.supervision.test_complaints import asked_and_answered, published, signed_body
from trading.accounts.models import User

HOSTILE = '资格条件<script>alert(1)</script><b>排斥</b>外地企业 & "引号"'


def test_file_on_the_page_and_work_the_queue(client: FlaskClient, session: Session, app: Flask) -> None:
    t = published(client, session, app)
    code, a = t["code"], t["bidders"][0]
    asked_and_answered(client, t, 0)
    page_login(client, a.user.username)
    page = client.get("/complaints/new").get_data(as_text=True)
    assert "ggzy-bid complaints file" in page and "data-confirm" in page
    body = signed_body(a, code, grounds=HOSTILE)
    files = body.pop("_files")
    form = {
        "csrf_token": csrf_from(page),
        "complaint": (io.BytesIO(json.dumps(body).encode()), "complaint.json"),
        "evidence": [(io.BytesIO(d), n) for n, d in files],
    }
    r = client.post("/complaints/new", data=form, content_type="multipart/form-data")
    assert r.status_code == 302 and "/complaints/" in r.headers["Location"], r.get_data(as_text=True)
    detail = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)" not in detail and "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;" in detail
    assert 'id="withdraw-form"' in detail and 'id="accept-form"' not in detail
    cid = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    # no token: refused before anything is read
    stale = {"complaint": (io.BytesIO(b"{}"), "c.json")}
    r = client.post("/complaints/new", data=stale, content_type="multipart/form-data", follow_redirects=True)
    assert "安全令牌" in r.get_data(as_text=True)
    listing = client.get(f"/api/v1/complaints/{cid}", headers=t["h"][0]).get_json()
    doc = next(f for f in listing["files"] if f["kind"] == "complaint")
    assert f"/complaints/{cid}/files/{doc['id']}" in detail
    pdf = client.get(f"/complaints/{cid}/files/{doc['id']}").data
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "<script>alert(1)</script><b>" in text  # drawn as text, not read as markup

    # another bidder and anonymous see nothing of it
    client.post("/logout", data={"csrf_token": csrf_from(detail)})
    assert client.get(f"/complaints/{cid}").status_code == 302
    page_login(client, t["bidders"][1].user.username)
    assert client.get(f"/complaints/{cid}").status_code == 404
    assert t["code"] not in client.get("/complaints").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/complaints").get_data(as_text=True))})

    # the department: its queue, then accept with the page's confirmed form, and a refused step
    supervisor = client.get("/api/v1/me", headers=t["sup"]).get_json()["username"]
    page_login(client, supervisor)
    queue = client.get("/complaints?state=filed").get_data(as_text=True)
    assert listing["number"] in queue
    detail = client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert 'id="accept-form"' in detail and "data-confirm" in detail
    token = csrf_from(detail)
    r = client.post(f"/complaints/{cid}/act/refuse", data={"csrf_token": token, "reason": "理由\x1b[2J含控制字符"})
    assert r.status_code == 302
    assert "未完成" in client.get(f"/complaints/{cid}").get_data(as_text=True)
    r = client.post(f"/complaints/{cid}/act/nope", data={"csrf_token": token})
    assert "没有这项操作" in client.get(r.headers["Location"]).get_data(as_text=True)
    client.post(f"/complaints/{cid}/act/accept", data={"csrf_token": token, "note": ""})
    detail = client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "已受理" in detail and 'id="ask-form"' in detail and 'id="decide-form"' in detail
    r = client.post(
        f"/complaints/{cid}/act/ask",
        data={
            "csrf_token": token,
            "org": str(t["tenderee_org"]),
            "question": "请说明<i>依据</i>。",
        },
    )
    assert r.status_code == 302
    client.post("/logout", data={"csrf_token": token})

    # the tenderee answers on the page, without learning who complained before the deadline
    tenderee = session.get(User, client.get("/api/v1/me", headers=t["tenderee"]).get_json()["id"])
    assert tenderee is not None
    page_login(client, tenderee.username)
    detail = client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "（投标截止前不公开）" in detail and a.user.organisation.name not in detail  # type: ignore[union-attr]
    assert "&lt;i&gt;依据&lt;/i&gt;" in detail
    rid = client.get("/api/v1/complaint-statements", headers=t["tenderee"]).get_json()["items"][0]["id"]
    r = client.post(
        f"/complaint-statements/{rid}/answer", data={"csrf_token": csrf_from(detail), "text": "依据行业标准设定。"}
    )
    assert r.status_code == 302
    assert "依据行业标准设定。" in client.get(f"/complaints/{cid}").get_data(as_text=True)
