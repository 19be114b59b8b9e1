"""Caps on open uploads per bidder and per lot, and on the staging volume: one bidder could open 50
uploads of up to 4 GiB each, living 24 h; then a few bidders' declared sizes, never sent, filled
the shared staging budget and refused everyone else (issue 17 item 8 follow-up)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from tests.bidding import test_bids
from tests.factories import api_token, init_upload, make_bidder_with_keys, seal_bid, send_parts, upload_bid
from trading.bids import uploads as bid_uploads
from trading.bids.models import BidUpload, UploadState

PRICE_SHEET = test_bids.PRICE_SHEET
tender = test_bids.tender  # the fixture: a published tender, two registered bidders


def limit(monkeypatch: pytest.MonkeyPatch, app: Flask, **over: Any) -> None:
    settings = app.extensions["ggzy.settings"]
    monkeypatch.setitem(app.extensions, "ggzy.settings", dataclasses.replace(settings, **over))


def test_open_uploads_per_lot_and_per_bidder(
    client: FlaskClient,
    app: Flask,
    tender: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = tender
    blob = seal_bid(t["b1"], t["code"], PRICE_SHEET)
    opened = [init_upload(client, t["h1"], blob, t["code"]) for _ in range(3)]
    assert [r.status_code for r in opened] == [201, 201, 201]
    r = init_upload(client, t["h1"], blob, t["code"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_many_open_uploads"
    # another bidder is not held up by this one's uploads
    assert init_upload(client, t["h2"], seal_bid(t["b2"], t["code"], PRICE_SHEET), t["code"]).status_code == 201

    # the bidder can see its open uploads and give one up, which frees its place
    listed = client.get("/api/v1/bids/uploads", headers=t["h1"]).get_json()["items"]
    assert sorted(u["upload_id"] for u in listed) == sorted(r.get_json()["upload_id"] for r in opened)
    first = opened[0].get_json()["upload_id"]
    assert client.delete(f"/api/v1/bids/uploads/{first}", headers=t["h2"]).status_code == 404  # not theirs
    assert client.delete(f"/api/v1/bids/uploads/{first}", headers=t["h1"]).status_code == 204
    assert client.delete(f"/api/v1/bids/uploads/{first}", headers=t["h1"]).status_code == 409
    assert init_upload(client, t["h1"], blob, t["code"]).status_code == 201

    # expired uploads no longer count, whether or not the sweep has run yet
    with clock.frozen(clock.now() + dt.timedelta(hours=24, seconds=1)):
        assert clock.now() < t["deadline"]
        assert init_upload(client, t["h1"], blob, t["code"]).status_code == 201

    # the cap over all lots
    limit(monkeypatch, app, uploads_open_per_lot=10, uploads_open_per_bidder=4)
    r = init_upload(client, t["h1"], blob, t["code"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_many_open_uploads"


def test_declared_sizes_refuse_no_other_bidder(
    client: FlaskClient,
    session: Session,
    app: Flask,
    tender: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Failed before (507 staging_full for the third bidder): the staging budget counted the declared
    sizes of open uploads, so bidders who opened their maximum of uploads with large declared sizes
    and sent nothing refused every other bidder for 24 h. Scaled down: the budget here is the
    declared sizes of six uploads and a half."""
    t = tender
    b3 = make_bidder_with_keys(session, app)
    session.commit()
    h3 = api_token(client, b3.user.username)
    assert client.post(f"/api/v1/tenders/{t['code']}/interest", headers=h3).status_code in (200, 201)
    blob1 = seal_bid(t["b1"], t["code"], PRICE_SHEET + b"x" * 10_000)
    blob2 = seal_bid(t["b2"], t["code"], PRICE_SHEET + b"y" * 10_000)
    blob3 = seal_bid(b3, t["code"], PRICE_SHEET + b"z" * 10_000)
    limit(monkeypatch, app, staging_max_bytes=3 * len(blob1) + 3 * len(blob2) + len(blob3) // 2)
    squatted = [
        init_upload(client, h, blob, t["code"]) for h, blob in ((t["h1"], blob1), (t["h2"], blob2)) for _ in range(3)
    ]
    assert [r.status_code for r in squatted] == [201] * 6
    r = upload_bid(client, h3, blob3, t["code"])
    assert r.status_code == 201, r.get_json()


def test_declared_sizes_count_against_the_bidder_alone(
    client: FlaskClient, app: Flask, tender: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = tender
    blob1 = seal_bid(t["b1"], t["code"], PRICE_SHEET + b"x" * 10_000)
    limit(monkeypatch, app, staging_max_bytes_per_bidder=2 * len(blob1) + len(blob1) // 2)
    assert [init_upload(client, t["h1"], blob1, t["code"]).status_code for _ in range(2)] == [201, 201]
    r = init_upload(client, t["h1"], blob1, t["code"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_many_upload_bytes"
    assert init_upload(client, t["h2"], seal_bid(t["b2"], t["code"], PRICE_SHEET), t["code"]).status_code == 201


def test_idle_uploads_stop_counting_and_are_swept(
    client: FlaskClient,
    session: Session,
    app: Flask,
    tender: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Failed before: an upload that never sent a byte kept its place (and its declared bytes) for 24 h."""
    t = tender
    blob = seal_bid(t["b1"], t["code"], PRICE_SHEET + b"x" * 10_000)
    idle = dt.timedelta(seconds=app.extensions["ggzy.settings"].upload_idle_seconds)
    idle_ones = [init_upload(client, t["h1"], blob, t["code"]).get_json() for _ in range(3)]
    assert init_upload(client, t["h1"], blob, t["code"]).status_code == 409
    later = clock.now() + idle + dt.timedelta(seconds=1)
    assert later < t["deadline"]
    with clock.frozen(later):
        # an idle upload takes no more parts (it would pass the caps it no longer counts against)
        r = send_parts(client, t["h1"], idle_ones[0], blob, dt.timedelta(0))
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "upload_expired"
        # an upload that keeps sending can finish, however long it takes in all
        monkeypatch.setattr(bid_uploads, "PART_SIZE", 4096)
        busy = init_upload(client, t["h1"], blob, t["code"])
        assert busy.status_code == 201
        up = busy.get_json()
        assert up["part_size"] == 4096 and len(blob) > 2 * 4096
        assert send_parts(client, t["h1"], up, blob, idle - dt.timedelta(seconds=1)).status_code == 200
        staging = app.extensions["ggzy.settings"].instance / "uploads"
        assert bid_uploads.abandon_expired(session, staging, clock.now(), idle) == 3
    done = client.post(f"/api/v1/bids/uploads/{up['upload_id']}/complete", headers=t["h1"])
    assert done.status_code == 201, done.get_json()
    session.expire_all()
    states = {u.id: u.state for u in session.scalars(select(BidUpload))}
    assert [states[u["upload_id"]] for u in idle_ones] == [UploadState.ABANDONED] * 3
    assert states[up["upload_id"]] is UploadState.COMPLETED


def test_uploads_past_the_deadline_are_swept(
    client: FlaskClient, session: Session, app: Flask, tender: dict[str, Any]
) -> None:
    """Failed before: an upload whose tender's deadline had passed held its place and bytes until
    its 24 h ran out, although it could never become a bid."""
    t = tender
    blob = seal_bid(t["b1"], t["code"], PRICE_SHEET)
    with clock.frozen(t["deadline"] - dt.timedelta(hours=1)):
        up = upload_bid(client, t["h1"], blob, t["code"], complete=False)
    staging = app.extensions["ggzy.settings"].instance / "uploads"
    assert (staging / f"{up['upload_id']}.part").exists()
    long_idle = dt.timedelta(hours=10)
    assert bid_uploads.abandon_expired(session, staging, t["deadline"] - dt.timedelta(seconds=1), long_idle) == 0
    assert bid_uploads.abandon_expired(session, staging, t["deadline"] + dt.timedelta(seconds=1), long_idle) == 1
    assert not (staging / f"{up['upload_id']}.part").exists()


def test_staged_bytes_are_capped(
    client: FlaskClient,
    app: Flask,
    tender: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shared budget counts bytes received: a part past it is refused, and taken once room is made."""
    t = tender
    blob1 = seal_bid(t["b1"], t["code"], PRICE_SHEET + b"x" * 10_000)
    blob2 = seal_bid(t["b2"], t["code"], PRICE_SHEET + b"y" * 10_000)
    limit(monkeypatch, app, staging_max_bytes=len(blob1) + len(blob2) // 2)
    first = upload_bid(client, t["h1"], blob1, t["code"], complete=False)
    second = init_upload(client, t["h2"], blob2, t["code"])
    assert second.status_code == 201  # declared bytes claim nothing of the shared budget
    r = send_parts(client, t["h2"], second.get_json(), blob2, dt.timedelta(0))
    assert r.status_code == 507 and r.get_json()["error"]["code"] == "staging_full"
    assert r.headers["Retry-After"] == "60"  # ggzy-bid waits this long before sending the part again
    # a completed upload no longer holds staging space: the refused part goes through on retry
    assert client.post(f"/api/v1/bids/uploads/{first['upload_id']}/complete", headers=t["h1"]).status_code == 201
    assert send_parts(client, t["h2"], second.get_json(), blob2, dt.timedelta(0)).status_code == 200
    done = client.post(f"/api/v1/bids/uploads/{second.get_json()['upload_id']}/complete", headers=t["h2"])
    assert done.status_code == 201, done.get_json()
