"""Where an upload's bytes wait until it completes (the staging volume), and the running SM3 of
each upload, kept in memory by the worker its connection hits and rebuilt from the staged file
after a reconnect or a restart."""

from __future__ import annotations

import os
import pathlib
import threading

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


def staged_path(staging: pathlib.Path, upload_id: str) -> pathlib.Path:
    return staging / f"{upload_id}.part"


def start_over(upload: BidUpload, message: str) -> StagingLost:
    """Forget what was acknowledged of ``upload`` (the caller commits that and raises the answer)."""
    upload.received, upload.parts, upload.prefix_sm3 = 0, 0, sm3_hex(b"")
    return StagingLost(message)


_hashers: dict[str, tuple[int, SM3]] = {}
_hashers_lock = threading.Lock()


def running_hash(upload: BidUpload, staged: pathlib.Path) -> SM3:
    """The SM3 of the bytes accepted so far. A keep-alive connection keeps hitting the same worker,
    which keeps the hash in memory; after a reconnect or a restart it is rebuilt from the staging
    file and checked against the committed digest (parts are not fsynced one by one: an OS crash
    that lost staged bytes is caught here, and the upload starts again from the first part)."""
    with _hashers_lock:
        cached = _hashers.get(upload.id)
    if cached is not None and cached[0] == upload.received:
        return cached[1].copy()
    h = SM3()
    left = upload.received
    with staged.open("rb") as f:
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    if left or h.hexdigest() != upload.prefix_sm3:
        raise start_over(upload, "暂存数据已损坏，请从第 1 片重新上传")
    return h


def remember(upload_id: str, received: int, h: SM3) -> None:
    with _hashers_lock:
        _hashers[upload_id] = (received, h)


def forget(upload_id: str) -> None:
    with _hashers_lock:
        _hashers.pop(upload_id, None)
