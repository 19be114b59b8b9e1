"""The committee considers the signals: they are a panel of the room, the compliance review may not
close until the leader records how the committee considered them, once per round."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import zipfile

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock, package_check
from archive import transparency as log
from signing.canonical import canonical_json
from signing.statements import SignedStatement
from tests.factories import csrf_from, page_login, pass_every_bid, platform_keys, score_every_bid
from tests.trading.signals.helpers import sweep
from tests.trading.test_evaluation import room_in_compliance
from trading.archives.building import build_for
from trading.archives.models import ArchivePackage
from trading.core.errors import Conflict
from trading.core.services import services
from trading.opening.ceremonies import get_ceremony
from trading.signals.models import SignalRun


def test_the_leader_records_the_consideration_before_the_review_closes(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        r = room_in_compliance(client, session, app)
        url, committee, bids, hs = r["url"], r["committee"], r["bids"], r["staff"]
        lead, member = committee[0], committee[1]
        review = f"{url}/signals/review"
        assert client.post(review, json={"text": "尚未计算也要先记录意见"}, headers=lead["h"]).status_code == 404
        assert sweep(session, app) == 1  # three bids uploaded from one address, prices in equal steps
        [panel] = client.get(url, headers=member["h"]).get_json()["findings"]
        assert panel["kind"] == "collusion_signals" and panel["items"]
        page = url.removeprefix("/api/v1")  # the room page, /evaluations/<id>
        want = {"required": True, "done": False, "text": "", "url": review, "page_url": f"{page}/signals/review"}
        assert panel["review"] == want
        lot = f"/api/v1/lots/{r['t']['code']}/1/signals"
        assert client.get(lot, headers=member["h"]).status_code == 200  # a seated member reads them
        for x in committee:
            for b in bids:
                client.post(f"{url}/compliance", json={"bidder": b, "passed": True}, headers=x["h"])
        refused = client.post(f"{url}/advance", headers=lead["h"])
        assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "signals_not_considered"
        text = "经核查，三家投标人同一地址上传系平台演示网络所致，报价等差经询问属巧合，不影响评审。"
        assert client.post(review, json={"text": text}, headers=member["h"]).get_json()["error"]["code"] == "not_leader"
        assert client.post(review, json={"text": "太短"}, headers=lead["h"]).status_code == 422
        assert client.post(review, json={"text": text + "\x1b[2J"}, headers=lead["h"]).status_code == 422
        # it is the committee's record: staff cannot write it for them
        by_staff = client.post(review, json={"text": text}, headers=hs)
        assert by_staff.status_code == 403, by_staff.get_json()
        # the leader records it from the room page: its session and the page's CSRF token
        page_login(client, lead["signer"].user.username)
        token = csrf_from(client.get(page).get_data(as_text=True))
        assert client.post(f"{page}/signals/review", json={"text": text}).status_code == 400  # no CSRF token
        done = client.post(f"{page}/signals/review", json={"text": text}, headers={"X-CSRFToken": token})
        assert done.status_code == 201 and done.get_json()["round"] == 1
        again = client.post(review, json={"text": text}, headers=lead["h"])
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "signals_already_reviewed"
        [panel] = client.get(url, headers=member["h"]).get_json()["findings"]
        assert panel["review"]["done"] is True and panel["review"]["text"] == text
        assert client.get(lot, headers=hs).get_json()["reviews"][0]["text"] == text
        assert client.post(f"{url}/advance", headers=lead["h"]).get_json()["state"] == "scoring"
        for it in panel["items"]:  # the room renders the parts: stored values as code, the rest as words
            assert "".join(v for part in it["detail_parts"] for v in part.values()) == it["detail"]
        # the lot's signals page leads to the room it went before
        client.post("/logout")
        page_login(client, r["t"]["staff_username"])
        html = client.get(f"/signals/{r['t']['code']}/1").get_data(as_text=True)
        assert f'href="{page}" id="evaluation-link"' in html


def test_the_lot_package_holds_the_signed_signals_and_the_review(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """``ggzy archive verify`` checks the signals as the platform signed them, and names a list that
    was changed afterwards (``signals_invalid``)."""
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        r = room_in_compliance(client, session, app)
        assert sweep(session, app) == 1
        text = "经核查，三家投标人同一地址上传系平台演示网络所致，报价等差经询问属巧合，不影响评审。"
        lead = r["committee"][0]
        assert client.post(f"{r['url']}/signals/review", json={"text": text}, headers=lead["h"]).status_code == 201
    keys = platform_keys(app)
    log.sign_pending(session, keys.sign_key, keys.sign_cert)
    c = get_ceremony(session, r["t"]["cid"])
    row = build_for(session, c, services(app))
    assert row is not None
    data = services(app).archive_store.read_bytes(row.object_key)
    run = session.scalars(select(SignalRun)).one()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.read("signals/signals.json") == run.statement.encode()
        assert json.loads(z.read("signals/reviews.json"))["reviews"][0]["text"] == text
    report = package_check.verify(io.BytesIO(data), keys.ca.cert)
    assert report.ok, list(report.lines())
    assert [k.ok for k in report.checks if "串标迹象" in k.what] == [True]
    # the list changed in the database (a signal dropped, the signature kept): the verifier names it
    outer = json.loads(run.statement)
    content = json.loads(base64.b64decode(outer["statement"]))
    content["body"]["signals"] = content["body"]["signals"][1:]
    outer["statement"] = base64.b64encode(canonical_json(content)).decode()
    run.statement = SignedStatement.from_json(canonical_json(outer)).to_json().decode()
    session.delete(session.get_one(ArchivePackage, row.id))
    session.flush()
    again = build_for(session, c, services(app))
    assert again is not None
    report = package_check.verify(io.BytesIO(services(app).archive_store.read_bytes(again.object_key)), keys.ca.cert)
    assert [k.code for k in report.checks if not k.ok] == ["signals_invalid"]


def test_signals_computed_after_the_compliance_review_hold_the_report(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """A bid that makes the signals slow cannot get the lot evaluated without them: until they are
    computed the room says so, and once they are the report waits for the committee's record."""
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        r = room_in_compliance(client, session, app)
        lead = r["committee"][0]
        [panel] = client.get(r["url"], headers=lead["h"]).get_json()["findings"]
        assert panel["items"] == [] and "计算" in panel["pending"] and panel["review"] is None
        pass_every_bid(session, r)  # closes: nothing computed yet to consider
        assert sweep(session, app) == 1  # computed late
        with pytest.raises(Conflict) as refused:
            score_every_bid(session, app, r)
        assert refused.value.code == "signals_not_considered"
        session.rollback()
        text = "评标委员会在评分阶段收到串标迹象，已逐项核查并记录，不改变资格审查结论，报告中予以说明。"
        assert client.post(f"{r['url']}/signals/review", json={"text": text}, headers=lead["h"]).status_code == 201
        assert score_every_bid(session, app, r)["report_sm3"]
