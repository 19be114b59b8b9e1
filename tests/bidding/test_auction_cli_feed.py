"""``ggzy-bid auction``'s own parts, without the platform: amounts refused here before anything is
signed or sent; the room's feed read over Server-Sent Events from a live server that breaks off
mid-stream (resumed at ``Last-Event-ID``, nothing shown twice, nothing missed), falling back to
polling when there is no live server; a hostile feed's words shown escaped; and a lot's signed
result checked as an outsider would, each part that does not hold refused by its name."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from bidding import auction as lots
from bidding.auction_result import ResultProblem, bid_rows, check_result
from bidding.cli import main as bid
from signing.canonical import canonical_json
from signing.certs import CertificateAuthority, TrustStore, Usage
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import reserve_commitment, sign_statement
from tests.bidding.hostile_server import as_json, serving
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
def platform(*, live: bool, feed: list[dict[str, Any]] = FEED, first: int | None = 1) -> Iterator[dict[str, Any]]:
    """A platform's detail and events API (whose first answer holds the ``first`` events there were
    when it was asked), and (``live``) a live server whose first stream breaks off after two
    events: what each request asked is recorded in ``seen``."""
    seen: dict[str, Any] = {"last_event_ids": [], "polls": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == f"/api/v1/auctions/{CODE}":
                body = {"code": CODE, "id": 7, "title": "福州市鼓楼区某地块", "state": "countdown"}
                body |= {"state_label": "限时竞价", "server_time": SERVER_TIME, "current_seq": 0}
                return self.json(body)
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


def tool(url: str) -> Any:
    runner = CliRunner(
        env={"GGZY_SERVER": url, "GGZY_TOKEN": "t", "GGZY_NO_PROGRESS": "1", "GGZY_BID_CONFIG": "/nonexistent"}
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
    assert "倒计时至 2026-12-06 10:05:01（剩 5:01）" in lines[0]  # by the server's clock, not this machine's
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


def lots_client(url: str) -> Any:
    from bidding.client import Client

    return Client(url, "t")


# --- the result, checked by an outsider ----------------------------------------------------------


def signed_result(**change: Any) -> dict[str, Any]:
    """A platform (a CA of the test's own and its signing certificate) and a result it signed for
    three bids and a reserve of 1,015,000.00, with ``change`` made to the body before signing."""
    now = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)
    ca = CertificateAuthority.create("测试平台根证书", now=now - dt.timedelta(days=1))
    key = PrivateKey.generate()
    cert = ca.issue(key.public_key, common_name="测试平台", usage=Usage.SIGN, now=now - dt.timedelta(days=1))
    bids = [
        {"seq": i + 1, "bidding_number": n, "amount": a, "seen_seq": i, "accepted_at": f"2026-12-06T01:0{i}:00+00:00"}
        for i, (n, a) in enumerate([("1001", "1000000.00"), ("1002", "1010000.00"), ("1001", "1030000.00")])
    ]
    salt = "9f" * 16
    published = reserve_commitment("1015000.00", salt)
    body: dict[str, Any] = {
        "format": "ggzy-auction-result/1",
        "auction": CODE,
        "title": "福州市鼓楼区某地块",
        "outcome": "sold",
        "reason": None,
        "final_price": "1030000.00",
        "winner": {"bidding_number": "1001", "name": "榕城置业有限公司", "credit_code": "91350100070000005F"},
        "bids": 3,
        "bids_sm3": sm3_hex(canonical_json(bid_rows(CODE, bids))),
        "reserve": {"sm3": published, "price": "1015000.00", "salt": salt},
    }
    body |= change
    statement = sign_statement("auction_result", body, key=key, cert=cert, now=now)
    return {
        "trust": TrustStore((ca.cert,)),
        "routes": {
            f"/api/v1/auctions/{CODE}/result": as_json({"statement": statement.to_json().decode()}),
            f"/api/v1/auctions/{CODE}": as_json({"code": CODE, "reserve_sm3": published}),
            f"/api/v1/auctions/{CODE}/bids": as_json({"items": bids, "more": False}),
        },
    }


def test_a_result_that_holds_up_is_checked_whole() -> None:
    r = signed_result()
    with serving(r["routes"]) as url:
        checked = check_result(lots_client(url), CODE, r["trust"])
    assert checked.bids_checked and checked.body["final_price"] == "1030000.00" and len(checked.bids) == 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"auction": "PM-2026-0008"}, "result_other_lot"),
        ({"reserve": {"sm3": "0" * 64, "price": "1015000.00", "salt": "9f" * 16}}, "reserve_mismatch"),
        (
            {"reserve": {"sm3": reserve_commitment("1015000.00", "9f" * 16), "price": "1015000.00", "salt": "0" * 32}},
            "reserve_mismatch",
        ),
        ({"reserve": None}, "reserve_missing"),
        ({"bids": 2}, "bids_mismatch"),
        ({"bids_sm3": "0" * 64}, "bids_sm3_mismatch"),
        ({"winner": {"bidding_number": "1002", "name": "别家", "credit_code": "—"}}, "outcome_mismatch"),
        ({"final_price": "1010000.00"}, "outcome_mismatch"),
        ({"outcome": "failed", "final_price": None, "winner": None}, "outcome_mismatch"),
    ],
)
def test_a_result_that_does_not_hold_up_is_refused_by_name(change: dict[str, Any], code: str) -> None:
    r = signed_result(**change)
    with serving(r["routes"]) as url, pytest.raises(ResultProblem) as refused:
        check_result(lots_client(url), CODE, r["trust"])
    assert refused.value.code == code
