"""Archive packages (档案) built for lots that reached an end state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base

#: Why a lot's package was built (``reason``: the end it reached), as pages name it.
REASON_LABELS = {
    "opened": "开标结束",
    "awarded": "已定标",
    "failed": "流标",
    "cancelled": "终止",
    "sold": "已成交",
    "unsold": "流拍",
}


class ArchivePackage(Base):
    __tablename__ = "archive_package"
    __table_args__ = (
        UniqueConstraint("lot_id", "reason", name="uq_archive_package_lot_id_reason"),
        UniqueConstraint("auction_id", "reason", name="uq_archive_package_auction_id_reason"),
        CheckConstraint("(lot_id IS NULL) <> (auction_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int | None] = mapped_column(ForeignKey("tender.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    auction_id: Mapped[int | None] = mapped_column(ForeignKey("auction.id"), comment="a rights-trading lot")
    ceremony_id: Mapped[int | None] = mapped_column(ForeignKey("ceremony.id"))
    reason: Mapped[str] = mapped_column(String(40), comment="the end state: closed (opened), failed, cancelled")
    object_key: Mapped[str] = mapped_column(String(80), comment="in the archive store")
    sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    files: Mapped[int] = mapped_column(Integer)
    tree_size: Mapped[int] = mapped_column(BigInteger, comment="the signed checkpoint its events are proven in")
    built_at: Mapped[dt.datetime]
    retain_until: Mapped[dt.datetime]
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[dt.datetime | None]
    verified_ok: Mapped[bool | None]
    report: Mapped[str | None] = mapped_column(Text, comment="the last verification report")

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("archive_package", str(self.id))
