"""Complaints (投诉): the rules at their boundaries (must object first, the filing windows in calendar
and working days, holidays and 调休), each move and each refusal by name, who may act and read,
bad and hostile input, the complainant's SM2 signature, and the suspension that stops the award
until the department resumes the procedure."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from archive import clock
from archive.audit import AuditEvent
from signing.digest import sm3_hex
from signing.statements import SignedStatement, complaint_statement
from tests.factories import Signer, api_token, make_signer, make_user, tender_body, upload
from trading.accounts.models import Role
from trading.core.errors import Conflict
from trading.core.services import services
from trading.supervision import complaint_rules as rules
from trading.supervision.complaint_documents import complaint_refs, complaints_of_lot
from trading.supervision.models import ComplaintKind
from trading.supervision.rules import SEED_BY_CODE, due_instant
from trading.tenders.models import Lot, TenderCategory

W = ComplaintKind.CONSTRUCTION
P = ComplaintKind.PROCUREMENT


def bj(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, s, us, tzinfo=clock.SHANGHAI).astimezone(dt.UTC)


def objection(source: rules.Source, raised: dt.datetime, answered: dt.datetime | None = None) -> rules.PriorObjection:
    return rules.PriorObjection(source, 1, raised, answered)


# ---------------------------------------------------------------- the rules, without a database
def test_the_regime_follows_the_category() -> None:
    assert rules.kind_of(TenderCategory.CONSTRUCTION) is W
    assert rules.kind_of(TenderCategory.GOODS) is P and rules.kind_of(TenderCategory.SERVICES) is P
    assert rules.kind_of(TenderCategory.LAND_USE) is W  # 实施条例 governs every 招标投标活动
    assert [m for m in rules.MATTERS if rules.must_object_first(W, m)] == ["documents", "opening", "evaluation_result"]
    assert all(rules.must_object_first(P, m) for m in rules.MATTERS)
    assert rules.prior_objection(W, "other", [], bj(2026, 3, 2), {}) is None


def test_construction_window_is_ten_days_from_the_answer_moved_past_rest_days() -> None:
    q = objection(rules.Source.QUESTION, bj(2026, 3, 5, 9), answered=bj(2026, 3, 6, 10))  # answered Friday
    w = rules.filing_window(W, q, {})
    assert (w.opens_at, w.closes_at) == (bj(2026, 3, 6, 10), bj(2026, 3, 17))  # Mon 16th is the 10th day
    assert rules.prior_objection(W, "documents", [q], bj(2026, 3, 16, 23, 59, 59), {}) == q
    with pytest.raises(Conflict) as late:
        rules.prior_objection(W, "documents", [q], bj(2026, 3, 17), {})
    assert late.value.code == "complaint_late"
    # the 10th day a Saturday: to Monday's end; Monday a holiday: to Tuesday's; the Saturday 调休: itself
    q2 = objection(rules.Source.QUESTION, bj(2026, 3, 3), answered=bj(2026, 3, 4, 15))
    assert rules.filing_window(W, q2, {}).closes_at == bj(2026, 3, 17)
    assert rules.filing_window(W, q2, {dt.date(2026, 3, 16): False}).closes_at == bj(2026, 3, 18)
    assert rules.filing_window(W, q2, {dt.date(2026, 3, 14): True}).closes_at == bj(2026, 3, 15)


def test_construction_objections_wait_for_their_answer_period() -> None:
    raised = bj(2026, 3, 2, 10)  # a Monday
    pub = objection(rules.Source.PUBLICITY, raised)  # Reg 54: 3 days to answer, unanswered
    with pytest.raises(Conflict) as pending:  # the day raised not counted: to Thursday 24:00
        rules.prior_objection(W, "evaluation_result", [pub], bj(2026, 3, 5, 23, 59, 59), {})
    assert pending.value.code == "objection_pending"
    assert rules.prior_objection(W, "evaluation_result", [pub], bj(2026, 3, 6), {}) == pub
    opening = objection(rules.Source.OPENING, raised)  # Reg 44: answered on the spot, or not at all
    assert rules.prior_objection(W, "opening", [opening], raised, {}) == opening
    with pytest.raises(Conflict) as first:
        rules.prior_objection(W, "opening", [pub], raised + dt.timedelta(days=4), {})  # wrong record
    assert first.value.code == "objection_first"
    # of two, the one whose window stays open longest
    older = rules.PriorObjection(rules.Source.PUBLICITY, 2, raised - dt.timedelta(days=2), raised)
    assert rules.prior_objection(W, "evaluation_result", [older, pub], raised + dt.timedelta(days=4), {}) == pub


def test_procurement_counts_fifteen_working_days_after_the_seven_to_answer() -> None:
    raised = bj(2026, 3, 2, 9)  # Monday; 7 working days to answer: to the end of Wed 11th
    q = objection(rules.Source.PUBLICITY, raised)
    w = rules.filing_window(P, q, {})
    assert w.opens_at == bj(2026, 3, 12)
    assert w.closes_at == bj(2026, 4, 2)  # the 15th working day after the 11th is 1 April
    with pytest.raises(Conflict) as pending:
        rules.prior_objection(P, "evaluation_result", [q], bj(2026, 3, 11, 23, 59, 59), {})
    assert pending.value.code == "objection_pending"
    assert rules.prior_objection(P, "other", [q], bj(2026, 4, 1, 23, 59, 59), {}) == q
    with pytest.raises(Conflict):
        rules.prior_objection(P, "other", [q], bj(2026, 4, 2), {})
    # a holiday inside the answer period and another inside the window; a 调休 Saturday counts
    days = {dt.date(2026, 3, 4): False, dt.date(2026, 3, 20): False, dt.date(2026, 3, 28): True}
    assert rules.filing_window(P, q, days).opens_at == bj(2026, 3, 13)
    assert rules.filing_window(P, q, days).closes_at == bj(2026, 4, 3) - dt.timedelta(days=0)
    answered = objection(rules.Source.QUESTION, raised, answered=bj(2026, 3, 3, 16))
    assert rules.filing_window(P, answered, {}).opens_at == bj(2026, 3, 3, 16)  # dissatisfied with the answer
    with pytest.raises(Conflict) as first:
        rules.prior_objection(P, "other", [], bj(2026, 3, 3), {})
    assert first.value.code == "objection_first" and "质疑" in first.value.message


def test_the_departments_limits_in_working_days() -> None:
    """The limits the complaint pages state are the supervision rules' (one table, rules.SEED)."""
    filed = bj(2026, 9, 30, 15)  # before the National Day holidays
    days = {dt.date(2026, 10, d): False for d in range(1, 8)} | {dt.date(2026, 10, 10): True}
    accept_w, accept_p = SEED_BY_CODE["complaint_accept_construction"], SEED_BY_CODE["complaint_accept_procurement"]
    assert due_instant(filed, accept_w, {}) == bj(2026, 10, 6)  # Thu, Fri, Mon
    assert due_instant(filed, accept_w, days) == bj(2026, 10, 11)  # 8th, 9th, the 调休 Saturday 10th
    assert due_instant(filed, accept_p, days) == bj(2026, 10, 14)
    assert due_instant(filed, SEED_BY_CODE["complaint_statement"], {}) == bj(2026, 10, 8)
    decide_w = SEED_BY_CODE["complaint_decide_construction"]
    assert due_instant(filed, decide_w, {}) == due_instant(filed, SEED_BY_CODE["complaint_decide_procurement"], {})


