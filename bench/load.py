"""The platform under load (issue 24): bidders browsing, registering and uploading sealed bids to
tenders whose deadlines fall within the same minute, while the public reads the portal, against
infra/docker-compose.yml's processes on PostgreSQL (tests/infra/topology.py: two app nodes behind
the round-robin proxy, the scheduler, an S3 server on loopback), driven by locust
(bench/load_users.py) in a process of its own.

    python bench/load.py [--quick]     (make bench-load; needs the bench extra: pip install -e ".[bench]")

Full: 500 bidders, 20 MiB bids, 50 tenders, the portal at 200 requests/s. --quick: 40 bidders,
2 MiB, 5 tenders, 20 requests/s. Figures (JSON lines):

- ``load_5xx``: answers 5xx from the platform or the proxy (target 0).
- ``load_lost_bids``: receipts the platform gave whose bid is not in the database, byte for byte
  (target 0); ``load_late_accepted``: bids received after their tender's deadline (target 0).
- ``load_portal_read_p99``: page reads during the storm; ratio against the same reads on the idle
  platform measured first (target 1,000 ms).
- ``load_upload_part_p99``: one part's PUT through the platform; ratio against a PUT of the same
  size straight to the S3 server (target: ratio 5).
- ``load_portal_reads_per_s``: what the readers got (target 200, or 20 with --quick).
- ``load_db_connections_peak``: the most PostgreSQL connections the platform's processes held at
  once (pg_stat_activity, sampled every 0.2 s); ratio against the bound the pool settings give,
  processes × (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW) (target: ratio ≤ 1).
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import io
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench._common import emit, pg_database

POOL = {"DATABASE_POOL_SIZE": "5", "DATABASE_MAX_OVERFLOW": "3"}  # infra/docker-compose.yml's


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def setup(top: Any, url: str, n_tenders: int, n_bidders: int, bid_bytes: int, folder: pathlib.Path) -> dict[str, Any]:
    """Tenders published through the proxy, bidders with UKey certificates (made in this process,
    as an administrator or a UKey vendor would), and each bidder's bid sealed to disk."""
    from concurrent.futures import ThreadPoolExecutor

    from signing.digest import SM3
    from signing.envelope import DEFAULT_CHUNK
    from tests import factories
    from tests.factories import (
        api_token,
        head_of,
        make_bidder_with_keys,
        make_signer,
        make_user,
        seal_bid,
        tender_body,
        upload,
    )
    from tests.infra.topology import HttpClient
    from tests.trading.opening.test_ceremony import bid_package
    from trading.accounts.models import Role
    from trading.app import create_app
    from trading.core.config import load_settings

    for k in ("PLATFORM_KEYS_DIR", "PLATFORM_KEY_PASSWORD"):
        os.environ[k] = top.env[k]
    helper = create_app(load_settings({**top.env, "GGZY_ENV": "test"}))
    db = helper.extensions["ggzy.db"]
    client = HttpClient(top.proxy.url)
    keys = factories.platform_keys(helper)  # unsealed once, not once per certificate (PBKDF2 each time)
    factories.platform_keys = lambda _app: keys  # type: ignore[assignment]
    t0 = time.perf_counter()
    with db.session() as session:
        tenderee = make_signer(session, helper, Role.TENDEREE)
        staff = make_user(session, Role.STAFF)
        bidders = [make_bidder_with_keys(session, helper) for _ in range(n_bidders)]
    ht, hs = api_token(client, tenderee.user.username), api_token(client, staff.username)
    codes = []
    for _ in range(n_tenders):
        code = client.post("/api/v1/tenders", json=tender_body(), headers=ht).get_json()["code"]
        upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
        client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
        assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
        codes.append(code)
    print(f"#   accounts and tenders: {time.perf_counter() - t0:.0f} s", flush=True)
    t = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:  # the app nodes' four threads
        tokens = list(pool.map(lambda b: api_token(HttpClient(top.proxy.url), b.user.username), bidders))
    print(f"#   {len(bidders)} logins: {time.perf_counter() - t:.0f} s", flush=True)
    filler = os.urandom(bid_bytes)
    plan = []
    sealing = 0.0
    for i, b in enumerate(bidders):
        code = codes[i % n_tenders]
        t = time.perf_counter()
        blob = seal_bid(b, code, bid_package(code, f"{9_000_000 + i}.00", filler), chunk_size=DEFAULT_CHUNK)
        sealing += time.perf_counter() - t
        path = folder / f"bid-{i}.sealed"
        path.write_bytes(blob)
        h, prefixes = SM3(), []
        for start in range(0, len(blob), 32 << 20):
            h.update(blob[start : start + (32 << 20)])
            prefixes.append(h.hexdigest())
        token = tokens[i]["Authorization"].split()[1]
        plan.append(
            {
                "n": i,
                "tender": code,
                "token": token,
                "sealed": str(path),
                "size": len(blob),
                "head": base64.b64encode(head_of(blob)).decode(),
                "prefixes": prefixes,
            }
        )
    print(f"#   sealing: {sealing:.0f} s", flush=True)
    db.engine.dispose()
    reads = ["/", "/portal", "/portal?q=道路", *[f"/tenders/{c}" for c in codes[:10]]]
    return {"bidders": plan, "codes": codes, "reads": reads}


