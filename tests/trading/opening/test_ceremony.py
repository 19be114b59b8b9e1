"""The opening ceremony's rules, on SQLite and PostgreSQL, through the API a real client uses:
sign-in, key release, decryption by the worker, 撤销/撤回 classification, the price reading published
at once, the signed record and its PDF, confirmation, objections, and a lot that fails (流标)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.certs import Certificate
from signing.digest import sm3_hex
from signing.envelope import DEFAULT_CHUNK, read_header
from signing.price_sheet import FILENAME, build_price_sheet
from signing.sm2 import PublicKey
from signing.statements import (
    SignedStatement,
    ceremony_decrypt_statement,
    ceremony_signin_statement,
    record_confirmation_statement,
)
from tests.factories import (
    BidderKeys,
    api_token,
    lot_body,
    make_bidder_with_keys,
    make_signer,
    make_user,
    seal_bid,
    tender_body,
    upload,
    upload_bid,
)
from trading.accounts.models import Role
from trading.core.formats import amount_in_words
from trading.core.services import services
from trading.opening.decryption import run_pending
from trading.tenders.models import Announcement, AnnouncementKind

DECLARED = [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}]


def bid_package(code: str, price: str, filler: bytes = b"", lot: int = 1) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(FILENAME, build_price_sheet(code, lot, price, {"duration_days": "300"}, DECLARED))
        z.writestr("技术标.txt", "施工组织设计".encode())
        if filler:
            z.writestr(zipfile.ZipInfo("附件/图纸.bin"), filler)  # stored: the size is the bid's size
    return out.getvalue()


def open_tender(
    client: FlaskClient, session: Session, app: Flask, n: int, filler: bytes = b"", **lot: Any
) -> dict[str, Any]:
    """A published tender with ``n`` sealed bids (prices 9,000,000.00 + 1,000 × i), before its deadline;
    ``lot`` overrides fields of its one lot."""
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff = make_user(session, Role.STAFF)
    bidders = [make_bidder_with_keys(session, app) for _ in range(n)]
    outsider = make_bidder_with_keys(session, app)
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(lots=[lot_body(**lot)]), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    hs = api_token(client, staff.username)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
    headers = [api_token(client, b.user.username) for b in bidders]
    blobs = []
    for i, (b, h) in enumerate(zip(bidders, headers, strict=True)):
        client.post(f"/api/v1/tenders/{code}/interest", headers=h)
        blob = seal_bid(b, code, bid_package(code, f"{9_000_000 + i * 1000}.00", filler), chunk_size=DEFAULT_CHUNK)
        assert upload_bid(client, h, blob, code).status_code == 201
        blobs.append(blob)
    deadline = dt.datetime.fromisoformat(client.get(f"/api/v1/tenders/{code}").get_json()["bid_deadline"])
    ceremonies = client.get(f"/api/v1/tenders/{code}/ceremonies").get_json()["items"]
    assert len(ceremonies) == 1 and ceremonies[0]["stage"] == "scheduled"
    assert "bidders" not in ceremonies[0]  # before the deadline nothing about the bids, not even a count
    return {
        "code": code,
        "cid": ceremonies[0]["id"],
        "bidders": bidders,
        "headers": headers,
        "blobs": blobs,
        "staff": hs,
        "staff_username": staff.username,
        "tenderee": ht,
        "tenderee_username": tenderee.user.username,
        "tenderee_signer": tenderee,
        "outsider": api_token(client, outsider.user.username),
        "deadline": deadline,
    }


def signin_sig(b: BidderKeys, cid: int, code: str, lot: int = 1) -> str:
    assert b.user.organisation is not None
    statement = ceremony_signin_statement(cid, code, lot, b.user.organisation.credit_code)
    return base64.b64encode(b.sign_key.sign(statement)).decode()


def all_released(client: FlaskClient, t: dict[str, Any]) -> None:
    """Every bidder signs in, staff move to the decryption window, every bidder releases its key
    (the clock frozen just after the deadline)."""
    cid, code, H = t["cid"], t["code"], t["headers"]
    room = f"/api/v1/ceremonies/{cid}"
    for i, b in enumerate(t["bidders"]):
        client.post(f"{room}/signin", json={"signature": signin_sig(b, cid, code)}, headers=H[i])
    client.post(f"{room}/advance", headers=t["staff"])
    client.post(f"{room}/advance", headers=t["staff"])
    for i in range(len(t["bidders"])):
        assert release(client, t, i).status_code == 202


def release(client: FlaskClient, t: dict[str, Any], i: int, key: bytes | None = None) -> Any:
    """What `ggzy-bid decrypt` does: unwrap locally, re-wrap to the signed ceremony key, sign."""
    return release_to(client, t["cid"], t["bidders"][i], t["blobs"][i], t["headers"][i], key)


def release_to(
    client: FlaskClient, cid: int, b: BidderKeys, blob: bytes, headers: dict[str, str], key: bytes | None = None
) -> Any:
    got = client.get(f"/api/v1/ceremonies/{cid}/key").get_json()
    platform = Certificate.from_pem(
        client.get("/api/v1/platform/certificates").get_json()["signing_certificate"].encode()
    )
    body = SignedStatement.from_json(got["statement"].encode()).verify(trusted=platform, expected_type="ceremony_key")
    assert body["body"]["public_key"] == got["public_key"]
    content_key = key if key is not None else read_header(io.BytesIO(blob)).unwrap_key(b.enc_key)
    wrapped = PublicKey.from_point(bytes.fromhex(got["public_key"])).encrypt(content_key)
    assert b.user.organisation is not None
    statement = ceremony_decrypt_statement(cid, b.user.organisation.credit_code, sm3_hex(blob), sm3_hex(wrapped))
    return client.post(
        f"/api/v1/ceremonies/{cid}/decrypt",
        json={
            "wrapped_key": base64.b64encode(wrapped).decode(),
            "signature": base64.b64encode(b.sign_key.sign(statement)).decode(),
        },
        headers=headers,
    )


def _signin(client: FlaskClient, t: dict[str, Any], i: int, headers: dict[str, str] | None = None) -> Any:
    body = {"signature": signin_sig(t["bidders"][i], t["cid"], t["code"])}
    return client.post(f"/api/v1/ceremonies/{t['cid']}/signin", json=body, headers=headers or t["headers"][i])


def test_a_whole_ceremony(client: FlaskClient, session: Session, app: Flask) -> None:
    """The one path over the API, six bidders: one never signs in, one releases the wrong key, one
    bid damaged in storage; the reading, the signed record, a confirmation, an objection answered,
    the close. The refusals on the way have their own tests below."""
    t = open_tender(client, session, app, 6)
    cid, H = t["cid"], t["headers"]
    room = f"/api/v1/ceremonies/{cid}"
    # bidder 5's stored ciphertext is damaged after its receipt: the platform's fault
    damaged = bytearray(t["blobs"][5])
    damaged[-40] ^= 1
    from trading.bids.models import Bid

    bid5 = session.scalar(select(Bid).where(Bid.ciphertext_sm3 == sm3_hex(t["blobs"][5])))
    assert bid5 is not None
    bid5.object_key = services(app).store.put_bytes(bytes(damaged)).key
    session.commit()
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        st = client.get(room).get_json()
        assert st["stage"] == "sign_in" and len(st["bidders"]) == 6
        for i in (0, 1, 2, 3, 5):  # bidder 4 never signs in
            r = _signin(client, t, i)
            assert r.status_code == 200, r.get_json()
    with clock.frozen(t["deadline"] + dt.timedelta(minutes=31)):
        assert client.get(room).get_json()["stage"] == "bidders"
        assert client.post(f"{room}/advance", headers=t["staff"]).get_json()["stage"] == "decrypting"
        for i in (0, 1, 2, 5):
            assert release(client, t, i).status_code == 202
        assert release(client, t, 3, key=b"\x00" * 16).status_code == 202  # the wrong key
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 5
        # the wrong key may be retried within the window; bidder 3 does not
        r = client.post(f"{room}/extend", json={"minutes": 5, "reason": "投标人申请延长"}, headers=t["staff"])
        assert r.status_code == 200
    with clock.frozen(t["deadline"] + dt.timedelta(minutes=31 + 36)):
        st = client.get(room).get_json()
        assert st["stage"] == "reading"
        rows = {r["credit_code"]: r for r in st["table"]}
        codes = [b.user.organisation.credit_code for b in t["bidders"]]
        assert [rows[codes[i]]["price"] for i in (0, 1, 2)] == ["9000000.00", "9001000.00", "9002000.00"]
        assert (rows[codes[3]]["outcome"], rows[codes[3]]["reason"]) == ("revoked", "wrong_key")  # 撤销
        assert (rows[codes[4]]["outcome"], rows[codes[4]]["reason"]) == ("revoked", "not_signed_in")  # 撤销
        assert (rows[codes[5]]["outcome"], rows[codes[5]]["reason"]) == ("withdrawn", "storage_corrupt")  # 撤回
        assert rows[codes[3]]["price"] is None
        # the codes stay; the words a person reads come with them, from the one table of each
        assert (
            rows[codes[1]]["price_label"] == "9,001,000.00" and rows[codes[1]]["fields_label"] == "工期（日历天）：300"
        )
        assert (
            rows[codes[3]]["outcome_label"].startswith("撤销")
            and rows[codes[3]]["reason_label"] == "提交的密钥不能解密投标文件"
        )
        assert rows[codes[5]]["outcome_label"].startswith("撤回") and "存储" in rows[codes[5]]["reason_label"]
        st = client.post(f"{room}/advance", headers=t["staff"]).get_json()
        assert st["stage"] == "confirming" and st["record_sm3"]
        # the record: platform-signed, its JSON and PDF named by digest
        sig = SignedStatement.from_json(client.get(f"{room}/record.sig").data)
        platform = Certificate.from_pem(
            client.get("/api/v1/platform/certificates").get_json()["signing_certificate"].encode()
        )
        body = sig.verify(trusted=platform, expected_type="opening_record")["body"]
        record_json = client.get(f"{room}/record.json").data
        pdf = client.get(f"{room}/record.pdf").data
        assert body["record_sm3"] == sm3_hex(record_json) == st["record_sm3"] and body["pdf_sm3"] == sm3_hex(pdf)
        from pypdf import PdfReader

        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "开标记录" in text and "9,001,000.00" in text and "撤回" in text and "撤销" in text
        flat = text.replace("\n", "")  # narrow cells wrap
        assert amount_in_words("9001000.00") in flat and "平台存储的投标文件已损坏" in flat  # 大写; reasons in words
        assert "（北京时间）" in text and "+00:00" not in text
        # confirm, object, chat
        conf = record_confirmation_statement(cid, codes[0], st["record_sm3"])
        r = client.post(
            f"{room}/confirm",
            json={"signature": base64.b64encode(t["bidders"][0].sign_key.sign(conf)).decode()},
            headers=H[0],
        )
        assert r.status_code == 200 and r.get_json()["me"]["confirmation"] == "signed"
        r = client.post(f"{room}/objections", json={"text": "我方工期填写为300天，请核实唱标"}, headers=H[1])
        assert r.status_code == 201
        oid = r.get_json()["id"]
        assert client.post(f"{room}/messages", json={"text": "请主持人确认"}, headers=H[1]).status_code == 201
    with clock.frozen(t["deadline"] + dt.timedelta(minutes=31 + 36 + 40)):
        assert client.get(room).get_json()["stage"] == "confirming"  # an open objection holds the close
        r = client.post(
            f"{room}/objections/{oid}/answer", json={"answer": "经核实唱标无误，工期为300天"}, headers=t["staff"]
        )
        assert r.status_code == 200
        st = client.get(room).get_json()
        assert st["stage"] == "closed" and st["final_record_sm3"]
        final = json.loads(client.get(f"{room}/record.json?final=1").data)
        kinds = {b["credit_code"]: b["confirmation"]["kind"] for b in final["bidders"]}
        assert kinds[codes[0]] == "signed" and kinds[codes[1]] == kinds[codes[2]] == "deemed"
        assert final["objections"][0]["answer"] == "经核实唱标无误，工期为300天"
        assert final["confirmed_record_sm3"] == st["record_sm3"]
    # the chat went to the host only; the public saw the stages but never a bidder's message
    public = client.get(f"{room}/events?once=1").get_json()["items"]
    assert not any(e["kind"] in ("chat", "objection") for e in public)
    staff_view = client.get(f"{room}/events?once=1", headers=t["staff"]).get_json()["items"]
    assert any(e["kind"] == "chat" and e["text"] == "请主持人确认" for e in staff_view)
    from trading.opening.models import Ceremony

    c = session.get(Ceremony, cid)
    session.refresh(c)
    assert c is not None and c.private_key is None  # destroyed at the close


def test_sign_in_is_for_a_bidder_at_the_deadline_with_its_own_signature(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    room = f"/api/v1/ceremonies/{t['cid']}"
    r = _signin(client, t, 0)  # before the deadline: no sign-in
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_a_bidder"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        for i in (0, 1):  # bidder 2 has not signed in yet
            assert _signin(client, t, i).status_code == 200
        r = _signin(client, t, 0, t["outsider"])
        assert r.status_code == 403
        r = _signin(client, t, 0, t["headers"][2])  # bidder 0's signature, sent by bidder 2
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_signature"
        assert client.post(f"{room}/advance", headers=t["headers"][0]).status_code == 403
        r = client.post(f"{room}/advance", headers=t["staff"])
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "stage_not_done"  # bidder 2 may still sign in
        assert release(client, t, 0).status_code == 409  # not the decryption window yet


def test_no_price_is_shown_while_a_bid_is_still_decrypting(client: FlaskClient, session: Session, app: Flask) -> None:
    """Four bidders, the fourth never signs in: a pause and a resume, a key refused to the one not
    signed in, a wrong key; no price anywhere while it may be retried, and the window holds."""
    t = open_tender(client, session, app, 4)
    room = f"/api/v1/ceremonies/{t['cid']}"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        for i in (0, 1, 2):
            assert _signin(client, t, i).status_code == 200
    with clock.frozen(t["deadline"] + dt.timedelta(minutes=31)):
        assert client.get(room).get_json()["stage"] == "bidders"
        r = client.post(f"{room}/pause", json={"reason": "网络故障排查"}, headers=t["staff"])
        assert r.get_json()["paused"] and r.get_json()["ends_at"] is None
        assert client.post(f"{room}/resume", headers=t["staff"]).get_json()["paused"] is False
        assert client.post(f"{room}/advance", headers=t["staff"]).get_json()["stage"] == "decrypting"
        for i in (0, 1):
            assert release(client, t, i).status_code == 202
        assert release(client, t, 2, key=b"\x00" * 16).status_code == 202  # the wrong key
        assert release(client, t, 3).get_json()["error"]["code"] == "not_signed_in"
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 3
        st = client.get(room).get_json()
        assert "table" not in st  # no price is shown while others are still decrypting
        events = client.get(f"{room}/events?once=1").get_json()["items"]
        assert not any("9000000" in json.dumps(e) for e in events)
        r = client.post(f"{room}/advance", headers=t["staff"])
        assert r.status_code == 409


def test_the_record_takes_short_messages_and_answers_from_the_host_only(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    room, H = f"/api/v1/ceremonies/{t['cid']}", t["headers"]
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        all_released(client, t)
        run_pending(app.extensions["ggzy.db"], services(app))
    with clock.frozen(t["deadline"] + dt.timedelta(hours=1)):
        assert client.get(room).get_json()["stage"] == "reading"
        assert client.post(f"{room}/advance", headers=t["staff"]).get_json()["stage"] == "confirming"
        r = client.post(f"{room}/objections", json={"text": "我方工期填写为300天，请核实唱标"}, headers=H[1])
        oid = r.get_json()["id"]
        assert client.post(f"{room}/messages", json={"text": "x" * 301}, headers=H[1]).status_code == 422
        assert (
            client.post(f"{room}/objections/{oid}/answer", json={"answer": "已核实"}, headers=H[0]).status_code == 403
        )


def test_fewer_than_three_bids_fail_without_opening(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 2)
    room = f"/api/v1/ceremonies/{t['cid']}"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        st = client.get(room).get_json()
        assert st["stage"] == "failed" and "bidders" not in st
        r = client.post(
            f"{room}/signin",
            json={"signature": signin_sig(t["bidders"][0], t["cid"], t["code"])},
            headers=t["headers"][0],
        )
        assert r.status_code == 403  # no seats: nothing is opened
        assert release(client, t, 0).status_code == 403
    session.expire_all()
    draft = session.scalar(select(Announcement).where(Announcement.kind == AnnouncementKind.FAILURE))
    assert draft is not None and "流标" in draft.title
    from trading.opening.models import DecryptionJob

    assert session.scalar(select(DecryptionJob)) is None


@pytest.mark.parametrize("path", ["/ceremonies/{cid}", "/api/v1/ceremonies/{cid}"])
def test_room_page_and_state_answer_everyone(client: FlaskClient, session: Session, app: Flask, path: str) -> None:
    t = open_tender(client, session, app, 3)
    r = client.get(path.format(cid=t["cid"]))
    assert r.status_code == 200
    assert (
        ("开标室" in r.get_data(as_text=True))
        if path.startswith("/ceremonies")
        else r.get_json()["stage"] == "scheduled"
    )
