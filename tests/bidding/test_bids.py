"""Bid submission through the API: receipts, replacement, withdrawal, the deadline, bad input."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from signing.certs import Certificate
from signing.digest import sm3_hex
from signing.statements import SignedStatement, bid_withdrawal_statement
from tests.factories import (
    TEST_ACTOR,
    api_token,
    head_of,
    make_bidder_with_keys,
    make_signer,
    make_user,
    seal_bid,
    tender_body,
    upload,
    upload_bid,
)
from trading.accounts.models import Role
from trading.bids import uploads as bid_uploads
from trading.bids.models import Bid, BidUpload, UploadState
from trading.pki.operations import revoke_certificate

PRICE_SHEET = b'{"price": "9876543.21", "duration_days": 365}'


@pytest.fixture
def tender(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff = make_user(session, Role.STAFF)
    b1, b2 = make_bidder_with_keys(session, app), make_bidder_with_keys(session, app)
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username)).status_code == 200
    h1, h2 = api_token(client, b1.user.username), api_token(client, b2.user.username)
    for h in (h1, h2):
        client.post(f"/api/v1/tenders/{code}/interest", headers=h)
    deadline = dt.datetime.fromisoformat(client.get(f"/api/v1/tenders/{code}").get_json()["bid_deadline"])
    return {"code": code, "b1": b1, "b2": b2, "h1": h1, "h2": h2, "deadline": deadline}


def test_submit_receipt_replace_withdraw(
    client: FlaskClient, session: Session, app: Flask, tender: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bid_uploads, "PART_SIZE", 64 * 1024)  # several parts for a 300 KB bid
    t = tender
    before = session.scalar(select(func.max(AuditEvent.seq))) or 0  # this test's events come after
    blob = seal_bid(t["b1"], t["code"], PRICE_SHEET + b"x" * 300_000)
    r = upload_bid(client, t["h1"], blob, t["code"])
    assert r.status_code == 201, r.get_json()
    bid = r.get_json()
    assert bid["ciphertext_sm3"] == sm3_hex(blob) and bid["status"] == "accepted"
    # the receipt verifies offline with the platform certificate alone
    certs = client.get("/api/v1/platform/certificates").get_json()
    platform = Certificate.from_pem(certs["signing_certificate"].encode())
    receipt = SignedStatement.from_json(bid["receipt"].encode())
    body = receipt.verify(trusted=platform, expected_type="bid_receipt")["body"]
    assert body["ciphertext_sm3"] == sm3_hex(blob) and body["size"] == len(blob) and body["tender"] == t["code"]
    assert dt.datetime.fromisoformat(body["received_at"]) < t["deadline"]
    # an altered receipt is refused
    forged = SignedStatement(
        receipt.statement.replace(str(len(blob)).encode(), b"1"), receipt.signature, receipt.signer_cert
    )
    with pytest.raises(Exception, match="签名"):
        forged.verify(trusted=platform)
    # the stored object is the ciphertext, byte for byte
    from trading.core.services import object_store

    with app.app_context():
        assert object_store(app).read_bytes("sm3/" + sm3_hex(blob)) == blob
    # replacing supersedes the old bid (kept in the trace)
    blob2 = seal_bid(t["b1"], t["code"], PRICE_SHEET.replace(b"9876543.21", b"9800000.00"))
    r = upload_bid(client, t["h1"], blob2, t["code"])
    assert r.status_code == 201
    mine = client.get(f"/api/v1/bids?tender={t['code']}", headers=t["h1"]).get_json()["items"]
    assert [(b["ciphertext_sm3"], b["status"]) for b in mine] == [
        (sm3_hex(blob2), "accepted"),
        (sm3_hex(blob), "superseded"),
    ]
    assert (
        client.get(f"/api/v1/bids?tender={t['code']}", headers=t["h2"]).get_json()["items"] == []
    )  # others see nothing
    # withdrawal must be signed by the bidder
    org = t["b1"].user.organisation
    statement = bid_withdrawal_statement(t["code"], 1, org.credit_code, sm3_hex(blob2))
    bad = base64.b64encode(t["b2"].sign_key.sign(statement)).decode()
    r = client.post(f"/api/v1/bids/{sm3_hex(blob2)}/withdraw", json={"signature": bad}, headers=t["h1"])
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_signature"
    good = base64.b64encode(t["b1"].sign_key.sign(statement)).decode()
    # a revoked UKey cannot withdraw a bid (nothing changes), the same check as every user signature
    from trading.pki.operations import revoke_certificate

    revocation = session.begin_nested()
    revoke_certificate(session, TEST_ACTOR, t["b1"].sign_cert, "UKey 遗失")
    session.flush()
    r = client.post(f"/api/v1/bids/{sm3_hex(blob2)}/withdraw", json={"signature": good}, headers=t["h1"])
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "certificate_revoked"
    revocation.rollback()  # the UKey is found again: its revocation is undone for the rest of the test
    r = client.post(f"/api/v1/bids/{sm3_hex(blob2)}/withdraw", json={"signature": good}, headers=t["h1"])
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn"
    SignedStatement.from_json(r.get_json()["confirmation"].encode()).verify(
        trusted=platform, expected_type="bid_withdrawal"
    )
    # the audit trail holds commitments, not the bidder
    evs = session.scalars(
        select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.action.in_(["bid.submit", "bid.withdraw"]))
    ).all()
    assert len(evs) == 3 and all(e.actor_id == "sealed" for e in evs)
    assert all(org.credit_code not in e.payload and org.name not in e.payload for e in evs)


def test_after_the_deadline_nothing_is_accepted(client: FlaskClient, session: Session, tender: dict[str, Any]) -> None:
    t = tender
    blob = seal_bid(t["b1"], t["code"], PRICE_SHEET)
    up = upload_bid(client, t["h1"], blob, t["code"], complete=False)  # all parts in, not completed
    accepted = upload_bid(client, t["h2"], seal_bid(t["b2"], t["code"], PRICE_SHEET), t["code"]).get_json()
    with clock.frozen(t["deadline"]):
        r = client.post(f"/api/v1/bids/uploads/{up['upload_id']}/complete", headers=t["h1"])
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "deadline_passed"
        r = upload_bid(client, t["h1"], blob, t["code"])
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "deadline_passed"
        org = t["b2"].user.organisation
        sig = base64.b64encode(
            t["b2"].sign_key.sign(bid_withdrawal_statement(t["code"], 1, org.credit_code, accepted["ciphertext_sm3"]))
        ).decode()
        r = client.post(f"/api/v1/bids/{accepted['ciphertext_sm3']}/withdraw", json={"signature": sig}, headers=t["h2"])
        assert r.status_code == 409
    assert session.scalar(select(func.count()).select_from(Bid).where(Bid.org_id == t["b1"].user.organisation_id)) == 0


def test_bad_input_named_and_nothing_stored(
    client: FlaskClient, session: Session, app: Flask, tender: dict[str, Any]
) -> None:
    t = tender
    code, h1 = t["code"], t["h1"]
    good = seal_bid(t["b1"], code, PRICE_SHEET)

    def init(blob: bytes, **over: Any) -> Any:
        body = {"tender": code, "lot": 1, "size": len(blob), "head": base64.b64encode(head_of(blob)).decode()} | over
        return client.post("/api/v1/bids/uploads", headers=h1, json=body)

    assert (
        init(good, head=base64.b64encode(b"%PDF-1.7 not an envelope......").decode()).get_json()["error"]["code"]
        == "not_an_envelope"
    )
    assert init(seal_bid(t["b1"], "GGZY-OTHER", PRICE_SHEET)).get_json()["error"]["code"] == "tender_mismatch"
    assert init(seal_bid(t["b1"], code, PRICE_SHEET, lot=2)).get_json()["error"]["code"] == "tender_mismatch"
    assert (
        init(seal_bid(t["b2"], code, PRICE_SHEET)).get_json()["error"]["code"] == "tender_mismatch"
    )  # another bidder's
    assert init(good, size=len(good) + 1).get_json()["error"]["code"] == "size_mismatch"
    assert init(good, lot=9).status_code == 404
    # a tampered header: the signature no longer verifies
    head = bytearray(head_of(good))
    i = head.index(b'"plaintext_size":') + len(b'"plaintext_size":')
    head[i] = ord("9") if head[i] != ord("9") else ord("8")
    assert init(good, head=base64.b64encode(bytes(head)).decode()).get_json()["error"]["code"] in (
        "header_signature_invalid",
        "not_an_envelope",
    )
    # parts out of order, repeated with other bytes, or not matching their digest
    up = init(good).get_json()
    url = f"/api/v1/bids/uploads/{up['upload_id']}/parts"
    r = client.put(f"{url}/2", data=good, headers=h1 | {"X-Prefix-SM3": sm3_hex(good)})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "part_out_of_order"
    r = client.put(f"{url}/1", data=good, headers=h1 | {"X-Prefix-SM3": "0" * 64})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "part_digest_mismatch"
    r = client.put(f"{url}/1", data=good[:-1], headers=h1 | {"X-Prefix-SM3": sm3_hex(good[:-1])})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "part_size"
    r = client.post(f"/api/v1/bids/uploads/{up['upload_id']}/complete", headers=h1)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "upload_incomplete"
    assert client.put(f"{url}/1", data=good, headers=h1 | {"X-Prefix-SM3": sm3_hex(good)}).status_code == 200
    assert client.put(f"{url}/1", data=good, headers=h1 | {"X-Prefix-SM3": sm3_hex(good)}).status_code == 200  # retry
    # another bidder cannot touch this upload
    assert client.post(f"/api/v1/bids/uploads/{up['upload_id']}/complete", headers=t["h2"]).status_code == 404
    # a revoked certificate is refused at init
    revoke_certificate(session, t["b1"].user, t["b1"].sign_cert, "UKey 遗失")
    session.commit()
    assert init(good).get_json()["error"]["code"] == "certificate_revoked"
    assert session.scalar(select(func.count()).select_from(Bid)) == 0


def test_unregistered_and_non_bidders_refused(
    client: FlaskClient, session: Session, app: Flask, tender: dict[str, Any]
) -> None:
    t = tender
    stranger = make_bidder_with_keys(session, app)
    session.commit()
    blob = seal_bid(stranger, t["code"], PRICE_SHEET)
    r = upload_bid(client, api_token(client, stranger.user.username), blob, t["code"])
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_registered"
    assert upload_bid(client, {}, blob, t["code"]).status_code == 401


def test_abandoned_uploads_are_swept(client: FlaskClient, session: Session, app: Flask, tender: dict[str, Any]) -> None:
    t = tender
    blob = seal_bid(t["b1"], t["code"], PRICE_SHEET)
    up = upload_bid(client, t["h1"], blob, t["code"], complete=False)
    staging = app.extensions["ggzy.settings"].instance / "uploads"
    assert (staging / f"{up['upload_id']}.part").exists()
    assert bid_uploads.abandon_expired(session, staging, clock.now() + dt.timedelta(hours=25)) == 1
    assert not (staging / f"{up['upload_id']}.part").exists()


def test_one_upload_that_cannot_be_abandoned_holds_up_no_other(
    client: FlaskClient, session: Session, app: Flask, tender: dict[str, Any]
) -> None:
    """Failed before: the sweep abandoned every expired upload in one transaction, so one staged
    file that could not be deleted left every other upload open (and its bytes on disk)."""
    t = tender
    ups = [
        upload_bid(client, t[h], seal_bid(t[b], t["code"], PRICE_SHEET), t["code"], complete=False)
        for b, h in (("b1", "h1"), ("b2", "h2"))
    ]
    staging = app.extensions["ggzy.settings"].instance / "uploads"
    stuck = staging / f"{ups[0]['upload_id']}.part"
    stuck.unlink()
    stuck.mkdir()  # unlink() of a directory raises: this upload cannot be abandoned
    later = clock.now() + dt.timedelta(hours=25)
    assert bid_uploads.abandon_expired(session, staging, later) == 1
    states = {
        u.id: u.state
        for u in session.scalars(
            select(BidUpload)
            .where(BidUpload.id.in_([u["upload_id"] for u in ups]))
            .execution_options(populate_existing=True)
        )
    }
    assert states == {ups[0]["upload_id"]: UploadState.OPEN, ups[1]["upload_id"]: UploadState.ABANDONED}
    assert not (staging / f"{ups[1]['upload_id']}.part").exists()
    stuck.rmdir()
    assert bid_uploads.abandon_expired(session, staging, later) == 1  # the next sweep takes it


def test_bidder_pages(client: FlaskClient, session: Session, app: Flask, tender: dict[str, Any]) -> None:
    from tests.factories import csrf_from, page_login

    t = tender
    bid = upload_bid(client, t["h1"], seal_bid(t["b1"], t["code"], PRICE_SHEET), t["code"]).get_json()
    c = app.test_client()
    page_login(c, t["b1"].user.username)
    html = c.get("/my/bids").get_data(as_text=True)
    assert t["code"] in html and bid["ciphertext_sm3"][:16] in html and "有效" in html
    receipt = c.get(f"/my/bids/{bid['ciphertext_sm3']}/receipt.json").data
    other = app.test_client()
    page_login(other, t["b2"].user.username)
    assert bid["ciphertext_sm3"][:16] not in other.get("/my/bids").get_data(as_text=True)
    assert other.get(f"/my/bids/{bid['ciphertext_sm3']}/receipt.json").status_code == 404
    pub = app.test_client()
    token = csrf_from(pub.get("/receipts/verify").get_data(as_text=True))
    r = pub.post("/receipts/verify", data={"csrf_token": token, "receipt_text": receipt.decode()})
    assert r.status_code == 200 and "回执有效" in r.get_data(as_text=True)
    r = pub.post(
        "/receipts/verify",
        data={"csrf_token": token, "receipt_text": receipt.decode().replace('"signature":"', '"signature":"AA')},
    )
    assert r.status_code == 422 and "回执无效" in r.get_data(as_text=True)
