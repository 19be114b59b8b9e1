"""signing.bounded_zip: every bound of a participant's zip, declared and actual, each refused with
its code and the entry that broke it; an honest package (``write_folder_zip``) reads whole."""

from __future__ import annotations

import io
import pathlib
import random
import shutil
import subprocess
import time
import zipfile
from typing import Any

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


# The archive is exactly what its central directory says. Streaming readers (Java's
# ZipInputStream, `unzip -` pipelines) read local headers from offset 0 and never look at the
# directory: a byte the directory does not account for could be an entry only they see.

SHEET = "开标一览表.json"


def with_hidden_sheet() -> io.BytesIO:
    """The real price sheet in the directory, and an unlisted local record of the same name, with
    another price, between the last entry and the directory (the tester's archive)."""
    real, hidden = entry(SHEET, b'{"price":"1000000.00"}'), entry(SHEET, b'{"price":"1.00"}')
    real.offset = 0
    return built([real, entry("技术标.txt", b"tech"), hidden], [real, entry("技术标.txt", b"tech")])


def test_a_hidden_second_price_sheet_is_refused_as_a_gap() -> None:
    """It used to pass: verify() and read() saw only the directory's 1000000.00."""
    e = refused(with_hidden_sheet())
    assert (e.code, e.entry) == ("archive_gap", "技术标.txt")


def shifted(data: bytes, at: int, junk: bytes) -> io.BytesIO:
    """``junk`` inserted at ``at`` (at or before the directory), with the end record's directory
    offset moved so that it still points at the directory."""
    out = bytearray(data[:at] + junk + data[at:])
    end = out.rfind(b"PK\x05\x06")
    offset = int.from_bytes(out[end + 16 : end + 20], "little")
    out[end + 16 : end + 20] = (offset + len(junk)).to_bytes(4, "little")
    return io.BytesIO(bytes(out))


