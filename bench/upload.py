"""Bid upload through the HTTP API on loopback, against a real `ggzy serve` (gunicorn) on PostgreSQL.

    python bench/upload.py [--quick]

Targets (issue 5): a 1 GiB sealed bid with server peak memory growth under 100 MiB and
throughput at least 0.5 x raw SM3 hashing of the same bytes in the same run; 200 concurrent
uploads of 5 MiB finish without errors (total time, and its ratio to one upload's time).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


from bench._common import emit, paired_times, pg_database

PG = os.environ.get("GGZY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _status(pid: int, field: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def server_pids(root: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(root)], capture_output=True, text=True).stdout
    kids = [int(x) for x in out.split()]
    return [root] + [p for k in kids for p in server_pids(k)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    big = int(os.environ.get("BENCH_BIG_MIB", 64 if args.quick else 1024)) << 20
    many, small = (20, 1 << 20) if args.quick else (200, 5 << 20)
    many = int(os.environ.get("BENCH_UPLOADS", many))
    small = int(os.environ.get("BENCH_SMALL_MIB", small >> 20)) << 20

    from tests.conftest import free_port, wait_for_port

    cleanup = contextlib.ExitStack()
    url = cleanup.enter_context(pg_database("ggzy_upbench"))  # a throwaway database, dropped at the end
    tmp = pathlib.Path(tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP")))
    env = {**os.environ, "GGZY_ENV": "demo", "GGZY_INSTANCE": str(tmp / "instance"), "DATABASE_URL": url}
    server = None
    try:
        subprocess.run(
            [sys.executable, "-m", "trading.cli", "demo", "--no-serve"], env=env, check=True, capture_output=True
        )
        os.environ.update({"GGZY_INSTANCE": env["GGZY_INSTANCE"], "DATABASE_URL": url, "GGZY_ENV": "demo"})
        from bidding.client import Client, upload_sealed
        from signing.digest import SM3
        from tests.factories import make_bidder_with_keys, seal_bid
        from trading.app import create_app
        from trading.core.config import load_settings

        app = create_app(load_settings())
        db = app.extensions["ggzy.db"]
        from sqlalchemy import select, update

        from trading.tenders.models import Interest, Tender

        with db.session() as s:
            tender = s.scalars(select(Tender).order_by(Tender.id)).first()
            assert tender is not None
            code = tender.code
            # Room for the whole benchmark (the demo tender closes in 15 minutes).
            s.execute(
                update(Tender)
                .where(Tender.id == tender.id)
                .values(bid_deadline=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
            )
            bidders = [make_bidder_with_keys(s, app) for _ in range(many + 1)]
            for b in bidders:
                s.add(
                    Interest(
                        tender_id=tender.id,
                        org_id=b.user.organisation_id,
                        nonce="0" * 32,
                        commitment=uuid.uuid4().hex * 2,
                        created_at=dt.datetime.now(dt.UTC),
                    )
                )
        port = free_port()
        log = (tmp / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "trading.cli", "serve", "--port", str(port), "--no-scheduler", "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(port, 60)
        base = f"http://127.0.0.1:{port}"

        def client_for(b) -> Client:  # type: ignore[no-untyped-def]
            c = Client(base)
            c.login(b.user.username, "correct horse battery")
            return c

        # --- one big bid
        big_path = tmp / "big.sealed"
        with db.session() as s:
            b0 = bidders[0]
        from bidding.part_digests import seal_file

        src = tmp / "big.bin"
        with src.open("wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(big >> 20):
                f.write(block)
        # sealed as `ggzy-bid seal` does it, which records the prefix digests the upload sends
        seal_file(
            src,
            big_path,
            tender_id=code,
            lot_id="1",
            bidder_id=b0.user.organisation.credit_code,  # type: ignore[union-attr]
            signing_key=b0.sign_key,
            signing_cert=b0.sign_cert,
            recipient_cert=b0.enc_cert,
            now=dt.datetime.now(dt.UTC),
        )
        src.unlink()
        size = big_path.stat().st_size
        c0 = client_for(b0)
        pids = server_pids(server.pid)

        def raw_sm3() -> None:
            h = SM3()
            with big_path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)

        def one_upload() -> None:
            bid = upload_sealed(c0, big_path, code, 1)  # repeated uploads replace each other
            assert bid["size"] == size

        base_rss = {}
        for pid in pids:
            pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")
            base_rss[pid] = _status(pid, "VmRSS")
        # Alternate baseline and upload so that machine noise hits both alike; report medians.
        t_sm3, t_up = paired_times(raw_sm3, one_upload, 3)
        growth = max(_status(pid, "VmHWM") - base_rss[pid] for pid in pids if pathlib.Path(f"/proc/{pid}").exists())
        emit("upload_big_throughput", size / 1e6 / t_up, "MB/s", t_sm3 / t_up, 0.5, "higher")
        emit("upload_big_server_peak_rss_growth", growth / 2**20, "MiB", None, 100, "lower")
        emit("upload_big_size", size / 2**20, "MiB", None, None, "higher")
        big_path.unlink()

        # --- many small bids at once
        blobs = []
        for i, b in enumerate(bidders[1:]):
            p = tmp / f"s{i}.sealed"
            p.write_bytes(seal_bid(b, code, os.urandom(small), chunk_size=256 * 1024))
            blobs.append((b, p))
        clients = [client_for(b) for b, _ in blobs]
        t = time.perf_counter()
        upload_sealed(clients[0], blobs[0][1], code, 1)
        t_one = time.perf_counter() - t
        errors: list[str] = []

        def go(i: int) -> None:
            try:
                upload_sealed(clients[i], blobs[i][1], code, 1)
            except Exception as exc:  # reported below
                import traceback

                where = [f"{fr.name}:{fr.lineno}" for fr in traceback.extract_tb(exc.__traceback__)][-4:]
                errors.append(f"{i}: {exc!r} at {where}")

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(blobs))]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t_all = time.perf_counter() - t
        emit("upload_concurrent_errors", len(errors), "count", None, 0, "lower")
        emit("upload_concurrent_total_time", t_all, "s", t_all / t_one, None, "lower")
        emit("upload_concurrent_count", len(blobs), "uploads", None, None, "higher")
        if errors:
            print("\n".join(errors[:5]), file=sys.stderr)
        app.extensions["ggzy.db"].engine.dispose()
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        cleanup.close()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
