"""Where an upload's bytes wait until it completes, and the running SM3 of each upload, kept in
memory by the worker its connection hits and rebuilt from the staged bytes after a reconnect, a
restart, or a part that another app process took.

Two places: a directory (the embedded default, or ``UPLOAD_STAGING_DIR``: one file per upload,
appended to, and adopted whole by the local object store), or, when the object store is S3, the
object store itself (a staged part per part: any app process takes any part of any upload, and an
app process that dies loses nothing; issue 24)."""

from __future__ import annotations

import os
import pathlib
import threading
from collections.abc import Iterator

from archive.objectstore.base import ObjectMissing, ObjectStore
from archive.objectstore.local import LocalObjectStore
from signing.digest import SM3, sm3_hex
from trading.bids.models import BidUpload
from trading.core.config import Settings, load_settings
from trading.core.errors import Conflict


class StagingLost(Conflict):
    """The staged bytes no longer match what was acknowledged (the upload restarts at part 1)."""

    code = "staging_lost"


def staging_dir(settings: Settings | None = None) -> pathlib.Path:
    """Where uploads are staged (UPLOAD_STAGING_DIR; a shared volume when several app machines run)."""
    return pathlib.Path(os.environ.get("UPLOAD_STAGING_DIR") or (settings or load_settings()).instance / "uploads")


#: a directory, or the object store (its staged parts)
Staging = pathlib.Path | ObjectStore


def staging_for(settings: Settings, store: ObjectStore) -> Staging:
    """The directory when one is configured or the object store is the local one; else the store."""
    if os.environ.get("UPLOAD_STAGING_DIR") or isinstance(store, LocalObjectStore):
        return staging_dir(settings)
    return store


def staged_path(staging: pathlib.Path, upload_id: str) -> pathlib.Path:
    return staging / f"{upload_id}.part"


def part_name(upload_id: str, number: int) -> str:
    return f"{upload_id}/{number}"


def discard(staging: Staging, upload_id: str) -> None:
    """The staged bytes of an upload that ended (completed, abandoned, expired)."""
    if isinstance(staging, ObjectStore):
        staging.delete_staged(upload_id)
    else:
        staged_path(staging, upload_id).unlink(missing_ok=True)
    forget(upload_id)


def _acknowledged(staging: Staging, upload: BidUpload) -> Iterator[bytes]:
    """The bytes accepted so far, as staged (no further than ``upload.received``)."""
    if isinstance(staging, ObjectStore):
        sources = (staging.open_staged(part_name(upload.id, n)) for n in range(1, upload.parts + 1))
    else:
        sources = (staged_path(staging, upload.id).open("rb") for _ in (1,))
    left = upload.received
    for source in sources:
        with source as f:
            while left and (chunk := f.read(min(left, 1 << 20))):
                left -= len(chunk)
                yield chunk


def start_over(upload: BidUpload, message: str) -> StagingLost:
    """Forget what was acknowledged of ``upload`` (the caller commits that and raises the answer)."""
    upload.received, upload.parts, upload.prefix_sm3 = 0, 0, sm3_hex(b"")
    return StagingLost(message)


_hashers: dict[str, tuple[int, SM3]] = {}
_hashers_lock = threading.Lock()


def running_hash(upload: BidUpload, staging: Staging) -> SM3:
    """The SM3 of the bytes accepted so far. A keep-alive connection keeps hitting the same worker,
    which keeps the hash in memory; after a reconnect, a restart or a part another process took, it
    is rebuilt from the staged bytes and checked against the committed digest (parts are not fsynced
    one by one: an OS crash that lost staged bytes is caught here, and the upload starts again from
    the first part)."""
    with _hashers_lock:
        cached = _hashers.get(upload.id)
    # the length alone is not enough: after a restart at part 1 elsewhere, the same length can
    # come back with other bytes, and this process's hash would vouch for bytes never staged
    if cached is not None and cached[0] == upload.received and cached[1].hexdigest() == upload.prefix_sm3:
        return cached[1].copy()
    h, got = SM3(), 0
    try:
        for chunk in _acknowledged(staging, upload):
            h.update(chunk)
            got += len(chunk)
    except (FileNotFoundError, ObjectMissing):
        got = -1
    if got != upload.received or h.hexdigest() != upload.prefix_sm3:
        raise start_over(upload, "暂存数据已损坏，请从第 1 片重新上传")
    return h


def remember(upload_id: str, received: int, h: SM3) -> None:
    with _hashers_lock:
        _hashers[upload_id] = (received, h)


def forget(upload_id: str) -> None:
    with _hashers_lock:
        _hashers.pop(upload_id, None)
