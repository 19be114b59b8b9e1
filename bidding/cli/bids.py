"""``ggzy-bid`` commands that talk to the platform about tenders and bids: log in, download, build, upload, withdraw."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import tempfile
from typing import Any

import click

from bidding.cli.common import (
    BEIJING_FOOTER,
    amount,
    api_client,
    api_errors,
    beijing,
    fail,
    key_password,
    load_keys,
    progress_bar,
    safe,
    thousands,
    trust_store,
)
from bidding.package import write_folder_zip
from signing.certs import Certificate, TrustStore


@click.command(
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

    with api_errors():
        c = Client(server.rstrip("/"))
        if keys is not None:
            key, _ = load_keys(keys, "sign", key_password())
            body = c.login_sm2(username, key)
        else:
            password = os.environ.get("GGZY_PASSWORD") or click.prompt("密码 (password)", hide_input=True, err=True)
            body = c.login(username, password)
        c.save()
    click.echo(f"已登录 {safe(body['user']['display_name'])}，令牌保存在 {CONFIG} (logged in)")


@click.command(help="列出正在招标的项目 (list tenders taking bids)")
@click.option("--q", "query", default="", help="搜索词 (search text)")
def tenders(query: str) -> None:
    from urllib.parse import urlencode

    with api_errors():
        body = api_client().request(
            "GET", "/api/v1/announcements?" + urlencode({"kind": "tender", "status": "published", "q": query})
        )
    if not body["items"]:
        click.echo("没有正在招标的项目 (no tenders taking bids)")
    for item in body["items"]:
        deadline = beijing(item.get("deadline_after") or item["tender"].get("bid_deadline"))
        click.echo(f"{safe(item['tender']['code'])}\t投标截止 {deadline}\t{safe(item['tender']['title'])}")
    if body["items"]:
        click.echo(BEIJING_FOOTER)


@click.command(help="下载招标文件并校验 SM3 与招标人签名 (download tender documents, verify SM3 and signature)")
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

    with api_errors():
        c = api_client()
        trust = (
            trust_store(ca)
            if ca
            else TrustStore((Certificate.from_pem(c.request("GET", "/api/v1/platform/certificates")["root"].encode()),))
        )
        t = c.request("GET", f"/api/v1/tenders/{tender}")
        out_dir.mkdir(parents=True, exist_ok=True)
        for d in t["documents"]:
            base = pathlib.Path(str(d["name"])).name
            if base in ("", ".", "..") or safe(base) != base:  # the platform refuses such names: a hostile one
                fail(f"平台公布的文件名无效 (bad document name)：{d['name']}")
            dst = out_dir / base
            if not isinstance(d["size"], int) or d["size"] < 0:
                fail(f"平台公布的 {d['name']} 大小无效 (bad declared size)")
            with progress_bar(d["size"], f"下载 {dst.name}") as adv:
                c.download(document_path(tender, d["id"]), dst, adv, limit=d["size"])
            with dst.open("rb") as f:
                digest, size = sm3_stream(f)
            if digest.hex() != d["sm3"] or size != d["size"]:
                dst.unlink()
                fail(f"{d['name']} 的 SM3 与平台公布的不符 (digest mismatch)")
            cert = Certificate.from_pem(d["signer_certificate"].encode())
            verify_chain(cert, trust, at=dt.datetime.now(dt.UTC), usage=Usage.SIGN)
            cert.public_key.verify(
                base64.b64decode(d["signature"]), tender_document_statement(tender, d["name"], d["sm3"], d["size"])
            )
            click.echo(f"{safe(dst)}: SM3 与招标人签名均有效 (digest and tenderee signature valid)")


@click.command(help="打包投标文件夹并写入开标一览表 (build a bid package with its price sheet)")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path))
@click.option("--tender", required=True)
@click.option("--lot", type=int, default=1, show_default=True)
@click.option("--price", required=True, help="投标报价（元）(bid price)")
@click.option("--field", "fields", multiple=True, help="开标一览表字段 NAME=VALUE (declared fields)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def build(folder: pathlib.Path, tender: str, lot: int, price: str, fields: tuple[str, ...], out: pathlib.Path) -> None:
    from signing.price_sheet import FILENAME, PriceSheetError, build_price_sheet

    values = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep:
            fail(f"--field 应为 NAME=VALUE：{item}")
        values[name] = value
    with api_errors():
        t = api_client().request("GET", f"/api/v1/tenders/{tender}")
    lot_spec = next((x for x in t["lots"] if x["number"] == lot), None)
    if lot_spec is None:
        fail(f"标段 {lot} 不存在 (no such lot)")
        return
    try:
        sheet = build_price_sheet(tender, lot, price, values, lot_spec["price_fields"])
    except PriceSheetError as exc:
        fail(str(exc))
    with tempfile.TemporaryDirectory() as tmp:
        staged = pathlib.Path(tmp) / "bid"
        import shutil

        shutil.copytree(folder, staged)
        (staged / FILENAME).write_bytes(sheet)
        with out.open("wb") as f:
            n = write_folder_zip(staged, f)
    click.echo(f"{out}: {n} 个文件，含 {FILENAME} (package with price sheet)")
    click.echo(f"开标一览表：投标报价 {amount(price)} 元" + _fields_text(values, lot_spec["price_fields"]))


def _fields_text(values: dict[str, str], declared: list[dict[str, Any]]) -> str:
    """The sheet's other fields named as the lot declares them (工期（日历天）：365), as the room reads them."""
    from signing.price_sheet import labelled_fields

    rows = labelled_fields(values, declared)
    return "".join(f"；{safe(label)}：{amount(v) if kind == 'amount' else safe(v)}" for label, kind, v in rows)


