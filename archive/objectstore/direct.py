"""Writing a large new file around the page cache (``O_DIRECT``), for the decryption workers.

Why: the workers are CPU-bound (SM4-GCM and SM3), and a buffered write is not free on these
machines. Measured on one (2 cores, ext4 on virtio): writing files of 20 MiB one after another
costs about 5 ms of kernel time each at first, and about 50 ms each once a few hundred MiB have
gone through the page cache; in ``bench/opening.py`` the workers' kernel time per bid grew from
0.01 s to 0.08 s over the run, against 0.27 s of crypto. Written from our own aligned buffer,
the pages go to the disk without being copied into the cache: about 3 ms of kernel time per
20 MiB, the same at the end of the run as at the start. The plaintext is not read again soon
(evaluation opens it days later), so keeping it out of the cache costs nothing.

Where ``O_DIRECT`` is missing (not Linux) or refused (a filesystem without it) the same class
writes through the cache, so callers need not care. Durability is still the caller's fsync.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

#: Direct I/O wants buffer address, length and file offset aligned to the logical block size;
#: 4096 covers the usual 512 and 4096.
ALIGN = 4096


class DirectFile:
    """A write-only, truncating file; ``write`` fills one of two page-aligned buffers while a
    thread hands the other to the kernel (a direct write waits for the disk; the caller goes on
    decrypting meanwhile). ``close`` writes the tail (padded to a block, then truncated)."""

    def __init__(self, path: str, buffer_size: int = 1 << 20) -> None:
        if buffer_size <= 0 or buffer_size % ALIGN:
            raise ValueError(f"buffer_size must be a positive multiple of {ALIGN}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        direct = getattr(os, "O_DIRECT", 0)
        self.direct = bool(direct)
        try:
            self._fd = os.open(path, flags | direct, 0o600)
        except OSError as exc:
            if not direct or exc.errno != errno.EINVAL:
                raise
            self._fd, self.direct = os.open(path, flags, 0o600), False
        self._bufs = [mmap.mmap(-1, buffer_size) for _ in range(2)]  # anonymous maps are page-aligned
        self._views = [memoryview(b) for b in self._bufs]
        self._current = 0
        self._fill = 0
        self.size = 0
        self._writer = ThreadPoolExecutor(max_workers=1)
        self._pending: Future[None] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        src = memoryview(data).cast("B")
        pos, n, cap = 0, len(src), len(self._bufs[0])
        while pos < n:
            k = min(n - pos, cap - self._fill)
            self._views[self._current][self._fill : self._fill + k] = src[pos : pos + k]
            self._fill += k
            pos += k
            if self._fill == cap:
                self._hand_over(cap)
        self.size += n
        return n

    def _hand_over(self, length: int) -> None:
        """Queue the current buffer for writing and switch to the other, once it is written."""
        self._wait()
        self._pending = self._writer.submit(self._write_out, self._views[self._current], length)
        self._current ^= 1
        self._fill = 0

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # re-raises the writer's error here, in the caller

    def _write_out(self, view: memoryview, length: int) -> None:
        done = 0
        while done < length:
            try:
                done += os.write(self._fd, view[done:length])
            except OSError as exc:
                # a filesystem that accepts O_DIRECT at open but not for this write: go buffered
                if not self.direct or exc.errno != errno.EINVAL:
                    raise
                fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                self.direct = False

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self._wait()
            if self._fill:
                tail, view = self._fill, self._views[self._current]
                if self.direct:
                    padded = -(-tail // ALIGN) * ALIGN
                    view[tail:padded] = bytes(padded - tail)
                    tail = padded
                self._write_out(view, tail)
            os.ftruncate(self._fd, self.size)  # drops the padding of the last block
        finally:
            if self._pending is not None:  # an error above: let the writer finish before closing
                with contextlib.suppress(BaseException):
                    self._pending.result()
            self._writer.shutdown()
            os.close(self._fd)
            self._fd = -1
            for v, b in zip(self._views, self._bufs, strict=True):
                v.release()
                b.close()

    def __enter__(self) -> DirectFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
