"""Scheduler jobs of rights trading: the room's clock.

Every move the clock makes is also written by the next bid or staff action that takes the lot's
lock (``bidding.advance``); this sweep writes them down when nobody acts, every second, so a
countdown that runs out ends the lot within about a second, each lot in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.auctions import result_pdf
from trading.auctions.bidding import advance_one, due_lots
from trading.auctions.models import Auction
from trading.core.scheduler import each_apart, job
from trading.core.services import Services


@job("auction_clock", every_seconds=1)
def auction_clock_job(session: Session, now: dt.datetime, services: Services) -> int:
    """竞价计时: open bidding, start the countdown, end lots whose time has passed."""
    return each_apart(session, due_lots(session, now), lambda i: advance_one(session, services, i), "auction_clock")


@job("auction_result_pdfs", every_seconds=30)
def auction_result_pdfs_job(session: Session, now: dt.datetime, services: Services) -> int:
    """成交确认书: draw and store each ended lot's PDF, outside the room's lock (a storage fault
    delays a PDF, never the end of a lot; the views and the archive draw it too if they come first)."""
    due = session.scalars(
        select(Auction).where(Auction.result_statement.is_not(None), Auction.result_pdf_key.is_(None))
    ).all()
    return each_apart(session, due, lambda a: bool(result_pdf.issue(session, services.store, a)), "auction_result_pdfs")
