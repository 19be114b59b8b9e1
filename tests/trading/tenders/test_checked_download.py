"""Issue 17 item 6 follow-up: a tender document is served only as the bytes its read event names.
With a bit flipped in the stored object, staff and registered bidders got 200 and the whole damaged
file, whose SM3 differed from the one ``tender_document.read`` (or the sealed download) names."""

from __future__ import annotations

import io
import json
import os
import pathlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditEvent
from signing.digest import sm3_hex
from tests.factories import api_token, make_bidder_with_keys, make_signer, make_user, page_login, tender_body, upload
from trading.accounts.models import Role
from trading.core.checked_download import DamagedDownload, checked_chunks
from trading.core.platform_keys import key_encryption_key
from trading.core.services import object_store
from trading.tenders.models import SealedOpening
from trading.tenders.sealed import open_box


def published(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    """A published tender with one document of bytes no other test stores (content addressing)."""
    import datetime as dt

    from archive import clock

    tenderee = make_signer(session, app, Role.TENDEREE)
    staff, bidder = make_user(session, Role.STAFF), make_bidder_with_keys(session, app)
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(clock.now() + dt.timedelta(days=25)), headers=ht).get_json()[
        "code"
    ]
    data = b"%PDF-1.7 " + uuid.uuid4().hex.encode() * 50_000  # ~1.6 MB: more than one chunk
    doc = upload(client, ht, tenderee, code, "招标文件.pdf", data).get_json()
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username)).status_code == 200
    return {"code": code, "doc": doc, "data": data, "staff": staff, "bidder": bidder}


@contextmanager
def flipped_bit(app: Flask, data: bytes) -> Iterator[bytes]:
    """The stored object with one bit flipped (filesystem store), restored afterwards."""
    store = object_store(app)
    if not hasattr(store, "root"):
        pytest.skip("the bit is flipped in the filesystem store's file")
    digest = sm3_hex(data)
    path = pathlib.Path(store.root) / "sm3" / digest[:2] / digest
    mode = path.stat().st_mode
    os.chmod(path, 0o644)
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    try:
        yield bytes(damaged)
    finally:
        path.write_bytes(data)
        os.chmod(path, mode)


def events_after(session: Session, seq: int, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq, AuditEvent.action == action)).all())


def last_seq(session: Session) -> int:
    return session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0


def test_a_damaged_document_breaks_the_staff_download_and_is_recorded(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = published(client, session, app)
    url = f"/api/v1/tenders/{t['code']}/documents/{t['doc']['id']}"
    h = api_token(client, t["staff"].username)
    before = last_seq(session)
    with flipped_bit(app, t["data"]) as damaged:
        # The stream raises before its last chunk (here, as the body is read): the server aborts
        # the response, so the client gets less than its Content-Length, never the whole file.
        with pytest.raises(DamagedDownload):
            client.get(url, headers=h).get_data()
        page_login(client, t["staff"].username)
        with pytest.raises(DamagedDownload):
            client.get(f"/tenders/{t['code']}/documents/{t['doc']['id']}").get_data()
    events = events_after(session, before, "tender_document.read_damaged")
    assert len(events) == 2  # API and page alike
    for e in events:
        assert e.actor_id == t["staff"].actor_id and e.object_id == str(t["doc"]["id"])
        payload = json.loads(e.payload)
        assert payload["expected_sm3"] == t["doc"]["sm3"] and payload["served_sm3"] == sm3_hex(damaged)
        assert payload["as"] == "staff" and payload["size"] == len(damaged)
    # the read itself was recorded (committed before the first byte) as before
    assert len(events_after(session, before, "tender_document.read")) == 2
    # repaired, the document downloads whole again
    r = client.get(url, headers=h)
    assert r.status_code == 200 and r.data == t["data"]


def test_a_damaged_document_breaks_a_bidders_download_and_the_record_stays_sealed(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = published(client, session, app)
    h = api_token(client, t["bidder"].user.username)
    assert client.post(f"/api/v1/tenders/{t['code']}/interest", headers=h).status_code == 201
    before = last_seq(session)
    with flipped_bit(app, t["data"]) as damaged, pytest.raises(DamagedDownload):
        client.get(f"/api/v1/tenders/{t['code']}/documents/{t['doc']['id']}", headers=h).get_data()
    [e] = events_after(session, before, "tender_document.read_damaged")
    # before the deadline the trail names neither the bidder nor the tender nor the document
    assert e.actor_id == "sealed" and e.object_type == "sealed"
    text = json.dumps([e.object_id, e.payload])
    for secret in (t["code"], t["doc"]["sm3"], sm3_hex(damaged), t["bidder"].user.organisation.credit_code):
        assert secret not in text
    assert set(json.loads(e.payload)) == {"commitment"}
    # its opening (published after the deadline with the others) says who read what
    c = json.loads(e.payload)["commitment"]
    row = session.scalars(select(SealedOpening).where(SealedOpening.commitment == c)).one()
    facts = open_box(key_encryption_key(app.extensions["ggzy.settings"]), row)["facts"]
    assert facts["action"] == "tender_document.read_damaged" and facts["tender"] == t["code"]
    assert facts["bidder"] == t["bidder"].user.organisation.credit_code
    assert facts["document"] == t["doc"]["id"] and facts["expected_sm3"] == t["doc"]["sm3"]
    assert facts["served_sm3"] == sm3_hex(damaged) and facts["user"] == t["bidder"].user.id


def test_an_intact_document_downloads_whole_with_its_sm3(client: FlaskClient, session: Session, app: Flask) -> None:
    t = published(client, session, app)
    h = api_token(client, t["bidder"].user.username)
    assert client.post(f"/api/v1/tenders/{t['code']}/interest", headers=h).status_code == 201
    before = last_seq(session)
    for headers in (h, api_token(client, t["staff"].username)):
        r = client.get(f"/api/v1/tenders/{t['code']}/documents/{t['doc']['id']}", headers=headers)
        assert r.status_code == 200 and r.data == t["data"]
        assert sm3_hex(r.data) == t["doc"]["sm3"] == r.headers["X-Content-SM3"]
        assert r.headers["Content-Length"] == str(len(t["data"]))
    assert events_after(session, before, "tender_document.read_damaged") == []


def test_an_object_longer_than_recorded_never_sends_more_than_its_size() -> None:
    """Content-Length is the recorded size: a stored object that grew is cut off at the overrun."""
    data = b"x" * (3 << 20)
    seen: list[tuple[str, int]] = []
    sent = bytearray()
    with pytest.raises(DamagedDownload):
        for chunk in checked_chunks(
            io.BytesIO(data + b"tail"), sm3_hex(data), len(data), "test object", lambda s, n: seen.append((s, n))
        ):
            sent += chunk
    assert len(sent) < len(data) and data.startswith(bytes(sent))
    assert len(seen) == 1 and seen[0][1] > len(data)