# ---------------------------------------------------------------- through the API
def published(client: FlaskClient, session: Session, app: Flask, bidders: int = 2) -> dict[str, Any]:
    """A published construction tender, ``bidders`` registered bidders with signing keys, an
    unregistered one, staff and a supervisor; tokens for each."""
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff, supervisor = make_user(session, Role.STAFF), make_user(session, Role.SUPERVISOR)
    bs = [make_signer(session, app, Role.BIDDER) for _ in range(bidders + 1)]
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    hs = api_token(client, staff.username)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
    heads = [api_token(client, b.user.username) for b in bs]
    for h in heads[:bidders]:
        assert client.post(f"/api/v1/tenders/{code}/interest", headers=h).status_code == 201
    return {
        "code": code,
        "bidders": bs,
        "h": heads,
        "tenderee": ht,
        "tenderee_org": tenderee.user.organisation_id,
        "staff": hs,
        "sup": api_token(client, supervisor.username),
    }


def signed_body(
    signer: Signer,
    code: str,
    *,
    lot: int | None = None,
    matter: str = "documents",
    grounds: str = "招标文件第三章的资格条件排斥潜在投标人，违反实施条例第三十二条。",
    requests: str = "责令招标人修改招标文件。",
    evidence: list[tuple[str, bytes]] | None = None,
    kind: str = "construction",
    sign_grounds: str | None = None,
) -> dict[str, Any]:
    evidence = [("截图.png", b"\x89PNG evidence")] if evidence is None else evidence
    listed = [{"name": n, "sm3": sm3_hex(d), "size": len(d)} for n, d in evidence]
    assert signer.user.organisation is not None
    statement = complaint_statement(
        tender_code=code,
        lot_number=lot,
        complainant=signer.user.organisation.credit_code,
        kind=kind,
        matter=matter,
        grounds=sign_grounds if sign_grounds is not None else grounds,
        requests=requests,
        evidence=listed,
    )
    return {
        "tender": code,
        "lot": lot,
        "kind": kind,
        "matter": matter,
        "grounds": grounds,
        "requests": requests,
        "evidence": listed,
        "signature": base64.b64encode(signer.key.sign(statement)).decode(),
        "_files": evidence,
    }


