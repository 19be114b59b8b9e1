"""Zip files written byte by byte, so that tests can make the ones ``zipfile`` refuses to: lying
sizes, overlapping entries, bombs (made in a second, without inflating anything)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

MiB = 1 << 20


@dataclass
class RawEntry:
    name: str
    data: bytes  # as stored: raw deflate for method 8
    crc: int
    size: int  # the uncompressed size the headers declare
    method: int = 8
    flags: int = 0x800
    offset: int | None = None  # where its local header goes (None: next)


def deflated(plain: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(plain) + c.flush()


def entry(name: str, plain: bytes, method: int = 8) -> RawEntry:
    data = deflated(plain) if method == 8 else plain
    return RawEntry(name, data, zlib.crc32(plain), len(plain), method)


def zero_bomb(size: int) -> tuple[bytes, int]:
    """Raw deflate of ``size`` zero bytes (a multiple of 1 MiB) and their CRC-32: one MiB is
    deflated once and its self-contained blocks repeated (ratio ~1000:1)."""
    assert size % MiB == 0
    block = bytes(MiB)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no back-reference out
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(block, crc)
    return segment * (size // MiB) + end, crc


def write_zip(dst: BinaryIO, entries: list[RawEntry], central: list[RawEntry] | None = None) -> None:
    """Local records for ``entries``, then a central directory naming ``central`` (default the same)."""
    start = dst.tell()
    offsets: dict[str, int] = {}
    for e in entries:
        if e.offset is not None:
            dst.seek(start + e.offset)
        offsets[e.name] = dst.tell() - start
        name = e.name.encode()
        dst.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, e.flags, e.method, 0, 0x21, e.crc, len(e.data), e.size, len(name), 0
            )
        )
        dst.write(name)
        dst.write(e.data)
    dst.seek(0, 2)
    cd_start = dst.tell() - start
    rows = central if central is not None else entries
    for e in rows:
        name = e.name.encode()
        dst.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                e.flags,
                e.method,
                0,
                0x21,
                e.crc,
                len(e.data),
                e.size,
                len(name),
                0,
                0,
                0,
                0,
                0o644 << 16,
                offsets[e.name] if e.offset is None else e.offset,
            )
        )
        dst.write(name)
    cd_size = dst.tell() - start - cd_start
    dst.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(rows), len(rows), cd_size, cd_start, 0))
