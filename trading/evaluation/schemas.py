"""What the evaluation's API and pages accept: the expert pool and the draw, and the room."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from trading.core.apispec import Reply
from trading.core.input_errors import hint
from trading.core.schemas import OneLine, Schema, TextBlock

CODE = r"^[A-Z][0-9]{2}$"  # 专业代码, e.g. A01
CREDIT = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
DATE = r"^\d{4}-\d{2}-\d{2}$"

#: A bid under evaluation, named by its bidder's seat in the opening (``bidders[].opening_seat`` of
#: the room). ``bidder`` is its old, deprecated name (it never was an organisation's id).
OpeningSeat = Annotated[
    int,
    Field(
        validation_alias=AliasChoices("opening_seat", "bidder"),
        description="开标室中投标人席位的编号（评标室 bidders[].opening_seat）；旧名 bidder 仍可用",
    ),
]


# ---------------------------------------------------------------- the pool and the draw
class Period(Schema):
    """One declared period with a unit: both dates real days (2026-02-30 is refused, not stored for
    the draw to trip over) and the end not before the start. The API and the expert's form both
    validate rows with this class, so they refuse the same things."""

    credit_code: str = Field(
        pattern=CREDIT, title="单位统一社会信用代码", json_schema_extra=hint("18 位数字或大写字母")
    )
    from_: str = Field(
        alias="from", pattern=DATE, title="起始日期", json_schema_extra=hint("年-月-日，例如 2026-12-20")
    )
    to: str | None = Field(
        default=None, pattern=DATE, title="截止日期", json_schema_extra=hint("年-月-日，例如 2026-12-20")
    )

    @field_validator("from_", "to")
    @classmethod
    def _a_real_day(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"不是存在的日期（{value}）") from None
        return value

    @field_validator("to")
    @classmethod
    def _not_before_start(cls, value: str | None, info: ValidationInfo) -> str | None:
        start = info.data.get("from_")  # absent when the start itself was refused
        if value is not None and start is not None and dt.date.fromisoformat(value) < dt.date.fromisoformat(start):
            raise ValueError("不能早于起始日期")
        return value


class Relation(Period):
    kind: str = Field(pattern=r"^(kinship|director|shareholder)$", title="类型")


class DeclarationIn(Schema):
    """What an expert declares (and must keep current)."""

    employer: str = Field(pattern=CREDIT)
    history: list[Period] = Field(default_factory=list, max_length=50, title="曾任职单位")
    relations: list[Relation] = Field(default_factory=list, max_length=100, title="申报关系")
    available: bool = True


class ExpertIn(DeclarationIn):
    name: OneLine = Field(min_length=2, max_length=100)
    username: str | None = Field(default=None, max_length=64)
    specialties: list[Annotated[str, Field(pattern=CODE)]] = Field(min_length=1, max_length=10)
    region: str = Field(pattern=r"^\d{6}$")
    suspended_until: dt.date | None = None


class SlotIn(Schema):
    region: str = Field(pattern=r"^\d{6}$")
    specialty: str = Field(pattern=CODE)
    count: int = Field(ge=1, le=51)


class DrawIn(Schema):
    slots: list[SlotIn] | None = Field(
        default=None, max_length=40, description="default: the lot's specialties, at its region"
    )


class RespondIn(Schema):
    accept: bool
    reason: TextBlock = Field(default="", max_length=300)


# ---------------------------------------------------------------- the room
class OpenIn(Schema):
    z_limit: float | None = Field(default=None, description="离群阈值（标准差）；默认 2.5")
    candidates: int = Field(default=3, ge=1, le=3)


class RepresentativeIn(Schema):
    username: str = Field(min_length=1, max_length=80)


class SignatureIn(Schema):
    signature: str = Field(min_length=8, max_length=400)


class ReportSignIn(SignatureIn):
    dissent: TextBlock = Field(default="", max_length=5000)


class ReasonIn(Schema):
    reason: TextBlock = Field(default="", max_length=2000)


class SendBackIn(Schema):
    reason: TextBlock = Field(max_length=2000)
    to: str = Field(default="scoring", pattern=r"^(scoring|compliance)$")


class LeaderIn(Schema):
    candidate: int


class ComplianceIn(Schema):
    opening_seat: OpeningSeat
    passed: bool
    failed_items: list[str] = Field(default_factory=list, max_length=50)
    reason: TextBlock = Field(default="", max_length=500)


class ScoresIn(Schema):
    opening_seat: OpeningSeat
    scores: dict[str, Decimal] = Field(max_length=50)
    total: Decimal = Field(ge=0, le=100, max_digits=6, decimal_places=2)


class AskIn(Schema):
    opening_seat: OpeningSeat
    question: str = Field(max_length=2000)
    hours: int = Field(default=24, ge=1, le=72)


class TextIn(Schema):
    """Free text: a bidder's answer to a clarification (and, after the report, an objection or its answer)."""

    text: TextBlock = Field(max_length=20_000)


# ---------------------------------------------------------------- answers (the OpenAPI document)
EvalStateName = Literal["sign_in", "compliance", "scoring", "signing", "reported", "publicity", "awarded"]


class ExpertOut(Reply):
    id: int
    name: str
    specialties: list[str]
    region: str


class DeclarationOut(Reply):
    id: int
    employer: str
    history: list[dict[str, Any]]
    relations: list[dict[str, Any]]


