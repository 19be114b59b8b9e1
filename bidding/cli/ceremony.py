"""``ggzy-bid`` commands for the opening ceremony: sign in, release the key, confirm, object."""

from __future__ import annotations

import pathlib

import click

from bidding.cli.common import (
    api_client,
    api_errors,
    beijing,
    fail,
    key_password,
    load_keys,
    one_line,
    safe,
    spinner,
)

_KEYS = click.option(
    "--keys",
    type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path),
    required=True,
    help="密钥文件夹 (key folder)",
)
_CEREMONY = click.option("--ceremony", type=int, required=True, help="开标室编号 (ceremony id)")


@click.command(help="列出项目各标段的开标室 (the opening rooms of a tender)")
@click.option("--tender", required=True)
def ceremonies(tender: str) -> None:
    with api_errors():
        items = api_client().request("GET", f"/api/v1/tenders/{tender}/ceremonies")["items"]
    if not items:
        click.echo("本项目没有开标室 (no opening rooms)")
    for c in items:
        when = "（已暂停）" if c.get("paused") else f"本阶段截止 {beijing(c['ends_at'])}" if c.get("ends_at") else ""
        click.echo(f"{safe(c['id'])}\t第{safe(c['lot'])}标段\t{safe(c['label'])}\t{when}")
    if items:
        click.echo("（北京时间 Beijing time；第一列为开标室编号，即 signin、decrypt、confirm、object 的 --ceremony）")


@click.command(help="开标签到：用签名私钥（CA 锁）签到 (sign in to the opening with the signing key)")
@_CEREMONY
@_KEYS
def signin(ceremony: int, keys: pathlib.Path) -> None:
    from bidding import ceremony_client

    with api_errors():
        key, _ = load_keys(keys, "sign", key_password())
        assert key is not None
        ceremony_client.sign_in(api_client(), ceremony, key)
    click.echo("已签到 (signed in)")


@click.command(help="开标解密：本机解开密钥，加密给开标室后提交 (release the bid's key to the opening)")
@_CEREMONY
@click.option("--sealed", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path), required=True)
@_KEYS
@click.option("--wait/--no-wait", default=True, show_default=True, help="等待平台解密结果 (wait for the result)")
def decrypt(ceremony: int, sealed: pathlib.Path, keys: pathlib.Path, wait: bool) -> None:
    from bidding import ceremony_client

    with api_errors():
        pw = key_password()
        sign_key, _ = load_keys(keys, "sign", pw)
        enc_key, enc_cert = load_keys(keys, "enc", pw)
        assert sign_key is not None and enc_key is not None
        client = api_client()
        ceremony_client.release_key(client, ceremony, sealed, sign_key, enc_key, enc_cert)
        click.echo("密钥已提交，平台解密中 (key released; decrypting)")
        if not wait:
            return
        with spinner("平台解密中 (decrypting)"):
            me = ceremony_client.wait_decrypted(client, ceremony)["me"]
    if me["outcome"] == "decrypted":
        click.echo(f"{safe(me['outcome_label'])} (decrypted)")
        return
    last = me.get("last_attempt") or {}
    why = last.get("code_label") or last.get("state_label") or me["outcome_label"]
    fail(f"解密未成功 (decryption failed)：{why}；可在解密时间内重试")


@click.command(help="确认开标记录（SM2 签名）(confirm the opening record by signing its SM3)")
@_CEREMONY
@_KEYS
def confirm(ceremony: int, keys: pathlib.Path) -> None:
    from bidding import ceremony_client

    with api_errors():
        key, _ = load_keys(keys, "sign", key_password())
        assert key is not None
        ceremony_client.confirm(api_client(), ceremony, key)
    click.echo("已确认开标记录 (record confirmed)")


@click.command("object", help="对开标提出异议 (raise an objection in the opening)")
@_CEREMONY
@click.option("--text", required=True, help="异议内容 (2–1000 字)")
def object_cmd(ceremony: int, text: str) -> None:
    from bidding import ceremony_client

    with api_errors():
        ceremony_client.object_(api_client(), ceremony, text)
    click.echo("异议已提交，请在开标室等待主持人答复 (objection raised)")


@click.command("objections", help="开标中的异议与主持人答复 (the opening's objections and the host's answers)")
@_CEREMONY
def objections(ceremony: int) -> None:
    from bidding import ceremony_client

    with api_errors():
        items = ceremony_client.state(api_client(), ceremony).get("objections")
    if items is None:
        fail("开标尚未开始或你不是本标段的投标人，看不到异议 (no objections visible to you in this room)")
        return
    if not items:
        click.echo("本开标室没有异议 (no objections)")
    for o in items:
        answer = o.get("answer") or "待答复 (not answered yet)"
        click.echo(f"{safe(o['id'])}\t{safe(o['bidder'])}\t{one_line(o['text'])}\t答复：{one_line(answer)}")
