"""``ggzy-bid`` commands about the bidder's own account: its certificates and the platform's notices."""

from __future__ import annotations

import datetime as dt
import http.client
import pathlib
import sys
import time
import urllib.parse
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
    safe,
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
            click.echo(f"{label} ({usage})\t{safe(c['fingerprint'])}\t有效期至 {beijing(c['not_after'])}")
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
            click.echo(
                f"已登记{USAGES[u]} (registered)：{safe(got['fingerprint'])}，有效期至 {beijing(got['not_after'])}"
            )
    click.echo(BEIJING_FOOTER)


#: How far back each poll looks again before the newest notice seen: a notice written by a
#: transaction that commits late carries an instant a little before notices already shown.
OVERLAP = dt.timedelta(minutes=2)
#: The most notices remembered as shown (those inside the window that can come again, newest
#: first), and the most pages read in one poll: a server sending thousands of notices of one instant,
#: or ``more`` forever, costs bounded memory and time (the rest comes with the next poll).
MAX_SEEN = 5000
MAX_PAGES = 20


def notice_key(n: dict[str, Any]) -> str:
    return str(n["id"]) if "id" in n else f"{n.get('created_at')}|{n.get('message')}"


class Notices:
    """The organisation's notices, each shown once and oldest first. The first call reads the
    latest 20; after that each poll asks for everything since the newest seen (less ``OVERLAP``),
    page by page while the platform says ``more``, so none is lost however many arrive."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seen: dict[str, dt.datetime] = {}
        self.newest: dt.datetime | None = None  # of the notices seen, else the platform's time when first asked

    def fetch(self) -> list[dict[str, Any]]:
        if self.newest is None:
            body = self.client.request("GET", "/api/v1/me/notifications")
            self.newest = instant(body["server_time"])
            return list(reversed(body["items"]))
        since, got = self.newest - OVERLAP, []
        for _ in range(MAX_PAGES):
            query = urllib.parse.urlencode({"since": since.isoformat(), "limit": 100})
            body = self.client.request("GET", f"/api/v1/me/notifications?{query}")
            got += body["items"]
            if not body.get("more") or not body["items"]:
                break
            last = instant(body["items"][-1]["created_at"])
            if last <= since:  # a page that does not move on would be asked for forever
                break
            since = last
        return got

    def show(self, items: list[dict[str, Any]]) -> int:
        """Print those not shown yet (``items`` oldest first); how many."""
        # a platform older than this tool sends no id: the notice's time and text tell it apart
        fresh = [n for n in items if notice_key(n) not in self.seen]
        for n in fresh:
            at = instant(n["created_at"])
            self.seen[notice_key(n)] = at
            self.newest = at if self.newest is None else max(self.newest, at)
            tender = f"{safe(n['tender'])}\t" if n.get("tender") else ""
            click.echo(f"{beijing(n['created_at'])}\t{tender}{one_line(n['message'])}")
        if self.newest is not None:  # only those still inside the window can come again
            self.seen = {i: at for i, at in self.seen.items() if at >= self.newest - 2 * OVERLAP}
        if len(self.seen) > MAX_SEEN:  # the newest MAX_SEEN: an older one shown again beats memory without end
            kept = sorted(self.seen.items(), key=lambda item: item[1])[-MAX_SEEN:]
            self.seen = dict(kept)
        return len(fresh)


def instant(value: str) -> dt.datetime:
    at = dt.datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def pause(seconds: float) -> None:
    """Between two polls (a name of its own, so a test can stand in for the waiting)."""
    time.sleep(seconds)


def follow(notices: Notices, interval: float, longest: float) -> None:
    """Poll until interrupted: the wait doubles while nothing comes (to ``longest``) and starts
    again at ``interval`` after a notice; a connection lost or a busy platform is waited out the
    same way, said once on stderr."""
    wait = interval
    while True:
        pause(wait)
        try:
            got = notices.show(notices.fetch())
        except (OSError, http.client.HTTPException) as exc:  # ConnectionError and TimeoutError are OSErrors
            click.echo(f"暂时连不上平台，稍后重试 (platform unreachable; retrying): {safe(exc)}", err=True)
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

    with api_errors():
        client = api_client()

        class Waiting(Notices):
            def fetch(self) -> list[dict[str, Any]]:
                try:
                    return super().fetch()
                except ApiError as exc:
                    if exc.status in (502, 503, 504):  # the platform restarting or busy: wait, as for a lost line
                        raise ConnectionError(str(exc)) from None
                    raise

        notices_ = Waiting(client)
        if not notices_.show(notices_.fetch()) and not keep:
            click.echo("没有通知 (no notices)")
        click.echo(BEIJING_FOOTER + ("；等待新通知，Ctrl+C 结束 (waiting; Ctrl+C to stop)" if keep else ""))
        if not keep:
            return
        try:
            follow(notices_, interval, max(interval, max_interval))
        except KeyboardInterrupt:
            click.echo("已停止 (stopped)", err=True)
            sys.exit(0)
