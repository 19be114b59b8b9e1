"""Scheduler sweeps for awards."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.awards.release import release_due
from trading.core.scheduler import job
from trading.core.services import Services


@job("release_guarantees", every_seconds=600)
def release_guarantees_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Guarantees of lots that were awarded, failed or were terminated are released (well within
    Reg 57's 5 days)."""
    return release_due(session, now)
