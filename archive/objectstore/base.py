"""The ObjectStore interface and what both implementations share."""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from signing.digest import SM3

READ_BLOCK = 1 << 20
KEY_PREFIX = "sm3/"


class ObjectStoreError(Exception):
    code = "object_store_error"


class ObjectMissing(ObjectStoreError):
    code = "object_missing"


class ObjectTooLarge(ObjectStoreError):
    code = "object_too_large"


class RetentionError(ObjectStoreError):
    """Deleting, overwriting or shortening the retention of a retained object."""

    code = "retained"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    retain_until: dt.datetime | None = None
    legal_hold: bool = False

    @property
    def sm3(self) -> str:
        return self.key.removeprefix(KEY_PREFIX)


def check_deletable(obj: StoredObject | None, key: str, now: dt.datetime) -> StoredObject:
    """Refuse to delete a missing, retained or held object (both backends apply this first)."""
    if obj is None:
        raise ObjectMissing(f"对象不存在 {key} (no such object)")
    if obj.legal_hold or (obj.retain_until and obj.retain_until > now):
        raise RetentionError("对象处于保留期或法律保全中，不能删除 (object is retained)")
    return obj


def check_extension(obj: StoredObject | None, key: str, until: dt.datetime) -> StoredObject:
    """COMPLIANCE retention may be extended, never shortened."""
    if obj is None:
        raise ObjectMissing(f"对象不存在 {key} (no such object)")
    if obj.retain_until and until < obj.retain_until:
        raise RetentionError("合规保留期不能缩短 (COMPLIANCE retention cannot be shortened)")
    return obj


def start_writeback(f: IO[bytes], offset: int, length: int) -> None:
    """Start writing ``length`` bytes at ``offset`` to disk now, without waiting (Linux begins
    writeback of dirty pages on DONTNEED), so that the one fsync when the file is stored has
    little left to do."""
    f.flush()
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(f.fileno(), offset, length, os.POSIX_FADV_DONTNEED)


def key_for(digest_hex: str) -> str:
    return KEY_PREFIX + digest_hex


def check_key(key: str) -> str:
    digest = key.removeprefix(KEY_PREFIX)
    if not key.startswith(KEY_PREFIX) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ObjectMissing(f"无效的对象键 {key!r} (invalid object key)")
    return digest


class HashingReader:
    """Wraps a stream: counts and SM3-hashes what is read, enforcing a size limit."""

    def __init__(self, src: IO[bytes], max_size: int | None) -> None:
        self._src = src
        self._max = max_size
        self.size = 0
        self.hash = SM3()

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n if n is not None and n >= 0 else READ_BLOCK)
        if data:
            self.size += len(data)
            if self._max is not None and self.size > self._max:
                raise ObjectTooLarge(f"文件超过大小上限 {self._max} 字节 (object larger than {self._max} bytes)")
            self.hash.update(data)
        return data


STAGED_NAME = re.compile(r"[0-9a-f]{32}/[1-9][0-9]{0,5}")


def check_staged(name: str) -> str:
    if not STAGED_NAME.fullmatch(name):
        raise ObjectStoreError(f"暂存分片名无效 {name!r} (bad staged part name)")
    return name


class ChunkReader:
    """A readable stream over an iterator of byte strings."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._buf = chunks, b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


class ObjectStore(abc.ABC):
    """Streaming, content-addressed, with retention where the backend supports it."""

    @abc.abstractmethod
    def put_stream(self, src: IO[bytes], *, max_size: int | None = None) -> StoredObject:
        """Store everything readable from ``src``; atomic: the object appears whole or not at all."""

    @abc.abstractmethod
    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A readable stream of the object (use as a context manager)."""

    @abc.abstractmethod
    def stat(self, key: str) -> StoredObject | None:
        """Size and retention, or None when absent."""

    @abc.abstractmethod
    def list(self, prefix: str = KEY_PREFIX) -> Iterator[StoredObject]: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; refused (``RetentionError``) while retained or on legal hold."""

    @abc.abstractmethod
    def set_retention(self, key: str, until: dt.datetime) -> None:
        """COMPLIANCE retention: may be extended, never shortened or removed."""

    @abc.abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> None: ...

    @abc.abstractmethod
    def adopt_file(self, path: str, sm3_hex: str, size: int) -> StoredObject:
        """Store a finished local file whose SM3 the caller computed while receiving it (the bid
        upload service hashes every byte once as it arrives). The file is consumed."""

    # ------------------------------------------------ staged parts (uploads waiting to be whole)
    # Named, not content-addressed: ``<upload id>/<part number>``, overwritten by a retry and
    # deleted when the upload ends, so that any app process can take any part of any upload.

    @abc.abstractmethod
    def put_staged(self, name: str, src: IO[bytes]) -> int:
        """Store everything readable from ``src`` as staged part ``name`` (whole or not at all,
        replacing one of that name); the bytes written."""

    @abc.abstractmethod
    def open_staged(self, name: str) -> AbstractContextManager[BinaryIO]: ...

    @abc.abstractmethod
    def delete_staged(self, upload: str) -> None:
        """Every staged part of ``upload``; none is no error."""

    def assemble(self, names: Sequence[str], *, max_size: int) -> StoredObject:
        """Staged parts, in order, stored as one content-addressed object (its key names its SM3,
        which the caller compares with the digest it acknowledged)."""
        with contextlib.ExitStack() as stack:
            parts = iter(names)

            def chunks() -> Iterator[bytes]:
                for name in parts:
                    f = stack.enter_context(self.open_staged(name))
                    while chunk := f.read(1 << 20):
                        yield chunk

            return self.put_stream(cast(IO[bytes], ChunkReader(chunks())), max_size=max_size)

    def put_bytes(self, data: bytes) -> StoredObject:
        import io

        return self.put_stream(io.BytesIO(data))

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()
