"""Hooks of the evaluation stage: how a later stage (signals) puts its findings before the committee
and holds the compliance review until the committee has recorded how it considered them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from trading.accounts.models import User
from trading.core.errors import Conflict
from trading.core.hooks import Hook
from trading.evaluation.models import Evaluation

#: Panels the room shows beside the bids, each ``{"kind", "title", "items": [{"label", "bidders",
#: "detail"}], "review": {"required", "done", "text", "url"} | None}``; the user is the viewer.
room_findings: Hook[[Session, Evaluation, User], list[dict[str, Any]]] = Hook("evaluation.room_findings")

#: Why the compliance review may not close yet (a finding the committee has not considered), or None.
compliance_refusal: Hook[[Session, Evaluation], Conflict | None] = Hook("evaluation.compliance_refusal")
