"""What the named stage routes share (the opening's and, after it, the evaluation room's): the
refusal that names the current stage and the allowed next ones, and the marks on a deprecated
alias. The rules of which stage follows which stay in ``lifecycle`` (opening) and
``trading.evaluation.lifecycle``: these routes only ask them.

An alias answers as its successor does, plus ``Deprecation`` (RFC 9745: the instant it was
deprecated) and ``Link: <successor>; rel="successor-version"``; it is removed in the next version
(docs/api.md lists them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import Response, after_this_request

from trading.core.errors import Conflict, NotFound
from trading.opening.models import Stage

#: When the old routes (``advance``, ``signin``, ``bids/<id>/copy``…) were deprecated.
DEPRECATED_ON = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


class StageNotNext(Conflict):
    """409 ``stage_not_next``: the stage asked for is not a legal next step from the current one.
    The body names both, so a client can correct itself without reading the source."""

    code = "stage_not_next"

    def __init__(self, message: str, *, current: str, allowed: Iterable[str]) -> None:
        super().__init__(message)
        self.current, self.allowed = current, list(allowed)

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["error"] |= {"current": self.current, "allowed": self.allowed}
        return body


def refuse_unless_next(what: str, current: str, current_label: str, wanted: str, allowed: list[str]) -> None:
    """StageNotNext unless ``wanted`` is one of ``allowed`` (what the rules let follow ``current``)."""
    if wanted in allowed:
        return
    after = "、".join(allowed) if allowed else "无（本阶段不能由此推进）"
    raise StageNotNext(
        f"{what}当前处于“{current_label}”（{current}），不能进入 {wanted}；可以进入的下一阶段：{after}",
        current=current,
        allowed=allowed,
    )


def unknown_stage(wanted: str, known: Iterable[str]) -> NotFound:
    return NotFound(f"没有名为 {wanted} 的阶段（阶段：{'、'.join(known)}）", code="unknown_stage")


def stage_named(stage: str) -> Stage:
    """The opening's stage of this name (its room's and the joint room's routes), or 404 ``unknown_stage``."""
    try:
        return Stage(stage)
    except ValueError:
        raise unknown_stage(stage, [s.value for s in Stage]) from None


def deprecated(successor: str) -> None:
    """Mark this request's response, whatever it is (a refusal too), as an alias's: the client is
    told the route to use instead."""

    @after_this_request
    def mark(response: Response) -> Response:
        response.headers["Deprecation"] = f"@{int(DEPRECATED_ON.timestamp())}"
        response.headers["Link"] = f'<{successor}>; rel="successor-version"'
        return response
