"""The scheduler builds archive packages for tender lots and auction lots that reached an end state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.archives import auction_building
from trading.archives.building import build_due
from trading.core.scheduler import job
from trading.core.services import Services


@job("build_archives", every_seconds=10)
def build_archives_job(session: Session, now: dt.datetime, services: Services) -> int:
    return build_due(session, services, now) + auction_building.build_due(session, services, now)
