"""A tender from draft to bidding closed through the API, and every refusal on the way."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from signing.digest import sm3_hex
from tests.factories import api_token, lot_body, make_signer, make_user, tender_body, upload
from trading.accounts.models import Organisation, Role
from trading.tenders.models import Announcement, Notification, Tender, TenderDocument

DOC = "招标文件正文：第一章 招标公告……".encode() * 200


@pytest.fixture
def people(session: Session, app: Flask) -> dict[str, Any]:
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff = make_user(session, Role.STAFF)
    b1, b2 = make_user(session, Role.BIDDER), make_user(session, Role.BIDDER)
    other_tenderee = make_user(session, Role.TENDEREE)
    session.commit()
    return {"tenderee": tenderee, "staff": staff, "b1": b1, "b2": b2, "other": other_tenderee}


def tok(client: FlaskClient, user: Any) -> dict[str, str]:
    return api_token(client, user.username)


def published_tender(client: FlaskClient, p: dict[str, Any], deadline: dt.datetime | None = None) -> str:
    t = tok(client, p["tenderee"].user)
    r = client.post("/api/v1/tenders", json=tender_body(deadline), headers=t)
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    assert upload(client, t, p["tenderee"], code, "招标文件.pdf", DOC).status_code == 201
    assert client.post(f"/api/v1/tenders/{code}/submit", headers=t).status_code == 200
    r = client.post(f"/api/v1/tenders/{code}/publish", headers=tok(client, p["staff"]))
    assert r.status_code == 200, r.get_json()
    return code


def test_draft_to_bidding_closed(client: FlaskClient, session: Session, people: dict[str, Any]) -> None:
    p = people
    code = published_tender(client, p)
    t = client.get(f"/api/v1/tenders/{code}").get_json()
    assert t["status"] == "published" and t["docs_issued_at"] and len(t["documents"]) == 1
    doc = t["documents"][0]
    assert doc["sm3"] == sm3_hex(DOC)
    hb1 = tok(client, p["b1"])
    # download before registering is refused
    r = client.get(f"/api/v1/tenders/{code}/documents/{doc['id']}", headers=hb1)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_registered"
    assert client.post(f"/api/v1/tenders/{code}/interest", headers=hb1).status_code == 201
    r = client.get(f"/api/v1/tenders/{code}/documents/{doc['id']}", headers=hb1)
    assert r.status_code == 200 and r.data == DOC and r.headers["X-Content-SM3"] == sm3_hex(DOC)
    # questions: asked privately, answered to all without the asker
    assert (
        client.post(f"/api/v1/tenders/{code}/questions", json={"text": "工期是否可以调整？"}, headers=hb1).status_code
        == 201
    )
    ht = tok(client, p["tenderee"].user)
    qs = client.get(f"/api/v1/tenders/{code}/questions", headers=ht).get_json()["items"]
    assert len(qs) == 1 and set(qs[0]) == {"id", "text", "asked_at", "answer", "answered_at"}
    hb2 = tok(client, p["b2"])
    client.post(f"/api/v1/tenders/{code}/interest", headers=hb2)
    assert client.get(f"/api/v1/tenders/{code}/questions", headers=hb2).get_json()["items"] == []  # not yet answered
    r = client.post(
        f"/api/v1/tenders/{code}/questions/{qs[0]['id']}/answer", json={"answer": "工期不可调整。"}, headers=ht
    )
    assert r.status_code == 200
    assert (
        client.get(f"/api/v1/tenders/{code}/questions", headers=hb2).get_json()["items"][0]["answer"]
        == "工期不可调整。"
    )
    # the deadline closes bidding on the next request, with no scheduler
    deadline = dt.datetime.fromisoformat(t["bid_deadline"])
    with clock.frozen(deadline + dt.timedelta(seconds=1)):
        assert client.get(f"/api/v1/tenders/{code}").get_json()["status"] == "bidding_closed"
        r = client.post(f"/api/v1/tenders/{code}/interest", headers=tok(client, make_user(session, Role.BIDDER)))
        assert r.status_code == 409
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    for a in (
        "tender.create",
        "tender_document.upload",
        "tender.submit",
        "tender.publish",
        "interest.register",
        "tender_document.download",
        "question.ask",
        "question.answer",
        "tender.bidding_close",
    ):
        assert a in actions, a


def test_amendment_inside_lead_time_moves_deadline_and_notifies(
    client: FlaskClient, session: Session, people: dict[str, Any]
) -> None:
    p = people
    start = clock.now()
    code = published_tender(client, p, start + dt.timedelta(days=21))
    hb1 = tok(client, p["b1"])
    client.post(f"/api/v1/tenders/{code}/interest", headers=hb1)
    doc_id = client.get(f"/api/v1/tenders/{code}").get_json()["documents"][0]["id"]
    client.get(f"/api/v1/tenders/{code}/documents/{doc_id}", headers=hb1)
    client.post(f"/api/v1/tenders/{code}/interest", headers=tok(client, p["b2"]))  # registered, never downloaded
    original = client.get(f"/api/v1/tenders/{code}").get_json()["announcements"][0]
    with clock.frozen(start + dt.timedelta(days=10)):
        ht = tok(client, p["tenderee"].user)
        r = client.post(
            f"/api/v1/tenders/{code}/amendments",
            headers=ht,
            json={
                "title": "关于工程量清单的澄清",
                "body": "第三章工程量清单第12项数量更正为1200立方米。",
                "affects_bids": True,
            },
        )
        assert r.status_code == 201
        ann_id = r.get_json()["id"]
        # an amended document rides with the amendment and stays hidden until it is published
        assert (
            upload(client, ht, p["tenderee"], code, "工程量清单（修订）.xlsx", b"rev2" * 100, ann_id).status_code == 201
        )
        docs_seen = client.get(f"/api/v1/tenders/{code}", headers=hb1).get_json()["documents"]
        assert [d["name"] for d in docs_seen] == ["招标文件.pdf"]
        r = client.post(f"/api/v1/announcements/{ann_id}/publish", headers=tok(client, p["staff"]))
        assert r.status_code == 200, r.get_json()
        new = dt.datetime.fromisoformat(r.get_json()["deadline_after"])
        assert clock.local(new).date() == clock.local(clock.now()).date() + dt.timedelta(days=15)
        old_local = clock.local(start + dt.timedelta(days=21))
        assert (clock.local(new).hour, clock.local(new).minute) == (old_local.hour, old_local.minute)
        assert len(client.get(f"/api/v1/tenders/{code}", headers=hb1).get_json()["documents"]) == 2
        # the published tender announcement itself never changes: the amendment is a new one pointing to it
        anns = client.get(f"/api/v1/tenders/{code}").get_json()["announcements"]
        assert anns[0] == original and anns[1]["supersedes_id"] == original["id"]
    notes = session.scalars(
        select(Notification).where(
            Notification.tender_id == session.scalar(select(Tender.id).where(Tender.code == code))
        )
    ).all()
    assert {n.org_id for n in notes} == {p["b1"].organisation_id}  # downloaders only
    assert "变更/澄清公告" in notes[0].message


def test_amendment_refused_when_policy_says_so(client: FlaskClient, session: Session, people: dict[str, Any]) -> None:
    from trading.procedures.models import AmendmentPolicy, ProcedureType

    proc = session.get(ProcedureType, "construction_open")
    assert proc is not None
    proc.amendment_policy = AmendmentPolicy.REFUSE
    session.commit()
    p = people
    start = clock.now()
    code = published_tender(client, p, start + dt.timedelta(days=21))
    with clock.frozen(start + dt.timedelta(days=10)):
        r = client.post(
            f"/api/v1/tenders/{code}/amendments",
            headers=tok(client, p["tenderee"].user),
            json={"title": "补充说明", "body": "关于投标保证金的补充说明若干条。", "affects_bids": True},
        )
        r = client.post(f"/api/v1/announcements/{r.get_json()['id']}/publish", headers=tok(client, p["staff"]))
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "amendment_too_late"


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_bad_dates_bond_and_template_refused(client: FlaskClient, session: Session, people: dict[str, Any]) -> None:
    ht = tok(client, people["tenderee"].user)
    before = (count(session, Tender), count(session, AuditEvent))
    now = clock.now()
    cases = [
        (tender_body(now + dt.timedelta(days=19)), "不得少于 20 日"),
        (tender_body(now - dt.timedelta(hours=1)), "必须晚于现在"),
        (tender_body(lots=[lot_body(bond_amount="200000.01")]), "2%"),
        (tender_body(lots=[lot_body(committee_size=6)]), "单数"),
        (tender_body(lots=[lot_body(specialties=[{"code": "A01", "count": 3}])]), "三分之二"),
        (
            tender_body(
                lots=[
                    lot_body(
                        criteria={
                            "factors": [{"name": "技术", "weight": 50}],
                            "price": {"formula": "benchmark", "weight": 40},
                        }
                    )
                ]
            ),
            "之和应为 100",
        ),
        (tender_body(category="services", procedure_code="gp_open"), "10%–30%"),
        (tender_body(procedure_code="nonexistent"), "未知的招标方式"),
        (tender_body(bid_deadline="2026-12-30T09:00:00"), "时区"),
    ]
    for body, message in cases:
        r = client.post("/api/v1/tenders", json=body, headers=ht)
        err = r.get_json()["error"]
        assert r.status_code == 422, (message, r.get_json())
        assert message in err["message"] + str(err.get("fields", {})), (message, err)
    assert (count(session, Tender), count(session, AuditEvent)) == before


def test_permissions_and_state_rules(client: FlaskClient, session: Session, people: dict[str, Any]) -> None:
    p = people
    ht = tok(client, p["tenderee"].user)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    # drafts are invisible to others (not even confirmed to exist)
    assert client.get(f"/api/v1/tenders/{code}").status_code == 404
    ho = tok(client, p["other"])
    assert client.get(f"/api/v1/tenders/{code}", headers=ho).status_code == 404
    assert client.put(f"/api/v1/tenders/{code}", json=tender_body(), headers=ho).status_code == 404
    assert client.post("/api/v1/tenders", json=tender_body(), headers=tok(client, p["b1"])).status_code == 403
    # submit needs documents; a bad signature stores no document
    r = client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "documents_missing"
    docs_before = count(session, TenderDocument)
    r = client.post(
        f"/api/v1/tenders/{code}/documents",
        data=DOC,
        headers=ht | {"Content-Type": "application/octet-stream", "X-Document-Name": "x.pdf", "X-Signature": "AAAA"},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_signature"
    assert count(session, TenderDocument) == docs_before
    upload(client, ht, p["tenderee"], code, "招标文件.pdf", DOC)
    assert client.post(f"/api/v1/tenders/{code}/submit", headers=ht).status_code == 200
    # the tenderee cannot publish its own tender; staff can return it with reasons
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=ht).status_code == 403
    hs = tok(client, p["staff"])
    assert client.post(f"/api/v1/tenders/{code}/return", json={"reason": ""}, headers=hs).status_code == 422
    r = client.post(f"/api/v1/tenders/{code}/return", json={"reason": "资格条件设置不合理"}, headers=hs)
    assert r.status_code == 200
    assert client.get(f"/api/v1/tenders/{code}", headers=ht).get_json()["return_reason"] == "资格条件设置不合理"
    assert (
        client.put(
            f"/api/v1/tenders/{code}", json=tender_body(title="福州市滨海新城道路改造工程（重新提交）"), headers=ht
        ).status_code
        == 200
    )
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
    # published: no more edits, and a published announcement is never changed
    r = client.put(f"/api/v1/tenders/{code}", json=tender_body(), headers=ht)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"
    ann = session.scalar(select(Announcement).join(Tender).where(Tender.code == code))
    assert ann is not None and ann.content_sm3
    # suspension and resumption by staff
    assert client.post(f"/api/v1/tenders/{code}/suspend", json={"reason": "收到投诉"}, headers=hs).status_code == 200
    assert client.post(f"/api/v1/tenders/{code}/interest", headers=tok(client, p["b1"])).status_code == 409
    soon = (clock.now() + dt.timedelta(days=3)).isoformat()
    assert client.post(f"/api/v1/tenders/{code}/resume", json={"new_deadline": soon}, headers=hs).status_code == 422
    later = (clock.now() + dt.timedelta(days=16)).isoformat()
    assert client.post(f"/api/v1/tenders/{code}/resume", json={"new_deadline": later}, headers=hs).status_code == 200
    # a bidder cannot terminate; the tenderee can, and a termination notice is published
    assert (
        client.post(
            f"/api/v1/tenders/{code}/terminate", json={"reason": "项目取消"}, headers=tok(client, p["b1"])
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/tenders/{code}/terminate", json={"reason": "项目取消"}, headers=ht).status_code == 200
    kinds = [a["kind"] for a in client.get(f"/api/v1/tenders/{code}").get_json()["announcements"]]
    assert kinds == ["tender", "termination"]


def test_agency_creates_for_a_tenderee(
    client: FlaskClient, session: Session, app: Flask, people: dict[str, Any]
) -> None:
    agent = make_signer(session, app, Role.AGENCY)
    tenderee_org = session.get(Organisation, people["tenderee"].user.organisation_id)
    session.commit()
    ha = tok(client, agent.user)
    r = client.post("/api/v1/tenders", json=tender_body(), headers=ha)
    assert r.status_code == 422 and "须指明招标人" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/tenders", json=tender_body(tenderee_org_id=tenderee_org.id), headers=ha)
    assert r.status_code == 201 and r.get_json()["agency"] is not None


def test_holidays_are_staff_only(client: FlaskClient, session: Session, people: dict[str, Any]) -> None:
    body = {"is_workday": False, "name": "元旦"}
    assert (
        client.put("/api/v1/holidays/2027-01-01", json=body, headers=tok(client, people["tenderee"].user)).status_code
        == 403
    )
    hs = tok(client, people["staff"])
    assert client.put("/api/v1/holidays/2027-13-01", json=body, headers=hs).status_code == 422
    assert client.put("/api/v1/holidays/2027-01-01", json=body, headers=hs).status_code == 200
    assert {"day": "2027-01-01", "is_workday": False, "name": "元旦"} in client.get("/api/v1/holidays").get_json()[
        "items"
    ]
    assert client.delete("/api/v1/holidays/2027-01-01", headers=hs).status_code == 200
    assert client.delete("/api/v1/holidays/2027-01-01", headers=hs).status_code == 404
