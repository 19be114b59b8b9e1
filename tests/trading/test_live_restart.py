"""The live server is stateless: two ``ggzy live`` processes on one PostgreSQL database. A watcher
whose process is killed (SIGKILL, mid-stream) while events keep being written reconnects with
``Last-Event-ID``, to the other process and then to the first one restarted, and gets every event
exactly once, in order (issue 24: reconnects during a live process's restart lose no event)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import committing_pg_app, free_port, run_in_own_loop, wait_for_port
from tests.trading.auctions.test_bidding import make_lot
from tests.trading.auctions.test_live_feed import frames
from trading.auctions.lifecycle import feed
from trading.auctions.models import Auction, AuctionEvent

pytestmark = pytest.mark.integration


def start_live(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading.cli", "live", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, 60)
    return proc


def test_a_watcher_loses_nothing_when_its_live_process_is_killed_and_restarted(settings_for: Any) -> None:
    import aiohttp

    with committing_pg_app(settings_for, "ggzy_live_restart") as app:
        database, settings = app.extensions["ggzy.db"], app.extensions["ggzy.settings"]
        with database.session() as s:
            a, _ = make_lot(s, app)
            aid = a.id
        env = {**os.environ, "GGZY_ENV": "test", "GGZY_INSTANCE": str(settings.instance)}
        env["DATABASE_URL"] = settings.database_url
        ports = [free_port(), free_port()]
        procs = [start_live(env, p) for p in ports]
        written = iter(range(1, 10_000))

        def write(n: int) -> None:
            with database.session() as s:
                lot = s.scalars(select(Auction).where(Auction.id == aid)).one()
                for _ in range(n):
                    feed(s, lot, "note", {"n": next(written)})
                    s.commit()

        async def scenario() -> list[int]:
            seen: list[int] = []
            timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                watch = await http.get(f"http://127.0.0.1:{ports[0]}/live/auctions/{aid}")
                await asyncio.to_thread(write, 5)
                got = await frames(watch, 5)
                seen += [b["n"] for _, _, b in got]
                last = got[-1][0]
                procs[0].send_signal(signal.SIGKILL)  # mid-stream; events go on being written
                procs[0].wait(10)
                await asyncio.to_thread(write, 5)
                with pytest.raises((aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)):
                    await frames(watch, 1, timeout=3)  # the dead process sends nothing more
                watch.close()
                other = await http.get(
                    f"http://127.0.0.1:{ports[1]}/live/auctions/{aid}", headers={"Last-Event-ID": last}
                )
                got = await frames(other, 5)
                seen += [b["n"] for _, _, b in got]
                last = got[-1][0]
                other.close()
                await asyncio.to_thread(write, 3)
                procs[0] = await asyncio.to_thread(start_live, env, ports[0])  # restarted on its port
                back = await http.get(
                    f"http://127.0.0.1:{ports[0]}/live/auctions/{aid}", headers={"Last-Event-ID": last}
                )
                await asyncio.to_thread(write, 2)
                seen += [b["n"] for _, _, b in await frames(back, 5)]
                back.close()
            return seen

        try:
            seen: list[int] = []

            async def run() -> None:
                seen.extend(await scenario())

            run_in_own_loop(run)
        finally:
            for p in procs:
                p.kill()
                p.wait(10)
        assert seen == list(range(1, 16))  # every event, once, in the order written
        with database.session() as s:
            ids = list(
                s.scalars(select(AuctionEvent.id).where(AuctionEvent.auction_id == aid, AuctionEvent.kind == "note"))
            )
        assert len(ids) == 15
