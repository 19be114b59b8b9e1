"""What the evaluation's API and pages accept: the expert pool and the draw, and the room."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from trading.core.schemas import Schema

CODE = r"^[A-Z][0-9]{2}$"  # 专业代码, e.g. A01
CREDIT = r"^[0-9A-HJ-NPQRTUWXY]{18}$"


# ---------------------------------------------------------------- the pool and the draw
class Period(Schema):
    credit_code: str = Field(pattern=CREDIT)
    from_: str = Field(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")
    to: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class Relation(Period):
    kind: str = Field(pattern=r"^(kinship|director|shareholder)$")


class DeclarationIn(Schema):
    """What an expert declares (and must keep current)."""

    employer: str = Field(pattern=CREDIT)
    history: list[Period] = Field(default_factory=list, max_length=50)
    relations: list[Relation] = Field(default_factory=list, max_length=100)
    available: bool = True


class ExpertIn(DeclarationIn):
    name: str = Field(min_length=2, max_length=100)
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
    reason: str = Field(default="", max_length=300)


# ---------------------------------------------------------------- the room
class OpenIn(Schema):
    z_limit: float | None = Field(default=None, description="离群阈值（标准差）；默认 2.5")
    candidates: int = Field(default=3, ge=1, le=3)


class RepresentativeIn(Schema):
    username: str = Field(min_length=1, max_length=80)


class SignatureIn(Schema):
    signature: str = Field(min_length=8, max_length=400)


class ReportSignIn(SignatureIn):
    dissent: str = Field(default="", max_length=5000)


class ReasonIn(Schema):
    reason: str = Field(default="", max_length=2000)


class SendBackIn(Schema):
    reason: str = Field(max_length=2000)
    to: str = Field(default="scoring", pattern=r"^(scoring|compliance)$")


class LeaderIn(Schema):
    candidate: int


class ComplianceIn(Schema):
    bidder: int
    passed: bool
    failed_items: list[str] = Field(default_factory=list, max_length=50)
    reason: str = Field(default="", max_length=500)


class ScoresIn(Schema):
    bidder: int
    scores: dict[str, Decimal] = Field(max_length=50)
    total: Decimal = Field(ge=0, le=100, max_digits=6, decimal_places=2)


class AskIn(Schema):
    bidder: int
    question: str = Field(max_length=2000)
    hours: int = Field(default=24, ge=1, le=72)


class TextIn(Schema):
    """Free text: a bidder's answer to a clarification (and, after the report, an objection or its answer)."""

    text: str = Field(max_length=20_000)
