"""Prefix digests recorded while sealing: the same values the upload would compute, or nothing."""

from __future__ import annotations

import io
import os
import pathlib

import pytest

from bidding import part_digests
from bidding.part_digests import HashingWriter
from signing.digest import sm3_hex

STEP = 1024


@pytest.mark.parametrize("size", [0, 1, STEP - 1, STEP, STEP + 1, 3 * STEP + 5])
@pytest.mark.parametrize("write_size", [1, 700, STEP, 5000])
def test_prefixes_equal_hashing_the_written_bytes(size: int, write_size: int) -> None:
    data = os.urandom(size)
    out = io.BytesIO()
    w = HashingWriter(out, step=STEP)
    for i in range(0, size, write_size):
        w.write(data[i : i + write_size])
    d = w.finish()
    assert out.getvalue() == data
    assert d.size == size and d.sm3 == sm3_hex(data)
    assert list(d.prefixes) == [sm3_hex(data[: k * STEP]) for k in range(1, size // STEP + 1)]
    for end in range(STEP, size, STEP):
        assert d.prefix(end) == sm3_hex(data[:end])
    assert d.prefix(size) == sm3_hex(data)
    assert d.prefix(STEP // 2) is None  # not a recorded boundary


def test_a_sidecar_for_another_file_is_ignored(tmp_path: pathlib.Path) -> None:
    sealed = tmp_path / "bid.sealed"
    sealed.write_bytes(b"x" * 10)
    assert part_digests.load(sealed) is None  # missing
    w = HashingWriter(io.BytesIO(), step=STEP)
    w.write(b"x" * 10)
    part_digests.sidecar(sealed).write_text(w.finish().to_json())
    assert part_digests.load(sealed) is not None
    sealed.write_bytes(b"x" * 11)
    assert part_digests.load(sealed) is None  # another size
    part_digests.sidecar(sealed).write_text("{not json")
    assert part_digests.load(sealed) is None


def test_a_failing_hash_does_not_block_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    w = HashingWriter(io.BytesIO(), step=STEP)

    class Broken:
        def update(self, data: object) -> None:
            raise RuntimeError("hash failed")

    monkeypatch.setattr(w._hash, "_h", Broken())
    for _ in range(50):  # more writes than the queue holds
        w.write(b"y" * 100)
    with pytest.raises(RuntimeError):
        w.finish()
