"""Scheduler sweeps for bids."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.bids.staging import staging_for
from trading.bids.uploads import abandon_expired
from trading.core.scheduler import job
from trading.core.services import Services


@job("abandon_uploads", every_seconds=600)
def abandon_uploads_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Uploads not completed within 24 hours, idle for UPLOAD_IDLE_SECONDS, or whose tender's
    deadline has passed are abandoned and their bytes deleted."""
    idle = dt.timedelta(seconds=services.settings.upload_idle_seconds)
    return abandon_expired(session, staging_for(services.settings, services.store), now, idle)
