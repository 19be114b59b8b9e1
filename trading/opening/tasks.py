"""Scheduler sweeps for opening ceremonies (idempotent; requests enforce the same deadlines)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.db import locked
from trading.core.scheduler import each_apart, job
from trading.core.services import Services
from trading.opening.ceremonies import ceremonies_of, get_ceremony, tender_of
from trading.opening.models import FINAL_STAGES, Ceremony, Stage
from trading.opening.stages import ensure_current
from trading.tenders.models import Tender


def due(session: Session, now: dt.datetime) -> list[int]:
    """The ceremonies whose window has run out (ids, read without a lock)."""
    return list(
        session.scalars(
            select(Ceremony.id)
            .where(
                Ceremony.stage.not_in([s.value for s in FINAL_STAGES]),
                Ceremony.paused_at.is_(None),
                Ceremony.stage_ends_at <= now,
            )
            .order_by(Ceremony.id)
        )
    )


def catch_up(session: Session, ids: list[int], services: Services, now: dt.datetime) -> int:
    """The scheduler's move of one room, or of every lot of a 合并开标 at once (how many rooms
    changed stage). Rooms a request holds are skipped (a group if any of its lots is held): that
    request brings them up to now, or the next sweep does."""
    rooms = list(
        session.scalars(locked(select(Ceremony).where(Ceremony.id.in_(ids)).order_by(Ceremony.id), skip_locked=True))
    )
    if len(rooms) < len(ids):
        return 0
    before = {c.id: c.stage for c in rooms}
    ensure_current(session, rooms[0], services, now)
    return sum(c.stage is not before[c.id] for c in rooms)


def sweep_items(session: Session, ids: list[int]) -> list[list[int]]:
    """What the sweep moves, each in a transaction of its own: a room, or all the lots of a
    合并开标 with a room among ``ids`` (one item, so that they never move apart)."""
    items: list[list[int]] = []
    seen: set[int] = set()
    for cid in ids:
        tender = tender_of(session, get_ceremony(session, cid))
        if not tender.joint_opening:
            items.append([cid])
        elif tender.id not in seen:
            seen.add(tender.id)
            items.append([other.id for other in ceremonies_of(session, tender)])
    return items


def sweep(session: Session, now: dt.datetime, services: Services) -> int:
    """The scheduler's job: every ceremony whose window has run out, each in a transaction of its
    own (committed as it goes), so that one room that cannot move never holds up another; the lots
    of a 合并开标 are one item, all or none."""
    items = sweep_items(session, due(session, now))
    return each_apart(session, items, lambda ids: catch_up(session, ids, services, now), "ceremonies")


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
