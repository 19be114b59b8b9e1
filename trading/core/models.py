"""The scheduler lease: exactly one scheduler runs per deployment."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base


class SchedulerLease(Base):
    __tablename__ = "scheduler_lease"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(100), comment="host:pid:random of the running scheduler")
    expires_at: Mapped[dt.datetime]
    acquired_at: Mapped[dt.datetime]
