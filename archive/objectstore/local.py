"""Filesystem object store (the embedded default, under ``instance/objects``).

Atomic writes: bytes go to ``tmp/`` while their SM3 is computed, are fsynced, then linked
to their final name (a hard link never replaces an existing file) and the directory is
fsynced: a crash leaves at most a stray temp file, never a half object under its key.
Retention is kept in a sidecar file and the object is made read-only; this protects against
the platform's own code, not against root on the machine (use MinIO with object lock for that).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import shutil
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, BinaryIO, cast

from archive import clock
from archive.objectstore.base import (
    READ_BLOCK,
    HashingReader,
    ObjectMissing,
    ObjectStore,
    StoredObject,
    check_deletable,
    check_extension,
    check_key,
    check_staged,
    key_for,
)


class LocalObjectStore(ObjectStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = pathlib.Path(root)
        for sub in ("sm3", "tmp", "retention", "staging"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> pathlib.Path:
        digest = check_key(key)
        return self.root / "sm3" / digest[:2] / digest

    def _retention_path(self, key: str) -> pathlib.Path:
        return self.root / "retention" / (check_key(key) + ".json")

    def put_stream(self, src: IO[bytes], *, max_size: int | None = None) -> StoredObject:
        tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.part"
        reader = HashingReader(src, max_size)
        try:
            with tmp.open("wb") as f:
                while chunk := reader.read(READ_BLOCK):
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            key = key_for(reader.hash.hexdigest())
            final = self._path(key)
            final.parent.mkdir(exist_ok=True)
            try:
                os.link(tmp, final)
            except FileExistsError:
                pass  # same content already stored: content addressing makes this a no-op
            else:
                _fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return self.stat(key) or StoredObject(key, reader.size)

    def adopt_file(self, path: str, sm3_hex: str, size: int) -> StoredObject:
        key = key_for(sm3_hex)
        final = self._path(key)
        final.parent.mkdir(exist_ok=True)
        src = pathlib.Path(path)
        if src.stat().st_size != size:
            raise ValueError("adopted file size differs from the declared size")
        with src.open("rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(src, final)  # same filesystem: no copy; never replaces an existing object
        except FileExistsError:
            pass
        except OSError:  # another filesystem: copy through a temp file, then link
            tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.part"
            with src.open("rb") as f, tmp.open("wb") as g:
                while chunk := f.read(READ_BLOCK):
                    g.write(chunk)
                g.flush()
                os.fsync(g.fileno())
            try:
                os.link(tmp, final)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        _fsync_dir(final.parent)
        src.unlink(missing_ok=True)
        return self.stat(key) or StoredObject(key, size)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        try:
            return cast(AbstractContextManager[BinaryIO], self._path(key).open("rb", buffering=READ_BLOCK))
        except FileNotFoundError as exc:
            raise ObjectMissing(f"对象不存在 {key} (no such object)") from exc

    def _retention(self, key: str) -> dict[str, object]:
        try:
            return dict(json.loads(self._retention_path(key).read_text()))
        except FileNotFoundError:
            return {}

    def stat(self, key: str) -> StoredObject | None:
        try:
            size = self._path(key).stat().st_size
        except FileNotFoundError:
            return None
        r = self._retention(key)
        until = dt.datetime.fromisoformat(str(r["until"])) if r.get("until") else None
        return StoredObject(key, size, until, bool(r.get("legal_hold", False)))

    def list(self, prefix: str = "sm3/") -> Iterator[StoredObject]:
        for path in sorted((self.root / "sm3").glob("*/*")):
            key = key_for(path.name)
            if key.startswith(prefix):
                obj = self.stat(key)
                if obj:
                    yield obj

    def put_staged(self, name: str, src: IO[bytes]) -> int:
        final = self.root / "staging" / check_staged(name)
        final.parent.mkdir(exist_ok=True)
        tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.staged"
        size = 0
        try:
            with tmp.open("wb") as f:
                while chunk := src.read(READ_BLOCK):
                    f.write(chunk)
                    size += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return size

    def open_staged(self, name: str) -> AbstractContextManager[BinaryIO]:
        try:
            return cast(AbstractContextManager[BinaryIO], (self.root / "staging" / check_staged(name)).open("rb"))
        except FileNotFoundError as exc:
            raise ObjectMissing(f"暂存分片不存在 {name} (no such staged part)") from exc

    def delete_staged(self, upload: str) -> None:
        check_staged(f"{upload}/1")
        shutil.rmtree(self.root / "staging" / upload, ignore_errors=True)

    def delete(self, key: str) -> None:
        check_deletable(self.stat(key), key, clock.now())
        path = self._path(key)
        path.chmod(0o644)
        path.unlink()
        self._retention_path(key).unlink(missing_ok=True)

    def _write_retention(self, key: str, data: dict[str, object]) -> None:
        tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.ret"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._retention_path(key))
        self._path(key).chmod(0o444)

    def set_retention(self, key: str, until: dt.datetime) -> None:
        check_extension(self.stat(key), key, until)
        r = self._retention(key)
        r["mode"], r["until"] = "COMPLIANCE", clock.as_utc(until).isoformat()
        self._write_retention(key, r)

    def set_legal_hold(self, key: str, on: bool) -> None:
        if self.stat(key) is None:
            raise ObjectMissing(f"对象不存在 {key} (no such object)")
        r = self._retention(key)
        r["legal_hold"] = on
        self._write_retention(key, r)

    def cleanup(self, older_than: dt.timedelta = dt.timedelta(hours=1)) -> int:
        """Remove temp files left by crashed writers."""
        cutoff = (clock.now() - older_than).timestamp()
        removed = 0
        for p in (self.root / "tmp").iterdir():
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                removed += 1
        return removed


def _fsync_dir(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
