"""The JSON API: auth, permissions and every kind of bad input, each with a clear 4xx and nothing written."""

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import AuditEvent
from tests.factories import PASSWORD, api_token, make_user, valid_code
from trading.accounts.models import Organisation, Role


def counts(session: Session) -> tuple[int, int]:
    return (
        int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0),
        int(session.scalar(select(func.count()).select_from(Organisation)) or 0),
    )


def test_token_me_and_revoke(client: FlaskClient, session: Session) -> None:
    u = make_user(session, Role.BIDDER)
    session.commit()
    h = api_token(client, u.username)
    me = client.get("/api/v1/me", headers=h).get_json()
    assert me["username"] == u.username and me["roles"] == ["bidder"] and "account:self:read" in me["permissions"]
    assert client.delete("/api/v1/auth/token", headers=h).status_code == 204
    r = client.get("/api/v1/me", headers=h)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"


def test_wrong_password_then_rate_limited(client: FlaskClient, session: Session, app: Flask) -> None:
    u = make_user(session)
    session.commit()
    limit = app.extensions["ggzy.settings"].login_max_failures
    for _ in range(limit):
        r = client.post("/api/v1/auth/token", json={"username": u.username, "password": "nope"})
        assert r.status_code == 401 and r.get_json()["error"]["message"] == "用户名或密码错误"
    r = client.post("/api/v1/auth/token", json={"username": u.username, "password": PASSWORD})
    assert (
        r.status_code == 429 and "Retry-After" in r.headers and "登录失败次数过多" in r.get_json()["error"]["message"]
    )


def test_admin_creates_organisation(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    session.commit()
    h = api_token(client, admin.username)
    code = valid_code()
    r = client.post(
        "/api/v1/organisations",
        headers=h,
        json={"name": "新登记企业", "credit_code": code, "kind": "enterprise", "region": "350100"},
    )
    assert r.status_code == 201, r.get_json()
    org_id = r.get_json()["id"]
    assert client.get(f"/api/v1/organisations/{org_id}", headers=h).get_json()["credit_code"] == code
    ev = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert ev is not None and ev.action == "organisation.create" and ev.actor_id == admin.actor_id


def test_bad_input_is_refused_and_nothing_written(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    session.commit()
    h = api_token(client, admin.username)
    before = counts(session)
    good = {"name": "某公司", "credit_code": valid_code(), "kind": "enterprise", "region": "350100"}
    cases = [
        (dict(data=b"{not json", content_type="application/json"), 400, "malformed_json"),
        (dict(data=b"name=x", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type"),
        (dict(json=[1, 2]), 422, "invalid_input"),
        (dict(json=good | {"credit_code": "91350100M000100Y44"}), 422, "invalid_input"),
        (dict(json=good | {"region": "35"}), 422, "invalid_input"),
        (dict(json=good | {"kind": "bank"}), 422, "invalid_input"),
        (dict(json=good | {"extra": 1}), 422, "invalid_input"),
        (dict(json={"name": "x" * 10, "credit_code": "1" * 5_000_000}), 413, "http_413"),
    ]
    for kwargs, status, code in cases:
        r = client.post("/api/v1/organisations", headers=h, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == status, (kwargs, r.get_json())
        assert r.get_json()["error"]["code"] == code
        assert r.get_json()["error"]["message"]  # a message for people, in Chinese
    r = client.post("/api/v1/organisations", headers=h, json=good | {"credit_code": "91350100M000100Y44"})
    assert r.get_json()["error"]["fields"]["credit_code"] == "统一社会信用代码校验位错误"
    assert counts(session) == before


def test_unknown_ids_and_paging(client: FlaskClient, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    session.commit()
    h = api_token(client, staff.username)
    r = client.get("/api/v1/organisations/987654", headers=h)
    assert r.status_code == 404 and "不存在" in r.get_json()["error"]["message"]
    assert client.get("/api/v1/organisations?page=0", headers=h).status_code == 422
    assert client.get("/api/v1/organisations?page_size=abc", headers=h).status_code == 422
    assert client.get("/api/v1/no-such-route", headers=h).status_code == 404


def test_role_outside_permission(client: FlaskClient, session: Session) -> None:
    bidder = make_user(session, Role.BIDDER)
    staff = make_user(session, Role.STAFF)
    session.commit()
    before = counts(session)
    body = {"name": "越权登记", "credit_code": valid_code(), "kind": "enterprise", "region": "350100"}
    for user in (bidder, staff):  # staff may read organisations, not register them
        r = client.post("/api/v1/organisations", headers=api_token(client, user.username), json=body)
        assert r.status_code == 403 and r.get_json()["error"]["message"] == "没有权限执行此操作"
    assert client.get("/api/v1/users", headers=api_token(client, staff.username)).status_code == 403
    assert client.get("/api/v1/audit/events", headers=api_token(client, bidder.username)).status_code == 403
    assert client.post("/api/v1/organisations", json=body).status_code == 401
    assert counts(session)[1] == before[1]


def test_api_ignores_session_cookies(client: FlaskClient, session: Session) -> None:
    """The API authenticates by bearer token only, so a cookie can never be used for CSRF on it."""
    from tests.factories import page_login

    admin = make_user(session, Role.ADMIN)
    session.commit()
    page_login(client, admin.username)
    assert client.get("/api/v1/me").status_code == 401
