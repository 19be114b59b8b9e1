"""Login by password, API tokens, organisations and users: the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify
from sqlalchemy import select

from trading.accounts import operations as ops
from trading.accounts import web
from trading.accounts.models import AuthSession, Organisation, SessionKind, User
from trading.accounts.permissions import Permission, permissions_of, requires
from trading.accounts.schemas import (
    LoginIn,
    MeOut,
    OrganisationIn,
    OrganisationOut,
    OrganisationsOut,
    PagingQuery,
    TokenOut,
    UserIn,
    UserOut,
    UsersOut,
)
from trading.core.apispec import documented
from trading.core.errors import TooManyRequests, Unauthenticated
from trading.core.services import services

api = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


def password_login(data: LoginIn) -> User:
    """The password login both the login page and ``POST /auth/token`` make, throttled per name
    and address; a refused attempt is committed, as it is what the back-off counts."""
    s = services(current_app).settings
    try:
        return ops.authenticate(
            web.db(),
            data.username,
            data.password,
            web.client_address(),
            max_failures=s.login_max_failures,
            window_seconds=s.login_window_seconds,
        )
    except (Unauthenticated, TooManyRequests):
        web.commit()  # keep the attempt: it is what the rate limit counts
        raise


def org_json(o: Organisation) -> dict[str, Any]:
    return {
        "id": o.id,
        "name": o.name,
        "credit_code": o.credit_code,
        "kind": o.kind.value,
        "region": o.region,
        "created_at": o.created_at.isoformat(),
    }


def user_json(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "organisation_id": u.organisation_id,
        "roles": sorted(r.value for r in u.roles),
        "is_active": u.is_active,
    }


def token_json(row: AuthSession, token: str) -> dict[str, Any]:
    """The answer to a login that opens an API session (by password or by certificate)."""
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_at": row.expires_at.isoformat(),
        "user": user_json(row.user),
    }


@api.post("/auth/token")
@requires(Permission.PUBLIC)
@documented(
    "用户名和密码登录，取得访问令牌",
    body=LoginIn,
    ok=TokenOut,
    status=201,
    errors=("bad_credentials", "too_many_requests"),
    example={"username": "bidder1", "password": "correct horse battery", "name": "my-script"},
)
def api_token() -> tuple[Response, int]:
    data = web.json_body(LoginIn)
    user = password_login(data)
    row, token = ops.open_session(web.db(), user, SessionKind.API, data.name or "api")
    web.commit()
    return jsonify(token_json(row, token)), 201


@api.delete("/auth/token")
@requires(Permission.AUTHENTICATED)
@documented("注销当前访问令牌", ok=None, status=204)
def api_token_revoke() -> tuple[str, int]:
    row = g.auth
    ops.revoke_session(web.db(), web.require_user(), row)
    web.commit()
    return "", 204


@api.get("/me")
@requires(Permission.AUTHENTICATED)
@documented("当前用户、所属机构和权限", ok=MeOut)
def api_me() -> Response:
    user = web.require_user()
    org = user.organisation
    body = user_json(user) | {
        "permissions": sorted(p.value for p in permissions_of(user.roles)),
        "organisation": None if org is None else {"id": org.id, "name": org.name, "credit_code": org.credit_code},
    }
    return jsonify(body)


@api.get("/organisations")
@requires(Permission.ORGANISATION_READ)
@documented("机构列表", ok=OrganisationsOut, query=PagingQuery, errors=("bad_integer",))
def api_organisations() -> Response:
    page, size = _paging()
    q = select(Organisation).order_by(Organisation.id).offset((page - 1) * size).limit(size)
    return jsonify({"items": [org_json(o) for o in web.db().scalars(q)], "page": page, "page_size": size})


@api.post("/organisations")
@requires(Permission.ORGANISATION_MANAGE)
@documented(
    "新建机构",
    body=OrganisationIn,
    ok=OrganisationOut,
    status=201,
    errors=("conflict",),
    example={
        "name": "福建某建设工程有限公司",
        "credit_code": "91350100M000100Y43",
        "kind": "enterprise",
        "region": "350100",
    },
)
def api_organisation_create() -> tuple[Response, int]:
    org = ops.create_organisation(web.db(), web.require_user(), web.json_body(OrganisationIn))
    web.commit()
    return jsonify(org_json(org)), 201


@api.get("/organisations/<int:org_id>")
@requires(Permission.ORGANISATION_READ)
@documented("查看机构", ok=OrganisationOut)
def api_organisation(org_id: int) -> Response:
    return jsonify(org_json(ops.get_organisation(web.db(), org_id)))


@api.get("/users")
@requires(Permission.USER_MANAGE)
@documented("用户列表", ok=UsersOut, query=PagingQuery, errors=("bad_integer",))
def api_users() -> Response:
    page, size = _paging()
    q = select(User).order_by(User.id).offset((page - 1) * size).limit(size)
    return jsonify({"items": [user_json(u) for u in web.db().scalars(q)], "page": page, "page_size": size})


@api.post("/users")
@requires(Permission.USER_MANAGE)
@documented(
    "新建用户",
    body=UserIn,
    ok=UserOut,
    status=201,
    errors=("conflict",),
    example={
        "username": "bidder9",
        "display_name": "张三",
        "password": "correct horse battery",
        "organisation_id": 3,
        "roles": ["bidder"],
    },
)
def api_user_create() -> tuple[Response, int]:
    user = ops.create_user(web.db(), web.require_user(), web.json_body(UserIn))
    web.commit()
    return jsonify(user_json(user)), 201


def _paging() -> tuple[int, int]:
    # page is bounded so that (page - 1) * page_size, the OFFSET, stays within 64 bits
    page = web.query_int("page", 1, minimum=1, maximum=10_000_000)
    return page, web.query_int("page_size", 50, minimum=1, maximum=200)
