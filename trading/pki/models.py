"""Certificates the platform has revoked (its revocation list)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base


class RevokedCertificate(Base):
    __tablename__ = "revoked_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_serial: Mapped[str] = mapped_column(String(200), unique=True, comment="SM3(issuer DN):serial, hex")
    fingerprint: Mapped[str] = mapped_column(String(64), comment="SM3 of the certificate DER")
    subject: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[dt.datetime]
    revoked_by: Mapped[str] = mapped_column(String(64))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("certificate", self.fingerprint)


class UserCertificate(Base):
    """A user's registered SM2 certificate (UKey): one signing and one encryption at a time."""

    __tablename__ = "user_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    usage: Mapped[str] = mapped_column(String(10), comment="sign or encrypt")
    der: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    not_after: Mapped[dt.datetime]
    registered_at: Mapped[dt.datetime]
    replaced_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("user_certificate", str(self.id))


class UsedLoginChallenge(Base):
    """A UKey login challenge already used to log in: challenges are stateless tokens
    (``trading.pki.login.issue_challenge``), so only the used ones are kept, until they
    expire, to refuse a replay."""

    __tablename__ = "used_login_challenge"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True, comment="the token's random nonce, hex")
    expires_at: Mapped[dt.datetime]
