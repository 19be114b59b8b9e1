"""The exchange stage's tables: each national record as it was built (its envelope, fixed once, so a
retry sends the same bytes), its push state, and how far the audit log has been read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base

#: a record's push states; "refused" is final until staff push it again (``ggzy exchange push --refused``)
QUEUED, PUSHED, FAILING, REFUSED = "queued", "pushed", "failing", "refused"
STATES = (QUEUED, PUSHED, FAILING, REFUSED)


class ExchangeRecord(Base):
    """One national record (one row of a national table, at one DATA_TIMESTAMP) and its push."""

    __tablename__ = "exchange_record"
    __table_args__ = (
        UniqueConstraint("table_name", "data_key", "data_timestamp", name="uq_exchange_record_key"),
        CheckConstraint("state IN ('queued', 'pushed', 'failing', 'refused')", name="known_state"),
        Index("ix_exchange_record_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40), comment="the national table, e.g. WIN_BID_BULLETIN")
    data_key: Mapped[str] = mapped_column(String(160), comment="DATA_KEY: the row's identity in its table")
    data_timestamp: Mapped[str] = mapped_column(String(40), comment="DATA_TIMESTAMP: the source event's time")
    tender_code: Mapped[str] = mapped_column(String(32), index=True)
    source_seq: Mapped[int] = mapped_column(BigInteger, index=True, comment="the audit event it was built from")
    envelope: Mapped[str] = mapped_column(Text, comment="the signed envelope (JSON), sent byte for byte")
    state: Mapped[str] = mapped_column(String(12), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0, comment="failed pushes since the last success")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(comment="not pushed again before (back-off)")
    last_error: Mapped[str | None] = mapped_column(String(400), comment="the receiver's code and message")
    created_at: Mapped[dt.datetime]
    pushed_at: Mapped[dt.datetime | None]
    receipt: Mapped[str | None] = mapped_column(Text, comment="the receiver's answer to the accepted push")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("exchange_record", str(self.id))


class ExchangeCursor(Base):
    """The last audit event read for national records (every later one is still to read)."""

    __tablename__ = "exchange_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