@click.command(help="上传加密投标文件（分片、可续传）(upload a sealed bid: in parts, resumable)")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--tender", required=True)
@click.option("--lot", type=int, default=1, show_default=True)
def upload(sealed: pathlib.Path, tender: str, lot: int) -> None:
    from bidding.client import ApiError, upload_sealed

    with api_errors(), progress_bar(sealed.stat().st_size, "上传") as adv:
        try:
            bid = upload_sealed(api_client(), sealed, tender, lot, adv)
        except ApiError as exc:
            _explain_upload_refusal(exc, tender)
            raise
    click.echo(
        f"投标成功 (accepted)：平台于 {beijing(bid['received_at'])}（北京时间）接收，密文 SM3 {safe(bid['ciphertext_sm3'])}；"
        f"回执已保存 {sealed.name}.receipt.json"
    )


def _explain_upload_refusal(exc: Any, tender: str) -> None:
    """The refusals a bidder can act on, told with the command that does it (exit code 2)."""
    if exc.code in ("too_many_open_uploads", "too_many_upload_bytes"):
        fail(
            f"{exc.message} [{exc.code}]。本单位未完成的上传已达上限：用 ggzy-bid uploads --tender {tender} 查看，"
            f"用 ggzy-bid uploads abandon <上传编号> 或 ggzy-bid uploads abandon --all --tender {tender} 放弃不再需要的上传后，"
            "重新运行本命令 (too many unfinished uploads: list them with `ggzy-bid uploads`, "
            "give up the ones you no longer need with `ggzy-bid uploads abandon`, then run this again)"
        )
    if exc.code == "upload_expired":
        fail(
            f"{exc.message} [{exc.code}]。上传任务已过期（超过 24 小时、长时间未收到数据或投标已截止），"
            "已放弃；截止前重新运行本命令将重新开始上传 (the upload expired and was given up; "
            "run this again before the deadline to start anew)"
        )
    if exc.code == "staging_full":
        fail(
            f"{exc.message} [{exc.code}]。已多次重试仍无空间，已上传的部分会保留，稍后重新运行本命令即可续传 "
            "(staging still full after retries; progress is kept: run this again later to resume)"
        )


@click.group(
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

    with api_errors():
        items = open_uploads(api_client(), tender)
    if not items:
        click.echo("没有未完成的上传 (no unfinished uploads)")
        return
    click.echo(
        "上传编号 (id)\t项目 (tender)\t标段 (lot)\t声明大小 (size)\t已接收 (received)\t最近收到 (last part)\t过期 (expires)"
    )
    for u in items:
        click.echo(
            f"{safe(u['upload_id'])}\t{safe(u['tender'])}\t{safe(u['lot'])}\t{safe(u['declared_size'])} 字节\t"
            f"{safe(u['received'])} 字节\t"
            f"{beijing(u.get('last_part_at'))}\t{beijing(u['expires_at'])}"
        )
    click.echo(BEIJING_FOOTER)


@uploads.command("abandon", help="放弃未完成的上传，平台删除已收到的数据 (give up unfinished uploads)")
@click.argument("upload_id", required=False)
@click.option("--all", "everything", is_flag=True, help="放弃此项目的全部未完成上传 (all of a tender's)")
@click.option("--tender", default=None, help="与 --all 一起使用 (with --all)")
def uploads_abandon(upload_id: str | None, everything: bool, tender: str | None) -> None:
    from bidding.client import abandon_upload, open_uploads

    if (upload_id is None) == (not everything) or (everything and not tender):
        fail("请给出上传编号，或 --all --tender 项目编号 (give an upload id, or --all --tender X)")
    with api_errors():
        client = api_client()
        ids = [upload_id] if upload_id else [u["upload_id"] for u in open_uploads(client, tender)]
        for one in ids:
            assert one is not None
            abandon_upload(client, one)
            click.echo(f"已放弃 (abandoned) {safe(one)}")
    if not ids:
        click.echo("没有未完成的上传 (no unfinished uploads)")


@click.command(help="查看本单位在项目中的投标文件 (my bids in a tender)")
@click.option("--tender", required=True)
def status(tender: str) -> None:
    with api_errors():
        body = api_client().request("GET", f"/api/v1/bids?tender={tender}")
    if not body["items"]:
        click.echo("本单位在此项目没有投标文件 (no bids)")
    for b in body["items"]:
        lot = f"第{safe(b['lot'])}标段" if b.get("lot") is not None else "—"
        click.echo(
            f"{lot}\t{safe(b['status_label'])}\t接收 {beijing(b['received_at'])}\t{safe(b['ciphertext_sm3'])}\t"
            f"{thousands(b['size'])} 字节"
        )
    if body["items"]:
        click.echo(BEIJING_FOOTER)


@click.command(help="撤回投标文件（截止前，须签名）(withdraw a bid before the deadline, signed)")
@click.option("--tender", required=True)
@click.option("--lot", type=int, default=1, show_default=True)
@click.option("--sm3", "ciphertext_sm3", required=True, help="要撤回的投标文件密文 SM3")
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
def withdraw(tender: str, lot: int, ciphertext_sm3: str, keys: pathlib.Path) -> None:
    import base64

    from signing.statements import bid_withdrawal_statement

    with api_errors():
        key, _ = load_keys(keys, "sign", key_password())
        assert key is not None
        client = api_client()
        org = client.request("GET", "/api/v1/me")["organisation"]
        statement = bid_withdrawal_statement(tender, lot, org["credit_code"], ciphertext_sm3)
        body = client.request(
            "POST",
            f"/api/v1/bids/{ciphertext_sm3}/withdraw",
            {"signature": base64.b64encode(key.sign(statement)).decode()},
        )
    click.echo(f"已撤回 (withdrawn)：{beijing(body['withdrawn_at'])}（北京时间）")
