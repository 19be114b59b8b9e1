"""Reading decrypted bid packages (and the tender's own documents) for the collusion signals:
every file's SM3 and the metadata of its PDF and Office documents, in one bounded pass.

A package is the bidder's zip, hostile input: it is opened with ``signing.bounded_zip`` (the
bounds the opening already held it to), each entry streamed once through SM3. A document's bytes
are kept for its metadata only when it is at most ``META_MAX_BYTES`` (16 MiB): a larger PDF or
Office file is hashed like any other and its metadata not read (the Info dictionary may sit
anywhere in a PDF, so a head and tail would not be enough). Metadata that cannot be parsed is
simply absent; a package that breaks a bound or cannot be read is reported by the caller as
skipped (``PackageUnreadable``), never half-read.
"""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree import ElementTree

from pypdf import PdfReader

from signing.bounded_zip import BoundedZip, Limits
from signing.digest import SM3
from signing.errors import ArchiveRefused
from trading.signals.rules import DocMeta, FileFact

#: The largest document whose metadata is read (its bytes held in memory for the parser).
META_MAX_BYTES = 16 << 20
#: CPU seconds one package may spend reading its documents' metadata: a bidder who fills its bid with
#: documents slow to parse (a PDF whose /Author is megabytes long) delays only this much; past it the
#: rest are hashed only, and the run says how many went unread
META_BUDGET_SECONDS = 5.0
#: The most of docProps/core.xml or app.xml read (a few hundred bytes in practice).
PROPS_MAX_BYTES = 256 << 10
PDF_SUFFIXES = (".pdf",)
OFFICE_SUFFIXES = (".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".pptm", ".dotx")
#: An Office document is itself a zip: held to tighter bounds than a bid package.
OFFICE_LIMITS = Limits(max_entries=5000, max_directory_bytes=2 << 20, max_entry_size=64 << 20, max_total=256 << 20)

_PDF_FIELDS = {"/Author": "author", "/CreationDate": "created"}
_NS = {
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
}
_DOCTYPE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)

logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # a hostile PDF's complaints are not our errors