def file(client: FlaskClient, headers: dict[str, str], body: dict[str, Any]) -> TestResponse:
    files = body.pop("_files")
    data: dict[str, Any] = {"complaint": json.dumps(body), "evidence": [(io.BytesIO(d), n) for n, d in files]}
    return client.post("/api/v1/complaints", data=data, headers=headers, content_type="multipart/form-data")


def code_of(r: TestResponse, status: int) -> str:
    assert r.status_code == status, r.get_json()
    return str(r.get_json()["error"]["code"])


def asked_and_answered(client: FlaskClient, t: dict[str, Any], i: int) -> int:
    r = client.post(
        f"/api/v1/tenders/{t['code']}/questions", json={"text": "资格条件是否排斥外地企业？"}, headers=t["h"][i]
    )
    qid = r.get_json()["id"]
    answer = {"answer": "资格条件符合规定，不作修改。"}
    assert (
        client.post(
            f"/api/v1/tenders/{t['code']}/questions/{qid}/answer", json=answer, headers=t["tenderee"]
        ).status_code
        == 200
    )
    return int(qid)


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_a_documents_complaint_before_the_deadline(client: FlaskClient, session: Session, app: Flask) -> None:
    t = published(client, session, app)
    code, (a, b, outsider), (ha, hb, ho) = t["code"], t["bidders"], t["h"]
    assert code_of(file(client, ho, signed_body(outsider, code)), 403) == "not_an_interested_party"
    assert code_of(file(client, ha, signed_body(a, code)), 409) == "objection_first"
    client.post(f"/api/v1/tenders/{code}/questions", json={"text": "资格条件是否排斥外地企业？"}, headers=ha)
    assert code_of(file(client, ha, signed_body(a, code)), 409) == "objection_pending"
    asked_and_answered(client, t, 0)
    # the signature: another's key, altered grounds, the wrong regime; hostile text; evidence that differs
    assert code_of(file(client, ha, signed_body(b, code)), 422) == "invalid_signature"  # b's key, a's account
    altered = signed_body(a, code, sign_grounds="原来的投诉事项，事实和理由如下所述。")
    assert code_of(file(client, ha, altered), 422) == "invalid_signature"
    assert code_of(file(client, ha, signed_body(a, code, kind="procurement")), 422) == "invalid_input"
    assert (
        code_of(file(client, ha, signed_body(a, code, grounds="资格条件\u202e排斥潜在投标人的情形如下")), 422)
        == "invalid_input"
    )
    other = signed_body(a, code)
    other["_files"] = [("截图.png", b"other bytes")]
    assert code_of(file(client, ha, other), 422) == "evidence_mismatch"
    assert code_of(client.post("/api/v1/complaints", json={"x": 1}, headers=ha), 415) == "unsupported_media_type"
    r = file(client, ha, signed_body(a, code))
    assert r.status_code == 201, r.get_json()
    c = r.get_json()
    assert c["state"] == "filed" and c["number"].startswith("TS-") and c["objection"].startswith("question:")
    assert {f["kind"] for f in c["files"]} == {"complaint", "evidence"}
    cid = c["id"]
    assert code_of(file(client, ha, signed_body(a, code)), 409) == "complaint_open"

    # before the deadline: the trail does not name the complainant; others see nothing of it
    filed = events(session, "complaint.file")[-1]
    assert filed.actor_id == "sealed" and filed.object_id == str(cid)
    payload = json.loads(filed.payload)
    assert {k: payload[k] for k in ("kind", "matter", "lot", "tender")} == {
        "kind": "construction",
        "matter": "documents",
        "lot": None,
        "tender": code,
    }
    assert "招标文件第三章" not in filed.payload  # no free text in the trail
    for h in (hb, t["tenderee"]):
        assert code_of(client.get(f"/api/v1/complaints/{cid}", headers=h), 404) == "no_such_complaint"
        assert client.get("/api/v1/complaints", headers=h).get_json()["items"] == []
    assert (
        client.get(f"/api/v1/complaints/{cid}", headers=t["staff"]).get_json()["complainant"] != "（投标截止前不公开）"
    )
    for h in (t["staff"], ha):
        assert client.post(f"/api/v1/complaints/{cid}/accept", json={}, headers=h).status_code == 403

    sup = t["sup"]
    r = client.post(f"/api/v1/complaints/{cid}/accept", json={"note": ""}, headers=sup)
    assert r.status_code == 200 and r.get_json()["state"] == "accepted"
    assert code_of(client.post(f"/api/v1/complaints/{cid}/accept", json={}, headers=sup), 409) == "complaint_transition"
    assert (
        code_of(client.post(f"/api/v1/complaints/{cid}/refuse", json={"reason": "不符合条件"}, headers=sup), 409)
        == "complaint_transition"
    )
    r = client.post(f"/api/v1/complaints/{cid}/suspend", json={"reason": "核查资格条件期间暂停"}, headers=sup)
    assert r.status_code == 200 and r.get_json()["suspended"]
    assert client.get(f"/api/v1/tenders/{code}").get_json()["status"] == "suspended"
    assert (
        code_of(client.post(f"/api/v1/complaints/{cid}/suspend", json={"reason": "再次暂停活动"}, headers=sup), 409)
        == "complaint_suspended"
    )

    # the tenderee is asked; before the deadline another bidder is no party
    bad = {"org": b.user.organisation_id, "question": "请说明投标情况。"}
    assert code_of(client.post(f"/api/v1/complaints/{cid}/ask", json=bad, headers=sup), 422) == "not_a_party"
    ask = {"org": t["tenderee_org"], "question": "请说明资格条件的依据。"}
    r = client.post(f"/api/v1/complaints/{cid}/ask", json=ask, headers=sup)
    assert r.status_code == 201
    rid = r.get_json()["statements"][0]["id"]
    asked = events(session, "complaint.ask")[-1]
    assert (asked.object_type, asked.object_id) == ("complaint_statement", str(rid))
    assert json.loads(asked.payload)["org"] == t["tenderee_org"] and json.loads(asked.payload)["complaint"] == cid
    seen = client.get(f"/api/v1/complaints/{cid}", headers=t["tenderee"]).get_json()
    assert seen["complainant"] == "（投标截止前不公开）"
    assert {f["kind"] for f in seen["files"]} == {"acceptance", "suspension", "request"}
    assert client.get("/api/v1/complaint-statements", headers=t["tenderee"]).get_json()["items"][0]["id"] == rid
    assert (
        code_of(
            client.post(f"/api/v1/complaint-statements/{rid}/answer", json={"text": "依据如下所述。"}, headers=hb), 404
        )
        == "no_such_complaint"
    )
    text = {"text": "资格条件依据行业标准设定，不排斥外地企业。"}
    assert (
        client.post(f"/api/v1/complaint-statements/{rid}/answer", json=text, headers=t["tenderee"]).status_code == 200
    )
    assert (
        code_of(client.post(f"/api/v1/complaint-statements/{rid}/answer", json=text, headers=t["tenderee"]), 409)
        == "already_answered"
    )

    decision = {"finding": "partly", "decision": "资格条件中的业绩要求过高，其余条件符合规定。", "measures": ""}
    assert code_of(client.post(f"/api/v1/complaints/{cid}/decide", json=decision, headers=sup), 422) == "invalid_input"
    decision["measures"] = "责令招标人修改业绩要求并发布澄清。"
    r = client.post(f"/api/v1/complaints/{cid}/decide", json=decision, headers=sup)
    assert r.status_code == 200 and r.get_json()["finding_label"] == "部分属实"
    doc = next(f for f in r.get_json()["files"] if f["kind"] == "decision")
    sig = client.get(f"/api/v1/complaints/{cid}/files/{doc['id']}/sig", headers=ha).data
    body = SignedStatement.from_json(sig).verify(
        trusted=services(app).keys.sign_cert, expected_type="complaint_document"
    )["body"]
    pdf = client.get(f"/api/v1/complaints/{cid}/files/{doc['id']}", headers=ha)
    assert pdf.data.startswith(b"%PDF") and body["pdf_sm3"] == sm3_hex(pdf.data) and body["finding"] == "partly"
    assert json.loads(events(session, "complaint.decide")[-1].payload)["finding"] == "partly"
    assert (
        code_of(client.post(f"/api/v1/complaints/{cid}/withdraw", json={"reason": "撤回本次投诉"}, headers=ha), 409)
        == "complaint_transition"
    )

    assert code_of(client.post(f"/api/v1/complaints/{cid}/resume", json={}, headers=sup), 422) == "invalid_input"
    later = (clock.now() + dt.timedelta(days=30)).isoformat()
    r = client.post(f"/api/v1/complaints/{cid}/resume", json={"new_deadline": later}, headers=sup)
    assert r.status_code == 200 and not r.get_json()["suspended"]
    assert client.get(f"/api/v1/tenders/{code}").get_json()["status"] == "published"
    assert (
        code_of(client.post(f"/api/v1/complaints/{cid}/resume", json={"new_deadline": later}, headers=sup), 409)
        == "complaint_not_suspended"
    )
    assert [x.action for x in events(session, "complaint.resume")][-1] == "complaint.resume"


