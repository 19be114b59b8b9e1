"""Shared helpers for benchmarks: JSON figure lines, medians, peak-RSS growth on Linux, and a
throwaway platform on PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pathlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import insert, text, update


def emit(name: str, value: float, unit: str, ratio: float | None, target: float | None, better: str) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 4),
                "unit": unit,
                "ratio": None if ratio is None else round(ratio, 4),
                "target": target,
                "better": better,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def paired_times(baseline: Callable[[], Any], candidate: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median times of two functions run alternately, so machine noise hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        for fn, out in ((baseline, a), (candidate, b)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def peak_growth(fn: Callable[[], Any]) -> int:
    """Bytes by which the peak RSS rose above the RSS at the start of ``fn``."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
    base = _status("VmRSS")
    fn()
    return _status("VmHWM") - base


def pg_database(prefix: str) -> Any:
    """A new PostgreSQL database for a benchmark (the tests' helper; GGZY_TEST_PG names the server)."""
    from tests.conftest import fresh_pg_database

    return fresh_pg_database(prefix)


@contextlib.contextmanager
def bench_platform(prefix: str) -> Iterator[tuple[dict[str, str], Any]]:
    """A new PostgreSQL database at head and an instance folder with the platform's keys, both gone
    at the end: yields the environment the bench's ggzy processes run with (set in this process
    too) and the app on them."""
    with pg_database(prefix) as url:
        tmp = pathlib.Path(tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP")))
        env = {**os.environ, "GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp / "instance"), "DATABASE_URL": url}
        os.environ.update({k: env[k] for k in ("GGZY_ENV", "GGZY_INSTANCE", "DATABASE_URL")})
        try:
            from trading.app import create_app
            from trading.core.config import load_settings
            from trading.core.db import upgrade
            from trading.core.platform_keys import ensure_platform_keys

            upgrade(url)
            (tmp / "instance").mkdir(parents=True, exist_ok=True)
            app = create_app(load_settings())
            ensure_platform_keys(app.extensions["ggzy.settings"])
            try:
                yield env, app
            finally:
                app.extensions["ggzy.db"].engine.dispose()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def grow_log(db: Any, target: int, action: str = "bench.event") -> int:
    """Append bulk events (``action``, real leaf and chain hashes and subtree rows, what
    ``record_event`` writes) until the log holds ``target``, fast. The head's seq."""
    from archive.audit import AuditEvent, AuditHead, MerkleNode, event_bytes
    from archive.merkle import leaf_hash, pack_frontier, push, unpack_frontier
    from signing.canonical import canonical_json
    from signing.digest import sm3

    with db.session() as s:
        head = s.get(AuditHead, 1)
        if head is None:
            s.execute(insert(AuditHead).values(id=1, seq=0, chain_hash=bytes(32), frontier=b""))
            seq, chain, frontier = 0, bytes(32), []
        else:
            seq, chain, frontier = head.seq, head.chain_hash, unpack_frontier(head.frontier)
    at = dt.datetime.now(dt.UTC)
    while seq < target:
        events, nodes = [], []
        for _ in range(min(20_000, target - seq)):
            seq += 1
            body = canonical_json({"n": seq, "pad": "x" * 64})
            ps = sm3(body)
            leaf = leaf_hash(event_bytes(seq, at, "bench", "bench", action, "bench", str(seq), ps))
            chain = sm3(chain + leaf)
            events.append(
                {
                    "seq": seq,
                    "at": at,
                    "actor_id": "bench",
                    "actor_role": "bench",
                    "action": action,
                    "object_type": "bench",
                    "object_id": str(seq),
                    "payload": body.decode(),
                    "payload_sm3": ps,
                    "leaf_hash": leaf,
                    "chain_hash": chain,
                }
            )
            nodes += [{"level": lv, "index": i, "hash": h} for lv, i, h in push(frontier, leaf, seq - 1)]
        with db.session() as s:
            s.execute(insert(AuditEvent), events)
            if nodes:
                s.execute(insert(MerkleNode), nodes)
            s.execute(
                update(AuditHead)
                .where(AuditHead.id == 1)
                .values(seq=seq, chain_hash=chain, frontier=pack_frontier(frontier))
            )
    with db.session() as s:
        s.execute(text("ANALYZE audit_event"))
        s.execute(text("ANALYZE merkle_node"))
    return seq