class PackageUnreadable(Exception):
    """A package that could not be read at all: ``code`` names why (an ``archive_*`` bound, …)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class PackageFacts:
    files: tuple[FileFact, ...]
    metadata: tuple[DocMeta, ...]
    #: documents whose metadata went unread because the package spent its budget (still hashed)
    unread: int = 0


def clean_text(value: object) -> str:
    """A metadata value as compared and shown: one line of at most 200 characters, without control
    or format characters (a NUL or a lone surrogate could not be signed or stored)."""
    if value is None:
        return ""
    text = "".join(ch for ch in str(value) if unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())[:200]


def pdf_metadata(data: bytes) -> dict[str, str]:
    """A PDF's Info dictionary: Author, CreationDate (as written) and the creator tool (Creator /
    Producer), or {} if it has none or cannot be parsed. ``/Info`` is named in the trailer (or the
    cross-reference stream's dictionary), which are never compressed: without it nothing is parsed;
    nor is a file whose last KiB has no ``%%EOF`` (the parser would search back through the file
    for it, line by line: a hostile tail could cost seconds per file)."""
    if b"/Info" not in data or b"%%EOF" not in data[-1024:]:
        return {}  # no Info; or bytes after the end marker, which pypdf would scan back through
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = PdfReader(io.BytesIO(data)).metadata
            if not info:
                return {}
            out = {name: clean_text(info.get(key)) for key, name in _PDF_FIELDS.items()}
            tool = " / ".join(clean_text(info.get(k)) for k in ("/Creator", "/Producer") if info.get(k))
    except Exception:  # pypdf raises many kinds on a broken file; the document simply has no metadata
        return {}
    if tool:
        out["tool"] = tool
    return {k: v for k, v in out.items() if v}


def _xml(data: bytes | None) -> ElementTree.Element | None:
    if not data or _DOCTYPE.search(data):  # docProps never declare entities: refuse any that do
        return None
    try:  # the check above reads bytes as UTF-8 does: an XML in UTF-16 could hide its DOCTYPE from it
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None


def office_metadata(data: bytes) -> dict[str, str]:
    """An Office (OOXML) document's docProps: creator, lastModifiedBy, created (core.xml), the
    Application and Company (app.xml); {} if it is not such a document."""
    try:
        z = BoundedZip(io.BytesIO(data), OFFICE_LIMITS)
        core, app = (
            _xml(z.read("docProps/core.xml", PROPS_MAX_BYTES)),
            _xml(z.read("docProps/app.xml", PROPS_MAX_BYTES)),
        )
    except ArchiveRefused:
        return {}
    out: dict[str, str] = {}
    if core is not None:
        for tag, name in (
            ("dc:creator", "author"),
            ("cp:lastModifiedBy", "last_modified_by"),
            ("dcterms:created", "created"),
        ):
            el = core.find(tag, _NS)
            if el is not None and el.text:
                out[name] = clean_text(el.text)
    if app is not None:
        parts = [app.find(f"ep:{t}", _NS) for t in ("Application", "AppVersion")]
        tool = " ".join(clean_text(el.text) for el in parts if el is not None and el.text)
        if tool:
            out["tool"] = tool
        company = app.find("ep:Company", _NS)
        if company is not None and company.text:
            out["company"] = clean_text(company.text)
    return {k: v for k, v in out.items() if v}


def document_metadata(name: str, data: bytes) -> dict[str, str]:
    lower = name.lower()
    if lower.endswith(PDF_SUFFIXES):
        return pdf_metadata(data)
    if lower.endswith(OFFICE_SUFFIXES):
        return office_metadata(data)
    return {}


def _wants_metadata(info: zipfile.ZipInfo) -> bool:
    return info.file_size <= META_MAX_BYTES and info.filename.lower().endswith(PDF_SUFFIXES + OFFICE_SUFFIXES)


def read_zip(z: BoundedZip) -> PackageFacts:
    """Every file of an opened zip: SM3 and size, and the metadata of its documents."""
    files, metas = [], []
    spent, unread = 0.0, 0
    for info in z.entries:
        if info.is_dir():
            continue
        h, keep = SM3(), _wants_metadata(info)
        if keep and spent >= META_BUDGET_SECONDS:
            keep, unread = False, unread + 1
        held: list[bytes] = []
        for piece in z.stream(info):
            h.update(piece)
            if keep:
                held.append(piece)
        files.append(FileFact(info.filename, h.hexdigest(), info.file_size))
        if keep:
            started = time.process_time()
            fields = document_metadata(info.filename, b"".join(held))
            spent += time.process_time() - started
            if fields:
                metas.append(DocMeta(info.filename, fields))
    return PackageFacts(tuple(files), tuple(metas), unread)


def read_package(f: BinaryIO) -> PackageFacts:
    """A decrypted bid package (seekable): raises ``PackageUnreadable`` if it is not a zip or
    breaks a bound of ``signing.bounded_zip``."""
    try:
        return read_zip(BoundedZip(f))
    except ArchiveRefused as exc:
        raise PackageUnreadable(exc.code, str(exc)) from None
    except OSError as exc:
        raise PackageUnreadable("storage_error", repr(exc)) from None


def read_reference(name: str, f: BinaryIO) -> PackageFacts:
    """One of the tender's own documents: itself, and when it is a zip, the files inside it (one
    level; a bound broken inside is not fatal: the document itself still counts)."""
    h = SM3()
    f.seek(0)
    head = f.read(4)
    f.seek(0)
    size = 0
    held: list[bytes] = []
    while chunk := f.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
        if size <= META_MAX_BYTES:
            held.append(chunk)
    own = FileFact(name, h.hexdigest(), size)
    meta = document_metadata(name, b"".join(held)) if size <= META_MAX_BYTES else {}
    files, metas = [own], [DocMeta(name, meta)] if meta else []
    if head == b"PK\x03\x04" and not name.lower().endswith(OFFICE_SUFFIXES):
        try:
            inner = read_zip(BoundedZip(f))
            files += inner.files
            metas += inner.metadata
        except ArchiveRefused:
            pass
    return PackageFacts(tuple(files), tuple(metas))
