"""The credit check at registration (报名): a barred bidder is refused with the entry named, the
refused attempt's signed snapshot is kept and sealed, a notice registers with its finding, a revoked
entry no longer refuses; nothing tells anyone before the deadline who tried to register."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent
from signing.statements import SignedStatement
from tests.factories import api_token, csrf_from, make_signer, make_user, page_login, tender_body, upload
from trading.accounts.models import Role, User
from trading.core.services import services
from trading.credit.entries import NewEntry, add_entry, revoke_entry
from trading.credit.models import CheckPurpose, CreditCheck, CreditEntry, CreditList, Measure, SubjectKind
from trading.tenders.models import Interest, SealedOpening, Tender


def published(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    """A published construction tender of 福州 (350100), its staff's token."""
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff = make_user(session, Role.STAFF)
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    hs = api_token(client, staff.username)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
    return {"code": code, "staff": hs, "tenderee": ht}


def listed(session: Session, code: str, measure: Measure = Measure.BAR_BIDDING, **over: Any) -> CreditEntry:
    """An entry about the organisation ``code`` in force since 2026-01-01, through ``add_entry``."""
    fields: dict[str, Any] = {
        "subject_kind": SubjectKind.ORGANISATION,
        "subject_id": code,
        "subject_name": "福州某建设有限公司",
        "list_kind": CreditList.DISHONEST_DEBTORS,
        "measure": measure,
        "region": "350000",
        "category": None,
        "starts_on": dt.date(2026, 1, 1),
        "ends_on": None,
        "authority": "福州市中级人民法院",
        "document_no": f"（2026）闽01执{code[-4:]}号",
        "facts": "有履行能力而拒不履行生效法律文书确定的义务",
        "source": "dishonest_debtors",
        "source_ref": f"SX-{code}-{measure.value}",
    }
    entry, _ = add_entry(session, SYSTEM, NewEntry(**(fields | over)), user_id=None, import_id=None, now=clock.now())
    session.commit()
    return entry


def bidder(session: Session) -> User:
    u = make_user(session, Role.BIDDER)
    session.commit()
    return u


