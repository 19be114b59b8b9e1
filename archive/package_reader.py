"""Reading an archive package with bounds, before its manifest is trusted: how many entries,
how large a certificate, a parsed JSON file or one event line may be, and whether the container
is laid out canonically."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Iterator
from typing import IO

from archive.package import central_directory, local_header
from archive.package_findings import Damage
from signing.digest import SM3

#: Bounds on what is read from a package before its manifest is trusted, and on parsed files.
MAX_ENTRIES = 100_000
MAX_CERT = 64 << 10
MAX_PARSED = 64 << 20  # a JSON file the verifier parses whole
MAX_LINE = 4 << 20  # one event of log/events.jsonl
HEX_DIGITS = frozenset("0123456789abcdef")


class OpenedPackage:
    """The entries of a package, read with bounds: stored only, at most the size the signed
    manifest (or a fixed cap) allows, every CRC checked, duplicates refused."""

    def __init__(self, z: zipfile.ZipFile) -> None:
        self.z = z
        self.infos: dict[str, zipfile.ZipInfo] = {}
        self.duplicates: set[str] = set()
        for info in z.infolist():
            if info.filename in self.infos:
                self.duplicates.add(info.filename)
            self.infos[info.filename] = info

    def info(self, path: str) -> zipfile.ZipInfo:
        if path in self.duplicates:
            raise Damage("entry_duplicate", f"{path} 在包中出现多次 (entry appears more than once)")
        info = self.infos.get(path)
        if info is None:
            raise Damage("entry_missing", f"{path} 缺失 (missing)")
        if info.compress_type != zipfile.ZIP_STORED:
            raise Damage(
                "unsupported_compression", f"{path} 不是存储方式 (entry is compressed, method {info.compress_type})"
            )
        if info.flag_bits & 0x1:
            raise Damage("encrypted_entry", f"{path} 已加密 (entry is encrypted)")
        return info

    @contextlib.contextmanager
    def open(self, path: str, limit: int) -> Iterator[BoundedStream]:
        info = self.info(path)
        if info.file_size > limit:
            raise Damage("entry_too_large", f"{path} 大小 {info.file_size} 超过上限 {limit} (entry too large)")
        with self.z.open(info) as f:
            yield BoundedStream(f, limit, path)

    def read(self, path: str, limit: int = MAX_PARSED) -> bytes:
        with self.open(path, limit) as f:
            return f.read()

    def digest(self, path: str, limit: int) -> tuple[str, int]:
        with self.open(path, limit) as f:
            h, size = SM3(), 0
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size


class BoundedStream:
    """A read-only view that refuses to yield more than ``limit`` bytes (whatever the headers say)."""

    def __init__(self, src: IO[bytes], limit: int, path: str) -> None:
        self.src, self.left, self.path = src, limit, path

    def read(self, n: int | None = -1) -> bytes:
        return self._counted(self.src.read(self._want(n)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self.src.readline(self._want(size)))

    def _want(self, n: int | None) -> int:
        # one byte past the bound, so that an entry larger than it is seen, not cut silently
        return self.left + 1 if n is None or n < 0 else min(n, self.left + 1)

    def _counted(self, data: bytes) -> bytes:
        if len(data) > self.left:
            raise Damage("entry_too_large", f"{self.path} 超过大小上限 (entry larger than its bound)")
        self.left -= len(data)
        return data


def layout_problems(source: IO[bytes], z: zipfile.ZipFile) -> list[tuple[str, str]]:
    """Every header byte recomputed from the entries (name, CRC, size) and compared with the file:
    what zipfile does not check (dates, flags, versions, attributes, extra fields, gaps, bytes
    after the end) must be exactly as ``build`` writes it. Returns (code, detail) findings."""
    found: list[tuple[str, str]] = []
    source.seek(0, io.SEEK_END)
    length = source.tell()
    offset, entries = 0, []
    for info in z.infolist():
        name = info.orig_filename
        if info.header_offset != offset or info.compress_size != info.file_size:
            found.append(("layout_not_canonical", f"{name}：条目位置或大小不连续 (entry offset or size out of place)"))
            return found
        try:
            expected = local_header(name, info.CRC, info.file_size)
        except UnicodeError as exc:
            found.append(("bad_encoding", f"{name!r}: {exc}"))
            return found
        source.seek(offset)
        if source.read(len(expected)) != expected:
            found.append(("layout_not_canonical", f"{name}：本地文件头与规范不符 (local header differs)"))
        entries.append((name, info.CRC, info.file_size, offset))
        offset += len(expected) + info.file_size
        if offset > length:
            found.append(("truncated", f"{name}：数据超出文件末尾 (data beyond the end of the file)"))
            return found
    expected = central_directory(entries, offset)
    if length - offset != len(expected):
        found.append(("layout_not_canonical", f"中央目录之后长度不符：{length - offset} ≠ {len(expected)} 字节"))
        return found
    source.seek(offset)
    if source.read(len(expected)) != expected:
        found.append(("layout_not_canonical", "中央目录或结束记录与规范不符 (central directory or end records differ)"))
    return found
