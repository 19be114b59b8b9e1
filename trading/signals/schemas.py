"""The signals stage's schemas: a lot's collusion signals, and the committee's record of considering them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from trading.core.apispec import Reply
from trading.core.schemas import Schema, TextBlock
from trading.signals.models import SignalKind


class ReviewIn(Schema):
    text: TextBlock = Field(min_length=10, max_length=2000, description="评标委员会对串标迹象的研判意见（10–2000 字）")


class SignalOut(Reply):
    id: int
    kind: SignalKind
    label: str = Field(description="迹象种类的中文名称")
    bidder_ids: list[int] = Field(description="所关联的投标人（开标投标人编号）")
    bidders: list[str] = Field(description="所关联投标人的单位名称")
    detail: str = Field(description="证据的文字说明")
    evidence: dict[str, Any] = Field(description="证据（地址、文件 SM3、文档属性、报价规律等）")


class ReviewOut(Reply):
    evaluation_id: int
    round: int
    text: str
    at: dt.datetime


class SignalsOut(Reply):
    tender: str
    lot: int
    computed_at: dt.datetime
    bids: int
    files: int = Field(description="读取的投标文件包内文件数")
    skipped: list[dict[str, Any]] = Field(description="未能读取的文件包或招标文件及原因")
    statement: str = Field(description="平台签名的迹象清单（规范 JSON 签名声明）")
    statement_sm3: str
    items: list[SignalOut]
    reviews: list[ReviewOut] = Field(description="评标委员会各轮的研判记录")
