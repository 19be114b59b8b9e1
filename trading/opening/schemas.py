"""The opening's request schemas (the ceremony API and the room page post the same bodies)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from trading.core.apispec import Reply
from trading.core.schemas import Schema, TextBlock


class SignatureIn(Schema):
    signature: str = Field(min_length=16, max_length=400)


class DecryptIn(SignatureIn):
    wrapped_key: str = Field(min_length=16, max_length=400, description="base64 SM2 ciphertext (C1C3C2)")


class TextIn(Schema):
    text: TextBlock = Field(max_length=2000)


class AnswerIn(Schema):
    answer: TextBlock = Field(max_length=2000)


class ReasonIn(Schema):
    reason: TextBlock = Field(max_length=600)


class ExtendIn(ReasonIn):
    minutes: int


# ---------------------------------------------------------------- answers (the OpenAPI document)
StageName = Literal[
    "scheduled", "sign_in", "bidders", "decrypting", "reading", "confirming", "closed", "failed", "cancelled"
]


class ServerTimeOut(Reply):
    server_time: dt.datetime


class SeatRowOut(Reply):
    """One bidder of the room (after the opening): its name and where it stands."""

    bidder: str = Field(description="投标人名称")
    signed_in: bool
    outcome: str = Field(description="pending 待解密、decrypted 解密成功、revoked 撤销、withdrawn 撤回…")
    outcome_label: str


class ReadingRowOut(Reply):
    """唱标: one bidder's price sheet, published at once for all."""

    bidder: str
    credit_code: str | None
    outcome: str
    outcome_label: str
    reason: str | None
    reason_label: str | None
    price: str | None = Field(description="报价（元，字符串保留两位小数）")
    price_label: str | None
    fields: dict[str, Any] = Field(description="开标一览表的其他字段，按招标文件声明的字段名")
    fields_label: str
    bond: str = Field(description="保证金（保函核验结果）")


class ObjectionOut(Reply):
    id: int
    bidder: str
    text: str
    answer: str | None


class MySeatOut(Reply):
    """The caller's own seat (a bidder of this room)."""

    credit_code: str | None = Field(description="本单位统一社会信用代码（签到声明中的 bidder）")
    bidder: str | None = Field(description="credit_code 的旧名（已弃用：别处的 bidder 是投标人名称）")
    signed_in: bool
    outcome: str
    outcome_label: str
    confirmation: str | None
    confirmation_label: str | None
    ciphertext_sm3: str
    header_sm3: str | None
    last_attempt: dict[str, Any] | None = Field(description="最近一次解密的状态与失败原因")
    actions: dict[str, str | None] = Field(description="签到、解密、确认、异议各自现在为何不能做（null：可以）")


class CeremonyOut(Reply):
    """One lot's opening room as the caller may see it: before the opening nothing about the bids."""

    id: int
    tender: str
    title: str
    lot: int
    lot_name: str
    deadline: dt.datetime | None
    server_time: dt.datetime
    stage: StageName = Field(description="当前阶段（到达的阶段）")
    label: str = Field(description="当前阶段的中文名称")
    started_at: dt.datetime
    ends_at: dt.datetime | None
    paused: bool
    remaining_seconds: int | None
    next_stages: list[StageName] = Field(description="POST /ceremonies/{id}/stages/{stage} 现在可以进入的阶段")
    controls: dict[str, str | None] | None = Field(default=None, description="主持人：各控制为何不能用（null：可以）")
    advance_confirm: str | None = Field(default=None, description="主持人：结束本阶段前的确认说明")
    bidders: list[SeatRowOut] | None = None
    table: list[ReadingRowOut] | None = Field(default=None, description="唱标表（唱标起）")
    record_sm3: str | None = None
    final_record_sm3: str | None = None
    objections: list[ObjectionOut] | None = Field(default=None, description="工作人员与投标人可见")
    me: MySeatOut | None = None
    counts: dict[str, int] | None = Field(default=None, description="工作人员：各解密结果的数量")
    advance_failure: dict[str, Any] | None = Field(default=None, description="工作人员：推进本阶段失败的记录")
    set_aside: list[HeldBackOut] | None = Field(
        default=None, description="工作人员：解密两次中断被搁置、须经准许才能再次提交密钥的投标人（解密阶段）"
    )


class HeldBackOut(Reply):
    credit_code: str = Field(description="统一社会信用代码（准许再次解密时用）")
    bidder: str = Field(description="投标人名称")
    set_aside_at: dt.datetime | None = Field(description="最近一次被搁置的时间")
    detail: str | None = Field(description="最近一次被搁置的记录（处理次数与最后一个解密进程）")


class CeremoniesOut(Reply):
    items: list[CeremonyOut]


class JointOut(Reply):
    """合并开标: every lot's room and the stage they share."""

    tender: str
    title: str
    joint_opening: bool
    deadline: dt.datetime | None
    server_time: dt.datetime
    stage: StageName | None = Field(description="各标段共同的阶段（不一致时为 null）")
    label: str
    ends_at: dt.datetime | None
    paused: bool
    lots: list[CeremonyOut]
    advance_failures: list[dict[str, Any]]
    controls: dict[str, str | None] | None = None
    advance_confirm: str | None = None
    next_stages: list[StageName] | None = Field(
        default=None, description="推进后：POST …/opening/stages/{stage} 接下来可以进入的阶段"
    )


class CeremonyKeyOut(Reply):
    public_key: str = Field(description="开标室 SM2 公钥（十六进制）")
    statement: str = Field(description="平台对该公钥的签名声明（ceremony_key）")


class DecryptionQueuedOut(Reply):
    job: int
    state: str


class CreatedOut(Reply):
    id: int


class DeadlineCommitmentOut(Reply):
    checkpoint: dict[str, Any] = Field(
        description="投标截止时签名的检查点（id、tree_size、root_sm3、signed_at、statement）"
    )
    bids: list[dict[str, Any]] = Field(description="每份有效投标的承诺值、密文 SM3 与其事件的包含证明")


class EventsOut(Reply):
    items: list[dict[str, Any]] = Field(description="事件（id、ceremony、kind、kind_label、at 及各自的内容）")
    server_time: dt.datetime
