"""Reading a zip a participant made, with bounds: the one way ggzy opens a bid package.

A bid package is the bidder's own zip (``ggzy-bid build``/``seal``), so it is hostile input: a
1.5 MB package whose price sheet inflated to 3.1 GB took a decryption worker with it. Here every
bound is checked twice, on what the archive declares (before a byte is inflated) and on what
inflating actually gives (reading stops at the first byte past a bound):

- entry count and central-directory size (counted from the raw directory, before ``zipfile``
  builds an object per entry);
- each entry's size, declared and actual (an entry that inflates to more than it declares, a
  "lying header", stops there), and a caller's own cap per read;
- compression ratio, per entry and for the whole archive (beyond a small floor);
- total uncompressed size;
- path names (no absolute path, ``..``, backslash, control character or duplicate: a second
  ``开标一览表.json`` would let two readers see two price sheets);
- overlapping entries (the non-recursive "better zip bomb" shares one compressed kernel);
- the layout: entries back to back from offset 0 to the central directory, each local header
  saying what its directory entry says, nothing after the end record but its comment. A
  streaming reader reads local headers only: an unlisted one would be an entry only it sees
  (``archive_gap``, ``archive_header_mismatch``). Only a file with no end record and no local
  header at offset 0 is "not a zip" (``archive_unreadable``); a damaged zip is ``archive_corrupt``;
- only stored and deflated entries, none encrypted; the CRC and the end of each deflate stream
  are checked.

Nested archives are never opened: an entry named ``*.zip`` is bytes like any other, bounded and
counted as such. Only the standard library is used, so the bidder's tool and the platform share
this module (``signing`` is imported by both).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from signing.errors import ArchiveRefused

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_READ = 64 * KiB


@dataclass(frozen=True)
class Limits:
    """Bounds for one archive; the defaults are a bid package's (``ggzy-bid build`` checks its own
    package against them, so an honest bidder never seals one the platform refuses)."""

    max_entries: int = 10_000
    max_directory_bytes: int = 8 * MiB
    max_entry_size: int = 4 * GiB
    max_total: int = 16 * GiB
    #: uncompressed ÷ compressed; ordinary documents deflate 2–10×, text at most ~20×
    max_ratio: int = 100
    #: entries (and archives) up to this size are not held to the ratio: nothing small is a bomb
    ratio_floor: int = 1 * MiB
    max_name_bytes: int = 1024
    max_depth: int = 32


PACKAGE = Limits()


def _refuse(code: str, entry: str | None, detail: str) -> ArchiveRefused:
    return ArchiveRefused(code, entry, detail)


def check_name(name: str, limits: Limits = PACKAGE) -> None:
    """A relative, plain path: what ``write_folder_zip`` writes, and nothing a reader could
    resolve outside the archive or differently from another reader."""
    parts = name.rstrip("/").split("/")
    bad = (
        not name
        or len(name.encode("utf-8", "surrogateescape")) > limits.max_name_bytes
        or name.startswith("/")
        or "\\" in name
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
        or (len(parts[0]) >= 2 and parts[0][1] == ":")
        or any(p in ("", ".", "..") for p in parts)
        or len(parts) > limits.max_depth
    )
    if bad:
        raise _refuse("archive_bad_name", name[:200], "文件名不合规：须为相对路径，不含 ..、反斜杠或控制字符")


def _end_record(f: BinaryIO, size: int) -> tuple[int, int, int]:
    """(entries, directory size, directory offset) from the end record, zip64 included; the
    directory must end exactly where the end records begin, and nothing may follow the end record
    but its own comment. No end record and no local header at offset 0: not a zip at all."""
    tail_len = min(size, _EOCD.size + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        f.seek(0)
        if f.read(4) == b"PK\x03\x04":  # local records a streaming reader would read: damaged, not foreign
            raise _refuse("archive_corrupt", None, "zip 文件包缺少目录结束记录 (no end of central directory)")
        raise _refuse("archive_unreadable", None, "不是 zip 文件包 (no end of central directory)")
    _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset, comment_len = _EOCD.unpack_from(tail, at)
    if at + _EOCD.size + comment_len != len(tail):
        raise _refuse("archive_gap", None, "结束记录之后有多余字节 (bytes after the end record)")
    cd_end = size - len(tail) + at
    locator_at = at - _EOCD64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        _, _, eocd64_offset, _ = _EOCD64_LOCATOR.unpack_from(tail, locator_at)
        # the zip64 record right before its locator, as every writer puts it (and zipfile assumes)
        if eocd64_offset != cd_end - _EOCD64_LOCATOR.size - _EOCD64.size:
            raise _refuse("archive_gap", None, "zip64 结束记录不在定位记录之前 (misplaced zip64 end record)")
        f.seek(eocd64_offset)
        raw = f.read(_EOCD64.size)
        if len(raw) != _EOCD64.size or raw[:4] != b"PK\x06\x06":
            raise _refuse("archive_corrupt", None, "zip64 结束记录损坏 (bad zip64 end record)")
        _, _, _, _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset = _EOCD64.unpack(raw)
        cd_end = eocd64_offset
    if disk or cd_disk or disk_entries != entries:
        raise _refuse("archive_unsupported", None, "分卷 zip 文件包 (multi-disk archive)")
    if cd_offset + cd_size != cd_end:
        raise _refuse("archive_gap", None, "目录与结束记录之间不连续 (central directory not where the end record says)")
    return entries, cd_size, cd_offset


def _count_directory(f: BinaryIO, cd_size: int, cd_offset: int, limits: Limits) -> None:
    """Walk the raw central directory, counting records, before ``zipfile`` parses it."""
    if cd_size > limits.max_directory_bytes:
        raise _refuse("archive_too_many_entries", None, f"目录 {cd_size} 字节，上限 {limits.max_directory_bytes}")
    f.seek(cd_offset)
    cd = f.read(cd_size)
    pos = count = 0
    while pos + _CENTRAL.size <= len(cd) and cd[pos : pos + 4] == b"PK\x01\x02":
        fields = _CENTRAL.unpack_from(cd, pos)
        pos += _CENTRAL.size + fields[12] + fields[13] + fields[14]
        count += 1
        if count > limits.max_entries:
            raise _refuse("archive_too_many_entries", None, f"超过 {limits.max_entries} 个文件")


def _zip64_sizes(extra: bytes) -> tuple[int, int] | None:
    """(uncompressed, compressed) from a local header's zip64 extra field, which must hold both."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        if tag == 0x0001 and length >= 16 and pos + 4 + length <= len(extra):
            usize, csize = struct.unpack_from("<2Q", extra, pos + 4)
            return int(usize), int(csize)
        pos += 4 + length
    return None


