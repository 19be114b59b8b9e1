"""Caps on open uploads per bidder and per lot, and on the staging volume: one bidder could open 50
uploads of up to 4 GiB each, living 24 h."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive import clock
from tests.bidding import test_bids
from tests.factories import head_of, seal_bid, upload_bid

PRICE_SHEET = test_bids.PRICE_SHEET
tender = test_bids.tender  # the fixture: a published tender, two registered bidders


def init(client: FlaskClient, headers: dict[str, str], blob: bytes, code: str) -> Any:
    return client.post(
        "/api/v1/bids/uploads",
        headers=headers,
        json={"tender": code, "lot": 1, "size": len(blob), "head": base64.b64encode(head_of(blob)).decode()},
    )


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
    opened = [init(client, t["h1"], blob, t["code"]) for _ in range(3)]
    assert [r.status_code for r in opened] == [201, 201, 201]
    r = init(client, t["h1"], blob, t["code"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_many_open_uploads"
    # another bidder is not held up by this one's uploads
    assert init(client, t["h2"], seal_bid(t["b2"], t["code"], PRICE_SHEET), t["code"]).status_code == 201

    # the bidder can see its open uploads and give one up, which frees its place
    listed = client.get("/api/v1/bids/uploads", headers=t["h1"]).get_json()["items"]
    assert sorted(u["upload_id"] for u in listed) == sorted(r.get_json()["upload_id"] for r in opened)
    first = opened[0].get_json()["upload_id"]
    assert client.delete(f"/api/v1/bids/uploads/{first}", headers=t["h2"]).status_code == 404  # not theirs
    assert client.delete(f"/api/v1/bids/uploads/{first}", headers=t["h1"]).status_code == 204
    assert client.delete(f"/api/v1/bids/uploads/{first}", headers=t["h1"]).status_code == 409
    assert init(client, t["h1"], blob, t["code"]).status_code == 201

    # expired uploads no longer count, whether or not the sweep has run yet
    with clock.frozen(clock.now() + dt.timedelta(hours=24, seconds=1)):
        assert clock.now() < t["deadline"]
        assert init(client, t["h1"], blob, t["code"]).status_code == 201

    # the cap over all lots
    limit(monkeypatch, app, uploads_open_per_lot=10, uploads_open_per_bidder=4)
    r = init(client, t["h1"], blob, t["code"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_many_open_uploads"


def test_staging_bytes_are_capped(
    client: FlaskClient,
    app: Flask,
    tender: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = tender
    blob1 = seal_bid(t["b1"], t["code"], PRICE_SHEET + b"x" * 10_000)
    blob2 = seal_bid(t["b2"], t["code"], PRICE_SHEET + b"y" * 10_000)
    limit(monkeypatch, app, staging_max_bytes=len(blob1) + len(blob2) // 2)
    assert init(client, t["h1"], blob1, t["code"]).status_code == 201
    r = init(client, t["h2"], blob2, t["code"])
    assert r.status_code == 507 and r.get_json()["error"]["code"] == "staging_full"
    # a completed upload no longer claims staging space
    limit(monkeypatch, app, staging_max_bytes=len(blob1) * 2 + len(blob2) // 2)
    assert upload_bid(client, t["h1"], blob1, t["code"]).status_code == 201
    r = upload_bid(client, t["h2"], blob2, t["code"])
    assert r.status_code == 201, r.get_json()
