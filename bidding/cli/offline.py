"""``ggzy-bid`` commands that run on the bidder's own machine: keys, sealing, checking, receipts."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import tempfile

import click

from bidding.cli.common import (
    KEY_FILES,
    beijing,
    errors,
    fail,
    key_password,
    load_keys,
    progress_bar,
    read_key,
    safe,
    trust_store,
)
from bidding.package import write_folder_zip
from bidding.part_digests import seal_file
from signing.certs import Certificate, TrustStore
from signing.envelope import DEFAULT_CHUNK, read_header, unseal
from signing.sm2 import KEY_FILE_ITERATIONS, PrivateKey, check_key_password


@click.command(
    help="生成签名与加密 SM2 密钥对 (make signing and encryption SM2 key pairs). "
    "口令取自 GGZY_KEY_PASSWORD 或提示输入 (password from GGZY_KEY_PASSWORD or a prompt)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    required=True,
    help="密钥文件夹 (key folder)",
)
def keygen(out_dir: pathlib.Path) -> None:
    with errors():
        out_dir.mkdir(parents=True, exist_ok=True)
        if any((out_dir / KEY_FILES[k][0]).exists() for k in KEY_FILES):
            fail(f"{out_dir} 中已有私钥，不会覆盖 (keys already exist; not overwriting)")
        pw = key_password(for_new=True)
        for kind, (key_name, pub_name, _) in KEY_FILES.items():
            key = PrivateKey.generate()
            fd = os.open(out_dir / key_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key.to_pem(pw))
            (out_dir / pub_name).write_bytes(key.public_key.to_pem())
            click.echo(f"{kind}: {out_dir / pub_name}")
        click.echo(
            "请把 sign.pub 和 enc.pub 交给交易中心签发证书，证书保存为 sign.crt、enc.crt "
            "(have the platform certify sign.pub and enc.pub; save them as sign.crt and enc.crt)"
        )


@click.command(
    help="用当前的口令强度重新保存私钥 (re-save key files at today's work factor). "
    "旧口令取自 GGZY_KEY_PASSWORD，新口令取自 GGZY_NEW_KEY_PASSWORD，或提示输入 (old and new passwords)."
)
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
def rekey(keys: pathlib.Path) -> None:
    with errors():
        old = key_password()
        loaded = {name: read_key(keys / name, old) for name, _, _ in KEY_FILES.values()}
        env = os.environ.get("GGZY_NEW_KEY_PASSWORD")
        new = (
            env.encode()
            if env
            else str(
                click.prompt("新私钥口令 (new key password)", hide_input=True, confirmation_prompt=True, err=True)
            ).encode()
        )
        check_key_password(new)
        for name, key in loaded.items():
            tmp = keys / f"{name}.new"
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key.to_pem(new))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, keys / name)  # the old file stays whole until the new one is
            click.echo(f"{keys / name}: PBKDF2 {KEY_FILE_ITERATIONS}")


@click.command("seal", help="把投标文件夹或文件封装成加密投标文件 (seal a bid folder or file)")
@click.argument("source", type=click.Path(exists=True, path_type=pathlib.Path))
@click.option("--tender", required=True, help="项目编号 (tender id)")
@click.option("--lot", required=True, help="标段编号 (lot id)")
@click.option("--bidder", required=True, help="投标人编号 (bidder id)")
@click.option(
    "--keys",
    type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path),
    required=True,
    help="密钥文件夹 (key folder)",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
@click.option("--chunk-size", type=int, default=DEFAULT_CHUNK, show_default=True)
def seal_cmd(
    source: pathlib.Path, tender: str, lot: str, bidder: str, keys: pathlib.Path, out: pathlib.Path, chunk_size: int
) -> None:
    with errors():
        pw = key_password()
        sign_key, sign_cert = load_keys(keys, "sign", pw)
        _, enc_cert = load_keys(keys, "enc", None)
        assert sign_key is not None
        with tempfile.TemporaryDirectory() as tmp:
            if source.is_dir():
                pkg = pathlib.Path(tmp) / "bid.zip"
                with pkg.open("wb") as f:
                    n = write_folder_zip(source, f)
                click.echo(f"已打包 {n} 个文件 (packed {n} files)", err=True)
            else:
                pkg = source
            _check_package(pkg)
            with progress_bar(pkg.stat().st_size, "加密") as adv:
                header = seal_file(
                    pkg,
                    out,
                    tender_id=tender,
                    lot_id=lot,
                    bidder_id=bidder,
                    signing_key=sign_key,
                    signing_cert=sign_cert,
                    recipient_cert=enc_cert,
                    now=dt.datetime.now(dt.UTC),
                    chunk_size=chunk_size,
                    progress=adv,
                )
        click.echo(f"{out}: 明文 SM3 {header.plaintext_sm3}，{header.plaintext_size} 字节")


def _check_package(pkg: pathlib.Path) -> None:
    """The opening reads a bid package within the bounds of ``signing.bounded_zip`` and a package
    that breaks one is 撤销: check before sealing, while it can still be fixed. (A file that is not
    a zip at all is sealed as it is: the platform opens it, with no price sheet. A damaged zip is
    refused like any bound: ``archive_unreadable`` now means only "no zip structure at all".)"""
    from signing.bounded_zip import BoundedZip
    from signing.errors import ArchiveRefused

    try:
        with pkg.open("rb") as f:
            BoundedZip(f).verify()
    except ArchiveRefused as exc:
        if exc.code != "archive_unreadable":
            raise


@click.command(help="校验加密投标文件的签名与证书（无需私钥）(check signature and certificate; no key needed)")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    required=True,
    help="平台根证书 (platform root certificate)",
)
@click.option("--tender", default=None, help="应属的项目编号 (expected tender id)")
def verify(sealed: pathlib.Path, ca: pathlib.Path, tender: str | None) -> None:
    with errors(), sealed.open("rb") as f:
        header = read_header(f)
        cert = header.verify(trust_store(ca), at=dt.datetime.now(dt.UTC), tender_id=tender)
        header.check_size(sealed.stat().st_size)
        click.echo(
            f"签名有效 (signature valid): {safe(cert.subject.get('common_name'))}，项目 {safe(header.tender_id)} "
            f"标段 {safe(header.lot_id)}，明文 SM3 {safe(header.plaintext_sm3)}"
        )


@click.command("unseal", help="用自己的加密私钥解密自查 (decrypt with your own key to check the bid)")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
@click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def unseal_cmd(sealed: pathlib.Path, keys: pathlib.Path, ca: pathlib.Path, out: pathlib.Path) -> None:
    with errors():
        pw = key_password()
        enc_key, enc_cert = load_keys(keys, "enc", pw)
        assert enc_key is not None
        partial = out.with_name(out.name + ".part")
        try:
            with (
                sealed.open("rb") as src,
                partial.open("wb") as dst,
                progress_bar(sealed.stat().st_size, "解密") as adv,
            ):
                header = unseal(
                    src,
                    dst,
                    trust=trust_store(ca),
                    at=dt.datetime.now(dt.UTC),
                    encryption_key=enc_key,
                    encryption_cert=enc_cert,
                    size=sealed.stat().st_size,
                    progress=adv,
                )
        except BaseException:
            partial.unlink(missing_ok=True)  # never leave unauthenticated plaintext behind
            raise
        partial.replace(out)
        click.echo(f"{out}: 解密成功，SM3 {header.plaintext_sm3} 与签名一致 (decrypted; digest matches signature)")


@click.command(
    "sign-document",
    help="招标人为招标文件签名（输出 base64 签名，上传时填入）"
    " (tenderee: sign a tender document; prints the base64 signature)",
)
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--tender", required=True, help="项目编号 (tender code)")
@click.option("--name", default=None, help="上传时使用的文件名，默认同文件名 (name used on upload)")
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
def sign_document(document: pathlib.Path, tender: str, name: str | None, keys: pathlib.Path) -> None:
    import base64

    from signing.digest import sm3_stream
    from signing.statements import tender_document_statement

    with errors():
        key, _ = load_keys(keys, "sign", key_password())
        assert key is not None
        with document.open("rb") as f:
            digest, size = sm3_stream(f)
        statement = tender_document_statement(tender, name or document.name, digest.hex(), size)
        click.echo(base64.b64encode(key.sign(statement)).decode())


@click.group(help="回执 (receipts)")
def receipt() -> None:
    pass


@receipt.command("verify", help="离线校验平台回执 (verify a receipt offline with the platform certificate)")
@click.argument("receipt_file", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    required=True,
    help="平台签名证书或根证书 (platform signing certificate or root)",
)
@click.option(
    "--sealed",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="同时核对加密投标文件 (also check the sealed file)",
)
def receipt_verify(receipt_file: pathlib.Path, cert: pathlib.Path, sealed: pathlib.Path | None) -> None:
    from signing.digest import sm3_stream
    from signing.statements import SignedStatement

    with errors():
        st = SignedStatement.from_json(receipt_file.read_bytes())
        c = Certificate.load(cert.read_bytes())
        content = (
            st.verify(trusted=c, expected_type="bid_receipt")
            if not c.is_ca
            else st.verify(trust=TrustStore((c,)), expected_type="bid_receipt")
        )
        body = content["body"]
        if sealed is not None:
            with sealed.open("rb") as f:
                digest, size = sm3_stream(f)
            if digest.hex() != body["ciphertext_sm3"] or size != body["size"]:
                fail("回执与加密投标文件不符 (receipt does not match the sealed file)")
    click.echo(
        f"回执有效 (valid): 项目 {safe(body['tender'])} 标段 {safe(body['lot'])}，接收时间 {beijing(body['received_at'])}（北京时间），"
        f"密文 SM3 {safe(body['ciphertext_sm3'])}"
    )
