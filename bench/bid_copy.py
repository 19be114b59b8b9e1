"""An expert's watermarked copy of a large opened bid (trading.evaluation.watermark).

    python bench/bid_copy.py [--quick]

A bid of 1 GiB (64 MiB with --quick): one incompressible drawing, as scans and CAD files are,
and a three-page PDF to stamp. Baseline in the same run: copying the same bytes as they are and
hashing them with SM3, which a copy can never beat. Figures: the copy's time against that
baseline, and how far the copy raised the process's peak memory, against the bid's size (bids
may be 4 GiB: a copy held in memory would need several times that in a web worker).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench._common import emit, peak_growth


def make_bid(path: pathlib.Path, mib: int) -> None:
    from tests.factories import pdf_pages

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("商务标/投标函.pdf", pdf_pages(3))
        with z.open("图纸/总平面图.dwg", "w", force_zip64=True) as w:
            for _ in range(mib):
                w.write(os.urandom(1 << 20))


def raw_copy(bid: pathlib.Path, out: pathlib.Path) -> None:
    from signing.digest import sm3_stream

    with bid.open("rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    with out.open("rb") as f:
        sm3_stream(f)


def watermarked_copy(bid: pathlib.Path, out: pathlib.Path) -> None:
    from signing.digest import sm3_stream
    from trading.evaluation.watermark import seekable, watermark_zip

    with bid.open("rb") as raw, seekable(raw, out.parent) as src, out.open("wb") as dst:
        watermark_zip(src, dst, "评标专用 专家 演示（1） 2026-12-03 10:00 编号 00000001")
    with out.open("rb") as f:
        sm3_stream(f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    mib = 64 if args.quick else 1024
    repeat = 3
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        folder = pathlib.Path(tmp)
        bid, out = folder / "bid.zip", folder / "copy.zip"
        make_bid(bid, mib)
        size = bid.stat().st_size
        base, cand = [], []
        for _ in range(repeat):  # alternately, so the machine's drift hits both alike
            for fn, times in ((raw_copy, base), (watermarked_copy, cand)):
                t = time.perf_counter()
                fn(bid, out)
                times.append(time.perf_counter() - t)
        growth = peak_growth(lambda: watermarked_copy(bid, out))
    b, c = statistics.median(base), statistics.median(cand)
    emit("bid_copy_time", c, "s", c / b, None, "lower")
    emit("bid_copy_raw_baseline", b, "s", None, None, "lower")
    emit("bid_copy_peak_rss_growth", growth / 2**20, "MiB", growth / size, 0.1, "lower")
    emit("bid_copy_bid_size", size / 2**20, "MiB", None, None, "higher")


if __name__ == "__main__":
    main()
