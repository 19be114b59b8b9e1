"""ggzy-bid keygen → certificates from the platform CA → seal → verify → unseal, and its failures."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from click.testing import CliRunner

from bidding.cli import main
from signing.certs import CertificateAuthority, Usage
from signing.sm2 import PublicKey

PW = {"GGZY_KEY_PASSWORD": "bidder-pass-123", "GGZY_NO_PROGRESS": "1"}


@pytest.fixture
def setup(tmp_path: pathlib.Path) -> tuple[CliRunner, pathlib.Path, pathlib.Path]:
    runner = CliRunner(env=PW)
    keys = tmp_path / "keys"
    r = runner.invoke(main, ["keygen", "--out", str(keys)])
    assert r.exit_code == 0, r.output
    now = dt.datetime.now(dt.UTC)
    ca = CertificateAuthority.create("测试平台", now=now)
    for kind, usage in (("sign", Usage.SIGN), ("enc", Usage.ENCRYPT)):
        pub = PublicKey.from_pem((keys / f"{kind}.pub").read_bytes())
        (keys / f"{kind}.crt").write_bytes(ca.issue(pub, common_name="榕城建设", usage=usage, now=now).to_pem())
    (tmp_path / "root.pem").write_bytes(ca.cert.to_pem())
    return runner, keys, tmp_path / "root.pem"


def test_keygen_protects_private_keys(setup: tuple[CliRunner, pathlib.Path, pathlib.Path]) -> None:
    runner, keys, _ = setup
    assert b"ENCRYPTED PRIVATE KEY" in (keys / "sign.key").read_bytes()
    assert (keys / "enc.key").stat().st_mode & 0o077 == 0
    r = runner.invoke(main, ["keygen", "--out", str(keys)])
    assert r.exit_code == 2 and "不会覆盖" in r.output


def test_seal_verify_unseal_folder(setup: tuple[CliRunner, pathlib.Path, pathlib.Path], tmp_path: pathlib.Path) -> None:
    runner, keys, root = setup
    bid = tmp_path / "bid"
    (bid / "技术标").mkdir(parents=True)
    (bid / "开标一览表.json").write_text('{"price": "12345678.00"}', encoding="utf-8")
    (bid / "技术标" / "方案.pdf").write_bytes(b"%PDF" + bytes(range(256)) * 400)
    out = tmp_path / "bid.sealed"
    args = [
        "seal",
        str(bid),
        "--tender",
        "T-1",
        "--lot",
        "L-1",
        "--bidder",
        "B-1",
        "--keys",
        str(keys),
        "--out",
        str(out),
        "--chunk-size",
        "4096",
    ]
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    assert b"12345678.00" not in out.read_bytes()  # sealed: the price is not readable
    r = runner.invoke(main, ["verify", str(out), "--ca", str(root), "--tender", "T-1"])
    assert r.exit_code == 0 and "签名有效" in r.output
    r = runner.invoke(
        main, ["unseal", str(out), "--keys", str(keys), "--ca", str(root), "--out", str(tmp_path / "o.zip")]
    )
    assert r.exit_code == 0, r.output
    import zipfile

    with zipfile.ZipFile(tmp_path / "o.zip") as z:
        assert sorted(z.namelist()) == ["开标一览表.json", "技术标/方案.pdf"]
        assert z.read("开标一览表.json") == b'{"price": "12345678.00"}'
    # the same folder packs to the same bytes (deterministic package)
    r = runner.invoke(main, [*args[:-4], "--out", str(tmp_path / "again.sealed"), "--chunk-size", "4096"])
    assert r.exit_code == 0
    r2 = runner.invoke(
        main,
        [
            "unseal",
            str(tmp_path / "again.sealed"),
            "--keys",
            str(keys),
            "--ca",
            str(root),
            "--out",
            str(tmp_path / "o2.zip"),
        ],
    )
    assert r2.exit_code == 0 and (tmp_path / "o2.zip").read_bytes() == (tmp_path / "o.zip").read_bytes()


def test_failures_exit_nonzero_with_named_reason(
    setup: tuple[CliRunner, pathlib.Path, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    runner, keys, root = setup
    src = tmp_path / "bid.pdf"
    src.write_bytes(b"x" * 10000)
    out = tmp_path / "b.sealed"
    assert (
        runner.invoke(
            main,
            ["seal", str(src), "--tender", "T", "--lot", "L", "--bidder", "B", "--keys", str(keys), "--out", str(out)],
        ).exit_code
        == 0
    )
    r = runner.invoke(main, ["verify", str(out), "--ca", str(root), "--tender", "OTHER"])
    assert r.exit_code == 2 and "tender_mismatch" in r.output
    cut = tmp_path / "cut.sealed"
    cut.write_bytes(out.read_bytes()[:-100])
    r = runner.invoke(main, ["verify", str(cut), "--ca", str(root)])
    assert r.exit_code == 2 and "长度" in r.output
    r = runner.invoke(main, ["unseal", str(cut), "--keys", str(keys), "--ca", str(root), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "truncated" in r.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.part").exists()  # no partial plaintext left
    r = CliRunner(env={**PW, "GGZY_KEY_PASSWORD": "wrong-password"}).invoke(
        main, ["unseal", str(out), "--keys", str(keys), "--ca", str(root), "--out", str(tmp_path / "y")]
    )
    assert r.exit_code == 2 and "wrong_password" in r.output
    r = runner.invoke(main, ["verify", str(src), "--ca", str(root)])
    assert r.exit_code == 2 and "not_an_envelope" in r.output


def test_sign_document_matches_the_platform_statement(
    setup: tuple[CliRunner, pathlib.Path, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    import base64

    from signing.digest import sm3_hex
    from signing.sm2 import PrivateKey
    from signing.statements import tender_document_statement as document_statement

    runner, keys, _ = setup
    doc = tmp_path / "招标文件.pdf"
    doc.write_bytes(b"%PDF tender" * 100)
    r = runner.invoke(main, ["sign-document", str(doc), "--tender", "GGZY-2026-000001", "--keys", str(keys)])
    assert r.exit_code == 0, r.output
    sig = base64.b64decode(r.output.strip())
    pub = PrivateKey.from_pem((keys / "sign.key").read_bytes(), PW["GGZY_KEY_PASSWORD"].encode()).public_key
    pub.verify(
        sig, document_statement("GGZY-2026-000001", "招标文件.pdf", sm3_hex(doc.read_bytes()), doc.stat().st_size)
    )
