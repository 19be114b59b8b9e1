"""Requests for procedures: a day of the holiday table."""

from __future__ import annotations

from pydantic import Field

from trading.core.schemas import Schema


class HolidayIn(Schema):
    is_workday: bool = Field(default=False, title="调休上班日")
    name: str = Field(min_length=1, max_length=50, title="名称")
