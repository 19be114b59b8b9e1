"""Storage damage and made-up bytes in an archive package: whatever the damage, ``verify`` ends in
named findings (a code and the entry) and a failed verdict, never an exception, and so do
``ggzy archive verify`` and the staff "verify now" API.

The package is small and built here (a CA, the platform's certificates, a tender document with the
tenderee's signature, a sealed bid with its receipt and plaintext, the events with their inclusion
proofs and a checkpoint), so that hundreds of seeded mutations run in seconds; positions are drawn
from every region: certificates, the manifest, its signature, the central directory and the end
records, the local headers and the data.

Version 1 packages (zipfile's own layout, written by earlier releases and kept under 15-year
retention) run through the same mutations: ``fixtures/package-v1.zip`` is a whole opening's
package (three bids, a guarantee, records, confirmations, objections, events) built by the
version 1 code of 693c14d, with the root it chains to in ``fixtures/package-v1-root.pem``."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import pathlib
import random
import struct
import zipfile
from typing import Any

import pytest
from click.testing import CliRunner

from archive import package as pkg
from archive import package_check
from archive.audit import event_bytes
from archive.merkle import inclusion_ranges, leaf_hash, root_of, subtree_hash
from signing.canonical import canonical_json
from signing.certs import Certificate, CertificateAuthority, Usage
from signing.digest import sm3, sm3_hex
from signing.envelope import seal
from signing.sm2 import PrivateKey
from signing.statements import sign_statement, tender_document_statement

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def small_package() -> tuple[bytes, Any]:
    """A package with every kind of signature the verifier checks, built from a fresh CA."""
    ca = CertificateAuthority.create("测试平台", now=NOW)
    key = PrivateKey.generate()
    platform = ca.issue(key.public_key, common_name="平台签名", usage=Usage.SIGN, now=NOW)
    tenderee_key, bidder_key, recipient_key = PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()
    tenderee = ca.issue(tenderee_key.public_key, common_name="招标人", usage=Usage.SIGN, now=NOW)
    bidder = ca.issue(
        bidder_key.public_key, common_name="投标人", usage=Usage.SIGN, now=NOW, org_code="91110000TEST00001X"
    )
    recipient = ca.issue(recipient_key.public_key, common_name="开标", usage=Usage.ENCRYPT, now=NOW)
    document = "第一章 招标公告\n工期 <b>160 天".encode() * 20
    doc_sig = tenderee_key.sign(tender_document_statement("GGZY-T-1", "招标文件.txt", sm3_hex(document), len(document)))
    plaintext = b"PK-opened-bid " * 200
    sealed = io.BytesIO()
    seal(
        io.BytesIO(plaintext),
        sealed,
        tender_id="GGZY-T-1",
        lot_id="1",
        bidder_id="91110000TEST00001X",
        signing_key=bidder_key,
        signing_cert=bidder,
        recipient_cert=recipient,
        now=NOW,
    )
    receipt = sign_statement(
        "bid_receipt", {"ciphertext_sm3": sm3_hex(sealed.getvalue())}, key=key, cert=platform, now=NOW
    )
    events, leaves = [], []
    for seq in range(1, 8):
        payload = canonical_json({"n": seq, "名称": "某工程"}).decode()
        row = {"seq": seq, "at": NOW.isoformat(), "actor": "user:1", "role": "staff", "action": "tender.step"}
        row |= {"object_type": "tender", "object_id": "1", "payload": payload}
        leaves.append(
            leaf_hash(event_bytes(seq, NOW, "user:1", "staff", "tender.step", "tender", "1", sm3(payload.encode())))
        )
        events.append(row)
    size = len(leaves)

    def known(r: tuple[int, int]) -> bytes:
        return root_of(leaves[r[0] : r[1]])

    lines = [
        json.dumps(e | {"inclusion_proof": [subtree_hash(r, known).hex() for r in inclusion_ranges(i, size)]})
        for i, e in enumerate(events)
    ]
    checkpoint = sign_statement(
        "log_checkpoint", {"tree_size": size, "root_sm3": root_of(leaves).hex()}, key=key, cert=platform, now=NOW
    )
    signature = {
        "tender": "GGZY-T-1",
        "name": "招标文件.txt",
        "sm3": sm3_hex(document),
        "size": len(document),
        "signature": base64.b64encode(doc_sig).decode(),
        "signer_cert_sm3": tenderee.fingerprint,
        "signer_cert": tenderee.to_pem().decode(),
        "signed_at": NOW.isoformat(),
    }
    entries = [
        pkg.bytes_entry("documents/0001-招标文件.txt", "tender_document", "tender_document", document),
        pkg.bytes_entry(
            "documents/0001-招标文件.txt.signature.json",
            "tender_document",
            "document_signature",
            canonical_json(signature),
            document="documents/0001-招标文件.txt",
        ),
        pkg.bytes_entry(
            "bids/91110000TEST00001X/sealed.ggzy",
            "bid",
            "sealed_bid",
            sealed.getvalue(),
            bidder="91110000TEST00001X",
            received_at=NOW.isoformat(),
        ),
        pkg.bytes_entry(
            "bids/91110000TEST00001X/receipt.json", "receipt", "receipt", receipt.to_json(), bidder="91110000TEST00001X"
        ),
        pkg.bytes_entry(
            "bids/91110000TEST00001X/opened.zip", "bid", "opened_bid", plaintext, bidder="91110000TEST00001X"
        ),
        pkg.bytes_entry("log/events.jsonl", "event_log", "events", ("\n".join(lines) + "\n").encode()),
        pkg.bytes_entry("log/checkpoint.sig.json", "checkpoint", "checkpoint", checkpoint.to_json()),
    ]
    out = io.BytesIO()
    pkg.build(out, entries, {"tender": "GGZY-T-1", "lot": 1}, key=key, cert=platform, root=ca.cert, now=NOW)
    return out.getvalue(), ca.cert


@pytest.fixture(scope="module")
def package() -> tuple[bytes, Any]:
    return small_package()


@pytest.fixture(scope="module")
def v1_package() -> tuple[bytes, Certificate]:
    return (FIXTURES / "package-v1.zip").read_bytes(), Certificate.load((FIXTURES / "package-v1-root.pem").read_bytes())


@pytest.fixture(params=["v2", "v1"])
def either(request: pytest.FixtureRequest) -> tuple[bytes, Certificate]:
    """Checks that hold whatever the version: the current package, then the version 1 fixture."""
    fixture = "package" if request.param == "v2" else "v1_package"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def regions(data: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of each part of the package: entries' headers and data, central directory, end
    (the header lengths read from the file, since version 1's vary by entry)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    out = {}
    for info in z.infolist():
        at = info.header_offset
        name_len, extra_len = struct.unpack("<HH", data[at + 26 : at + 30])
        header = 30 + name_len + extra_len
        out[f"header:{info.filename}"] = (at, at + header)
        out[f"data:{info.filename}"] = (at + header, at + header + info.file_size)
    cd_start = max(end for _, end in out.values())
    end = len(data) - 22  # no comment: the end record is the last 22 bytes
    if data[end - 20 : end - 16] == b"PK\x06\x07":  # the ZIP64 locator and end record before it
        end -= 20 + 56
    out["central_directory"] = (cd_start, end)
    out["end_records"] = (end, len(data))
    return out


def mutations(data: bytes, n: int, seed: int, *, within: tuple[str, ...] = ()) -> list[tuple[str, bytes]]:
    """Seeded bit flips, spread over every region in turn (so each region gets several), or only
    over the regions named in ``within`` (then with no truncations), and truncations at many
    lengths."""
    rng = random.Random(seed)
    parts = [(name, r) for name, r in regions(data).items() if not within or name in within]
    out = []
    for i in range(n):
        name, (start, end) = parts[i % len(parts)]
        if end <= start:
            continue
        at, bit = rng.randrange(start, end), rng.randrange(8)
        out.append((f"flip {name} @{at}.{bit}", data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :]))
    if within:
        return out
    for length in sorted({0, 1, 21, 22, 97, 98, len(data) - 1, len(data) - 22, *rng.sample(range(len(data)), 40)}):
        out.append((f"truncate {length}", data[:length]))
    return out


def test_the_intact_package_verifies(package: tuple[bytes, Any]) -> None:
    data, root = package
    report = package_check.verify(io.BytesIO(data), root)
    assert report.ok, list(report.lines())
    kinds = [c.what for c in report.checks]
    for kind in (
        "档案包结构",
        "招标文件签名",
        "投标文件签名",
        "回执",
        "解密后的投标文件",
        "日志检查点签名",
        "交易过程记录",
    ):
        assert any(w.startswith(kind) for w in kinds), kind
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None  # an ordinary zip reader reads it


def test_every_mutation_ends_in_named_findings(package: tuple[bytes, Any]) -> None:
    data, root = package
    cases = mutations(data, 320, seed=17)
    assert len(cases) > 300
    codes: dict[str, int] = {}
    for name, damaged in cases:
        report = package_check.verify(io.BytesIO(damaged), root)  # never raises
        assert not report.ok, name
        for c in report.checks:
            if not c.ok:
                assert c.code and c.what and c.code != "verifier_error", (name, c)
                codes[c.code] = codes.get(c.code, 0) + 1
        assert all(line.startswith(("通过 OK", "失败 FAIL  [")) for line in report.lines())
    # storage damage is told apart: a bad CRC, a broken structure, a truncated file, a bad signature
    assert {"bad_crc", "layout_not_canonical", "bad_zip"} <= set(codes), codes


def test_a_flip_inside_a_certificate_is_a_finding_of_the_trust_step(either: tuple[bytes, Any]) -> None:
    data, root = either
    start, end = regions(data)[f"data:{pkg.PLATFORM_CERT}"]
    for at in range(start, end, max(1, (end - start) // 25)):
        report = package_check.verify(io.BytesIO(data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]), root)
        failed = {c.what: c.code for c in report.checks if not c.ok}
        assert any(w.startswith("平台证书") for w in failed) or f"文件 {pkg.PLATFORM_CERT}" in failed, failed


def test_bad_entries_are_named(either: tuple[bytes, Any]) -> None:
    """Duplicate, compressed and oversize entries: zipfile would read each one. Version 1 was
    written stored too (every release's writer: ZipFile(compression=ZIP_STORED)), so a compressed
    member is refused in either version rather than decompressed."""
    data, root = either

    def rebuilt(change: Any) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(data))  # writestr moves the infos it is given: a fresh copy each time
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for info in src.infolist():
                change(z, info, src.read(info))
        return out.getvalue()

    def duplicate(z: zipfile.ZipFile, info: zipfile.ZipInfo, body: bytes) -> None:
        z.writestr(info, body)
        if info.filename == "log/events.jsonl":
            with pytest.warns(UserWarning):
                z.writestr(info.filename, b"{}\n")

    def deflate(z: zipfile.ZipFile, info: zipfile.ZipInfo, body: bytes) -> None:
        z.writestr(info.filename, body, compress_type=zipfile.ZIP_DEFLATED if "opened" in info.filename else None)

    def bomb(z: zipfile.ZipFile, info: zipfile.ZipInfo, body: bytes) -> None:
        z.writestr(info, b"\0" * 3_000_000 if info.filename == pkg.PLATFORM_CERT else body)

    for change, code in (
        (duplicate, "entry_duplicate"),
        (deflate, "unsupported_compression"),
        (bomb, "entry_too_large"),
    ):
        report = package_check.verify(io.BytesIO(rebuilt(change)), root)
        assert not report.ok and code in {c.code for c in report.checks}, (code, list(report.lines()))


def test_cli_names_every_finding(package: tuple[bytes, Any], tmp_path: pathlib.Path) -> None:
    from trading.cli import main

    data, root = package
    (tmp_path / "root.pem").write_bytes(root.to_pem())
    for name, damaged in mutations(data, 24, seed=5)[::2]:
        path = tmp_path / "damaged.zip"
        path.write_bytes(damaged)
        r = CliRunner().invoke(main, ["archive", "verify", str(path), "--root", str(tmp_path / "root.pem")])
        assert r.exit_code == 1, (name, r.output)
        assert "失败 FAIL  [" in r.output and "Traceback" not in r.output, (name, r.output)
        assert isinstance(r.exception, SystemExit), (name, r.exception)  # exit 1, not an exception


# ---------------------------------------------------------------- version 1
def test_the_version_1_fixture_verifies(v1_package: tuple[bytes, Certificate]) -> None:
    """A package an earlier release wrote to WORM storage verifies by version 1's rules, anchored
    in the root or in the platform's signing certificate, with every kind of signature checked."""
    data, root = v1_package
    signing = Certificate.load(zipfile.ZipFile(io.BytesIO(data)).read(pkg.PLATFORM_CERT))
    for anchor in (root, signing):
        report = package_check.verify(io.BytesIO(data), anchor)
        assert report.ok, list(report.lines())
    checked = [c.what for c in report.checks if c.ok and not c.code]
    for kind in (
        "清单签名",
        "招标文件签名",
        "投标文件签名",
        "回执",
        "解密后的投标文件",
        "电子保函签名",
        "开标记录签名",
        "开标记录确认签名",
        "日志检查点签名",
        "交易过程记录",
    ):
        assert any(w.startswith(kind) for w in checked), kind
    (note,) = [c for c in report.checks if c.what.startswith("档案包结构")]
    assert note.ok and note.code == "layout_not_held_v1"
    assert any(line.startswith("说明 INFO  [layout_not_held_v1] 档案包结构") for line in report.lines())


def test_version_1_damage_ends_in_named_findings(v1_package: tuple[bytes, Certificate]) -> None:
    """The same flips and truncations over the version 1 fixture: never an exception, every
    failure named. A flip inside any member's bytes or a truncation fails; a flip in a header byte
    zipfile does not check (a date, an attribute, a version) has nothing canonical to differ from
    and may end OK, always with the note that says so."""
    data, root = v1_package
    # half the flips (a whole opening, ~40 ms a run), and more over the central directory and end
    # records, one region each among this package's 58
    cases = mutations(data, 160, seed=17) + mutations(data, 40, seed=17, within=("central_directory", "end_records"))
    assert len(cases) > 240
    codes: dict[str, int] = {}
    passed = []
    for name, damaged in cases:
        report = package_check.verify(io.BytesIO(damaged), root)  # never raises
        for c in report.checks:
            if not c.ok:
                assert c.code and c.what and c.code != "verifier_error", (name, c)
                codes[c.code] = codes.get(c.code, 0) + 1
        assert all(line.startswith(("通过 OK", "失败 FAIL  [", "说明 INFO  [")) for line in report.lines())
        if name.startswith(("flip data:", "truncate")):
            assert not report.ok, (name, list(report.lines()))
        elif report.ok:
            assert "layout_not_held_v1" in {c.code for c in report.checks}, name
            passed.append(name)
    assert {"bad_crc", "bad_zip", "digest_mismatch"} <= set(codes), codes
    assert len(passed) < len(cases) // 2, passed  # most header flips are caught by zipfile itself


def test_cli_verifies_a_version_1_package(v1_package: tuple[bytes, Certificate], tmp_path: pathlib.Path) -> None:
    from trading.cli import main

    data, root = v1_package
    (tmp_path / "root.pem").write_bytes(root.to_pem())
    path = tmp_path / "v1.zip"
    path.write_bytes(data)
    r = CliRunner().invoke(main, ["archive", "verify", str(path), "--root", str(tmp_path / "root.pem")])
    assert r.exit_code == 0, r.output
    assert "说明 INFO  [layout_not_held_v1]" in r.output and "失败 FAIL" not in r.output
    start = regions(data)["data:bids/913501005000000083/opened.zip"][0]
    path.write_bytes(data[:start] + bytes([data[start] ^ 1]) + data[start + 1 :])
    r = CliRunner().invoke(main, ["archive", "verify", str(path), "--root", str(tmp_path / "root.pem")])
    assert r.exit_code == 1 and "失败 FAIL  [bad_crc] 文件 bids/913501005000000083/opened.zip" in r.output, r.output
