"""Account rules, on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import PASSWORD, TEST_ACTOR, make_org, make_user, valid_code
from trading.accounts import operations as ops
from trading.accounts.models import AuthSession, OrgKind, Role, SessionKind, User
from trading.accounts.schemas import OrganisationIn, UserIn
from trading.core.errors import Conflict, InvalidInput, TooManyRequests, Unauthenticated


def events(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_create_organisation_writes_event(session: Session) -> None:
    before = events(session)
    org = make_org(session, OrgKind.TENDEREE, "福州某招标人")
    ev = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert events(session) == before + 1
    assert ev is not None and ev.action == "organisation.create" and ev.object_id == str(org.id)
    assert org.credit_code in ev.payload


def test_duplicate_credit_code_refused(session: Session) -> None:
    code = valid_code()
    ops.create_organisation(
        session, TEST_ACTOR, OrganisationIn(name="甲公司", credit_code=code, kind="enterprise", region="350100")
    )
    before = events(session)
    with pytest.raises(Conflict):
        ops.create_organisation(
            session,
            TEST_ACTOR,
            OrganisationIn(name="乙公司", credit_code=code.lower(), kind="enterprise", region="350100"),
        )
    assert events(session) == before


def test_role_must_fit_organisation_kind(session: Session) -> None:
    bank = make_org(session, OrgKind.ISSUER)
    before = events(session)
    with pytest.raises(InvalidInput, match="评标专家"):
        ops.create_user(
            session,
            TEST_ACTOR,
            UserIn(
                username="x-expert", display_name="x", password=PASSWORD, organisation_id=bank.id, roles=[Role.EXPERT]
            ),
        )
    with pytest.raises(InvalidInput, match="所属机构不存在"):
        ops.create_user(
            session,
            TEST_ACTOR,
            UserIn(
                username="x-ghost", display_name="x", password=PASSWORD, organisation_id=999999, roles=[Role.BIDDER]
            ),
        )
    assert events(session) == before
    assert session.scalar(select(User).where(User.username.in_(["x-expert", "x-ghost"]))) is None


def test_password_is_hashed_with_argon2(session: Session) -> None:
    u = make_user(session)
    assert u.password_hash.startswith("$argon2id$") and PASSWORD not in u.password_hash


def test_login_and_rate_limit(session: Session) -> None:
    u = make_user(session)
    kw = {"max_failures": 3, "window_seconds": 600}
    assert ops.authenticate(session, u.username, PASSWORD, "10.0.0.1", **kw).id == u.id
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            ops.authenticate(session, u.username, "wrong password", "10.0.0.1", **kw)
    with pytest.raises(TooManyRequests):  # even the right password, from this address, while it backs off
        ops.authenticate(session, u.username, PASSWORD, "10.0.0.1", **kw)
    with clock.frozen(clock.now() + dt.timedelta(seconds=601)):
        assert ops.authenticate(session, u.username, PASSWORD, "10.0.0.1", **kw).id == u.id


def test_unknown_user_and_inactive_user(session: Session) -> None:
    kw = {"max_failures": 5, "window_seconds": 600}
    with pytest.raises(Unauthenticated):
        ops.authenticate(session, "nobody-here", PASSWORD, "10.0.0.2", **kw)
    u = make_user(session)
    u.is_active = False
    with pytest.raises(Unauthenticated):
        ops.authenticate(session, u.username, PASSWORD, "10.0.0.2", **kw)


def test_sessions_resolve_expire_and_revoke(session: Session) -> None:
    u = make_user(session)
    row, token = ops.open_session(session, u, SessionKind.API, "cli")
    assert session.scalar(select(AuthSession.token_sm3).where(AuthSession.id == row.id)) != token
    assert ops.resolve_token(session, token, SessionKind.API) is row
    assert ops.resolve_token(session, token, SessionKind.WEB) is None  # a token is for one channel only
    with clock.frozen(row.expires_at + dt.timedelta(seconds=1)):
        assert ops.resolve_token(session, token, SessionKind.API) is None
    other = make_user(session)
    with pytest.raises(Exception, match="会话不存在"):
        ops.revoke_session(session, other, row)
    ops.revoke_session(session, u, row)
    assert ops.resolve_token(session, token, SessionKind.API) is None


def test_password_cost_is_a_setting_and_production_refuses_a_low_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Production keeps argon2-cffi's defaults; the test configuration is cheap; production refuses
    a cost below OWASP's floor for Argon2id."""
    from argon2 import extract_parameters

    from trading.accounts.passwords import Passwords
    from trading.core.config import ConfigError, load_settings

    prod = {
        "GGZY_ENV": "production",
        "SECRET_KEY": "x" * 40,
        "DATABASE_URL": "sqlite://",
        "OBJECT_STORE_URL": str(tmp_path / "o"),
        "ARCHIVE_STORE_URL": str(tmp_path / "a"),
    }
    s = load_settings(prod)
    assert (s.argon2_memory_kib, s.argon2_time_cost) == (65536, 3)
    t = load_settings({"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp_path / "i")})
    assert (t.argon2_memory_kib, t.argon2_time_cost) == (8, 1)
    with pytest.raises(ConfigError, match="ARGON2"):
        load_settings(prod | {"ARGON2_MEMORY_KIB": "1024"})
    p = Passwords()
    p.configure(t.argon2_memory_kib, t.argon2_time_cost)
    cheap = p.hash("correct horse battery")
    assert extract_parameters(cheap).memory_cost == 8 and p.verify(cheap, "correct horse battery")
    assert not p.verify(cheap, "wrong") and not p.verify(None, "correct horse battery")
    p.configure(s.argon2_memory_kib, s.argon2_time_cost)
    assert p.needs_rehash(cheap)  # a production login upgrades a hash made at a lower cost
