"""The bids stage's request schemas: an upload's init, and a withdrawal's signature."""

from __future__ import annotations

from pydantic import Field

from trading.core.schemas import Schema


class InitIn(Schema):
    tender: str = Field(min_length=1, max_length=32)
    lot: int = Field(ge=1)
    size: int = Field(ge=1)
    head: str = Field(min_length=20, max_length=2_000_000, description="base64 of the envelope's prefix and header")


class WithdrawIn(Schema):
    signature: str = Field(min_length=20, max_length=400)
