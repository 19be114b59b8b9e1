"""The guarantees stage's request schemas: the bidder's application, and what the issuer's signed
API receives (its refusal, its guarantee, its reveal at the opening, its answer to a claim)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from trading.core.schemas import Schema


class ApplyIn(Schema):
    tender: str = Field(min_length=4, max_length=32)
    lot: int = Field(ge=1, le=50)
    issuer: str = Field(min_length=18, max_length=18, description="出具机构的统一社会信用代码")


class RejectIn(Schema):
    reason: str = Field(max_length=600)


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
    answer: str = Field(max_length=2000)
    paid_amount: Decimal | None = None
    payment_reference: str | None = Field(default=None, max_length=80)
