"""``ggzy demo``: the instance made and the story played (each under its clock); what it tells the
newcomer (every account with its organisation and 统一社会信用代码, the key files, the platform's
certificates, the sealed bids); and the reference issuer it runs beside the server, so that a
bidder's guarantee application is answered while the demo runs."""

from __future__ import annotations

import pathlib
import sys
import unicodedata
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from trading.accounts.models import User
from trading.app import create_app
from trading.core.config import Settings
from trading.core.db import Database
from trading.core.platform_keys import load_platform_keys
from trading.demo import seed
from trading.demo.actors import KEY_PASSWORD
from trading.demo.script import history_start, run

BIDDERS = ("bidder1", "bidder2", "bidder3")
ISSUER_INTERVAL_SECONDS = 2  # a newcomer who applies on /guarantees sees the answer on reload


def accounts_file(s: Settings) -> pathlib.Path:
    return s.instance / "demo-accounts.txt"


def keys_folder(s: Settings) -> pathlib.Path:
    return s.instance / "demo-keys"


def bids_folder(s: Settings) -> pathlib.Path:
    return s.instance / "demo-bids"


def prepare(s: Settings, init: Callable[[], None]) -> list[str]:
    """Set the demo up (once: a second run plays nothing and makes no account) and return what to
    print. The history is played in the past, so the instance, its keys and the accounts are made
    at its start; the live tenders are played at the real clock (``trading.demo.script``)."""
    start = clock.now()
    with clock.frozen(history_start(start)):
        init()
        with Database.of(s).session() as session:
            accounts = seed(session, accounts_file(s))
    app = create_app(s)
    # no app context around the story: each of its requests has its own, so its database session
    # ends with it (in a shared one every request would share one session and the write lock a
    # read left open, which the scheduler's sweeps in the history must take)
    with Database.of(s).session() as session:
        story = run(app, session, {u: p for u, p, _ in accounts}, keys_folder(s), start=start)
        # the platform's signing certificate, pinned by the demo's issuer (and usable for receipts)
        keys_folder(s).mkdir(parents=True, exist_ok=True)
        (keys_folder(s) / "platform.pem").write_bytes(load_platform_keys(s).sign_cert.to_pem())
        return summary(session, s, accounts, story)


def shown(path: pathlib.Path) -> str:
    """A path as the newcomer types it: relative to where they ran the demo when it is below it."""
    try:
        return str(path.relative_to(pathlib.Path.cwd()))
    except ValueError:
        return str(path)


def padded(text: str, cells: int) -> str:
    """``text`` padded to ``cells`` terminal columns (a Chinese character takes two)."""
    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, cells - width)


def summary(session: Session, s: Settings, accounts: list[tuple[str, str, str]], story: list[str]) -> list[str]:
    users = {u.username: u for u in session.scalars(select(User))}
    lines = [
        f"\n演示账号 (demo accounts)：密码随机生成，另存于 {shown(accounts_file(s))}",
        "  " + padded("用户名", 12) + padded("密码", 16) + padded("角色", 18) + "机构（统一社会信用代码）",
    ]
    for username, password, role in accounts:
        org = users[username].organisation if username in users else None
        where = f"{org.name}（{org.credit_code}）" if org else "—"
        lines.append("  " + padded(username, 12) + padded(password, 16) + padded(role, 18) + where)
    lines += [f"\n· {line}" for line in story]
    keys, bids = keys_folder(s), bids_folder(s)
    lines += [
        f"\n投标工具 ggzy-bid 用的文件（私钥口令 {KEY_PASSWORD.decode()}，也可设环境变量 GGZY_KEY_PASSWORD）：",
        f"  平台根证书（--ca；回执核验 --cert）：{shown(keys / 'root.pem')}",
        f"  平台签名证书（回执核验 --cert 也可用它）：{shown(keys / 'platform.pem')}",
    ]
    for username in BIDDERS:
        org = users[username].organisation if username in users else None
        if org is None or not (keys / username).is_dir():
            continue
        lines += [
            f"  {username}　{org.name}　--bidder {org.credit_code}",
            f"    密钥文件夹（--keys）：{shown(keys / username)}（sign.key、enc.key 及其证书）",
        ]
        # by tender, lot 1 (no suffix) before "-lot2"
        sealed = sorted(
            bids.glob(f"{username}-*.sealed"),
            key=lambda p: (p.name.removesuffix(".sealed").split("-lot")[0], "-lot" in p.name),
        )
        for n, path in enumerate(sealed):
            lead = "    加密投标文件：" if n == 0 else "                  "
            lines.append(f"{lead}{shown(path)}")
        if sealed:
            lines.append("                  （每个文件旁有平台回执 .receipt.json）")
    others = sorted(p.name for p in keys.iterdir() if p.is_dir() and p.name not in BIDDERS) if keys.is_dir() else []
    if others:
        lines.append(f"  其他账号的密钥：{shown(keys)}/ 下的 {'、'.join(others)}")
    return lines


