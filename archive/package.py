"""Archive packages (档案): one zip per lot that proves itself, offline, years later.

Layout and checks are documented in ``archive/PACKAGE.md``. Building streams every file through
SM3 into the zip (sealed bids can be gigabytes); the manifest, written last, lists each file's
path, SM3, size, category and kind, and the platform signs the manifest's SM3. Verifying needs
nothing but the package and the platform's certificate or root: signatures of the manifest, of
every receipt, record, confirmation and sealed bid; every file's digest; every event recomputed
and proven included in the signed checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from signing.canonical import canonical_json
from signing.certs import Certificate
from signing.digest import SM3, sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import (
    sign_statement,
)

FORMAT = "ggzy-archive-package"
VERSION = 2  # 2: the canonical container layout (every header byte checked)
#: Versions ``verify`` reads. Version 1 (written by zipfile, releases up to 693c14d) lies in WORM
#: storage under 15-year retention: it stays verifiable by its own rules for as long as it is kept.
VERSIONS = (1, 2)
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig.json"
PLATFORM_CERT = "certs/platform-signing.pem"
CA_ROOT = "certs/platform-root.pem"
MANIFEST_TYPE = "archive_manifest"

#: The document classes 电子招标投标办法 (2013) 第四十条 requires to be signed and archived.
CATEGORIES = {
    "announcement": "招标公告及变更公告",
    "tender_document": "招标文件及其澄清、修改",
    "bid": "投标文件",
    "receipt": "投标文件接收回执",
    "opening_record": "开标记录",
    "objection": "异议及答复",
    "guarantee": "投标保证金（电子保函）",
    "evaluation": "评标报告（含专家抽取、评审与签名）",
    "award": "中标通知书",
    "supervision": "投诉处理与时限监督记录",
    "credit": "信用查询记录（报名时与评标时，平台签名）",
    "signals": "串标迹象（开标后计算，平台签名）与评标委员会的研判意见",
    "auction_document": "产权交易标的文件（出让、转让文件及标的资料）",
    "auction_registration": "竞买申请、资格审核及竞买人提交的文件",
    "auction_deposit": "竞买保证金收取、转为价款及退还记录",
    "auction_bid": "竞价记录（竞买人签名的出价与竞价室公告）",
    "auction_result": "底价揭示与成交确认书（流拍公告），平台签名",
    "event_log": "交易过程记录",
    "checkpoint": "日志检查点",
    "certificate": "证书",
}


@dataclass(frozen=True)
class Entry:
    path: str
    category: str
    kind: str  # what the verifier checks inside: sealed_bid, receipt, opened_bid, record, …
    open: Callable[[], contextlib.AbstractContextManager[IO[bytes]]]
    meta: dict[str, Any] = field(default_factory=dict)


def bytes_entry(path: str, category: str, kind: str, data: bytes, **meta: Any) -> Entry:
    return Entry(path, category, kind, lambda: contextlib.nullcontext(io.BytesIO(data)), meta)


# ---------------------------------------------------------------- the container
# Every package is written in one canonical ZIP layout (APPNOTE 6.3.x, ZIP64 always, stored,
# UTF-8 names, the date 1980-01-01, no comments, no attributes), so that the verifier can
# recompute every header byte from the entries' names, sizes and CRCs: a damaged byte anywhere
# in the file is then a finding, not only a damaged byte inside a file the manifest lists.
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR = struct.Struct("<IIQI")
_EOCD = struct.Struct("<IHHHHIIH")
_ZIP_VERSION = 45  # ZIP64
_UTF8_NAME = 0x0800
_DOS_DATE = (1 << 5) | 1  # 1980-01-01
_FFFF, _FFFFFFFF = 0xFFFF, 0xFFFFFFFF


def local_header(name: str, crc: int, size: int) -> bytes:
    raw = name.encode("utf-8")
    fixed = _LOCAL.pack(0x04034B50, _ZIP_VERSION, _UTF8_NAME, 0, 0, _DOS_DATE, crc, _FFFFFFFF, _FFFFFFFF, len(raw), 20)
    return fixed + raw + struct.pack("<HHQQ", 1, 16, size, size)


def central_directory(entries: Sequence[tuple[str, int, int, int]], offset: int) -> bytes:
    """The central directory and end records for entries (name, crc, size, header offset) that
    end at ``offset``."""
    records = []
    for name, crc, size, at in entries:
        raw = name.encode("utf-8")
        fixed = _CENTRAL.pack(
            0x02014B50,
            _ZIP_VERSION,
            _ZIP_VERSION,
            _UTF8_NAME,
            0,
            0,
            _DOS_DATE,
            crc,
            _FFFFFFFF,
            _FFFFFFFF,
            len(raw),
            28,
            0,
            0,
            0,
            0,
            _FFFFFFFF,
        )
        records.append(fixed + raw + struct.pack("<HHQQQ", 1, 24, size, size, at))
    cd = b"".join(records)
    n, end = len(entries), offset + len(cd)
    return (
        cd
        + _EOCD64.pack(0x06064B50, 44, _ZIP_VERSION, _ZIP_VERSION, 0, 0, n, n, len(cd), offset)
        + _LOCATOR.pack(0x07064B50, 0, end, 1)
        + _EOCD.pack(0x06054B50, 0, 0, min(n, _FFFF), min(n, _FFFF), min(len(cd), _FFFFFFFF), min(offset, _FFFFFFFF), 0)
    )


class _Writer:
    """Streams entries into ``dst`` (seekable: each header is rewritten once its CRC is known)."""

    def __init__(self, dst: BinaryIO) -> None:
        self.dst, self.start = dst, dst.tell()
        self.entries: list[tuple[str, int, int, int]] = []

    def add(self, name: str, src: IO[bytes]) -> tuple[str, int]:
        if any(name == e[0] for e in self.entries) or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"bad or duplicate entry name {name!r}")
        at = self.dst.tell()
        self.dst.write(local_header(name, 0, 0))
        h, crc, size = SM3(), 0, 0
        while chunk := src.read(1 << 20):
            h.update(chunk)
            crc = zlib.crc32(chunk, crc)
            self.dst.write(chunk)
            size += len(chunk)
        end = self.dst.tell()
        self.dst.seek(at)
        self.dst.write(local_header(name, crc, size))
        self.dst.seek(end)
        self.entries.append((name, crc, size, at - self.start))
        return h.hexdigest(), size

    def close(self) -> None:
        self.dst.write(central_directory(self.entries, self.dst.tell() - self.start))


def build(
    dst: BinaryIO,
    entries: Iterable[Entry],
    header: dict[str, Any],
    *,
    key: PrivateKey,
    cert: Certificate,
    root: Certificate,
    now: dt.datetime,
) -> dict[str, Any]:
    """Write the package to ``dst``; return its manifest."""
    files: list[dict[str, Any]] = []
    out = _Writer(dst)
    for e in [
        bytes_entry(PLATFORM_CERT, "certificate", "certificate", cert.to_pem()),
        bytes_entry(CA_ROOT, "certificate", "certificate", root.to_pem()),
        *entries,
    ]:
        if e.category not in CATEGORIES:
            raise ValueError(f"unknown category {e.category}")
        with e.open() as src:
            digest, size = out.add(e.path, src)
        files.append({"path": e.path, "sm3": digest, "size": size, "category": e.category, "kind": e.kind, **e.meta})
    manifest = {"format": FORMAT, "version": VERSION, **header, "built_at": now.isoformat(), "files": files}
    data = canonical_json(manifest)
    out.add(MANIFEST, io.BytesIO(data))
    st = sign_statement(MANIFEST_TYPE, {"manifest_sm3": sm3_hex(data), "format": FORMAT}, key=key, cert=cert, now=now)
    out.add(MANIFEST_SIG, io.BytesIO(st.to_json()))
    out.close()
    return manifest
