"""Scheduler sweeps for awards."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.awards.award import report_late_publicity, report_overdue
from trading.awards.release import release_due
from trading.core.scheduler import job
from trading.core.services import Services


@job("release_guarantees", every_seconds=600)
def release_guarantees_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Guarantees of lots that were awarded, failed or were terminated are released (well within
    Reg 57's 5 days)."""
    return release_due(session, now)


@job("publicity_overdue", every_seconds=600)
def publicity_overdue_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Reg 54: candidates not publicised within 3 days of the report are reported (once)."""
    return report_late_publicity(session, now)


@job("objections_overdue", every_seconds=600)
def objections_overdue_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Reg 54: an objection to the candidates not answered within 3 days is reported (once)."""
    return report_overdue(session, now)
