"""Scheduler jobs of open data: the releases of new audit events, and the daily bulk files."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.core.scheduler import job
from trading.core.services import Services
from trading.opendata.publish import bulk_due, sweep


@job("ocds_releases", every_seconds=60)
def ocds_releases_job(session: Session, now: dt.datetime, services: Services) -> int:
    """OCDS releases of the events recorded since the last sweep (idempotent by source event)."""
    return sweep(session, services.settings.ocds_ocid_prefix, now)


@job("ocds_bulk", every_seconds=3600)
def ocds_bulk_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Yesterday's bulk files (JSON Lines, gzip) in the object store, once (Beijing days)."""
    return bulk_due(session, services.store, now)
