"""Scheduler sweeps for accounts."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from archive.audit import SYSTEM, record_event
from trading.accounts.models import LoginAttempt
from trading.core.scheduler import job
from trading.core.services import Services


@job("prune_login_attempts", every_seconds=3600)
def prune_login_attempts(session: Session, now: dt.datetime, services: Services) -> int:
    """Login attempts only matter for the rate-limit window; keep 30 days for investigations."""
    cutoff = now - dt.timedelta(days=30)
    result = cast("CursorResult[Any]", session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff)))
    n = result.rowcount
    if n:
        record_event(
            session, SYSTEM, "login_attempt.prune", ("login_attempt", "*"), {"before": cutoff.isoformat(), "count": n}
        )
    return int(n)
