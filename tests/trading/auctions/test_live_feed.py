"""The lots' public feed on the live server (``ggzy live``): no ticket, numbers never names, a new bid
pushed to a watcher, and a watcher whose connection dropped gets every bid it missed on its return
(``Last-Event-ID``), nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select, update

from archive import clock
from tests.conftest import run_in_own_loop
from tests.trading.auctions.test_bidding import T0, bid, make_lot
from trading.accounts.models import Organisation
from trading.auctions.models import Auction, AuctionState
from trading.cli.serve import live_app
from trading.core.services import services

pytestmark = pytest.mark.integration


async def frames(resp: Any, n: int, timeout: float = 10) -> list[tuple[str, str, dict[str, Any]]]:
    """The next ``n`` events as (SSE id, event name, body); the server's time is skipped."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    sse_id, kind = "", ""
    while len(out) < n:
        line = (await asyncio.wait_for(resp.content.readline(), timeout)).decode().strip()
        if line.startswith("id: "):
            sse_id = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind != "time":
            out.append((sse_id, kind, json.loads(line[6:])))
    return out


def test_a_watcher_that_comes_back_sees_every_bid_it_missed(settings_for: Any) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from tests.conftest import committing_pg_app

    with committing_pg_app(settings_for, "ggzy_auction_live") as app:
        database, svc = app.extensions["ggzy.db"], services(app)
        with database.session() as s:
            a, buyers = make_lot(s, app)
            aid = a.id
            names = list(s.scalars(select(Organisation.name)))
        amounts = iter(f"{1_000_000 + 10_000 * i}.00" for i in range(100))

        def bids(n: int) -> None:
            with database.session() as s:
                lot = s.scalars(select(Auction).where(Auction.id == aid)).one()
                for i in range(n):
                    bid(s, svc, lot, buyers[(lot.current_seq + i) % 3], next(amounts))
                    s.commit()

        secret = app.extensions["ggzy.settings"].secret_key

        async def scenario() -> None:
            async with TestClient(TestServer(live_app(database, secret, interval=0.05))) as http:
                assert (await http.get("/live/auctions/999999")).status == 404
                assert (await http.get(f"/live/auctions/{2**70}")).status == 404
                bad = await http.get(f"/live/auctions/{aid}", headers={"Last-Event-ID": "x"})
                assert bad.status == 400
                assert (await http.get("/live/ceremonies/1?ticket=forged")).status == 403  # the opening's too
                watcher = await http.get(f"/live/auctions/{aid}")  # anyone: no ticket, no cookie
                assert watcher.status == 200
                await asyncio.to_thread(bids, 2)
                got = await frames(watcher, 3)  # bidding opened at T0, then two bids
                assert [k for _, k, _ in got] == ["state", "bid", "bid"]
                assert [b["seq"] for _, k, b in got if k == "bid"] == [1, 2]
                assert got[1][2]["bidding_number"] == buyers[0].number and got[1][2]["phase_label"] == "自由竞价"
                assert all(n not in json.dumps(b, ensure_ascii=False) for _, _, b in got for n in names)
                last = got[-1][0]
                watcher.close()  # the connection drops; three bids are placed meanwhile
                await asyncio.to_thread(bids, 3)
                back = await http.get(f"/live/auctions/{aid}", headers={"Last-Event-ID": last})
                missed = await frames(back, 3)
                assert [b["seq"] for _, _, b in missed] == [3, 4, 5]  # every one, once, in order
                assert [int(i) for i, _, _ in missed] == sorted(int(i) for i, _, _ in missed)
                other = await http.get(f"/live/auctions/{aid}?after={missed[0][0]}")  # ?after= as well
                assert [b["seq"] for _, _, b in await frames(other, 2)] == [4, 5]
                await asyncio.to_thread(bids, 1)  # pushed to both as it happens
                assert [b["seq"] for _, _, b in await frames(back, 1)] == [6]
                assert [b["seq"] for _, _, b in await frames(other, 1)] == [6]
                health = await (await http.get("/live/health")).json()
                assert health["watchers"] >= 2

        with clock.frozen(T0 + dt.timedelta(seconds=5)):
            run_in_own_loop(scenario)
        with database.session() as s:  # a draft is not public
            s.execute(update(Auction).where(Auction.id == aid).values(state=AuctionState.DRAFT))
            s.commit()

        async def draft() -> None:
            async with TestClient(TestServer(live_app(database, secret))) as http:
                assert (await http.get(f"/live/auctions/{aid}")).status == 404

        run_in_own_loop(draft)
