"""``ggzy auctions``: rights-trading lots (产权交易标的) from the command line: list, show, create a
draft from a JSON file, publish (the reserve price typed without echo, never on the command line),
cancel. The same operations as the pages and the API, acting as a named staff member."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

import click

from trading.cli.common import database, domain_errors, settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from trading.accounts.models import User
    from trading.auctions.models import Auction

#: the largest lot file read (a lot's JSON is a few kilobytes)
MAX_FILE = 1 << 20


@click.group(help="产权交易标的：列出、查看、创建、发布、终止 (rights-trading lots)")
def auctions() -> None:
    pass


def staff_member(session: Session, username: str) -> User:
    """The staff account a command acts as (the trail names who set the lot up, as on the pages)."""
    from sqlalchemy import select

    from trading.accounts.models import User
    from trading.accounts.permissions import Permission, has

    user = session.scalar(select(User).where(User.username == username))
    if user is None or not has(user, Permission.AUCTION_MANAGE):
        raise click.ClickException(f"用户 {username} 不存在或没有设立标的的权限")
    return user


def when(value: object) -> str:
    import datetime as dt

    from archive import clock

    return f"{clock.local(value):%Y-%m-%d %H:%M:%S}" if isinstance(value, dt.datetime) else "—"


def lot_lines(session: Session, a: Auction) -> list[str]:
    from trading.accounts.regions import region_name
    from trading.auctions import documents
    from trading.auctions.bidding import procedure_of
    from trading.auctions.rules import amount_text

    proc = procedure_of(session, a)
    lines = [
        f"{a.code}  {a.title}",
        f"  状态：{a.state.label}",
        f"  交易方式：{proc.name}（{proc.method.label}）  所在地：{region_name(a.region)}  出让人：{a.transferor}",
        f"  起始价 {amount_text(a.starting_price)} 元  加价幅度 {amount_text(a.increment)} 元  保证金 {amount_text(a.deposit)} 元",
        f"  底价：{'承诺 SM3 ' + a.reserve_sm3 if a.reserve_sm3 else '未设'}",
        f"  公告发布 {when(a.announced_at)}  报名截止 {when(a.registration_ends_at)}",
        f"  竞价（挂牌）开始 {when(a.bidding_starts_at)}  自由竞价结束（挂牌截止） {when(a.free_ends_at)}",
        f"  限时竞价倒计时 {a.countdown_seconds} 秒  当前价 {amount_text(a.current_price) if a.current_price else '—'}"
        f"（{a.current_seq} 次出价）",
    ]
    if a.state.ended and a.reserve_price is not None:
        lines.append(f"  底价 {amount_text(a.reserve_price)} 元  盐值 {a.reserve_salt}")
    for d in documents.lot_documents(session, a):
        lines.append(f"  文件：{d.name}（{d.size} 字节，SM3 {d.sm3}）")
    return lines


@auctions.command("list", help="列出标的，最新的在前 (list lots)")
@click.option("--state", default="", help="只列该状态：draft、announced、listing、free、countdown、sold、failed …")
def list_lots(state: str) -> None:
    from sqlalchemy import select

    from trading.auctions.models import Auction, AuctionState
    from trading.core.schemas import printable

    if state and state not in {s.value for s in AuctionState}:
        raise click.BadParameter("应为 " + "、".join(s.value for s in AuctionState), param_hint="--state")
    with database(settings()).session() as session:
        q = select(Auction).order_by(Auction.id.desc())
        if state:
            q = q.where(Auction.state == AuctionState(state))
        rows = list(session.scalars(q.limit(500)))
        for a in rows:
            click.echo(printable(f"{a.code}  {a.state.label}  {when(a.bidding_starts_at)}  {a.title}"))
    click.echo(f"共 {len(rows)} 宗")


@auctions.command("show", help="查看一宗标的 (show a lot)")
@click.argument("code")
def show(code: str) -> None:
    from trading.auctions.bidding import get_auction
    from trading.core.schemas import printable

    with database(settings()).session() as session, domain_errors():
        for line in lot_lines(session, get_auction(session, code)):
            click.echo(printable(line))


@auctions.command("create", help="按 JSON 文件创建标的草稿（字段同 POST /api/v1/auctions）(create a draft)")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--as", "username", required=True, help="以该工作人员的名义创建（用户名）(the staff member)")
def create(path: pathlib.Path, username: str) -> None:
    from trading.auctions import setup
    from trading.auctions.schemas import AuctionIn
    from trading.core.schemas import load_json, parse

    with path.open("rb") as f:
        raw = f.read(MAX_FILE + 1)
    if len(raw) > MAX_FILE:
        raise click.BadParameter(f"文件超过 {MAX_FILE} 字节", param_hint="PATH")
    with database(settings()).session() as session, domain_errors(AuctionIn):
        user = staff_member(session, username)
        a = setup.create_draft(session, user, parse(AuctionIn, load_json(raw)))
        code = a.code
    click.echo(f"已创建标的草稿 {code}")


@auctions.command("publish", help="发布标的（核对时间安排，签名公告；底价不回显输入）(publish a lot)")
@click.argument("code")
@click.option("--as", "username", required=True, help="以该工作人员的名义发布（用户名）(the staff member)")
@click.option("--reserve", is_flag=True, help="设底价：随后输入（不回显），只公开其 SM3 承诺 (ask for a reserve price)")
def publish(code: str, username: str, reserve: bool) -> None:
    from trading.auctions import setup
    from trading.core.services import Services

    price = click.prompt("底价（元）", hide_input=True, confirmation_prompt="再次输入底价") if reserve else None
    s = settings()
    with database(s).session() as session, domain_errors():
        a = setup.publish(session, Services(s), staff_member(session, username), code, price)
        line = f"已发布标的 {a.code}：公告已由平台签名" + (f"，底价承诺 SM3 {a.reserve_sm3}" if a.reserve_sm3 else "")
    click.echo(line)


@auctions.command("cancel", help="终止标的（竞价开始前）(cancel a lot before its bidding)")
@click.argument("code")
@click.option("--reason", required=True, help="终止理由（5–500 字）")
@click.option("--as", "username", required=True, help="以该工作人员的名义终止（用户名）(the staff member)")
def cancel(code: str, reason: str, username: str) -> None:
    from trading.auctions import setup
    from trading.auctions.schemas import CancelIn
    from trading.core.schemas import parse
    from trading.core.services import Services

    s = settings()
    with database(s).session() as session, domain_errors(CancelIn):
        data = parse(CancelIn, {"reason": reason})
        setup.cancel(session, Services(s), staff_member(session, username), code, data.reason)
    click.echo(f"标的 {code} 已终止")
