"""Serve a stored object only as the bytes its audit event names.

A download's audit event (``archive.download``, ``tender_document.read``, a sealed
``tender_document.download``) commits before the first byte leaves and names the SM3 and size the
platform holds for the object: what the bytes *must* hash to, not a hash of what is read. The
stream here hashes the bytes as it serves them and holds the last chunk back until the whole is
checked; if the bytes read do not hash to that SM3 (or are not that many), it logs, lets the
caller record the damage in a transaction of its own, and raises, so the server breaks the
response off and the client gets a transfer short of its ``Content-Length`` — never a complete
download of damaged bytes. So every complete download has exactly the SM3 its event names.

Core level: archive downloads and tender-document downloads both use it; it imports nothing of
theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import BinaryIO

from flask import Response, stream_with_context

from signing.digest import SM3

log = logging.getLogger("ggzy.downloads")

CHUNK = 1 << 20

#: records the damage (served SM3, bytes read) in a transaction of its own
OnDamage = Callable[[str, int], None]


class DamagedDownload(RuntimeError):
    """Raised inside the stream: the server aborts the response, so the client sees a broken
    transfer (short of Content-Length), never a complete download of damaged bytes."""


def checked_chunks(
    handle: AbstractContextManager[BinaryIO], sm3: str, size: int, what: str, on_damage: OnDamage
) -> Iterator[bytes]:
    """The object's bytes, checked against ``sm3`` and ``size`` before the last chunk leaves.

    ``what`` names the object in the log line and the exception (never a reader: the caller
    decides what may be said). A stored object longer than ``size`` is cut off as soon as it
    overruns, so no more than ``size`` bytes are ever sent (its served SM3 is then that of the
    bytes read up to the overrun)."""
    h, served, held = SM3(), 0, b""
    with handle as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            served += len(chunk)
            if served > size:
                break
            if held:
                yield held
            held = chunk
    got = h.hexdigest()
    if got != sm3 or served != size:
        log.error(
            "download of %s damaged: served SM3 %s (%d bytes) != recorded %s (%d bytes)", what, got, served, sm3, size
        )
        try:
            on_damage(got, served)
        except Exception:
            # The transfer is broken off below whatever happens to the record.
            log.exception("download of %s damaged: the damage could not be recorded", what)
        raise DamagedDownload(f"{what} is damaged: the bytes served do not hash to the recorded SM3")
    if held:
        yield held


def checked_response(
    handle: AbstractContextManager[BinaryIO],
    *,
    sm3: str,
    size: int,
    what: str,
    on_damage: OnDamage,
    mimetype: str,
    headers: Mapping[str, str],
) -> Response:
    """A streamed response of ``checked_chunks`` with ``Content-Length`` set to ``size``, so a
    client (and any proxy) can tell a broken-off transfer from a complete one."""
    resp = Response(stream_with_context(checked_chunks(handle, sm3, size, what, on_damage)), mimetype=mimetype)
    resp.headers.update(headers)
    resp.headers["Content-Length"] = str(size)
    return resp
