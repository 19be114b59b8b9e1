"""signing.bounded_zip: every bound of a participant's zip, declared and actual, each refused with
its code and the entry that broke it; an honest package (``write_folder_zip``) reads whole."""

from __future__ import annotations

import io
import pathlib
import random
import time
import zipfile

import pytest

from bidding.package import write_folder_zip
from signing.bounded_zip import PACKAGE, BoundedZip, Limits
from signing.errors import ArchiveRefused
from tests.signing.zips import MiB, RawEntry, deflated, entry, write_zip, zero_bomb


def built(entries: list[RawEntry], central: list[RawEntry] | None = None) -> io.BytesIO:
    out = io.BytesIO()
    write_zip(out, entries, central)
    out.seek(0)
    return out


def refused(f: io.BytesIO, limits: Limits = PACKAGE, read: str | None = None) -> ArchiveRefused:
    with pytest.raises(ArchiveRefused) as exc:
        z = BoundedZip(f, limits)
        if read is None:
            z.verify()
        else:
            z.read(read, 1 << 20)
    return exc.value


def test_an_honest_package_reads_whole(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "bid"
    (folder / "附件").mkdir(parents=True)
    (folder / "开标一览表.json").write_text('{"price":"1.00"}')
    drawing = random.Random(1).randbytes(3 * MiB)
    (folder / "附件" / "图纸.bin").write_bytes(drawing)
    pkg = io.BytesIO()
    write_folder_zip(folder, pkg)  # zip64 extras and data descriptors, as the bidder's tool writes
    z = BoundedZip(pkg)
    z.verify()
    assert z.read("开标一览表.json", 100) == b'{"price":"1.00"}'
    assert z.read("missing.json", 100) is None
    info = z.info("附件/图纸.bin")
    assert info is not None and b"".join(z.stream(info)) == drawing


def test_a_bomb_is_refused_from_its_declared_sizes_before_a_byte_is_inflated() -> None:
    data, crc = zero_bomb(2048 * MiB)  # 2 GiB of zeros in ~2 MB
    started = time.perf_counter()
    e = refused(built([RawEntry("开标一览表.json", data, crc, 2048 * MiB)]))
    assert (e.code, e.entry) == ("archive_ratio", "开标一览表.json")
    assert time.perf_counter() - started < 1
    big = refused(built([RawEntry("a.bin", data, crc, 2048 * MiB)]), Limits(max_entry_size=1024 * MiB))
    assert big.code == "archive_entry_too_large"


def test_a_read_past_its_cap_stops_there() -> None:
    e = refused(built([entry("开标一览表.json", b"{" + b" " * (2 * MiB))]), Limits(max_ratio=10_000), "开标一览表.json")
    assert (e.code, e.entry) == ("archive_entry_too_large", "开标一览表.json")


def test_a_lying_header_stops_where_the_declared_size_ends() -> None:
    """Declared 1 KiB (ratio and size fine), inflates to 64 MiB: refused at the first byte past."""
    data, crc = zero_bomb(64 * MiB)
    e = refused(built([RawEntry("开标一览表.json", data, crc, 1024)]))
    assert (e.code, e.entry) == ("archive_entry_size_mismatch", "开标一览表.json")
    short = refused(built([RawEntry("a.txt", deflated(b"x" * 100), 0, 5000)]))  # declares more than it has
    assert short.code == "archive_entry_size_mismatch"


def test_the_actual_ratio_is_held_while_inflating() -> None:
    """The central directory claims a modest ratio; the stream is a bomb followed by padding."""
    data, crc = zero_bomb(8 * MiB)
    padded = data + bytes(len(data) * 100)  # compress_size inflated: declared ratio < 1
    e = refused(built([RawEntry("a.bin", padded, crc, 8 * MiB)]))
    assert (e.code, e.entry) == ("archive_ratio", "a.bin")


def test_too_many_entries_are_counted_before_zipfile_parses_them() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(10_001):
            z.writestr(f"f{i}.txt", b"")
    assert refused(out).code == "archive_too_many_entries"
    lying = built([entry(f"f{i}", b"") for i in range(40)])
    assert refused(lying, Limits(max_entries=39)).code == "archive_too_many_entries"


def test_the_total_is_bounded() -> None:
    parts = [entry(f"f{i}.bin", bytes(range(256)) * 4096) for i in range(5)]  # 1 MiB each
    e = refused(built(parts), Limits(max_total=4 * MiB))
    assert (e.code, e.entry) == ("archive_total_too_large", "f4.bin")


def test_a_nested_zip_is_never_opened() -> None:
    inner = io.BytesIO()
    data, crc = zero_bomb(1024 * MiB)
    write_zip(inner, [RawEntry("bomb.bin", data, crc, 1024 * MiB)])
    outer = built([entry("开标一览表.json", b"{}"), entry("附件/inner.zip", inner.getvalue(), method=0)])
    z = BoundedZip(outer)
    z.verify()
    assert [i.filename for i in z.entries] == ["开标一览表.json", "附件/inner.zip"]
    assert z.read("附件/inner.zip", 10 * MiB) == inner.getvalue()


@pytest.mark.parametrize(
    "name",
    ["../x.pdf", "/etc/passwd", "a\\b.pdf", "C:/x.pdf", "a/../../b", "a//b", "./a", "a\x00b", "a\nb", "x" * 1100],
)
def test_path_names_are_plain_and_relative(name: str) -> None:
    e = refused(built([entry(name, b"1")]))
    assert e.code == "archive_bad_name"


def test_a_second_entry_of_the_same_name_is_refused() -> None:
    first, second = entry("开标一览表.json", b'{"price":"1"}'), entry("开标一览表.json", b'{"price":"9"}')
    e = refused(built([first, second]))  # two readers could each read a different price
    assert (e.code, e.entry) == ("archive_duplicate_entry", "开标一览表.json")


def test_overlapping_entries_are_refused() -> None:
    """The non-recursive bomb: entry "a" stores a whole local record of "b" inside its own data."""
    inner = io.BytesIO()
    b = entry("b", b"hello", method=0)
    write_zip(inner, [b], [])
    record = inner.getvalue()[: 30 + 1 + 5]  # b's local header, name and data
    a = entry("a", record, method=0)
    b.offset = 30 + 1  # b's header is a's data
    e = refused(built([a], [a, b]))
    assert (e.code, e.entry) == ("archive_entries_overlap", "a")


def test_damaged_and_unsupported_entries_are_named() -> None:
    good = entry("a.txt", b"hello world", method=0)
    good.data = b"hello w0rld"
    assert refused(built([good])).code == "archive_entry_corrupt"
    enc = entry("a.txt", b"x")
    enc.flags |= 1
    assert refused(built([enc])).code == "archive_unsupported"
    bz = io.BytesIO()
    with zipfile.ZipFile(bz, "w", compression=zipfile.ZIP_BZIP2) as z:
        z.writestr("a.txt", b"x")
    assert refused(bz).code == "archive_unsupported"
    assert refused(io.BytesIO(b"not a zip at all")).code == "archive_unreadable"
