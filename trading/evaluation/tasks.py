"""Scheduler sweeps of the evaluation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.core.scheduler import job
from trading.core.services import Services


@job("publicity_overdue", every_seconds=600)
def publicity_overdue_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Reg 54: candidates not publicised within 3 days of the report are reported (once)."""
    from trading.awards.award import report_late_publicity

    return report_late_publicity(session, now)


@job("objections_overdue", every_seconds=600)
def objections_overdue_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Reg 54: an objection to the candidates not answered within 3 days is reported (once)."""
    from trading.awards.award import report_overdue

    return report_overdue(session, now)
