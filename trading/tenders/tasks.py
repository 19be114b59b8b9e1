"""Scheduler sweeps for tenders (each is idempotent; requests enforce the same deadlines)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.core.platform_keys import key_encryption_key
from trading.core.scheduler import job
from trading.core.services import Services
from trading.tenders.operations import close_due
from trading.tenders.sealed import reveal_due


@job("close_bidding", every_seconds=5)
def close_bidding_job(session: Session, now: dt.datetime, services: Services) -> int:
    """投标截止: close every tender whose deadline has passed."""
    return close_due(session, now)


@job("reveal_sealed", every_seconds=10)
def reveal_sealed_job(session: Session, now: dt.datetime, services: Services) -> int:
    """After each deadline: publish the openings of the bidders' sealed events (trading.tenders.sealed)."""
    return reveal_due(session, key_encryption_key(services.settings), now)
