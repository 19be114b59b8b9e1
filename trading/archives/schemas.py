"""The archive's request schemas."""

from __future__ import annotations

from trading.core.schemas import Schema


class HoldIn(Schema):
    """法律保留: set (``on``) or lift a legal hold, with the dispute or complaint behind it."""

    on: bool
    reason: str
