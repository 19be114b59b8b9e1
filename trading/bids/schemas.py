"""The bids stage's request schemas: an upload's init, and a withdrawal's signature."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from trading.bids.models import BidState, UploadState
from trading.core.apispec import Reply
from trading.core.schemas import Schema


class InitIn(Schema):
    tender: str = Field(min_length=1, max_length=32, description="项目编号")
    lot: int = Field(ge=1, description="标段号")
    size: int = Field(ge=1, description="加密投标文件的总字节数")
    head: str = Field(min_length=20, max_length=2_000_000, description="base64 of the envelope's prefix and header")


class WithdrawIn(Schema):
    signature: str = Field(min_length=20, max_length=400)


# ---------------------------------------------------------------- answers
class UploadOut(Reply):
    upload_id: str
    tender: str | None
    lot: int | None
    head_sm3: str = Field(description="初始化时提交的文件头的 SM3：找回自己未完成的上传")
    created_at: dt.datetime | None
    last_part_at: dt.datetime | None
    state: UploadState
    state_label: str
    declared_size: int
    part_size: int = Field(description="每片的字节数（最后一片可以更短）")
    received: int
    parts: int
    next_part: int = Field(description="下一片的序号（从 1 起）")
    prefix_sm3: str | None = Field(description="到已收到部分末尾为止的 SM3")
    expires_at: dt.datetime | None


class UploadsOut(Reply):
    items: list[UploadOut]


class BidOut(Reply):
    ciphertext_sm3: str = Field(description="加密投标文件的 SM3：投标的标识")
    lot: int | None
    status: BidState
    status_label: str
    size: int
    received_at: dt.datetime | None
    receipt: str = Field(description="平台签名的回执（规范化 JSON 文本），可离线验签")
    withdrawn_at: dt.datetime | None


class MyBidOut(BidOut):
    tender: str | None = Field(description="查询时给出的项目编号")


class MyBidsOut(Reply):
    items: list[MyBidOut]


class MyBidsQuery(Schema):
    tender: str | None = Field(default=None, max_length=32, title="项目编号")


class WithdrawnOut(BidOut):
    confirmation: str = Field(description="平台签名的撤回确认（规范化 JSON 文本）")


class PlatformCertificatesOut(Reply):
    signing_certificate: str = Field(description="平台签名证书（PEM）")
    root: str = Field(description="平台根证书（PEM）")
