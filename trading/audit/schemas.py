"""The audit API's answers: events, the trail's check, the transparency log's checkpoints and proofs."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from trading.core.apispec import Reply
from trading.core.schemas import Schema


class EventOut(Reply):
    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    action_label: str
    object: str = Field(description="对象：类型:编号")
    payload: str = Field(description="事件内容（规范化 JSON 文本）")
    payload_sm3: str
    leaf_hash: str
    chain_hash: str


class EventsOut(Reply):
    items: list[EventOut]


class EventsQuery(Schema):
    after: int = Field(default=0, ge=0, title="从此序号之后")
    limit: int = Field(default=100, ge=1, le=1000, title="条数")


class LogProblemOut(Reply):
    where: str
    problem: str


class VerifyOut(Reply):
    ok: bool
    problems: list[LogProblemOut]


class CheckpointOut(Reply):
    id: int
    tree_size: int
    root_sm3: str
    signed_at: dt.datetime
    reason: str
    subject: str | None
    statement: str = Field(description="平台签名的检查点声明")


class CheckpointsOut(Reply):
    items: list[CheckpointOut]


class CheckpointsQuery(Schema):
    subject: str | None = Field(default=None, max_length=200, title="对象（如 tender:GGZY-2026-000001）")


class InclusionQuery(Schema):
    seq: int = Field(ge=1, title="事件序号")
    size: int = Field(ge=1, title="检查点的树大小")


class InclusionOut(Reply):
    seq: int
    tree_size: int
    leaf_hash: str | None
    proof: list[str] = Field(description="包含证明（RFC 9162，SM3），十六进制")


class ConsistencyQuery(Schema):
    old: int = Field(ge=1, title="旧检查点的树大小")
    new: int = Field(ge=1, title="新检查点的树大小")


class ConsistencyOut(Reply):
    old: int
    new: int
    proof: list[str]
