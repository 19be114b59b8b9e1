"""The audit log as a transparency log, on PostgreSQL.

    python bench/trail.py [--quick]

Targets (issue 7):
- appending audit events: at least 2,000 events per second sustained with checkpoints on, and
  the append rate at 1,000,000 events within 20 % of the rate at 10,000;
- inclusion and consistency proofs at 1,000,000 events: under 5 ms each at the median.

The log is grown from 10,000 to 1,000,000 events by a bulk load of real events (the same leaf
hashes and subtree rows ``record_event`` writes), then the append rate is measured again.
Appends are measured the way the platform makes them: ``record_event`` in transactions of
``BENCH_EVENTS_PER_TX`` events (default 10), committed, a checkpoint asked for and signed every
1,000 events.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


from bench._common import emit, grow_log, pg_database

PG = os.environ.get("GGZY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    small, big = (10_000, 100_000) if args.quick else (10_000, 1_000_000)
    big = int(os.environ.get("BENCH_LOG_EVENTS", big))
    per_tx = int(os.environ.get("BENCH_EVENTS_PER_TX", 10))
    window = 3_000 if args.quick else 10_000

    cleanup = contextlib.ExitStack()
    url = cleanup.enter_context(pg_database("ggzy_trailbench"))  # a throwaway database, dropped at the end
    tmp = pathlib.Path(tempfile.mkdtemp())
    try:
        from archive import transparency as log
        from archive.audit import ActorRef, record_event
        from trading.core.config import load_settings
        from trading.core.db import Database, upgrade
        from trading.core.platform_keys import ensure_platform_keys

        upgrade(url)
        settings = load_settings({"GGZY_ENV": "test", "GGZY_INSTANCE": str(tmp), "DATABASE_URL": url})
        keys = ensure_platform_keys(settings)
        db = Database(url)
        actor = ActorRef("bench", "bench")

        def append(n: int) -> float:
            """Events per second over ``n`` appends, checkpoints on."""
            t = time.perf_counter()
            done = 0
            while done < n:
                with db.session() as s:
                    for _ in range(per_tx):
                        record_event(s, actor, "bench.event", ("bench", str(done)), {"n": done, "pad": "x" * 64})
                        done += 1
                        if done % 1000 == 0:
                            log.request_checkpoint(s, "bench")
                            log.sign_pending(s, keys.sign_key, keys.sign_cert)
            return n / (time.perf_counter() - t)

        with db.session() as s:
            record_event(s, actor, "bench.start", ("bench", "0"), {})
        grow_log(db, small - window // 2)
        append(500)  # warm up
        rate_small = statistics.median(append(window // 3) for _ in range(3))
        grow_log(db, big)
        append(500)
        rate_big = statistics.median(append(window // 3) for _ in range(3))
        emit("trail_append_rate_small", rate_small, f"events/s at {small} events", None, 2000, "higher")
        emit("trail_append_rate_big", rate_big, f"events/s at {big} events", rate_big / rate_small, 0.8, "higher")
        emit("trail_events_per_transaction", per_tx, "events", None, None, "higher")

        with db.session() as s:
            size = log.size(s)
            log.request_checkpoint(s, "bench")
            log.sign_pending(s, keys.sign_key, keys.sign_cert)
        rng = random.Random(7)
        inc, con = [], []
        with db.session() as s:
            for _ in range(200):
                seq = rng.randint(1, size)
                t = time.perf_counter()
                log.inclusion_proof(s, seq, size)
                inc.append(time.perf_counter() - t)
                old = rng.randint(1, size - 1)
                t = time.perf_counter()
                log.consistency_proof(s, old, size)
                con.append(time.perf_counter() - t)
        emit("trail_inclusion_proof_median", statistics.median(inc) * 1000, f"ms at {size} events", None, 5, "lower")
        emit("trail_consistency_proof_median", statistics.median(con) * 1000, f"ms at {size} events", None, 5, "lower")
        db.engine.dispose()
    finally:
        cleanup.close()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
