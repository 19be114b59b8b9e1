"""The room page's key-file actions (trading/static/ukey.js) reach the same rules as the API, with the
page's session and CSRF token instead of a bearer token; errors answer in JSON for the script."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import csrf_from, make_user, page_login
from tests.trading.opening.test_ceremony import open_tender, signin_sig
from trading.accounts.models import Role

JSON = {"Accept": "application/json"}


def test_page_signin_needs_csrf_a_seat_and_a_valid_signature(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    cid, code, b0 = t["cid"], t["code"], t["bidders"][0]
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        page_login(client, b0.user.username)
        html = client.get(f"/ceremonies/{cid}").get_data(as_text=True)
        assert 'id="do-decrypt"' in html and "vendor/sm-crypto-v2.min.js" in html
        token = csrf_from(html)
        url = f"/ceremonies/{cid}/signin"
        good = {"signature": signin_sig(b0, cid, code)}
        me = client.get(f"/ceremonies/{cid}/state").get_json()["me"]
        assert me["bidder"] == b0.user.organisation.credit_code and len(me["header_sm3"]) == 64

        r = client.post(url, json=good, headers=JSON)  # no CSRF token: refused before any rule runs
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf"
        r = client.post(url, data="签名", headers={**JSON, "X-CSRFToken": token, "Content-Type": "text/plain"})
        assert r.status_code == 415
        r = client.post(url, json={"signature": "x"}, headers={**JSON, "X-CSRFToken": token})
        assert r.status_code == 422
        other = {"signature": signin_sig(t["bidders"][1], cid, code)}  # another bidder's key
        r = client.post(url, json=other, headers={**JSON, "X-CSRFToken": token})
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_signature"
        assert client.get(f"/ceremonies/{cid}/state").get_json()["me"]["signed_in"] is False
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))

        r = client.post(url, json=good, headers={**JSON, "X-CSRFToken": token})
        assert r.status_code == 200 and r.get_json()["me"]["signed_in"] is True
        kinds = session.scalars(select(AuditEvent.action).where(AuditEvent.seq > before)).all()
        assert "ceremony.sign_in" in kinds

        # a tenderee (no bid, no right to take part) and an anonymous visitor cannot act
        tenderee = make_user(session, Role.TENDEREE)
        session.commit()
        other_client = app.test_client()
        anon = csrf_from(other_client.get("/login").get_data(as_text=True))
        r = other_client.post(url, json=good, headers={**JSON, "X-CSRFToken": anon})
        assert r.status_code == 302 and "/login" in r.headers["Location"]
        page_login(other_client, tenderee.username)
        token2 = csrf_from(other_client.get(f"/ceremonies/{cid}").get_data(as_text=True))
        r = other_client.post(f"/ceremonies/{cid}/confirm", json=good, headers={**JSON, "X-CSRFToken": token2})
        assert r.status_code == 403


def test_host_controls_refuse_bad_form_input(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    cid = t["cid"]
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        page = app.test_client()
        page_login(page, t["staff_username"])
        token = csrf_from(page.get(f"/ceremonies/{cid}").get_data(as_text=True))
        base = f"/ceremonies/{cid}/control"
        for action, form in (
            ("extend", {"minutes": "十", "reason": "投标人申请延长"}),
            ("extend", {"minutes": "500", "reason": "投标人申请延长"}),
            ("answer", {"objection": "abc", "answer": "无此异议"}),
        ):
            r = page.post(f"{base}/{action}", data={"csrf_token": token, **form}, follow_redirects=True)
            assert r.status_code == 200 and "未执行" in r.get_data(as_text=True), (action, form)
        ends = client.get(f"/api/v1/ceremonies/{cid}").get_json()["ends_at"]
        r = page.post(
            f"{base}/extend",
            data={"csrf_token": token, "minutes": "5", "reason": "投标人申请延长"},
            follow_redirects=True,
        )
        assert "本阶段已延长" in r.get_data(as_text=True)
        later = client.get(f"/api/v1/ceremonies/{cid}").get_json()["ends_at"]
        assert dt.datetime.fromisoformat(later) - dt.datetime.fromisoformat(ends) == dt.timedelta(minutes=5)
