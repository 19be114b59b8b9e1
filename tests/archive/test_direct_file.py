"""DirectFile writes exactly the bytes given, whatever their sizes, with or without O_DIRECT."""

from __future__ import annotations

import os
import pathlib
import random

import pytest

from archive.objectstore.direct import ALIGN, DirectFile


def _write(path: pathlib.Path, pieces: list[bytes], buffer_size: int = 4 * ALIGN) -> DirectFile:
    with DirectFile(str(path), buffer_size) as f:
        for p in pieces:
            assert f.write(p) == len(p)
    return f


@pytest.mark.parametrize("size", [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, 4 * ALIGN, 4 * ALIGN + 7, 9 * ALIGN + 100])
def test_sizes_round_trip(tmp_path: pathlib.Path, size: int) -> None:
    data = os.urandom(size)
    f = _write(tmp_path / "f", [data])
    assert (tmp_path / "f").read_bytes() == data
    assert f.size == size


def test_pieces_of_any_size_and_type(tmp_path: pathlib.Path) -> None:
    rng = random.Random(7)
    pieces: list[bytes] = []
    for _ in range(200):
        pieces.append(os.urandom(rng.choice([0, 1, 13, ALIGN, 3 * ALIGN + 5, 20_000])))
    data = b"".join(pieces)
    with DirectFile(str(tmp_path / "f"), 4 * ALIGN) as f:
        for i, p in enumerate(pieces):  # bytes, bytearray and memoryview, as decrypt_chunks may give
            f.write(p if i % 3 == 0 else bytearray(p) if i % 3 == 1 else memoryview(p))
    assert (tmp_path / "f").read_bytes() == data


def test_replaces_an_existing_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 50_000)
    _write(path, [b"short"])
    assert path.read_bytes() == b"short"


def test_without_o_direct_writes_through_the_cache(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "O_DIRECT")  # as on a system without it
    data = os.urandom(5 * ALIGN + 3)
    f = _write(tmp_path / "f", [data[:100], data[100:]])
    assert not f.direct
    assert (tmp_path / "f").read_bytes() == data


def _fs_type(path: pathlib.Path) -> str:
    best, kind = "", ""
    for line in pathlib.Path("/proc/mounts").read_text().splitlines():
        _, mount, fs, *_ = line.split()
        if str(path).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fs
    return kind


def test_direct_on_disk_filesystems(tmp_path: pathlib.Path) -> None:
    if not hasattr(os, "O_DIRECT") or not pathlib.Path("/proc/mounts").exists():
        pytest.skip("no O_DIRECT on this system")
    if _fs_type(tmp_path) not in {"ext4", "xfs", "btrfs"}:
        pytest.skip(f"tmp_path is on {_fs_type(tmp_path)!r}, not a disk filesystem known to take O_DIRECT")
    f = _write(tmp_path / "f", [os.urandom(ALIGN * 3 + 1)])
    assert f.direct  # the workers' plaintext really goes around the page cache here


def test_bad_buffer_size(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError):
        DirectFile(str(tmp_path / "f"), ALIGN + 1)
    assert not (tmp_path / "f").exists()


def test_close_twice_and_error_inside(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    with pytest.raises(RuntimeError), DirectFile(str(path)) as f:
        f.write(b"abc")
        raise RuntimeError("stop")
    f.close()
    assert path.read_bytes() == b"abc"


def test_a_write_error_reaches_the_caller() -> None:
    if not pathlib.Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    # raised by the writer thread, seen by write or close
    with pytest.raises(OSError) as exc, DirectFile("/dev/full", ALIGN) as f:
        for _ in range(4):
            f.write(b"x" * ALIGN)
    assert exc.value.errno == 28  # ENOSPC
