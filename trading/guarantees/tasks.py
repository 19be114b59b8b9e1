"""Scheduler sweeps for guarantees."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.orm import Session

from signing.messages import MAX_SKEW
from trading.core.scheduler import job
from trading.core.services import Services
from trading.guarantees.models import ApiNonce


@job("prune_api_nonces", every_seconds=3600)
def prune_api_nonces_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Nonces of signed messages older than twice the freshness window can no longer be replayed."""
    return int(session.execute(delete(ApiNonce).where(ApiNonce.seen_at < now - 2 * MAX_SKEW)).rowcount)  # type: ignore[attr-defined]
