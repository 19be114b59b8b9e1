"""Hostile and mistaken input to the lots' setup: each refusal is a named 4xx that says which field,
never a 500; documents are bounded, named safely, stored by SM3 and served as that SM3."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditEvent
from signing.digest import sm3_hex
from tests.factories import api_token, make_user
from tests.trading.auctions.helpers_lots import lot_body
from tests.trading.tenders.test_checked_download import flipped_bit
from trading.accounts.models import Role
from trading.auctions import documents
from trading.core.checked_download import DamagedDownload


@pytest.fixture
def staff(client: FlaskClient, session: Session) -> dict[str, str]:
    user = make_user(session, Role.STAFF)
    session.commit()
    return api_token(client, user.username)


def refused(client: FlaskClient, h: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/auctions", json=body, headers=h)
    assert r.status_code == 422, (body, r.status_code, r.get_json())
    error: dict[str, Any] = r.get_json()["error"]
    return error


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starting_price", "abc"),
        ("starting_price", "0"),
        ("starting_price", "-100.00"),
        ("starting_price", "100.001"),
        ("starting_price", 1000.5),  # a JSON number may already be rounded: decimal text only
        ("starting_price", "1" * 30),
        ("starting_price", "NaN"),
        ("increment", "Infinity"),
        ("increment", None),
        ("deposit", "-1"),
        ("deposit", "十万"),
    ],
)
def test_a_bad_amount_is_named(
    client: FlaskClient, session: Session, staff: dict[str, str], field: str, value: Any
) -> None:
    error = refused(client, staff, {**lot_body(session), field: value})
    assert error["code"] == "invalid_input" and field in error["fields"]


def test_no_deposit_is_zero(client: FlaskClient, session: Session, staff: dict[str, str]) -> None:
    r = client.post("/api/v1/auctions", json={**lot_body(session), "deposit": "0"}, headers=staff)
    assert r.status_code == 201 and r.get_json()["deposit"] == "0.00"


@pytest.mark.parametrize(
    "value",
    [
        "2027-13-01T09:00:00+08:00",  # no such month
        "2027-02-30T09:00:00+08:00",  # no such day
        "2027-03-01T09:00:00",  # no zone: whose nine o'clock?
        "2200-03-01T09:00:00+08:00",  # beyond what the platform computes with
        "0001-01-01T00:00:00+08:00",
        "tomorrow",
        "",
        12345,
    ],
)
def test_a_bad_instant_is_named(client: FlaskClient, session: Session, staff: dict[str, str], value: Any) -> None:
    error = refused(client, staff, {**lot_body(session), "bidding_starts_at": value})
    assert error["code"] == "invalid_input" and "bidding_starts_at" in error["fields"]


def test_a_listing_needs_its_end(client: FlaskClient, session: Session, staff: dict[str, str]) -> None:
    body = {k: v for k, v in lot_body(session, "land_listing").items() if k != "free_ends_at"}
    error = refused(client, staff, body)
    assert error["fields"] == {"free_ends_at": "必填"}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("procedure_code", "no_such_way", "invalid_input"),
        ("procedure_code", "DROP TABLE", "invalid_input"),
        ("title", "地" * 201, "invalid_input"),
        ("title", "某地块\x1b[2J", "invalid_input"),
        ("title", "某地块\u202etxt.exe", "invalid_input"),
        ("transferor", "某\n局", "invalid_input"),
        ("description", "甲" * 20001, "invalid_input"),
        ("qualification", "资格\x00条件", "nul_character"),
        ("region", "999999", "invalid_input"),
        ("region", "35010", "invalid_input"),
        ("unknown_field", "x", "invalid_input"),
    ],
)
def test_bad_text_is_named(
    client: FlaskClient, session: Session, staff: dict[str, str], field: str, value: str, code: str
) -> None:
    error = refused(client, staff, {**lot_body(session), field: value})
    assert error["code"] == code
    if code == "invalid_input":
        assert field in error["fields"]


def test_a_body_that_is_no_object_is_refused(client: FlaskClient, staff: dict[str, str]) -> None:
    r = client.post("/api/v1/auctions", data="[1, 2", content_type="application/json", headers=staff)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    r = client.post("/api/v1/auctions", data="title=x", content_type="application/x-www-form-urlencoded", headers=staff)
    assert r.status_code == 415
    r = client.post("/api/v1/auctions/PM-0000-0000/publish", json={}, headers=staff)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "auction_not_found"
    r = client.post("/api/v1/auctions/x/extend", json={"days": 10**30, "reason": "理由理由理由"}, headers=staff)
    assert r.status_code == 422


# ---------------------------------------------------------------- documents
def upload(client: FlaskClient, h: dict[str, str], code: str, filename: str, data: bytes, **extra: str) -> Any:
    return client.post(
        f"/api/v1/auctions/{code}/documents",
        data={"file": (io.BytesIO(data), filename), **extra},
        content_type="multipart/form-data",
        headers=h,
    )


def test_documents_are_stored_by_sm3_and_served_as_it(
    client: FlaskClient, session: Session, app: Flask, staff: dict[str, str]
) -> None:
    code = client.post("/api/v1/auctions", json=lot_body(session), headers=staff).get_json()["code"]
    data = b"%PDF-1.7 " + uuid.uuid4().hex.encode() * 12_000  # bytes no other test stores (under the test
    # client's 500 KB spool, whose temporary file it would leave open)
    r = upload(client, staff, code, "出让须知.pdf", data)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["sm3"] == sm3_hex(data) and doc["size"] == len(data) and doc["name"] == "出让须知.pdf"
    renamed = upload(client, staff, code, "x.bin", b"map", name="宗地图.pdf").get_json()
    assert renamed["name"] == "宗地图.pdf"
    assert client.post(f"/api/v1/auctions/{code}/publish", json={}, headers=staff).status_code == 200
    # listed publicly, downloaded by anyone, checked against the SM3 the signed announcement names
    lot = client.get(f"/api/v1/auctions/{code}").get_json()
    assert [d["name"] for d in lot["documents"]] == ["出让须知.pdf", "宗地图.pdf"]
    r = client.get(lot["documents"][0]["url"])
    assert r.status_code == 200 and r.data == data and r.headers["X-Content-SM3"] == sm3_hex(data)
    assert "filename*=UTF-8''%E5%87%BA" in r.headers["Content-Disposition"]
    # after publication the set of documents is fixed (the announcement signed their SM3)
    r = upload(client, staff, code, "补充.pdf", b"late")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"
    # a damaged stored object is never served whole, and the trail says so
    with flipped_bit(app, data), pytest.raises(DamagedDownload):
        client.get(lot["documents"][0]["url"]).get_data()
    session.expire_all()
    [ev] = session.scalars(select(AuditEvent).where(AuditEvent.action == "auction_document.read_damaged")).all()
    payload = json.loads(ev.payload)
    assert ev.object_id == code and payload["expected_sm3"] == sm3_hex(data) and payload["served_sm3"] != sm3_hex(data)
    r = client.get(f"/api/v1/auctions/{code}/documents/999999")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("name", "code"),
    [("../../etc/passwd", "bad_file_name"), ("报告\u202efdp.exe", "bad_file_name"), (" 空格.pdf", "bad_file_name")],
)
def test_a_bad_file_name_is_named(
    client: FlaskClient, session: Session, staff: dict[str, str], name: str, code: str
) -> None:
    lot = client.post("/api/v1/auctions", json=lot_body(session), headers=staff).get_json()["code"]
    r = client.post(
        f"/api/v1/auctions/{lot}/documents",
        data={"file": (io.BytesIO(b"x"), "a.pdf"), "name": name},
        content_type="multipart/form-data",
        headers=staff,
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == code


def test_a_bad_file_is_refused_by_name(
    client: FlaskClient, session: Session, staff: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = client.post("/api/v1/auctions", json=lot_body(session), headers=staff).get_json()["code"]
    r = upload(client, staff, code, "空.pdf", b"")
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"file": "空文件"}
    r = client.post(f"/api/v1/auctions/{code}/documents", data=b"raw", headers=staff)
    assert r.status_code == 415
    r = client.post(
        f"/api/v1/auctions/{code}/documents", data={"other": "x"}, content_type="multipart/form-data", headers=staff
    )
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"file": "必填"}
    assert upload(client, staff, code, "a.pdf", b"one").status_code == 201
    r = upload(client, staff, code, "a.pdf", b"two")
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"file": "同名文件已上传"}
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 1024)  # the bound, small enough to test
    r = upload(client, staff, code, "大.pdf", b"x" * 1025)
    assert r.status_code in (413, 422)
    assert r.get_json()["error"]["code"] in ("object_too_large", "http_413")
    r = upload(client, staff, code, "大.pdf", b"x" * (64 * 1024 + 2048))  # past the request's own limit
    assert r.status_code == 413
    bidder = make_user(session, Role.BIDDER)
    session.commit()
    r = upload(client, api_token(client, bidder.username), code, "b.pdf", b"x")
    assert r.status_code == 403
