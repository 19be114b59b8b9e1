"""What the complaints API and pages accept and answer (投诉).

``ComplaintIn`` is also the signed complaint file ``ggzy-bid complaints file --out`` writes, which
the filing page uploads: the same JSON either way."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from trading.core.apispec import Reply
from trading.core.schemas import OneLine, Schema, TextBlock
from trading.supervision.models import ComplaintKind, ComplaintState, Finding
from trading.tenders.schemas import Instant

Matter = Literal["documents", "opening", "evaluation_result", "other"]
MAX_GROUNDS = 10_000
MAX_REQUESTS = 2_000


class EvidenceIn(Schema):
    name: OneLine = Field(title="文件名", min_length=1, max_length=200, description="证明材料的文件名")
    sm3: str = Field(title="SM3", pattern=r"^[0-9a-f]{64}$", description="文件内容的 SM3（小写十六进制）")
    size: int = Field(title="大小", ge=1, le=20 * 1024 * 1024, description="文件字节数")


class ComplaintIn(Schema):
    """The complaint as signed (``signing.statements.complaint_statement``) and filed."""

    tender: OneLine = Field(title="项目编号", min_length=1, max_length=32, description="项目编号，如 GGZY-2026-000002")
    lot: int | None = Field(None, title="标段", ge=1, le=999, description="标段号；对整个项目（如招标文件）投诉时为空")
    kind: ComplaintKind = Field(
        title="投诉类别", description="construction（工程建设，实施条例）或 procurement（政府采购，94号令）"
    )
    matter: Matter = Field(title="投诉事项", description="投诉事项：documents、opening、evaluation_result、other")
    grounds: TextBlock = Field(
        title="投诉事项、事实依据和法律依据",
        min_length=10,
        max_length=MAX_GROUNDS,
        description="投诉事项、事实依据和法律依据",
    )
    requests: TextBlock = Field(title="投诉请求", min_length=2, max_length=MAX_REQUESTS, description="投诉请求")
    evidence: list[EvidenceIn] = Field(
        title="证明材料", default_factory=list, max_length=10, description="证明材料（与上传的文件一一对应）"
    )
    signature: str = Field(
        title="签名", min_length=8, max_length=400, description="投诉人签名证书对投诉声明的 SM2 签名（base64）"
    )


class NoteIn(Schema):
    note: TextBlock = Field(title="受理意见", default="", max_length=2000, description="受理意见（可空）")


class ReasonIn(Schema):
    reason: TextBlock = Field(title="理由", min_length=5, max_length=5000, description="理由")


class ResumeIn(Schema):
    new_deadline: Instant | None = Field(
        None, title="新的投标截止时间", description="投标截止前暂停的项目恢复时的新投标截止时间（带时区的 ISO 8601）"
    )


class AskIn(Schema):
    org: int = Field(
        title="当事人", ge=1, le=2**31 - 1, description="被要求说明的机构编号（招标人、代理机构、投标人或投诉人）"
    )
    question: TextBlock = Field(title="需要说明的事项", min_length=5, max_length=5000, description="需要说明的事项")


class AnswerIn(Schema):
    text: TextBlock = Field(title="书面说明", min_length=5, max_length=10_000, description="书面说明")


class DecideIn(Schema):
    finding: Finding = Field(title="处理结论", description="upheld（属实）、partly（部分属实）、dismissed（不属实）")
    decision: TextBlock = Field(title="处理决定的理由", min_length=10, max_length=10_000, description="处理决定的理由")
    measures: TextBlock = Field(
        title="责令采取的措施", default="", max_length=5000, description="责令采取的措施（属实或部分属实时必填）"
    )


class ComplaintsQuery(BaseModel):
    state: ComplaintState | None = Field(None, description="filed、accepted、refused、decided、withdrawn")


# ---------------------------------------------------------------- answers
class ComplaintFileOut(Reply):
    id: int
    kind: str
    kind_label: str
    name: str
    sm3: str
    size: int
    created_at: dt.datetime
    signed: bool = Field(description="是否有平台签名文件（/sig）")


class StatementRequestOut(Reply):
    id: int
    complaint: int
    number: str
    org: int
    org_name: str
    question: str
    asked_at: dt.datetime
    due_at: dt.datetime
    answer: str | None
    answered_at: dt.datetime | None


class ComplaintOut(Reply):
    id: int
    number: str
    kind: ComplaintKind
    kind_label: str
    matter: str
    matter_label: str
    tender: str
    tender_title: str
    lot: int | None
    complainant: str = Field(description="投诉人（投标截止前仅投诉人和监督部门可见其名称）")
    objection: str | None = Field(description="投诉所依据的异议（质疑）记录")
    grounds: str
    requests: str
    state: ComplaintState
    state_label: str
    filed_at: dt.datetime
    acceptance_due: dt.datetime
    accepted_at: dt.datetime | None
    decision_due: dt.datetime | None
    refused_at: dt.datetime | None
    refusal_reason: str | None
    suspended: bool
    suspended_at: dt.datetime | None
    resumed_at: dt.datetime | None
    decided_at: dt.datetime | None
    finding: Finding | None
    finding_label: str | None
    decision: str | None
    measures: str | None
    files: list[ComplaintFileOut]
    statements: list[StatementRequestOut]


class ComplaintSummaryOut(Reply):
    id: int
    number: str
    kind: ComplaintKind
    matter: str
    tender: str
    lot: int | None
    state: ComplaintState
    state_label: str
    filed_at: dt.datetime
    suspended: bool


class ComplaintsOut(Reply):
    items: list[ComplaintSummaryOut]


class StatementRequestsOut(Reply):
    items: list[StatementRequestOut]
