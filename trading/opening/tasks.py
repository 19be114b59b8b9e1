"""Scheduler sweeps for opening ceremonies (idempotent; requests enforce the same deadlines)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.db import locked
from trading.opening.models import Ceremony, Stage
from trading.opening.operations import ensure_current, sweep
from trading.scheduler import job
from trading.services import Services
from trading.tenders.models import Tender


@job("open_ceremonies", every_seconds=2)
def open_ceremonies_job(session: Session, now: dt.datetime, services: Services) -> int:
    """开标 at the deadline instant, then every window that has run out."""
    scheduled = session.scalars(
        locked(
            select(Ceremony)
            .join(Tender, Tender.id == Ceremony.tender_id)
            .where(Ceremony.stage == Stage.SCHEDULED, Tender.bid_deadline <= now)
            .order_by(Ceremony.id),
            of=Ceremony,
            skip_locked=True,  # a room a request holds is opened by that request
        )
    ).all()
    opened = 0
    for c in scheduled:
        ensure_current(session, c, services, now)
        opened += c.stage is not Stage.SCHEDULED
    return opened + sweep(session, now, services)
