"""The buyer's side of rights trading (竞买) as ``ggzy-bid auction`` runs it: the lots, one's own
registration and deposit, a bid signed on this machine with the buyer's own key, and the room's
public feed followed over Server-Sent Events from the live server (resuming at ``Last-Event-ID``)
or, without one, by polling the API.

A bid is the statement ``signing.statements.auction_bid_statement(code, bidding_number, amount,
seen_seq)``: the lot, the buyer's bidding number (竞买号牌, never its name), the amount as a
decimal string with two places, and the last accepted bid the buyer had seen. The platform orders
what it accepts (``seq`` 1, 2, 3 …) and refuses the rest by name; nothing here decides a price.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

from bidding.client import ApiError, Requester
from signing.sm2 import PrivateKey
from signing.statements import auction_bid_statement

CENT = Decimal("0.01")
#: the largest amount the platform stores (Numeric(18, 2))
MAX_AMOUNT = Decimal("9999999999999999.99")
#: lot states after which nothing more happens in the room
ENDED = frozenset({"sold", "failed", "cancelled"})
#: one line of the live server's stream, at most (a hostile server's endless line is cut off here)
MAX_LINE = 64 * 1024
#: the live server sends the time every 15 s: a stream silent for this long is dead, open another
STREAM_TIMEOUT = 45.0
#: the most the feed's ``retry:`` may make us wait before reconnecting
MAX_RETRY = 10.0


class BadAmount(ValueError):
    """An amount ``ggzy-bid`` will not sign: said in Chinese, before anything is sent."""


def amount_text(text: str) -> str:
    """The amount as signed and sent: a positive decimal with at most two places, written with two
    (``1234.5`` → ``1234.50``), as the platform writes it back (``rules.amount_text``)."""
    raw = text.strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadAmount(f"金额“{raw}”不是数字，应写成 1234.50 这样的元（不带逗号和单位）") from None
    if not value.is_finite() or value <= 0:
        raise BadAmount(f"金额“{raw}”应为正数（元，两位小数）")
    if value > MAX_AMOUNT:  # first: a huge value cannot even be written with two places
        raise BadAmount(f"金额“{raw}”超过平台能记录的最大金额 {MAX_AMOUNT:,}")
    if value != value.quantize(CENT, ROUND_DOWN):
        raise BadAmount(f"金额“{raw}”至多两位小数（元到分）")
    return format(value.quantize(CENT), "f")


def lot_path(code: str) -> str:
    return f"/api/v1/auctions/{quote(code, safe='')}"


def lots(client: Requester) -> list[dict[str, Any]]:
    """The lots the platform shows the public (announced, bidding, ended)."""
    return [dict(a) for a in client.request("GET", "/api/v1/auctions")["items"]]


def detail(client: Requester, code: str) -> dict[str, Any]:
    """One lot: its state, prices, the minimum next bid, the countdown and the server's time."""
    return dict(client.request("GET", lot_path(code)))


def register(client: Requester, code: str, contact_name: str, contact_phone: str) -> dict[str, Any]:
    """Apply to bid (竞买申请); staff review it, and draw the bidding number on approval."""
    body = {"contact_name": contact_name, "contact_phone": contact_phone}
    return dict(client.request("POST", f"{lot_path(code)}/registrations", body))


def own(client: Requester, code: str) -> dict[str, Any]:
    """One's own registration: its state, bidding number, deposit state, and whether it may bid."""
    return dict(client.request("GET", f"{lot_path(code)}/registration"))


def report_deposit(client: Requester, code: str, reference: str) -> dict[str, Any]:
    """Tell the platform the deposit was transferred (the bank's reference); staff confirm it."""
    return dict(client.request("POST", f"{lot_path(code)}/registration/deposit", {"reference": reference}))


def withdraw(client: Requester, code: str) -> dict[str, Any]:
    return dict(client.request("POST", f"{lot_path(code)}/registration/withdraw", {}))


def request_timed(client: Requester, code: str) -> dict[str, Any]:
    """挂牌: ask to go on to timed bidding (限时竞价) when the listing period ends."""
    return dict(client.request("POST", f"{lot_path(code)}/timed", {}))


