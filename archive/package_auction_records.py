"""What an auction package's bids are held against besides the rules (archive/PACKAGE.md, "Auction
packages"): the terms the lot published (the signed announcement, the lot's facts, the reserve's
commitment and its reveal) and the lot's audit events.

``log/events.jsonl`` lists the lot's audit events, each with its proof of inclusion in the signed
checkpoint (``archive.package_check`` checks the proofs). The bidding room writes each bid, each
increment change, each state move and each timed-bidding request to the audit log and to its
public feed in the same transaction, and the lot's end names the SM3 of the signed result. So the
bids, the feed and the result in the package must be, one for one, what the checkpointed log says:
a bid dropped, added or altered, an increment rewritten, a move added or taken away, or a result
signed anew after the end is named here even when every file was rewritten consistently and the
manifest and result signed anew with the platform's key.

No platform code: the payloads are read as ``trading/auctions`` writes them (bidding.place_bid,
room.change_increment, lifecycle.move_auction, setup.extend, bidding.request_timed, results.finish).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from archive.package_findings import Damage, describe
from archive.package_reader import MAX_LINE, OpenedPackage
from signing.certs import Certificate
from signing.statements import SignedStatement, reserve_commitment

#: The findings against the published terms and the log (archive/PACKAGE.md lists them with the rest).
ANNOUNCEMENT_INVALID = "auction_announcement_invalid"
ANNOUNCEMENT_MISMATCH = "auction_announcement_mismatch"  # its prices, periods or documents are not the ones used
RESERVE_MISMATCH = "auction_reserve_mismatch"  # the reveal does not open the published commitment
BID_NOT_LOGGED = "auction_bid_not_logged"  # a bid of bids.json that no auction.bid event records as it is
LOG_BID_MISSING = "auction_log_bid_missing"  # an auction.bid event whose bid is not in bids.json
INCREMENT_NOT_LOGGED = "auction_increment_not_logged"  # the result's or feed's increments are not the log's
MOVE_NOT_LOGGED = "auction_move_not_logged"  # the feed's state moves and extensions are not the log's
TIMED_NOT_LOGGED = "auction_timed_not_logged"  # the timed-bidding requests are not the log's
RESULT_NOT_LOGGED = "auction_result_not_logged"  # the lot's logged end does not name this signed result
CODES = (BID_NOT_LOGGED, LOG_BID_MISSING, INCREMENT_NOT_LOGGED, MOVE_NOT_LOGGED, TIMED_NOT_LOGGED, RESULT_NOT_LOGGED)

#: the audit action of each state move (lifecycle.ACTIONS; leaving a pause is ``auction.resume``)
MOVE_ACTIONS = {
    "announced": "auction.announce",
    "listing": "auction.listing_open",
    "free": "auction.bidding_open",
    "countdown": "auction.countdown",
    "paused": "auction.pause",
    "sold": "auction.sold",
    "failed": "auction.failed",
    "cancelled": "auction.cancel",
}
RESUME, EXTEND = "auction.resume", "auction.extend"
END_ACTIONS = ("auction.sold", "auction.failed")
#: what the feed adds to a move's audit payload (the state's words and the countdown then in force)
FEED_ONLY = ("label", "countdown_ends_at")
#: the public fields of a bid: the audit payload, the feed's payload, and bids.json's columns
BID_FIELDS = ("seq", "bidding_number", "amount", "phase", "accepted_at", "countdown_ends_at")

Problem = Callable[[str, str], None]
Find = Callable[[str], dict[str, Any] | None]  # the present file of a kind


def amount(text: Any) -> Decimal:
    """A positive amount in yuan with at most two decimals (ValueError otherwise)."""
    value = Decimal(str(text))
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"not an amount: {text}")
    return value


def signed_body(pack: OpenedPackage, path: str, platform: Certificate, type_: str) -> dict[str, Any]:
    """The body of the platform-signed statement at ``path``, kept in its canonical form."""
    raw = pack.read(path)
    st = SignedStatement.from_json(raw)
    if st.to_json() != raw:
        raise Damage("bad_signature", "签名文件不是规范形式 (signature file not canonical)")
    body: dict[str, Any] = st.verify(trusted=platform, expected_type=type_)["body"]
    return body


def check_reserve(pack: OpenedPackage, one: Find, body: dict[str, Any], problem: Problem) -> Decimal | None:
    """The reserve the result reveals, if it opens its commitment (None: no reserve, or it does not open)."""
    reveal = body.get("reserve")
    file = one("auction_reserve")
    kept = json.loads(pack.read(file["path"])) if file else None
    if kept != reveal:
        problem(RESERVE_MISMATCH, "档案中的底价揭示与签名结果中的不一致")
    if reveal is None:
        return None
    if reserve_commitment(str(reveal["price"]), str(reveal["salt"])) != reveal["sm3"]:
        problem(RESERVE_MISMATCH, "揭示的底价与盐值不能打开公布的承诺值 SM3(盐值‖底价)")
        return None
    return amount(reveal["price"])


def check_announcement(
    pack: OpenedPackage,
    one: Find,
    listed: dict[str, dict[str, Any]],
    present: set[str],
    platform: Certificate,
    body: dict[str, Any],
    facts: dict[str, Any],
    problem: Problem,
) -> dict[str, Any] | None:
    """The signed announcement published the prices, the reserve's commitment and the documents
    used; returns its body (None: the package has none, or it does not verify)."""
    file = one("auction_announcement")
    committed = (body.get("reserve") or {}).get("sm3")
    if facts and facts.get("reserve_sm3") != committed:
        problem(RESERVE_MISMATCH, "标的信息中的底价承诺值与签名结果不符")
    by_sm3 = {
        (f["sm3"], f["size"]) for f in listed.values() if f["kind"] == "auction_document" and f["path"] in present
    }
    for d in facts.get("documents", []):
        f = listed.get(d.get("path", ""))
        if f is None or f["path"] not in present or (f["sm3"], f["size"]) != (d.get("sm3"), d.get("size")):
            problem(ANNOUNCEMENT_MISMATCH, f"标的文件 {d.get('name')} 缺失或摘要不符")
    if file is None:
        return None
    try:
        ann = signed_body(pack, file["path"], platform, "auction_announcement")
    except Exception as exc:
        problem(ANNOUNCEMENT_INVALID, f"{file['path']}：{describe(exc)}")
        return None
    expected = {
        "code": body["auction"],
        "starting_price": body["starting_price"],
        "increment": body["increments"][0]["increment"],
        "countdown_seconds": body["countdown_seconds"],
    }
    for name, value in expected.items():
        if ann.get(name) != value:
            problem(ANNOUNCEMENT_MISMATCH, f"公告的 {name} 为 {ann.get(name)}，竞价中为 {value}")
    if ann.get("reserve_sm3") != committed:
        problem(RESERVE_MISMATCH, "公告公布的底价承诺值与结果揭示的不符")
    for d in ann.get("documents", []):
        if (d.get("sm3"), d.get("size")) not in by_sm3:
            problem(ANNOUNCEMENT_MISMATCH, f"公告列出的文件 {d.get('name')} 不在档案包中")
    return ann


def read_events(pack: OpenedPackage, path: str, size: int, code: str) -> list[tuple[str, dict[str, Any]]]:
    """The lot's own audit events in log order, as (action, payload). Lines the package check finds
    malformed are left out here (it names them)."""
    out: list[tuple[str, dict[str, Any]]] = []
    with pack.open(path, size) as src:
        while line := src.readline(MAX_LINE + 1):
            try:
                ev = json.loads(line)
                if (ev["object_type"], ev["object_id"]) != ("auction", code):
                    continue
                action, payload = str(ev["action"]), json.loads(ev["payload"])
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(payload, dict):
                out.append((action, payload))
    return out


def _instant(value: Any) -> Any:
    """An instant as compared: the same moment written two ways is one; anything else as it is."""
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return value


def bid_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """A bid's public fields as compared across bids.json, the feed and the log."""
    return tuple(_instant(row.get(f)) if f.endswith("_at") else row.get(f) for f in BID_FIELDS)


