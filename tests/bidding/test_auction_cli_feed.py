"""``ggzy-bid auction``'s own parts, without the platform: amounts refused here before anything is
signed or sent; the room's feed read over Server-Sent Events from a live server that breaks off
mid-stream (resumed at ``Last-Event-ID``, nothing shown twice, nothing missed), falling back to
polling when there is no live server; a hostile feed's words shown escaped; the time left said by
what the clock counts down to, in days, hours and minutes; a raise below the increment refused
before the key is read; and every word in Chinese but codes (the result: test_auction_cli_result)."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import pathlib
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from bidding import auction as lots
from bidding.cli import main as bid
from bidding.cli.auction import auction
from bidding.cli.auction_room import duration
from bidding.client import ApiError
from tests.bidding.test_hostile_text import EVIL, forbidden

CODE = "PM-2026-0007"
SERVER_TIME = "2026-12-06T02:00:00+00:00"


def bid_event(n: int) -> dict[str, Any]:
    return {
        "id": 10 + n,
        "kind": "bid",
        "at": f"2026-12-06T02:00:{n:02d}+00:00",
        "seq": n,
        "bidding_number": str(1000 + n),
        "amount": f"{3000000 + 50000 * n}.00",
        "phase": "countdown",
        "accepted_at": f"2026-12-06T02:00:{n:02d}+00:00",
        "countdown_ends_at": f"2026-12-06T02:05:{n:02d}+00:00",
        "kind_label": "出价",
    }


END = {
    "id": 20,
    "kind": "state",
    "at": "2026-12-06T02:10:00+00:00",
    "from": "countdown",
    "to": "sold",
    "label": "已成交",
    "final_price": "3200000.00",
    "reason": None,
    "winner_number": "1004",
    "countdown_ends_at": "2026-12-06T02:10:00+00:00",
}
FEED = [bid_event(n) for n in range(1, 5)] + [END]


def sse(e: dict[str, Any]) -> bytes:
    return f"id: {e['id']}\nevent: {e['kind']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n".encode()


@contextlib.contextmanager
def platform(
    *, live: bool, feed: list[dict[str, Any]] = FEED, first: int | None = 1, lot: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """A platform's detail (with ``lot`` over it) and events API (whose first answer holds the
    ``first`` events there were when it was asked), and (``live``) a live server whose first stream
    breaks off after two events: what each request asked is recorded in ``seen``."""
    seen: dict[str, Any] = {"last_event_ids": [], "polls": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == f"/api/v1/auctions/{CODE}":
                body = {"code": CODE, "id": 7, "title": "福州市鼓楼区某地块", "state": "countdown"}
                body |= {"state_label": "限时竞价", "server_time": SERVER_TIME, "current_seq": 0}
                return self.json(body | (lot or {}))
            if path == f"/api/v1/auctions/{CODE}/events":
                after = int(query.removeprefix("after="))
                seen["polls"].append(after)
                items = [e for e in feed if e["id"] > after][: first if len(seen["polls"]) == 1 else None]
                state = {"id": 7, "state": "countdown", "last_event_id": feed[-1]["id"]}
                return self.json({"items": items, "more": False, "state": state, "server_time": SERVER_TIME})
            if path == "/live/auctions/7" and live:
                last = self.headers.get("Last-Event-ID")
                opening = not seen["last_event_ids"]
                seen["last_event_ids"].append(last)
                after = int(last or 0)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"retry: 10\n\n: a comment\n\n")
                self.wfile.write(b'event: time\ndata: {"server_time": "%s"}\n\n' % SERVER_TIME.encode())
                rest = [e for e in feed if e["id"] > after]
                # the first stream breaks off after two events (and after a partial third)
                for e in rest[:2] if opening else rest:
                    self.wfile.write(sse(e))
                if opening and len(rest) > 2:
                    self.wfile.write(sse(rest[2])[:20])
                self.close_connection = True
                return None
            return self.json({"error": {"code": "not_found", "message": "无"}}, 404)

        def json(self, body: Any, status: int = 200) -> None:
            raw = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "seen": seen}
    finally:
        server.shutdown()
        server.server_close()


def tool(url: str, **env: str) -> Any:
    runner = CliRunner(
        env={"GGZY_SERVER": url, "GGZY_TOKEN": "t", "GGZY_NO_PROGRESS": "1", "GGZY_BID_CONFIG": "/nonexistent"} | env
    )

    def run(*args: str, code: int = 0) -> str:
        r = runner.invoke(bid, list(args))
        assert r.exit_code == code, (args, r.output, repr(r.exception))
        assert "Traceback" not in r.output and "+00:00" not in r.output
        return r.output

    return run


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("1234.5", "1234.50"),
        (" 3050000 ", "3050000.00"),
        ("0.01", "0.01"),
        ("1e3", "1000.00"),
    ],
)
def test_amounts_are_written_with_two_places(text: str, said: str) -> None:
    assert lots.amount_text(text) == said


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1,234.50", "不是数字"),
        ("一万", "不是数字"),
        ("", "不是数字"),
        ("NaN", "正数"),
        ("-5", "正数"),
        ("0", "正数"),
        ("12.345", "两位小数"),
        ("1e30", "最大金额"),
    ],
)
def test_bad_amounts_are_refused_in_chinese(text: str, why: str) -> None:
    with pytest.raises(lots.BadAmount, match=why):
        lots.amount_text(text)


def test_the_feed_resumes_at_last_event_id_when_the_stream_breaks_off() -> None:
    with platform(live=True) as p:
        got: list[lots.FeedEvent] = []
        waits: list[float] = []
        f = lots.Follower(lots_client(p["url"]), CODE, got.append, live=p["url"], wait=waits.append)
        f.run()
        assert [e.id for e in got if e.kind != "time"] == [11, 12, 13, 14, 20]  # each once, in order
        # caught up from the API (one event then), streamed after it, resumed after the last one shown
        assert p["seen"]["polls"] == [0] and p["seen"]["last_event_ids"] == ["11", "13"]
        assert f.ended and not f.polling and f.room_id == 7
        assert waits == [0.0]  # a stream that ended is opened again at once (a refused one after its retry:)
        assert got[0].kind == "time" and got[0].data["server_time"] == SERVER_TIME


def test_without_a_live_server_the_feed_is_polled_after_the_last_event() -> None:
    with platform(live=False) as p:
        got: list[lots.FeedEvent] = []
        f = lots.Follower(lots_client(p["url"]), CODE, got.append, after=12, live=p["url"], wait=lambda s: None)
        f.run()
        assert p["seen"]["polls"] == [12, 13] and [e.id for e in got if e.kind != "time"] == [13, 14, 20]


def test_when_the_live_server_refuses_the_feed_is_polled() -> None:
    with platform(live=False) as p:
        got: list[lots.FeedEvent] = []
        waits: list[float] = []
        f = lots.Follower(lots_client(p["url"]), CODE, got.append, live=p["url"] + "/nothing", wait=waits.append)
        f.run()
        assert f.polling and [e.id for e in got if e.kind != "time"] == [11, 12, 13, 14, 20]
        assert p["seen"]["polls"] == [0, 11] and waits == []  # the stream refused: polled at once


def test_follow_prints_each_bid_by_number_amount_time_and_countdown() -> None:
    with platform(live=True) as p:
        out = tool(p["url"])("auction", "follow", CODE, "--live", p["url"])
    lines = [line for line in out.splitlines() if "次出价" in line]
    assert len(lines) == 4
    assert lines[0].split("\t")[:4] == ["第 1 次出价", "号牌 1001", "3,050,000.00 元", "2026-12-06 10:00:01"]
    assert "倒计时至 2026-12-06 10:05:01（剩 5 分 1 秒）" in lines[0]  # by the server's clock, not this machine's
    assert "竞价结束：成交，成交价 3,200,000.00 元，竞得人号牌 1004" in out and "竞价已结束" in out


def test_follow_polls_when_asked_and_resumes_after_a_given_event() -> None:
    with platform(live=True, first=None) as p:
        out = tool(p["url"])("auction", "follow", CODE, "--poll", "--after", "13")
        assert p["seen"]["last_event_ids"] == [] and p["seen"]["polls"] == [13]
    assert "第 4 次出价" in out and "第 3 次出价" not in out


def test_a_hostile_feed_is_shown_escaped() -> None:
    evil = [{**bid_event(1), "bidding_number": EVIL, "amount": EVIL}, {**END, "winner_number": EVIL, "label": EVIL}]
    with platform(live=True, feed=evil) as p:
        out = tool(p["url"])("auction", "follow", CODE, "--live", p["url"])
    assert not forbidden(out) and "\\x1b]0;pwned" in out


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (dt.timedelta(hours=119, minutes=24, seconds=56), "4 天 23 小时 24 分"),
        (dt.timedelta(days=1), "1 天 0 小时 0 分"),
        (dt.timedelta(hours=3, minutes=5, seconds=7), "3 小时 5 分"),
        (dt.timedelta(seconds=3599.5), "1 小时 0 分"),
        (dt.timedelta(minutes=5, seconds=1), "5 分 1 秒"),
        (dt.timedelta(seconds=59), "59 秒"),
        (dt.timedelta(seconds=0.2), "1 秒"),  # rounded up: 0 秒 only when it is over
        (dt.timedelta(), "0 秒"),
        (None, "—"),
    ],
)
def test_time_left_reads_in_days_hours_minutes_and_seconds(left: dt.timedelta | None, said: str) -> None:
    assert duration(left) == said


@pytest.mark.parametrize(
    ("lot", "said"),
    [
        (
            {"state": "free", "state_label": "自由竞价", "free_ends_at": "2026-12-06T02:29:50+00:00"},
            "：自由竞价，距自由竞价结束 29 分 50 秒（至 2026-12-06 10:29:50）",
        ),
        (  # a listing names its end among its periods only
            {"state": "listing", "state_label": "挂牌中", "periods": {"free_ends_at": "2026-12-11T01:24:56+00:00"}},
            "：挂牌中，距挂牌截止 4 天 23 小时 24 分（至 2026-12-11 09:24:56）",
        ),
        (
            {"state": "announced", "state_label": "公告中", "bidding_starts_at": "2026-12-06T03:00:00+00:00"},
            "：公告中，距竞价开始 1 小时 0 分（至 2026-12-06 11:00:00）",
        ),
        (
            {"state": "countdown", "countdown_ends_at": "2026-12-06T02:04:59+00:00"},
            "：限时竞价，限时竞价剩余 4 分 59 秒（至 2026-12-06 10:04:59）",
        ),
        ({"state": "paused", "state_label": "暂停", "paused": True}, "：暂停，剩余时间保留，恢复后顺延"),
    ],
)
def test_follow_says_what_the_clock_counts_down_to(lot: dict[str, Any], said: str) -> None:
    with platform(live=False, lot=lot) as p:
        out = tool(p["url"])("auction", "follow", CODE, "--poll")
    header = out.splitlines()[0]
    assert header == f"{CODE}  福州市鼓楼区某地块{said}", header
    assert out.splitlines()[1] == "以下时间均为北京时间，剩余时间按服务器时间计算"
    assert not english(out)


def test_show_says_the_time_left_by_the_servers_clock() -> None:
    lot = {"state": "listing", "state_label": "挂牌中", "free_ends_at": "2026-12-11T01:24:56+00:00"}
    with platform(live=False, lot=lot) as p:
        out = tool(p["url"])("auction", "show", CODE)
    assert "距挂牌截止 4 天 23 小时 24 分（至 2026-12-11 09:24:56）\n" in out
    assert "服务器时间：2026-12-06 10:00:00（以上时间均为北京时间）" in out and not english(out)


#: the Latin a Chinese user may meet in ``ggzy-bid auction``'s words: codes, field names, commands
CODES = {"SM3", "SM2", "bids_sm3", "ggzy", "bid", "auction", "follow", "after", "raise", "by", "minimum", "HTTP"}
CODES |= {"amount", "openssl", "archive", "verify", "keys", "poll", "live", "interval", "ca", "out", "reference"}
CODES |= {"contact", "name", "phone"}


def english(text: str) -> set[str]:
    """Latin words in ``text`` that are not codes (the platform's codes in ``[…]`` left aside)."""
    words = re.findall(r"[A-Za-z][A-Za-z_0-9]+", re.sub(r"\[[a-z_]+\]|PM-\d{4}-\d{4}|[0-9a-f]{16,}", "", text))
    return {w for w in words if w not in CODES}


def test_the_commands_help_is_chinese() -> None:
    for name, command in auction.commands.items():
        texts = [command.help or ""] + [getattr(o, "help", None) or "" for o in command.params]
        assert not english(" ".join(texts)), name
    assert not english(auction.help or "")


def test_a_raise_below_the_increment_is_refused_before_the_key_is_read(tmp_path: pathlib.Path) -> None:
    lot = {"state": "free", "current_seq": 2, "current_price": "1010000.00", "increment": "10000.00"}
    lot |= {"starting_price": "1000000.00", "minimum_next": "1020000.00"}
    with platform(live=False, lot=lot) as p:
        out = tool(p["url"])("auction", "bid", CODE, "--raise-by", "9999.99", "--keys", str(tmp_path), code=2)
        assert "加价 9,999.99 元低于本标的当前的加价幅度 10,000.00 元" in out and "--raise-by 10000.00" in out
        # the increment itself is enough: on to the key (there is none here)
        run = tool(p["url"], GGZY_KEY_PASSWORD="x")
        out = run("auction", "bid", CODE, "--raise-by", "10000", "--keys", str(tmp_path), code=2)
        assert "缺少证书" in out
    # before the first bid any raise on the starting price is a bid the platform accepts
    first = lot | {"current_seq": 0, "current_price": None, "minimum_next": "1000000.00"}
    assert lots.planned_amount(first, raise_by="0.01") == "1000000.01"
    with pytest.raises(lots.BadAmount, match="现在不接受出价（已成交）"):
        lots.planned_amount(lot | {"minimum_next": None, "state_label": "已成交"}, minimum=True)
    with pytest.raises(lots.BadAmount, match="平台给出的加价幅度不是金额"):
        lots.planned_amount(lot | {"increment": "NaN"}, raise_by="1")


def test_a_broken_poll_is_said_in_chinese() -> None:
    assert lots.trouble_words(ApiError(503, "busy", "繁忙")) == "平台暂时无法应答（HTTP 503）"
    assert lots.trouble_words(ConnectionRefusedError()) == "连接被拒绝（平台未运行或地址不对）"
    assert lots.trouble_words(TimeoutError()) == "连接超时"
    assert lots.trouble_words(ConnectionResetError()) == "连接中断"


def lots_client(url: str) -> Any:
    from bidding.client import Client

    return Client(url, "t")
