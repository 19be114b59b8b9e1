"""One contract, two backends: the filesystem store and MinIO's SDK against an S3 server on loopback.

Gaps of the test server (moto) compared with MinIO, written down rather than hidden:
- moto keeps objects in memory and does not check Content-MD5 on object-lock buckets, which
  MinIO requires for PUTs with retention headers (we set retention after the PUT, which MinIO
  accepts without it).
- moto enforces COMPLIANCE retention and legal holds on versioned deletes (tested below) but
  does not implement MinIO's bucket-level default retention rules.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import pathlib
import tracemalloc
import uuid

import pytest

from archive import clock
from archive.objectstore import ObjectMissing, ObjectStore, ObjectStoreError, ObjectTooLarge, RetentionError, open_store
from signing.digest import sm3_hex


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> ObjectStore:
    if request.param == "local":
        return open_store(str(tmp_path / "objects"))
    server = request.getfixturevalue("s3_server")
    return open_store(f"minio://ak:sk@{server}/t-{uuid.uuid4().hex[:12]}?lock=1")


class Exploding(io.RawIOBase):
    """A source that dies halfway, like a client whose connection drops."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        k = min(self.left, n if n and n > 0 else 1 << 20)
        self.left -= k
        return b"x" * k


def test_put_get_stat_list_dedupe(store: ObjectStore) -> None:
    obj = store.put_bytes("投标文件 bid".encode())
    assert obj.key == "sm3/" + sm3_hex("投标文件 bid".encode())
    assert store.read_bytes(obj.key) == "投标文件 bid".encode()
    st = store.stat(obj.key)
    assert st is not None and st.size == len("投标文件 bid".encode()) and st.retain_until is None
    again = store.put_bytes("投标文件 bid".encode())
    assert again.key == obj.key
    assert [o.key for o in store.list()].count(obj.key) == 1
    assert store.stat("sm3/" + "0" * 64) is None


def test_empty_object(store: ObjectStore) -> None:
    obj = store.put_bytes(b"")
    assert obj.size == 0 and store.read_bytes(obj.key) == b""


def test_missing_and_invalid_keys(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissing), store.open("sm3/" + "ab" * 32):
        pass
    with pytest.raises(ObjectMissing):
        store.stat("../../etc/passwd")
    with pytest.raises(ObjectMissing):
        store.delete("sm3/" + "cd" * 32)


def test_size_limit_and_failed_stream_leave_nothing(store: ObjectStore) -> None:
    before = {o.key for o in store.list()}
    with pytest.raises(ObjectTooLarge):
        store.put_stream(io.BytesIO(b"y" * 5000), max_size=4096)
    with pytest.raises(ConnectionResetError):
        store.put_stream(Exploding(3 << 20))  # type: ignore[arg-type]
    assert {o.key for o in store.list()} == before
    assert {o.key for o in store.list(prefix="tmp/")} == set()


def test_retention_and_legal_hold(store: ObjectStore) -> None:
    obj = store.put_bytes(os.urandom(100))
    until = clock.now() + dt.timedelta(days=1)
    store.set_retention(obj.key, until)
    st = store.stat(obj.key)
    assert st is not None and st.retain_until is not None and abs((st.retain_until - until).total_seconds()) < 1
    with pytest.raises(RetentionError):
        store.delete(obj.key)
    with pytest.raises(RetentionError):
        store.set_retention(obj.key, until - dt.timedelta(hours=1))
    store.set_retention(obj.key, until + dt.timedelta(days=1))  # extending is allowed
    assert store.read_bytes(obj.key)  # still readable


def test_legal_hold_blocks_delete_until_lifted(store: ObjectStore) -> None:
    obj = store.put_bytes(os.urandom(64))
    store.set_legal_hold(obj.key, True)
    st = store.stat(obj.key)
    assert st is not None and st.legal_hold
    with pytest.raises(RetentionError):
        store.delete(obj.key)
    store.set_legal_hold(obj.key, False)
    store.delete(obj.key)
    assert store.stat(obj.key) is None


