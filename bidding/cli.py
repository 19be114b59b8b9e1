"""``ggzy-bid``: the bidder's tool. Keys are made, and bids sealed and checked, on the bidder's
own machine; the platform never sees a bid's plaintext or key before the opening.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from bidding.package import write_folder_zip
from bidding.part_digests import seal_file
from signing.certs import Certificate, TrustStore
from signing.envelope import DEFAULT_CHUNK, read_header, unseal
from signing.errors import SigningError
from signing.sm2 import KEY_FILE_ITERATIONS, PrivateKey, check_key_password, key_file_iterations

KEY_FILES = {"sign": ("sign.key", "sign.pub", "sign.crt"), "enc": ("enc.key", "enc.pub", "enc.crt")}


def _fail(message: str) -> None:
    click.echo(f"错误 (error): {message}", err=True)
    sys.exit(2)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except SigningError as exc:
        _fail(f"{exc} [{exc.code}]")
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename or ''}")


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Any]:
    quiet = not sys.stderr.isatty() or os.environ.get("GGZY_NO_PROGRESS")
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        disable=bool(quiet),
        transient=True,
    ) as p:
        task = p.add_task(label, total=total)
        yield lambda n: p.advance(task, n)


def _password(for_new: bool = False) -> bytes:
    env = os.environ.get("GGZY_KEY_PASSWORD")
    if env:
        pw = env.encode()
    else:
        pw = str(
            click.prompt("私钥口令 (key password)", hide_input=True, confirmation_prompt=for_new, err=True)
        ).encode()
    if for_new:
        check_key_password(pw)  # the same rule whether the password came from the prompt or the variable
    return pw


def _read_key(path: pathlib.Path, password: bytes) -> PrivateKey:
    """A key file; files from older ggzy-bid (2,048 PBKDF2 iterations) are still read, with a warning."""
    data = path.read_bytes()
    key = PrivateKey.from_pem(data, password)
    rounds = key_file_iterations(data)
    if rounds is not None and rounds < KEY_FILE_ITERATIONS:
        click.echo(
            f"警告 (warning): {path} 的口令保护较弱（PBKDF2 {rounds} 次），请用 ggzy-bid rekey 重新保存 "
            f"(weak key file protection: run ggzy-bid rekey)",
            err=True,
        )
    return key


@click.group(help="ggzy-bid 投标工具：生成密钥、封装、校验投标文件 (the bidder's tool: keys, sealing, checking)")
def main() -> None:
    pass


@main.command(
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
    with _errors():
        out_dir.mkdir(parents=True, exist_ok=True)
        if any((out_dir / KEY_FILES[k][0]).exists() for k in KEY_FILES):
            _fail(f"{out_dir} 中已有私钥，不会覆盖 (keys already exist; not overwriting)")
        pw = _password(for_new=True)
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


@main.command(
    help="用当前的口令强度重新保存私钥 (re-save key files at today's work factor). "
    "旧口令取自 GGZY_KEY_PASSWORD，新口令取自 GGZY_NEW_KEY_PASSWORD，或提示输入 (old and new passwords)."
)
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
def rekey(keys: pathlib.Path) -> None:
    with _errors():
        old = _password()
        loaded = {name: _read_key(keys / name, old) for name, _, _ in KEY_FILES.values()}
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


def _load(keys: pathlib.Path, kind: str, password: bytes | None) -> tuple[PrivateKey | None, Certificate]:
    key_name, _, cert_name = KEY_FILES[kind]
    cert_path = keys / cert_name
    if not cert_path.exists():
        _fail(f"缺少证书 {cert_path} (certificate missing)")
    cert = Certificate.load(cert_path.read_bytes())
    key = _read_key(keys / key_name, password) if password is not None else None
    return key, cert


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
    with _errors():
        pw = _password()
        sign_key, sign_cert = _load(keys, "sign", pw)
        _, enc_cert = _load(keys, "enc", None)
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
            with _progress(pkg.stat().st_size, "加密") as adv:
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


def _trust(ca: pathlib.Path) -> TrustStore:
    return TrustStore((Certificate.load(ca.read_bytes()),))


@main.command(help="校验加密投标文件的签名与证书（无需私钥）(check signature and certificate; no key needed)")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    required=True,
    help="平台根证书 (platform root certificate)",
)
@click.option("--tender", default=None, help="应属的项目编号 (expected tender id)")
def verify(sealed: pathlib.Path, ca: pathlib.Path, tender: str | None) -> None:
    with _errors(), sealed.open("rb") as f:
        header = read_header(f)
        cert = header.verify(_trust(ca), at=dt.datetime.now(dt.UTC), tender_id=tender)
        header.check_size(sealed.stat().st_size)
        click.echo(
            f"签名有效 (signature valid): {cert.subject.get('common_name')}，项目 {header.tender_id} "
            f"标段 {header.lot_id}，明文 SM3 {header.plaintext_sm3}"
        )


@click.command("unseal", help="用自己的加密私钥解密自查 (decrypt with your own key to check the bid)")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
@click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def unseal_cmd(sealed: pathlib.Path, keys: pathlib.Path, ca: pathlib.Path, out: pathlib.Path) -> None:
    with _errors():
        pw = _password()
        enc_key, enc_cert = _load(keys, "enc", pw)
        assert enc_key is not None
        partial = out.with_name(out.name + ".part")
        try:
            with sealed.open("rb") as src, partial.open("wb") as dst, _progress(sealed.stat().st_size, "解密") as adv:
                header = unseal(
                    src,
                    dst,
                    trust=_trust(ca),
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


@main.command(
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

    with _errors():
        key, _ = _load(keys, "sign", _password())
        assert key is not None
        with document.open("rb") as f:
            digest, size = sm3_stream(f)
        statement = tender_document_statement(tender, name or document.name, digest.hex(), size)
        click.echo(base64.b64encode(key.sign(statement)).decode())


# ---------------------------------------------------------------- talking to the platform
def _client(server: str | None = None) -> Any:
    from bidding.client import Client

    return Client.from_config(server)


@contextlib.contextmanager
def _api_errors() -> Iterator[None]:
    import http.client

    from bidding.client import ApiError

    with _errors():
        try:
            yield
        except ApiError as exc:
            _fail(str(exc))
        except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
            _fail(f"连接中断，重新运行同一命令即可续传 (connection lost; run the same command again to resume): {exc}")


@main.command(
    help="登录平台并保存访问令牌 (log in and keep the token). 用 --keys 以签名密钥（UKey）登录，"
    "否则用密码（GGZY_PASSWORD 或提示）(with --keys: SM2 challenge login; else password)"
)
@click.option("--server", required=True, help="平台地址，如 http://127.0.0.1:5000")
@click.option("--username", required=True)
@click.option(
    "--keys",
    type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path),
    default=None,
    help="密钥文件夹：用签名私钥完成挑战应答登录 (key folder: SM2 challenge-response login)",
)
def login(server: str, username: str, keys: pathlib.Path | None) -> None:
    from bidding.client import CONFIG, Client

    with _api_errors():
        c = Client(server.rstrip("/"))
        if keys is not None:
            key, _ = _load(keys, "sign", _password())
            body = c.login_sm2(username, key)
        else:
            password = os.environ.get("GGZY_PASSWORD") or click.prompt("密码 (password)", hide_input=True, err=True)
            body = c.login(username, password)
        c.save()
    click.echo(f"已登录 {body['user']['display_name']}，令牌保存在 {CONFIG} (logged in)")


@main.command(help="列出正在招标的项目 (list tenders taking bids)")
@click.option("--q", "query", default="", help="搜索词 (search text)")
def tenders(query: str) -> None:
    from urllib.parse import urlencode

    with _api_errors():
        body = _client().request(
            "GET", "/api/v1/announcements?" + urlencode({"kind": "tender", "status": "published", "q": query})
        )
    for item in body["items"]:
        click.echo(f"{item['tender']['code']}\t{item['deadline_after']}\t{item['tender']['title']}")


@main.command(help="下载招标文件并校验 SM3 与招标人签名 (download tender documents, verify SM3 and signature)")
@click.argument("tender")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=pathlib.Path), required=True)
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="平台根证书；默认从平台获取 (platform root; fetched when omitted)",
)
def download(tender: str, out_dir: pathlib.Path, ca: pathlib.Path | None) -> None:
    import base64

    from bidding.client import document_path
    from signing.certs import Usage, verify_chain
    from signing.digest import sm3_stream
    from signing.statements import tender_document_statement

    with _api_errors():
        c = _client()
        trust = (
            _trust(ca)
            if ca
            else TrustStore((Certificate.from_pem(c.request("GET", "/api/v1/platform/certificates")["root"].encode()),))
        )
        t = c.request("GET", f"/api/v1/tenders/{tender}")
        out_dir.mkdir(parents=True, exist_ok=True)
        for d in t["documents"]:
            dst = out_dir / pathlib.Path(d["name"]).name
            c.download(document_path(tender, d["id"]), dst)
            with dst.open("rb") as f:
                digest, size = sm3_stream(f)
            if digest.hex() != d["sm3"] or size != d["size"]:
                dst.unlink()
                _fail(f"{d['name']} 的 SM3 与平台公布的不符 (digest mismatch)")
            cert = Certificate.from_pem(d["signer_certificate"].encode())
            verify_chain(cert, trust, at=dt.datetime.now(dt.UTC), usage=Usage.SIGN)
            cert.public_key.verify(
                base64.b64decode(d["signature"]), tender_document_statement(tender, d["name"], d["sm3"], d["size"])
            )
            click.echo(f"{dst}: SM3 与招标人签名均有效 (digest and tenderee signature valid)")


@main.command(help="打包投标文件夹并写入开标一览表 (build a bid package with its price sheet)")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path))
@click.option("--tender", required=True)
@click.option("--lot", type=int, default=1, show_default=True)
@click.option("--price", required=True, help="投标报价（元）(bid price)")
@click.option("--field", "fields", multiple=True, help="开标一览表字段 NAME=VALUE (declared fields)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def build(folder: pathlib.Path, tender: str, lot: int, price: str, fields: tuple[str, ...], out: pathlib.Path) -> None:
    from bidding.price_sheet import FILENAME, PriceSheetError, build_price_sheet

    values = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep:
            _fail(f"--field 应为 NAME=VALUE：{item}")
        values[name] = value
    with _api_errors():
        t = _client().request("GET", f"/api/v1/tenders/{tender}")
    lot_spec = next((x for x in t["lots"] if x["number"] == lot), None)
    if lot_spec is None:
        _fail(f"标段 {lot} 不存在 (no such lot)")
        return
    try:
        sheet = build_price_sheet(tender, lot, price, values, lot_spec["price_fields"])
    except PriceSheetError as exc:
        _fail(str(exc))
    with tempfile.TemporaryDirectory() as tmp:
        staged = pathlib.Path(tmp) / "bid"
        import shutil

        shutil.copytree(folder, staged)
        (staged / FILENAME).write_bytes(sheet)
        with out.open("wb") as f:
            n = write_folder_zip(staged, f)
    click.echo(f"{out}: {n} 个文件，含 {FILENAME} (package with price sheet)")


@main.command(help="上传加密投标文件（分片、可续传）(upload a sealed bid: in parts, resumable)")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--tender", required=True)
@click.option("--lot", type=int, default=1, show_default=True)
def upload(sealed: pathlib.Path, tender: str, lot: int) -> None:
    from bidding.client import ApiError, upload_sealed

    with _api_errors(), _progress(sealed.stat().st_size, "上传") as adv:
        try:
            bid = upload_sealed(_client(), sealed, tender, lot, adv)
        except ApiError as exc:
            _explain_upload_refusal(exc, tender)
            raise
    click.echo(
        f"投标成功 (accepted) {bid['received_at']}，密文 SM3 {bid['ciphertext_sm3']}；"
        f"回执已保存 {sealed.name}.receipt.json"
    )


def _explain_upload_refusal(exc: Any, tender: str) -> None:
    """The refusals a bidder can act on, told with the command that does it (exit code 2)."""
    if exc.code in ("too_many_open_uploads", "too_many_upload_bytes"):
        _fail(
            f"{exc.message} [{exc.code}]。本单位未完成的上传已达上限：用 ggzy-bid uploads --tender {tender} 查看，"
            f"用 ggzy-bid uploads abandon <上传编号> 或 ggzy-bid uploads abandon --all --tender {tender} 放弃不再需要的上传后，"
            "重新运行本命令 (too many unfinished uploads: list them with `ggzy-bid uploads`, "
            "give up the ones you no longer need with `ggzy-bid uploads abandon`, then run this again)"
        )
    if exc.code == "upload_expired":
        _fail(
            f"{exc.message} [{exc.code}]。上传任务已过期（超过 24 小时、长时间未收到数据或投标已截止），"
            "已放弃；截止前重新运行本命令将重新开始上传 (the upload expired and was given up; "
            "run this again before the deadline to start anew)"
        )
    if exc.code == "staging_full":
        _fail(
            f"{exc.message} [{exc.code}]。已多次重试仍无空间，已上传的部分会保留，稍后重新运行本命令即可续传 "
            "(staging still full after retries; progress is kept: run this again later to resume)"
        )


def _beijing(value: str | None) -> str:
    """An ISO time from the platform, in Beijing time (the platform's times are UTC-aware)."""
    from zoneinfo import ZoneInfo

    if not value:
        return "—"
    t = dt.datetime.fromisoformat(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return f"{t.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M:%S}"


@main.group(
    "uploads",
    invoke_without_command=True,
    help="本单位未完成的上传：查看或放弃 (the organisation's unfinished uploads: list or give up)",
)
@click.option("--tender", default=None, help="只看此项目 (only this tender)")
@click.pass_context
def uploads(ctx: click.Context, tender: str | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from bidding.client import open_uploads

    with _api_errors():
        items = open_uploads(_client(), tender)
    if not items:
        click.echo("没有未完成的上传 (no unfinished uploads)")
        return
    click.echo(
        "上传编号 (id)\t项目 (tender)\t标段 (lot)\t声明大小 (size)\t已接收 (received)\t最近收到 (last part)\t过期 (expires)"
    )
    for u in items:
        click.echo(
            f"{u['upload_id']}\t{u['tender']}\t{u['lot']}\t{u['declared_size']} 字节\t{u['received']} 字节\t"
            f"{_beijing(u.get('last_part_at'))}\t{_beijing(u['expires_at'])}"
        )
    click.echo("（北京时间 Beijing time）")


@uploads.command("abandon", help="放弃未完成的上传，平台删除已收到的数据 (give up unfinished uploads)")
@click.argument("upload_id", required=False)
@click.option("--all", "everything", is_flag=True, help="放弃此项目的全部未完成上传 (all of a tender's)")
@click.option("--tender", default=None, help="与 --all 一起使用 (with --all)")
def uploads_abandon(upload_id: str | None, everything: bool, tender: str | None) -> None:
    from bidding.client import abandon_upload, open_uploads

    if (upload_id is None) == (not everything) or (everything and not tender):
        _fail("请给出上传编号，或 --all --tender 项目编号 (give an upload id, or --all --tender X)")
    with _api_errors():
        client = _client()
        ids = [upload_id] if upload_id else [u["upload_id"] for u in open_uploads(client, tender)]
        for one in ids:
            assert one is not None
            abandon_upload(client, one)
            click.echo(f"已放弃 (abandoned) {one}")
    if not ids:
        click.echo("没有未完成的上传 (no unfinished uploads)")


@main.command(help="查看本单位在项目中的投标文件 (my bids in a tender)")
@click.option("--tender", required=True)
def status(tender: str) -> None:
    with _api_errors():
        body = _client().request("GET", f"/api/v1/bids?tender={tender}")
    if not body["items"]:
        click.echo("本单位在此项目没有投标文件 (no bids)")
    for b in body["items"]:
        click.echo(f"{b['status_label']}\t{b['received_at']}\t{b['ciphertext_sm3']}\t{b['size']} 字节")


@main.group(help="回执 (receipts)")
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

    with _errors():
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
                _fail("回执与加密投标文件不符 (receipt does not match the sealed file)")
    click.echo(
        f"回执有效 (valid): 项目 {body['tender']} 标段 {body['lot']}，接收时间 {body['received_at']}，"
        f"密文 SM3 {body['ciphertext_sm3']}"
    )


@main.command(help="撤回投标文件（截止前，须签名）(withdraw a bid before the deadline, signed)")
@click.option("--tender", required=True)
@click.option("--lot", type=int, default=1, show_default=True)
@click.option("--sm3", "ciphertext_sm3", required=True, help="要撤回的投标文件密文 SM3")
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
def withdraw(tender: str, lot: int, ciphertext_sm3: str, keys: pathlib.Path) -> None:
    import base64

    from signing.statements import bid_withdrawal_statement

    with _api_errors():
        key, _ = _load(keys, "sign", _password())
        assert key is not None
        client = _client()
        org = client.request("GET", "/api/v1/me")["organisation"]
        statement = bid_withdrawal_statement(tender, lot, org["credit_code"], ciphertext_sm3)
        body = client.request(
            "POST",
            f"/api/v1/bids/{ciphertext_sm3}/withdraw",
            {"signature": base64.b64encode(key.sign(statement)).decode()},
        )
    click.echo(f"已撤回 (withdrawn) {body['withdrawn_at']}")


# ---------------------------------------------------------------- the opening ceremony
_KEYS = click.option(
    "--keys",
    type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path),
    required=True,
    help="密钥文件夹 (key folder)",
)
_CEREMONY = click.option("--ceremony", type=int, required=True, help="开标室编号 (ceremony id)")


@main.command(help="列出项目各标段的开标室 (the opening rooms of a tender)")
@click.option("--tender", required=True)
def ceremonies(tender: str) -> None:
    with _api_errors():
        items = _client().request("GET", f"/api/v1/tenders/{tender}/ceremonies")["items"]
    for c in items:
        click.echo(f"{c['id']}\t第{c['lot']}标段\t{c['label']}\t截止 {c['ends_at'] or '—'}")


@main.command(help="开标签到：用签名私钥（CA 锁）签到 (sign in to the opening with the signing key)")
@_CEREMONY
@_KEYS
def signin(ceremony: int, keys: pathlib.Path) -> None:
    from bidding import ceremony_client

    with _api_errors():
        key, _ = _load(keys, "sign", _password())
        assert key is not None
        ceremony_client.sign_in(_client(), ceremony, key)
    click.echo("已签到 (signed in)")


@main.command(help="开标解密：本机解开密钥，加密给开标室后提交 (release the bid's key to the opening)")
@_CEREMONY
@click.option("--sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path), required=True)
@_KEYS
@click.option("--wait/--no-wait", default=True, show_default=True, help="等待平台解密结果 (wait for the result)")
def decrypt(ceremony: int, sealed: pathlib.Path, keys: pathlib.Path, wait: bool) -> None:
    from bidding import ceremony_client

    with _api_errors():
        pw = _password()
        sign_key, _ = _load(keys, "sign", pw)
        enc_key, enc_cert = _load(keys, "enc", pw)
        assert sign_key is not None and enc_key is not None
        client = _client()
        ceremony_client.release_key(client, ceremony, sealed, sign_key, enc_key, enc_cert)
        click.echo("密钥已提交，平台解密中 (key released; decrypting)")
        if not wait:
            return
        me = ceremony_client.wait_decrypted(client, ceremony)["me"]
    if me["outcome"] == "decrypted":
        click.echo("解密成功 (decrypted)")
        return
    last = me.get("last_attempt") or {}
    _fail(f"解密失败 (decryption failed): {last.get('code') or me['outcome']}；可在解密时间内重试")


@main.command(help="确认开标记录（SM2 签名）(confirm the opening record by signing its SM3)")
@_CEREMONY
@_KEYS
def confirm(ceremony: int, keys: pathlib.Path) -> None:
    from bidding import ceremony_client

    with _api_errors():
        key, _ = _load(keys, "sign", _password())
        assert key is not None
        ceremony_client.confirm(_client(), ceremony, key)
    click.echo("已确认开标记录 (record confirmed)")


@main.command("object", help="对开标提出异议 (raise an objection in the opening)")
@_CEREMONY
@click.option("--text", required=True, help="异议内容 (2–1000 字)")
def object_cmd(ceremony: int, text: str) -> None:
    from bidding import ceremony_client

    with _api_errors():
        ceremony_client.object_(_client(), ceremony, text)
    click.echo("异议已提交，请在开标室等待主持人答复 (objection raised)")


@main.group(help="电子保函：查看出具机构、申请、查看核验结果 (e-guarantees instead of a cash bond)")
def guarantee() -> None:
    pass


@guarantee.command("issuers", help="平台已接入的出具机构 (issuers on the platform)")
def guarantee_issuers() -> None:
    with _api_errors():
        items = _client().request("GET", "/api/v1/guarantees/issuers")["items"]
    for i in items:
        click.echo(f"{i['credit_code']}\t{i['name']}")


@guarantee.command("apply", help="向出具机构申请本标段的投标保函 (apply to an issuer for one lot)")
@click.option("--tender", required=True, help="项目编号 (tender id)")
@click.option("--lot", type=int, default=1, show_default=True, help="标段 (lot number)")
@click.option("--issuer", required=True, help="出具机构的统一社会信用代码 (issuer's credit code)")
def guarantee_apply(tender: str, lot: int, issuer: str) -> None:
    with _api_errors():
        o = _client().request("POST", "/api/v1/guarantees", {"tender": tender, "lot": lot, "issuer": issuer})
    click.echo(f"已提交申请 {o['id']}：{o['issuer']['name']}，{o['amount']} 元，有效期至少到 {o['valid_until']}")


@guarantee.command("list", help="我的保函申请与核验结果 (my applications and guarantees)")
def guarantee_list() -> None:
    with _api_errors():
        items = _client().request("GET", "/api/v1/guarantees/mine")["items"]
    for o in items:
        g = o["guarantee"]
        state = f"{g['number']} {g['state_label']}" if g else o["state_label"]
        refusal = f"；平台未接受出具机构的保函：{o['last_refusal']['message']}" if o["last_refusal"] else ""
        click.echo(f"{o['id']}\t{o['tender']} 第{o['lot']}标段\t{o['issuer']['name']}\t{o['amount']}\t{state}{refusal}")


main.add_command(seal_cmd, "seal")
main.add_command(unseal_cmd, "unseal")

if __name__ == "__main__":
    main()
