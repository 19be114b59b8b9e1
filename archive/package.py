"""Archive packages (档案): one zip per lot that proves itself, offline, years later.

Layout and checks are documented in ``archive/PACKAGE.md``. Building streams every file through
SM3 into the zip (sealed bids can be gigabytes); the manifest, written last, lists each file's
path, SM3, size, category and kind, and the platform signs the manifest's SM3. Verifying needs
nothing but the package and the platform's certificate or root: signatures of the manifest, of
every receipt, record, confirmation and sealed bid; every file's digest; every event recomputed
and proven included in the signed checkpoint.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, NamedTuple

from archive.audit import event_bytes
from archive.merkle import leaf_hash, verify_inclusion
from signing.canonical import canonical_json
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.digest import SM3, sm3, sm3_hex
from signing.envelope import read_header
from signing.errors import SigningError
from signing.sm2 import PrivateKey
from signing.statements import (
    SignedStatement,
    guarantee_commitment,
    record_confirmation_statement,
    sign_statement,
    tender_document_statement,
)

FORMAT = "ggzy-archive-package"
VERSION = 2  # 2: the canonical container layout (every header byte checked)
#: Versions ``verify`` reads. Version 1 (written by zipfile, releases up to 693c14d) lies in WORM
#: storage under 15-year retention: it stays verifiable by its own rules for as long as it is kept.
VERSIONS = (1, 2)
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig.json"
PLATFORM_CERT = "certs/platform-signing.pem"
CA_ROOT = "certs/platform-root.pem"
MANIFEST_TYPE = "archive_manifest"

#: The document classes 电子招标投标办法 (2013) 第四十条 requires to be signed and archived.
CATEGORIES = {
    "announcement": "招标公告及变更公告",
    "tender_document": "招标文件及其澄清、修改",
    "bid": "投标文件",
    "receipt": "投标文件接收回执",
    "opening_record": "开标记录",
    "objection": "异议及答复",
    "guarantee": "投标保证金（电子保函）",
    "evaluation": "评标报告（含专家抽取、评审与签名）",
    "award": "中标通知书",
    "event_log": "交易过程记录",
    "checkpoint": "日志检查点",
    "certificate": "证书",
}


@dataclass(frozen=True)
class Entry:
    path: str
    category: str
    kind: str  # what the verifier checks inside: sealed_bid, receipt, opened_bid, record, …
    open: Callable[[], contextlib.AbstractContextManager[IO[bytes]]]
    meta: dict[str, Any] = field(default_factory=dict)


def bytes_entry(path: str, category: str, kind: str, data: bytes, **meta: Any) -> Entry:
    return Entry(path, category, kind, lambda: contextlib.nullcontext(io.BytesIO(data)), meta)


# ---------------------------------------------------------------- the container
# Every package is written in one canonical ZIP layout (APPNOTE 6.3.x, ZIP64 always, stored,
# UTF-8 names, the date 1980-01-01, no comments, no attributes), so that the verifier can
# recompute every header byte from the entries' names, sizes and CRCs: a damaged byte anywhere
# in the file is then a finding, not only a damaged byte inside a file the manifest lists.
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR = struct.Struct("<IIQI")
_EOCD = struct.Struct("<IHHHHIIH")
_ZIP_VERSION = 45  # ZIP64
_UTF8_NAME = 0x0800
_DOS_DATE = (1 << 5) | 1  # 1980-01-01
_FFFF, _FFFFFFFF = 0xFFFF, 0xFFFFFFFF


def local_header(name: str, crc: int, size: int) -> bytes:
    raw = name.encode("utf-8")
    fixed = _LOCAL.pack(0x04034B50, _ZIP_VERSION, _UTF8_NAME, 0, 0, _DOS_DATE, crc, _FFFFFFFF, _FFFFFFFF, len(raw), 20)
    return fixed + raw + struct.pack("<HHQQ", 1, 16, size, size)


def central_directory(entries: Sequence[tuple[str, int, int, int]], offset: int) -> bytes:
    """The central directory and end records for entries (name, crc, size, header offset) that
    end at ``offset``."""
    records = []
    for name, crc, size, at in entries:
        raw = name.encode("utf-8")
        fixed = _CENTRAL.pack(
            0x02014B50,
            _ZIP_VERSION,
            _ZIP_VERSION,
            _UTF8_NAME,
            0,
            0,
            _DOS_DATE,
            crc,
            _FFFFFFFF,
            _FFFFFFFF,
            len(raw),
            28,
            0,
            0,
            0,
            0,
            _FFFFFFFF,
        )
        records.append(fixed + raw + struct.pack("<HHQQQ", 1, 24, size, size, at))
    cd = b"".join(records)
    n, end = len(entries), offset + len(cd)
    return (
        cd
        + _EOCD64.pack(0x06064B50, 44, _ZIP_VERSION, _ZIP_VERSION, 0, 0, n, n, len(cd), offset)
        + _LOCATOR.pack(0x07064B50, 0, end, 1)
        + _EOCD.pack(0x06054B50, 0, 0, min(n, _FFFF), min(n, _FFFF), min(len(cd), _FFFFFFFF), min(offset, _FFFFFFFF), 0)
    )


class _Writer:
    """Streams entries into ``dst`` (seekable: each header is rewritten once its CRC is known)."""

    def __init__(self, dst: BinaryIO) -> None:
        self.dst, self.start = dst, dst.tell()
        self.entries: list[tuple[str, int, int, int]] = []

    def add(self, name: str, src: IO[bytes]) -> tuple[str, int]:
        if any(name == e[0] for e in self.entries) or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"bad or duplicate entry name {name!r}")
        at = self.dst.tell()
        self.dst.write(local_header(name, 0, 0))
        h, crc, size = SM3(), 0, 0
        while chunk := src.read(1 << 20):
            h.update(chunk)
            crc = zlib.crc32(chunk, crc)
            self.dst.write(chunk)
            size += len(chunk)
        end = self.dst.tell()
        self.dst.seek(at)
        self.dst.write(local_header(name, crc, size))
        self.dst.seek(end)
        self.entries.append((name, crc, size, at - self.start))
        return h.hexdigest(), size

    def close(self) -> None:
        self.dst.write(central_directory(self.entries, self.dst.tell() - self.start))


def build(
    dst: BinaryIO,
    entries: Iterable[Entry],
    header: dict[str, Any],
    *,
    key: PrivateKey,
    cert: Certificate,
    root: Certificate,
    now: dt.datetime,
) -> dict[str, Any]:
    """Write the package to ``dst``; return its manifest."""
    files: list[dict[str, Any]] = []
    out = _Writer(dst)
    for e in [
        bytes_entry(PLATFORM_CERT, "certificate", "certificate", cert.to_pem()),
        bytes_entry(CA_ROOT, "certificate", "certificate", root.to_pem()),
        *entries,
    ]:
        if e.category not in CATEGORIES:
            raise ValueError(f"unknown category {e.category}")
        with e.open() as src:
            digest, size = out.add(e.path, src)
        files.append({"path": e.path, "sm3": digest, "size": size, "category": e.category, "kind": e.kind, **e.meta})
    manifest = {"format": FORMAT, "version": VERSION, **header, "built_at": now.isoformat(), "files": files}
    data = canonical_json(manifest)
    out.add(MANIFEST, io.BytesIO(data))
    st = sign_statement(MANIFEST_TYPE, {"manifest_sm3": sm3_hex(data), "format": FORMAT}, key=key, cert=cert, now=now)
    out.add(MANIFEST_SIG, io.BytesIO(st.to_json()))
    out.close()
    return manifest


# ---------------------------------------------------------------- verification
class Check(NamedTuple):
    what: str  # the check and the entry it concerns
    ok: bool
    detail: str
    code: str  # a stable name for the finding; when ok, "" or the name of an informational note


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, what: str, ok: bool, detail: str = "", code: str = "") -> None:
        self.checks.append(Check(what, ok, detail, "" if ok else code or "failed"))

    def note(self, what: str, detail: str, code: str) -> None:
        """Something the reader should know that is not a failure (it leaves the verdict alone)."""
        self.checks.append(Check(what, True, detail, code))

    def fail(self, what: str, exc: BaseException) -> None:
        """A check that raised: named by what it was checking and the kind of damage."""
        self.add(what, False, describe(exc), finding_code(exc))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(c.what, f"[{c.code}] {c.detail}") for c in self.checks if not c.ok]

    def lines(self) -> Iterator[str]:
        for c in self.checks:
            if c.ok and c.code:
                yield f"说明 INFO  [{c.code}] {c.what}：{c.detail}"
            elif c.ok:
                yield f"通过 OK    {c.what}{'：' + c.detail if c.detail else ''}"
            else:
                yield f"失败 FAIL  [{c.code}] {c.what}{'：' + c.detail if c.detail else ''}"


class Damage(Exception):
    """Something in the package that is not as the format says, with its finding code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def finding_code(exc: BaseException) -> str:
    """Classify whatever a damaged or made-up byte can raise, so every finding has a stable name."""
    if isinstance(exc, Damage | SigningError):
        return exc.code
    if isinstance(exc, zipfile.BadZipFile):
        text = str(exc)
        for needle, code in (
            ("CRC", "bad_crc"),
            ("magic number", "bad_local_header"),
            ("differ", "name_mismatch"),
            ("Overlapped", "overlapping_entries"),
            ("Truncated", "truncated"),
            ("ip64", "bad_zip64"),
            ("extra", "bad_extra_field"),
        ):
            if needle in text:
                return code
        return "bad_zip"
    if isinstance(exc, EOFError):
        return "truncated"
    if isinstance(exc, zlib.error):
        return "decompression_error"
    if isinstance(exc, NotImplementedError):
        return "unsupported_compression"
    if isinstance(exc, UnicodeError):
        return "bad_encoding"
    if isinstance(exc, json.JSONDecodeError):
        return "bad_json"
    if isinstance(exc, struct.error):
        return "bad_zip"
    if isinstance(exc, KeyError | TypeError | AttributeError | IndexError | ValueError):
        return "malformed"
    if isinstance(exc, OSError):
        return "io_error"
    if isinstance(exc, MemoryError | RecursionError):
        return "too_complex"
    return "verifier_error"


def describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, KeyError):
        text = f"缺少字段 {text} (field missing)"
    return f"{type(exc).__name__}: {text}"[:500]


#: Bounds on what is read from a package before its manifest is trusted, and on parsed files.
MAX_ENTRIES = 100_000
MAX_CERT = 64 << 10
MAX_PARSED = 64 << 20  # a JSON file the verifier parses whole
MAX_LINE = 4 << 20  # one event of log/events.jsonl
_HEX = frozenset("0123456789abcdef")


class _Package:
    """The entries of a package, read with bounds: stored only, at most the size the signed
    manifest (or a fixed cap) allows, every CRC checked, duplicates refused."""

    def __init__(self, z: zipfile.ZipFile) -> None:
        self.z = z
        self.infos: dict[str, zipfile.ZipInfo] = {}
        self.duplicates: set[str] = set()
        for info in z.infolist():
            if info.filename in self.infos:
                self.duplicates.add(info.filename)
            self.infos[info.filename] = info

    def info(self, path: str) -> zipfile.ZipInfo:
        if path in self.duplicates:
            raise Damage("entry_duplicate", f"{path} 在包中出现多次 (entry appears more than once)")
        info = self.infos.get(path)
        if info is None:
            raise Damage("entry_missing", f"{path} 缺失 (missing)")
        if info.compress_type != zipfile.ZIP_STORED:
            raise Damage(
                "unsupported_compression", f"{path} 不是存储方式 (entry is compressed, method {info.compress_type})"
            )
        if info.flag_bits & 0x1:
            raise Damage("encrypted_entry", f"{path} 已加密 (entry is encrypted)")
        return info

    @contextlib.contextmanager
    def open(self, path: str, limit: int) -> Iterator[_Bounded]:
        info = self.info(path)
        if info.file_size > limit:
            raise Damage("entry_too_large", f"{path} 大小 {info.file_size} 超过上限 {limit} (entry too large)")
        with self.z.open(info) as f:
            yield _Bounded(f, limit, path)

    def read(self, path: str, limit: int = MAX_PARSED) -> bytes:
        with self.open(path, limit) as f:
            return f.read()

    def digest(self, path: str, limit: int) -> tuple[str, int]:
        with self.open(path, limit) as f:
            h, size = SM3(), 0
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size


