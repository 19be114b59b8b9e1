"""What the awards' API and pages accept: the award and the tenderee's claim. Objections and their
answers are free text (``trading.evaluation.schemas.TextIn``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trading.core.apispec import Reply
from trading.core.schemas import OneLine, Schema, TextBlock
from trading.evaluation.models import EvalState
from trading.guarantees.models import ClaimGround, ClaimState


class AwardIn(Schema):
    winner: int = Field(description="中标人：开标记录中的投标人编号（bidder_id）")
    reason: TextBlock = Field(default="", max_length=2000, description="不选第一中标候选人时的理由")


class ClaimIn(Schema):
    ground: OneLine = Field(max_length=40, description="索赔事由：" + "、".join(g.value for g in ClaimGround))
    statement: TextBlock = Field(max_length=4000)


# ---------------------------------------------------------------- answers
class ObjectionOut(Reply):
    id: int
    text: str
    raised_at: dt.datetime
    answer_due: dt.datetime
    answer: str | None
    answered_at: dt.datetime | None


class PublicityOut(Reply):
    """The candidates' publicity as the public sees it (objections without who raised them)."""

    evaluation: int
    tender: str
    title: str
    lot: int
    lot_name: str
    state: EvalState
    state_label: str
    candidates: list[dict[str, Any]] = Field(description="中标候选人（评标报告中的排序、名称、得分、报价）")
    announcement: int | None
    ends_at: dt.datetime | None
    ended: bool
    suspended: bool
    objections: list[ObjectionOut]
    winner: int | None
    awarded_at: dt.datetime | None
    award_reason: str | None
    notice_statement: str | None = Field(description="中标通知书的平台签名声明")
    contract_signed_at: dt.datetime | None


class PublicityStartedOut(BaseModel):
    """The evaluation room (its shape is the room's, trading/evaluation) and the new announcement."""

    model_config = ConfigDict(extra="allow")
    announcement: int


class ObjectionRaisedOut(Reply):
    id: int
    answer_due: dt.datetime


class ClaimFiledOut(Reply):
    id: int
    state: ClaimState
    evidence: dict[str, Any] = Field(description="索赔依据的平台记录")
