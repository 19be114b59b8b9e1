"""The opening's request schemas (the ceremony API and the room page post the same bodies)."""

from __future__ import annotations

from pydantic import Field

from trading.core.schemas import Schema


class SignatureIn(Schema):
    signature: str = Field(min_length=16, max_length=400)


class DecryptIn(SignatureIn):
    wrapped_key: str = Field(min_length=16, max_length=400, description="base64 SM2 ciphertext (C1C3C2)")


class TextIn(Schema):
    text: str = Field(max_length=2000)


class AnswerIn(Schema):
    answer: str = Field(max_length=2000)


class ReasonIn(Schema):
    reason: str = Field(max_length=600)


class ExtendIn(ReasonIn):
    minutes: int
