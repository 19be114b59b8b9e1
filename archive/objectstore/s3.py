"""MinIO (S3 protocol) object store through the ``minio`` SDK.

Bytes stream to ``tmp/<uuid>`` as a multipart upload while their SM3 is computed, then are
copied server-side to ``sm3/<hex>`` and the temp object is removed. S3 makes an object
visible only when its upload completes, so a crash leaves at most a temp object or an
incomplete multipart upload (``cleanup`` removes both), never a half object under its key.
Buckets for archives are created with object lock; retention is COMPLIANCE mode.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import IO, Any, BinaryIO, cast

from minio import Minio
from minio.commonconfig import COMPLIANCE, ComposeSource, CopySource
from minio.error import S3Error
from minio.retention import Retention

from archive import clock
from archive.objectstore.base import (
    READ_BLOCK,
    HashingReader,
    ObjectMissing,
    ObjectStore,
    ObjectStoreError,
    RetentionError,
    StoredObject,
    check_deletable,
    check_extension,
    check_key,
    check_staged,
    key_for,
)

PART_SIZE = 8 * 1024 * 1024
COPY_LIMIT = 5 * 1024**3  # single CopyObject limit; larger objects are composed


class _Body:
    """File-like view of a urllib3 response that releases the connection on close."""

    def __init__(self, response: Any) -> None:
        self._r = response

    def read(self, n: int = -1) -> bytes:
        return bytes(self._r.read(None if n is None or n < 0 else n))

    def readinto(self, buf: Any) -> int:
        data = self._r.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._r.close()
        self._r.release_conn()


class S3ObjectStore(ObjectStore):
    def __init__(self, client: Minio, bucket: str, *, object_lock: bool = False) -> None:
        self.client = client
        self.bucket = bucket
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket, object_lock=object_lock)

    def put_stream(self, src: IO[bytes], *, max_size: int | None = None) -> StoredObject:
        reader = HashingReader(src, max_size)
        tmp = f"tmp/{uuid.uuid4().hex}"
        try:
            self.client.put_object(
                self.bucket, tmp, cast(BinaryIO, reader), length=-1, part_size=PART_SIZE, num_parallel_uploads=1
            )
            key = key_for(reader.hash.hexdigest())
            existing = self.stat(key)
            if existing is None:
                if reader.size <= COPY_LIMIT:
                    self.client.copy_object(self.bucket, key, CopySource(self.bucket, tmp))
                else:
                    self.client.compose_object(self.bucket, key, [ComposeSource(self.bucket, tmp)])
        finally:
            with suppress(S3Error):
                self.client.remove_object(self.bucket, tmp)
        return self.stat(key) or StoredObject(key, reader.size)

    def adopt_file(self, path: str, sm3_hex: str, size: int) -> StoredObject:
        key = key_for(sm3_hex)
        if self.stat(key) is None:
            self.client.fput_object(self.bucket, key, path, part_size=PART_SIZE, num_parallel_uploads=1)
        os.unlink(path)
        return self.stat(key) or StoredObject(key, size)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        check_key(key)
        return self._get(key, f"对象不存在 {key} (no such object)")

    @contextmanager
    def _get(self, name: str, missing: str) -> Iterator[BinaryIO]:
        """A stored object's body, read as it comes; ``missing``: the refusal when there is none."""
        try:
            response = self.client.get_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectMissing(missing) from exc
            raise ObjectStoreError(str(exc)) from exc
        body = _Body(response)
        try:
            yield body  # type: ignore[misc]
        finally:
            body.close()

    def stat(self, key: str) -> StoredObject | None:
        check_key(key)
        try:
            st = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise ObjectStoreError(str(exc)) from exc
        until, hold = None, False
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        if meta.get("x-amz-object-lock-retain-until-date"):
            until = clock.as_utc(
                dt.datetime.fromisoformat(meta["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00"))
            )
        if meta.get("x-amz-object-lock-legal-hold", "").upper() == "ON":
            hold = True
        return StoredObject(key, int(st.size or 0), until, hold)

    def list(self, prefix: str = "sm3/") -> Iterator[StoredObject]:
        for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
            if o.object_name and o.object_name.startswith("sm3/"):
                yield StoredObject(o.object_name, int(o.size or 0))

    def put_staged(self, name: str, src: IO[bytes]) -> int:
        reader = HashingReader(src, None)
        self.client.put_object(
            self.bucket,
            "staging/" + check_staged(name),
            cast(BinaryIO, reader),
            length=-1,
            part_size=PART_SIZE,
            num_parallel_uploads=1,
        )
        return reader.size

    def open_staged(self, name: str) -> AbstractContextManager[BinaryIO]:
        return self._get("staging/" + check_staged(name), f"暂存分片不存在 {name} (no such staged part)")

    def delete_staged(self, upload: str) -> None:
        check_staged(f"{upload}/1")
        for o in self.client.list_objects(self.bucket, prefix=f"staging/{upload}/", recursive=True):
            if o.object_name:
                self.client.remove_object(self.bucket, o.object_name)

    def delete(self, key: str) -> None:
        # Checked here first: on a versioned (object-lock) bucket a plain DELETE would only add a
        # delete marker and hide a retained object; we refuse before asking the server.
        check_deletable(self.stat(key), key, clock.now())
        self.client.remove_object(self.bucket, key)

    def set_retention(self, key: str, until: dt.datetime) -> None:
        check_extension(self.stat(key), key, until)
        try:
            self.client.set_object_retention(self.bucket, key, Retention(COMPLIANCE, clock.as_utc(until)))
        except S3Error as exc:
            raise RetentionError(f"对象存储拒绝设置保留期 ({exc.code})") from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        if self.stat(key) is None:
            raise ObjectMissing(f"对象不存在 {key} (no such object)")
        if on:
            self.client.enable_object_legal_hold(self.bucket, key)
        else:
            self.client.disable_object_legal_hold(self.bucket, key)

    def cleanup(self) -> int:
        removed = 0
        for o in self.client.list_objects(self.bucket, prefix="tmp/", recursive=True):
            if o.object_name:
                self.client.remove_object(self.bucket, o.object_name)
                removed += 1
        return removed


def read_all(store: ObjectStore, key: str) -> Iterator[bytes]:
    with store.open(key) as f:
        while chunk := f.read(READ_BLOCK):
            yield chunk