def yuan(value: Decimal) -> str:
    """An amount in a sentence, as the pages write it: ``1,234,567.50``."""
    return f"{value:,.2f}"


def lot_amount(lot: dict[str, Any], key: str, what: str) -> Decimal:
    """An amount the platform gave for the lot (``increment``, ``current_price`` …); what is not
    one is refused by name (a broken or hostile answer is never signed on)."""
    try:
        return Decimal(amount_text(str(lot.get(key))))
    except BadAmount:
        raise BadAmount(f"平台给出的{what}不是金额，不能据此出价") from None


def planned_amount(lot: dict[str, Any], *, minimum: bool = False, raise_by: str | None = None) -> str:
    """What ``--minimum`` or ``--raise-by`` means on the lot as last read: the minimum next bid the
    platform names, or the current price (the starting price before the first bid) plus ``raise_by``.
    Once there is a current price, a raise below the increment (加价幅度) in force could only be
    refused (``bid_too_low``): it is refused here, naming the increment, before anything is signed."""
    if lot.get("minimum_next") is None:  # ended (or a draft): the platform names no next bid
        raise BadAmount(f"本标的现在不接受出价（{lot.get('state_label') or lot.get('state') or '—'}）")
    if minimum:
        return format(lot_amount(lot, "minimum_next", "最低应价"), "f")
    assert raise_by is not None
    step = Decimal(amount_text(raise_by))
    if lot.get("current_price") is None:
        return amount_text(str(lot_amount(lot, "starting_price", "起始价") + step))
    current = lot_amount(lot, "current_price", "当前价")
    increment = lot_amount(lot, "increment", "加价幅度")
    if step < increment:
        raise BadAmount(
            f"加价 {yuan(step)} 元低于本标的当前的加价幅度 {yuan(increment)} 元：每次出价至少比当前价 "
            f"{yuan(current)} 元高一个加价幅度（最低应价 {yuan(current + increment)} 元）；"
            f"请用 --raise-by {increment} 或更多，或用 --minimum"
        )
    return amount_text(str(current + step))


@dataclass(frozen=True)
class SignedBid:
    statement: bytes
    body: dict[str, Any]


def sign_bid(code: str, bidding_number: str, amount: str, seen_seq: int, key: PrivateKey) -> SignedBid:
    """The bid as posted: the statement signed with SM2 (SM3, default ID), DER in base64."""
    statement = auction_bid_statement(code, bidding_number, amount, seen_seq)
    signature = base64.b64encode(key.sign(statement)).decode()
    return SignedBid(statement, {"amount": amount, "seen_seq": seen_seq, "signature": signature})


def bidding_number_of(client: Requester, code: str) -> str:
    mine = own(client, code)
    number = mine.get("bidding_number")
    if not number:
        state = mine.get("state_label") or mine.get("state") or "—"
        raise ApiError(
            0,
            "no_bidding_number",
            f"尚无竞买号牌（竞买申请：{state}）：资格审核通过后平台才发放号牌",
        )
    return str(number)


def place_bid(
    client: Requester, code: str, amount: str, key: PrivateKey, *, seen_seq: int | None = None
) -> dict[str, Any]:
    """Sign and post one bid. ``seen_seq`` defaults to the last accepted bid the platform shows now:
    the buyer bids on what it has seen, and the platform refuses a bid naming a bid it never
    accepted. Returns the platform's answer: ``seq``, ``amount``, ``accepted_at``, ``countdown_ends_at``."""
    number = bidding_number_of(client, code)
    if seen_seq is None:
        seen_seq = detail(client, code).get("current_seq")
        if not isinstance(seen_seq, int) or isinstance(seen_seq, bool):
            raise ApiError(0, "bad_answer", "平台没有给出标的当前的出价序号，无法出价")
    signed = sign_bid(code, number, amount, seen_seq, key)
    answer = dict(client.request("POST", f"{lot_path(code)}/bids", signed.body))
    return {**answer, "bidding_number": number, "seen_seq": seen_seq}


