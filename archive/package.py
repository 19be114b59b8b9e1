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
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from archive.merkle import leaf_hash, verify_inclusion
from signing.canonical import canonical_json
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.digest import SM3, sm3, sm3_hex, sm3_stream
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
VERSION = 1
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
    import io

    return Entry(path, category, kind, lambda: contextlib.nullcontext(io.BytesIO(data)), meta)


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
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for e in [
            bytes_entry(PLATFORM_CERT, "certificate", "certificate", cert.to_pem()),
            bytes_entry(CA_ROOT, "certificate", "certificate", root.to_pem()),
            *entries,
        ]:
            if e.category not in CATEGORIES:
                raise ValueError(f"unknown category {e.category}")
            h, size = SM3(), 0
            info = zipfile.ZipInfo(e.path, (1980, 1, 1, 0, 0, 0))
            with e.open() as src, z.open(info, "w", force_zip64=True) as out:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            files.append(
                {"path": e.path, "sm3": h.hexdigest(), "size": size, "category": e.category, "kind": e.kind, **e.meta}
            )
        manifest = {"format": FORMAT, "version": VERSION, **header, "built_at": now.isoformat(), "files": files}
        data = canonical_json(manifest)
        z.writestr(zipfile.ZipInfo(MANIFEST, (1980, 1, 1, 0, 0, 0)), data)
        st = sign_statement(
            MANIFEST_TYPE, {"manifest_sm3": sm3_hex(data), "format": FORMAT}, key=key, cert=cert, now=now
        )
        z.writestr(zipfile.ZipInfo(MANIFEST_SIG, (1980, 1, 1, 0, 0, 0)), st.to_json())
    return manifest


# ---------------------------------------------------------------- verification
@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append((what, ok, detail))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(w, d) for w, ok, d in self.checks if not ok]

    def lines(self) -> Iterator[str]:
        for what, ok, detail in self.checks:
            yield f"{'通过 OK  ' if ok else '失败 FAIL'}  {what}{'：' + detail if detail else ''}"


def _file_sm3(z: zipfile.ZipFile, path: str) -> tuple[str, int]:
    with z.open(path) as f:
        digest, size = sm3_stream(f)  # type: ignore[arg-type]
    return digest.hex(), size


def _trust(z: zipfile.ZipFile, trusted: Certificate, report: Report) -> tuple[Certificate, TrustStore] | None:
    """The platform signing certificate and the root bidders' certificates chain to, anchored in
    what the verifier trusts: the root itself, or the platform's signing certificate."""
    try:
        signing = Certificate.load(z.read(PLATFORM_CERT))
        root = Certificate.load(z.read(CA_ROOT))
    except (KeyError, SigningError, ValueError) as exc:
        report.add(f"平台证书 {PLATFORM_CERT}, {CA_ROOT}", False, str(exc))
        return None
    try:
        if trusted.is_ca:
            if trusted.der != root.der:
                raise SigningError("包内根证书不是所信任的根证书 (root in the package is not the trusted root)")
        elif trusted.der != signing.der:
            raise SigningError("包内平台证书不是所信任的证书 (not the trusted platform certificate)")
        verify_chain(signing, TrustStore((root,)), at=signing.not_before, usage=Usage.SIGN)
    except SigningError as exc:
        report.add(f"平台证书 {PLATFORM_CERT}, {CA_ROOT}", False, str(exc))
        return None
    report.add(f"平台证书 {PLATFORM_CERT}, {CA_ROOT}", True, "与信任锚一致")
    return signing, TrustStore((root,))


