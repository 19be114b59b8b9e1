"""Scheduler jobs of rights trading: the room's clock.

Every move the clock makes is also written by the next bid or staff action that takes the lot's
lock (``bidding.advance``); this sweep writes them down when nobody acts, every second, so a
countdown that runs out ends the lot within about a second, each lot in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from trading.auctions.bidding import advance_one, due_lots
from trading.core.scheduler import each_apart, job
from trading.core.services import Services


@job("auction_clock", every_seconds=1)
def auction_clock_job(session: Session, now: dt.datetime, services: Services) -> int:
    """竞价计时: open bidding, start the countdown, end lots whose time has passed."""
    return each_apart(session, due_lots(session, now), lambda i: advance_one(session, services, i), "auction_clock")