# --- the room's feed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEvent:
    """One event of the room's public feed: ``bid``, ``state``, ``increment``, ``pause``,
    ``resume``, ``timed``, ``result`` (numbers, never names), or ``time`` (the server's clock)."""

    id: int | None
    kind: str
    data: dict[str, Any]

    @property
    def ends(self) -> bool:
        """After this event the room is over."""
        return self.kind == "result" or (self.kind == "state" and self.data.get("to") in ENDED)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> FeedEvent:
        """An item of ``GET /auctions/<code>/events``: ``{id, kind, payload, created_at}`` (the
        payload's fields may also come flat, beside ``id`` and ``kind``)."""
        payload = item.get("payload")
        data = dict(payload) if isinstance(payload, dict) else {}
        data.update({k: v for k, v in item.items() if k not in ("payload", "id", "kind") and k not in data})
        return cls(int(item["id"]), str(item["kind"]), data)


@dataclass(frozen=True)
class Page:
    """One answer of ``GET /auctions/<code>/events?after=N``."""

    events: list[FeedEvent]
    server_time: str | None
    more: bool  # a page holds at most 1,000 events: ask again at once
    room: dict[str, Any]  # the room's state now (its ``id`` names it on the live server)


def poll_events(client: Requester, code: str, after: int) -> Page:
    """The events after ``after`` (an event id), oldest first, with the room's state."""
    got = client.request("GET", f"{lot_path(code)}/events?after={after}")
    events = sorted((FeedEvent.from_item(dict(i)) for i in got["items"]), key=lambda e: e.id or 0)
    room = got.get("state") if isinstance(got.get("state"), dict) else {}
    return Page([e for e in events if (e.id or 0) > after], got.get("server_time"), bool(got.get("more")), room)


def live_url(server: str, live: str) -> str:
    """The live server's base: ``:PORT`` is the platform's host on that port (as ``LIVE_URL``)."""
    if live.startswith(":"):
        u = urlsplit(server)
        host = u.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"{u.scheme or 'http'}://{host}{live}"
    return live.rstrip("/")


class StreamUnavailable(Exception):
    """The live server cannot be reached or does not serve this room: poll instead."""


