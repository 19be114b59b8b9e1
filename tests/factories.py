"""Factories for domain objects, built through the real operations."""

from __future__ import annotations

import itertools
import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive.audit import ActorRef
from trading.accounts import operations as ops
from trading.accounts.credit_code import check_character
from trading.accounts.models import Organisation, OrgKind, Role, User
from trading.accounts.schemas import OrganisationIn, UserIn

TEST_ACTOR = ActorRef("test:factory", "admin")
PASSWORD = "correct horse battery"
_n = itertools.count(1)

KIND_FOR_ROLE = {
    Role.BIDDER: OrgKind.ENTERPRISE,
    Role.TENDEREE: OrgKind.TENDEREE,
    Role.AGENCY: OrgKind.AGENCY,
    Role.STAFF: OrgKind.TRADING_CENTER,
    Role.ADMIN: OrgKind.TRADING_CENTER,
    Role.EXPERT: OrgKind.EMPLOYER,
    Role.SUPERVISOR: OrgKind.SUPERVISION,
    Role.ISSUER: OrgKind.ISSUER,
}


def valid_code(n: int | None = None) -> str:
    base = f"91350100{(n if n is not None else next(_n) + 500_000_000):09d}"
    return base + check_character(base)


def make_org(session: Session, kind: OrgKind = OrgKind.ENTERPRISE, name: str | None = None) -> Organisation:
    i = next(_n)
    return ops.create_organisation(
        session,
        TEST_ACTOR,
        OrganisationIn(name=name or f"测试机构{i}", credit_code=valid_code(), kind=kind, region="350100"),
    )


def make_user(
    session: Session, role: Role = Role.BIDDER, username: str | None = None, org: Organisation | None = None
) -> User:
    org = org or make_org(session, KIND_FOR_ROLE[role])
    return ops.create_user(
        session,
        TEST_ACTOR,
        UserIn(
            username=username or f"user{next(_n)}",
            display_name="测试用户",
            password=PASSWORD,
            organisation_id=org.id,
            roles=[role],
        ),
    )


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def page_login(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)


def api_token(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}
