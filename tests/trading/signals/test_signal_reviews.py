"""The committee considers the signals: they are a panel of the room, the compliance review may not
close until the leader records how the committee considered them, once per round."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import csrf_from, page_login
from tests.trading.signals.helpers import sweep
from tests.trading.test_evaluation import room_in_compliance


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
        # the leader records it from the room page: its session and the page's CSRF token
        page_login(client, lead["signer"].user.username)
        token = csrf_from(client.get(page).get_data(as_text=True))
        assert client.post(f"{page}/signals/review", json={"text": text}).status_code == 400  # no CSRF token
        done = client.post(f"{page}/signals/review", json={"text": text}, headers={"X-CSRFToken": token})
        assert done.status_code == 201 and done.get_json()["round"] == 1
        again = client.post(review, json={"text": text}, headers=hs)
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "signals_already_reviewed"
        [panel] = client.get(url, headers=member["h"]).get_json()["findings"]
        assert panel["review"]["done"] is True and panel["review"]["text"] == text
        assert client.get(lot, headers=hs).get_json()["reviews"][0]["text"] == text
        assert client.post(f"{url}/advance", headers=lead["h"]).get_json()["state"] == "scoring"
