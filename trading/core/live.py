"""The live fan-out server (``ggzy live``): Server-Sent Events for thousands of watchers of any room.

A Flask response that streams holds one server thread for as long as a browser watches, so the
app's own stream serves a handful of viewers at most. This process holds every connection in one
asyncio loop instead: per channel (the opening's ceremonies, the auctions' lots, …) one database
poll per interval for all its rooms, each new event handed to every watcher allowed to see it. Any
number of these processes can run; the events tables are the only shared state (``Last-Event-ID``
resumes anywhere).

A stage says what its rooms are with a ``Channel`` (how to read a room's last event id and the
events after a position, and who may see which event) and mounts its routes on a ``Live`` server
(``make_app(database, [mount, …])``); the composition root (``ggzy live``) chooses the mounts, so
this module names no stage.

A watcher far behind (``Last-Event-ID: 0`` on a room with a long history) is sent its backlog a page
at a time when its channel can read pages (``Pages``): each page is written before the next is read,
so catching up on any history holds at most ``BACKLOG_PAGE`` events in memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar, runtime_checkable

from aiohttp import web
from sqlalchemy.orm import Session

from archive import clock
from trading.core.db import Database
from trading.core.headers import DATA_CSP, SECURITY_HEADERS

log = logging.getLogger("ggzy.live")
T = TypeVar("T")
#: seconds without an event after which a stream sends the server's time (it also keeps proxies open)
HEARTBEAT = 15.0
#: polls' worth of events queued for one watcher that has stopped reading: past this its stream is
#: closed, and the browser resumes with ``Last-Event-ID`` from the table instead of this process
#: holding it all
MAX_BACKLOG = 3_000
#: the most events of a watcher's backlog read (and held) at a time: a page is written to the watcher
#: before the next is read
BACKLOG_PAGE = 500
#: one room's position to each room's: where a stream of several rooms stands (its SSE id)
Cursor = Callable[[dict[int, int]], str]


@dataclass(frozen=True)
class Event:
    """One event of a room as the channel read it: ``data`` is its JSON body, ``tag`` what the
    channel's ``visible`` reads (an audience, an organisation), never sent."""

    room: int
    id: int
    kind: str
    data: str
    tag: Any = None

    @cached_property
    def frame(self) -> bytes:
        """The SSE frame of a one-room stream (its id is the event's), made once for every watcher."""
        return f"id: {self.id}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()


class Channel(Protocol):
    """The rooms of one kind: how the hub reads them and who may see each event."""

    def max_id(self, session: Session, room: int) -> int:
        """The room's last event id (0 for none)."""

    def events(self, session: Session, since: dict[int, int]) -> list[Event]:
        """The events of these rooms after each room's position, in id order."""

    def visible(self, event: Event, scope: Any) -> bool:
        """Whether a watcher of ``scope`` (what its ticket says of the room) may see ``event``."""


@runtime_checkable
class Pages(Protocol):
    """A channel that also reads its events a page at a time (a backlog of any length in bounded
    memory); a channel without it has each watcher's backlog read whole."""

    def page(self, session: Session, since: dict[int, int], limit: int) -> list[Event]:
        """The first ``limit`` events of these rooms after each room's position, in id order (all
        of them, and only them, up to the last one returned)."""


class Batch:
    """One room's events found together (one poll, or a backlog), in id order: queued for a watcher
    as one item and, when it sees them all, written as one frame made once for every watcher."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    @cached_property
    def frames(self) -> bytes:
        return b"".join(ev.frame for ev in self.events)


@dataclass(eq=False)
class Watcher:
    #: per room, what the watcher may see there (the channel's scope)
    scopes: dict[int, Any]
    #: per room, the last event id put in the queue (events are queued once, in id order per room)
    queued: dict[int, int]
    visible: Callable[[Event, Any], bool]
    queue: asyncio.Queue[Batch] = field(default_factory=asyncio.Queue)

    def offer(self, batch: Batch) -> None:
        """Queue what this watcher has not had yet and may see of one room's ``batch``."""
        room = batch.events[0].room
        last, scope = self.queued[room], self.scopes[room]
        kept = [ev for ev in batch.events if ev.id > last and self.visible(ev, scope)]
        if kept:
            self.queued[room] = kept[-1].id
            self.queue.put_nowait(batch if len(kept) == len(batch.events) else Batch(kept))


