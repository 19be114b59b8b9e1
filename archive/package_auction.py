"""Replaying an auction from its archive package alone (archive/PACKAGE.md, "Auction packages").

No database and no platform code: the package's files, the platform's certificate and root. Every
accepted bid is checked as the buyer signed it (``signing.statements.auction_bid_statement`` under
its SM2 signature and certificate), the order is checked (``seq`` 1…n, no gap), every amount against
the rules in force (the starting price first, then the previous bid plus the increment that applied
to it), and the countdown against the room's feed (each countdown bid before the countdown in force
ran out, restarting it for ``countdown_seconds``; a pause keeps the time that was left). The reserve's
commitment must open, and the winner and price the replay reaches (sold iff the highest bid is not
below the reserve) must be the ones the platform signed. Every disagreement is a named finding.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from archive.package_findings import Damage, Report, describe
from archive.package_reader import OpenedPackage
from signing.canonical import canonical_json
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.digest import sm3_hex
from signing.statements import SignedStatement, auction_bid_statement, reserve_commitment

#: The findings of the replay (archive/PACKAGE.md lists them with the rest).
RESULT_INVALID = "auction_result_invalid"  # the signed result does not verify, or is another lot's
RESULT_MISMATCH = "auction_result_mismatch"  # the replay reaches another outcome, winner or price
ANNOUNCEMENT_INVALID = "auction_announcement_invalid"
ANNOUNCEMENT_MISMATCH = "auction_announcement_mismatch"  # its prices or documents are not the ones used
BID_SIGNATURE = "auction_bid_signature"  # a bid's signature or certificate does not verify
BID_MISMATCH = "auction_bid_mismatch"  # the signed statement is not the row's number and amount
BID_SEQUENCE = "auction_bid_sequence"  # seq is not 1…n in order
BID_TOO_LOW = "auction_bid_too_low"  # below the starting price or the previous bid plus the increment
BID_LATE = "auction_bid_late"  # a countdown bid at or after the countdown in force ran out
BID_PHASE = "auction_bid_phase"  # a bid while bidding was not open, or by a buyer not admitted to it
COUNTDOWN_NOT_RESTARTED = "auction_countdown_not_restarted"
ENDED_EARLY = "auction_ended_early"  # the lot ended before its countdown ran out
FEED_MISMATCH = "auction_feed_mismatch"  # the room's feed and the bids disagree
RESERVE_MISMATCH = "auction_reserve_mismatch"  # the reveal does not open the published commitment

REASONS = {"no_bid": "无人出价", "below_reserve": "最高报价低于底价"}
OPEN = ("listing", "free", "countdown")


@dataclass
class Replay:
    """What the bids alone decide."""

    outcome: str = "failed"
    reason: str | None = "no_bid"
    winner: str | None = None  # bidding number
    name: str | None = None
    credit_code: str | None = None
    final_price: str | None = None
    highest: str | None = None
    bids: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, code: str, text: str) -> None:
        self.problems.setdefault(code, []).append(text)

    def summary(self) -> str:
        if self.outcome == "sold":
            return (
                f"成交：竞买号牌 {self.winner}（{self.name or '—'}），成交价 {self.final_price} 元，"
                f"有效出价 {self.bids} 次 (sold to {self.winner} at {self.final_price})"
            )
        why = REASONS.get(str(self.reason), str(self.reason))
        high = f"，最高报价 {self.highest} 元" if self.highest else ""
        return f"流拍：{why}{high}，有效出价 {self.bids} 次 (failed: {self.reason})"


def _at(text: Any) -> dt.datetime:
    value = dt.datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"instant without a time zone: {text}")
    return value


def _money(text: Any) -> Decimal:
    value = Decimal(str(text))
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"not an amount: {text}")
    return value


def _signed(pack: OpenedPackage, path: str, platform: Certificate, type_: str) -> dict[str, Any]:
    raw = pack.read(path)
    st = SignedStatement.from_json(raw)
    if st.to_json() != raw:
        raise Damage("bad_signature", "签名文件不是规范形式 (signature file not canonical)")
    body: dict[str, Any] = st.verify(trusted=platform, expected_type=type_)["body"]
    return body


def replay(
    pack: OpenedPackage,
    listed: dict[str, dict[str, Any]],
    platform: Certificate,
    trust: TrustStore,
    report: Report,
    manifest: dict[str, Any],
) -> Replay | None:
    """Check and replay the auction in ``pack``; every finding goes to ``report``."""
    present = set(pack.infos) - pack.duplicates

    def one(kind: str) -> dict[str, Any] | None:
        found = [f for f in listed.values() if f["kind"] == kind and f["path"] in present]
        return found[0] if found else None

    code = str(manifest.get("auction"))
    result_file, bids_file, feed_file = one("auction_result"), one("auction_bids"), one("auction_feed")
    if result_file is None or bids_file is None or feed_file is None:
        if manifest.get("end_state") != "cancelled":  # a lot ended before any bid has no result
            report.add("竞价复算 (auction replay)", False, "缺少结果、出价或竞价室记录 (missing)", "entry_missing")
        return None
    what = f"竞价结果签名 {result_file['path']} (auction result)"
    try:
        body = _signed(pack, result_file["path"], platform, "auction_result")
        if body.get("auction") != code:
            raise Damage(RESULT_INVALID, f"是标的 {body.get('auction')} 的结果，不是本包的")
        report.add(what, True)
    except Exception as exc:
        report.add(what, False, describe(exc), RESULT_INVALID)
        return None
    try:
        bids: list[dict[str, Any]] = json.loads(pack.read(bids_file["path"]))
        feed: list[dict[str, Any]] = json.loads(pack.read(feed_file["path"]))
        regs_file = one("auction_registrations")
        regs: list[dict[str, Any]] = json.loads(pack.read(regs_file["path"])) if regs_file else []
        r = Replay(bids=len(bids))
        _check_bids(code, bids, regs, trust, r)
        _check_amounts(body, bids, r)
        _walk_feed(body, bids, feed, regs, r)
        reserve = _check_reserve(pack, one, platform, body, r)
        _check_announcement(pack, one, listed, present, platform, body, r)
        _decide(body, bids, regs, reserve, r)
    except Exception as exc:
        report.add("竞价复算 (auction replay)", False, describe(exc), "malformed")
        return None
    for check, label in CHECKS:
        problems = [p for c in check for p in r.problems.get(c, [])]
        codes = [c for c in check if r.problems.get(c)]
        report.add(label, not problems, "；".join(problems[:5]), codes[0] if codes else "")
    differs = r.problems.get(RESULT_MISMATCH, [])
    report.add("竞价复算 (auction replay)", not differs, "；".join([r.summary(), *differs[:5]]), RESULT_MISMATCH)
    report.replay = r.summary()
    return r


#: the report's lines: the findings each one gathers
CHECKS = (
    ((BID_SIGNATURE, BID_MISMATCH), "出价签名 (bid signatures)"),
    ((BID_SEQUENCE,), "出价顺序 (bid order)"),
    ((BID_TOO_LOW,), "加价幅度 (increments)"),
    ((BID_PHASE, BID_LATE, COUNTDOWN_NOT_RESTARTED, ENDED_EARLY), "竞价阶段与限时竞价计时 (phases and countdown)"),
    ((FEED_MISMATCH,), "竞价室记录 (room feed)"),
    ((RESERVE_MISMATCH,), "底价承诺与揭示 (reserve commitment)"),
    ((ANNOUNCEMENT_INVALID, ANNOUNCEMENT_MISMATCH), "交易公告 (announcement)"),
)


def _check_bids(
    code: str, bids: list[dict[str, Any]], regs: list[dict[str, Any]], trust: TrustStore, r: Replay
) -> None:
    """Each bid as its buyer signed it, in the order 1…n."""
    chained: dict[tuple[bytes, dt.datetime], str | None] = {}
    admitted = {g.get("bidding_number") for g in regs if g.get("state") == "approved"}
    for i, b in enumerate(bids, 1):
        seq = b.get("seq")
        if seq != i:
            r.problem(BID_SEQUENCE, f"第 {i} 条出价的序号为 {seq}")
        if b.get("bidding_number") not in admitted:
            r.problem(BID_PHASE, f"出价 {seq} 的竞买号牌 {b.get('bidding_number')} 不属于资格审核通过的竞买人")
        try:
            statement = str(b["statement"]).encode()
            expected = auction_bid_statement(code, str(b["bidding_number"]), str(b["amount"]), int(b["seen_seq"]))
            if statement != expected:
                r.problem(BID_MISMATCH, f"出价 {seq} 的签名内容与竞买号牌或金额不符")
            if not 0 <= int(b["seen_seq"]) < i:
                r.problem(BID_MISMATCH, f"出价 {seq} 所见序号 {b['seen_seq']} 无效")
            cert = Certificate(base64.b64decode(b["signer_cert"], validate=True))
            at = _at(b["accepted_at"])
            key = (cert.der, at)
            if key not in chained:
                try:
                    verify_chain(cert, trust, at=at, usage=Usage.SIGN)
                    chained[key] = None
                except Exception as exc:
                    chained[key] = describe(exc)
            if chained[key] is not None:
                r.problem(BID_SIGNATURE, f"出价 {seq} 的证书：{chained[key]}")
            cert.public_key.verify(base64.b64decode(b["signature"], validate=True), statement)
        except Exception as exc:
            r.problem(BID_SIGNATURE, f"出价 {seq}：{describe(exc)}")


def increment_for(increments: list[dict[str, Any]], seq: int) -> Decimal:
    """The increment that applied to bid ``seq``: the last one set after a bid before it."""
    applied = [inc for inc in increments if int(inc["after_seq"]) < seq]
    return _money(applied[-1]["increment"])


def _check_amounts(body: dict[str, Any], bids: list[dict[str, Any]], r: Replay) -> None:
    """The first bid at least the starting price; each next at least the previous plus the increment."""
    increments = list(body["increments"])
    starting = _money(body["starting_price"])
    previous: Decimal | None = None
    for i, b in enumerate(bids, 1):
        try:
            amount = _money(b["amount"])
        except Exception as exc:
            r.problem(BID_TOO_LOW, f"出价 {b.get('seq')} 金额无效：{describe(exc)}")
            continue
        minimum = starting if previous is None else previous + increment_for(increments, i)
        if amount < minimum:
            r.problem(BID_TOO_LOW, f"出价 {b.get('seq')} 为 {amount}，低于应价 {minimum}")
        previous = amount


def _walk_feed(
    body: dict[str, Any], bids: list[dict[str, Any]], feed: list[dict[str, Any]], regs: list[dict[str, Any]], r: Replay
) -> None:
    """The room's feed in its one order: phases, pauses, and each bid against the countdown in force."""
    seconds = dt.timedelta(seconds=int(body["countdown_seconds"]))
    timed = {g.get("bidding_number") for g in regs if g.get("wants_timed")}
    # a lot set up on the platform starts as a draft; one made otherwise, announced: the first
    # change says which
    state: str | None = None
    end: dt.datetime | None = None
    paused_at: dt.datetime | None = None
    last_id, seen = 0, 0
    for ev in feed:
        if int(ev["id"]) <= last_id:
            r.problem(FEED_MISMATCH, f"记录 {ev['id']} 顺序错误")
        last_id, kind, p = int(ev["id"]), ev["kind"], ev["payload"]
        if kind == "state":
            frm, to, at = p["from"], p["to"], _at(p["at"])
            if state is not None and frm != state:
                r.problem(FEED_MISMATCH, f"记录 {ev['id']}：由 {frm} 变更，但此前为 {state}")
            if to == "paused":
                paused_at = at
            elif frm == "paused" and paused_at is not None:
                if end is not None and end > paused_at:
                    end += at - paused_at  # the time left at the pause is kept
                paused_at = None
            if to == "countdown" and frm != "paused":
                end = at + seconds
            if to in ("sold", "failed") and state == "countdown" and end is not None and at < end:
                r.problem(ENDED_EARLY, f"限时竞价应于 {end.isoformat()} 结束，实际结束于 {at.isoformat()}")
            if to in ("sold", "failed") and p["at"] != body["ended_at"]:
                r.problem(FEED_MISMATCH, f"结束时间 {p['at']} 与结果 {body['ended_at']} 不符")
            state = to
        elif kind == "bid":
            seen += 1
            seq = p.get("seq")
            b = bids[seen - 1] if seen <= len(bids) else None
            if seq != seen or b is None or b.get("seq") != seq:
                r.problem(FEED_MISMATCH, f"竞价室第 {seen} 次出价记录（序号 {seq}）与出价记录不符")
                continue
            if p.get("bidding_number") != b["bidding_number"] or p.get("amount") != b["amount"]:
                r.problem(FEED_MISMATCH, f"出价 {seq} 的竞买号牌或金额与竞价室记录不符")
            at = _at(b["accepted_at"])
            if state not in OPEN or b.get("phase") != state:
                r.problem(BID_PHASE, f"出价 {seq} 在“{state}”阶段（记录为 {b.get('phase')}）")
            if state == "countdown" and body.get("method") == "listing" and b["bidding_number"] not in timed:
                r.problem(BID_PHASE, f"出价 {seq} 的竞买人未申请参加限时竞价")
            if state == "countdown":
                if end is None or not at < end:
                    r.problem(BID_LATE, f"出价 {seq} 于 {at.isoformat()}，限时竞价已于 {end} 截止")
                end = at + seconds
                if b.get("countdown_ends_at") is None or _at(b["countdown_ends_at"]) != end:
                    r.problem(COUNTDOWN_NOT_RESTARTED, f"出价 {seq} 后限时竞价应重新计时至 {end.isoformat()}")
    if seen != len(bids):
        r.problem(FEED_MISMATCH, f"竞价室记录 {seen} 次出价，出价记录 {len(bids)} 条")


