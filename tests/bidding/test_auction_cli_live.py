"""``ggzy-bid auction``'s feed from the real live server (``ggzy live``), on a PostgreSQL database
of its own whose requests really commit (the live process reads committed rows, as in production):
a follower catches up from the API, then every bid placed while it watches arrives over the stream
once and in order, without polling, until the lot is sold."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from flask import Flask

from archive import clock
from bidding import auction as lots
from bidding.client import Client
from signing.statements import auction_bid_statement
from tests.bidding.test_auction_cli import published_lot
from tests.factories import api_token, make_bidder_with_keys, make_user
from trading.accounts.models import Role
from trading.cli.serve import live_app

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """``ggzy live`` for this app's database, on loopback in a thread of its own."""
    loop = asyncio.new_event_loop()
    live = live_app(app.extensions["ggzy.db"], app.extensions["ggzy.settings"].secret_key, 0.05)
    runner = web.AppRunner(live, shutdown_timeout=0.5)  # a watcher's stream still open is cut off
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        pending = asyncio.all_tasks(loop)  # what the cut-off streams left: finished before the loop closes
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@contextlib.contextmanager
def served(app: Flask) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def until(what: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_bids_arrive_over_the_live_stream_in_order(pg_app: Flask) -> None:
    client, database = pg_app.test_client(), pg_app.extensions["ggzy.db"]
    with database.session() as s:
        staff_user = make_user(s, Role.STAFF)
        buyers = [make_bidder_with_keys(s, pg_app) for _ in range(2)]
        s.commit()
        staff = api_token(client, staff_user.username)
        heads = [api_token(client, b.user.username) for b in buyers]
    start = clock.now().replace(microsecond=0)
    with clock.frozen(start) as moved, served(pg_app) as url, live_server(pg_app) as live:
        lot = published_lot(client, staff, start)
        code = lot["code"]
        for h in heads:
            r = client.post(f"/api/v1/auctions/{code}/registrations", json={}, headers=h)
            assert r.status_code == 201, r.get_json()
        for reg in client.get(f"/api/v1/auctions/{code}/registrations", headers=staff).get_json()["items"]:
            base = f"/api/v1/auction-registrations/{reg['id']}"
            assert client.post(f"{base}/review", json={"approve": True}, headers=staff).status_code == 200
            assert client.post(f"{base}/deposit/confirm", json={"reference": "B-1"}, headers=staff).status_code == 200
        numbers = [
            client.get(f"/api/v1/auctions/{code}/registration", headers=h).get_json()["bidding_number"] for h in heads
        ]
        moved.set(lot["free_ends"] + dt.timedelta(seconds=1))  # straight into the countdown
        assert client.get(f"/api/v1/auctions/{code}").get_json()["state"] == "countdown"

        got: list[lots.FeedEvent] = []
        follower = lots.Follower(Client(url), code, got.append, live=live, interval=0.05)
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        health = Client(live)
        until(lambda: health.request("GET", "/live/health")["watchers"] == 1)  # caught up, now streaming

        amounts = ["1000000.00", "1010000.00", "1050000.00", "1060000.00"]
        for i, amount in enumerate(amounts):
            b = i % 2
            moved.advance(seconds=30)
            st = auction_bid_statement(code, numbers[b], amount, i)
            body = {
                "amount": amount,
                "seen_seq": i,
                "signature": base64.b64encode(buyers[b].sign_key.sign(st)).decode(),
            }
            r = client.post(f"/api/v1/auctions/{code}/bids", json=body, headers=heads[b])
            assert r.status_code == 201, r.get_json()
        until(lambda: sum(e.kind == "bid" for e in got) == len(amounts))
        moved.advance(seconds=301)
        assert client.get(f"/api/v1/auctions/{code}").get_json()["state"] == "sold"  # the end, written now
        thread.join(10)
    assert follower.ended and not follower.polling  # every event came over the stream
    bids = [e.data for e in got if e.kind == "bid"]
    assert [(d["seq"], d["bidding_number"], d["amount"]) for d in bids] == [
        (i + 1, numbers[i % 2], a) for i, a in enumerate(amounts)
    ]
    ids = [e.id for e in got if e.id is not None]
    assert ids == sorted(set(ids))  # once each, in order
    assert got[-1].kind == "state" and got[-1].data["to"] == "sold" and got[-1].data["final_price"] == "1060000.00"
