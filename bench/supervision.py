"""Supervision at scale, on PostgreSQL: the warning sweep and the statistics.

    python bench/supervision.py [--quick]

Targets (issue 21):
- the warning sweep over 100,000 open clocks and 1,000,000 audit events at ≤ 1 s per sweep, and
  within 3× of one indexed scan of the clocks table measured in the same run;
- the statistics over 100,000 lots in ≤ 2 s, within 3× of one indexed scan of the facts table.

What one sweep does here: the log has grown by ``NEW_EVENTS`` events since the last sweep (30 s of
a busy platform: a fifth of them start a clock, a tenth stop one, the rest concern no rule), and
``DUE`` of the open clocks reach their yellow or due instant (each a colour change: an audit event
and its notices). Before each timed sweep the tables are put back as they were (untimed), so every
run does the same work. The log's rows are bulk-loaded with placeholder hashes: the sweep reads
actions, objects and payloads, never hashes; the head is set so new events append after them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from sqlalchemy import select, text, update

from bench import supervision_clocks_setup as setup
from bench._common import emit, median_time, pg_database

AWARDS = 100
NOISE = 2_000
DUE = 50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    events, open_clocks, lots = (100_000, 20_000, 10_000) if args.quick else (1_000_000, 100_000, 100_000)
    lots_with_clocks = 500 if args.quick else 1_000
    repeat = 3 if args.quick else 5

    cleanup = contextlib.ExitStack()
    url = cleanup.enter_context(pg_database("ggzy_supbench"))
    tmp = pathlib.Path(tempfile.mkdtemp())
    try:
        from archive import clock
        from trading.accounts.passwords import passwords
        from trading.core.db import Database, upgrade
        from trading.supervision import facts
        from trading.supervision import stats_queries as stats
        from trading.supervision.clocks import sweep
        from trading.supervision.models import SupervisionClock

        passwords.configure(8, 1)
        upgrade(url)
        db = Database(url)
        now = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        info = setup.open_clocks(db, open_clocks, lots_with_clocks, due=0, now=now)
        setup.grow_log(db, events)
        print(
            f"# set up {events:,} events and {open_clocks:,} clocks in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )

        def run() -> int:
            with db.session() as s:
                return sweep(s, clock.now())

        base = median_time(lambda: setup.baseline_scan(db), repeat)
        idle = median_time(run, repeat)
        busy: list[float] = []
        for n in range(repeat):
            # one interval's work: AWARDS awards (each stops a clock and starts two) and as many
            # objections (each starts one) among NOISE other events, DUE clocks turning yellow
            with db.session() as s:
                ids = s.scalars(
                    select(SupervisionClock.id)
                    .where(SupervisionClock.lot_id.is_(None), SupervisionClock.colour == "green")
                    .limit(DUE)
                ).all()
                s.execute(
                    update(SupervisionClock)
                    .where(SupervisionClock.id.in_(ids))
                    .values(next_check_at=now, yellow_at=now)
                )
                s.commit()
            setup.new_events(db, info["lot_ids"], AWARDS, NOISE, offset=n * AWARDS)
            t = time.perf_counter()
            changed = run()
            busy.append(time.perf_counter() - t)
            assert changed >= AWARDS + DUE, changed  # the sweep did the work it was set
        tb = statistics.median(busy)
        emit(
            "supervision_sweep_busy",
            tb,
            f"s per sweep ({open_clocks:,} open clocks, {events:,} events; {2 * AWARDS + NOISE:,} new, {DUE} due)",
            tb / base,
            1.0,
            "lower",
        )
        emit("supervision_sweep_idle", idle, "s per sweep with nothing new", idle / base, None, "lower")
        emit(
            "supervision_clock_scan_baseline",
            base,
            f"s for one indexed scan of {open_clocks:,} clocks",
            None,
            None,
            "lower",
        )

        with db.session() as s:
            per_month = max(1, lots // (12 * 2 * 1.4))  # 1–3 lots a tender (1.4 on average), 2 lots per tender mix
            made = facts.generate_history(s, months=24, per_month=int(per_month), now=now)
            s.commit()
            s.execute(text("ANALYZE supervision_lot_fact"))
            s.commit()

        def compute() -> None:
            with db.session() as s:
                stats.compute(s)

        def fact_scan() -> None:
            with db.session() as s:
                s.execute(text("SELECT * FROM supervision_lot_fact ORDER BY announced_at")).all()

        tc, tf = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            compute()
            tc.append(time.perf_counter() - t)
            t = time.perf_counter()
            fact_scan()
            tf.append(time.perf_counter() - t)
        c, f = statistics.median(tc), statistics.median(tf)
        emit("supervision_statistics", c, f"s for every table over {made:,} lots", c / f, 2.0, "lower")
        emit("supervision_fact_scan_baseline", f, f"s for one indexed scan of {made:,} lots", None, None, "lower")
        db.engine.dispose()
    finally:
        cleanup.close()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
