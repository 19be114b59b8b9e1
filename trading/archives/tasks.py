"""The scheduler builds archive packages for lots that reached an end state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.archives.building import build_due
from trading.core.scheduler import job
from trading.core.services import Services


@job("build_archives", every_seconds=10)
def build_archives_job(session: Session, now: dt.datetime, services: Services) -> int:
    return build_due(session, services, now)
