"""A request the database gives up on for contention is answered 503 busy_retry with Retry-After,
having changed nothing, and succeeds when sent again; ``ggzy-bid``'s client sends it again itself
(PostgreSQL, a real row lock held by another connection)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Connection

from tests.factories import api_token, make_signer, make_user, tender_body, upload
from trading.accounts.models import Role
from trading.tenders.models import Tender, TenderState

pytestmark = pytest.mark.integration


def submitted_tender(app: Flask) -> tuple[str, dict[str, str]]:
    """A tender awaiting publication, and a staff member's token headers."""
    client, db = app.test_client(), app.extensions["ggzy.db"]
    with db.session() as s:
        tenderee, staff = make_signer(s, app, Role.TENDEREE), make_user(s, Role.STAFF)
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    assert client.post(f"/api/v1/tenders/{code}/submit", headers=ht).status_code == 200
    return code, api_token(client, staff.username)


@contextmanager
def tender_locked_elsewhere(app: Flask, code: str, lock_timeout: str) -> Iterator[Connection]:
    """The tender's row locked by another connection; the app's requests wait at most
    ``lock_timeout`` for a lock (a deployment's choice, set on the database)."""
    db = app.extensions["ggzy.db"]
    with db.engine.connect() as c:
        name = c.execute(text("SELECT current_database()")).scalar_one()
        c.execute(text(f"ALTER DATABASE \"{name}\" SET lock_timeout = '{lock_timeout}'"))
        c.commit()
    db.engine.dispose()  # new connections take the setting
    holder = create_engine(db.url)
    try:
        with holder.connect() as other:
            other.execute(text("SELECT id FROM tender WHERE code = :c FOR UPDATE"), {"c": code})
            yield other
    finally:
        holder.dispose()


def status_of(app: Flask, code: str) -> Any:
    with app.extensions["ggzy.db"].session() as s:
        return s.scalar(select(Tender.status).where(Tender.code == code))


def test_a_lock_held_too_long_is_answered_busy_and_changes_nothing(pg_app: Flask) -> None:
    app, client = pg_app, pg_app.test_client()
    code, hs = submitted_tender(app)
    with tender_locked_elsewhere(app, code, "500ms") as other:
        r = client.post(f"/api/v1/tenders/{code}/publish", headers=hs)
        assert r.status_code == 503, r.get_json()
        assert r.headers["Retry-After"] == "1" and r.get_json()["error"]["code"] == "busy_retry"
        other.rollback()
    assert status_of(app, code) is TenderState.SUBMITTED
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200


def test_the_bidder_tool_sends_a_busy_request_again(pg_app: Flask) -> None:
    """Over real HTTP: the first answer is 503 busy_retry while the row is held; the lock goes after
    a second and the request the client sends again succeeds."""
    from werkzeug.serving import make_server

    from bidding.client import Client

    app = pg_app
    code, hs = submitted_tender(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tender_locked_elsewhere(app, code, "300ms") as other:
            release = threading.Timer(1.0, other.rollback)
            release.start()
            client = Client(f"http://127.0.0.1:{server.port}", hs["Authorization"].split()[1])
            got = client.request("POST", f"/api/v1/tenders/{code}/publish")
            release.join()
    finally:
        server.shutdown()
    assert got == {"ok": True}
    assert status_of(app, code) is TenderState.PUBLISHED
