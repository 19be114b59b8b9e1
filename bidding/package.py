"""Turning a bid folder into one package file, deterministically (same folder, same bytes)."""

from __future__ import annotations

import pathlib
import zipfile
from typing import BinaryIO

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def write_folder_zip(folder: pathlib.Path, dst: BinaryIO) -> int:
    """Zip ``folder`` into ``dst`` with sorted names and fixed timestamps; returns file count."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with path.open("rb") as src, z.open(info, "w", force_zip64=True) as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    return len(files)


def folder_size(folder: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
