"""The opening's rooms on the live server (``ggzy live``, ``trading.core.live``): the ceremonies'
channel, and the signed tickets that say which rooms a browser may follow and what it may see.

Browsers authenticate with a ticket the app signs into the room page (the rooms, and what the
viewer may see in each), so the live process needs no session store and no cookies.
"""

from __future__ import annotations

import json

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trading.core import live
from trading.core.db import Database
from trading.core.errors import InvalidInput
from trading.opening.models import CeremonyEvent, can_see
from trading.opening.streams import MAX_ROOMS, Scope, Scopes, event_body, format_cursor, parse_position

TICKET_SALT = "ggzy-live-ticket"
TICKET_MAX_AGE = 24 * 3600


def make_ticket(secret: str, scopes: Scopes) -> str:
    """What the room page signs for the live server: the rooms and, per room, what the viewer may see."""
    rooms = [[c, staff, org] for c, (staff, org) in sorted(scopes.items())]
    return URLSafeTimedSerializer(secret, TICKET_SALT).dumps({"r": rooms})


def read_ticket(secret: str, ticket: str) -> Scopes:
    data = URLSafeTimedSerializer(secret, TICKET_SALT).loads(ticket, max_age=TICKET_MAX_AGE)
    scopes = {int(c): (bool(staff), None if org is None else int(org)) for c, staff, org in data["r"]}
    if not 1 <= len(scopes) <= MAX_ROOMS:
        raise ValueError("rooms")
    return scopes


class Ceremonies:
    """The ceremonies' events; an event's tag is its audience and organisation (``can_see``)."""

    def max_id(self, session: Session, room: int) -> int:
        q = select(func.max(CeremonyEvent.id)).where(CeremonyEvent.ceremony_id == room)
        return int(session.scalar(q) or 0)

    def events(self, session: Session, since: dict[int, int]) -> list[live.Event]:
        q = select(CeremonyEvent).where(
            CeremonyEvent.ceremony_id.in_(list(since)), CeremonyEvent.id > min(since.values())
        )
        return [
            live.Event(
                e.ceremony_id,
                e.id,
                e.kind,
                json.dumps(event_body(e), ensure_ascii=False),
                (e.audience.value, e.org_id),
            )
            for e in session.scalars(q.order_by(CeremonyEvent.id))
            if e.id > since[e.ceremony_id]
        ]

    def visible(self, event: live.Event, scope: Scope) -> bool:
        audience, org = event.tag
        return can_see(audience, org, *scope)


def mount(secret: str) -> live.Mount:
    """``/live/ceremonies/<id>`` (one room; SSE ids are event ids) and ``/live/rooms`` (the rooms a
    ticket names, 合并开标; SSE ids are cursors), each opened with the room page's ticket."""

    def add(server: live.Live) -> None:
        hub = server.hub(Ceremonies())

        def ticket_of(request: web.Request) -> Scopes | None:
            try:
                return read_ticket(secret, request.query.get("ticket", ""))
            except (BadSignature, KeyError, TypeError, ValueError):
                return None

        async def follow(request: web.Request, scopes: Scopes, cursor: bool) -> web.StreamResponse:
            try:
                after = request.headers.get("Last-Event-ID") or request.query.get("after")
                pos = parse_position(after, list(scopes))
            except InvalidInput as exc:
                return live.refuse(400, "bad_request", exc.message)
            return await live.stream(request, hub, dict(scopes), pos, format_cursor if cursor else None)

        async def room(request: web.Request) -> web.StreamResponse:
            scopes = ticket_of(request)
            if scopes is None:
                return live.refuse(403, "bad_ticket", "开标室凭证无效或已过期，请刷新页面")
            if list(scopes) != [int(request.match_info["ceremony"])]:
                return live.refuse(403, "bad_ticket", "凭证与开标室不符")
            return await follow(request, scopes, cursor=False)

        async def rooms(request: web.Request) -> web.StreamResponse:
            scopes = ticket_of(request)
            if scopes is None:
                return live.refuse(403, "bad_ticket", "开标室凭证无效或已过期，请刷新页面")
            return await follow(request, scopes, cursor=True)

        server.get("/live/ceremonies/{ceremony:\\d{1,19}}", room)
        server.get("/live/rooms", rooms)

    return add


def make_app(database: Database, secret: str, interval: float = 0.2, *more: live.Mount) -> web.Application:
    """The live server with the opening's rooms (and any ``more`` mounts)."""
    mounts: list[live.Mount] = [mount(secret), *more]
    return live.make_app(database, mounts, interval)