def _descriptor(raw: bytes) -> tuple[int, int, int] | None:
    """(CRC, compressed, uncompressed) from a data descriptor that is exactly ``raw``: its
    signature is optional and its sizes 4 or 8 bytes (zip64), so its length tells which."""
    if len(raw) in (16, 24):
        if raw[:4] != b"PK\x07\x08":
            return None
        raw = raw[4:]
    if len(raw) == 12:
        crc, csize, usize = struct.unpack("<3L", raw)
    elif len(raw) == 20:
        crc, csize, usize = struct.unpack("<LQQ", raw)
    else:
        return None
    return int(crc), int(csize), int(usize)


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    data_start: int


class BoundedZip:
    """A zip whose directory passed the declared bounds; read entries with :meth:`stream` or
    :meth:`read`, which hold the actual bytes to the same bounds. ``file`` must be seekable."""

    def __init__(self, file: BinaryIO, limits: Limits = PACKAGE) -> None:
        self.file, self.limits = file, limits
        file.seek(0, 2)
        self.size = size = file.tell()
        entries, cd_size, cd_offset = _end_record(file, size)
        if entries > limits.max_entries:
            raise _refuse("archive_too_many_entries", None, f"{entries} 个文件，上限 {limits.max_entries}")
        _count_directory(file, cd_size, cd_offset, limits)
        try:
            file.seek(0)
            infos = zipfile.ZipFile(file).infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise _refuse("archive_corrupt", None, f"zip 目录无法读取 ({exc})") from None
        if len(infos) != entries:
            raise _refuse("archive_corrupt", None, f"目录有 {len(infos)} 个条目，结束记录声明 {entries} 个")
        self._entries: dict[str, _Entry] = {}
        total = 0
        names: set[str] = set()
        for info in infos:  # names first: a duplicate is named as such, not as the mismatch it causes
            check_name(info.orig_filename, limits)  # zipfile cuts a name at NUL: check the whole
            if info.filename in names:
                raise _refuse("archive_duplicate_entry", info.filename, "同名文件出现两次 (duplicate entry)")
            names.add(info.filename)
        for info in infos:
            name = info.filename
            if info.flag_bits & 0x1:
                raise _refuse("archive_unsupported", name, "加密的 zip 条目 (encrypted entry)")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _refuse("archive_unsupported", name, f"不支持的压缩方法 {info.compress_type}")
            if info.file_size > limits.max_entry_size:
                raise _refuse(
                    "archive_entry_too_large", name, f"声明 {info.file_size} 字节，上限 {limits.max_entry_size}"
                )
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise _refuse("archive_entry_size_mismatch", name, "存储条目的压缩前后大小不一致")
            self._check_ratio(name, info.file_size, info.compress_size)
            total += info.file_size
            if total > limits.max_total:
                raise _refuse("archive_total_too_large", name, f"解压后总大小超过 {limits.max_total} 字节")
            self._entries[name] = _Entry(info, self._data_start(info))
        self.total = total
        if total > limits.ratio_floor and total > limits.max_ratio * max(size, 1):
            raise _refuse("archive_ratio", None, f"整体压缩比超过 {limits.max_ratio}:1")
        self._check_layout(cd_offset)

    def _check_ratio(self, name: str, out: int, used: int) -> None:
        if out > self.limits.ratio_floor and out > self.limits.max_ratio * max(used, 1):
            raise _refuse("archive_ratio", name, f"压缩比超过 {self.limits.max_ratio}:1（{out} / {used} 字节）")

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        """Where the entry's data begins, after a local header that says what the central
        directory says: a streaming reader (which reads local headers only) sees the same entry."""
        name = info.filename
        self.file.seek(info.header_offset)
        raw = self.file.read(_LOCAL.size)
        if len(raw) != _LOCAL.size or raw[:4] != b"PK\x03\x04":
            raise _refuse("archive_corrupt", name, "本地文件头损坏 (bad local header)")
        _, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len = _LOCAL.unpack(raw)
        local_name = self.file.read(name_len)
        extra = self.file.read(extra_len)
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if local_name != info.orig_filename.encode(encoding, "surrogateescape"):
            raise _refuse("archive_header_mismatch", name, "本地文件头的文件名与目录不一致")
        if flags != info.flag_bits or method != info.compress_type:
            raise _refuse("archive_header_mismatch", name, "本地文件头的标志或压缩方法与目录不一致")
        if 0xFFFFFFFF in (csize, usize):
            sizes = _zip64_sizes(extra)
            if sizes is None:
                raise _refuse("archive_header_mismatch", name, "本地文件头缺少 zip64 大小 (no zip64 extra)")
            usize, csize = sizes
        central = (info.CRC, info.compress_size, info.file_size)
        local = (crc, csize, usize)
        # with a data descriptor (flag bit 3) the local values may be left zero: the descriptor has them
        deferred = bool(flags & 0x8)
        if any(v != c and not (deferred and v == 0) for v, c in zip(local, central, strict=True)):
            raise _refuse("archive_header_mismatch", name, "本地文件头的 CRC 或大小与目录不一致")
        return int(info.header_offset) + _LOCAL.size + int(name_len) + int(extra_len)

    def _check_layout(self, cd_offset: int) -> None:
        """Entries back to back from offset 0 up to the central directory, each followed only by
        its data descriptor if it has one: no byte a streaming reader could read as an entry the
        directory does not list (a hidden second price sheet), and no entry inside another's data
        (the non-recursive bomb)."""
        ordered = sorted(self._entries.values(), key=lambda e: e.info.header_offset)
        expected, before = 0, None
        for entry in [*ordered, None]:
            start = cd_offset if entry is None else entry.info.header_offset
            if before is not None:
                end = before.data_start + before.info.compress_size
                name = before.info.filename
                if end > start:
                    raise _refuse("archive_entries_overlap", name, "条目数据互相重叠 (overlapping entries)")
                if before.info.flag_bits & 0x8:
                    self.file.seek(end)
                    found = _descriptor(self.file.read(min(start - end, 25)))  # 24 at most: more is a gap
                    if found is None:
                        raise _refuse("archive_gap", name, f"条目之后有 {start - end} 字节不属于任何条目")
                    if found != (before.info.CRC, before.info.compress_size, before.info.file_size):
                        raise _refuse("archive_header_mismatch", name, "数据描述符与目录不一致 (data descriptor)")
                    expected = start
                else:
                    expected = end
            if start != expected:
                where = "第一个条目之前" if before is None else "条目之后"
                raise _refuse(
                    "archive_gap",
                    None if before is None else before.info.filename,
                    f"{where}有 {start - expected} 字节不属于任何条目 (bytes the directory does not list)",
                )
            before = entry

    @property
    def entries(self) -> list[zipfile.ZipInfo]:
        return [e.info for e in self._entries.values()]

    def info(self, name: str) -> zipfile.ZipInfo | None:
        found = self._entries.get(name)
        return found.info if found else None

    def stream(self, info: zipfile.ZipInfo, cap: int | None = None) -> Iterator[bytes]:
        """The entry's bytes in pieces of at most 64 KiB; raises ``ArchiveRefused`` at the first
        byte past a bound (declared size, ``cap``, ratio), or if the CRC or the stream's end is wrong."""
        name, limit = info.filename, min(cap if cap is not None else info.file_size, self.limits.max_entry_size)
        if info.file_size > limit:
            raise _refuse("archive_entry_too_large", name, f"声明 {info.file_size} 字节，上限 {limit}")
        f, left = self.file, info.compress_size
        f.seek(self._entries[name].data_start)
        out = crc = 0

        def take(n: int) -> bytes:
            nonlocal left
            data = f.read(min(n, left))
            if len(data) != min(n, left):
                raise _refuse("archive_entry_corrupt", name, "条目数据被截断 (truncated entry)")
            left -= len(data)
            return data

        if info.compress_type == zipfile.ZIP_STORED:
            while left:
                piece = take(_READ)
                out += len(piece)
                crc = zlib.crc32(piece, crc)
                yield piece
        else:
            d = zlib.decompressobj(-15)
            while not d.eof:
                # with nothing left to feed, an empty call still drains output zlib holds back
                data = d.unconsumed_tail or (take(_READ) if left else b"")
                try:
                    piece = d.decompress(data, _READ)
                except zlib.error as exc:
                    raise _refuse("archive_entry_corrupt", name, f"压缩数据损坏 ({exc})") from None
                if not data and not piece and not d.eof:
                    raise _refuse("archive_entry_corrupt", name, "压缩数据提前结束 (deflate stream truncated)")
                out += len(piece)
                if out > info.file_size:
                    raise _refuse(
                        "archive_entry_size_mismatch", name, f"实际解压超过声明的 {info.file_size} 字节 (lying header)"
                    )
                self._check_ratio(name, out, info.compress_size - left - len(d.unconsumed_tail))
                crc = zlib.crc32(piece, crc)
                if piece:
                    yield piece
            if left or d.unused_data:
                raise _refuse("archive_entry_corrupt", name, "压缩数据之后还有多余字节 (data after the stream)")
        if out != info.file_size:
            raise _refuse("archive_entry_size_mismatch", name, f"实际 {out} 字节，声明 {info.file_size} 字节")
        if crc != info.CRC:
            raise _refuse("archive_entry_corrupt", name, "CRC 校验失败 (bad CRC-32)")

    def read(self, name: str, cap: int) -> bytes | None:
        """The whole entry ``name`` (at most ``cap`` bytes), or None if there is no such entry."""
        info = self.info(name)
        return None if info is None else b"".join(self.stream(info, cap))

    def verify(self) -> None:
        """Inflate every entry, keeping nothing: the whole archive within its bounds."""
        for info in self.entries:
            for _ in self.stream(info):
                pass