def test_delete_unretained(store: ObjectStore) -> None:
    obj = store.put_bytes(os.urandom(10))
    store.delete(obj.key)
    assert store.stat(obj.key) is None


def test_streaming_in_constant_memory(store: ObjectStore) -> None:
    """40 MiB in and out with Python allocations far below the object size (1 GiB: bench/objectstore.py)."""

    class Gen(io.RawIOBase):
        def __init__(self, n: int) -> None:
            self.left = n
            self.block = os.urandom(1 << 20)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            k = min(self.left, len(self.block), n if n and n > 0 else len(self.block))
            self.left -= k
            return self.block[:k]

    size = 40 << 20
    tracemalloc.start()
    obj = store.put_stream(Gen(size))  # type: ignore[arg-type]
    total = 0
    with store.open(obj.key) as f:
        while chunk := f.read(1 << 20):
            total += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == size == obj.size
    assert peak < 28 << 20, peak


@pytest.mark.integration
def test_s3_server_refuses_deleting_a_retained_version(s3_server: str) -> None:
    """Beyond our own check: the server itself refuses, so a bypass of our code cannot delete."""
    from minio.error import S3Error

    store = open_store(f"minio://ak:sk@{s3_server}/lock-{uuid.uuid4().hex[:8]}?lock=1")
    obj = store.put_bytes(b"archive package")
    store.set_retention(obj.key, clock.now() + dt.timedelta(days=1))
    client = store.client  # type: ignore[attr-defined]
    version = client.stat_object(store.bucket, obj.key).version_id  # type: ignore[attr-defined]
    with pytest.raises(S3Error):
        client.remove_object(store.bucket, obj.key, version_id=version)  # type: ignore[attr-defined]


def test_local_crash_leftovers_are_cleaned(tmp_path: pathlib.Path) -> None:
    from archive.objectstore.local import LocalObjectStore

    s = LocalObjectStore(tmp_path)
    stray = tmp_path / "tmp" / "dead.part"
    stray.write_bytes(b"half")
    old = (clock.now() - dt.timedelta(hours=2)).timestamp()
    os.utime(stray, (old, old))
    assert s.cleanup() == 1 and not stray.exists()
    assert list(s.list()) == []


def test_adopt_file(store: ObjectStore, tmp_path: pathlib.Path) -> None:
    data = os.urandom(3 << 20)
    f = tmp_path / "staged.part"
    f.write_bytes(data)
    obj = store.adopt_file(str(f), sm3_hex(data), len(data))
    assert obj.key == "sm3/" + sm3_hex(data) and obj.size == len(data)
    assert store.read_bytes(obj.key) == data and not f.exists()


def test_staged_parts_are_named_replaced_assembled_and_deleted(store: ObjectStore) -> None:
    """An upload's parts wait as named staged parts (not content-addressed: a retry replaces one),
    become one content-addressed object in order, and go when their upload ends."""
    upload = "0123456789abcdef0123456789abcdef"
    store.put_staged(f"{upload}/1", io.BytesIO(b"first, wrongly"))
    assert store.put_staged(f"{upload}/1", io.BytesIO(b"first ")) == 6  # the retry replaces it
    store.put_staged(f"{upload}/2", io.BytesIO(b"second"))
    with store.open_staged(f"{upload}/2") as f:
        assert f.read() == b"second"
    whole = store.assemble([f"{upload}/1", f"{upload}/2"], max_size=12)
    assert whole.key == "sm3/" + sm3_hex(b"first second") and store.read_bytes(whole.key) == b"first second"
    with pytest.raises(ObjectTooLarge):
        store.assemble([f"{upload}/1", f"{upload}/2"], max_size=11)
    store.delete_staged(upload)
    with pytest.raises(ObjectMissing), store.open_staged(f"{upload}/1") as f:
        f.read()
    store.delete_staged(upload)  # nothing left: no error
    for bad in ("../x/1", f"{upload}/0", f"{upload}/1/2", "sm3/" + "0" * 64, f"{upload.upper()}/1"):
        with pytest.raises(ObjectStoreError):
            store.put_staged(bad, io.BytesIO(b"x"))
