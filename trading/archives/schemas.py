"""The archive's request and answer schemas."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from trading.core.apispec import Reply
from trading.core.schemas import Schema


class HoldIn(Schema):
    """法律保留: set (``on``) or lift a legal hold, with the dispute or complaint behind it."""

    on: bool
    reason: str


class ArchiveSearchQuery(Schema):
    q: str = Field(default="", max_length=200, title="项目编号或名称")


class PackageOut(Reply):
    id: int
    tender_id: int
    lot_id: int
    end_state: str = Field(description="项目结束的方式：closed（已开标并结束）、failed（流标）、cancelled（终止）")
    sm3: str
    size: int
    files: int
    tree_size: int = Field(description="包中事件所在的已签名检查点的树大小")
    built_at: dt.datetime
    retain_until: dt.datetime
    legal_hold: bool
    verified_at: dt.datetime | None
    verified_ok: bool | None


class PackageListedOut(PackageOut):
    tender: str
    lot: int


class PackagesOut(Reply):
    items: list[PackageListedOut]


class PackageReportOut(PackageOut):
    report: str | None = Field(description="最近一次核验的报告")


class CheckOut(Reply):
    check: str
    ok: bool
    detail: str
    code: str


class VerifiedOut(Reply):
    ok: bool
    checks: list[CheckOut]


class DeletedOut(Reply):
    deleted: int