def test_a_barred_bidder_is_refused_with_the_entry_named_and_the_attempt_kept_sealed(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = published(client, session, app)
    u = bidder(session)
    assert u.organisation is not None
    credit_code = u.organisation.credit_code
    entry = listed(session, credit_code)
    h = api_token(client, u.username)
    sealed_before = len(session.scalars(select(SealedOpening)).all())
    seq_before = max(session.scalars(select(AuditEvent.seq)).all())
    r = client.post(f"/api/v1/tenders/{t['code']}/interest", headers=h)
    assert r.status_code == 409, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "credit_barred"
    assert (
        entry.document_no in err["message"]
        and "福州市中级人民法院" in err["message"]
        and "失信被执行人" in err["message"]
    )
    assert "2026-01-01 至 长期" in err["message"] and "福建省、全部类别" in err["message"]
    assert "申请更正或撤销；撤销后可重新报名" in err["message"]  # what the bidder can do about it
    assert [e["id"] for e in err["entries"]] == [entry.id]
    # the refused attempt's snapshot outlived the failed request: signed, barred, naming the entry
    check = session.scalars(select(CreditCheck).where(CreditCheck.statement_sm3 == err["credit_check_sm3"])).one()
    assert err["credit_statement"] == check.statement  # the bidder holds the signed evidence, not an id
    assert check.purpose is CheckPurpose.REGISTRATION and check.barred and check.subject_id == credit_code
    body = SignedStatement.from_json(check.statement.encode()).verify(
        trusted=services(app).keys.sign_cert, expected_type="credit_check"
    )["body"]
    assert body["result"] == "barred" and body["scope"]["tender"] == t["code"] and body["entries"][0]["id"] == entry.id
    # ... and its event is sealed: one more sealed opening, no interest, no public event naming it
    assert len(session.scalars(select(SealedOpening)).all()) == sealed_before + 1
    assert session.scalars(select(Interest).where(Interest.org_id == u.organisation_id)).first() is None
    refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "interest.refused")).all()
    assert (
        len(refused) == 1 and refused[0].actor_id == "sealed" and set(json.loads(refused[0].payload)) == {"commitment"}
    )
    for ev in session.scalars(select(AuditEvent).where(AuditEvent.seq > seq_before)):
        text = ev.payload + ev.object_id + ev.actor_id
        assert credit_code not in text and u.organisation.name not in text
    # a retry is answered with the same refusal and writes nothing
    again = client.post(f"/api/v1/tenders/{t['code']}/interest", headers=h)
    assert again.status_code == 409 and again.get_json()["error"]["credit_check_sm3"] == err["credit_check_sm3"]
    assert len(session.scalars(select(SealedOpening)).all()) == sealed_before + 1
    # before the deadline the public reads say nothing about it
    assert client.get(f"/api/v1/tenders/{t['code']}/interest", headers=h).get_json()["registered"] is False
    public = client.get(f"/api/v1/tenders/{t['code']}").get_data(as_text=True)
    assert credit_code not in public and "interest" not in public
    # the page refuses the same way, naming the entry
    page_login(client, u.username)
    html = client.get(f"/tenders/{t['code']}").get_data(as_text=True)
    r = client.post(f"/tenders/{t['code']}/interest", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 409 and entry.document_no in r.get_data(as_text=True)


def test_a_notice_registers_with_its_finding_and_a_revoked_bar_no_longer_refuses(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = published(client, session, app)
    noticed, revoked, elsewhere = bidder(session), bidder(session), bidder(session)
    codes = [u.organisation.credit_code for u in (noticed, revoked, elsewhere)]  # type: ignore[union-attr]
    notice = listed(session, codes[0], Measure.NOTICE, list_kind=CreditList.TAX_VIOLATORS, source="tax_violators")
    bar = listed(session, codes[1])
    listed(session, codes[2], region="440000")  # another province: does not reach 福州
    url = f"/api/v1/tenders/{t['code']}/interest"
    r = client.post(url, headers=api_token(client, noticed.username))
    assert r.status_code == 201 and r.get_json()["credit_result"] == "found"
    interest = session.scalars(select(Interest).where(Interest.org_id == noticed.organisation_id)).one()
    check = session.get_one(CreditCheck, interest.credit_check_id)
    assert not check.barred and [e["id"] for e in check.found] == [notice.id]
    sealed = session.scalars(select(AuditEvent).where(AuditEvent.action == "interest.register")).all()
    assert sealed and all(set(json.loads(e.payload)) == {"commitment"} for e in sealed)
    page_login(client, noticed.username)
    html = client.get(f"/tenders/{t['code']}").get_data(as_text=True)
    assert "有信用提示" in html and notice.document_no in html and "重大税收违法失信主体" in html
    hr = api_token(client, revoked.username)
    assert client.post(url, headers=hr).get_json()["error"]["code"] == "credit_barred"
    revoke_entry(session, SYSTEM, bar, "法院已决定删除失信信息", user_id=None, now=clock.now())
    session.commit()
    r = client.post(url, headers=hr)
    assert r.status_code == 201 and r.get_json()["credit_result"] == "clean"
    r = client.post(url, headers=api_token(client, elsewhere.username))
    assert r.status_code == 201 and r.get_json()["credit_result"] == "clean"


def test_the_registration_contact_is_bounded(client: FlaskClient, session: Session, app: Flask) -> None:
    t = published(client, session, app)
    u = bidder(session)
    h = api_token(client, u.username)
    url = f"/api/v1/tenders/{t['code']}/interest"
    for bad in ({"contact_phone": "0591 8888"}, {"contact_phone": "1" * 21}, {"contact_name": "王" * 51}):
        r = client.post(url, json=bad, headers=h)
        assert r.status_code == 422, (bad, r.get_json())
    assert u.organisation is not None
    assert not session.scalars(select(CreditCheck).where(CreditCheck.subject_id == u.organisation.credit_code)).all()
    r = client.post(url, json={"contact_name": " 王五 ", "contact_phone": "+86-591-88880000"}, headers=h)
    assert r.status_code == 201, r.get_json()
    interest = session.scalars(select(Interest).where(Interest.org_id == u.organisation_id)).one()
    assert (interest.contact_name, interest.contact_phone) == ("王五", "+86-591-88880000")
    assert client.post(url, headers=h).status_code == 201  # idempotent: no second check
    tender = session.scalars(select(Tender).where(Tender.code == t["code"])).one()
    checks = session.scalars(select(CreditCheck).where(CreditCheck.tender_code == tender.code)).all()
    assert len(checks) == 1
    other = bidder(session)
    page_login(client, other.username)
    html = client.get(f"/tenders/{t['code']}").get_data(as_text=True)
    assert 'name="contact_phone"' in html
    form = {"csrf_token": csrf_from(html), "contact_name": "李四", "contact_phone": "abc"}
    r = client.post(f"/tenders/{t['code']}/interest", data=form)
    assert r.status_code == 422 and "联系电话" in r.get_data(as_text=True)
    r = client.post(f"/tenders/{t['code']}/interest", data={**form, "contact_phone": "13800000000"})
    assert r.status_code == 302
    assert (
        session.scalars(select(Interest.contact_name).where(Interest.org_id == other.organisation_id)).one() == "李四"
    )