class DrawOut(Reply):
    """What anyone may read of a draw: commitments before, seed and result size after."""

    id: int
    round: int
    state: str
    state_label: str
    snapshot_sm3: str
    seed_sm3: str
    seed: str | None = Field(description="抽取后公开的种子（十六进制）")
    result_size: int
    members: dict[str, int] = Field(description="被抽中专家的答复状态及人数")
    created_at: dt.datetime
    drawn_at: dt.datetime | None


class DrawBundleOut(Reply):
    """What ``ggzy draw verify`` recomputes a round from."""

    draw: int
    snapshot: str = Field(description="专家库快照（base64）")
    snapshot_sm3: str
    seed: str
    seed_sm3: str
    result: list[Any] | None


class InvitationOut(Reply):
    id: int
    draw: int
    lot_id: int
    slot: int
    state: str
    state_label: str


class InvitationsOut(Reply):
    items: list[InvitationOut]


class RespondedOut(Reply):
    id: int
    state: str


class RoomSeatOut(Reply):
    """A committee member's seat."""

    expert: int
    name: str
    region: str
    region_label: str
    signed_in: bool
    pledged: bool
    recused: bool
    recusal_reason: str | None
    representative: bool
    votes: int = Field(description="推选其为组长的票数")


class RoomCreditOut(Reply):
    """The bidder's credit check made when the compliance review started (财库〔2016〕125号)."""

    check: int = Field(description="信用查询（签名快照）编号")
    result: str = Field(description="clean 未发现 | found 有信用提示 | barred 存在限制投标的记录")
    result_label: str
    checked_at: dt.datetime
    statement_sm3: str
    entries: list[dict[str, Any]] = Field(
        description="查到的每条记录，如签名快照所列（名单、措施、决定机关、文书号、期限、范围）"
    )


class RoomBidderOut(Reply):
    """A bid under evaluation, named by its bidder's seat in the opening."""

    id: int = Field(description="同 opening_seat（评标室页面沿用）")
    opening_seat: int = Field(description="开标室中投标人席位的编号：评审请求中的 opening_seat")
    name: str
    credit_code: str | None
    price: str | None
    compliance: dict[str, Any] | None
    credit: RoomCreditOut | None = Field(
        None, description="评审时的信用查询；有结果（found、barred）时，审查意见须说明理由"
    )


class SheetOut(Reply):
    expert: int
    opening_seat: int
    bidder: int = Field(description="opening_seat 的旧名（已弃用）")
    scores: dict[str, Any]
    total: str
    factor_total: str
    submitted_at: dt.datetime


class FlagOut(Reply):
    id: int
    kind: str
    kind_label: str
    expert: int | None
    opening_seat: int | None
    bidder: int | None = Field(description="opening_seat 的旧名（已弃用）")
    factor: str | None
    detail: Any
    cleared: bool
    resolution: str | None


class RoomClarificationOut(Reply):
    id: int
    opening_seat: int
    bidder: int = Field(description="opening_seat 的旧名（已弃用）")
    question: str
    deadline: dt.datetime
    answer: str | None


class RoomOut(Reply):
    """The evaluation room as a member or staff see it (not public)."""

    id: int
    tender: str
    title: str
    lot: int
    lot_name: str
    method: str
    method_label: str
    criteria: dict[str, Any]
    state: EvalStateName = Field(description="当前阶段（到达的阶段）")
    state_label: str
    next_stages: list[EvalStateName] = Field(description="POST /evaluations/{id}/stages/{stage} 现在可以进入的阶段")
    round: int
    z_limit: float | None
    leader: int | None
    me: int | None = Field(description="调用者的席位（专家编号）；工作人员为 null")
    seats: list[RoomSeatOut]
    committee: dict[str, Any]
    bidders: list[RoomBidderOut]
    findings: list[dict[str, Any]] = Field(
        default_factory=list,
        description="其他环节提交评标委员会的发现（如串标迹象）：{kind, title, items[{label, bidders, detail}], review}",
    )
    sheets: list[SheetOut]
    submitted: list[int]
    flags: list[FlagOut]
    clarifications: list[RoomClarificationOut]
    report_sm3: str | None
    report: dict[str, Any] | None
    signed: list[int]
    history: list[Any] | None
    publicity_ends_at: dt.datetime | None
    publicity_due_at: dt.datetime | None
    blocked: dict[str, str | None] = Field(description="各下一步现在为何不能做（null：可以）")
    statements: dict[str, str] | None = Field(default=None, description="成员：签到、回避承诺、报告各自要签名的内容")
    my_votes: dict[str, bool] | None = Field(default=None, description="成员：本轮自己的符合性审查投票")
    flags_found: int | None = Field(default=None, description="checks：本次检查发现的评审提示数")
    clarification: int | None = Field(default=None, description="clarify：新澄清的编号")


class RoomOfLotOut(Reply):
    id: int
    state: EvalStateName
    state_label: str


class NamedSeatOut(Reply):
    expert: int
    name: str
    signed_in: bool
    pledged: bool
    recused: bool
    recusal_reason: str | None


class EligibleOut(Reply):
    username: str
    name: str


class RepresentativesOut(Reply):
    evaluation: int
    state: EvalStateName
    state_label: str
    required: int
    named: list[NamedSeatOut]
    eligible: list[EligibleOut]


class ClarificationOut(Reply):
    id: int
    evaluation: int
    question: str
    asked_at: dt.datetime
    deadline: dt.datetime
    answer: str | None
    answered_at: dt.datetime | None


class ClarificationsOut(Reply):
    items: list[ClarificationOut]