class _Bounded:
    """A read-only view that refuses to yield more than ``limit`` bytes (whatever the headers say)."""

    def __init__(self, src: IO[bytes], limit: int, path: str) -> None:
        self.src, self.left, self.path = src, limit, path

    def read(self, n: int | None = -1) -> bytes:
        return self._counted(self.src.read(self._want(n)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self.src.readline(self._want(size)))

    def _want(self, n: int | None) -> int:
        # one byte past the bound, so that an entry larger than it is seen, not cut silently
        return self.left + 1 if n is None or n < 0 else min(n, self.left + 1)

    def _counted(self, data: bytes) -> bytes:
        if len(data) > self.left:
            raise Damage("entry_too_large", f"{self.path} 超过大小上限 (entry larger than its bound)")
        self.left -= len(data)
        return data


def _layout(source: IO[bytes], z: zipfile.ZipFile) -> list[tuple[str, str]]:
    """Every header byte recomputed from the entries (name, CRC, size) and compared with the file:
    what zipfile does not check (dates, flags, versions, attributes, extra fields, gaps, bytes
    after the end) must be exactly as ``build`` writes it. Returns (code, detail) findings."""
    found: list[tuple[str, str]] = []
    source.seek(0, io.SEEK_END)
    length = source.tell()
    offset, entries = 0, []
    for info in z.infolist():
        name = info.orig_filename
        if info.header_offset != offset or info.compress_size != info.file_size:
            found.append(("layout_not_canonical", f"{name}：条目位置或大小不连续 (entry offset or size out of place)"))
            return found
        try:
            expected = local_header(name, info.CRC, info.file_size)
        except UnicodeError as exc:
            found.append(("bad_encoding", f"{name!r}: {exc}"))
            return found
        source.seek(offset)
        if source.read(len(expected)) != expected:
            found.append(("layout_not_canonical", f"{name}：本地文件头与规范不符 (local header differs)"))
        entries.append((name, info.CRC, info.file_size, offset))
        offset += len(expected) + info.file_size
        if offset > length:
            found.append(("truncated", f"{name}：数据超出文件末尾 (data beyond the end of the file)"))
            return found
    expected = central_directory(entries, offset)
    if length - offset != len(expected):
        found.append(("layout_not_canonical", f"中央目录之后长度不符：{length - offset} ≠ {len(expected)} 字节"))
        return found
    source.seek(offset)
    if source.read(len(expected)) != expected:
        found.append(("layout_not_canonical", "中央目录或结束记录与规范不符 (central directory or end records differ)"))
    return found


def verify(source: str | IO[bytes], trusted: Certificate) -> Report:
    """Check a package offline; every finding is named in the report, never raised."""
    report = Report()
    try:
        with contextlib.ExitStack() as stack:
            f: IO[bytes] = stack.enter_context(open(source, "rb")) if isinstance(source, str) else source
            _verify(f, trusted, report)
    except Exception as exc:  # a net under the per-check guards: a finding, named, never a traceback
        report.fail("档案包核验 (package verification)", exc)
    return report


def _verify(source: IO[bytes], trusted: Certificate, report: Report) -> None:
    what = "档案包格式 (package format)"
    try:
        z = zipfile.ZipFile(source)
    except Exception as exc:
        report.fail(what, exc)
        return
    with z:
        if len(z.infolist()) > MAX_ENTRIES:
            report.add(
                what, False, f"条目过多 {len(z.infolist())} (more than {MAX_ENTRIES} entries)", "too_many_entries"
            )
            return
        pack = _Package(z)
        for path in sorted(pack.duplicates):
            report.add(f"文件 {path}", False, "在包中出现多次 (entry appears more than once)", "entry_duplicate")
        anchors = _trust(pack, trusted, report)
        if anchors is None:
            _report_layout(report, source, z, _claimed_version(pack))
            return
        platform, trust = anchors
        what = f"清单签名 {MANIFEST_SIG} (manifest signature)"
        try:
            raw = pack.read(MANIFEST)
            sig = pack.read(MANIFEST_SIG, MAX_CERT)
            st = SignedStatement.from_json(sig)
            if st.to_json() != sig:
                raise Damage("bad_signature", "签名文件不是规范形式 (signature file not canonical)")
            body = st.verify(trusted=platform, expected_type=MANIFEST_TYPE)["body"]
            if body["manifest_sm3"] != sm3_hex(raw):
                raise Damage("digest_mismatch", "清单摘要与签名不符 (manifest digest differs)")
            manifest = json.loads(raw)
            listed = _listed(manifest)
        except Exception as exc:
            report.fail(what, exc)
            _report_layout(report, source, z, _claimed_version(pack))
            return
        report.add(what, True, f"第 {manifest['version']} 版 (format version {manifest['version']})")
        _report_layout(report, source, z, manifest["version"])
        extra = set(pack.infos) - set(listed) - {MANIFEST, MANIFEST_SIG}
        for path in sorted(extra):
            report.add(f"文件 {path}", False, "未列入清单 (not in the manifest)", "entry_unlisted")
        for path, f in listed.items():
            try:
                if pack.info(path).file_size != f["size"]:
                    raise Damage("size_mismatch", f"大小 {pack.info(path).file_size} ≠ 清单 {f['size']}")
                digest, size = pack.digest(path, f["size"])
                if digest != f["sm3"] or size != f["size"]:
                    raise Damage("digest_mismatch", "SM3 或大小不符 (digest or size differs)")
                report.add(f"文件 {path}", True)
            except Exception as exc:
                report.fail(f"文件 {path}", exc)
        _verify_contents(pack, listed, platform, trust, report)


def _report_layout(report: Report, source: IO[bytes], z: zipfile.ZipFile, version: int) -> None:
    """Version 2's canonical layout, byte for byte. Version 1 had none: what zipfile wrote (dates,
    attributes, versions, extra fields) varied with the Python that wrote it, so those header bytes
    cannot be held to anything; a note says so. Every member's bytes are still checked (CRC, SM3
    against the signed manifest), and so are the bounds, duplicates and stored-only rule."""
    what = "档案包结构 (container layout)"
    if version == 1:
        report.note(
            what,
            "第 1 版：zipfile 不核对的容器头字节（日期、属性、版本、额外字段、间隙）无规范布局可比，未逐字节核验；"
            "成员内容仍由 CRC、清单 SM3 与签名核验 (version 1: header bytes zipfile does not check are not held to "
            "a canonical layout; every member's content is checked)",
            "layout_not_held_v1",
        )
        return
    try:
        layout = _layout(source, z)
    except Exception as exc:
        layout = [(finding_code(exc), describe(exc))]
    for code, detail in layout:
        report.add(what, False, detail, code)
    if not layout:
        report.add(what, True, "每个字节均与规范布局一致")


def _claimed_version(pack: _Package) -> int:
    """The version an untrusted manifest claims, only to choose which layout findings to report
    beside the failure that left it untrusted (a damaged v1 package is not also 28 findings of not
    being v2); anything unreadable is taken as the current version."""
    try:
        version = json.loads(pack.read(MANIFEST))["version"]
    except Exception:
        return VERSION
    return version if type(version) is int and version in VERSIONS else VERSION


def _listed(manifest: Any) -> dict[str, dict[str, Any]]:
    """The manifest's files, each shaped as the format says (or a ``bad_manifest`` finding). The
    manifest is the same in versions 1 and 2; only the container differs."""
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or type(manifest.get("version")) is not int
        or manifest["version"] not in VERSIONS
    ):
        versions = "、".join(map(str, VERSIONS))
        raise Damage("bad_manifest", f"不是 {FORMAT} 第 {versions} 版的清单 (not a version {versions} manifest)")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise Damage("bad_manifest", "清单缺少 files (manifest has no files)")
    listed: dict[str, dict[str, Any]] = {}
    for f in files:
        if not (
            isinstance(f, dict)
            and isinstance(f.get("path"), str)
            and isinstance(f.get("kind"), str)
            and f.get("category") in CATEGORIES
            and isinstance(f.get("sm3"), str)
            and len(f["sm3"]) == 64
            and set(f["sm3"]) <= _HEX
            and type(f.get("size")) is int
            and f["size"] >= 0
        ):
            raise Damage("bad_manifest", f"清单条目格式错误 (malformed manifest entry) {str(f)[:120]}")
        if f["path"] in listed or f["path"] in (MANIFEST, MANIFEST_SIG):
            raise Damage("bad_manifest", f"清单重复列出 {f['path']} (listed twice)")
        listed[f["path"]] = f
    return listed


