"""Scheduler jobs of supervision: start and stop the clocks from new audit events and recolour the
ones that are due (``clocks.sweep``), and write the statistics' fact of each concluded lot
(``facts.sweep``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from archive.audit import SYSTEM
from trading.core.scheduler import job
from trading.core.services import Services
from trading.supervision import clocks, rulebook


@job("supervision_clocks", every_seconds=30)
def supervision_clocks_job(session: Session, now: dt.datetime, services: Services) -> int:
    """The seed rules first (once), then the clocks: started, stopped, paused from the log, and
    recoloured when due (黄灯预警、红灯追责)."""
    seeded = rulebook.ensure_seed(session, SYSTEM)
    session.commit()
    return seeded + clocks.sweep(session, now)
