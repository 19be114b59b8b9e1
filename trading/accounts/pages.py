"""Login, logout, tokens, organisations and users: the pages and the JSON API."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from trading.accounts import operations as ops
from trading.accounts import web
from trading.accounts.models import ORG_KIND_LABELS, ROLE_LABELS, AuthSession, Organisation, SessionKind, User
from trading.accounts.permissions import Permission, permissions_of, requires
from trading.accounts.schemas import ChallengeIn, LoginIn, LoginPageIn, OrganisationIn, Sm2LoginIn, UserIn
from trading.core.config import Settings
from trading.core.errors import DomainError, NotFound, TooManyRequests, Unauthenticated
from trading.pki.operations import challenge_key

log = logging.getLogger("ggzy.accounts")
SM2_LOGIN_FAILED = "证书登录失败：挑战码无效、已使用或已过期，或签名无效、证书不可用；请重新获取挑战码后再试"

pages = Blueprint("accounts", __name__)
api = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


def _settings() -> Settings:
    return current_app.extensions["ggzy.settings"]  # type: ignore[no-any-return]


def _login(data: LoginIn) -> User:
    s = _settings()
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


# ---------------- pages ----------------


@pages.get("/login")
@requires(Permission.PUBLIC)
def login_page() -> str:
    return render_template("accounts/login.html", next=web.same_site_path(request.args.get("next", "")) or "")


@pages.post("/login")
@requires(Permission.PUBLIC)
def login_submit() -> ResponseReturnValue:
    target = web.same_site_path(request.form.get("next", "")) or ""
    try:
        data = web.form_body(LoginPageIn)
        user = _login(LoginIn(username=data.username, password=data.password))
    except DomainError as exc:
        resp = render_template("accounts/login.html", error=exc.message, next=target), exc.status
        if isinstance(exc, TooManyRequests):
            return *resp, {"Retry-After": str(exc.retry_after)}
        return resp
    _, token = ops.open_session(web.db(), user, SessionKind.WEB)
    web.commit()
    session.clear()
    session["sid"] = token
    return redirect(target or url_for("home.index"))


@pages.post("/logout")
@requires(Permission.AUTHENTICATED)
def logout() -> ResponseReturnValue:
    user = web.require_user()
    row = g.auth
    if isinstance(row, AuthSession):
        ops.revoke_session(web.db(), user, row)
        web.commit()
    session.clear()
    return redirect(url_for("home.index"))


@pages.get("/account")
@requires(Permission.AUTHENTICATED)
def account_page() -> str:
    user = web.require_user()
    return render_template(
        "accounts/account.html",
        user=user,
        tokens=ops.list_tokens(web.db(), user),
        role_labels=ROLE_LABELS,
        new_token=None,
    )


@pages.post("/account/tokens")
@requires(Permission.ACCOUNT_TOKENS)
def account_token_create() -> str:
    user = web.require_user()
    name = (request.form.get("name") or "").strip()[:100] or "ggzy-bid"
    _, token = ops.open_session(web.db(), user, SessionKind.API, name)
    web.commit()
    return render_template(
        "accounts/account.html",
        user=user,
        tokens=ops.list_tokens(web.db(), user),
        role_labels=ROLE_LABELS,
        new_token=token,
    )


@pages.post("/account/tokens/<int:token_id>/revoke")
@requires(Permission.ACCOUNT_TOKENS)
def account_token_revoke(token_id: int) -> ResponseReturnValue:
    user = web.require_user()
    row = web.db().get(AuthSession, token_id)
    if row is None or row.kind != SessionKind.API:
        raise NotFound("令牌不存在")
    ops.revoke_session(web.db(), user, row)
    web.commit()
    flash("令牌已吊销")
    return redirect(url_for("accounts.account_page"))


def _org_page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None, message: str = "") -> str:
    orgs = web.db().scalars(select(Organisation).order_by(Organisation.id)).all()
    return render_template(
        "accounts/organisations.html",
        orgs=orgs,
        kinds=ORG_KIND_LABELS,
        form=form or {},
        errors=errors or {},
        message=message,
    )


@pages.get("/admin/organisations")
@requires(Permission.ORGANISATION_READ)
def organisations_page() -> str:
    return _org_page()


@pages.post("/admin/organisations")
@requires(Permission.ORGANISATION_MANAGE)
def organisations_create() -> ResponseReturnValue:
    try:
        ops.create_organisation(web.db(), web.require_user(), web.form_body(OrganisationIn))
    except DomainError as exc:
        web.db().rollback()
        return _org_page(dict(request.form), exc.fields, exc.message), exc.status
    web.commit()
    flash("机构已登记")
    return redirect(url_for("accounts.organisations_page"))


def _users_page(form: dict[str, Any] | None = None, errors: dict[str, str] | None = None, message: str = "") -> str:
    db = web.db()
    users = db.scalars(select(User).order_by(User.id)).all()
    orgs = db.scalars(select(Organisation).order_by(Organisation.name)).all()
    return render_template(
        "accounts/users.html",
        users=users,
        orgs=orgs,
        role_labels=ROLE_LABELS,
        form=form or {},
        errors=errors or {},
        message=message,
    )


@pages.get("/admin/users")
@requires(Permission.USER_MANAGE)
def users_page() -> str:
    return _users_page()


@pages.post("/admin/users")
@requires(Permission.USER_MANAGE)
def users_create() -> ResponseReturnValue:
    try:
        ops.create_user(web.db(), web.require_user(), web.form_body(UserIn, lists=("roles",)))
    except DomainError as exc:
        web.db().rollback()
        return _users_page(dict(request.form), exc.fields, exc.message), exc.status
    web.commit()
    flash("用户已创建")
    return redirect(url_for("accounts.users_page"))


# ---------------- API ----------------


@api.post("/auth/token")
@requires(Permission.PUBLIC)
def api_token() -> tuple[Response, int]:
    data = web.json_body(LoginIn)
    user = _login(data)
    row, token = ops.open_session(web.db(), user, SessionKind.API, data.name or "api")
    web.commit()
    return jsonify(
        {"token": token, "token_type": "Bearer", "expires_at": row.expires_at.isoformat(), "user": user_json(user)}
    ), 201


@api.post("/auth/challenge")
@requires(Permission.PUBLIC)
def api_challenge() -> tuple[Response, int]:
    """Step 1 of the UKey login: a one-time statement to sign with the registered signing key."""
    data = web.json_body(ChallengeIn)
    s = _settings()
    try:
        ch = ops.issue_login_challenge(
            web.db(),
            data.username,
            web.client_address(),
            per_address=s.challenges_per_address,
            key=challenge_key(s.secret_key),
        )
    except TooManyRequests:
        web.commit()
        raise
    web.commit()
    return jsonify(
        {"challenge_id": ch.challenge_id, "statement": ch.statement.decode(), "expires_at": ch.expires_at.isoformat()}
    ), 201


@api.post("/auth/sm2")
@requires(Permission.PUBLIC)
def api_sm2_login() -> tuple[Response, int]:
    """Step 2: the signature over the statement, checked against the registered certificate."""
    from trading.pki.operations import authenticate_sm2
    from trading.pki.trust import trust

    data = web.json_body(Sm2LoginIn)
    try:
        user = authenticate_sm2(
            web.db(), data.challenge_id, data.signature, trust(), challenge_key(_settings().secret_key)
        )
    except Unauthenticated as exc:
        # one answer for every failure: a token not ours, altered, expired or used, a name that
        # does not exist, or a signature that does not verify must not tell which names exist
        log.info("UKey login refused: %s", exc.code)
        raise Unauthenticated(SM2_LOGIN_FAILED, code="bad_challenge") from None
    row, token = ops.open_session(web.db(), user, SessionKind.API, data.name or "ukey")
    web.commit()
    return jsonify(
        {"token": token, "token_type": "Bearer", "expires_at": row.expires_at.isoformat(), "user": user_json(user)}
    ), 201


@api.delete("/auth/token")
@requires(Permission.AUTHENTICATED)
def api_token_revoke() -> tuple[str, int]:
    row = g.auth
    ops.revoke_session(web.db(), web.require_user(), row)
    web.commit()
    return "", 204


@api.get("/me")
@requires(Permission.AUTHENTICATED)
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
def api_organisations() -> Response:
    page, size = _paging()
    q = select(Organisation).order_by(Organisation.id).offset((page - 1) * size).limit(size)
    return jsonify({"items": [org_json(o) for o in web.db().scalars(q)], "page": page, "page_size": size})


@api.post("/organisations")
@requires(Permission.ORGANISATION_MANAGE)
def api_organisation_create() -> tuple[Response, int]:
    org = ops.create_organisation(web.db(), web.require_user(), web.json_body(OrganisationIn))
    web.commit()
    return jsonify(org_json(org)), 201


@api.get("/organisations/<int:org_id>")
@requires(Permission.ORGANISATION_READ)
def api_organisation(org_id: int) -> Response:
    return jsonify(org_json(ops.get_organisation(web.db(), org_id)))


@api.get("/users")
@requires(Permission.USER_MANAGE)
def api_users() -> Response:
    page, size = _paging()
    q = select(User).order_by(User.id).offset((page - 1) * size).limit(size)
    return jsonify({"items": [user_json(u) for u in web.db().scalars(q)], "page": page, "page_size": size})


@api.post("/users")
@requires(Permission.USER_MANAGE)
def api_user_create() -> tuple[Response, int]:
    user = ops.create_user(web.db(), web.require_user(), web.json_body(UserIn))
    web.commit()
    return jsonify(user_json(user)), 201


def _paging() -> tuple[int, int]:
    # page is bounded so that (page - 1) * page_size, the OFFSET, stays within 64 bits
    page = web.query_int("page", 1, minimum=1, maximum=10_000_000)
    return page, web.query_int("page_size", 50, minimum=1, maximum=200)
