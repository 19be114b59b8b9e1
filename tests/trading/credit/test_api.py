"""The credit API: imports (named bad rows, nothing written), the push API's idempotence and
conflicts, revocation, who may read and change, and bad input told by name (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import AuditEvent
from tests.factories import api_token, make_user
from tests.trading.credit.samples import as_csv, as_json, row
from trading.accounts.models import Role
from trading.credit.models import CreditEntry, CreditImport


def headers(client: FlaskClient, session: Session, role: Role) -> dict[str, str]:
    user = make_user(session, role)
    session.commit()
    return api_token(client, user.username)


def upload(client: FlaskClient, h: dict[str, str], name: str, data: bytes) -> Any:
    """A multipart body built here: the test client spools a large one to a file it never closes."""
    boundary = "credit-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/api/v1/credit/imports", data=body, headers=h, content_type=f"multipart/form-data; boundary={boundary}"
    )


def counts(session: Session) -> tuple[int, int, int]:
    events = session.scalar(select(func.count()).where(AuditEvent.action.like("credit.%"))) or 0
    return (
        session.scalar(select(func.count()).select_from(CreditEntry)) or 0,
        session.scalar(select(func.count()).select_from(CreditImport)) or 0,
        events,
    )


def test_a_csv_file_is_imported_and_again_is_unchanged(client: FlaskClient, session: Session) -> None:
    h = headers(client, session, Role.STAFF)
    rows = [
        row(),
        row(list="tax_violators", authority="国家税务总局福建省税务局"),
        row(subject_kind="expert", subject_id="7", measure="draw_suspension"),
    ]
    r = upload(client, h, "名单.csv", as_csv(rows, bom=True))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["rows"], body["added"], body["unchanged"], len(body["entries"])) == (3, 3, 0, 3)
    again = upload(client, h, "名单.csv", as_csv(rows)).get_json()
    assert (again["added"], again["unchanged"], again["entries"]) == (0, 3, body["entries"])
    kinds = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("credit.%"))).all()
    assert kinds.count("credit.entry_added") == 3 and kinds.count("credit.imported") == 2


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_a_bad_file_names_its_rows_and_writes_nothing(client: FlaskClient, session: Session, kind: str) -> None:
    h = headers(client, session, Role.STAFF)
    before = counts(session)
    rows = [
        row(),
        row(subject_id="91350100000000000X", region="35", ends_on="2025-01-01"),
        row(list="platform", facts="a\x1b[2Jb"),
    ]
    data = as_csv(rows) if kind == "csv" else as_json(rows)
    r = upload(client, h, f"list.{kind}", data)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "credit_import_invalid"
    named = {(p["row"], p["field"]) for p in err["rows"]}
    first = 3 if kind == "csv" else 2  # a CSV's header is row 1
    assert {
        (first, "subject_id"),
        (first, "region"),
        (first, "ends_on"),
        (first + 1, "list"),
        (first + 1, "facts"),
    } <= named
    assert not any(p["row"] == first - 1 for p in err["rows"])
    assert counts(session) == before


def test_file_level_problems(client: FlaskClient, session: Session) -> None:
    h = headers(client, session, Role.STAFF)
    wrong_header = b"subject,name\n1,2\n"
    r = upload(client, h, "x.csv", wrong_header)
    assert r.status_code == 422 and r.get_json()["error"]["rows"][0]["field"] == "header"
    r = upload(client, h, "x.json", b'{"format": "other/1", "entries": []}')
    assert r.status_code == 422 and r.get_json()["error"]["rows"][0]["field"] == "format"
    r = upload(client, h, "x.csv", "名称".encode("gbk") + b"\n")
    assert r.status_code == 422 and "UTF-8" in r.get_json()["error"]["rows"][0]["message"]
    big = as_csv([row()]) + b"#" * (5 * 1024 * 1024)
    r = upload(client, h, "x.csv", big)
    assert r.status_code in (413, 422)
    assert counts(session)[1] == 0


def test_the_push_is_idempotent_and_refuses_other_content(client: FlaskClient, session: Session) -> None:
    h = headers(client, session, Role.STAFF)
    first = row(source_ref="GP-2026-001", list="procurement_violators", category="goods", region="350000")
    r = client.post("/api/v1/credit/entries", data=as_json([first]), headers=h, content_type="application/json")
    assert r.status_code == 201, r.get_json()
    ids = r.get_json()["entries"]
    retry = client.post("/api/v1/credit/entries", data=as_json([first]), headers=h, content_type="application/json")
    assert retry.status_code == 201 and retry.get_json()["entries"] == ids and retry.get_json()["unchanged"] == 1
    before = counts(session)
    changed = {**first, "ends_on": "2027-12-31"}
    other = row()
    r = client.post(
        "/api/v1/credit/entries", data=as_json([other, changed]), headers=h, content_type="application/json"
    )
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "credit_entry_differs" and err["rows"][0]["row"] == 2
    assert counts(session) == before  # the good row of the refused push was not written either
    r = client.post("/api/v1/credit/entries", data=b"{", headers=h, content_type="application/json")
    assert r.status_code == 422
    r = client.post("/api/v1/credit/entries", data=as_json([first]), headers=h, content_type="text/plain")
    assert r.status_code == 415


def test_list_filters_and_revocation(client: FlaskClient, session: Session) -> None:
    h = headers(client, session, Role.STAFF)
    a, b = row(ends_on="2026-06-30"), row(list="local", measure="notice", region="350100")
    ids = upload(client, h, "l.json", as_json([a, b])).get_json()["entries"]
    got = client.get(f"/api/v1/credit/entries?subject={a['subject_id'].lower()}", headers=h).get_json()
    assert [e["id"] for e in got["items"]] == [ids[0]] and got["total"] == 1
    got = client.get("/api/v1/credit/entries?list=local", headers=h).get_json()
    assert ids[1] in [e["id"] for e in got["items"]] and ids[0] not in [e["id"] for e in got["items"]]
    on_july = client.get("/api/v1/credit/entries?in_force_on=2026-07-01", headers=h).get_json()["items"]
    assert ids[0] not in [e["id"] for e in on_july] and ids[1] in [e["id"] for e in on_july]
    r = client.post(f"/api/v1/credit/entries/{ids[1]}/revoke", json={"reason": "行"}, headers=h)
    assert r.status_code == 422
    r = client.post(f"/api/v1/credit/entries/{ids[1]}/revoke", json={"reason": "原决定已被撤销"}, headers=h)
    assert r.status_code == 200 and r.get_json()["revoked_at"]
    r = client.post(f"/api/v1/credit/entries/{ids[1]}/revoke", json={"reason": "原决定已被撤销"}, headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "credit_entry_revoked"
    revoked = client.get("/api/v1/credit/entries?revoked=true", headers=h).get_json()["items"]
    assert [e["id"] for e in revoked] == [ids[1]]
    assert client.get(f"/api/v1/credit/entries/{ids[1]}", headers=h).get_json()["revoke_reason"] == "原决定已被撤销"
    assert session.scalar(select(func.count()).where(AuditEvent.action == "credit.entry_revoked")) == 1


@pytest.mark.parametrize(
    "query",
    [
        "list=nope",
        "in_force_on=2026-13-01",
        "revoked=maybe",
        "page=0",
        "page=99999999999999999999",
        "subject=" + "9" * 40,
    ],
)
def test_bad_filters_are_named(client: FlaskClient, session: Session, query: str) -> None:
    h = headers(client, session, Role.SUPERVISOR)
    r = client.get(f"/api/v1/credit/entries?{query}", headers=h)
    assert r.status_code == 422, r.get_data(as_text=True)


ROUTES = [
    ("get", "/api/v1/credit/entries", None),
    ("get", "/api/v1/credit/entries/1", None),
    ("get", "/api/v1/credit/checks/1", None),
    ("get", "/api/v1/credit/checks/1/statement", None),
    ("get", "/api/v1/credit/proposals", None),
    ("get", "/api/v1/credit/proposals/1", None),
    ("post", "/api/v1/credit/entries", {"format": "ggzy-credit-list/1", "entries": []}),
    ("post", "/api/v1/credit/entries/1/revoke", {"reason": "一二三四五"}),
    ("post", "/api/v1/credit/proposals/1/confirm", {}),
    ("post", "/api/v1/credit/proposals/1/dismiss", {"reason": "一二三四五"}),
    ("post", "/api/v1/credit/imports", None),
]


def test_who_may_read_and_change(client: FlaskClient, session: Session) -> None:
    bidder = headers(client, session, Role.BIDDER)
    supervisor = headers(client, session, Role.SUPERVISOR)
    for method, path, body in ROUTES:
        r = (
            getattr(client, method)(path, json=body, headers=bidder)
            if body is not None
            else getattr(client, method)(path, headers=bidder)
        )
        assert r.status_code == 403, (path, r.status_code)
        r = (
            getattr(client, method)(path, json=body, headers=supervisor)
            if body is not None
            else getattr(client, method)(path, headers=supervisor)
        )
        assert r.status_code == (403 if method == "post" else r.status_code), path
        assert r.status_code < 500
    assert client.get("/api/v1/credit/entries", headers=supervisor).status_code == 200
    assert client.get("/api/v1/credit/entries").status_code == 401
