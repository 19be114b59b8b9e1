"""Scheduler jobs of signals: each opened lot's collusion signals, computed once after its opening."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.core.scheduler import each_apart, job
from trading.core.services import Services
from trading.signals.runs import compute_run, due_lots
from trading.tenders.models import Lot


def compute_one(session: Session, services: Services, lot_id: int, now: dt.datetime) -> bool:
    lot = session.get(Lot, lot_id)
    return lot is not None and compute_run(session, services, lot, now) is not None


@job("collusion_signals", every_seconds=60)
def collusion_signals_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Every lot whose opening has passed decryption and has no signals yet; each lot in a
    transaction of its own (``each_apart``), so a lot whose packages cannot be read, or whose run
    fails, is logged and holds up no other (the next sweep tries it again)."""
    return each_apart(
        session, due_lots(session), lambda lot_id: compute_one(session, services, lot_id, now), "collusion_signals"
    )
