"""Login, logout, API tokens, organisations and users: the HTML pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from trading.accounts import operations as ops
from trading.accounts import web
from trading.accounts.api import password_login
from trading.accounts.form_errors import field_lines
from trading.accounts.models import ORG_KIND_LABELS, ROLE_LABELS, AuthSession, Organisation, SessionKind, User
from trading.accounts.permissions import Permission, requires
from trading.accounts.regions import known_regions
from trading.accounts.schemas import LoginIn, LoginPageIn, OrganisationIn, UserIn
from trading.core.errors import DomainError, NotFound, TooManyRequests

pages = Blueprint("accounts", __name__, template_folder="templates")


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
        user = password_login(LoginIn(username=data.username, password=data.password))
    except DomainError as exc:
        page = render_template("accounts/login.html", error=exc.message, lines=field_lines(exc), next=target)
        resp = page, exc.status
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


def _org_page(form: dict[str, str] | None = None, refused: DomainError | None = None) -> str:
    orgs = web.db().scalars(select(Organisation).order_by(Organisation.id)).all()
    return render_template(
        "accounts/organisations.html",
        orgs=orgs,
        kinds=ORG_KIND_LABELS,
        regions=known_regions(),
        form=form or {},
        errors=refused.fields if refused else {},
        message=refused.message if refused else "",
        lines=field_lines(refused) if refused else [],
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
        return _org_page(dict(request.form), exc), exc.status
    web.commit()
    flash("机构已登记")
    return redirect(url_for("accounts.organisations_page"))


def _users_page(form: dict[str, Any] | None = None, refused: DomainError | None = None) -> str:
    db = web.db()
    users = db.scalars(select(User).order_by(User.id)).all()
    orgs = db.scalars(select(Organisation).order_by(Organisation.name)).all()
    return render_template(
        "accounts/users.html",
        users=users,
        orgs=orgs,
        role_labels=ROLE_LABELS,
        form=form or {},
        errors=refused.fields if refused else {},
        message=refused.message if refused else "",
        lines=field_lines(refused) if refused else [],
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
        form = {**request.form, "roles": request.form.getlist("roles")}
        return _users_page(form, exc), exc.status
    web.commit()
    flash("用户已创建")
    return redirect(url_for("accounts.users_page"))


@pages.post("/admin/users/<int:user_id>/disable", defaults={"active": False})
@pages.post("/admin/users/<int:user_id>/enable", defaults={"active": True}, endpoint="user_enable")
@requires(Permission.USER_MANAGE)
def user_disable(user_id: int, active: bool) -> ResponseReturnValue:
    """停用 or 启用 an account (the list's buttons; disabling asks for confirmation first)."""
    user = web.db().get(User, user_id)
    if user is None:
        raise NotFound("用户不存在")
    done = f"用户 {user.username} 已{'启用' if active else '停用'}"
    web.form_step(lambda: ops.set_user_active(web.db(), web.require_user(), user, active), done, "未能更改")
    return redirect(url_for("accounts.users_page"))