def _trust(pack: _Package, trusted: Certificate, report: Report) -> tuple[Certificate, TrustStore] | None:
    """The platform signing certificate and the root bidders' certificates chain to, anchored in
    what the verifier trusts: the root itself, or the platform's signing certificate."""
    what = f"平台证书 {PLATFORM_CERT}, {CA_ROOT}"
    try:
        signing = Certificate.load(pack.read(PLATFORM_CERT, MAX_CERT))
        root = Certificate.load(pack.read(CA_ROOT, MAX_CERT))
        if trusted.is_ca:
            if trusted.der != root.der:
                raise Damage(
                    "untrusted_anchor", "包内根证书不是所信任的根证书 (root in the package is not the trusted root)"
                )
        elif trusted.der != signing.der:
            raise Damage("untrusted_anchor", "包内平台证书不是所信任的证书 (not the trusted platform certificate)")
        verify_chain(signing, TrustStore((root,)), at=signing.not_before, usage=Usage.SIGN)
    except Exception as exc:
        report.fail(what, exc)
        return None
    report.add(what, True, "与信任锚一致")
    return signing, TrustStore((root,))


def _json(pack: _Package, path: str) -> Any:
    return json.loads(pack.read(path))


def _verify_contents(
    pack: _Package, listed: dict[str, dict[str, Any]], platform: Certificate, trust: TrustStore, report: Report
) -> None:
    present = set(pack.infos) - pack.duplicates

    def of_kind(kind: str) -> list[dict[str, Any]]:
        return [f for f in listed.values() if f["kind"] == kind and f["path"] in present]

    headers: dict[str, Any] = {}
    for f in of_kind("sealed_bid"):
        what = f"投标文件签名 {f['path']}"
        try:
            with pack.open(f["path"], f["size"]) as src:
                header = read_header(src)  # type: ignore[arg-type]
            header.verify(trust, at=dt.datetime.fromisoformat(f["received_at"]))
            headers[f["bidder"]] = header
            report.add(what, True, f"投标人 {header.bidder_id}")
        except Exception as exc:
            report.fail(what, exc)
    for f in of_kind("document_signature"):  # the tenderee's UKey signature over each document
        what = f"招标文件签名 {f['path']}"
        try:
            d = _json(pack, f["path"])
            signer = Certificate.load(d["signer_cert"].encode())
            if signer.fingerprint != d["signer_cert_sm3"] or listed.get(f["document"], {}).get("sm3") != d["sm3"]:
                raise Damage("digest_mismatch", "签名证书或文件摘要不符 (certificate or document digest differs)")
            verify_chain(signer, trust, at=dt.datetime.fromisoformat(d["signed_at"]), usage=Usage.SIGN)
            statement = tender_document_statement(d["tender"], d["name"], d["sm3"], d["size"])
            signer.public_key.verify(base64.b64decode(d["signature"]), statement)
            report.add(what, True)
        except Exception as exc:
            report.fail(what, exc)
    for f in of_kind("guarantee"):  # the issuer's signature over each e-guarantee and its document
        what = f"电子保函签名 {f['path']}"
        try:
            d = _json(pack, f["path"])
            signer = Certificate(base64.b64decode(d["signer_cert"]))
            verify_chain(signer, trust, at=dt.datetime.fromisoformat(d["verified_at"]), usage=Usage.SIGN)
            signer.public_key.verify(base64.b64decode(d["signature"]), d["content"].encode())
            content = json.loads(d["content"])
            if f["document"] in listed and content["document_sm3"] != listed[f["document"]]["sm3"]:
                raise Damage("digest_mismatch", "保函文件与签名内容不符 (document differs from the signed content)")
            for name, opening in (d.get("openings") or {}).items():  # 保函加密: the revealed fields
                if guarantee_commitment(opening["value"], opening["salt"]) != content[name]["sm3"]:
                    raise Damage("bad_opening", f"保函揭示的 {name} 与承诺不符 (opening does not match its commitment)")
            report.add(what, True)
        except Exception as exc:
            report.fail(what, exc)
    sealed_sm3 = {f["bidder"]: f["sm3"] for f in of_kind("sealed_bid")}
    for f in of_kind("receipt"):
        what = f"回执 {f['path']}"
        try:
            st = SignedStatement.from_json(pack.read(f["path"]))
            body = st.verify(trusted=platform, expected_type="bid_receipt")["body"]
            if body["ciphertext_sm3"] != sealed_sm3.get(f["bidder"]):
                raise Damage("digest_mismatch", "回执与投标文件不符 (receipt does not match the sealed bid)")
            report.add(what, True)
        except Exception as exc:
            report.fail(what, exc)
    for f in of_kind("opened_bid"):
        signed = headers.get(f["bidder"])
        ok = signed is not None and signed.plaintext_sm3 == f["sm3"] and signed.plaintext_size == f["size"]
        report.add(f"解密后的投标文件 {f['path']}", ok, "" if ok else "与投标人签名的明文摘要不符", "digest_mismatch")
    records: dict[str, str] = {}
    for f in of_kind("record_statement"):
        what = f"开标记录签名 {f['path']}"
        try:
            st = SignedStatement.from_json(pack.read(f["path"]))
            body = st.verify(trusted=platform, expected_type="opening_record")["body"]
            for key, part in (("record_sm3", "json"), ("pdf_sm3", "pdf")):
                target = f"{f['record']}.{part}"
                if listed.get(target, {}).get("sm3") != body[key] or target not in present:
                    raise Damage("digest_mismatch", f"{target} 与签名不符")
            records[f["record"]] = body["record_sm3"]
            report.add(what, True)
        except Exception as exc:
            report.fail(what, exc)
    for f in of_kind("confirmations"):
        what = f"开标记录确认签名 {f['path']}"
        try:
            for c in _json(pack, f["path"]):
                if c["kind"] != "signed":
                    continue
                header = headers[c["credit_code"]]
                statement = record_confirmation_statement(c["ceremony"], c["credit_code"], c["record_sm3"])
                header.signer_cert.public_key.verify(base64.b64decode(c["signature"]), statement)
                if c["record_sm3"] != records.get("opening/record"):
                    raise Damage("digest_mismatch", "确认的不是本包中的开标记录")
            report.add(what, True)
        except Exception as exc:
            report.fail(what, exc)
    _verify_events(pack, of_kind("checkpoint"), of_kind("events"), platform, report)


