"""What the awards' API and pages accept: the award and the tenderee's claim. Objections and their
answers are free text (``trading.evaluation.schemas.TextIn``)."""

from __future__ import annotations

from pydantic import Field

from trading.core.schemas import Schema


class AwardIn(Schema):
    winner: int
    reason: str = Field(default="", max_length=2000)


class ClaimIn(Schema):
    ground: str = Field(max_length=40)
    statement: str = Field(max_length=4000)
