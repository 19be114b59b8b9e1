"""SM3 (GB/T 32905) through OpenSSL, streaming over bytes or file-like objects.

hashlib's OpenSSL SM3 is used where the interpreter's OpenSSL has it: it is the same OpenSSL
code, and it releases the GIL while hashing large buffers (measured here: two threads hash in
parallel; with ``cryptography`` they run one after the other), which lets an upload hash the next
part while the current one is sent. ``cryptography`` is the fallback.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from types import TracebackType
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hashes

#: Read size for streaming; large enough that per-call overhead vanishes (<1 %).
BLOCK = 1 << 20


def _hashlib_sm3() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


USE_HASHLIB = _hashlib_sm3()


def _new() -> Any:
    return hashlib.new("sm3") if USE_HASHLIB else hashes.Hash(hashes.SM3())


def _final(h: Any) -> bytes:
    return bytes(h.digest()) if USE_HASHLIB else bytes(h.copy().finalize())


class SM3:
    """Incremental SM3: ``update`` any number of times, then ``digest``/``hexdigest``."""

    __slots__ = ("_h",)
    digest_size = 32

    def __init__(self, data: bytes = b"") -> None:
        self._h = _new()
        if data:
            self._h.update(data)

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)

    def copy(self) -> SM3:
        new = SM3.__new__(SM3)
        new._h = self._h.copy()
        return new

    def digest(self) -> bytes:
        """Final digest; the object stays usable."""
        return _final(self._h)

    def hexdigest(self) -> str:
        return self.digest().hex()


def sm3(data: bytes) -> bytes:
    """SM3 of a byte string."""
    h = _new()
    h.update(data)
    return _final(h)


def sm3_hex(data: bytes) -> str:
    return sm3(data).hex()


def sm3_stream(src: BinaryIO, block: int = BLOCK) -> tuple[bytes, int]:
    """SM3 and byte count of everything readable from ``src``, in constant memory."""
    h = _new()
    buf = bytearray(block)
    view = memoryview(buf)
    total = 0
    while True:
        n = src.readinto(view)  # type: ignore[attr-defined]
        if not n:
            break
        h.update(view[:n])
        total += n
    return _final(h), total


_MARK = object()


class BackgroundSM3:
    """SM3 computed in a thread beside the caller, so that hashing overlaps the caller's I/O or
    encryption on another core (hashlib's SM3 releases the GIL; without it this is only slower).

    ``update`` hands bytes over (at most ``depth`` writes wait); ``mark`` records the digest of
    everything so far; ``finish`` waits and returns the hash and the marks. Use as a context
    manager so the thread ends whatever happens.
    """

    def __init__(self, h: SM3 | None = None, depth: int = 4) -> None:
        self._h = h if h is not None else SM3()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._marks: list[str] = []
        self._error: Exception | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def update(self, data: bytes | memoryview) -> None:
        """``data`` must not change afterwards (pass bytes, or a view of bytes)."""
        self._queue.put(data)

    def mark(self) -> None:
        self._queue.put(_MARK)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that update() never blocks; finish() raises
            try:
                if item is _MARK:
                    self._marks.append(self._h.hexdigest())
                else:
                    self._h.update(item)
            except Exception as exc:
                self._error = exc

    def finish(self) -> tuple[SM3, list[str]]:
        if not self._done:
            self._done = True
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._h, self._marks

    def __enter__(self) -> BackgroundSM3:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._done:
            self._done = True
            self._queue.put(None)
            self._thread.join()
