"""Bids (投标文件) and their uploads. Who bid, and how many, is secret until the opening."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from signing.digest import sm3_hex
from signing.statements import SignedStatement
from trading.core.db import Base, enum_column


class BidState(StrEnum):
    ACCEPTED = "accepted"  # the live bid of this bidder for this lot
    SUPERSEDED = "superseded"  # replaced before the deadline (kept, for the trace)
    WITHDRAWN = "withdrawn"  # withdrawn before the deadline (Law 29), signed by the bidder

    @property
    def label(self) -> str:
        return BID_STATE_LABELS[self]


BID_STATE_LABELS = {BidState.ACCEPTED: "有效", BidState.SUPERSEDED: "已被替换", BidState.WITHDRAWN: "已撤回"}


class UploadState(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    ABANDONED = "abandoned"

    @property
    def label(self) -> str:
        return UPLOAD_STATE_LABELS[self]


UPLOAD_STATE_LABELS = {UploadState.OPEN: "上传中", UploadState.COMPLETED: "已完成", UploadState.ABANDONED: "已放弃"}


class Bid(Base):
    __tablename__ = "bid"
    __table_args__ = (
        # One live bid per bidder per lot, whatever the race.
        Index(
            "uq_bid_live_per_lot",
            "lot_id",
            "org_id",
            unique=True,
            postgresql_where=text("status = 'accepted'"),
            sqlite_where=text("status = 'accepted'"),
        ),
        CheckConstraint("status != 'withdrawn' OR withdrawn_at IS NOT NULL", name="withdrawn_has_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[BidState] = mapped_column(enum_column(BidState))
    object_key: Mapped[str] = mapped_column(String(80))
    ciphertext_sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    header_sm3: Mapped[str] = mapped_column(String(64))
    signer_cert_sm3: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(comment="server time inside the accepting transaction")
    receipt: Mapped[str] = mapped_column(Text, comment="platform-signed statement (canonical JSON)")
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("bid.id"))
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawal: Mapped[str | None] = mapped_column(Text, comment="the bidder's signed withdrawal (base64 DER)")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("bid", self.ciphertext_sm3[:32])

    @property
    def commitment(self) -> str:
        """SM3 of the signed receipt: what the audit trail records for this bid (not the bidder)."""
        return sm3_hex(SignedStatement.from_json(self.receipt.encode()).statement)


class BidUpload(Base):
    """An upload in progress. Never a bid until ``complete_upload`` accepts it."""

    __tablename__ = "bid_upload"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    state: Mapped[UploadState] = mapped_column(enum_column(UploadState))
    declared_size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(Integer)
    head: Mapped[bytes] = mapped_column(LargeBinary, comment="prefix and header of the envelope")
    started_from: Mapped[str] = mapped_column(String(64), default="", server_default="")
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    parts: Mapped[int] = mapped_column(Integer, default=0)
    prefix_sm3: Mapped[str] = mapped_column(String(64), comment="SM3 of the bytes received so far")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class BidOrigin(Base):
    """Where a bid's upload came from, for the collusion signals computed after the opening. As
    secret as the bid: nothing shows it, to anyone, before the lot's opening."""

    __tablename__ = "bid_origin"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id"), unique=True)
    started_from: Mapped[str] = mapped_column(String(64), comment="network address that began the upload")
    completed_from: Mapped[str] = mapped_column(String(64), comment="network address that completed it")
    install_id: Mapped[str | None] = mapped_column(
        String(64), comment="the salted ggzy-bid installation id it sent (docs/formats.md), if any"
    )
    user_agent: Mapped[str] = mapped_column(String(200), default="")
