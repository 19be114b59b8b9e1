"""Object store streaming: a 1 GiB object in and out of the filesystem store and of an S3 server
(moto, on loopback) through the minio SDK, with this process's peak RSS growth.

    python bench/objectstore.py [--quick]

Target (issue 2): peak memory growth under 64 MiB for each direction. Throughput is printed as a
ratio to raw SM3 hashing of the same bytes in the same run (hashing is part of every put).
"""

from __future__ import annotations

import argparse
import io
import pathlib
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench._common import emit, median_time, peak_growth
from signing.digest import SM3

BLOCK = 1 << 20


class Source(io.RawIOBase):
    """``size`` bytes of a repeated random block, produced on demand (no file, no big buffer)."""

    def __init__(self, size: int, block: bytes) -> None:
        self.left = size
        self.block = block

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        k = min(self.left, len(self.block), n if n and n > 0 else len(self.block))
        self.left -= k
        return self.block[:k]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    size = (64 if args.quick else 1024) << 20
    import os

    block = os.urandom(BLOCK)
    mb = size / 1e6

    def raw_sm3() -> None:
        h = SM3()
        src = Source(size, block)
        while b := src.read(BLOCK):
            h.update(b)

    t_sm3 = median_time(raw_sm3, 3)

    from archive.objectstore import open_store
    from tests.conftest import free_port, wait_for_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
            stores = {
                "local": open_store(str(pathlib.Path(d) / "objects")),
                "s3": open_store(f"minio://ak:sk@127.0.0.1:{port}/bench-{uuid.uuid4().hex[:8]}"),
            }
            for name, store in stores.items():
                result: dict[str, str] = {}

                def put(store=store, result=result) -> None:  # type: ignore[no-untyped-def]
                    result["key"] = store.put_stream(Source(size, block)).key  # type: ignore[arg-type]

                def get(store=store, result=result) -> None:  # type: ignore[no-untyped-def]
                    total = 0
                    with store.open(result["key"]) as f:
                        while chunk := f.read(BLOCK):
                            total += len(chunk)
                    assert total == size

                import time

                t = time.perf_counter()
                growth = peak_growth(put)
                t_put = time.perf_counter() - t
                emit(f"objectstore_{name}_put_peak_rss_growth", growth / 2**20, "MiB", None, 64, "lower")
                emit(f"objectstore_{name}_put_throughput", mb / t_put, "MB/s", t_sm3 / t_put, None, "higher")
                t = time.perf_counter()
                growth = peak_growth(get)
                t_get = time.perf_counter() - t
                emit(f"objectstore_{name}_get_peak_rss_growth", growth / 2**20, "MiB", None, 64, "lower")
                emit(f"objectstore_{name}_get_throughput", mb / t_get, "MB/s", t_sm3 / t_get, None, "higher")
                store.delete(result["key"])
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
