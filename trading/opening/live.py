"""The live room's fan-out server (``ggzy live``): Server-Sent Events for thousands of watchers.

A Flask response that streams holds one server thread for as long as a browser watches, so the
app's own stream (``/ceremonies/<id>/live``) serves a handful of viewers at most. This process
holds every connection in one asyncio loop instead: one database poll per interval for all its
rooms, each new event handed to every watcher allowed to see it. Any number of these processes
can run; the events table is the only shared state (``Last-Event-ID`` resumes anywhere).

Browsers authenticate with a ticket the app signs into the room page (ceremony, and what the
viewer may see), so this process needs no session store and no cookies.
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

from trading.db import Database
from trading.opening.models import CeremonyEvent, can_see

log = logging.getLogger("ggzy.live")
TICKET_SALT = "ggzy-live-ticket"
TICKET_MAX_AGE = 24 * 3600
HEARTBEAT = 15.0
Scope = tuple[bool, int | None]


def make_ticket(secret: str, ceremony: int, scope: Scope) -> str:
    return URLSafeTimedSerializer(secret, TICKET_SALT).dumps({"c": ceremony, "s": scope[0], "o": scope[1]})


def read_ticket(secret: str, ticket: str) -> tuple[int, Scope]:
    data = URLSafeTimedSerializer(secret, TICKET_SALT).loads(ticket, max_age=TICKET_MAX_AGE)
    return int(data["c"]), (bool(data["s"]), data["o"])


def frame(ev: CeremonyEvent) -> bytes:
    body = {"id": ev.id, "kind": ev.kind, "at": ev.created_at.isoformat(), **ev.payload}
    return f"id: {ev.id}\nevent: {ev.kind}\ndata: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


@dataclass(eq=False)
class Watcher:
    scope: Scope
    last: int
    queue: asyncio.Queue[tuple[int, bytes]] = field(default_factory=asyncio.Queue)


class Hub:
    """Every room watched through this process, and the last event id it has fanned out."""

    def __init__(self, database: Database, interval: float = 0.2) -> None:
        self.database, self.interval = database, interval
        self.rooms: dict[int, set[Watcher]] = {}
        self.seen: dict[int, int] = {}

    def _max_id(self, ceremony: int) -> int:
        with self.database.session() as s:
            return int(s.scalar(select(func.max(CeremonyEvent.id)).where(CeremonyEvent.ceremony_id == ceremony)) or 0)

    def _events(self, since: dict[int, int]) -> list[tuple[int, int, str, int | None, bytes]]:
        with self.database.session() as s:
            q = select(CeremonyEvent).where(
                CeremonyEvent.ceremony_id.in_(list(since)), CeremonyEvent.id > min(since.values())
            )
            return [
                (e.ceremony_id, e.id, e.audience.value, e.org_id, frame(e))
                for e in s.scalars(q.order_by(CeremonyEvent.id))
                if e.id > since[e.ceremony_id]
            ]

    async def join(self, ceremony: int, w: Watcher) -> None:
        if ceremony not in self.rooms:
            self.seen[ceremony] = await asyncio.to_thread(self._max_id, ceremony)
            self.rooms.setdefault(ceremony, set())
        self.rooms[ceremony].add(w)
        if w.last < self.seen[ceremony]:  # the backlog it missed, straight from the table
            for c, eid, audience, org, data in await asyncio.to_thread(self._events, {ceremony: w.last}):
                if c == ceremony and can_see(audience, org, *w.scope):
                    w.queue.put_nowait((eid, data))

    def leave(self, ceremony: int, w: Watcher) -> None:
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
                    for c, eid, audience, org, data in await asyncio.to_thread(self._events, since):
                        self.seen[c] = max(self.seen[c], eid)
                        for w in self.rooms.get(c, ()):
                            if can_see(audience, org, *w.scope):
                                w.queue.put_nowait((eid, data))
            except Exception:  # the database may be briefly away; keep every connection open
                log.exception("live poll failed")
            await asyncio.sleep(self.interval)


def make_app(database: Database, secret: str, interval: float = 0.2) -> web.Application:
    hub = Hub(database, interval)
    app = web.Application()

    async def room(request: web.Request) -> web.StreamResponse:
        try:
            ceremony, scope = read_ticket(secret, request.query.get("ticket", ""))
        except (BadSignature, KeyError, TypeError, ValueError):
            return web.json_response(
                {"error": {"code": "bad_ticket", "message": "开标室凭证无效或已过期，请刷新页面"}},
                status=403,
                headers={"Access-Control-Allow-Origin": "*"},
            )
        if ceremony != int(request.match_info["ceremony"]):
            return web.json_response({"error": {"code": "bad_ticket", "message": "凭证与开标室不符"}}, status=403)
        try:
            after = int(request.headers.get("Last-Event-ID") or request.query.get("after") or 0)
        except ValueError:
            return web.json_response(
                {"error": {"code": "bad_request", "message": "Last-Event-ID 应为整数"}}, status=400
            )
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
        w = Watcher(scope, after)
        await hub.join(ceremony, w)
        try:
            while True:
                try:
                    eid, data = await asyncio.wait_for(w.queue.get(), HEARTBEAT)
                except TimeoutError:
                    now = dt.datetime.now(dt.UTC).isoformat()
                    await resp.write(f"event: time\ndata: {json.dumps({'server_time': now})}\n\n".encode())
                    continue
                if eid > w.last:
                    w.last = eid
                    await resp.write(data)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.leave(ceremony, w)
        return resp

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"rooms": len(hub.rooms), "watchers": sum(len(r) for r in hub.rooms.values())})

    async def start(app: web.Application) -> Any:
        task = asyncio.create_task(hub.run())
        yield
        task.cancel()

    app.router.add_get("/live/ceremonies/{ceremony:\\d+}", room)
    app.router.add_get("/live/health", health)
    app.cleanup_ctx.append(start)
    return app