def by_room(events: list[Event]) -> dict[int, list[Event]]:
    out: dict[int, list[Event]] = {}
    for ev in events:
        out.setdefault(ev.room, []).append(ev)
    return out


class Hub:
    """Every room of one channel watched through this process, and the last event id fanned out."""

    def __init__(self, database: Database, channel: Channel, interval: float = 0.2) -> None:
        self.database, self.channel, self.interval = database, channel, interval
        self.rooms: dict[int, set[Watcher]] = {}
        self.seen: dict[int, int] = {}

    def _max_id(self, room: int) -> int:
        with self.database.session() as s:
            return self.channel.max_id(s, room)

    def _events(self, since: dict[int, int]) -> list[Event]:
        with self.database.session() as s:
            return self.channel.events(s, since)

    def _page(self, since: dict[int, int]) -> tuple[list[Event], bool]:
        """The next page of a backlog, and whether it ends it (every event after ``since`` read)."""
        with self.database.session() as s:
            if isinstance(self.channel, Pages):
                events = self.channel.page(s, since, BACKLOG_PAGE)
                return events, len(events) < BACKLOG_PAGE
            return self.channel.events(s, since), True

    def watcher(self, scopes: dict[int, Any], positions: dict[int, int]) -> Watcher:
        return Watcher(scopes, dict(positions), self.channel.visible)

    async def join(self, w: Watcher) -> AsyncGenerator[None, None]:
        """Queue for ``w`` the backlog it missed, straight from the table, a page at a time: after
        each page this yields, for the stream to write the page before the next is read. Once it
        has caught up with what this process has fanned out (and with no await in between) ``w``
        joins its rooms and the poll takes over."""
        for room in w.scopes:
            if room not in self.seen:
                self.seen[room] = await asyncio.to_thread(self._max_id, room)
        while behind := {r: w.queued[r] for r in w.scopes if w.queued[r] < self.seen[r]}:
            upto = {r: self.seen[r] for r in behind}
            events, complete = await asyncio.to_thread(self._page, behind)
            for room, found in by_room(events).items():
                if kept := [ev for ev in found if ev.id <= upto[room]]:
                    w.offer(Batch(kept))
            # a page ends at its last event: every room's events up to there have been read
            reached = None if complete else events[-1].id
            for r, n in upto.items():
                w.queued[r] = max(w.queued[r], n if reached is None else min(n, reached))
            yield
        for room in w.scopes:
            self.rooms.setdefault(room, set()).add(w)

    def leave(self, w: Watcher) -> None:
        for r in w.scopes:
            room = self.rooms.get(r)
            if room is not None:
                room.discard(w)
                if not room:
                    del self.rooms[r]

    async def poll(self) -> None:
        """One poll: the watched rooms' new events, to every watcher of each."""
        if not self.rooms:
            return
        since = {r: self.seen[r] for r in self.rooms}
        for room, events in by_room(await asyncio.to_thread(self._events, since)).items():
            self.seen[room] = max(self.seen[room], events[-1].id)
            batch = Batch(events)
            for w in self.rooms.get(room, ()):
                w.offer(batch)

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # the database may be briefly away; keep every connection open
                log.exception("live poll failed")
            await asyncio.sleep(self.interval)

    @property
    def watchers(self) -> int:
        return sum(len(r) for r in self.rooms.values())


def refuse(status: int, code: str, message: str) -> web.Response:
    """A refusal in the API's shape. Any origin may read the streams: the room page's origin is not
    known here (LIVE_URL ":PORT" is "this host", whatever name the browser used), and nothing is
    sent on ambient authority (no cookie): a stream shows only what its URL (a signed ticket, or a
    public room) already shows."""
    body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers={"Access-Control-Allow-Origin": "*"})


