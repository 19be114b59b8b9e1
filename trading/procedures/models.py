"""Procedure types as data (legal durations and limits), and the holiday calendar."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base, enum_column


class DayKind(StrEnum):
    CALENDAR = "calendar"  # 日
    WORKING = "working"  # 工作日


class AmendmentPolicy(StrEnum):
    EXTEND = "extend"  # move the deadline so the lead time holds (Reg 21)
    REFUSE = "refuse"  # refuse the amendment


class ProcedureType(Base):
    """One row per procedure (公开招标, 竞争性谈判, 挂牌出让, …); the defaults are the legal ones."""

    __tablename__ = "procedure_type"
    __table_args__ = (
        CheckConstraint("min_bid_days >= 0 AND amendment_lead_days >= 0", name="non_negative_days"),
        CheckConstraint("min_valid_bids >= 1", name="min_valid_bids_positive"),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    day_kind: Mapped[DayKind] = mapped_column(enum_column(DayKind, 10, checked=False))
    min_bid_days: Mapped[int] = mapped_column(Integer, comment="documents issued → bid deadline (Law 24: 20 days)")
    amendment_lead_days: Mapped[int] = mapped_column(Integer, comment="amendment → deadline (Law 23: 15 days)")
    amendment_policy: Mapped[AmendmentPolicy] = mapped_column(enum_column(AmendmentPolicy, 10, checked=False))
    min_valid_bids: Mapped[int] = mapped_column(Integer, comment="fewer: no opening (Law 28, Reg 44)")
    publicity_days: Mapped[int] = mapped_column(Integer, comment="candidate publicity (Reg 54: 3 days)")
    decryption_window_minutes: Mapped[int] = mapped_column(Integer)
    sign_in_minutes: Mapped[int] = mapped_column(Integer, default=30, comment="opening: sign-in window")
    confirmation_minutes: Mapped[int] = mapped_column(Integer, default=30, comment="opening: record confirmation")
    archive_retention_years: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300), comment="the rules these numbers come from")


class Holiday(Base):
    """A day that differs from the Monday–Friday rule: a holiday, or a weekend working day (调休)."""

    __tablename__ = "holiday"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean, comment="true: a weekend day that is worked (调休)")
    name: Mapped[str] = mapped_column(String(50))
