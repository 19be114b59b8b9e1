"""The bidding room under load, on PostgreSQL.

    python bench/auction.py [--quick]

Targets (issue 23):
- 200 buyers bidding as fast as they can on one lot while 1,000 watchers follow it on the live
  server: accepted bids per second at least 0.5 x the raw audit-trail append rate measured in the
  same run;
- p99 from a bid's acceptance (its ``accepted_at``) to its arrival at all 1,000 watchers under 500 ms;
- not one accepted bid lost, duplicated or out of order at any watcher (checked against
  ``auction_bid`` afterwards).

As in production: ``ggzy serve`` (gunicorn, its access log off) with ``ggzy live`` beside it; the
buyers are HTTP clients of ``POST /api/v1/auctions/<code>/bids`` that sign every bid (SM2) and bid
a little above the last price they know of (their own acceptances and the minimum a refusal names),
so many bids are refused as too low, as in a busy room; the lot counts down (each accepted bid
restarts it). The watchers are SSE clients of ``/live/auctions/<id>`` in processes of their own.
The raw append rate is ``record_event`` in a transaction of its own, committed, one writer: each
accepted bid is one such audited transaction. It is measured before and after the bidding (the
median), on the same database.

Figures are medians: the accepted rate over the run's one-second windows, the append rate over its
six runs. The latency of a bid is from its ``accepted_at`` to the last of the watchers' arrivals
(watchers note the instant each read from their socket returns, for every bid in it).

The first BENCH_WARMUP seconds of bidding (3) are not counted: ``ggzy serve``'s web workers boot
(each builds the app) after the port is open, and a boot's CPU would be counted as bidding's.

Environment: BENCH_SECONDS (counted bidding time, 20; --quick 5), BENCH_BUYERS (200; 50), BENCH_WATCHERS
(1000; 100), BENCH_WEB_WORKERS (gunicorn workers, 3), BENCH_WEB_THREADS (threads per worker, 2: the
setting docs/operators.md gives a bidding room; serve's default of 4 halves the accepted rate here),
BENCH_WATCH_PROCESSES (4), BENCH_BUY_PROCESSES (2).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import multiprocessing
import os
import pathlib
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench._common import bench_platform, emit

#: a bid as the live server sends it (event_body keeps the payload's order)
BID = re.compile(rb'"seq": \d+, "bidding_number": "\d+", "amount": "[0-9.]+"')
MINIMUM = re.compile(r"最低应价 ([0-9.,]+) 元")
INCREMENT = Decimal("100.00")


def bid_line(seq: int, number: str, amount: str) -> bytes:
    return f'"seq": {seq}, "bidding_number": "{number}", "amount": "{amount}"'.encode()


def cpu_by_part(pgid: int, database: str) -> dict[str, float]:
    """CPU seconds used so far by the platform's parts: the server's process group split into the
    live server, the job workers and the web workers, and the database's backends for ``database``."""
    parts: dict[str, float] = {"web": 0.0, "live": 0.0, "jobs": 0.0, "postgres": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(fields[2]) == pgid:  # pgrp
            part = "live" if "cli live" in cmd else "jobs" if "cli workers" in cmd or "spawn_main" in cmd else "web"
            parts[part] += used
        elif cmd.startswith("postgres:") and f" {database} " in cmd:
            parts["postgres"] += used
    return parts


# ---------------------------------------------------------------- watchers (processes of their own)
def watch(url: str, n: int, ready: Any, results: Any, target: Any) -> None:
    """``n`` SSE clients of ``url``: per watcher, (last seq, instant) per read and a hash of every
    bid line in the order received; until each has ``target`` bids (once it is set), or a minute."""
    import aiohttp

    async def one(session: aiohttp.ClientSession, out: dict[str, Any], connected: list[int]) -> None:
        h, ranges, buf, count = hashlib.sha256(), out["ranges"], b"", 0
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
            connected[0] += 1
            if connected[0] == n:
                ready.set()
            async for chunk in resp.content.iter_any():
                t = time.time()
                buf += chunk
                cut = buf.rfind(b"\n\n")
                if cut < 0:
                    continue
                done, buf = buf[:cut], buf[cut + 2 :]
                lines = BID.findall(done)
                if lines:
                    h.update(b"\n".join(lines) + b"\n")
                    count += len(lines)
                    ranges.append((int(lines[-1][7:].split(b",", 1)[0]), t))
                    out["hash"], out["count"] = h.hexdigest(), count

    async def run() -> None:
        outs = [{"ranges": [], "hash": hashlib.sha256().hexdigest(), "count": 0} for _ in range(n)]
        connected, waited = [0], None
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as session:
            tasks = [asyncio.create_task(one(session, o, connected)) for o in outs]
            while target.value < 0 or not all(o["count"] >= target.value for o in outs):
                await asyncio.sleep(0.1)
                if target.value >= 0:
                    waited = waited if waited is not None else time.time()
                    if time.time() - waited > 60:
                        break
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        results.put((outs, time.process_time()))

    asyncio.run(run())


# ---------------------------------------------------------------- buyers (processes of their own)
def buy(
    base: str, code: str, buyers: list[tuple[str, str, Any]], start: float, counted: float, until: float, results: Any
) -> None:
    """Each buyer (number, token, signing key) bids as fast as it can until ``until``: a little
    above the highest price this process knows of. Answers and CPU are counted from ``counted``."""
    import aiohttp

    from signing.statements import auction_bid_statement

    known = {"price": Decimal("1000000.00") - INCREMENT, "seq": 0}
    tally: dict[str, int] = {}
    rng = random.Random(os.getpid())
    cpu_at_counted = [0.0]

    async def one(session: aiohttp.ClientSession, number: str, token: str, key: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        while time.time() < until:
            # what the clock says the price is by now (later bids higher, as in a busy room), at
            # least what this buyer knows is acceptable
            by_clock = Decimal(1_000_000) + INCREMENT * int((time.time() - start) * 2000)
            amount = f"{max(known['price'] + INCREMENT * rng.randint(1, 3), by_clock):.2f}"
            seen = known["seq"]
            st = auction_bid_statement(code, number, amount, seen)
            body = {"amount": amount, "seen_seq": seen, "signature": base64.b64encode(key.sign(st)).decode()}
            async with session.post(f"{base}/api/v1/auctions/{code}/bids", json=body, headers=headers) as r:
                got = await r.json()
            if time.time() < counted:
                tally.clear()  # the warm-up's answers are not counted
            if r.status == 201:
                tally["accepted"] = tally.get("accepted", 0) + 1
                known["price"] = max(known["price"], Decimal(got["amount"]))
                known["seq"] = max(known["seq"], got["seq"])
                continue
            code_ = got.get("error", {}).get("code", f"http_{r.status}")
            tally[code_] = tally.get(code_, 0) + 1
            m = MINIMUM.search(got.get("error", {}).get("message", ""))
            if m:
                known["price"] = max(known["price"], Decimal(m.group(1).replace(",", "")) - INCREMENT)

    async def mark() -> None:
        await asyncio.sleep(max(0.0, counted - time.time()))
        cpu_at_counted[0] = time.process_time()

    async def run() -> None:
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as session:
            await asyncio.gather(mark(), *(one(session, *b) for b in buyers))

    asyncio.run(run())
    tally["cpu_ms"] = int((time.process_time() - cpu_at_counted[0]) * 1000)
    results.put(tally)


# ---------------------------------------------------------------- the run
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seconds = float(os.environ.get("BENCH_SECONDS", 5 if args.quick else 20))
    warmup = float(os.environ.get("BENCH_WARMUP", 3))
    n_buyers = int(os.environ.get("BENCH_BUYERS", 50 if args.quick else 200))
    n_watchers = int(os.environ.get("BENCH_WATCHERS", 100 if args.quick else 1000))
    web_workers = int(os.environ.get("BENCH_WEB_WORKERS", 3))
    watch_procs = int(os.environ.get("BENCH_WATCH_PROCESSES", 4))
    buy_procs = int(os.environ.get("BENCH_BUY_PROCESSES", 2))

    cleanup = contextlib.ExitStack()
    env, app = cleanup.enter_context(bench_platform("ggzy_auctionbench"))  # dropped at the end
    env.pop("LIVE_URL", None)
    env["WEB_THREADS"] = os.environ.get("BENCH_WEB_THREADS", "2")
    url = env["DATABASE_URL"]
    server: subprocess.Popen[bytes] | None = None
    try:
        from sqlalchemy import select, update

        from archive import clock
        from archive.audit import ActorRef, record_event
        from tests.conftest import free_port, wait_for_port
        from tests.factories import api_token
        from tests.trading.auctions.test_bidding import make_lot
        from trading.auctions.feed import last_event_id
        from trading.auctions.models import Auction, AuctionBid, AuctionState

        db = app.extensions["ggzy.db"]
        client = app.test_client()
        with db.session() as s:
            a, buyers = make_lot(s, app, buyers=n_buyers)
            aid, code = a.id, a.code
        tokens = [api_token(client, b.keys.user.username)["Authorization"].split()[1] for b in buyers]
        now = clock.now()
        with db.session() as s:  # counting down: each accepted bid restarts it; an hour, so it never ends here
            s.execute(
                update(Auction)
                .where(Auction.id == aid)
                .values(
                    state=AuctionState.COUNTDOWN,
                    increment=INCREMENT,
                    countdown_seconds=3600,
                    bidding_starts_at=now - dt.timedelta(hours=1),
                    free_ends_at=now - dt.timedelta(minutes=1),
                    countdown_ends_at=now + dt.timedelta(hours=1),
                )
            )
            after = last_event_id(s, aid)
        actor = ActorRef("bench", "bench")

        def append(n: int) -> float:
            t = time.perf_counter()
            for i in range(n):
                with db.session() as s:
                    record_event(s, actor, "bench.event", ("bench", str(i)), {"n": i, "pad": "x" * 64})
            return n / (time.perf_counter() - t)

        append(200)  # warm up
        appends = [append(600 if args.quick else 1500) for _ in range(3)]

        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from trading.cli.common import settings; from trading.cli.serve import run_server; "
                "run_server(settings(), '127.0.0.1', int(sys.argv[1]), int(sys.argv[2]), False, quiet=True)",
                str(port),
                str(web_workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(port, 60)
        wait_for_port(port + 1, 60)
        base = f"http://127.0.0.1:{port}"

        ctx = multiprocessing.get_context("fork")
        target, results = ctx.Value("q", -1), ctx.Queue()
        readies, watchers = [], []
        live = f"http://127.0.0.1:{port + 1}/live/auctions/{aid}?after={after}"
        for i in range(watch_procs):
            n = n_watchers // watch_procs + (1 if i < n_watchers % watch_procs else 0)
            ready = ctx.Event()
            readies.append(ready)
            watchers.append(ctx.Process(target=watch, args=(live, n, ready, results, target)))
        for p in watchers:
            p.start()
        for r in readies:
            assert r.wait(120), "watchers did not connect"
        time.sleep(1)

        tallies = ctx.Queue()
        begin = time.time()
        counted = begin + warmup  # the web workers have booted and every connection is open
        until = counted + seconds
        keyed = [(b.number, tokens[i], b.keys.sign_key) for i, b in enumerate(buyers)]
        procs = [
            ctx.Process(target=buy, args=(base, code, keyed[i::buy_procs], begin, counted, until, tallies))
            for i in range(buy_procs)
        ]
        for p in procs:
            p.start()
        tally: dict[str, int] = {}
        database = url.rsplit("/", 1)[1]
        time.sleep(max(0.0, counted - time.time()))
        cpu_before = cpu_by_part(server.pid, database)
        for _ in procs:
            for k, v in tallies.get(timeout=warmup + seconds + 120).items():
                tally[k] = tally.get(k, 0) + v
        for p in procs:
            p.join(30)
        cpu_after = cpu_by_part(server.pid, database)
        cpu_used = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
        buyers_cpu = tally.pop("cpu_ms") / 1000

        with db.session() as s:
            rows = s.execute(
                select(AuctionBid.seq, AuctionBid.bidding_number, AuctionBid.amount, AuctionBid.accepted_at)
                .where(AuctionBid.auction_id == aid)
                .order_by(AuctionBid.seq)
            ).all()
        total = len(rows)
        expected = hashlib.sha256(b"".join(bid_line(q, n, f"{m:.2f}") + b"\n" for q, n, m, _ in rows)).hexdigest()
        target.value = total  # each watcher process stops once all its watchers have every bid
        outs: list[dict[str, Any]] = []
        watchers_cpu = 0.0
        for _ in watchers:
            got, cpu = results.get(timeout=120)
            outs += got
            watchers_cpu += cpu
        for p in watchers:
            p.join(30)
        appends += [append(600 if args.quick else 1500) for _ in range(3)]

        # --- accepted rate (median of one-second windows), latency to all watchers, and the check
        accepted_at = [clock.as_utc(r[3]).timestamp() for r in rows]
        windows = [0] * max(1, int(seconds))  # the whole seconds of the counted bidding
        for t in accepted_at:
            i = int(t - counted)
            if 0 <= i < len(windows):
                windows[i] += 1
        full = windows
        rate = statistics.median(full)
        raw = statistics.median(appends)
        wrong = [o for o in outs if o["hash"] != expected or o["count"] != total]
        last = [0.0] * (total + 1)
        for o in outs:
            prev = 0
            for upto, t in o["ranges"]:
                for q in range(prev + 1, min(upto, total) + 1):
                    if t > last[q]:
                        last[q] = t
                prev = upto
        # the counted bids' (the warm-up's watchers and server were still settling); every bid is
        # checked for loss, doubling and order all the same
        lat = sorted(
            (last[q] - accepted_at[q - 1]) * 1000 for q in range(1, total + 1) if accepted_at[q - 1] >= counted
        )
        p99 = lat[int(0.99 * (len(lat) - 1))] if lat else float("inf")
        emit("auction_accepted_bids_rate", rate, "bids/s (median of 1 s windows)", rate / raw, 0.5, "higher")
        emit("auction_trail_append_rate", raw, "events/s (1 per transaction, one writer)", None, None, "higher")
        emit("auction_bid_to_all_watchers_p99", p99, "ms", None, 500, "lower")
        emit("auction_bid_to_all_watchers_median", statistics.median(lat) if lat else 0, "ms", None, None, "lower")
        emit(
            "auction_watchers_wrong",
            len(wrong),
            f"of {len(outs)} watchers (lost, doubled or out of order)",
            None,
            0,
            "lower",
        )
        emit("auction_accepted_bids", total, "bids", None, None, "higher")
        emit("auction_bid_requests_rate", sum(tally.values()) / seconds, "requests/s", None, None, "higher")
        emit("auction_bids_refused_too_low", tally.get("bid_too_low", 0), "requests", None, None, "lower")
        others = {k: v for k, v in tally.items() if k not in ("accepted", "bid_too_low")}
        emit("auction_bids_other_answers", sum(others.values()), f"requests {others}", None, 0, "lower")
        emit("auction_watchers", len(outs), "connections", None, None, "higher")
        emit("auction_buyers", n_buyers, "buyers", None, None, "higher")
        # where the machine's time went while the buyers bid (all on this machine's cores)
        for part, what in (
            ("web", "web workers"),
            ("live", "ggzy live"),
            ("jobs", "job workers"),
            ("postgres", "PostgreSQL backends"),
        ):
            emit(f"auction_cpu_{part}", cpu_used[part] / seconds, f"cores ({what})", None, None, "lower")
        emit(
            "auction_cpu_per_bid_request",
            1000 * (cpu_used["web"] + cpu_used["postgres"]) / max(1, sum(tally.values())),
            "ms (web + PostgreSQL CPU per bid request)",
            None,
            None,
            "lower",
        )
        emit("auction_cpu_buyers", buyers_cpu / seconds, "cores (HTTP clients, signing)", None, None, "lower")
        emit("auction_cpu_watchers", watchers_cpu / seconds, "cores (SSE clients, whole run)", None, None, "lower")
        emit("auction_cores", os.cpu_count() or 0, "cores", None, None, "higher")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        cleanup.close()


if __name__ == "__main__":
    main()