def verify(source: str | IO[bytes], trusted: Certificate) -> Report:
    """Check a package offline; every finding is named in the report."""
    report = Report()
    try:
        z = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        report.add("档案包格式 (package format)", False, str(exc))
        return report
    with z:
        anchors = _trust(z, trusted, report)
        if anchors is None:
            return report
        platform, trust = anchors
        try:
            raw = z.read(MANIFEST)
            st = SignedStatement.from_json(z.read(MANIFEST_SIG))
            body = st.verify(trusted=platform, expected_type=MANIFEST_TYPE)["body"]
            if body["manifest_sm3"] != sm3_hex(raw):
                raise SigningError("清单摘要与签名不符 (manifest digest differs)")
            manifest = json.loads(raw)
        except (KeyError, ValueError, SigningError) as exc:
            report.add(f"清单签名 {MANIFEST_SIG} (manifest signature)", False, str(exc))
            return report
        report.add(f"清单签名 {MANIFEST_SIG} (manifest signature)", True)
        listed = {f["path"]: f for f in manifest["files"]}
        extra = set(z.namelist()) - set(listed) - {MANIFEST, MANIFEST_SIG}
        if extra:
            report.add("未列入清单的文件 (files not in the manifest)", False, ", ".join(sorted(extra)))
        for path, f in listed.items():
            try:
                digest, size = _file_sm3(z, path)
            except KeyError:
                report.add(f"文件 {path}", False, "缺失 (missing)")
                continue
            ok = digest == f["sm3"] and size == f["size"]
            report.add(f"文件 {path}", ok, "" if ok else "SM3 或大小不符 (digest or size differs)")
        _verify_contents(z, listed, platform, trust, report)
    return report


def _verify_contents(
    z: zipfile.ZipFile, listed: dict[str, dict[str, Any]], platform: Certificate, trust: TrustStore, report: Report
) -> None:
    present = set(z.namelist())

    def of_kind(kind: str) -> list[dict[str, Any]]:
        return [f for f in listed.values() if f["kind"] == kind and f["path"] in present]

    headers: dict[str, Any] = {}
    for f in of_kind("sealed_bid"):
        try:
            with z.open(f["path"]) as src:
                header = read_header(src)  # type: ignore[arg-type]
            header.verify(trust, at=dt.datetime.fromisoformat(f["received_at"]))
            headers[f["bidder"]] = header
            report.add(f"投标文件签名 {f['path']}", True, f"投标人 {header.bidder_id}")
        except (SigningError, KeyError, ValueError) as exc:
            report.add(f"投标文件签名 {f['path']}", False, str(exc))
    for f in of_kind("document_signature"):  # the tenderee's UKey signature over each document
        try:
            d = json.loads(z.read(f["path"]))
            signer = Certificate.load(d["signer_cert"].encode())
            if signer.fingerprint != d["signer_cert_sm3"] or listed.get(f["document"], {}).get("sm3") != d["sm3"]:
                raise SigningError("签名证书或文件摘要不符 (certificate or document digest differs)")
            verify_chain(signer, trust, at=dt.datetime.fromisoformat(d["signed_at"]), usage=Usage.SIGN)
            statement = tender_document_statement(d["tender"], d["name"], d["sm3"], d["size"])
            signer.public_key.verify(base64.b64decode(d["signature"]), statement)
            report.add(f"招标文件签名 {f['path']}", True)
        except (SigningError, KeyError, ValueError, TypeError, AttributeError) as exc:
            report.add(f"招标文件签名 {f['path']}", False, f"{type(exc).__name__}: {exc}")
    for f in of_kind("guarantee"):  # the issuer's signature over each e-guarantee and its document
        try:
            d = json.loads(z.read(f["path"]))
            signer = Certificate(base64.b64decode(d["signer_cert"]))
            verify_chain(signer, trust, at=dt.datetime.fromisoformat(d["verified_at"]), usage=Usage.SIGN)
            signer.public_key.verify(base64.b64decode(d["signature"]), d["content"].encode())
            content = json.loads(d["content"])
            if f["document"] in listed and content["document_sm3"] != listed[f["document"]]["sm3"]:
                raise SigningError("保函文件与签名内容不符 (document differs from the signed content)")
            for name, opening in (d.get("openings") or {}).items():  # 保函加密: the revealed fields
                if guarantee_commitment(opening["value"], opening["salt"]) != content[name]["sm3"]:
                    raise SigningError(f"保函揭示的 {name} 与承诺不符 (opening does not match its commitment)")
            report.add(f"电子保函签名 {f['path']}", True)
        except (SigningError, KeyError, ValueError, TypeError) as exc:
            report.add(f"电子保函签名 {f['path']}", False, f"{type(exc).__name__}: {exc}")
    sealed_sm3 = {f["bidder"]: f["sm3"] for f in of_kind("sealed_bid")}
    for f in of_kind("receipt"):
        try:
            body = SignedStatement.from_json(z.read(f["path"])).verify(trusted=platform, expected_type="bid_receipt")[
                "body"
            ]
            if body["ciphertext_sm3"] != sealed_sm3.get(f["bidder"]):
                raise SigningError("回执与投标文件不符 (receipt does not match the sealed bid)")
            report.add(f"回执 {f['path']}", True)
        except (SigningError, KeyError, ValueError) as exc:
            report.add(f"回执 {f['path']}", False, str(exc))
    for f in of_kind("opened_bid"):
        signed = headers.get(f["bidder"])
        ok = signed is not None and signed.plaintext_sm3 == f["sm3"] and signed.plaintext_size == f["size"]
        report.add(f"解密后的投标文件 {f['path']}", ok, "" if ok else "与投标人签名的明文摘要不符")
    records: dict[str, str] = {}
    for f in of_kind("record_statement"):
        try:
            body = SignedStatement.from_json(z.read(f["path"])).verify(
                trusted=platform, expected_type="opening_record"
            )["body"]
            for key, part in (("record_sm3", "json"), ("pdf_sm3", "pdf")):
                target = f"{f['record']}.{part}"
                if listed.get(target, {}).get("sm3") != body[key] or target not in present:
                    raise SigningError(f"{target} 与签名不符")
            records[f["record"]] = body["record_sm3"]
            report.add(f"开标记录签名 {f['path']}", True)
        except (SigningError, KeyError, ValueError) as exc:
            report.add(f"开标记录签名 {f['path']}", False, str(exc))
    for f in of_kind("confirmations"):
        try:
            for c in json.loads(z.read(f["path"])):
                if c["kind"] != "signed":
                    continue
                header = headers[c["credit_code"]]
                statement = record_confirmation_statement(c["ceremony"], c["credit_code"], c["record_sm3"])
                header.signer_cert.public_key.verify(base64.b64decode(c["signature"]), statement)
                if c["record_sm3"] != records.get("opening/record"):
                    raise SigningError("确认的不是本包中的开标记录")
            report.add(f"开标记录确认签名 {f['path']}", True)
        except (SigningError, KeyError, ValueError) as exc:
            report.add(f"开标记录确认签名 {f['path']}", False, f"{type(exc).__name__}: {exc}")
    _verify_events(z, of_kind("checkpoint"), of_kind("events"), platform, report)


