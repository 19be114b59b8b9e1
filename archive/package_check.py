"""Verifying an archive package offline (``archive/PACKAGE.md``): read it with bounds before its
manifest is trusted, then check the container, the manifest's signature, every file's digest,
every signed statement in it, and every event against the signed checkpoint."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import zipfile
from typing import IO, Any

from archive import package_auction
from archive.audit import listed_leaf
from archive.merkle import verify_inclusion
from archive.package import (
    CA_ROOT,
    CATEGORIES,
    FORMAT,
    MANIFEST,
    MANIFEST_SIG,
    MANIFEST_TYPE,
    PLATFORM_CERT,
    VERSION,
    VERSIONS,
)
from archive.package_findings import (
    Damage,
    Report,
    describe,
    finding_code,
)
from archive.package_reader import (
    HEX_DIGITS,
    MAX_CERT,
    MAX_ENTRIES,
    MAX_LINE,
    OpenedPackage,
    layout_problems,
)
from archive.package_statements import verify_statements
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.digest import sm3_hex
from signing.envelope import read_header
from signing.statements import (
    SignedStatement,
    guarantee_commitment,
    record_confirmation_statement,
    tender_document_statement,
)


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
        pack = OpenedPackage(z)
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
        verify_statements(pack, listed, platform, report, manifest)
        if "auction" in manifest:  # an auction lot's package: its bids replayed
            package_auction.replay(pack, listed, platform, trust, report, manifest)


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
        layout = layout_problems(source, z)
    except Exception as exc:
        layout = [(finding_code(exc), describe(exc))]
    for code, detail in layout:
        report.add(what, False, detail, code)
    if not layout:
        report.add(what, True, "每个字节均与规范布局一致")


def _claimed_version(pack: OpenedPackage) -> int:
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
            and set(f["sm3"]) <= HEX_DIGITS
            and type(f.get("size")) is int
            and f["size"] >= 0
        ):
            raise Damage("bad_manifest", f"清单条目格式错误 (malformed manifest entry) {str(f)[:120]}")
        if f["path"] in listed or f["path"] in (MANIFEST, MANIFEST_SIG):
            raise Damage("bad_manifest", f"清单重复列出 {f['path']} (listed twice)")
        listed[f["path"]] = f
    return listed


def _trust(pack: OpenedPackage, trusted: Certificate, report: Report) -> tuple[Certificate, TrustStore] | None:
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


def _json(pack: OpenedPackage, path: str) -> Any:
    return json.loads(pack.read(path))


def _verify_contents(
    pack: OpenedPackage, listed: dict[str, dict[str, Any]], platform: Certificate, trust: TrustStore, report: Report
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
    for f in of_kind("complaint_document_statement"):  # the supervisor's signed documents (投诉处理文书)
        what = f"投诉处理文书签名 {f['path']}"
        try:
            st = SignedStatement.from_json(pack.read(f["path"]))
            body = st.verify(trusted=platform, expected_type="complaint_document")["body"]
            if listed.get(f["document"], {}).get("sm3") != body["pdf_sm3"] or f["document"] not in present:
                raise Damage("digest_mismatch", f"{f['document']} 与签名不符")
            report.add(what, True)
        except Exception as exc:
            report.fail(what, exc)
    _verify_events(pack, of_kind("checkpoint"), of_kind("events"), platform, report)


def _verify_events(
    pack: OpenedPackage,
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
                    leaf = listed_leaf(ev)
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
