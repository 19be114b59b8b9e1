"""Scheduler jobs of credit: the sweep that turns the platform's own trace into proposed entries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.core.scheduler import job
from trading.core.services import Services
from trading.credit import proposals


@job("credit_proposals", every_seconds=60)
def credit_proposals_job(session: Session, now: dt.datetime, services: Services) -> int:
    """平台信用事件: read the audit log from the cursor and propose entries for staff to decide."""
    return proposals.sweep(session, now)
