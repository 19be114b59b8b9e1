"""``ggzy-bid auction follow``: the bidding room (竞价室) followed from the terminal, every accepted bid
by number, amount, time and countdown, the phases, pauses and the end; and the words the auction
commands share for durations, prices and outcomes."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import sys
from typing import Any

import click

from bidding import auction as lots
from bidding.cli.common import amount, api_client, api_errors, beijing, interactive, one_line, safe
from bidding.client import ApiError

#: why a lot failed (流拍), as the result says
FAILED_REASONS = {"no_bid": "无人出价", "below_reserve": "最高出价低于底价"}


def duration(left: dt.timedelta | None) -> str:
    """Time left as a person reads it: ``4 天 23 小时 24 分`` (days from one day on, no seconds from
    one hour on), ``12 分 5 秒``, ``8 秒``; seconds are rounded up, so 0 秒 only when it is over."""
    if left is None:
        return "—"
    seconds = max(0, math.ceil(left.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时 {minutes} 分"
    if hours:
        return f"{hours} 小时 {minutes} 分"
    return f"{minutes} 分 {seconds} 秒" if minutes else f"{seconds} 秒"


#: what the clock counts down to in each state (as the room's pages say it), and where it ends
CLOCKS = {
    "announced": ("距竞价开始", "bidding_starts_at"),
    "listing": ("距挂牌截止", "free_ends_at"),
    "free": ("距自由竞价结束", "free_ends_at"),
    "countdown": ("限时竞价剩余", "countdown_ends_at"),
}


def clock_of(a: dict[str, Any]) -> tuple[str | None, str]:
    """The instant the lot's clock counts down to in its state, and what it is (``CLOCKS``): from
    the room's own ``ends_at`` and ``ends_label`` when given, else from the lot's periods."""
    if a.get("ends_at") and a.get("ends_label"):
        return str(a["ends_at"]), safe(a["ends_label"])
    label, key = CLOCKS.get(str(a.get("state")), ("", ""))
    periods: dict[str, Any] = a["periods"] if isinstance(a.get("periods"), dict) else {}
    ends = (a.get(key) or periods.get(key)) if key else None
    return (str(ends), label) if ends else (None, "")


def time_left(a: dict[str, Any], clock: lots.ServerClock) -> str:
    """``距自由竞价结束 29 分 50 秒（至 2026-12-06 10:30:00）`` by the server's clock; while paused,
    that the time left is kept; nothing when the state has no clock (ended)."""
    if a.get("paused") or a.get("state") == "paused":
        return "剩余时间保留，恢复后顺延"
    ends, label = clock_of(a)
    if ends is None:
        return ""
    return f"{label} {duration(lots.remaining(ends, clock.now()))}（至 {beijing(ends)}）"


def price(value: object) -> str:
    return f"{amount(value)} 元" if value not in (None, "") else "—"


def _countdown(d: dict[str, Any], clock: lots.ServerClock, sep: str = "，") -> str:
    left = lots.remaining(d.get("countdown_ends_at"), clock.now())
    return f"{sep}倒计时至 {beijing(d['countdown_ends_at'])}（剩 {duration(left)}）" if left is not None else ""


def _state_line(d: dict[str, Any], clock: lots.ServerClock) -> str:
    to, frm = d.get("to"), d.get("from")
    if to == "sold":
        final = price(d.get("final_price"))
        return f"竞价结束：成交，成交价 {final}，竞得人号牌 {safe(d.get('winner_number'))}（成交确认书由平台签名）"
    if to == "failed":
        why = FAILED_REASONS.get(str(d.get("reason")), safe(d.get("reason") or "—"))
        return f"竞价结束：流拍（{why}）"
    if to == "paused":
        return f"竞价暂停：{one_line(d.get('reason'))}（剩余时间保留，恢复后顺延）"
    if frm == "paused":
        return f"恢复竞价：{safe(d.get('label') or to)}{_countdown(d, clock)}"
    return f"进入“{safe(d.get('label') or to)}”{_countdown(d, clock) if to == 'countdown' else ''}"


def describe(e: lots.FeedEvent, clock: lots.ServerClock) -> str | None:
    """One line for a feed event (none for the server's time): bids by number, never by name."""
    d = e.data
    if e.kind == "time":
        return None
    at = beijing(d.get("accepted_at") or d.get("at"))
    if e.kind == "bid":
        number, bid = safe(d.get("bidding_number")), price(d.get("amount"))
        countdown = _countdown(d, clock, "\t")
        return f"第 {safe(d.get('seq'))} 次出价\t号牌 {number}\t{bid}\t{at}{countdown}"
    if e.kind == "state":
        return f"{at}\t{_state_line(d, clock)}"
    if e.kind == "increment":
        why = f"（{one_line(d['reason'])}）" if d.get("reason") else ""
        return f"{at}\t加价幅度调整为 {price(d.get('to'))}，自第 {safe(d.get('after_seq'))} 次出价之后适用{why}"
    if e.kind == "timed":
        return f"{at}\t已有 {safe(d.get('requests'))} 家竞买人申请挂牌期满后进入限时竞价"
    return f"{at}\t{safe(d.get('kind_label') or e.kind)}"


class _ClockLine:
    """What rich redraws at a terminal below the feed: the state, the server's time, and the time
    left on the clock of this state (to the listing's end, to free bidding's end, of the countdown)."""

    def __init__(self, clock: lots.ServerClock) -> None:
        self.clock = clock
        self.state, self.ends_label, self.paused = "", "", False
        self.ends_at: str | None = None

    def read(self, a: dict[str, Any]) -> None:
        self.clock.hear(a.get("server_time"))
        self.state = safe(a.get("state_label") or a.get("state"))
        self.paused = bool(a.get("paused")) or a.get("state") == "paused"
        self.ends_at, self.ends_label = clock_of(a)

    def bid(self, countdown_ends_at: str) -> None:
        """A bid in the countdown restarts it."""
        self.ends_at, self.ends_label = countdown_ends_at, CLOCKS["countdown"][0]

    def __rich__(self) -> Any:
        from rich.text import Text

        now = self.clock.now()
        left = lots.remaining(self.ends_at, now)
        if self.paused:
            clock = "  剩余时间保留，恢复后顺延"
        else:
            clock = f"  {self.ends_label} {duration(left)}" if left is not None else ""
        return Text(f"{self.state}  服务器时间 {beijing(now.isoformat())}{clock}")


@click.command(
    "follow",
    help="跟随竞价：逐条显示出价（号牌、金额、时间）和剩余时间，直到竞价结束",
)
@click.argument("code")
@click.option("--live", default=None, help="实时服务的地址（:端口 或网址），默认取平台公布的地址")
@click.option("--poll", is_flag=True, help="不用实时服务，轮询接口")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=1.0, show_default=True, help="轮询间隔秒数")
@click.option("--after", type=click.IntRange(0), default=0, help="从该事件编号之后开始（接着上次看）")
def follow(code: str, live: str | None, poll: bool, interval: float, after: int) -> None:
    with api_errors():
        client = api_client()
        a = lots.detail(client, code)
        clock = lots.ServerClock()
        line = _ClockLine(clock)
        line.read(a)
        base = None if poll else _live_base(client, a, live)
        display = _display() if interactive() else None

        def on_event(e: lots.FeedEvent) -> None:
            clock.hear(e.data.get("server_time") if e.kind == "time" else None)
            if e.kind == "bid" and e.data.get("countdown_ends_at"):
                line.bid(str(e.data["countdown_ends_at"]))
            elif e.kind == "state" and display is not None:
                with contextlib.suppress(ApiError, OSError):  # the clock line only; the feed goes on
                    line.read(lots.detail(client, code))
            text = describe(e, clock)
            if text is None:
                return
            if display is not None:
                display.console.print(text, markup=False, highlight=False)
            else:
                click.echo(text)

        follower = lots.Follower(
            client,
            code,
            on_event,
            after=after,
            interval=interval,
            live=base,
            trouble=lambda m: click.echo(safe(m), err=True),
        )
        left = time_left(a, clock)
        click.echo(f"{safe(code)}  {safe(a.get('title'))}：{line.state}{'，' + left if left else ''}")
        click.echo("以下时间均为北京时间，剩余时间按服务器时间计算")
        try:
            if display is not None:
                display.update(line)
                with display:
                    follower.run()
            else:
                follower.run()
        except KeyboardInterrupt:
            click.echo(f"已停止；接着看：ggzy-bid auction follow {safe(code)} --after {follower.after}", err=True)
            sys.exit(0)
    click.echo("竞价已结束")


def _display() -> Any:
    from rich.console import Console
    from rich.live import Live

    return Live(console=Console(), refresh_per_second=4, transient=True)


def _live_base(client: Any, a: dict[str, Any], live: str | None) -> str | None:
    """The live server's address: ``--live``, or what the platform names (``live``, as ``LIVE_URL``:
    ``:PORT`` on the platform's host, or a URL); none: poll the API."""
    named = a.get("live")
    base = live or (named.get("base") if isinstance(named, dict) else named)
    if not isinstance(base, str) or not base:
        return None
    return lots.live_url(str(getattr(client, "server", "http://127.0.0.1")), base)
