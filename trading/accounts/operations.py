"""Account rules: organisations, users, login with rate limiting, sessions and tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import ANONYMOUS, Actor, record_event
from signing.digest import sm3_hex
from trading.accounts.models import (
    PASSWORD_ATTEMPT,
    ROLES_BY_KIND,
    AuthSession,
    LoginAttempt,
    Organisation,
    SessionKind,
    User,
    UserRole,
)
from trading.accounts.passwords import passwords
from trading.accounts.schemas import OrganisationIn, UserIn
from trading.accounts.throttle import password_wait
from trading.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthenticated

SESSION_LIFETIME = {SessionKind.WEB: dt.timedelta(hours=12), SessionKind.API: dt.timedelta(days=30)}


def create_organisation(session: Session, actor: Actor, data: OrganisationIn) -> Organisation:
    if session.scalar(select(Organisation.id).where(Organisation.credit_code == data.credit_code)):
        raise Conflict("该统一社会信用代码已登记", fields={"credit_code": "已存在"})
    org = Organisation(
        name=data.name, credit_code=data.credit_code, kind=data.kind, region=data.region, created_at=clock.now()
    )
    session.add(org)
    session.flush()
    record_event(
        session,
        actor,
        "organisation.create",
        org,
        {"name": org.name, "credit_code": org.credit_code, "kind": org.kind.value, "region": org.region},
    )
    return org


def get_organisation(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"机构 {org_id} 不存在")
    return org


def create_user(session: Session, actor: Actor, data: UserIn) -> User:
    if session.scalar(select(User.id).where(User.username == data.username)):
        raise Conflict("用户名已被使用", fields={"username": "已存在"})
    org = None
    if data.organisation_id is not None:
        org = session.get(Organisation, data.organisation_id)
        if org is None:
            raise InvalidInput("所属机构不存在", fields={"organisation_id": "不存在"})
    roles = set(data.roles)
    allowed = ROLES_BY_KIND[org.kind] if org else frozenset()
    wrong = sorted(r.label for r in roles - allowed)
    if wrong:
        where = f"{org.kind.label}的用户" if org else "不属于任何机构的用户"
        raise InvalidInput(f"{where}不能担任：{'、'.join(wrong)}", fields={"roles": "与所属机构类型不符"})
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=passwords.hash(data.password),
        organisation_id=org.id if org else None,
        is_active=True,
        created_at=clock.now(),
    )
    user.role_rows = [UserRole(role=r) for r in sorted(roles)]
    session.add(user)
    session.flush()
    record_event(
        session,
        actor,
        "user.create",
        user,
        {"username": user.username, "organisation_id": user.organisation_id, "roles": sorted(roles)},
    )
    return user


def set_user_active(session: Session, actor: User, user: User, active: bool) -> None:
    """停用 or 启用 an account. Disabling ends every session and token it has (re-enabling does not
    bring them back); an administrator cannot disable themselves, so the platform keeps one."""
    if user.id == actor.id and not active:
        raise Conflict("不能停用自己的账号", code="self_disable")
    if user.is_active == active:
        return
    user.is_active = active
    ended = 0
    if not active:
        now = clock.now()
        for row in session.scalars(
            select(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        ):
            row.revoked_at = now
            ended += 1
    payload = {"username": user.username} | ({} if active else {"sessions_ended": ended})
    record_event(session, actor, "user.enable" if active else "user.disable", user, payload)


def authenticate(
    session: Session, username: str, password: str, ip: str, *, max_failures: int, window_seconds: int
) -> User:
    """Check a password login from client address ``ip``. Every attempt that is checked is recorded
    (the caller commits even on failure: the record is what the back-off counts); one refused for
    the back-off is not, so waiting is always enough (``trading.accounts.throttle``)."""
    now = clock.now()
    wait = password_wait(session, username, ip, now, max_failures=max_failures, window_seconds=window_seconds)
    if wait:
        raise TooManyRequests(f"登录失败次数过多，请 {wait} 秒后再试", retry_after=wait)
    user = session.scalar(select(User).where(User.username == username))
    ok = passwords.verify(user.password_hash if user else None, password) and user is not None and user.is_active
    session.add(LoginAttempt(username=username, ip=ip, at=now, success=ok, kind=PASSWORD_ATTEMPT))
    if not ok or user is None:
        session.flush()
        raise Unauthenticated("用户名或密码错误", code="bad_credentials")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    return user


def open_session(session: Session, user: User, kind: SessionKind, name: str = "") -> tuple[AuthSession, str]:
    """Start a server-side session; returns it and the secret token (shown once)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = AuthSession(
        token_sm3=sm3_hex(token.encode()),
        user_id=user.id,
        kind=kind,
        name=name[:100],
        created_at=now,
        expires_at=now + SESSION_LIFETIME[kind],
    )
    session.add(row)
    session.flush()
    record_event(
        session, user, f"session.open.{kind.value}", row, {"name": row.name, "expires_at": row.expires_at.isoformat()}
    )
    return row, token


def resolve_token(session: Session, token: str, kind: SessionKind) -> AuthSession | None:
    row = session.scalar(select(AuthSession).where(AuthSession.token_sm3 == sm3_hex(token.encode())))
    if row is None or row.kind != kind or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    if not row.user.is_active:
        return None
    return row


def revoke_session(session: Session, actor: User, row: AuthSession) -> None:
    if row.user_id != actor.id:
        raise NotFound("会话不存在")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        record_event(session, actor, "session.revoke", row, {"kind": row.kind.value})


def list_tokens(session: Session, user: User) -> list[AuthSession]:
    return list(
        session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user.id,
                AuthSession.kind == SessionKind.API,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > clock.now(),
            )
            .order_by(AuthSession.created_at.desc())
        )
    )


__all__ = ["ANONYMOUS"]