def _check_reserve(
    pack: OpenedPackage, one: Any, platform: Certificate, body: dict[str, Any], r: Replay
) -> Decimal | None:
    """The reserve the result reveals, if it opens its commitment (None: no reserve, or it does not open)."""
    reveal = body.get("reserve")
    file = one("auction_reserve")
    kept = json.loads(pack.read(file["path"])) if file else None
    if kept != reveal:
        r.problem(RESERVE_MISMATCH, "档案中的底价揭示与签名结果中的不一致")
    if reveal is None:
        return None
    if reserve_commitment(str(reveal["price"]), str(reveal["salt"])) != reveal["sm3"]:
        r.problem(RESERVE_MISMATCH, "揭示的底价与盐值不能打开公布的承诺值 SM3(盐值‖底价)")
        return None
    return _money(reveal["price"])


def _check_announcement(
    pack: OpenedPackage,
    one: Any,
    listed: dict[str, dict[str, Any]],
    present: set[str],
    platform: Certificate,
    body: dict[str, Any],
    r: Replay,
) -> None:
    """The signed announcement published the prices, the reserve's commitment and the documents used."""
    file = one("auction_announcement")
    lot = one("auction_lot")
    facts = json.loads(pack.read(lot["path"])) if lot else {}
    committed = (body.get("reserve") or {}).get("sm3")
    if lot and facts.get("reserve_sm3") != committed:
        r.problem(RESERVE_MISMATCH, "标的信息中的底价承诺值与签名结果不符")
    by_sm3 = {
        (f["sm3"], f["size"]) for f in listed.values() if f["kind"] == "auction_document" and f["path"] in present
    }
    for d in facts.get("documents", []):
        f = listed.get(d.get("path", ""))
        if f is None or f["path"] not in present or (f["sm3"], f["size"]) != (d.get("sm3"), d.get("size")):
            r.problem(ANNOUNCEMENT_MISMATCH, f"标的文件 {d.get('name')} 缺失或摘要不符")
    if file is None:
        return
    try:
        ann = _signed(pack, file["path"], platform, "auction_announcement")
    except Exception as exc:
        r.problem(ANNOUNCEMENT_INVALID, f"{file['path']}：{describe(exc)}")
        return
    expected = {
        "code": body["auction"],
        "starting_price": body["starting_price"],
        "increment": body["increments"][0]["increment"],
        "countdown_seconds": body["countdown_seconds"],
    }
    for name, value in expected.items():
        if ann.get(name) != value:
            r.problem(ANNOUNCEMENT_MISMATCH, f"公告的 {name} 为 {ann.get(name)}，竞价中为 {value}")
    if ann.get("reserve_sm3") != committed:
        r.problem(RESERVE_MISMATCH, "公告公布的底价承诺值与结果揭示的不符")
    for d in ann.get("documents", []):
        if (d.get("sm3"), d.get("size")) not in by_sm3:
            r.problem(ANNOUNCEMENT_MISMATCH, f"公告列出的文件 {d.get('name')} 不在档案包中")