def _bid_text(row: dict[str, Any]) -> str:
    return f"竞买号牌 {row.get('bidding_number')}，{row.get('amount')} 元，{row.get('accepted_at')}"


def check_log(
    events: list[tuple[str, dict[str, Any]]],
    body: dict[str, Any],
    signed: tuple[str, str | None],
    bids: list[dict[str, Any]],
    feed: list[dict[str, Any]],
    regs: list[dict[str, Any]],
    problem: Problem,
) -> None:
    """Every bid, increment, move and timed request of the package against the lot's audit events,
    and the logged end and announcement against the signed result's and announcement's SM3
    (``signed``; the second None when the package has no announcement)."""
    result_sm3, announcement_sm3 = signed
    _check_bids(events, bids, problem)
    _check_increments(events, body, feed, problem)
    _check_moves(events, feed, problem)
    _check_timed(events, feed, regs, problem)
    for action, p in events:
        if action == MOVE_ACTIONS["announced"] and announcement_sm3 and p.get("announcement_sm3") != announcement_sm3:
            problem(
                ANNOUNCEMENT_MISMATCH,
                f"审计日志记录的公告摘要为 {p.get('announcement_sm3')}，档案包中的公告为 {announcement_sm3}",
            )
    ends = [p for action, p in events if action in END_ACTIONS]
    if len(ends) != 1:
        problem(RESULT_NOT_LOGGED, f"审计日志记录了 {len(ends)} 次竞价结束（应为一次）")
    elif ends[0].get("result_sm3") != result_sm3:
        problem(
            RESULT_NOT_LOGGED,
            f"审计日志记录的竞价结果摘要为 {ends[0].get('result_sm3')}，档案包中签名结果的 SM3 为 {result_sm3}"
            "（结果在竞价结束后被重新签署）",
        )


