"""Certificates the platform has revoked (its revocation list)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from trading.db import Base


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
