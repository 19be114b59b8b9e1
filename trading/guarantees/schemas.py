"""The guarantees stage's request schemas: the bidder's application, and what the issuer's signed
API receives (its refusal, its guarantee, its reveal at the opening, its answer to a claim)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import Field

from trading.core.apispec import Reply
from trading.core.schemas import Schema, TextBlock
from trading.guarantees.models import ClaimGround, ClaimState, GuaranteeState, OrderState


class ApplyIn(Schema):
    tender: str = Field(min_length=4, max_length=32)
    lot: int = Field(ge=1, le=50)
    issuer: str = Field(min_length=18, max_length=18, description="出具机构的统一社会信用代码")


class RejectIn(Schema):
    reason: TextBlock = Field(max_length=600)


class GuaranteeIn(Schema):
    content: str = Field(min_length=2, max_length=20_000, description="canonical JSON, guarantee_statement")
    signature: str = Field(min_length=16, max_length=400, description="base64 DER SM2 over content")
    signer_cert: str = Field(min_length=16, max_length=20_000, description="base64 DER")
    document: str = Field(
        default="", max_length=700_000, description="base64 PDF/OFD, at most 512 KiB; none for a sealed lot"
    )


class RevealIn(Schema):
    openings: dict[str, Any] = Field(description="tender, lot, beneficiary: each {value, salt}")
    document: str = Field(min_length=4, max_length=700_000, description="base64 PDF/OFD")


class AnswerIn(Schema):
    pay: bool
    answer: TextBlock = Field(max_length=2000)
    paid_amount: Decimal | None = None
    payment_reference: str | None = Field(default=None, max_length=80)


# ---------------------------------------------------------------- answers
Money = Field(description="金额，十进制字符串，单位元", examples=["200000.00"])


class Party(Reply):
    credit_code: str
    name: str


class IssuersOut(Reply):
    items: list[Party]


class GuaranteeOut(Reply):
    id: int
    order: int
    number: str
    issuer: str | None
    amount: str = Money
    starts_on: dt.date
    ends_on: dt.date
    state: GuaranteeState
    state_label: str
    document_sm3: str | None
    released_at: dt.datetime | None
    release_reason: str | None


class OrderOut(Reply):
    """An order as its bidder sees it."""

    id: int
    tender: str
    tender_title: str
    lot: int
    issuer: Party
    state: OrderState
    state_label: str
    amount: str = Money
    valid_until: dt.date
    reject_reason: str | None
    last_refusal: dict[str, Any] | None = Field(description="出具机构最近一次提交被拒的原因（code、message）")
    guarantee: GuaranteeOut | None


class OrdersOut(Reply):
    items: list[OrderOut]


class ClaimBriefOut(Reply):
    id: int
    ground: ClaimGround
    ground_label: str
    state: ClaimState
    state_label: str
    answer: str | None
    paid_amount: str | None


class LotGuaranteeOut(GuaranteeOut):
    principal: Party
    claims: list[ClaimBriefOut]


class LotGuaranteesOut(Reply):
    items: list[LotGuaranteeOut]


# ---------------------------------------------------------------- the issuer API's answers
class IssuerMeOut(Reply):
    username: str
    credit_code: str
    name: str


class IssuerOrderOut(Reply):
    """An order as the issuer receives it: in a sealed lot tender, lot and beneficiary are commitments."""

    order: int
    state: OrderState
    tender: Any
    tender_title: str
    lot: Any
    lot_name: str
    beneficiary: dict[str, Any]
    principal: dict[str, Any] = Field(description="投标人，用出具机构的加密证书密封（SM2）")
    amount: str = Money
    currency: str
    sealed: bool
    valid_until: dt.date
    bid_deadline: dt.datetime
    deadline_date: dt.date
    created_at: dt.datetime


class IssuerOrdersOut(Reply):
    items: list[IssuerOrderOut]


class IssuerStateQuery(Schema):
    state: str | None = Field(default=None, max_length=20, title="状态")


class RejectedOut(Reply):
    order: int
    state: OrderState


class RevealOut(GuaranteeOut):
    order_facts: IssuerOrderOut


class RevealsOut(Reply):
    items: list[RevealOut]


class GuaranteesOut(Reply):
    items: list[GuaranteeOut]


class IssuerClaimOut(Reply):
    id: int
    guarantee: GuaranteeOut
    ground: ClaimGround
    ground_label: str
    evidence: dict[str, Any]
    statement: str
    amount: str = Money
    state: ClaimState
    filed_at: dt.datetime
    answer: str | None


class IssuerClaimsOut(Reply):
    items: list[IssuerClaimOut]


class ClaimAnsweredOut(Reply):
    id: int
    state: ClaimState
