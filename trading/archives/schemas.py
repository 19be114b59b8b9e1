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
    tender_id: int | None = Field(description="招标项目的档案包：项目编号；产权交易标的的档案包为空")
    lot_id: int | None
    auction_id: int | None = Field(description="产权交易标的的档案包：标的的内部编号；招标项目的为空")
    end_state: str = Field(
        description="结束的方式：opened（开标结束）、awarded（已定标）、failed（流标）、cancelled（终止）；"
        "产权交易标的：sold（已成交）、unsold（流拍）、cancelled（终止）"
    )
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
    tender: str | None
    lot: int | None
    auction: str | None = Field(description="产权交易标的编号")


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
