"""Item 5 and 6 of issue 17: before the deadline no one reading the audit trail (staff, supervisors,
through the audit API and page) can tie a bidder's step to the tender or to its other steps; after
the deadline every sealed event opens; and every read of the tender documents by the tenderee,
staff or a supervisor is an event naming the reader and the document's SM3."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import Counter
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import (
    api_token,
    make_bidder_with_keys,
    make_signer,
    make_user,
    page_login,
    seal_bid,
    tender_body,
    upload,
    upload_bid,
)
from trading.accounts.models import Role
from trading.core.platform_keys import key_encryption_key
from trading.tenders.models import Tender
from trading.tenders.operations import close_due
from trading.tenders.sealed import reveal_due, verify_opening

DOC = b"%PDF-1.7 tender documents for the sealed trail"


@dataclasses.dataclass
class Setup:
    code: str
    tender_id: int
    doc_id: int
    doc_sm3: str
    deadline: dt.datetime
    staff: Any
    supervisor: Any
    tenderee: Any
    bidders: list[Any]


def published(client: FlaskClient, session: Session, app: Flask) -> Setup:
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff, supervisor = make_user(session, Role.STAFF), make_user(session, Role.SUPERVISOR)
    bidders = [make_bidder_with_keys(session, app) for _ in range(2)]
    session.commit()
    ht = api_token(client, tenderee.user.username)
    deadline = clock.now() + dt.timedelta(days=25)
    code = client.post("/api/v1/tenders", json=tender_body(deadline), headers=ht).get_json()["code"]
    doc = upload(client, ht, tenderee, code, "招标文件.pdf", DOC).get_json()
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username)).status_code == 200
    tender_id = session.scalars(select(Tender.id).where(Tender.code == code)).one()
    return Setup(code, tender_id, doc["id"], doc["sm3"], deadline, staff, supervisor, tenderee.user, bidders)


def bidder_steps(client: FlaskClient, s: Setup, b: Any) -> None:
    h = api_token(client, b.user.username)
    assert client.post(f"/api/v1/tenders/{s.code}/interest", headers=h).status_code == 201
    for _ in range(2):
        assert client.get(f"/api/v1/tenders/{s.code}/documents/{s.doc_id}", headers=h).status_code == 200
    r = client.post(f"/api/v1/tenders/{s.code}/questions", json={"text": "工期能否顺延十天？"}, headers=h)
    assert r.status_code == 201
    assert upload_bid(client, h, seal_bid(b, s.code, b'{"price": "1000000.00"}'), s.code).status_code == 201


def trail(client: FlaskClient, user: Any) -> list[dict[str, Any]]:
    h = api_token(client, user.username)
    items: list[dict[str, Any]] = []
    while True:
        after = items[-1]["seq"] if items else 0
        r = client.get(f"/api/v1/audit/events?after={after}&limit=1000", headers=h)
        assert r.status_code == 200
        page = r.get_json()["items"]
        if not page:
            return items
        items += page


def values(e: dict[str, Any]) -> list[str]:
    """Every value an event shows a reader, but the neutral actor and the action."""
    out = [e["object"]]

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif v is not None:
            out.append(str(v))

    walk(json.loads(e["payload"]))
    return out


def test_the_trail_links_no_bidder_step_to_the_tender_or_to_another(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    s = published(client, session, app)
    start = trail(client, s.staff)[-1]["seq"]
    for b in s.bidders:
        bidder_steps(client, s, b)

    for reader in (s.staff, s.supervisor):
        events = [e for e in trail(client, reader) if e["seq"] > start]
        # each bidder: register, two downloads, a question, a bid; its only named events are logins
        sealed = [e for e in events if e["actor"] == "sealed"]
        assert len(sealed) == 10, [(e["actor"], e["action"]) for e in events]
        assert {e["action"] for e in events if e["role"] == "bidder" and e["actor"] != "sealed"} <= {
            "auth.login",
            "session.open.api",
        }
        for e in events:
            if e["role"] == "bidder":
                text = json.dumps(e, ensure_ascii=False)
                assert s.code not in text and s.doc_sm3 not in text, e
                assert not e["object"].startswith(("tender:", "question:", "tender_document:", "interest:")), e
        # no value of a sealed event shows up in any other event of the trail (no stable pseudonym,
        # no public value such as the document's SM3 that the tender page shows)
        counts = Counter(v for e in events for v in set(values(e)))
        repeated = [(e["action"], v) for e in sealed for v in values(e) if counts[v] > 1]
        assert repeated == [], repeated
    # the audit page shows actor and object: the same neutral actor, an object never repeated
    page_login(client, s.supervisor.username)
    page = client.get("/audit?actor=sealed").get_data(as_text=True)
    shown = re.findall(r"<td>投标人（身份密封至投标截止）</td>\s*<td><span[^>]*>[^<]*</span> · ([^<]+)<details>", page)
    assert len(shown) == 10 and len(set(shown)) == 10
    assert not re.findall(r"sealed:", page)  # no pseudonym as the actor

    # after the deadline every sealed event opens, and anyone can check it
    kek = key_encryption_key(app.extensions["ggzy.settings"])

    with clock.frozen(s.deadline + dt.timedelta(seconds=1)):
        close_due(session, clock.now())
        assert reveal_due(session, kek, clock.now()) == 8  # the bids open through their receipts
        session.commit()
        assert reveal_due(session, kek, clock.now()) == 0  # once
    events = trail(client, s.supervisor)
    reveal = [e for e in events if e["action"] == "sealed.reveal"]
    assert len(reveal) == 1 and reveal[0]["object"] == f"tender:{s.tender_id}"
    openings = {o["commitment"]: o for o in json.loads(reveal[0]["payload"])["openings"]}
    sealed = [e for e in events if e["actor"] == "sealed" and e["action"] not in ("bid.submit", "bid.withdraw")]
    assert len(sealed) == 8
    codes = {b.user.organisation.credit_code for b in s.bidders}
    for e in sealed:
        c = json.loads(e["payload"])["commitment"]
        o = openings[c]
        assert verify_opening(o) and e["object"] == f"sealed:{c[:32]}"
        assert o["facts"]["action"] == e["action"] and o["facts"]["tender"] == s.code
        assert o["facts"]["bidder"] in codes
        if e["action"] == "tender_document.download":
            assert o["facts"]["sm3"] == s.doc_sm3
    forged = {**next(iter(openings.values()))}
    forged["facts"] = {**forged["facts"], "bidder": "91350100000000000X"}
    assert not verify_opening(forged)


def test_every_read_of_the_documents_by_the_platform_side_is_recorded(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    s = published(client, session, app)
    for reader, role in ((s.tenderee, "manager"), (s.staff, "staff"), (s.supervisor, "supervisor")):
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        r = client.get(f"/api/v1/tenders/{s.code}/documents/{s.doc_id}", headers=api_token(client, reader.username))
        assert r.status_code == 200 and r.data == DOC
        session.expire_all()
        reads = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.action == "tender_document.read")
        ).all()
        assert len(reads) == 1, role
        e = reads[0]
        assert e.actor_id == reader.actor_id and e.object_id == str(s.doc_id)
        payload = json.loads(e.payload)
        assert payload["sm3"] == s.doc_sm3 and payload["as"] == role
    # the page's download link goes through the same operation
    page_login(client, s.staff.username)
    before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert client.get(f"/tenders/{s.code}/documents/{s.doc_id}").status_code == 200
    session.expire_all()
    assert session.scalars(
        select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.action == "tender_document.read")
    ).all()
