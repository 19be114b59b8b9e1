"""A watcher far behind on the live server: a lot with more events than a stream may queue
(``MAX_BACKLOG``) is sent to a watcher from 0 page by page (``BACKLOG_PAGE`` events read at a time,
each written before the next is read), every event once and in order, and then the new ones."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import insert, select

from archive import clock
from tests.conftest import run_in_own_loop
from tests.trading.auctions.test_bidding import make_lot
from tests.trading.auctions.test_live_feed import frames
from trading.auctions.feed import Lots
from trading.auctions.models import AuctionEvent
from trading.cli.serve import live_app
from trading.core import live

pytestmark = pytest.mark.integration
#: more than a stream may queue, and not a whole number of pages
EVENTS = live.MAX_BACKLOG + 2 * live.BACKLOG_PAGE + 7


def test_a_watcher_from_zero_gets_a_long_history_page_by_page(settings_for: Any) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from tests.conftest import committing_pg_app

    with committing_pg_app(settings_for, "ggzy_auction_backlog") as app:
        database = app.extensions["ggzy.db"]
        with database.session() as s:
            a, _ = make_lot(s, app)
            aid = a.id
            now = clock.now()
            rows = [
                {"auction_id": aid, "kind": "timed", "payload": {"requests": i}, "created_at": now}
                for i in range(EVENTS)
            ]
            s.execute(insert(AuctionEvent), rows)
            s.commit()
            ids = list(
                s.scalars(select(AuctionEvent.id).where(AuctionEvent.auction_id == aid).order_by(AuctionEvent.id))
            )
        assert len(ids) >= EVENTS
        secret = app.extensions["ggzy.settings"].secret_key

        async def pages() -> None:
            """The hub reads the backlog a page at a time and lets the stream write each first."""
            hub = live.Hub(database, Lots())
            w = hub.watcher({aid: None}, {aid: 0})
            got: list[int] = []
            held: list[int] = []
            async for _ in hub.join(w):
                assert aid not in hub.rooms  # not fanned out to before it has caught up
                batch: list[int] = []
                while not w.queue.empty():
                    batch += [ev.id for ev in w.queue.get_nowait().events]
                held.append(len(batch))
                got += batch
            assert got == ids and max(held) == live.BACKLOG_PAGE and len(held) >= EVENTS // live.BACKLOG_PAGE
            assert w in hub.rooms[aid]  # caught up: the poll takes over

        async def stream() -> None:
            async with TestClient(TestServer(live_app(database, secret, interval=0.05))) as http:
                watcher = await http.get(f"/live/auctions/{aid}", headers={"Last-Event-ID": "0"})
                assert watcher.status == 200
                got = await frames(watcher, len(ids), timeout=30)
                assert [int(i) for i, _, _ in got] == ids  # every one, once, in order
                assert [b["requests"] for _, k, b in got if k == "timed"] == list(range(EVENTS))

                def more() -> None:
                    with database.session() as s:
                        s.add(AuctionEvent(auction_id=aid, kind="timed", payload={"requests": -1}, created_at=now))
                        s.commit()

                await asyncio.to_thread(more)  # then pushed as it happens
                (_, kind, body), *_ = await frames(watcher, 1)
                assert kind == "timed" and body["requests"] == -1
                assert json.loads(await (await http.get("/live/health")).text())["watchers"] == 1

        run_in_own_loop(pages)
        run_in_own_loop(stream)
