"""The live room's fan-out server (``ggzy live``): Server-Sent Events for thousands of watchers.

A Flask response that streams holds one server thread for as long as a browser watches, so the
app's own stream (``/ceremonies/<id>/live``) serves a handful of viewers at most. This process
holds every connection in one asyncio loop instead: one database poll per interval for all its
rooms, each new event handed to every watcher allowed to see it. Any number of these processes
can run; the events table is the only shared state (``Last-Event-ID`` resumes anywhere).

Browsers authenticate with a ticket the app signs into the room page (the rooms, and what the
viewer may see in each), so this process needs no session store and no cookies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from trading.core.db import Database
from trading.core.errors import InvalidInput
from trading.core.headers import DATA_CSP, SECURITY_HEADERS
from trading.opening.models import CeremonyEvent, can_see
from trading.opening.streams import MAX_ROOMS, Scopes, event_body, format_cursor, parse_position

log = logging.getLogger("ggzy.live")
TICKET_SALT = "ggzy-live-ticket"
TICKET_MAX_AGE = 24 * 3600
HEARTBEAT = 15.0
#: An event as queued for a watcher: room, event id, kind, JSON body.
Item = tuple[int, int, str, str]


def make_ticket(secret: str, scopes: Scopes) -> str:
    """What the room page signs for this process: the rooms and, per room, what the viewer may see."""
    rooms = [[c, staff, org] for c, (staff, org) in sorted(scopes.items())]
    return URLSafeTimedSerializer(secret, TICKET_SALT).dumps({"r": rooms})


def read_ticket(secret: str, ticket: str) -> Scopes:
    data = URLSafeTimedSerializer(secret, TICKET_SALT).loads(ticket, max_age=TICKET_MAX_AGE)
    scopes = {int(c): (bool(staff), None if org is None else int(org)) for c, staff, org in data["r"]}
    if not 1 <= len(scopes) <= MAX_ROOMS:
        raise ValueError("rooms")
    return scopes


@dataclass(eq=False)
class Watcher:
    scopes: Scopes
    #: per room, the last event id put in the queue (events are queued once, in id order per room)
    queued: dict[int, int]
    queue: asyncio.Queue[Item] = field(default_factory=asyncio.Queue)

    def offer(self, room: int, eid: int, audience: str, org: int | None, kind: str, data: str) -> None:
        if eid > self.queued[room] and can_see(audience, org, *self.scopes[room]):
            self.queued[room] = eid
            self.queue.put_nowait((room, eid, kind, data))


class Hub:
    """Every room watched through this process, and the last event id it has fanned out."""

    def __init__(self, database: Database, interval: float = 0.2) -> None:
        self.database, self.interval = database, interval
        self.rooms: dict[int, set[Watcher]] = {}
        self.seen: dict[int, int] = {}

    def _max_id(self, ceremony: int) -> int:
        with self.database.session() as s:
            return int(s.scalar(select(func.max(CeremonyEvent.id)).where(CeremonyEvent.ceremony_id == ceremony)) or 0)

    def _events(self, since: dict[int, int]) -> list[tuple[int, int, str, int | None, str, str]]:
        with self.database.session() as s:
            q = select(CeremonyEvent).where(
                CeremonyEvent.ceremony_id.in_(list(since)), CeremonyEvent.id > min(since.values())
            )
            return [
                (e.ceremony_id, e.id, e.audience.value, e.org_id, e.kind, json.dumps(event_body(e), ensure_ascii=False))
                for e in s.scalars(q.order_by(CeremonyEvent.id))
                if e.id > since[e.ceremony_id]
            ]

    async def join(self, w: Watcher) -> None:
        for room in w.scopes:
            if room not in self.seen:
                self.seen[room] = await asyncio.to_thread(self._max_id, room)
        # The backlog it missed, straight from the table, until it has caught up with what this
        # process has fanned out; only then (with no await in between) does the poll take over.
        while behind := {c: w.queued[c] for c in w.scopes if w.queued[c] < self.seen[c]}:
            upto = {c: self.seen[c] for c in behind}
            for row in await asyncio.to_thread(self._events, behind):
                if row[1] <= upto[row[0]]:
                    w.offer(*row)
            for c, n in upto.items():
                w.queued[c] = max(w.queued[c], n)
        for room in w.scopes:
            self.rooms.setdefault(room, set()).add(w)

    def leave(self, w: Watcher) -> None:
        for ceremony in w.scopes:
            room = self.rooms.get(ceremony)
            if room is not None:
                room.discard(w)
                if not room:
                    del self.rooms[ceremony]

    async def run(self) -> None:
        while True:
            try:
                if self.rooms:
                    since = {c: self.seen[c] for c in self.rooms}
                    for row in await asyncio.to_thread(self._events, since):
                        c, eid = row[0], row[1]
                        self.seen[c] = max(self.seen[c], eid)
                        for w in self.rooms.get(c, ()):
                            w.offer(*row)
            except Exception:  # the database may be briefly away; keep every connection open
                log.exception("live poll failed")
            await asyncio.sleep(self.interval)


def make_app(database: Database, secret: str, interval: float = 0.2) -> web.Application:
    hub = Hub(database, interval)
    app = web.Application()

    # Any origin may read the streams: the room page's origin is not known here (LIVE_URL ":PORT"
    # is "this host", whatever name the browser used), and nothing is sent on ambient authority:
    # the stream opens only with the signed ticket in its URL, no cookie, so another site's page
    # can read only what the ticket it already holds shows.
    def refuse(status: int, code: str, message: str) -> web.Response:
        body = {"error": {"code": code, "message": message}}
        return web.json_response(body, status=status, headers={"Access-Control-Allow-Origin": "*"})

    async def stream(request: web.Request, scopes: Scopes, cursor: bool) -> web.StreamResponse:
        try:
            pos = parse_position(request.headers.get("Last-Event-ID") or request.query.get("after"), list(scopes))
        except InvalidInput as exc:
            return refuse(400, "bad_request", exc.message)
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "Access-Control-Allow-Origin": "*",
            }
        )
        await resp.prepare(request)
        await resp.write(b"retry: 2000\n\n")
        w = Watcher(scopes, dict(pos))
        await hub.join(w)
        try:
            while True:
                try:
                    room, eid, kind, data = await asyncio.wait_for(w.queue.get(), HEARTBEAT)
                except TimeoutError:
                    now = dt.datetime.now(dt.UTC).isoformat()
                    await resp.write(f"event: time\ndata: {json.dumps({'server_time': now})}\n\n".encode())
                    continue
                pos[room] = eid
                sse_id = format_cursor(pos) if cursor else str(eid)
                await resp.write(f"id: {sse_id}\nevent: {kind}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.leave(w)
        return resp

    def ticket_of(request: web.Request) -> Scopes | None:
        try:
            return read_ticket(secret, request.query.get("ticket", ""))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    async def room(request: web.Request) -> web.StreamResponse:
        """One room (a lot's ceremony); SSE ids are event ids."""
        scopes = ticket_of(request)
        if scopes is None:
            return refuse(403, "bad_ticket", "开标室凭证无效或已过期，请刷新页面")
        if list(scopes) != [int(request.match_info["ceremony"])]:
            return refuse(403, "bad_ticket", "凭证与开标室不符")
        return await stream(request, scopes, cursor=False)

    async def rooms(request: web.Request) -> web.StreamResponse:
        """The rooms a ticket names (合并开标: every lot of a tender); SSE ids are cursors."""
        scopes = ticket_of(request)
        if scopes is None:
            return refuse(403, "bad_ticket", "开标室凭证无效或已过期，请刷新页面")
        return await stream(request, scopes, cursor=True)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"rooms": len(hub.rooms), "watchers": sum(len(r) for r in hub.rooms.values())})

    async def start(app: web.Application) -> Any:
        task = asyncio.create_task(hub.run())
        yield
        task.cancel()

    async def security_headers(_request: web.Request, resp: web.StreamResponse) -> None:
        for name, value in (SECURITY_HEADERS | {"Content-Security-Policy": DATA_CSP}).items():
            resp.headers.setdefault(name, value)

    app.on_response_prepare.append(security_headers)
    app.router.add_get("/live/ceremonies/{ceremony:\\d{1,19}}", room)
    app.router.add_get("/live/rooms", rooms)
    app.router.add_get("/live/health", health)
    app.cleanup_ctx.append(start)
    return app