def time_frame() -> bytes:
    return f"event: time\ndata: {json.dumps({'server_time': clock.now().isoformat()})}\n\n".encode()


async def stream(
    request: web.Request,
    hub: Hub,
    scopes: dict[int, Any],
    positions: dict[int, int],
    cursor: Cursor | None = None,
) -> web.StreamResponse:
    """One SSE response: the events of these rooms after ``positions`` that ``scopes`` may see, the
    backlog first (page by page), then as the hub finds them; the server's time on connecting and every
    ``HEARTBEAT`` seconds without an event. SSE ids are event ids, or ``cursor(positions)`` for a
    stream of several rooms (whose event ids do not order them). Events found together are written
    together: a room with hundreds of bids a second costs a watcher one write per poll."""
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "Access-Control-Allow-Origin": "*",
        }
    )
    await resp.prepare(request)
    await resp.write(b"retry: 2000\n\n" + time_frame())
    pos = dict(positions)
    w = hub.watcher(scopes, pos)

    def frames(batches: list[Batch]) -> bytes:
        """The queued batches as SSE frames (with cursors, for a stream of several rooms)."""
        while not w.queue.empty():
            batches.append(w.queue.get_nowait())
        if cursor is None:
            return b"".join(b.frames for b in batches)
        parts = []
        for ev in (ev for b in batches for ev in b.events):
            pos[ev.room] = ev.id
            parts.append(f"id: {cursor(pos)}\nevent: {ev.kind}\ndata: {ev.data}\n\n".encode())
        return b"".join(parts)

    try:
        async with aclosing(hub.join(w)) as backlog:
            async for _ in backlog:
                if out := frames([]):
                    await resp.write(out)
        while True:
            try:
                first = await asyncio.wait_for(w.queue.get(), HEARTBEAT)
            except TimeoutError:
                await resp.write(time_frame())
                continue
            if w.queue.qsize() > MAX_BACKLOG:
                break  # not reading: the browser comes back with Last-Event-ID
            await resp.write(frames([first]))
    except ConnectionResetError:
        pass  # the watcher went away
    finally:  # and on cancellation (the server stopping), which goes on up to aiohttp
        hub.leave(w)
    return resp


class Live:
    """The server being put together: its hubs (one per channel) and its aiohttp application."""

    def __init__(self, database: Database, interval: float) -> None:
        self.database, self.interval = database, interval
        self.app = web.Application()
        self.hubs: list[Hub] = []

    def hub(self, channel: Channel) -> Hub:
        """A hub for ``channel``, polled while the server runs."""
        h = Hub(self.database, channel, self.interval)
        self.hubs.append(h)
        return h

    def get(self, path: str, handler: Callable[[web.Request], Any]) -> None:
        self.app.router.add_get(path, handler)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a thread (a database read), not in the loop every stream shares."""
        return await asyncio.to_thread(fn, *args)


#: what a stage adds to the server: its channel's hub and its routes
Mount = Callable[[Live], None]


def make_app(database: Database, mounts: Iterable[Mount], interval: float = 0.2) -> web.Application:
    """The live server with the rooms of every mount, ``/live/health`` and the security headers."""
    live = Live(database, interval)
    for mount in mounts:
        mount(live)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response(
            {"rooms": sum(len(h.rooms) for h in live.hubs), "watchers": sum(h.watchers for h in live.hubs)}
        )

    async def start(_app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(h.run()) for h in live.hubs]
        yield
        for task in tasks:
            task.cancel()

    async def security_headers(_request: web.Request, resp: web.StreamResponse) -> None:
        for name, value in (SECURITY_HEADERS | {"Content-Security-Policy": DATA_CSP}).items():
            resp.headers.setdefault(name, value)

    live.app.on_response_prepare.append(security_headers)
    live.get("/live/health", health)
    live.app.cleanup_ctx.append(start)
    return live.app
