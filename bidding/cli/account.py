"""``ggzy-bid`` commands about the bidder's own account: its certificates and the platform's notices."""

from __future__ import annotations

import http.client
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from bidding.cli.common import (
    BEIJING_FOOTER,
    KEY_FILES,
    api_client,
    api_errors,
    beijing,
    errors,
    fail,
    one_line,
)
from signing.certs import Certificate

USAGES = {"sign": "签名证书", "encrypt": "加密证书"}  # the platform's usage names → the pages' words
_KIND = {"sign": "sign", "encrypt": "enc"}  # usage → the key folder's file prefix (keygen's names)


@click.group(
    "certs",
    invoke_without_command=True,
    help="我的证书：查看已登记的证书，或登记新证书 (my certificates: list, or register new ones)",
)
@click.pass_context
def certs(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is not None:
        return
    with api_errors():
        mine = api_client().request("GET", "/api/v1/me/certificates")
    for usage, label in USAGES.items():
        c = mine.get(usage)
        if c is None:
            click.echo(f"{label} ({usage})\t未登记 (not registered)")
        else:
            click.echo(f"{label} ({usage})\t{c['fingerprint']}\t有效期至 {beijing(c['not_after'])}")
    click.echo(BEIJING_FOOTER)


def _local_certificate(keys: pathlib.Path, usage: str) -> Certificate | None:
    """The folder's certificate for ``usage``, checked against the folder's own public key (what
    keygen wrote) before anything is sent: a certificate for another key would lock the bidder out
    of its own signature or bid."""
    _, pub_name, cert_name = KEY_FILES[_KIND[usage]]
    path = keys / cert_name
    if not path.exists():
        return None
    cert = Certificate.load(path.read_bytes())
    pub = keys / pub_name
    if pub.exists():
        from signing.sm2 import PublicKey

        if PublicKey.from_pem(pub.read_bytes()) != cert.public_key:
            fail(f"{path} 与本文件夹的公钥 {pub.name} 不符，不能登记 (certificate is not for this folder's key)")
    return cert


@certs.command(
    "register",
    help="把密钥文件夹中的 sign.crt、enc.crt 登记到本账户，取代同用途的旧证书 "
    "(register the folder's certificates to this account; they replace older ones)",
)
@click.option(
    "--keys",
    type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path),
    required=True,
    help="密钥文件夹 (key folder)",
)
@click.option(
    "--usage",
    type=click.Choice(["sign", "encrypt", "both"]),
    default="both",
    show_default=True,
    help="只登记其中一种 (only one of them)",
)
def certs_register(keys: pathlib.Path, usage: str) -> None:
    wanted = list(USAGES) if usage == "both" else [usage]
    with errors():
        local = {u: _local_certificate(keys, u) for u in wanted}
    missing = [KEY_FILES[_KIND[u]][2] for u, c in local.items() if c is None]
    if missing:
        fail(f"{keys} 中缺少证书 {'、'.join(missing)} (certificate missing)")
    with api_errors():
        client = api_client()
        current = client.request("GET", "/api/v1/me/certificates")
        for u, cert in local.items():
            assert cert is not None
            if (current.get(u) or {}).get("fingerprint") == cert.fingerprint:
                click.echo(f"{USAGES[u]}已登记，无需重复 (already registered)：{cert.fingerprint}")
                continue
            got = client.request(
                "POST", "/api/v1/me/certificates", {"certificate_pem": cert.to_pem().decode(), "usage": u}
            )
            click.echo(f"已登记{USAGES[u]} (registered)：{got['fingerprint']}，有效期至 {beijing(got['not_after'])}")
    click.echo(BEIJING_FOOTER)


def _key(n: dict[str, Any]) -> tuple[str, str]:
    return (str(n.get("created_at")), str(n.get("message")))


def _show(items: list[dict[str, Any]], seen: set[tuple[str, str]]) -> int:
    """Print the notices not shown yet, oldest first; how many."""
    fresh = [n for n in reversed(items) if _key(n) not in seen]
    for n in fresh:
        seen.add(_key(n))
        click.echo(f"{beijing(n['created_at'])}\t{one_line(n['message'])}")
    return len(fresh)


def pause(seconds: float) -> None:
    """Between two polls (a name of its own, so a test can stand in for the waiting)."""
    time.sleep(seconds)


def follow(
    fetch: Callable[[], list[dict[str, Any]]], seen: set[tuple[str, str]], interval: float, longest: float
) -> None:
    """Poll until interrupted: the wait doubles while nothing comes (to ``longest``) and starts
    again at ``interval`` after a notice; a connection lost or a busy platform is waited out the
    same way, said once on stderr."""
    wait = interval
    while True:
        pause(wait)
        try:
            got = _show(fetch(), seen)
        except (OSError, http.client.HTTPException) as exc:  # ConnectionError and TimeoutError are OSErrors
            click.echo(f"暂时连不上平台，稍后重试 (platform unreachable; retrying): {exc}", err=True)
            got = 0
        wait = interval if got else min(wait * 2, longest)


@click.command(help="平台发给本单位的通知；--follow 持续等待新通知，Ctrl+C 结束 (notices; --follow keeps polling)")
@click.option("--follow", "keep", is_flag=True, help="持续等待新通知 (keep polling for new ones)")
@click.option(
    "--interval",
    type=click.FloatRange(1, 3600),
    default=5.0,
    show_default=True,
    help="首次轮询间隔（秒），无新通知时逐次加倍 (first poll interval, doubled while nothing comes)",
)
@click.option(
    "--max-interval",
    type=click.FloatRange(1, 3600),
    default=300.0,
    show_default=True,
    help="最长轮询间隔（秒）(longest interval)",
)
def notices(keep: bool, interval: float, max_interval: float) -> None:
    from bidding.client import ApiError

    seen: set[tuple[str, str]] = set()
    with api_errors():
        client = api_client()

        def fetch() -> list[dict[str, Any]]:
            try:
                return list(client.request("GET", "/api/v1/me/notifications")["items"])
            except ApiError as exc:
                if exc.status in (502, 503, 504):  # the platform restarting or busy: wait, as for a lost line
                    raise ConnectionError(str(exc)) from None
                raise

        if not _show(fetch(), seen) and not keep:
            click.echo("没有通知 (no notices)")
        click.echo(BEIJING_FOOTER + ("；等待新通知，Ctrl+C 结束 (waiting; Ctrl+C to stop)" if keep else ""))
        if not keep:
            return
        try:
            follow(fetch, seen, interval, max(interval, max_interval))
        except KeyboardInterrupt:
            click.echo("已停止 (stopped)", err=True)
            sys.exit(0)
