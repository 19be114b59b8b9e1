"""The deadline race on PostgreSQL: 50 bidders complete their uploads around the deadline at once.
Every bid is either accepted with a receipt time before the deadline or refused; none lost,
none accepted late, none half stored."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from archive import clock
from tests.factories import (
    api_token,
    make_bidder_with_keys,
    make_signer,
    make_user,
    seal_bid,
    tender_body,
    upload,
    upload_bid,
)
from trading.accounts.models import Role

pytestmark = pytest.mark.integration
N = 50


def test_fifty_bidders_at_the_deadline(pg_app: Any) -> None:
    from signing.digest import sm3_hex
    from trading.bids.models import Bid, BidState
    from trading.core.services import object_store
    from trading.tenders.models import Tender

    app = pg_app
    db = app.extensions["ggzy.db"]
    client = app.test_client()
    with db.session() as s:
        tenderee = make_signer(s, app, Role.TENDEREE)
        staff = make_user(s, Role.STAFF)
        bidders = [make_bidder_with_keys(s, app) for _ in range(N)]
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username)).status_code == 200
    pending = []
    for b in bidders:
        h = api_token(client, b.user.username)
        client.post(f"/api/v1/tenders/{code}/interest", headers=h)
        blob = seal_bid(b, code, f'{{"price": "{1000000 + len(pending)}.00"}}'.encode() + b"z" * 20_000)
        up = upload_bid(client, h, blob, code, complete=False)  # every byte in, not yet completed
        pending.append((h, up["upload_id"], blob))
    # Bring the deadline close (test set-up only; the 20-day rule was checked at publication).
    deadline = (clock.now() + dt.timedelta(seconds=2)).replace(microsecond=0) + dt.timedelta(seconds=1)
    with db.session() as s:
        s.execute(update(Tender).where(Tender.code == code).values(bid_deadline=deadline))
    start = deadline - dt.timedelta(seconds=1)
    results: list[tuple[int, dict[str, Any], bytes]] = [None] * N  # type: ignore[list-item]

    def complete(i: int) -> None:
        h, upload_id, blob = pending[i]
        when = start + dt.timedelta(seconds=2 * i / N)  # spread over deadline ± 1 s
        time.sleep(max(0.0, (when - clock.now()).total_seconds()))
        r = app.test_client().post(f"/api/v1/bids/uploads/{upload_id}/complete", headers=h)
        results[i] = (r.status_code, r.get_json(), blob)

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(N)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)

    accepted = [(body, blob) for status, body, blob in results if status == 201]
    refused = [body for status, body, _ in results if status == 409]
    assert len(accepted) + len(refused) == N, [s for s, _, _ in results]  # nothing lost, no other outcome
    assert all(b["error"]["code"] == "deadline_passed" for b in refused)
    assert 0 < len(accepted) < N, (len(accepted), len(refused))  # the window really straddled the deadline
    for body, blob in accepted:
        assert dt.datetime.fromisoformat(body["received_at"]) < deadline
        assert body["ciphertext_sm3"] == sm3_hex(blob)
    with db.session() as s, app.app_context():
        rows = s.scalars(select(Bid).where(Bid.status == BidState.ACCEPTED)).all()
        assert len(rows) == len(accepted)
        store = object_store(app)
        for bid in rows:
            assert bid.received_at < deadline
            st = store.stat(bid.object_key)
            assert st is not None and st.size == bid.size  # whole, under its SM3 name
        assert {b.ciphertext_sm3 for b in rows} == {body["ciphertext_sm3"] for body, _ in accepted}


def _one_bid(app: Any) -> dict[str, Any]:
    """A published tender with one accepted bid, and the bidder's signed withdrawal of it."""
    import base64

    from signing.digest import sm3_hex
    from signing.statements import bid_withdrawal_statement

    client, db = app.test_client(), app.extensions["ggzy.db"]
    with db.session() as s:
        tenderee, staff, b = make_signer(s, app, Role.TENDEREE), make_user(s, Role.STAFF), make_bidder_with_keys(s, app)
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=api_token(client, staff.username)).status_code == 200
    h = api_token(client, b.user.username)
    client.post(f"/api/v1/tenders/{code}/interest", headers=h)
    blob = seal_bid(b, code, b'{"price": "1000000.00"}')
    assert upload_bid(client, h, blob, code).status_code == 201
    assert b.user.organisation is not None
    statement = bid_withdrawal_statement(code, 1, b.user.organisation.credit_code, sm3_hex(blob))
    body = {"signature": base64.b64encode(b.sign_key.sign(statement)).decode()}
    return {"code": code, "bidder": b, "h": h, "url": f"/api/v1/bids/{sm3_hex(blob)}/withdraw", "body": body}


def _actions(app: Any, action: str) -> int:
    from archive.audit import AuditEvent

    with app.extensions["ggzy.db"].session() as s:
        return len(s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_a_withdrawal_sent_twice_at_once_withdraws_once(pg_app: Any) -> None:
    """The second click read the bid (accepted) before the first committed: it is refused with what
    the locks find (withdrawn), and the bid is withdrawn once."""
    from tests.races import locking_read, when_statement

    app, w = pg_app, _one_bid(pg_app)
    other: dict[str, Any] = {}

    def the_other_click() -> None:
        other["r"] = app.test_client().post(w["url"], json=w["body"], headers=w["h"])

    with when_statement(app, locking_read("tender"), the_other_click, after=False) as fired:
        mine = app.test_client().post(w["url"], json=w["body"], headers=w["h"])
    assert fired[0] and other["r"].status_code == 200
    assert mine.status_code == 409 and mine.get_json()["error"]["code"] == "wrong_state"
    assert _actions(app, "bid.withdraw") == 1


def test_a_withdrawal_racing_a_replacement_waits_for_it(pg_app: Any) -> None:
    """The bidder withdraws its bid while a replacement completes (tender's lock, then the old
    bid's). The withdrawal takes the locks in the same order, so it waits and is then refused
    (superseded): before, it held the bid's lock while it waited for the tender's, the completion
    waited for the bid, and PostgreSQL broke the deadlock by failing one of them."""
    from tests.races import locking_read, when_statement

    app, w = pg_app, _one_bid(pg_app)
    replacement = seal_bid(w["bidder"], w["code"], b'{"price": "990000.00"}')
    pending = upload_bid(app.test_client(), w["h"], replacement, w["code"], complete=False)
    other: dict[str, Any] = {}

    def the_replacement_completes() -> None:
        url = f"/api/v1/bids/uploads/{pending['upload_id']}/complete"
        other["r"] = app.test_client().post(url, headers=w["h"])

    # before the tender's lock: the old order held the bid's lock there already
    with when_statement(app, locking_read("tender"), the_replacement_completes, after=False) as fired:
        mine = app.test_client().post(w["url"], json=w["body"], headers=w["h"])
    assert fired[0]
    assert other["r"].status_code == 201, other["r"].get_json()
    assert mine.status_code == 409 and mine.get_json()["error"]["code"] == "wrong_state", mine.get_json()
    assert _actions(app, "bid.withdraw") == 0
