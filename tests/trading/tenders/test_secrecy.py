"""招标投标法第二十二条 and the sealed bids: who registered, downloaded the documents or bid — names or count —
must not be learnable by anyone else before the opening, from any route or the public feed."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

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
from trading.accounts.models import Organisation, Role

VOLATILE = [
    (re.compile(r'name="csrf_token" value="[^"]+"'), 'name="csrf_token" value=""'),
    (re.compile(r'"server_time":\s*"[^"]+"'), '"server_time":""'),
    (re.compile(r'"publishedDate":\s*"[^"]+"'), '"publishedDate":""'),  # an OCDS package's making time
    (re.compile(r'data-server="[^"]+"'), 'data-server=""'),
    (re.compile(r'nonce="[^"]+"'), 'nonce=""'),  # the CSP script nonce, fresh per response
    (re.compile(r"现在 \d{4}-\d{2}-\d{2} \d{2}:\d{2}"), "现在"),  # the timeline's "now" marker
    (re.compile(r'(<span id="server-time"[^>]*>)[^<]*'), r"\1"),  # the monitor's clock, to the second
]


def normalise(body: str) -> str:
    for rx, repl in VOLATILE:
        body = rx.sub(repl, body)
    return body


def get_routes(app: Flask, code: str, ids: dict[str, int]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        url = rule.rule.replace("<code>", code)
        for name, value in ids.items():
            url = url.replace(f"<int:{name}>", str(value))
        url = re.sub(r"<int:[^>]+>", "1", url)
        url = re.sub(r"<[^>]+>", "2027-01-01", url)
        urls.append(url)
    return sorted(urls)


def snapshot(app: Flask, viewers: dict[str, Any], urls: list[str]) -> dict[tuple[str, str], tuple[int, str]]:
    out = {}
    for who, auth in viewers.items():
        client = app.test_client()
        headers: dict[str, str] = {}
        if auth is not None:
            page_login(client, auth.username)
            headers = api_token(client, auth.username)
        for url in urls:
            if url.startswith("/api/v1/audit"):
                continue  # audit entries are checked separately below
            r = client.get(url, headers=headers if url.startswith("/api/") else {})
            out[(who, url)] = (r.status_code, normalise(r.get_data(as_text=True)))
            r.close()  # a static file's response holds its file open until closed
    return out


def register_download_and_bid(client: FlaskClient, bidder: Any, code: str, doc_id: int) -> None:
    h = api_token(client, bidder.user.username)
    assert client.post(f"/api/v1/tenders/{code}/interest", headers=h).status_code == 201
    assert client.get(f"/api/v1/tenders/{code}/documents/{doc_id}", headers=h).status_code == 200
    assert upload_bid(client, h, seal_bid(bidder, code, b'{"price": "1000000.00"}'), code).status_code == 201


def test_no_route_reveals_who_or_how_many(app: Flask, client: FlaskClient, session: Session) -> None:
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff, supervisor = make_user(session, Role.STAFF), make_user(session, Role.SUPERVISOR)
    admin, outsider = make_user(session, Role.ADMIN), make_user(session, Role.BIDDER)
    keys = [make_bidder_with_keys(session, app) for _ in range(3)]
    bidders = [k.user for k in keys]
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    doc_id = upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF-1.7 tender documents").get_json()["id"]
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username)).status_code == 200
    ann_id = client.get(f"/api/v1/tenders/{code}").get_json()["announcements"][0]["id"]

    register_download_and_bid(client, keys[0], code, doc_id)
    seq_before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))

    viewers = {
        "public": None,
        "tenderee": tenderee.user,
        "staff": staff,
        "supervisor": supervisor,
        "admin": admin,
        "other_bidder": outsider,
    }
    cid = client.get(f"/api/v1/tenders/{code}/ceremonies").get_json()["items"][0]["id"]
    app.config["LIVE_STREAM_SECONDS"] = 0  # the room's event streams poll once, then end
    urls = get_routes(app, code, {"document_id": doc_id, "ann_id": ann_id, "ceremony_id": cid})
    assert any("feed" in u for u in urls) or any("announcements" in u for u in urls)
    first = snapshot(app, viewers, urls)

    for k in keys[1:]:
        register_download_and_bid(client, k, code, doc_id)
    second = snapshot(app, viewers, urls)
    app.config.pop("LIVE_STREAM_SECONDS")

    # /account lists this test's own login tokens; /audit is append-only by design (its registration
    # entries are checked below to hold only commitments, unlinkable to the tender).
    changed = [k for k in first if first[k] != second[k] and k[1] not in ("/account", "/audit")]
    assert changed == [], f"responses depend on the number of registered bidders: {changed[:5]}"

    secrets = []
    for b in bidders:
        org = session.get(Organisation, b.organisation_id)
        assert org is not None
        secrets += [org.name, org.credit_code, b.username, b.display_name + org.name]
    # The organisation and user directories list every registered enterprise whether or not it bids;
    # they say nothing about participation, so they are the only places these names may appear.
    directory = ("/admin/organisations", "/admin/users", "/api/v1/organisations", "/api/v1/users")
    # The audit page names the actor and object of each event it shows unsealed: an enterprise's own
    # registration, certificates, logins and tokens (which the directory already ties to its name)
    # may name it; nothing about a tender may.
    own_acts = re.compile(r'<span title="(?:organisation|certificate|session|token|auth|user)\.')
    audit_rows = {
        k: "".join(row for row in body.split("<tr>") if not own_acts.search(row))
        for k, (_, body) in second.items()
        if k[1] == "/audit"
    }
    leaks = [
        (k, s)
        for k, (_, body) in second.items()
        if k[1] not in directory
        for s in secrets
        if s in audit_rows.get(k, body)
    ]
    assert leaks == [], leaks[:5]

    # The audit trail holds commitments and sealed actors, never the bidder's identity.
    secret_actions = ("interest.register", "tender_document.download", "bid.submit")
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.seq > seq_before, AuditEvent.action.in_(secret_actions))
    ).all()
    assert len(events) == 6  # two bidders, each registered, downloaded and bid
    for e in events:
        assert e.actor_id == "sealed" and e.object_type in ("sealed", "bid"), (e.action, e.actor_id)
        for b in bidders:
            assert f"user:{b.id}" not in e.payload and b.username not in e.payload
            org = session.get(Organisation, b.organisation_id)
            assert org is not None and org.credit_code not in e.payload and org.name not in e.payload
