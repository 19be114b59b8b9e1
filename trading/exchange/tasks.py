"""Scheduler jobs of the national data exchange: queue the records of newly checkpointed events,
then push the due ones (each record apart, with back-off; nothing is pushed when
``EXCHANGE_PUSH_URL`` is empty, but the records are still queued, for ``ggzy exchange export``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.core.scheduler import job
from trading.core.services import Services
from trading.exchange.pushing import collect, push_due


@job("exchange_push", every_seconds=10)
def exchange_push_job(session: Session, now: dt.datetime, services: Services) -> int:
    queued = collect(session, services, now)
    session.commit()
    return queued + push_due(session, services, now)