def _verify_events(
    pack: _Package,
    checkpoints: list[dict[str, Any]],
    logs: list[dict[str, Any]],
    platform: Certificate,
    report: Report,
) -> None:
    if not checkpoints or not logs:
        report.add("交易过程记录与检查点 (events and checkpoint)", False, "缺失 (missing)", "entry_missing")
        return
    what = "日志检查点签名 (checkpoint signature)"
    try:
        st = SignedStatement.from_json(pack.read(checkpoints[0]["path"]))
        cp = st.verify(trusted=platform, expected_type="log_checkpoint")["body"]
        size, root = int(cp["tree_size"]), bytes.fromhex(cp["root_sm3"])
        report.add(what, True, f"树大小 {size}")
    except Exception as exc:
        report.fail(what, exc)
        return
    path = logs[0]["path"]
    last, bad, count = 0, [], 0
    try:
        with pack.open(path, logs[0]["size"]) as src:
            while line := src.readline(MAX_LINE + 1):
                count += 1
                if len(line) > MAX_LINE:
                    raise Damage("entry_too_large", f"第 {count} 行过长 (line longer than {MAX_LINE} bytes)")
                try:
                    ev = json.loads(line)
                    seq = int(ev["seq"])
                    payload_sm3 = sm3(ev["payload"].encode())
                    leaf = leaf_hash(
                        event_bytes(
                            seq,
                            dt.datetime.fromisoformat(ev["at"]),
                            ev["actor"],
                            ev["role"],
                            ev["action"],
                            ev["object_type"],
                            ev["object_id"],
                            payload_sm3,
                        )
                    )
                    proof = [bytes.fromhex(h) for h in ev["inclusion_proof"]]
                except Exception as exc:
                    bad.append(f"第 {count} 行格式错误 (malformed line): {describe(exc)}")
                    continue
                if seq <= last:
                    bad.append(f"事件 {seq} 顺序错误 (out of order)")
                last = seq
                if not verify_inclusion(seq - 1, size, leaf, proof, root):
                    bad.append(f"事件 {seq} 不在检查点中或被修改 (not included / altered)")
    except Exception as exc:
        report.fail(f"交易过程记录 {path} (events)", exc)
        return
    report.add(
        f"交易过程记录 {path}：{count} 条及包含证明 (events and inclusion proofs)",
        not bad,
        "；".join(bad[:5]),
        "event_not_proven",
    )
