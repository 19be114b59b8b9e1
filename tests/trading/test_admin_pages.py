"""The administrators' and account pages: names not codes, confirmation before what cannot be undone,
and disabling an account."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditEvent
from tests.factories import PASSWORD, api_token, csrf_from, make_user, page_login
from trading.accounts.models import AuthSession, Role, SessionKind


def forms_with_confirmation(page: str) -> dict[str, str]:
    """Each form's action → its data-confirm text."""
    found: dict[str, str] = {}
    for tag in re.findall(r"<form [^>]*>", page):
        action = re.search(r'action="([^"]+)"', tag)
        confirm = re.search(r'data-confirm="([^"]+)"', tag)
        if action and confirm:
            found[action.group(1)] = confirm.group(1)
    return found


def test_organisations_show_region_names_and_a_region_list(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    page_login(client, admin.username)
    page = client.get("/admin/organisations").get_data(as_text=True)
    assert "<td>福州市</td>" in page and "<td>350100</td>" not in page
    assert '<option value="350102">福州市鼓楼区</option>' in page


def test_checkboxes_sit_beside_their_labels(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    page_login(client, admin.username)
    page = client.get("/admin/users").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox"', page)
    assert len(boxes) == len(Role)
    assert len(
        re.findall(r'<label class="check"><input type="checkbox" name="roles" value="\w+"> \S+</label>', page)
    ) == len(Role)


def test_disabling_a_user_asks_first_ends_their_sessions_and_is_audited(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    bidder = make_user(session, Role.BIDDER)
    headers = api_token(client, bidder.username)
    page_login(client, admin.username)
    page = client.get("/admin/users").get_data(as_text=True)
    confirms = forms_with_confirmation(page)
    assert "立即退出登录" in confirms[f"/admin/users/{bidder.id}/disable"]
    # one's own account: the button is there, disabled, with the reason
    assert f"/admin/users/{admin.id}/disable" not in page
    assert '<button type="button" disabled>停用</button><span class="why">不能停用自己的账号</span>' in page

    r = client.post(f"/admin/users/{bidder.id}/disable", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302
    session.refresh(bidder)
    assert not bidder.is_active
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    tokens = session.scalars(select(AuthSession).where(AuthSession.user_id == bidder.id)).all()
    assert tokens and all(t.revoked_at is not None for t in tokens)
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last is not None and last.action == "user.disable" and last.actor_id == admin.actor_id
    assert "已停用" in client.get("/admin/users").get_data(as_text=True)
    r = client.post("/api/v1/auth/token", json={"username": bidder.username, "password": PASSWORD})
    assert r.status_code == 401

    r = client.post(f"/admin/users/{bidder.id}/enable", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302
    session.refresh(bidder)
    assert bidder.is_active
    assert session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first().action == "user.enable"
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # the old token stays ended

    r = client.post(f"/admin/users/{admin.id}/disable", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302
    assert "不能停用自己的账号" in client.get("/admin/users").get_data(as_text=True)
    assert client.post("/admin/users/999999/disable", data={"csrf_token": csrf_from(page)}).status_code == 404


def test_only_administrators_disable(client: FlaskClient, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    bidder = make_user(session, Role.BIDDER)
    page_login(client, staff.username)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert client.post(f"/admin/users/{bidder.id}/disable", data={"csrf_token": token}).status_code == 403


def test_revoking_a_token_or_a_certificate_asks_first(client: FlaskClient, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    page_login(client, staff.username)
    page = client.get("/account").get_data(as_text=True)
    token = csrf_from(page)
    page = client.post("/account/tokens", data={"csrf_token": token, "name": "测试令牌"}).get_data(as_text=True)
    row = session.scalars(
        select(AuthSession).where(AuthSession.user_id == staff.id, AuthSession.kind == SessionKind.API)
    ).one()
    assert "吊销不能撤回" in forms_with_confirmation(page)[f"/account/tokens/{row.id}/revoke"]
    page = client.get("/certificates/revoked").get_data(as_text=True)
    assert re.search(r'<form method="post" class="card" data-confirm="吊销后[^"]+吊销不能撤回。确定吊销？">', page)
    assert "PEM" not in re.sub(r"<code>.*?</code>", "", page)