@dataclass
class SseReader:
    """Server-Sent Events from one URL, as the browser's EventSource reads them: ``id``, ``event``,
    ``data`` fields, a blank line ends an event, ``:`` lines are comments, ``retry`` sets the wait."""

    url: str
    last_id: int | None = None
    timeout: float = STREAM_TIMEOUT
    retry: float = 2.0
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)

    def open(self) -> http.client.HTTPResponse:
        u = urlsplit(self.url)
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        self._conn = conn = cls(u.hostname or "127.0.0.1", u.port, timeout=self.timeout)
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        path = u.path + (f"?{u.query}" if u.query else "")
        try:
            conn.request("GET", path or "/", headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise StreamUnavailable(str(exc)) from exc
        if resp.status != 200 or not (resp.getheader("Content-Type") or "").startswith("text/event-stream"):
            self.close()
            raise StreamUnavailable(f"HTTP {resp.status}")
        return resp

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def events(self, resp: http.client.HTTPResponse) -> Iterator[FeedEvent]:
        """The stream's events until it ends or breaks (the caller reconnects with ``last_id``)."""
        eid: str | None = None
        kind, data = "message", list[str]()
        while True:
            line = resp.readline(MAX_LINE + 1)
            if not line:
                return
            if len(line) > MAX_LINE:
                raise StreamUnavailable("line too long")
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                if data:
                    try:
                        body = json.loads("\n".join(data))
                    except ValueError:
                        body = None
                    if isinstance(body, dict):
                        number = int(eid) if eid is not None and eid.isdigit() else None
                        if number is not None:
                            self.last_id = number
                        yield FeedEvent(number, kind, body)
                eid, kind, data = None, "message", []
                continue
            if text.startswith(":"):
                continue
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                eid = value
            elif name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "retry" and value.isdigit():
                self.retry = min(int(value) / 1000, MAX_RETRY)


@dataclass
class Follower:
    """Follows one lot's feed until it ends (or ``stop`` says so). It catches up from the API first
    (which also names the room on the live server), then follows the live server's stream when
    there is one (``live``: its base URL), resuming where it broke off; else, or when the stream
    cannot be had, it polls ``/events?after=N`` every ``interval`` seconds. Each event reaches
    ``on_event`` once, in order; ``after`` is the last event id handed on, so a run can start where
    another stopped."""

    client: Requester
    code: str
    on_event: Callable[[FeedEvent], None]
    after: int = 0
    interval: float = 1.0
    live: str | None = None
    wait: Callable[[float], None] = time.sleep
    stop: Callable[[], bool] = lambda: False
    trouble: Callable[[str], None] = lambda message: None
    polling: bool = False  # whether it fell back to polling after catching up
    ended: bool = False
    room_id: int | None = None

    def hand_on(self, e: FeedEvent) -> None:
        if e.id is not None:
            if e.id <= self.after:
                return  # a resumed stream or an overlapping poll: already shown
            self.after = e.id
        self.on_event(e)
        if e.ends:
            self.ended = True

    def poll(self) -> Page | None:
        """One poll, its events handed on; None when the platform could not be reached (said once
        through ``trouble``, then waited out)."""
        try:
            page = poll_events(self.client, self.code, self.after)
        except (OSError, http.client.HTTPException, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status < 500:
                raise  # a refusal (no such lot, …) or a broken answer: waiting will not change it
            pause = max(self.interval, 2.0)
            self.trouble(f"{trouble_words(exc)}，{pause:g} 秒后重试")
            self.wait(pause)
            return None
        if isinstance(page.room.get("id"), int):
            self.room_id = page.room["id"]
        if page.server_time is not None:
            self.hand_on(FeedEvent(None, "time", {"server_time": page.server_time}))
        for e in page.events:
            self.hand_on(e)
        return page

    def run(self) -> None:
        page = None
        while page is None or (page.more and not self.ended):  # catch up
            page = self.poll()
        if self.live is not None and self.room_id is not None and not self.ended:
            self.follow_stream(f"{self.live}/live/auctions/{self.room_id}")
        self.polling = not self.ended and not self.stop()
        while not self.ended and not self.stop():
            page = self.poll()
            if page is not None and not page.more and not self.ended and not self.stop():
                self.wait(self.interval)

    def follow_stream(self, url: str) -> None:
        reader = SseReader(url, self.after)
        failures, opened = 0, False
        while not self.ended and not self.stop():
            try:
                resp = reader.open()
                failures, opened = 0, True
                for e in reader.events(resp):
                    self.hand_on(e)
                    if self.ended or self.stop():
                        break
            except StreamUnavailable:
                failures += 1
                if not opened or failures >= 3:
                    return  # no live server for this room, or it went away: poll instead
            except (OSError, http.client.HTTPException):
                failures += 1  # broke off mid-stream (or went silent): open it again from last_id
            finally:
                reader.close()
            reader.last_id = self.after
            if not self.ended and not self.stop():
                self.wait(reader.retry if failures else 0.0)


def trouble_words(exc: Exception) -> str:
    """Why a poll failed, in the buyer's words (the system's own message is English)."""
    if isinstance(exc, ApiError):
        return f"平台暂时无法应答（HTTP {exc.status}）"
    if isinstance(exc, TimeoutError):
        return "连接超时"
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝（平台未运行或地址不对）"
    return "连接中断"


def remaining(until: str | None, server_now: dt.datetime) -> dt.timedelta | None:
    """Time left on the server's clock until ``until`` (ISO), never below zero."""
    if not until:
        return None
    try:
        end = dt.datetime.fromisoformat(until)
    except (TypeError, ValueError):
        return None
    if end.tzinfo is None:
        end = end.replace(tzinfo=dt.UTC)
    return max(end - server_now, dt.timedelta())


@dataclass
class ServerClock:
    """The server's time as last heard, carried forward on this machine's monotonic clock: the
    countdown shown is the server's, whatever this machine's clock says."""

    heard: dt.datetime | None = None
    at: float = 0.0

    def hear(self, server_time: str | None) -> None:
        if not server_time:
            return
        try:
            t = dt.datetime.fromisoformat(server_time)
        except (TypeError, ValueError):
            return
        self.heard, self.at = (t if t.tzinfo else t.replace(tzinfo=dt.UTC)), time.monotonic()

    def now(self) -> dt.datetime:
        if self.heard is None:
            return dt.datetime.now(dt.UTC)
        return self.heard + dt.timedelta(seconds=time.monotonic() - self.at)
