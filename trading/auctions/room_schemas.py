"""Requests and answers of the bidding room (竞价室): bids, the listing's request for timed bidding,
staff's pause, resume and increment, and the public reads of the bids and the feed.

Amounts travel as decimal strings with two places (``"1234.50"``); the room parses them itself and
refuses a bad one by name (``invalid_amount``), as the signed statement holds the same text.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictInt

from trading.core.apispec import Reply
from trading.core.schemas import INT64_MAX, Schema, TextBlock


# ---------------------------------------------------------------- requests
class BidIn(Schema):
    amount: str = Field(max_length=40, title="出价（元）", description="两位小数的十进制文字，与签名内容相同")
    seen_seq: StrictInt = Field(ge=-INT64_MAX, le=INT64_MAX, title="出价时看到的最后一个出价序号")
    signature: str = Field(
        max_length=400,
        title="SM2 签名",
        description="竞买人签名私钥对 ggzy-auction-bid/1 出价声明（规范 JSON）的签名，base64 DER",
    )


class PauseIn(Schema):
    reason: TextBlock = Field(max_length=2000, title="暂停原因")


class IncrementIn(Schema):
    increment: str = Field(max_length=40, title="新的加价幅度（元）")
    reason: TextBlock = Field(max_length=2000, title="调整原因")


class AfterQuery(Schema):
    after: int | None = Field(default=None, ge=0, title="从该序号（事件编号）之后读起")


# ---------------------------------------------------------------- answers
class BidOut(Reply):
    seq: int = Field(description="出价序号（1、2、3……，数据库按此顺序接受）")
    bidding_number: str = Field(description="竞买号牌（不公开竞买人名称）")
    amount: str
    seen_seq: int = Field(description="出价时竞买人看到的最后一个出价序号（签名内容的一部分）")
    phase: str
    phase_label: str
    accepted_at: str | None
    countdown_ends_at: str | None = Field(description="限时竞价：本次出价重新起算的倒计时结束时间")


class BidsOut(Reply):
    items: list[BidOut]
    current_seq: int
    more: bool = Field(description="为真时还有更多出价：以最后一个 seq 为 after 继续读取")
    server_time: str


class RoomOut(Reply):
    code: str
    id: int
    state: str
    state_label: str
    paused: bool
    pause_reason: str | None
    bidding: bool
    ended: bool
    starting_price: str | None
    increment: str | None
    current_seq: int
    current_price: str | None
    minimum_next: str | None
    countdown_seconds: int
    ends_at: str | None = Field(description="页面倒计时的终点（暂停时为空）")
    ends_label: str
    remaining_seconds: float | None = Field(description="暂停时保留的剩余时间（秒）")
    final_price: str | None
    last_event_id: int
    server_time: str


class EventsOut(Reply):
    items: list[dict[str, Any]] = Field(
        description="公开事件：id、kind、kind_label、at 及各事件内容（只有号牌，没有名称）"
    )
    more: bool
    state: RoomOut
    server_time: str


class TimedOut(Reply):
    bidding_number: str | None
    wants_timed: bool
