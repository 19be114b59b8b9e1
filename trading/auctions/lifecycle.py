"""The life of a lot (标的): the one place that writes ``Auction.state``, and the room's public feed.

Each move is checked against ``MOVES`` (a named ``Conflict`` otherwise), writes the audit event and
the room's public event in the same transaction. Moves made by the clock (the listing's end, the
countdown's start and end) carry the instant they took effect (``at``), which may be earlier than
the instant they were written: the server's clock decided them when the time passed, the sweep or
the next bid only writes them down.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from trading.auctions.models import Auction, AuctionEvent, AuctionState
from trading.core.errors import Conflict

S = AuctionState
MOVES: dict[AuctionState, frozenset[AuctionState]] = {
    S.DRAFT: frozenset({S.ANNOUNCED, S.CANCELLED}),
    S.ANNOUNCED: frozenset({S.LISTING, S.FREE, S.PAUSED, S.FAILED, S.CANCELLED}),
    S.LISTING: frozenset({S.COUNTDOWN, S.PAUSED, S.SOLD, S.FAILED}),
    S.FREE: frozenset({S.COUNTDOWN, S.PAUSED, S.SOLD, S.FAILED}),
    S.COUNTDOWN: frozenset({S.PAUSED, S.SOLD, S.FAILED}),
    S.PAUSED: frozenset({S.ANNOUNCED, S.LISTING, S.FREE, S.COUNTDOWN}),
    S.SOLD: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

ACTIONS = {
    S.ANNOUNCED: "auction.announce",
    S.LISTING: "auction.listing_open",
    S.FREE: "auction.bidding_open",
    S.COUNTDOWN: "auction.countdown",
    S.PAUSED: "auction.pause",
    S.SOLD: "auction.sold",
    S.FAILED: "auction.failed",
    S.CANCELLED: "auction.cancel",
}


class AuctionMoveRefused(Conflict):
    code = "auction_transition"


def feed(session: Session, a: Auction, kind: str, payload: dict[str, Any]) -> AuctionEvent:
    """Add an event to the room's public feed: bidding numbers and amounts, never a name."""
    ev = AuctionEvent(auction_id=a.id, kind=kind, payload=payload, created_at=clock.now())
    session.add(ev)
    session.flush()
    return ev


def move_auction(
    session: Session, actor: Actor, a: Auction, to: AuctionState, *, at: dt.datetime, **payload: Any
) -> None:
    """Move ``a`` to ``to``, effective ``at``; the audit event and the public feed say so."""
    frm = a.state
    if to not in MOVES[frm]:
        raise AuctionMoveRefused(f"标的状态为“{frm.label}”，不能改为“{to.label}”")
    if to is S.PAUSED:
        a.paused_from = frm
    elif frm is S.PAUSED:
        a.paused_from = None
    a.state = to
    if to.ended:
        a.ended_at = at
    session.flush()
    body = {"from": frm.value, "to": to.value, "at": at.isoformat(), **payload}
    action = "auction.resume" if frm is S.PAUSED else ACTIONS[to]
    record_event(session, actor, action, a, body)
    feed(session, a, "state", {**body, "label": to.label, "countdown_ends_at": iso(a.countdown_ends_at)})


def iso(value: dt.datetime | None) -> str | None:
    return clock.as_utc(value).isoformat() if value is not None else None