def _check_bids(events: list[tuple[str, dict[str, Any]]], bids: list[dict[str, Any]], problem: Problem) -> None:
    logged: dict[Any, dict[str, Any]] = {}
    for action, p in events:
        if action != "auction.bid":
            continue
        if p.get("seq") in logged:
            problem(BID_NOT_LOGGED, f"审计日志中出价 {p.get('seq')} 出现不止一次")
        logged[p.get("seq")] = p
    kept: set[Any] = set()
    for b in bids:
        seq = b.get("seq")
        kept.add(seq)
        row = logged.get(seq)
        if row is None:
            problem(BID_NOT_LOGGED, f"出价 {seq}（{_bid_text(b)}）不在审计日志中")
        elif bid_key(row) != bid_key(b):
            problem(BID_NOT_LOGGED, f"出价 {seq} 为 {_bid_text(b)}，审计日志记录为 {_bid_text(row)}")
    for seq, p in logged.items():
        if seq not in kept:
            problem(LOG_BID_MISSING, f"审计日志记录的出价 {seq}（{_bid_text(p)}）不在出价记录中")


def _increment(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p.get("after_seq"), p.get("from"), p.get("to"), p.get("reason"))


def _check_increments(
    events: list[tuple[str, dict[str, Any]]], body: dict[str, Any], feed: list[dict[str, Any]], problem: Problem
) -> None:
    logged = [_increment(p) for action, p in events if action == "auction.increment"]
    shown = [_increment(e["payload"]) for e in feed if e["kind"] == "increment"]
    if shown != logged:
        problem(INCREMENT_NOT_LOGGED, f"竞价室记录的加价幅度调整 {shown} 与审计日志 {logged} 不符")
    signed = [(int(i["after_seq"]), str(i["increment"])) for i in body["increments"]]
    first = logged[0][1] if logged else (signed[0][1] if signed else None)
    expected = [(0, first)] + [(int(after), str(to)) for after, _, to, _ in logged]
    if signed != expected:
        problem(INCREMENT_NOT_LOGGED, f"签名结果的加价幅度 {signed} 与审计日志 {expected} 不符")


def _check_moves(events: list[tuple[str, dict[str, Any]]], feed: list[dict[str, Any]], problem: Problem) -> None:
    actions = {*MOVE_ACTIONS.values(), RESUME, EXTEND}
    logged = []
    for action, p in events:
        if action == EXTEND:
            logged.append((action, {"days": p.get("days"), "reason": p.get("reason"), **(p.get("to") or {})}))
        elif action in actions:
            logged.append((action, p))
    shown = []
    for e in feed:
        p = e["payload"]
        if e["kind"] == "extend":
            shown.append((EXTEND, p))
        elif e["kind"] == "state":
            action = RESUME if p.get("from") == "paused" else MOVE_ACTIONS.get(str(p.get("to")), "")
            shown.append((action, {k: v for k, v in p.items() if k not in FEED_ONLY}))
    for i, (feed_move, log_move) in enumerate(zip(shown, logged, strict=False), 1):
        if feed_move != log_move:
            problem(MOVE_NOT_LOGGED, f"第 {i} 次状态变更：竞价室记录为 {feed_move}，审计日志为 {log_move}")
            return
    if len(shown) != len(logged):
        problem(MOVE_NOT_LOGGED, f"竞价室记录 {len(shown)} 次状态变更，审计日志 {len(logged)} 次")


def _check_timed(
    events: list[tuple[str, dict[str, Any]]], feed: list[dict[str, Any]], regs: list[dict[str, Any]], problem: Problem
) -> None:
    logged = [p.get("bidding_number") for action, p in events if action == "auction.timed_request"]
    shown = sum(1 for e in feed if e["kind"] == "timed")
    kept = {g.get("bidding_number") for g in regs if g.get("wants_timed")}
    if shown != len(logged) or kept != set(logged):
        problem(
            TIMED_NOT_LOGGED,
            f"申请限时竞价的竞买号牌 {sorted(map(str, kept))}（竞价室 {shown} 次），"
            f"审计日志为 {sorted(map(str, logged))}",
        )
