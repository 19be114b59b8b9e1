"""Scheduler sweeps for opening ceremonies (idempotent; requests enforce the same deadlines)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.opening.models import Ceremony, Stage
from trading.opening.operations import catch_up, sweep, sweep_items
from trading.scheduler import each_apart, job
from trading.services import Services
from trading.tenders.models import Tender


@job("open_ceremonies", every_seconds=2)
def open_ceremonies_job(session: Session, now: dt.datetime, services: Services) -> int:
    """开标 at the deadline instant, then every window that has run out; each room in a transaction
    of its own, so a room that cannot open or move on holds up no other."""
    scheduled = session.scalars(
        select(Ceremony.id)
        .join(Tender, Tender.id == Ceremony.tender_id)
        .where(Ceremony.stage == Stage.SCHEDULED, Tender.deadline_passed_by(now))
        .order_by(Ceremony.id)
    ).all()
    items = sweep_items(session, list(scheduled))  # the lots of a 合并开标 open together
    opened = each_apart(session, items, lambda ids: catch_up(session, ids, services, now), "open_ceremonies")
    return opened + sweep(session, now, services)
