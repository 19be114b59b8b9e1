"""The live rooms' fan-out past one process, on PostgreSQL.

    python bench/live_fanout.py [--quick]

Target (issue 24): 10,000 watchers of one room over several ``ggzy live`` processes (as many as the
machine bears; the count is printed): the fan-out p99 at most 2 x a bare aiohttp SSE fan-out's,
measured in the same run with the same watchers over as many processes, and under 1 s; memory per
watcher reported against the bare server's.

The room is an auction lot's public channel (``/live/auctions/<id>``). An event is a row written
through ``auctions.lifecycle.feed`` and committed; the live processes find it by polling (every
0.1 s) and send it to their watchers. The baseline's processes are handed each event over HTTP and
write it to every one of their streams at once: no database, no polling, nothing but the fan-out.
A delivery's latency is from the instant the event was committed (ggzy) or handed over (baseline)
to the instant a watcher's read returned it; the p99 is over every (event, watcher) delivery, the
median of the events' p99s being quoted too. Watchers are aiohttp clients in processes of their own,
spread evenly over the server processes.

Environment: BENCH_WATCHERS (10,000; --quick 1,000), BENCH_LIVE_PROCESSES (server processes of
each kind, 2), BENCH_WATCH_PROCESSES (4), BENCH_EVENTS (events per phase, 10).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench._common import bench_platform, emit


def rss(pid: int) -> int:
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- the baseline: a bare SSE fan-out
def bare_server(port: int) -> None:
    """GET /sse: a stream; POST /event: its body written to every stream, at once."""
    from aiohttp import web

    streams: set[web.StreamResponse] = set()

    async def sse(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await resp.prepare(request)
        streams.add(resp)
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            streams.discard(resp)

    async def event(request: web.Request) -> web.Response:
        frame = b"event: note\ndata: " + await request.read() + b"\n\n"
        await asyncio.gather(*(s.write(frame) for s in list(streams)), return_exceptions=True)
        return web.Response(text=str(len(streams)))

    app = web.Application()
    app.add_routes([web.get("/sse", sse), web.post("/event", event)])
    web.run_app(app, host="127.0.0.1", port=port, print=None)


# ---------------------------------------------------------------- watchers (processes of their own)
def watch(urls: list[str], n: int, ready: Any, done: Any, results: Any) -> None:
    """``n`` SSE clients spread over ``urls``; each notes when each marked event reached it."""
    import resource

    import aiohttp

    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    arrivals: dict[int, list[float]] = {}

    async def one(session: aiohttp.ClientSession, url: str, connected: list[int]) -> None:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
            connected[0] += 1
            if connected[0] == n:
                ready.set()
            async for line in resp.content:
                if line.startswith(b"data: ") and b'"mark": ' in line:
                    mark = int(line.split(b'"mark": ')[1].split(b",")[0].split(b"}")[0])
                    arrivals.setdefault(mark, []).append(time.time())

    async def run() -> None:
        connected = [0]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            tasks = [asyncio.create_task(one(session, urls[i % len(urls)], connected)) for i in range(n)]
            while not done.is_set():
                await asyncio.sleep(0.2)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())
    results.put(arrivals)


class Watchers:
    """``n`` watchers of ``urls`` in ``procs`` processes, connected when constructed."""

    def __init__(self, urls: list[str], n: int, procs: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.done, self.results, self.n = ctx.Event(), ctx.Queue(), n
        self.readies, self.procs = [], []
        for i in range(procs):
            share = n // procs + (1 if i < n % procs else 0)
            ready = ctx.Event()
            self.readies.append(ready)
            # each process starts on a different server so the shares stay even
            mine = urls[i % len(urls) :] + urls[: i % len(urls)]
            self.procs.append(ctx.Process(target=watch, args=(mine, share, ready, self.done, self.results)))
        for p in self.procs:
            p.start()
        for r in self.readies:
            if not r.wait(300):
                raise TimeoutError("watchers did not connect")

    def collect(self) -> dict[int, list[float]]:
        self.done.set()
        got: dict[int, list[float]] = {}
        for _ in self.procs:
            for mark, times in self.results.get(timeout=120).items():
                got.setdefault(mark, []).extend(times)
        for p in self.procs:
            p.join(30)
        return got


def latencies(sent: dict[int, float], got: dict[int, list[float]], n: int) -> tuple[float, float, int]:
    """(p99 over every delivery, median of the events' p99s, deliveries missing) in ms."""
    every: list[float] = []
    p99s: list[float] = []
    missing = 0
    for mark, at in sent.items():
        lat = sorted((t - at) * 1000 for t in got.get(mark, []))
        missing += n - len(lat)
        lat += [float("inf")] * (n - len(lat))
        p99s.append(lat[int(0.99 * (n - 1))])
        every += lat
    every.sort()
    return every[int(0.99 * (len(every) - 1))], statistics.median(p99s), missing


def start(cmd: list[str], env: dict[str, str] | None, port: int) -> subprocess.Popen[bytes]:
    from tests.conftest import wait_for_port

    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    wait_for_port(port, 60)
    return proc


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(30)


# ---------------------------------------------------------------- the run
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = int(os.environ.get("BENCH_WATCHERS", 1000 if args.quick else 10_000))
    servers = int(os.environ.get("BENCH_LIVE_PROCESSES", 2))
    watch_procs = int(os.environ.get("BENCH_WATCH_PROCESSES", 4))
    events = int(os.environ.get("BENCH_EVENTS", 10))

    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    cleanup = contextlib.ExitStack()
    env, app = cleanup.enter_context(bench_platform("ggzy_fanoutbench"))  # dropped at the end
    procs: list[subprocess.Popen[bytes]] = []
    try:
        import aiohttp
        from sqlalchemy import func, select

        from tests.conftest import free_port
        from tests.trading.auctions.test_bidding import make_lot
        from trading.auctions.lifecycle import feed
        from trading.auctions.models import Auction, AuctionEvent

        db = app.extensions["ggzy.db"]
        with db.session() as s:
            lot, _ = make_lot(s, app, buyers=1)
            aid = lot.id
        with db.session() as s:
            after = s.scalar(select(func.max(AuctionEvent.id)).where(AuctionEvent.auction_id == aid)) or 0

        # --- the baseline
        ports = [free_port() for _ in range(servers)]
        ctx = multiprocessing.get_context("fork")
        bare = [ctx.Process(target=bare_server, args=(p,), daemon=True) for p in ports]
        for b in bare:
            b.start()
        from tests.conftest import wait_for_port

        for p in ports:
            wait_for_port(p, 30)
        bare_base = sum(rss(b.pid or 0) for b in bare)
        watchers = Watchers([f"http://127.0.0.1:{p}/sse" for p in ports], n, watch_procs)
        bare_rss = sum(rss(b.pid or 0) for b in bare) - bare_base
        time.sleep(1)
        sent: dict[int, float] = {}

        async def hand_over(mark: int) -> None:
            body = json.dumps({"mark": mark}).encode()
            async with aiohttp.ClientSession() as http:
                sent[mark] = time.time()
                await asyncio.gather(*(http.post(f"http://127.0.0.1:{p}/event", data=body) for p in ports))

        for mark in range(events):
            asyncio.run(hand_over(mark))
            time.sleep(0.5)
        time.sleep(2)
        base_p99, base_median, base_missing = latencies(sent, watchers.collect(), n)
        for b in bare:
            b.kill()
            b.join(10)

        # --- ggzy live
        ports = [free_port() for _ in range(servers)]
        for p in ports:
            cmd = [sys.executable, "-m", "trading.cli", "live", "--host", "127.0.0.1", "--port", str(p)]
            procs.append(start(cmd, env, p))
        time.sleep(1)
        live_base = sum(rss(p.pid) for p in procs)
        watchers = Watchers([f"http://127.0.0.1:{p}/live/auctions/{aid}?after={after}" for p in ports], n, watch_procs)
        live_rss = sum(rss(p.pid) for p in procs) - live_base
        time.sleep(1)
        sent = {}
        for mark in range(events):
            with db.session() as s:
                feed(s, s.get(Auction, aid), "note", {"mark": mark})
                s.commit()
                sent[mark] = time.time()
            time.sleep(0.5)
        time.sleep(2)
        p99, median, missing = latencies(sent, watchers.collect(), n)

        emit("live_fanout_p99", p99, "ms (every delivery)", p99 / base_p99 if base_p99 else None, 2.0, "lower")
        emit("live_fanout_p99_bare_aiohttp", base_p99, "ms (every delivery)", None, None, "lower")
        emit(
            "live_fanout_p99_median_of_events",
            median,
            "ms",
            median / base_median if base_median else None,
            None,
            "lower",
        )
        emit("live_fanout_under_1s", 1.0 if p99 < 1000 else 0.0, "p99 < 1 s", None, 1, "higher")
        emit("live_fanout_watchers", n, "connections", None, None, "higher")
        emit("live_fanout_processes", servers, "ggzy live processes (and as many bare ones)", None, None, "higher")
        emit("live_fanout_missing", missing + base_missing, "deliveries lost (ggzy + bare)", None, 0, "lower")
        per, bare_per = live_rss / n, bare_rss / n
        emit("live_memory_per_watcher", per / 1024, "KiB", per / bare_per if bare_per > 0 else None, None, "lower")
        emit("live_memory_per_watcher_bare_aiohttp", bare_per / 1024, "KiB", None, None, "lower")
        emit(
            "live_cores",
            os.cpu_count() or 0,
            "cores (servers, watchers and PostgreSQL share them)",
            None,
            None,
            "higher",
        )
    finally:
        stop(procs)
        cleanup.close()


if __name__ == "__main__":
    main()
