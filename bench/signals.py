"""A lot's collusion signals (trading.signals) for 200 decrypted bids of 50 files each, against the
time of hashing the same files once (SM3 of every entry, read through the same bounded zip reader),
measured in the same run.

    python bench/signals.py [--quick]

Target (issue 22): the signals take at most 2 × the hashing time. Each package holds the price
sheet, 5 PDFs (with Info metadata, made by pypdf), 4 Office documents (docProps), 20 files of
1–64 KiB of random bytes (scans, drawings) and 20 of text; one bidder in ten copies a plan and its
author from the bidder before it, so signals are found. ``--quick``: 20 bids. What is measured is
the stage's work on the packages (reading, hashing, metadata, every rule), not the database rows
or the signature, which take milliseconds.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import random
import sys
import tempfile
import zipfile
from decimal import Decimal

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench._common import emit, paired_times

FILES = 50
DECLARED = [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}]


def pdf(author: str, created: str, pad: int) -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(595, 842)
    w.add_metadata({"/Author": author, "/Creator": "WPS 文字", "/Producer": "WPS", "/CreationDate": created})
    w.add_attachment("扫描件.bin", random.Random(pad).randbytes(pad))  # a larger file, as scans make them
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def docx(author: str, company: str, rng: random.Random) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "docProps/core.xml",
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">'
            f"<dc:creator>{author}</dc:creator><dcterms:created>2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 86399) // 3600:02d}:"
            f"{rng.randint(0, 3599) // 60:02d}:{rng.randint(0, 59):02d}Z"
            "</dcterms:created></cp:coreProperties>",
        )
        z.writestr(
            "docProps/app.xml",
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            f"<Application>Microsoft Office Word</Application><Company>{company}</Company></Properties>",
        )
        z.writestr("word/document.xml", "<w:document>" + "投标文件正文" * rng.randint(100, 3000) + "</w:document>")
    return out.getvalue()


def make_packages(folder: pathlib.Path, bids: int, rng: random.Random) -> list[pathlib.Path]:
    from signing.price_sheet import FILENAME, build_price_sheet

    paths, shared = [], b""
    for i in range(bids):
        price = f"{rng.randint(8_000_000, 9_999_999)}.{rng.choice(['00', '00', '00', f'{rng.randint(1, 99):02d}'])}"
        path = folder / f"bid{i:03d}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(FILENAME, build_price_sheet("GGZY-2026-000001", 1, price, {"duration_days": "300"}, DECLARED))
            for k in range(5):
                hms = rng.randint(0, 86399)
                created = f"D:202611{rng.randint(1, 28):02d}{hms // 3600:02d}{hms // 60 % 60:02d}{hms % 60:02d}+08'00'"
                data = pdf(f"编制人{i}-{k}", created, rng.randint(1 << 10, 48 << 10))
                if k == 0 and i % 10 == 1:
                    data = shared  # copied from the previous bidder, its author and time with it
                z.writestr(f"商务标/文件{k}.pdf", data)
                if k == 0:
                    shared = data
            for k in range(4):
                z.writestr(f"技术标/文档{k}.docx", docx(f"编制人{i}", f"投标单位{i}", rng))
            for k in range(20):
                z.writestr(f"附件/扫描件{k}.bin", rng.randbytes(rng.randint(1 << 10, 64 << 10)))
            for k in range(FILES - 30):
                z.writestr(
                    f"附件/说明{k}.txt", f"第{k}章 投标人{i}的施工组织设计说明。".encode() * rng.randint(50, 2000)
                )
        paths.append(path)
    return paths


def hash_once(paths: list[pathlib.Path]) -> int:
    """The baseline: SM3 of every file of every package, read through BoundedZip."""
    from signing.bounded_zip import BoundedZip
    from signing.digest import SM3

    n = 0
    for p in paths:
        with p.open("rb") as f:
            z = BoundedZip(f)
            for info in z.entries:
                h = SM3()
                for piece in z.stream(info):
                    h.update(piece)
                h.hexdigest()
                n += 1
    return n


def signals(paths: list[pathlib.Path]) -> int:
    """What a run does with the packages: read each once (hash + metadata), then every rule."""
    from trading.signals.packages import read_package
    from trading.signals.rules import BidFacts, all_signals

    bids = []
    for i, p in enumerate(paths):
        with p.open("rb") as f:
            facts = read_package(f)
        bids.append(
            BidFacts(
                bidder=i + 1,
                addresses=(f"10.0.{i // 250}.{i % 250}",),
                install_id=f"{i:064x}",
                files=facts.files,
                metadata=facts.metadata,
                price=Decimal(random.Random(i).randint(800_000_000, 999_999_999)) / 100,
                contact_phone=f"138{i:08d}",
            )
        )
    return len(all_signals(bids, DECLARED))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    bids, repeat = (20, 3) if args.quick else (200, 5)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        folder = pathlib.Path(tmp)
        paths = make_packages(folder, bids, random.Random(20261205))
        size = sum(p.stat().st_size for p in paths)
        files = hash_once(paths)
        found = signals(paths)
        base, cand = paired_times(lambda: hash_once(paths), lambda: signals(paths), repeat)
    emit("signals_time", cand, "s", cand / base, 2.0, "lower")
    emit("signals_hash_baseline", base, "s", None, None, "lower")
    emit("signals_files", files, "files", None, None, "higher")
    emit("signals_packages_size", size / 2**20, "MiB", None, None, "higher")
    emit("signals_found", found, "signals", None, None, "higher")


if __name__ == "__main__":
    main()