def test_refusal_and_withdrawal(client: FlaskClient, session: Session, app: Flask) -> None:
    t = published(client, session, app, bidders=1)
    code, a, ha, sup = t["code"], t["bidders"][0], t["h"][0], t["sup"]
    asked_and_answered(client, t, 0)
    cid = file(client, ha, signed_body(a, code)).get_json()["id"]
    assert (
        code_of(client.post(f"/api/v1/complaints/{cid}/refuse", json={"reason": "短"}, headers=sup), 422)
        == "invalid_input"
    )
    r = client.post(f"/api/v1/complaints/{cid}/refuse", json={"reason": "投诉事项已由招标人答复并修改。"}, headers=sup)
    assert r.status_code == 200 and r.get_json()["state"] == "refused"
    assert (
        code_of(client.post(f"/api/v1/complaints/{cid}/suspend", json={"reason": "暂停招投标"}, headers=sup), 409)
        == "wrong_state"
    )
    cid2 = file(client, ha, signed_body(a, code)).get_json()["id"]  # a refused complaint is no longer open
    assert (
        client.post(f"/api/v1/complaints/{cid2}/withdraw", json={"reason": "撤回本次投诉"}, headers=sup).status_code
        == 403
    )
    r = client.post(f"/api/v1/complaints/{cid2}/withdraw", json={"reason": "招标人已修改招标文件。"}, headers=ha)
    assert r.status_code == 200 and r.get_json()["state"] == "withdrawn"
    assert (
        code_of(client.post(f"/api/v1/complaints/{cid2}/accept", json={}, headers=sup), 409) == "complaint_transition"
    )
    assert [c["state"] for c in client.get("/api/v1/complaints?state=withdrawn", headers=sup).get_json()["items"]] == [
        "withdrawn"
    ]
    assert code_of(client.get("/api/v1/complaints?state=nope", headers=sup), 422) == "invalid_input"
    assert client.get(f"/api/v1/complaints/{cid2}", headers=t["h"][1]).status_code == 404