def _verify_events(
    z: zipfile.ZipFile,
    checkpoints: list[dict[str, Any]],
    logs: list[dict[str, Any]],
    platform: Certificate,
    report: Report,
) -> None:
    from archive.audit import event_bytes

    if not checkpoints or not logs:
        report.add("交易过程记录与检查点 (events and checkpoint)", False, "缺失 (missing)")
        return
    try:
        cp = SignedStatement.from_json(z.read(checkpoints[0]["path"])).verify(
            trusted=platform, expected_type="log_checkpoint"
        )["body"]
        size, root = int(cp["tree_size"]), bytes.fromhex(cp["root_sm3"])
        report.add("日志检查点签名 (checkpoint signature)", True, f"树大小 {size}")
    except (SigningError, KeyError, ValueError) as exc:
        report.add("日志检查点签名 (checkpoint signature)", False, str(exc))
        return
    last, bad = 0, []
    lines = z.read(logs[0]["path"]).decode(errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
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
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            bad.append(f"第 {number} 行格式错误 (malformed line): {exc}")
            continue
        if seq <= last:
            bad.append(f"事件 {seq} 顺序错误 (out of order)")
        last = seq
        if not verify_inclusion(seq - 1, size, leaf, proof, root):
            bad.append(f"事件 {seq} 不在检查点中或被修改 (not included / altered)")
    report.add(f"交易过程记录 {len(lines)} 条及包含证明 (events and inclusion proofs)", not bad, "；".join(bad[:5]))