def zipfile_bytes(**extra: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("附件/资料.txt", b"text " * 100)
        z.writestr(SHEET, b'{"price":"1000000.00"}')
        for name, data in extra.items():
            z.writestr(name, data)
    return out.getvalue()


def test_bytes_the_directory_does_not_list_are_refused_wherever_they_are() -> None:
    raw = zipfile_bytes()
    cd = raw.find(b"PK\x01\x02")
    eocd = raw.rfind(b"PK\x05\x06")
    prefixed = io.BytesIO(b"MZ stub" + raw)
    assert zipfile.ZipFile(prefixed).read(SHEET)  # zipfile reads past a prefix (a self-extractor's stub)
    assert refused(prefixed).code == "archive_gap"
    assert refused(shifted(raw, cd, b"\x00" * 40)).code == "archive_gap"  # before the directory
    assert refused(io.BytesIO(raw + b"trailing")).code == "archive_gap"  # after the end record
    moved = bytearray(raw)
    moved[eocd + 16 : eocd + 20] = (cd - 1).to_bytes(4, "little")  # the end record points elsewhere
    assert refused(io.BytesIO(bytes(moved))).code == "archive_gap"


def test_a_comment_in_the_end_record_is_allowed() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(SHEET, b"{}")
        z.comment = "投标文件".encode()
    BoundedZip(out).verify()


def flipped(raw: bytes, at: int) -> io.BytesIO:
    out = bytearray(raw)
    out[at] ^= 0x01
    return io.BytesIO(bytes(out))


def test_a_local_header_that_disagrees_with_the_directory_is_refused() -> None:
    """One byte of the second entry's local name flipped, the directory intact: this used to be
    ``archive_unreadable``, which the opening took for "not a zip" (opened with no price) and
    ``ggzy-bid seal`` sealed without a word."""
    raw = zipfile_bytes()
    second = raw.find(b"PK\x03\x04", 1)
    name_at = second + 30
    assert raw[name_at : name_at + len(SHEET.encode())] == SHEET.encode()
    e = refused(flipped(raw, name_at + 2))
    assert (e.code, e.entry) == ("archive_header_mismatch", SHEET)
    assert refused(flipped(raw, second + 8)).code == "archive_header_mismatch"  # method 8 → 9
    assert refused(flipped(raw, second + 14)).code == "archive_header_mismatch"  # CRC
    assert refused(flipped(raw, second + 22)).code == "archive_header_mismatch"  # uncompressed size
    assert refused(flipped(raw, second + 6)).code == "archive_header_mismatch"  # flags
    assert refused(flipped(raw, second)).code == "archive_corrupt"  # no local header there


def test_a_data_descriptor_must_agree_and_be_all_there_is_between_entries() -> None:
    out = Unseekable()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(SHEET, b'{"price":"1000000.00"}')
        z.writestr("b.txt", b"b" * 300)
    raw = bytes(out.data)
    BoundedZip(io.BytesIO(raw)).verify()
    descriptor = raw.find(b"PK\x07\x08")
    assert refused(flipped(raw, descriptor + 4)).code == "archive_header_mismatch"  # its CRC
    cd = raw.find(b"PK\x01\x02")
    e = refused(shifted(raw, cd, b"\x00" * 5))  # 5 bytes after the last descriptor: no layout
    assert (e.code, e.entry) == ("archive_gap", "b.txt")


def test_a_damaged_zip_is_not_taken_for_a_foreign_file() -> None:
    raw = zipfile_bytes()
    assert refused(io.BytesIO(raw[: raw.rfind(b"PK\x05\x06")])).code == "archive_corrupt"  # no end record
    miscounted = bytearray(raw)
    miscounted[-12:-10] = (3).to_bytes(2, "little")  # the end record counts 3 entries, the directory 2
    miscounted[-14:-12] = (3).to_bytes(2, "little")
    assert refused(io.BytesIO(bytes(miscounted))).code == "archive_corrupt"
    assert refused(io.BytesIO(b"%PDF-1.7 not a zip")).code == "archive_unreadable"


class Unseekable(io.RawIOBase):
    """An output zipfile cannot seek back in: it writes data descriptors (flag bit 3)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("zip64", [False, True])
def test_honest_zips_from_zipfile_pass(compression: int, zip64: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    drawing = random.Random(2).randbytes(100_000)
    streamed = Unseekable()
    seekable = io.BytesIO()
    if zip64:  # zip64 end records as a 65,536-entry archive gets them, without writing one
        monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    for out in (streamed, seekable):
        with zipfile.ZipFile(out, "w", compression=compression) as z:
            z.writestr(SHEET, b'{"price":"1.00"}')
            with z.open("附件/图纸.bin", "w", force_zip64=zip64) as w:  # zip64 extras and descriptors
                w.write(drawing)
    for raw in (bytes(streamed.data), seekable.getvalue()):
        assert (b"PK\x06\x06" in raw) is zip64
        package = BoundedZip(io.BytesIO(raw))
        package.verify()
        assert package.read(SHEET, 100) == b'{"price":"1.00"}'


def _tool_zips(tool: str, folder: pathlib.Path, out: pathlib.Path) -> list[pathlib.Path]:
    """The archives ``tool`` makes of ``folder`` the ways a bidder might run it."""
    made: list[pathlib.Path] = []

    def run(name: str, command: str) -> None:
        subprocess.run(["sh", "-c", command], cwd=folder, check=True, capture_output=True)
        made.append(out / name)

    if tool == "zip":
        run("plain.zip", f"zip -q -r {out}/plain.zip .")
        run("zip64.zip", f"zip -q -r -fz {out}/zip64.zip .")
        run("streamed.zip", f"zip -q -r - . | cat > {out}/streamed.zip")  # data descriptors
        run("stored.zip", f"zip -q -0 -r - . | cat > {out}/stored.zip")  # stored, with descriptors
        run("stdin.zip", f"cat {SHEET} | zip -q - - | cat > {out}/stdin.zip")  # zip64 descriptors
    else:
        run("7z.zip", f"{tool} a -bd -bso0 -tzip {out}/7z.zip .")
        run("7z-stored.zip", f"{tool} a -bd -bso0 -tzip -mx=0 {out}/7z-stored.zip .")
        run("7z-utf8.zip", f"{tool} a -bd -bso0 -tzip -mcu=on {out}/7z-utf8.zip .")
    return made


@pytest.mark.parametrize("tool", ["zip", "7zz", "7z"])
def test_honest_zips_from_command_line_tools_pass(tool: str, tmp_path: pathlib.Path) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    folder = tmp_path / "bid"
    (folder / "附件").mkdir(parents=True)
    (folder / SHEET).write_text('{"price":"1.00"}')
    (folder / "附件" / "图纸.bin").write_bytes(random.Random(3).randbytes(200_000))
    (folder / "附件" / "说明.txt").write_text("说明" * 5000)
    for made in _tool_zips(tool, folder, tmp_path):
        with made.open("rb") as f:
            z = BoundedZip(f)
            z.verify()
            # Info-ZIP marks UTF-8 names only in an extra field zipfile ignores: compare the bytes
            names = {i.filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437").decode() for i in z.entries}
            assert names & {SHEET, "-"}, made.name