def test_a_suspension_stops_the_award_until_resumed(client: FlaskClient, session: Session, app: Flask) -> None:
    from tests.trading.opening.test_ceremony import open_tender
    from tests.trading.test_draw import run_opening
    from tests.trading.test_evaluation import evaluate_to_publicity, finish_award

    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    sup = api_token(client, make_user(session, Role.SUPERVISOR).username)
    session.commit()
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_publicity(client, session, app, t)
        url = got["url"]
        first = got["report"]["candidates"][0]["bidder_id"]
        winner = next(x["credit_code"] for x in got["report"]["ranking"] if x["bidder_id"] == first)
        loser = next(i for i, b in enumerate(t["bidders"]) if b.user.organisation.credit_code != winner)
        signer = Signer(t["bidders"][loser].user, t["bidders"][loser].sign_key)
        h = t["headers"][loser]
        body = signed_body(
            signer, t["code"], lot=1, matter="evaluation_result", grounds="第一中标候选人的项目经理同时在其他项目任职。"
        )
        assert code_of(file(client, h, dict(body)), 409) == "objection_first"
        oid = client.post(
            f"{url}/objections", json={"text": "第一名的项目经理同时在其他项目任职"}, headers=h
        ).get_json()["id"]
        ht = api_token(client, t["tenderee_username"])
        client.post(f"{url}/objections/{oid}/answer", json={"text": "经核查，该项目经理已解除原任职。"}, headers=ht)
        moment.advance(hours=1)
        r = file(
            client,
            h,
            signed_body(
                signer,
                t["code"],
                lot=1,
                matter="evaluation_result",
                grounds="第一中标候选人的项目经理同时在其他项目任职。",
            ),
        )
        assert r.status_code == 201, r.get_json()
        cid = r.get_json()["id"]
        assert r.get_json()["objection"] == f"evaluation_objection:{oid}"
        assert client.post(f"/api/v1/complaints/{cid}/accept", json={}, headers=sup).status_code == 200
        assert (
            client.post(
                f"/api/v1/complaints/{cid}/suspend", json={"reason": "调查期间暂停定标"}, headers=sup
            ).status_code
            == 200
        )
        lot = session.scalars(select(Lot).join(Lot.tender).where(Lot.number == 1).order_by(Lot.id.desc())).first()
        assert lot is not None and lot.suspended_at is not None
        assert [c.id for c in complaints_of_lot(session, lot.id)] == [cid]
        refs = complaint_refs(session, lot.id)
        assert ("complaint", str(cid)) in refs and any(k == "complaint_file" for k, _ in refs)
        moment.advance(days=3, seconds=1)
        ht = api_token(client, t["tenderee_username"])
        r = client.post(f"{url}/award", json={"winner": first}, headers=ht)
        assert code_of(r, 409) == "lot_suspended"
        decision = {"finding": "dismissed", "decision": "经调查，该项目经理已于投标前解除原任职，投诉不属实。"}
        assert client.post(f"/api/v1/complaints/{cid}/decide", json=decision, headers=sup).status_code == 200
        assert code_of(client.post(f"{url}/award", json={"winner": first}, headers=ht), 409) == "lot_suspended"
        r = client.post(f"/api/v1/complaints/{cid}/resume", json={}, headers=sup)
        assert r.status_code == 200, r.get_json()
        finish_award(client, t, got, moment)
