"""Requests for procedures: a day of the holiday table."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from trading.core.apispec import Reply
from trading.core.schemas import Schema
from trading.procedures.models import AmendmentPolicy, DayKind


class HolidayIn(Schema):
    is_workday: bool = Field(default=False, title="调休上班日")
    name: str = Field(min_length=1, max_length=50, title="名称")


class ProcedureOut(Reply):
    code: str
    name: str
    day_kind: DayKind = Field(description="期限按日历日（calendar）或工作日（working）计算")
    min_bid_days: int
    amendment_lead_days: int
    amendment_policy: AmendmentPolicy
    min_valid_bids: int
    publicity_days: int
    source: str = Field(description="法律依据")


class ProceduresOut(Reply):
    items: list[ProcedureOut]


class HolidayOut(Reply):
    day: dt.date
    is_workday: bool
    name: str


class HolidaysOut(Reply):
    items: list[HolidayOut]
