"""Turning a bid folder into one package file, deterministically (same folder, same bytes)."""

from __future__ import annotations

import pathlib
import zipfile
from typing import BinaryIO

from signing.bounded_zip import PACKAGE

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def write_folder_zip(folder: pathlib.Path, dst: BinaryIO) -> int:
    """Zip ``folder`` into ``dst`` (a seekable file) with sorted names and fixed timestamps;
    returns the file count. A file that deflates past the platform's ratio bound (a repetitive
    bill of quantities can) is stored instead, so an honest folder never makes a package that
    ``ggzy-bid seal`` and the platform refuse as a bomb; only then is the package written twice."""
    start = dst.tell()
    n, over_ratio = _write(folder, dst, stored=frozenset())
    if over_ratio:
        dst.seek(start)
        dst.truncate()
        n, _ = _write(folder, dst, stored=over_ratio)
    return n


def _write(folder: pathlib.Path, dst: BinaryIO, stored: frozenset[str]) -> tuple[int, frozenset[str]]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), FIXED_TIME)
            info.compress_type = zipfile.ZIP_STORED if info.filename in stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with path.open("rb") as src, z.open(info, "w", force_zip64=True) as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
        # Every entry within the ratio keeps the whole archive within it too.
        over = frozenset(i.filename for i in z.infolist() if i.file_size > PACKAGE.max_ratio * max(i.compress_size, 1))
    return len(files), over


def folder_size(folder: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
