"""Reading the bidding room (竞价室) from outside: the accepted bids and the public feed after a
position, the room's state as pages and clients draw it, and the lots' channel on the live server.

Everything here is public: bidding numbers (竞买号牌) and amounts, never a name. Every writer of a
lot's feed holds the lot's row lock (``bidding``, ``room``), so a lot's event ids are committed in
id order and "the events after N" misses none; the accepted bids' ``seq`` (1, 2, 3 … per lot) lets
a client check that it has every bid.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from archive import clock
from trading.auctions import rules
from trading.auctions.lifecycle import iso
from trading.auctions.models import EVENT_KIND_LABELS, Auction, AuctionBid, AuctionEvent, AuctionState, Phase
from trading.core import live
from trading.core.errors import InvalidInput
from trading.core.schemas import whole_number

S = AuctionState
#: the most bids or events one read returns; ``more`` says there are further ones
PAGE = 1000


def money(value: Any) -> str | None:
    return None if value is None else rules.amount_text(value)


def live_stream(a: Auction, live_url: str) -> dict[str, str] | None:
    """Where the room's public feed is followed: the live server (``LIVE_URL``) and this lot's path
    on it, or None when there is none (pages and ``ggzy-bid`` then poll ``…/events``)."""
    if not live_url:
        return None
    return {"base": live_url, "path": f"/live/auctions/{a.id}"}


def bid_out(b: AuctionBid) -> dict[str, Any]:
    """An accepted bid as the public sees it: its place, the number, the amount, the last bid its
    buyer had seen (so anyone can rebuild the signed statement and the result's ``bids_sm3``), the
    instant."""
    return {
        "seq": b.seq,
        "bidding_number": b.bidding_number,
        "amount": rules.amount_text(b.amount),
        "seen_seq": b.seen_seq,
        "phase": b.phase.value,
        "phase_label": b.phase.label,
        "accepted_at": iso(b.accepted_at),
        "countdown_ends_at": iso(b.countdown_ends_at),
    }


def bids_after(session: Session, a: Auction, after: int, limit: int = PAGE) -> list[AuctionBid]:
    """The lot's accepted bids with ``seq`` > ``after``, in their order (at most ``limit``)."""
    q = select(AuctionBid).where(AuctionBid.auction_id == a.id, AuctionBid.seq > after)
    return list(session.scalars(q.order_by(AuctionBid.seq).limit(limit)))


def event_body(ev: AuctionEvent) -> dict[str, Any]:
    """An event as the pages, ``ggzy-bid auction`` and the live server send it, with the words for
    its codes added when read (``kind_label``; a bid's ``phase_label``)."""
    body = {"id": ev.id, "kind": ev.kind, "at": iso(ev.created_at), **ev.payload}
    body["kind_label"] = EVENT_KIND_LABELS.get(ev.kind, ev.kind)
    phase = ev.payload.get("phase")
    if ev.kind == "bid" and phase in {p.value for p in Phase}:
        body["phase_label"] = Phase(phase).label
    return body


def events_after(session: Session, a: Auction, after: int, limit: int = PAGE) -> list[AuctionEvent]:
    """The lot's public events with id > ``after``, in id order (at most ``limit``)."""
    q = select(AuctionEvent).where(AuctionEvent.auction_id == a.id, AuctionEvent.id > after)
    return list(session.scalars(q.order_by(AuctionEvent.id).limit(limit)))


def last_event_id(session: Session, auction_id: int) -> int:
    q = select(func.max(AuctionEvent.id)).where(AuctionEvent.auction_id == auction_id)
    return int(session.scalar(q) or 0)


#: what the clock on the page counts down to, by state
CLOCK_LABELS = {
    S.ANNOUNCED: "距竞价开始",
    S.LISTING: "距挂牌截止",
    S.FREE: "距自由竞价结束",
    S.COUNTDOWN: "限时竞价剩余",
}


def clock_of(a: Auction) -> tuple[dt.datetime | None, str]:
    """The instant the page counts down to in this state, and what it is (``CLOCK_LABELS``)."""
    state = a.paused_from if a.state is S.PAUSED and a.paused_from is not None else a.state
    ends = {
        S.ANNOUNCED: a.bidding_starts_at,
        S.LISTING: a.free_ends_at,
        S.FREE: a.free_ends_at,
        S.COUNTDOWN: a.countdown_ends_at,
    }.get(state)
    return ends, CLOCK_LABELS.get(state, "")


def room_state(session: Session, a: Auction) -> dict[str, Any]:
    """The room as a page draws it: state, prices, the next acceptable bid and the clock. While
    paused, ``remaining_seconds`` is the time kept for when the room resumes."""
    now = clock.now()
    ends, ends_label = clock_of(a)
    remaining = None
    if a.state is S.PAUSED and ends is not None and a.paused_at is not None:
        remaining = max(0.0, (clock.as_utc(ends) - clock.as_utc(a.paused_at)).total_seconds())
    return {
        "code": a.code,
        "id": a.id,
        "state": a.state.value,
        "state_label": a.state.label,
        "paused": a.state is S.PAUSED,
        "pause_reason": a.pause_reason if a.state is S.PAUSED else None,
        "bidding": a.state.bidding,
        "ended": a.state.ended,
        "starting_price": money(a.starting_price),
        "increment": money(a.increment),
        "current_seq": a.current_seq,
        "current_price": money(a.current_price),
        "minimum_next": money(rules.minimum_next(a.starting_price, a.increment, a.current_price)),
        "countdown_seconds": a.countdown_seconds,
        "ends_at": None if a.state is S.PAUSED else iso(ends),
        "ends_label": ends_label,
        "remaining_seconds": remaining,
        "final_price": money(a.final_price),
        "last_event_id": last_event_id(session, a.id),
        "server_time": now.isoformat(),
    }


class Lots:
    """The lots' rooms on the live server: every event is public (numbers, never names)."""

    def max_id(self, session: Session, room: int) -> int:
        return last_event_id(session, room)

    def events(self, session: Session, since: dict[int, int]) -> list[live.Event]:
        q = select(AuctionEvent).where(AuctionEvent.auction_id.in_(list(since)), AuctionEvent.id > min(since.values()))
        return [self.event(e) for e in session.scalars(q.order_by(AuctionEvent.id)) if e.id > since[e.auction_id]]

    def page(self, session: Session, since: dict[int, int], limit: int) -> list[live.Event]:
        """A watcher's backlog a page at a time (``live.Pages``): each room's own position in SQL, so
        that the first ``limit`` rows are the first ``limit`` events it has not had."""
        after = or_(*(and_(AuctionEvent.auction_id == r, AuctionEvent.id > n) for r, n in since.items()))
        q = select(AuctionEvent).where(after).order_by(AuctionEvent.id).limit(limit)
        return [self.event(e) for e in session.scalars(q)]

    @staticmethod
    def event(e: AuctionEvent) -> live.Event:
        return live.Event(e.auction_id, e.id, e.kind, json.dumps(event_body(e), ensure_ascii=False))

    def visible(self, event: live.Event, scope: Any) -> bool:
        return True


def public_lot(session: Session, auction_id: int) -> bool:
    """Whether the lot exists and has been announced (a draft is not public)."""
    state = session.scalar(select(Auction.state).where(Auction.id == auction_id))
    return state is not None and state is not S.DRAFT


def mount(server: live.Live) -> None:
    """``/live/auctions/<id>``: a lot's public feed, no ticket; SSE ids are event ids, and
    ``Last-Event-ID`` (or ``?after=``) resumes after the last event the browser had."""
    hub = server.hub(Lots())

    def exists(auction_id: int) -> bool:
        with server.database.session() as s:
            return public_lot(s, auction_id)

    async def room(request: web.Request) -> web.StreamResponse:
        try:
            auction_id = whole_number(request.match_info["auction"], "auction")
        except InvalidInput:
            return live.refuse(404, "auction_not_found", "未找到该标的")
        try:
            after = whole_number(request.headers.get("Last-Event-ID") or request.query.get("after") or "0", "after")
        except InvalidInput:
            return live.refuse(400, "bad_request", "Last-Event-ID 应为整数")
        if not await server.run(exists, auction_id):
            return live.refuse(404, "auction_not_found", "未找到该标的")
        return await live.stream(request, hub, {auction_id: None}, {auction_id: after})

    server.get("/live/auctions/{auction:\\d{1,19}}", room)
