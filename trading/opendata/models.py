"""The opendata stage's tables: the OCDS releases as published (never changed afterwards), the
sweep's cursor over the audit trail, the tenders whose releases could not be built yet, and the
daily bulk packages in the object store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base


class ReleaseChanged(Exception):
    """A published release was about to be changed or deleted: releases are immutable (OCDS)."""


class OcdsRelease(Base):
    """One OCDS release, derived from one audit event (``source_seq``) of one published tender."""

    __tablename__ = "ocds_release"
    __table_args__ = (Index("ix_ocds_release_ocid_source_seq", "ocid", "source_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="publication order: the API's page cursor")
    release_id: Mapped[str] = mapped_column(
        String(80), unique=True, comment="OCDS release id, {tender code}-{n}: the tender's n-th release"
    )
    ocid: Mapped[str] = mapped_column(String(80))
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), index=True)
    source_seq: Mapped[int] = mapped_column(BigInteger, unique=True, comment="the audit event it was derived from")
    tag: Mapped[str] = mapped_column(String(40), comment="the OCDS release tag")
    date: Mapped[dt.datetime] = mapped_column(index=True, comment="the source event's instant (UTC)")
    body: Mapped[str] = mapped_column(Text, comment="the release, canonical JSON")
    body_sm3: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(index=True, comment="when the sweep stored it (UTC)")


class OcdsCursor(Base):
    """How far the sweep has read the audit trail (one row)."""

    __tablename__ = "ocds_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class OcdsHeld(Base):
    """A tender whose releases could not be built: retried by each sweep; its later events wait for
    it (its releases keep their order), the other tenders do not."""

    __tablename__ = "ocds_held"

    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), primary_key=True, autoincrement=False)
    failures: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str] = mapped_column(Text, comment="the last error's class and message")
    last_at: Mapped[dt.datetime]


class OcdsBulk(Base):
    """A daily bulk file (JSON Lines, gzip) in the object store: every release, or every record,
    published up to the end of ``day`` (Beijing)."""

    __tablename__ = "ocds_bulk"
    __table_args__ = (UniqueConstraint("day", "kind", name="uq_ocds_bulk_day_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16), comment="releases or records")
    object_key: Mapped[str] = mapped_column(String(80))
    sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer, comment="lines in the file")
    created_at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("ocds_bulk", str(self.id))


def _refuse(mapper: Any, connection: Any, target: OcdsRelease) -> None:
    raise ReleaseChanged(f"OCDS release {target.release_id} is published and cannot change")


event.listen(OcdsRelease, "before_update", _refuse)
event.listen(OcdsRelease, "before_delete", _refuse)
