"""What the credit API and pages accept and answer (信用记录)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trading.core.apispec import Reply
from trading.core.input_errors import hint
from trading.core.schemas import Schema, TextBlock
from trading.credit import rules
from trading.credit.models import CheckPurpose, CreditList, Measure, ProposalKind, ProposalState, SubjectKind

Category = Literal["construction", "goods", "services", "land_use", "mining", "state_property", "emission"]


# ---------------------------------------------------------------- requests
class EntriesQuery(BaseModel):
    subject: str | None = Field(None, max_length=18, description="主体代码（统一社会信用代码或专家编号）")
    list: CreditList | None = Field(None, description="名单")
    in_force_on: dt.date | None = Field(None, description="只列出该日有效（未撤销）的记录，如 2026-12-20")
    revoked: bool | None = Field(None, description="true：只列已撤销的；false：只列未撤销的")
    page: int | None = Field(None, ge=1, description="页码（每页 50 条）")


class RevokeIn(Schema):
    reason: TextBlock = Field(title="撤销理由", min_length=5, max_length=500, description="撤销理由（5–500 字）")


class ProposalsQuery(BaseModel):
    state: ProposalState | None = Field(None, description="proposed（待确认）、confirmed、dismissed")


class ConfirmIn(Schema):
    measure: Measure = Field(title="惩戒措施", description="bar_bidding、notice（单位）；draw_suspension（专家）")
    region: str = Field(
        title="地区",
        pattern=r"^\d{6}$",
        json_schema_extra=hint("6 位行政区划代码（全国为 000000）"),
        description="6 位行政区划代码，000000 为全国",
    )
    category: Category | None = Field(None, title="交易类别", description="交易类别；空为全部类别")
    starts_on: dt.date = Field(title="开始日期", description="开始日期（含）")
    ends_on: dt.date | None = Field(None, title="结束日期", description="结束日期（含）；空为不设期限")
    reason: TextBlock = Field(title="确认理由", min_length=5, max_length=500, description="确认理由（5–500 字）")

    @field_validator("ends_on")
    @classmethod
    def _after_start(cls, v: dt.date | None, info: Any) -> dt.date | None:
        start = info.data.get("starts_on")
        problem = rules.period_error(start, v) if isinstance(start, dt.date) else None
        if problem is not None:
            raise ValueError(problem)
        return v


class DismissIn(Schema):
    reason: TextBlock = Field(title="驳回理由", min_length=5, max_length=500, description="驳回理由（5–500 字）")


# ---------------------------------------------------------------- answers
class SubjectOut(Reply):
    kind: SubjectKind
    id: str
    name: str


class EntryOut(Reply):
    id: int
    list: CreditList
    list_label: str
    measure: Measure
    measure_label: str
    subject: SubjectOut
    region: str
    category: str | None
    starts_on: dt.date
    ends_on: dt.date | None = Field(description="最后有效日（含）；null 为不设期限")
    authority: str
    document_no: str
    facts: str
    source: str = Field(description="来源：导入与推送为名单代码；proposal 为确认的平台信用事件")
    source_ref: str = Field(description="来源中的记录编号")
    import_id: int | None = Field(description="带来该记录的导入批次")
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoke_reason: str | None


class EntriesOut(Reply):
    items: list[EntryOut]
    total: int
    page: int
    pages: int


class ImportOut(Reply):
    id: int = Field(description="导入批次编号")
    channel: Literal["file", "api"]
    file_name: str
    file_sm3: str
    rows: int
    added: int
    unchanged: int = Field(description="信用记录中已有的记录（同一名单、同一记录编号、内容相同）")
    entries: list[int] = Field(description="各条记录在信用记录中的编号（按文件中的顺序，重复行只列一次）")


class CheckEntryOut(Reply):
    model_config = ConfigDict(extra="allow")  # the entry as the snapshot signed it, and its sm3

    id: int
    sm3: str


class CheckOut(Reply):
    id: int
    purpose: CheckPurpose
    purpose_label: str
    subject: SubjectOut
    tender: str
    lot: int | None
    region: str
    category: str
    on: dt.date
    result: Literal["clean", "found", "barred"]
    result_label: str
    barred: bool
    entries: list[CheckEntryOut]
    checked_at: dt.datetime
    statement_sm3: str = Field(description="签名快照（/statement 的字节）的 SM3")


class EvidenceOut(Reply):
    seq: int
    type: str
    at: str
    object: str
    sm3: str = Field(description="审计事件叶子哈希（SM3）")
    payload_sm3: str


class ProposalOut(Reply):
    id: int
    kind: ProposalKind
    kind_label: str
    subject: SubjectOut
    tender: str | None
    evidence: list[EvidenceOut]
    state: ProposalState
    state_label: str
    proposed_at: dt.datetime
    decided_at: dt.datetime | None
    reason: str | None
    entry: int | None


class ProposalsOut(Reply):
    items: list[ProposalOut]
