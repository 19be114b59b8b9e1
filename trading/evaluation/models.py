"""The expert pool and committee draws (远程异地评标, first part: the pool and the verifiable draw)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trading.db import Base
from trading.tenders.models import _enum


class Expert(Base):
    """One expert of the pool. Staff keep the record; the expert keeps its own declarations current."""

    __tablename__ = "expert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    specialties: Mapped[list[str]] = mapped_column(JSON, comment="专业代码 (the pool's code list)")
    region: Mapped[str] = mapped_column(String(6), index=True, comment="行政区划代码 where the expert sits")
    employer: Mapped[str] = mapped_column(String(18), comment="统一社会信用代码 of the current employer")
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="former employers {credit_code, from, to}")
    relations: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, comment="declared kinship, directorships, shareholdings {kind, credit_code, from, to}"
    )
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    suspended_until: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("expert", str(self.id))


class DrawState(StrEnum):
    COMMITTED = "committed"  # inputs and the seed's SM3 published; not drawn yet
    DRAWN = "drawn"  # seed revealed, members invited

    @property
    def label(self) -> str:
        return {"committed": "已公布承诺，待抽取", "drawn": "已抽取"}[self.value]


class Draw(Base):
    """One round of drawing for a lot (the first, or a replacement round)."""

    __tablename__ = "expert_draw"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    state: Mapped[DrawState] = mapped_column(_enum(DrawState))
    snapshot_key: Mapped[str] = mapped_column(String(80), comment="object store key of the snapshot")
    snapshot_sm3: Mapped[str] = mapped_column(String(64))
    seed: Mapped[bytes] = mapped_column(LargeBinary(32), comment="secret until drawn, then published")
    seed_sm3: Mapped[str] = mapped_column(String(64), comment="the commitment published before the draw")
    result: Mapped[list[list[int]] | None] = mapped_column(JSON, comment="[[slot, expert id], …]")
    created_at: Mapped[dt.datetime]
    drawn_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("expert_draw", str(self.id))


class MemberState(StrEnum):
    INVITED = "invited"
    CONFIRMED = "confirmed"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return {"invited": "待确认", "confirmed": "已确认", "declined": "已拒绝"}[self.value]


class DrawMember(Base):
    __tablename__ = "expert_draw_member"
    __table_args__ = (UniqueConstraint("draw_id", "expert_id", name="uq_expert_draw_member_draw_id_expert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("expert_draw.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    slot: Mapped[int] = mapped_column(Integer)
    state: Mapped[MemberState] = mapped_column(_enum(MemberState))
    answered_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(String(300))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("expert_draw_member", str(self.id))
