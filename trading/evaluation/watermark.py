"""Watermarked copies of opened bids for the experts (下载水印).

A bid's plaintext is the deterministic zip ``ggzy-bid seal`` made. The expert's copy is a new zip:
every PDF in it has each page stamped (expert, time, download number), every other file is copied
as it is, and ``水印说明.txt`` plus the zip comment name the copy. The download number and the
copy's SM3 go into the audit event, so a leaked copy leads back to one download.

The bid zip is the bidder's, so it is read through ``signing.bounded_zip`` (the bounds the
decryption already checked it against). A PDF is stamped in memory, so only one of at most
``STAMP_LIMIT`` bytes is: a larger one is copied as it is, streamed, and named in ``水印说明.txt``
and the audit event (refusing it would leave the committee without a part of the bid; the copy
stays marked by its comment, its note and its SM3 in the trail).
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from reportlab.lib.colors import Color
from reportlab.pdfgen import canvas

from signing.bounded_zip import BoundedZip
from trading.core.pdf import font, plain_text

#: The largest PDF stamped (held whole in memory while pypdf rewrites it, a few times its size).
STAMP_LIMIT = 64 * 1024 * 1024


def _stamp(width: float, height: float, text: str) -> PdfReader:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height))
    c.setFillColor(Color(0.6, 0.6, 0.6, alpha=0.35))
    c.setFont(font(), 14)
    c.translate(width / 2, height / 2)
    c.rotate(35)
    for dy in (-160, 0, 160):
        c.drawCentredString(0, dy, plain_text(text))  # an expert's name may hold a middle dot (买买提·艾力)
    c.save()
    buf.seek(0)
    return PdfReader(buf)


def stamp_pdf(data: bytes, text: str) -> bytes:
    """Each page with ``text`` over it; a file that is not a readable PDF comes back unchanged."""
    try:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        for page in writer.pages:
            w, h = float(page.mediabox.width), float(page.mediabox.height)
            page.merge_page(_stamp(w, h, text).pages[0])
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    except (PdfReadError, ValueError, KeyError):
        return data


def _entry(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """The copy's entry for the bidder's ``info``: stored when the bidder's entry did not compress
    (scans, images and most PDFs already are; zlib deflates such bytes at ~40 MB/s here, so a large
    bid would take minutes for nothing), deflated otherwise; its size known, so zip64 only if needed."""
    out = zipfile.ZipInfo(info.filename, info.date_time)
    out.external_attr = info.external_attr
    out.file_size = info.file_size
    incompressible = info.compress_size * 10 >= info.file_size * 9
    out.compress_type = zipfile.ZIP_STORED if incompressible else zipfile.ZIP_DEFLATED
    return out


def watermark_zip(src: BinaryIO, dst: BinaryIO, text: str, unstamped: list[str] | None = None) -> int:
    """Copy the bid zip ``src`` (seekable) to ``dst`` with PDFs stamped; returns how many PDFs were,
    and adds to ``unstamped`` the PDFs over ``STAMP_LIMIT`` copied without a stamp. Raises
    ``ArchiveRefused`` if the zip breaks a bound or is damaged (``archive_gap``,
    ``archive_header_mismatch``, ``archive_corrupt``: a 409 with that code, not "not a package",
    which is ``archive_unreadable``, a file with no zip structure at all). Entries stream through in 64 KiB pieces; a PDF
    is held whole while it is stamped."""
    stamped, too_large = 0, []
    package = BoundedZip(src)
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in package.entries:
            if info.is_dir():
                continue
            entry = _entry(info)
            if info.filename.lower().endswith(".pdf") and info.file_size <= STAMP_LIMIT:
                data = b"".join(package.stream(info, STAMP_LIMIT))
                out = stamp_pdf(data, text)
                stamped += out is not data
                entry.file_size = len(out)
                zout.writestr(entry, out)
                continue
            if info.filename.lower().endswith(".pdf"):
                too_large.append(info.filename)
            with zout.open(entry, "w") as w:
                for chunk in package.stream(info):
                    w.write(chunk)
        note = f"本文件为评标专用副本，仅限评标使用，不得外传。\n{text}\n"
        if too_large:
            note += f"以下 PDF 超过 {STAMP_LIMIT // (1 << 20)} MiB，未逐页加水印：\n" + "".join(
                f"{n}\n" for n in too_large
            )
        zout.writestr("水印说明.txt", note)
        zout.comment = text.encode()[:60000]
    if unstamped is not None:
        unstamped.extend(too_large)
    return stamped


@contextlib.contextmanager
def seekable(src: BinaryIO, scratch: pathlib.Path | None) -> Iterator[BinaryIO]:
    """``src`` itself when it can seek (a local file), else a copy spooled to a file in ``scratch``
    (an S3 stream): a zip is read from its end."""
    if getattr(src, "seekable", lambda: False)():
        yield src
        return
    with tempfile.TemporaryFile(dir=scratch) as spool:
        shutil.copyfileobj(src, spool, 1 << 20)
        spool.seek(0)
        yield spool
