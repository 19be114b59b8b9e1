"""开标大厅: the public list of opening rooms, today's first, then those running or to come, then
those recently ended; each lot's room with its stage and the time that matters for it.

Only what the tender page already shows is said here: the rooms of public tenders, their stage and
times. Before the opening nothing about the bids is, not even their number (招标投标法第二十二条).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from archive import clock
from trading.core.formats import local_time
from trading.opening.models import FINAL_STAGES, Ceremony, Stage
from trading.tenders.models import PUBLIC_STATES, Lot, Tender

#: How far back the ended rooms are listed, and how many rooms each part lists at most.
RECENT_DAYS = 30
LIMIT = 60


@dataclass
class HallRoom:
    ceremony: Ceremony
    lot: Lot

    @property
    def time_text(self) -> str:
        """The time that matters now: the opening's, the current window's end, or the end."""
        c = self.ceremony
        if c.stage is Stage.SCHEDULED:
            return f"开标时间 {_local(c.stage_ends_at)}"
        if c.stage in FINAL_STAGES:
            return f"结束于 {_local(c.closed_at or c.stage_started_at)}"
        if c.paused_at is not None:
            return f"暂停于 {_local(c.paused_at)}"
        return f"本阶段截止 {_local(c.stage_ends_at)}"


@dataclass
class HallTender:
    tender: Tender
    rooms: list[HallRoom] = field(default_factory=list)


@dataclass
class Hall:
    today: dt.date
    today_rooms: list[HallTender]
    running: list[HallTender]
    upcoming: list[HallTender]
    ended: list[HallTender]


def _local(at: dt.datetime | None) -> str:
    return local_time(at, seconds=False) or "—"


def _group(rows: list[tuple[Ceremony, Tender, Lot]]) -> list[HallTender]:
    """Rooms by tender, in the order of the rows (a tender's lots together, by lot number)."""
    out: dict[int, HallTender] = {}
    for c, tender, lot in rows:
        out.setdefault(tender.id, HallTender(tender)).rooms.append(HallRoom(c, lot))
    for t in out.values():
        t.rooms.sort(key=lambda r: r.lot.number)
    return list(out.values())


def opening_hall(session: Session, now: dt.datetime | None = None) -> Hall:
    """The hall at ``now``: rooms whose opening is today (Beijing date), running, to come, ended."""
    now = now or clock.now()
    today = clock.local(now).date()
    day_start = dt.datetime.combine(today, dt.time(0), tzinfo=clock.SHANGHAI).astimezone(dt.UTC)
    day_end = day_start + dt.timedelta(days=1)
    base = (
        select(Ceremony, Tender, Lot)
        .join(Tender, Tender.id == Ceremony.tender_id)
        .join(Lot, Lot.id == Ceremony.lot_id)
        .where(Tender.status.in_(PUBLIC_STATES), Tender.docs_issued_at.is_not(None))
    )
    in_today = Tender.bid_deadline >= day_start, Tender.bid_deadline < day_end
    ended_states = [s for s in Stage if s in FINAL_STAGES]

    def rows(q: Select[Ceremony, Tender, Lot]) -> list[tuple[Ceremony, Tender, Lot]]:
        return [(c, t, lot) for c, t, lot in session.execute(q)]

    today_rows = rows(base.where(*in_today).order_by(Tender.bid_deadline, Tender.id, Lot.number).limit(LIMIT))
    not_today = (Tender.bid_deadline < day_start) | (Tender.bid_deadline >= day_end)
    running = rows(
        base.where(not_today, Ceremony.stage.not_in([*ended_states, Stage.SCHEDULED]))
        .order_by(Tender.bid_deadline, Tender.id, Lot.number)
        .limit(LIMIT)
    )
    upcoming = rows(
        base.where(Tender.bid_deadline >= day_end, Ceremony.stage == Stage.SCHEDULED)
        .order_by(Tender.bid_deadline, Tender.id, Lot.number)
        .limit(LIMIT)
    )
    ended = rows(
        base.where(
            Tender.bid_deadline < day_start,
            Tender.bid_deadline >= now - dt.timedelta(days=RECENT_DAYS),
            Ceremony.stage.in_(ended_states),
        )
        .order_by(Tender.bid_deadline.desc(), Tender.id, Lot.number)
        .limit(LIMIT)
    )
    return Hall(today, _group(today_rows), _group(running), _group(upcoming), _group(ended))