def idle_reads(base: str, reads: list[str], n: int) -> list[float]:
    import requests

    http, times = requests.Session(), []
    for i in range(n):
        t = time.perf_counter()
        r = http.get(base + reads[i % len(reads)], timeout=60)
        assert r.status_code == 200, (reads[i % len(reads)], r.status_code)
        times.append((time.perf_counter() - t) * 1000)
    return times


def direct_puts(s3: str, size: int, n: int) -> list[float]:
    from minio import Minio

    m = Minio(s3, access_key="ak", secret_key="sk", secure=False)
    bucket = f"load-baseline-{uuid.uuid4().hex[:8]}"
    m.make_bucket(bucket)
    data, times = os.urandom(size), []
    for i in range(n):
        t = time.perf_counter()
        m.put_object(bucket, f"o{i}", io.BytesIO(data), size)
        times.append((time.perf_counter() - t) * 1000)
    return times


class ConnectionSampler(threading.Thread):
    """The platform's PostgreSQL connections (its database's, not this process's), every 0.2 s."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url, pool_size=1, max_overflow=0)
        self.name_, self.peak, self.stop = url.rsplit("/", 1)[1], 0, threading.Event()

    def run(self) -> None:
        with self.engine.connect() as c:
            while not self.stop.is_set():
                n = c.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                    {"d": self.name_},
                )
                self.peak = max(self.peak, int(n or 0))
                c.commit()
                self.stop.wait(0.2)
        self.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    # the deadlines: this long after the storm starts, one second apart within the same minute
    deadline_after = 45 if args.quick else 420
    folder = pathlib.Path(tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP")))
    try:
        run(args.quick, folder, deadline_after)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the sealed bids: 10 GiB at full size


def run(quick: bool, folder: pathlib.Path, deadline_after: int) -> None:
    from tests.conftest import s3_test_server
    from tests.infra.topology import Topology

    n_bidders, n_tenders, mib, read_rps, readers = (40, 5, 2, 20, 10) if quick else (500, 50, 20, 200, 100)
    with pg_database("ggzy_load") as url, s3_test_server() as s3, Topology(url, s3, folder, POOL) as top:
        done = top.migrate()
        assert done.returncode == 0, done.stderr
        apps = top.start("app", 2)
        top.start("scheduler")
        t0 = time.perf_counter()
        plan = setup(top, url, n_tenders, n_bidders, mib << 20, folder)
        print(f"# set up {n_tenders} tenders, {n_bidders} sealed bids in {time.perf_counter() - t0:.0f} s", flush=True)
        idle = idle_reads(top.proxy.url, plan["reads"], 200)
        direct = direct_puts(s3, plan["bidders"][0]["size"], 10)
        plan |= {"receipts": str(folder / "receipts.jsonl"), "read_rps": read_rps, "readers": readers}
        (folder / "plan.json").write_text(json.dumps(plan))
        engine = create_engine(url)
        with engine.begin() as c:  # every deadline within the same minute, during the storm
            for i, code in enumerate(plan["codes"]):
                c.execute(
                    text("UPDATE tender SET bid_deadline = now() + make_interval(secs => :s) WHERE code = :c"),
                    {"s": deadline_after + i * 59 / max(1, n_tenders - 1), "c": code},
                )
        engine.dispose()  # its connection is not the platform's
        sampler = ConnectionSampler(url)
        sampler.start()
        started = time.perf_counter()
        locust = subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", str(pathlib.Path(__file__).with_name("load_users.py")),
                "--headless", "--host", top.proxy.url,
                "--users", str(n_bidders + readers), "--spawn-rate", str(max(10, n_bidders // 30)),
                "--run-time", f"{deadline_after + 600}s", "--csv", str(folder / "locust"), "--only-summary",
                "--loglevel", "WARNING",
            ],
            env={**os.environ, "LOAD_PLAN": str(folder / "plan.json"), "PYTHONPATH": str(top.env["PYTHONPATH"])},
            capture_output=True,
            text=True,
        )  # fmt: skip
        storm = time.perf_counter() - started
        sampler.stop.set()
        sampler.join(5)
        if locust.returncode not in (0, 1):  # 1: some requests failed (counted below)
            print(locust.stdout[-3000:], locust.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"locust exited {locust.returncode}")
        with open(folder / "locust_stats.csv", encoding="utf-8") as f:
            stats = {row["Name"]: row for row in csv.DictReader(f)}
        receipts = [json.loads(line) for line in pathlib.Path(plan["receipts"]).read_text().splitlines()]
        five = sum(1 for r in receipts if r["outcome"] == "5xx")
        accepted = [r for r in receipts if r["outcome"] == "accepted"]
        with engine.connect() as c:
            stored = {
                (code, sm3)
                for code, sm3 in c.execute(
                    text("SELECT t.code, b.ciphertext_sm3 FROM bid b JOIN tender t ON t.id = b.tender_id")
                )
            }
            late_accepted = c.scalar(
                text(
                    "SELECT count(*) FROM bid b JOIN tender t ON t.id = b.tender_id WHERE b.received_at > t.bid_deadline"
                )
            )
        engine.dispose()
        lost = sum(1 for r in accepted if (r["tender"], r["sm3"]) not in stored)
        outcomes = {k: sum(1 for r in receipts if r["outcome"] == k) for k in ("accepted", "late", "refused")}
        refused = [r for r in receipts if r["outcome"] == "refused"][:3]
        print(f"# storm {storm:.0f} s; bids {outcomes}; first refusals: {refused}", flush=True)
        print(f"# proxy: served {dict(top.proxy.served)}, 502 mid-request {dict(top.proxy.failed)}", flush=True)
        reads = stats["portal read"]
        parts = stats.get("upload part")
        bound = (len(apps) + 1) * sum(int(v) for v in POOL.values())  # app nodes (1 worker each), scheduler
        emit("load_5xx", five, "answers", None, 0, "lower")
        emit("load_lost_bids", lost, "bids", None, 0, "lower")
        emit("load_late_accepted", int(late_accepted or 0), "bids", None, 0, "lower")
        emit("load_bids_accepted", outcomes["accepted"], "bids", outcomes["accepted"] / n_bidders, None, "higher")
        read_p99 = float(reads["99%"])
        emit("load_portal_read_p99", read_p99, "ms", read_p99 / p99(idle), 1000, "lower")
        if parts is not None:
            part_p99 = float(parts["99%"])
            emit("load_upload_part_p99", part_p99, "ms", part_p99 / p99(direct), 5, "lower")
        rps = float(reads["Requests/s"])  # over locust's run: from the first user to the last bid
        emit("load_portal_reads_per_s", rps, "requests/s", rps / read_rps, read_rps, "higher")
        emit("load_db_connections_peak", sampler.peak, "connections", sampler.peak / bound, bound, "lower")
        print(f"# {dt.datetime.now(dt.UTC):%Y-%m-%d}, {os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    main()
