"""A committee draw from a pool of 100,000 experts with the full recusal rules against 200 bidders,
on PostgreSQL, against the time of loading the pool snapshot from the database in the same run.

    python bench/draw.py [--quick]

Target (issue 9): the draw takes under 0.2 × the load time, or under 1 s, whichever is larger.
Each expert has 1–3 specialties of 20, one of 30 regions, an employer, two former employers and
two declared relations; 1 % work or worked for a bidder, 1 % are suspended, 2 % unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sqlalchemy import insert

from bench._common import emit, pg_database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    size = int(os.environ.get("BENCH_EXPERTS", 10_000 if args.quick else 100_000))
    n_bidders = 200
    rng = random.Random(20261202)

    from tests.factories import valid_code
    from trading.core.db import Database, upgrade
    from trading.evaluation import draw as rules
    from trading.evaluation.experts import pool
    from trading.evaluation.models import Expert

    cleanup = contextlib.ExitStack()
    url = cleanup.enter_context(pg_database("ggzy_drawbench"))
    try:
        upgrade(url)
        db = Database(url)
        bidders = [valid_code(600_000_000 + i) for i in range(n_bidders)]
        tenderee = valid_code(599_999_999)
        regions = [f"35{r:02d}00" for r in range(1, 31)]
        specialties = [f"A{i:02d}" for i in range(1, 21)]
        now = dt.datetime.now(dt.UTC)
        rows = []
        for i in range(size):
            party = rng.random() < 0.01
            rows.append(
                {
                    "name": f"专家{i}",
                    "specialties": rng.sample(specialties, rng.randint(1, 3)),
                    "region": rng.choice(regions),
                    "employer": rng.choice(bidders) if party and rng.random() < 0.5 else valid_code(400_000_000 + i),
                    "history": [
                        {
                            "credit_code": rng.choice(bidders) if party else valid_code(300_000_000 + i),
                            "from": "2018-01-01",
                            "to": "2024-03-31",
                        },
                        {"credit_code": valid_code(200_000_000 + i), "from": "2012-01-01", "to": "2017-12-31"},
                    ],
                    "relations": [
                        {
                            "kind": "shareholder",
                            "credit_code": valid_code(100_000_000 + i),
                            "from": "2020-01-01",
                            "to": None,
                        },
                        {
                            "kind": "kinship",
                            "credit_code": rng.choice(bidders) if rng.random() < 0.002 else valid_code(i + 1),
                            "from": "2000-01-01",
                            "to": None,
                        },
                    ],
                    "available": rng.random() >= 0.02,
                    "suspended_until": dt.date(2027, 6, 30) if rng.random() < 0.01 else None,
                    "updated_at": now,
                }
            )
        with db.session() as s:
            for start in range(0, size, 5000):
                s.execute(insert(Expert), rows[start : start + 5000])
            s.commit()
        del rows
        r = rules.Rules(
            tenderee=tenderee,
            bidders=tuple(bidders),
            on=dt.date(2026, 12, 20),
            slots=(rules.Slot("350100", "A01", 4), rules.Slot("350200", "A02", 2), rules.Slot("350300", "A01", 1)),
        )

        loads, draws = [], []
        for k in range(3 if args.quick else 5):
            with db.session() as s:
                t = time.perf_counter()
                candidates = pool(s)
                loads.append(time.perf_counter() - t)
            seed = bytes([k]) * 32
            t = time.perf_counter()
            chosen = rules.draw(candidates, r, seed)
            draws.append(time.perf_counter() - t)
            assert len(chosen) == 7
        load, drawn = statistics.median(loads), statistics.median(draws)
        budget = max(0.2 * load, 1.0)
        emit("draw_pool_load_time", load, "s", None, None, "lower")
        emit("draw_time", drawn, "s", drawn / budget, 1.0, "lower")  # ratio against max(0.2 × load, 1 s)
        emit("draw_pool_size", float(len(candidates)), "experts", None, None, "higher")
        emit("draw_bidders", float(n_bidders), "bidders", None, None, "higher")
        db.engine.dispose()
    finally:
        cleanup.close()


if __name__ == "__main__":
    main()
