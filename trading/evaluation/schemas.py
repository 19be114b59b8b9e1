"""What the evaluation's API and pages accept: the expert pool and the draw, and the room."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from trading.core.input_errors import hint
from trading.core.schemas import Schema

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
    opening_seat: OpeningSeat
    passed: bool
    failed_items: list[str] = Field(default_factory=list, max_length=50)
    reason: str = Field(default="", max_length=500)


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

    text: str = Field(max_length=20_000)
