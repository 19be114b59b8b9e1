"""Issuers (出具机构) a bidder may choose: organisations of the issuer kind whose API client (an
issuer-role user with registered signing and encryption certificates) is set up."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.certs import Usage
from trading.accounts.models import Organisation, OrgKind, Role, User
from trading.core.errors import Conflict, InvalidInput
from trading.pki.operations import current_certificate


def organisation(session: Session, org_id: int) -> Organisation:
    """An organisation an order or a guarantee refers to (the foreign key guarantees it exists)."""
    org = session.get(Organisation, org_id)
    assert org is not None
    return org


def issuer_api_user(session: Session, issuer: Organisation) -> User | None:
    """The issuer's API client: its active issuer-role user with registered signing and encryption
    certificates (the first, if several)."""
    for u in session.scalars(select(User).where(User.organisation_id == issuer.id, User.is_active.is_(True))):
        if (
            Role.ISSUER in u.roles
            and current_certificate(session, u, Usage.SIGN)
            and current_certificate(session, u, Usage.ENCRYPT)
        ):
            return u
    return None


def open_issuers(session: Session) -> list[Organisation]:
    """Issuers a bidder can choose: active issuer organisations with an API client set up."""
    orgs = session.scalars(select(Organisation).where(Organisation.kind == OrgKind.ISSUER).order_by(Organisation.name))
    return [o for o in orgs if issuer_api_user(session, o) is not None]


def connected_issuer(session: Session, credit_code: str) -> Organisation:
    """The issuer a bidder named, refused by name unless it can receive orders."""
    org = session.scalar(select(Organisation).where(Organisation.credit_code == credit_code))
    if org is None or org.kind is not OrgKind.ISSUER:
        raise InvalidInput(
            "出具机构不存在或未启用", fields={"issuer": "请选择平台已接入的出具机构"}, code="unknown_issuer"
        )
    if issuer_api_user(session, org) is None:
        raise Conflict("该出具机构尚未开通电子保函接口", code="issuer_not_connected")
    return org
