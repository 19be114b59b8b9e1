"""Requests and answers of the lots' setup and their public pages (标的的设立、发布和公开信息).

Money travels as decimal strings with at most two places (``"1234.50"``), never as JSON numbers, so
an amount is never rounded on its way; instants as ISO 8601 with their zone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from trading.auctions import rules
from trading.auctions.models import AuctionState, Method
from trading.core.apispec import Reply
from trading.core.input_errors import hint
from trading.core.schemas import OneLine, Schema, TextBlock
from trading.tenders.schemas import Instant, RegionCode

AMOUNT_REFUSED = '金额应为大于 0、至多两位小数的数字，以文字填写，例如 "1234.50"'
DEPOSIT_REFUSED = '金额应为 0 或正数、至多两位小数，以文字填写，例如 "200000.00"'
AMOUNT_SCHEMA = WithJsonSchema({"type": "string", "pattern": r"^\d{1,16}(\.\d{1,2})?$", "examples": ["1234.50"]})
#: what a procedure's code may look like (``land_listing``)
PROCEDURE_CODE = r"^[a-z][a-z0-9_]{0,39}$"


def amount(value: object) -> Decimal:
    found = rules.parse_amount(value) if not isinstance(value, float) else None
    if found is None:
        raise ValueError(AMOUNT_REFUSED)
    return found


def deposit_amount(value: object) -> Decimal:
    if isinstance(value, str) and value.strip() in ("0", "0.0", "0.00"):
        return Decimal("0.00")
    if value == 0 and not isinstance(value, bool | float):
        return Decimal("0.00")
    found = rules.parse_amount(value) if not isinstance(value, float) else None
    if found is None:
        raise ValueError(DEPOSIT_REFUSED)
    return found


Amount = Annotated[Decimal, BeforeValidator(amount), AMOUNT_SCHEMA]
DepositAmount = Annotated[Decimal, BeforeValidator(deposit_amount), AMOUNT_SCHEMA]


# ---------------------------------------------------------------- requests
class AuctionIn(Schema):
    """A lot as staff set it up (a draft; published later with its reserve price)."""

    title: OneLine = Field(min_length=4, max_length=200, title="标的名称")
    procedure_code: str = Field(
        max_length=40, pattern=PROCEDURE_CODE, title="交易方式", json_schema_extra=hint("交易方式代码，如 land_listing")
    )
    region: RegionCode = Field(title="标的所在地", json_schema_extra=hint("6 位行政区划代码"))
    transferor: OneLine = Field(min_length=2, max_length=200, title="出让人（转让方）")
    description: TextBlock = Field(default="", max_length=20000, title="标的情况")
    qualification: TextBlock = Field(default="", max_length=10000, title="竞买人资格条件")
    starting_price: Amount = Field(title="起始价")
    increment: Amount = Field(title="加价幅度")
    deposit: DepositAmount = Field(title="竞买保证金")
    registration_ends_at: Instant = Field(title="竞买申请截止时间")
    bidding_starts_at: Instant = Field(title="竞价（挂牌）开始时间")
    free_ends_at: Instant | None = Field(
        default=None,
        title="自由竞价结束（挂牌截止）时间",
        description="挂牌必填；拍卖、网络竞价不填则按交易方式的自由竞价时长",
    )


class PublishIn(Schema):
    reserve_price: str | None = Field(
        default=None,
        max_length=40,
        title="底价",
        description="不设底价则不填；发布时只公开 SM3(盐值‖底价)，成交或流拍后公开底价和盐值",
    )


class CancelIn(Schema):
    reason: TextBlock = Field(min_length=5, max_length=500, title="终止理由")


class ExtendIn(Schema):
    days: int = Field(ge=1, le=60, title="延长的工作日数")
    reason: TextBlock = Field(min_length=5, max_length=500, title="延期理由")


class AuctionsQuery(Schema):
    category: str | None = Field(default=None, max_length=20, title="交易类别")
    state: AuctionState | None = Field(default=None, title="状态")
    page: int | None = Field(default=None, ge=1, title="页码")


# ---------------------------------------------------------------- answers
class DocumentOut(Reply):
    id: int
    name: str
    size: int
    sm3: str
    uploaded_at: str
    url: str = Field(description="下载地址（下载时按 SM3 校验）")


class PeriodsOut(Reply):
    announced_at: str | None
    registration_ends_at: str
    bidding_starts_at: str
    free_ends_at: str


class ReserveOut(Reply):
    price: str
    salt: str
    check: str = Field(description="核验方法：SM3(盐值‖底价) 应等于 reserve_sm3")


class WinnerOut(Reply):
    bidding_number: str | None
    name: str
    credit_code: str


class ResultSummaryOut(Reply):
    outcome: str
    reason: str | None
    final_price: str | None
    highest: str | None
    winner: WinnerOut | None
    bids: int
    bids_sm3: str
    ended_at: str
    publicity_ends_at: str | None
    result_sm3: str | None


class AuctionSummaryOut(Reply):
    code: str
    title: str
    method: Method
    method_label: str
    category: str
    category_label: str
    region: str
    region_name: str
    state: AuctionState
    state_label: str
    starting_price: str
    current_price: str | None
    bidding_starts_at: str
    free_ends_at: str


class AuctionListOut(Reply):
    items: list[AuctionSummaryOut]
    total: int
    page: int
    pages: int


class AuctionOut(AuctionSummaryOut):
    procedure_code: str
    procedure_name: str
    transferor: str
    description: str
    qualification: str
    increment: str
    deposit: str
    currency: str
    reserve_sm3: str | None
    reserve: ReserveOut | None = Field(description="底价和盐值：仅在成交或流拍之后公开")
    minimum_next: str | None
    current_seq: int
    countdown_seconds: int
    countdown_ends_at: str | None
    paused: bool
    periods: PeriodsOut
    server_time: str
    live: dict[str, str] | None = Field(
        default=None,
        description="实时推送：base 为实时服务地址（“:端口”表示同一主机），path 为本标的的事件流路径；无则轮询",
    )
    documents: list[DocumentOut]
    buyers_approved: int = Field(description="资格审核通过的竞买人数（不公开名称）")
    buyers_ready: int = Field(description="审核通过且保证金已到账、可以出价的竞买人数")
    announcement_sm3: str | None = Field(description="平台签名的标的公告（auction_announcement）的 SM3")
    result: ResultSummaryOut | None


class SignedFileOut(Reply):
    statement: str
    signature: str
    signer_cert: str


def example_lot() -> dict[str, Any]:
    """A request body as a client sends it (the API reference's example)."""
    return {
        "title": "福州市鼓楼区某地块国有建设用地使用权",
        "procedure_code": "land_listing",
        "region": "350102",
        "transferor": "福州市自然资源和规划局",
        "description": "出让面积 12000 平方米，用途为住宅用地，出让年限 70 年。",
        "qualification": "中华人民共和国境内的法人和其他组织，除法律另有规定外均可申请参加。",
        "starting_price": "128000000.00",
        "increment": "1000000.00",
        "deposit": "25600000.00",
        "registration_ends_at": "2027-02-08T17:00:00+08:00",
        "bidding_starts_at": "2027-01-29T09:00:00+08:00",
        "free_ends_at": "2027-02-10T10:00:00+08:00",
    }
