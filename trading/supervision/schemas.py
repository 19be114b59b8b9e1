"""The supervision API's bodies: the time-limit rules, their change, and the warnings with the
events (and inclusion proofs) behind them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from trading.core.apispec import Reply
from trading.core.schemas import OneLine, Schema, TextBlock
from trading.supervision.models import LimitUnit

Party = Literal["managers", "supervisors", "center", "complainant", "asked"]


class RuleOut(Reply):
    code: str = Field(description="规则代码，如 objection_answer")
    version: int = Field(description="版本号；修改规则即新增一个版本")
    title: str
    source: str = Field(description="法律依据（法规名称与条款）或“平台规定”")
    source_text: str = Field(description="条文原文（时限所依据的文字）")
    start_action: str = Field(description="开始计时的审计事件（可带条件，如 evaluation.stage[to=reported]）")
    stop_actions: str = Field(description="停止计时的审计事件，空格分隔")
    subject: str = Field(description="起止事件如何配对：object（同一对象）、lot（同一标段）、tender（同一项目）")
    subject_label: str
    limit_value: int
    limit_unit: str = Field(description="calendar（日）、working（工作日）、hours（小时）")
    limit_unit_label: str
    limit: str = Field(description="时限，如“3日”“5个工作日”")
    yellow_value: int = Field(description="到期前多少个单位亮黄灯")
    warned: list[str] = Field(description="颜色变化时通知谁：managers、supervisors、center、complainant、asked")
    warned_labels: list[str]
    enabled: bool
    effective_from: str = Field(description="本版本自此时起对新开始的计时生效（UTC）")
    changed_by_user_id: int | None
    change_reason: str | None


class RuleHistoryOut(Reply):
    code: str
    current: RuleOut = Field(description="现行版本")
    versions: list[RuleOut] = Field(description="全部版本，新版本在前")


class RulesOut(Reply):
    items: list[RuleHistoryOut]


class RuleChangeIn(Schema):
    """A new version of a rule: only the fields given change; the reason is required."""

    title: OneLine | None = Field(default=None, min_length=1, max_length=100, title="规则名称")
    source: OneLine | None = Field(default=None, min_length=1, max_length=200, title="法律依据")
    source_text: TextBlock | None = Field(default=None, min_length=1, max_length=5000, title="条文原文")
    limit_value: int | None = Field(default=None, ge=1, le=3650, title="时限")
    limit_unit: LimitUnit | None = Field(default=None, title="时限单位")
    yellow_value: int | None = Field(default=None, ge=0, le=3650, title="黄灯提前量")
    warned: list[Party] | None = Field(default=None, min_length=1, max_length=5, title="预警通知对象")
    enabled: bool | None = Field(default=None, title="启用")
    reason: TextBlock = Field(min_length=5, max_length=500, title="修改理由")


class WarningsQuery(BaseModel):
    colour: Literal["green", "yellow", "red"] | None = Field(
        None, description="按最严重的颜色筛选；不填：黄灯与红灯（预警）"
    )
    rule: str | None = Field(None, description="规则代码，如 contract")
    tender: str | None = Field(None, description="招标项目编号，如 GGZY-2026-000002")
    page: int = Field(1, ge=1, le=10_000, description="页码，每页 50 条")


class ClockOut(Reply):
    id: int
    rule: str
    rule_version: int
    rule_title: str
    source: str
    limit: str
    subject: str = Field(description="配对起止事件的对象，如 lot:12")
    where: str = Field(description="项目、标段或投诉，文字")
    tender: str | None
    lot: int | None
    complaint: str | None = Field(description="投诉编号")
    started_seq: int = Field(description="开始计时的审计事件序号")
    started_at: str
    yellow_at: str
    due_at: str = Field(description="时限届满的时刻（UTC）；暂停期间按现在恢复计算")
    stopped_seq: int | None
    stopped_at: str | None
    paused: bool = Field(description="标段暂停（投诉处理）期间计时暂停")
    paused_seconds: int
    colour: str = Field(description="现在的颜色：green、yellow、red")
    colour_label: str = Field(description="绿灯（正常）、黄灯（预警）、红灯（超期）")
    worst: str = Field(description="出现过的最严重颜色（红灯追责：超期办结后仍为红灯）")
    worst_label: str
    late: bool = Field(description="超过时限办结，或仍在计时且已超过时限")
    remaining_seconds: int | None = Field(description="距时限届满的秒数（负数：已超期）；已停止为 null")


class WarningsOut(Reply):
    items: list[ClockOut]
    total: int
    page: int
    per_page: int


class CheckpointRef(Reply):
    id: int
    tree_size: int
    root_sm3: str
    signed_at: str
    reason: str
    subject: str | None
    statement: str = Field(description="平台签名的检查点声明")


class EventProofOut(Reply):
    seq: int
    at: str
    action: str
    action_label: str
    object: str
    payload: dict[str, Any]
    leaf_hash: str = Field(description="RFC 9162 叶哈希（SM3）")
    checkpoint: CheckpointRef | None = Field(description="覆盖该事件的最新公开签名检查点")
    proof: list[str] | None = Field(description="包含证明（自叶至根的兄弟哈希）")
    proof_pending: bool = Field(description="尚无公开签名检查点覆盖该事件：待下一检查点")
    verified: bool = Field(description="平台已用 archive.merkle 核验该证明")


class WarningOut(ClockOut):
    rule_detail: RuleOut
    start: EventProofOut | None
    stop: EventProofOut | None
