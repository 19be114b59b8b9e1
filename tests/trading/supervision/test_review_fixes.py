"""What the hostile review of issue 21 found, each held by a test: a statement from the complainant
before the deadline names no one in the trail; the complainant reads only the requests and
statements addressed to it; a suspension stops the publicity too and the publicity is extended by
the time it stood still; a lot's resumption refuses a new bid deadline it would not apply."""

from __future__ import annotations

import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import Signer, api_token, make_user
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.supervision.test_complaints import asked_and_answered, file, published, signed_body
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_report
from trading.accounts.models import Role


def last(session: Session, action: str) -> AuditEvent:
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())
    ).first()  # type: ignore[return-value]


def test_the_complainants_statement_before_the_deadline_names_no_one(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = published(client, session, app)
    code, (a, _b, _o), (ha, _hb, _ho) = t["code"], t["bidders"], t["h"]
    asked_and_answered(client, t, 0)
    r = file(client, ha, signed_body(a, code))
    assert r.status_code == 201, r.get_json()
    cid, org = r.get_json()["id"], a.user.organisation_id
    assert client.post(f"/api/v1/complaints/{cid}/accept", json={}, headers=t["sup"]).status_code == 200
    ask = {"org": org, "question": "请补充说明资格条件排斥潜在投标人的具体情形。"}
    assert client.post(f"/api/v1/complaints/{cid}/ask", json=ask, headers=t["sup"]).status_code == 201
    ask_ev = last(session, "complaint.ask")
    assert json.loads(ask_ev.payload)["org"] == "complainant"
    rid = client.get("/api/v1/complaint-statements", headers=ha).get_json()["items"][0]["id"]
    body = {"text": "招标文件要求本地业绩，排斥外地企业。"}
    assert client.post(f"/api/v1/complaint-statements/{rid}/answer", json=body, headers=ha).status_code == 200
    for action in ("complaint.statement", "complaint.document"):
        ev = last(session, action)
        assert ev.actor_id == "sealed" and str(org) not in json.loads(ev.payload).get("org", "").__str__(), action
    # the tenderee, asked too, answers; the complainant does not read the tenderee's papers
    ask = {"org": t["tenderee_org"], "question": "请说明资格条件的设置依据。"}
    assert client.post(f"/api/v1/complaints/{cid}/ask", json=ask, headers=t["sup"]).status_code == 201
    rid = client.get("/api/v1/complaint-statements", headers=t["tenderee"]).get_json()["items"][0]["id"]
    body = {"text": "机密：资格条件依据本单位内部规定设置。"}
    assert (
        client.post(f"/api/v1/complaint-statements/{rid}/answer", json=body, headers=t["tenderee"]).status_code == 200
    )
    mine = {f["id"]: f["kind"] for f in client.get(f"/api/v1/complaints/{cid}", headers=ha).get_json()["files"]}
    every = {f["id"]: f["kind"] for f in client.get(f"/api/v1/complaints/{cid}", headers=t["sup"]).get_json()["files"]}
    assert sorted(mine.values()).count("statement") == 1 and sorted(every.values()).count("statement") == 2
    (other,) = [i for i, kind in every.items() if kind == "statement" and i not in mine]
    assert client.get(f"/api/v1/complaints/{cid}/files/{other}", headers=ha).status_code in (403, 404)


def test_a_suspended_lot_waits_for_its_publicity_and_gets_the_time_back(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    sup = api_token(client, make_user(session, Role.SUPERVISOR).username)
    session.commit()
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_report(client, session, app, t)
        bidder = t["bidders"][2]
        signer = Signer(bidder.user, bidder.sign_key)
        body = signed_body(
            signer, t["code"], lot=1, matter="other", grounds="两家投标人的投标文件由同一台计算机编制，涉嫌串通投标。"
        )
        r = file(client, t["headers"][2], body)
        assert r.status_code == 201, r.get_json()
        cid = r.get_json()["id"]
        assert client.post(f"/api/v1/complaints/{cid}/accept", json={}, headers=sup).status_code == 200
        r = client.post(f"/api/v1/complaints/{cid}/suspend", json={"reason": "调查期间暂停"}, headers=sup)
        assert r.status_code == 200, r.get_json()
        r = client.post(f"{got['url']}/publicity", headers=got["staff"])
        assert (r.status_code, r.get_json()["error"]["code"]) == (409, "lot_suspended")
        r = client.post(
            f"/api/v1/complaints/{cid}/resume", json={"new_deadline": "2030-01-01T09:00:00+08:00"}, headers=sup
        )
        assert (r.status_code, r.get_json()["error"]["code"]) == (422, "invalid_input")  # a lot: no new deadline
        assert client.post(f"/api/v1/complaints/{cid}/resume", json={}, headers=sup).status_code == 200
        assert client.post(f"{got['url']}/publicity", headers=got["staff"]).status_code == 200
        ends = dt.datetime.fromisoformat(client.get(f"{got['url']}/publicity").get_json()["ends_at"])
        # suspended again a day into the publicity, for two days: the end moves two days later
        moment.advance(days=1)
        decision = {"finding": "dismissed", "decision": "经调查，未发现串通投标的证据，投诉不属实。"}
        assert client.post(f"/api/v1/complaints/{cid}/decide", json=decision, headers=sup).status_code == 200
        body = signed_body(
            signer, t["code"], lot=1, matter="other", grounds="第一中标候选人的业绩证明材料涉嫌造假，请求调查。"
        )
        r = file(client, t["headers"][2], body)
        assert r.status_code == 201, r.get_json()
        second = r.get_json()["id"]
        assert client.post(f"/api/v1/complaints/{second}/accept", json={}, headers=sup).status_code == 200
        assert (
            client.post(
                f"/api/v1/complaints/{second}/suspend", json={"reason": "调查期间暂停"}, headers=sup
            ).status_code
            == 200
        )
        moment.advance(days=2)
        assert client.post(f"/api/v1/complaints/{second}/resume", json={}, headers=sup).status_code == 200
        later = dt.datetime.fromisoformat(client.get(f"{got['url']}/publicity").get_json()["ends_at"])
        assert abs((later - ends) - dt.timedelta(days=2)) < dt.timedelta(minutes=1)
        assert last(session, "evaluation.publicity_extend") is not None
