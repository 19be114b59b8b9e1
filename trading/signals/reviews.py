"""The committee's record of how it considered a lot's collusion signals (connected to the
evaluation room by ``trading.app.connect_stages``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from trading.accounts.models import User
from trading.core.errors import Conflict
from trading.evaluation.models import Evaluation


def room_findings(session: Session, ev: Evaluation, user: User) -> list[dict[str, Any]]:
    """The lot's signals as a panel of the room (none until they are computed)."""
    return []


def compliance_refusal(session: Session, ev: Evaluation) -> Conflict | None:
    """Refuses closing the compliance review while the lot's signals are not considered."""
    return None