def bid_digest(bids: list[dict[str, Any]]) -> str:
    """SM3 of the canonical list [seq, bidding number, amount, SM3(statement), accepted at] (the
    result's ``bids_sm3``)."""
    rows = [
        [b["seq"], b["bidding_number"], b["amount"], sm3_hex(str(b["statement"]).encode()), b["accepted_at"]]
        for b in bids
    ]
    return sm3_hex(canonical_json(rows))


def _decide(
    body: dict[str, Any], bids: list[dict[str, Any]], regs: list[dict[str, Any]], reserve: Decimal | None, r: Replay
) -> None:
    """The outcome the bids decide, held against the signed result."""
    if body.get("reserve") is not None and reserve is None:
        reserve = _money(body["reserve"]["price"])  # the commitment did not open (reported): judge by the claim
    if bids:
        last = bids[-1]
        r.highest = str(last["amount"])
        sold = reserve is None or _money(last["amount"]) >= reserve
        r.outcome, r.reason = ("sold", None) if sold else ("failed", "below_reserve")
        if sold:
            r.winner, r.final_price = str(last["bidding_number"]), r.highest
            org = next((g for g in regs if g.get("bidding_number") == r.winner), {})
            r.name, r.credit_code = org.get("organisation"), org.get("credit_code")
    winner = body.get("winner") or {}
    claimed = {
        "outcome": body.get("outcome"),
        "reason": body.get("reason"),
        "final_price": body.get("final_price"),
        "highest": body.get("highest"),
        "winner": winner.get("bidding_number"),
        "name": winner.get("name"),
        "credit_code": winner.get("credit_code"),
        "bids": body.get("bids"),
        "bids_sm3": body.get("bids_sm3"),
    }
    replayed = {
        "outcome": r.outcome,
        "reason": r.reason,
        "final_price": r.final_price,
        "highest": r.highest,
        "winner": r.winner,
        "name": r.name,
        "credit_code": r.credit_code,
        "bids": len(bids),
        "bids_sm3": bid_digest(bids),
    }
    for name, value in replayed.items():
        if claimed[name] != value:
            r.problem(RESULT_MISMATCH, f"签名结果的 {name} 为 {claimed[name]}，复算为 {value}")