def serving(host: str, port: int) -> list[str]:
    """What the demo says once it serves."""
    return [
        "\n参考保函出具机构随演示一同运行：投标人在“电子保函”页（/guarantees）提交的申请，几秒内即被出具。",
        "参考数据交换接收端随演示一同运行：平台把已签名检查点覆盖的全国数据规范记录推送给它，它逐条核验证明后接收；"
        "推送状态见“数据交换”页（/exchange，staff）。",
        f"打开 http://{host}:{port}/ 用以上账号登录 (open the URL and log in)；按 Ctrl+C 停止演示。",
    ]


def scheduler_command() -> list[str]:
    """The demo's scheduler process: ``ggzy scheduler`` without APScheduler's English warnings
    (``trading.demo.scheduler``), run beside the server in place of the one ``ggzy serve`` starts."""
    return [sys.executable, "-m", "trading.demo.scheduler"]


def issuer_command(s: Settings, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The reference issuer as the demo runs it beside the server: the demo issuer's keys (their
    password given in its environment), the platform's signing certificate pinned, polling often,
    telling in Chinese what it decided."""
    local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # where it listens
    server = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
    argv = [
        sys.executable,
        "-m",
        "infra.reference_issuer.issuer",
        "--server",
        server,
        "--username",
        "issuer",
        "--keys",
        str(keys_folder(s) / "issuer"),
        "--platform-cert",
        str(keys_folder(s) / "platform.pem"),
        "--interval",
        str(ISSUER_INTERVAL_SECONDS),
        "--report",
        "text",
    ]
    return argv, {"GGZY_KEY_PASSWORD": KEY_PASSWORD.decode()}


#: the reference receiver of the national data-exchange records listens beside the demo's server
RECEIVER_PORT_OFFSET = 7


def receiver_url(host: str, port: int) -> str:
    """Where the demo's scheduler pushes the national records (``EXCHANGE_PUSH_URL``)."""
    local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    where = f"[{local}]" if ":" in local else local
    return f"http://{where}:{port + RECEIVER_PORT_OFFSET}/records"


def receiver_command(s: Settings, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The reference receiver as the demo runs it: trusting the platform's signing certificate
    (pinned, as the reference issuer does), keeping what it accepts in the instance folder, telling
    in Chinese each record it verified and accepted. The environment it returns is the one the
    demo's scheduler needs to push to it (``EXCHANGE_PUSH_URL``)."""
    local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    argv = [
        sys.executable,
        "-m",
        "infra.reference_receiver.receiver",
        "--platform-cert",
        str(keys_folder(s) / "platform.pem"),
        "--db",
        str(s.instance / "reference-receiver.db"),
        "--host",
        local,
        "--port",
        str(port + RECEIVER_PORT_OFFSET),
        "--platform-code",
        s.platform_code,
        "--report",
        "text",
    ]
    return argv, {"EXCHANGE_PUSH_URL": receiver_url(host, port)}
