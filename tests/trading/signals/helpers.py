"""A lot of three bidders whose packages, addresses and registrations a test chooses, opened
through the real API (the ceremony's helpers), for the collusion signals' tests."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.envelope import DEFAULT_CHUNK
from signing.price_sheet import FILENAME, build_price_sheet
from tests.factories import (
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
from trading.core.services import services
from trading.signals.tasks import collusion_signals_job
from trading.tenders.models import Interest

DECLARED = [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}]
FORM = "投标函格式（招标文件附件，投标人原样使用）".encode() * 8


def package(code: str, price: str, files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(FILENAME, build_price_sheet(code, 1, price, {"duration_days": "300"}, DECLARED))
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def tender_with_bids(
    client: FlaskClient, session: Session, app: Flask, bids: list[dict[str, Any]], docs: dict[str, bytes] | None = None
) -> dict[str, Any]:
    """A published tender with one bid per item of ``bids`` (``price``, ``files``, ``addr``,
    ``install``, ``phone``, ``rep``), before its deadline; shaped as ``open_tender``'s answer."""
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff = make_user(session, Role.STAFF)
    bidders = [make_bidder_with_keys(session, app) for _ in bids]
    for b, spec in zip(bidders, bids, strict=True):
        assert b.user.organisation is not None
        b.user.organisation.legal_representative = spec.get("rep", "")
    session.commit()
    ht = api_token(client, tenderee.user.username)
    code = client.post("/api/v1/tenders", json=tender_body(lots=[lot_body()]), headers=ht).get_json()["code"]
    for name, data in (docs or {"招标文件.pdf": b"%PDF docs"}).items():
        assert upload(client, ht, tenderee, code, name, data).status_code == 201
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    hs = api_token(client, staff.username)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
    headers, blobs = [], []
    for b, spec in zip(bidders, bids, strict=True):
        h = api_token(client, b.user.username)
        assert client.post(f"/api/v1/tenders/{code}/interest", headers=h).status_code in (200, 201)
        interest = session.scalars(select(Interest).where(Interest.org_id == b.user.organisation_id)).one()
        interest.contact_name, interest.contact_phone = spec.get("contact", ""), spec.get("phone", "")
        session.commit()
        blob = seal_bid(b, code, package(code, spec["price"], spec.get("files", {})), chunk_size=DEFAULT_CHUNK)
        client.environ_base["REMOTE_ADDR"] = spec.get("addr", "127.0.0.1")
        extra = {"X-GGZY-Install": spec["install"]} if spec.get("install") else {}
        assert upload_bid(client, h | extra, blob, code).status_code == 201
        headers.append(h)
        blobs.append(blob)
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    deadline = dt.datetime.fromisoformat(client.get(f"/api/v1/tenders/{code}").get_json()["bid_deadline"])
    cid = client.get(f"/api/v1/tenders/{code}/ceremonies").get_json()["items"][0]["id"]
    return {
        "code": code,
        "cid": cid,
        "bidders": bidders,
        "headers": headers,
        "blobs": blobs,
        "staff": hs,
        "staff_username": staff.username,
        "tenderee": ht,
        "tenderee_username": tenderee.user.username,
        "deadline": deadline,
    }


def sweep(session: Session, app: Flask, at: dt.datetime | None = None) -> int:
    """The scheduler's ``collusion_signals`` job, once."""
    return collusion_signals_job(session, at or clock.now(), services(app))
