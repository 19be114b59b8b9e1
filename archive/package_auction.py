"""Replaying an auction from its archive package alone (archive/PACKAGE.md, "Auction packages").

No database and no platform code: the package's files, the platform's certificate and root. Every
accepted bid is checked as the buyer signed it (``signing.statements.auction_bid_statement`` under
its SM2 signature and certificate), the order is checked (``seq`` 1…n, no gap), every amount against
the rules in force (the starting price first, then the previous bid plus the increment that applied
to it), and the countdown against the room's feed (each countdown bid before the countdown in force
ran out, restarting it for ``countdown_seconds``; a pause keeps the time that was left). The lot must
open and leave its free period or listing when its periods say, and end exactly when the replay says
it ends: the countdown's end after the last bid, or the listing's end (``ended_at``). The reserve's
commitment must open, and the winner and price the replay reaches (sold iff the highest bid is not
below the reserve) must be the ones the platform signed. The bids, the increments, the feed's moves
and the result are then held one for one against the lot's audit events in the package, which the
signed checkpoint covers (``archive.package_auction_records``). Every disagreement is a named finding.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from archive import package_auction_records as records
from archive.package_auction_records import amount, signed_body
from archive.package_findings import Damage, Report, describe
from archive.package_reader import OpenedPackage
from signing.canonical import canonical_json
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.digest import sm3_hex
from signing.statements import auction_bid_statement

#: The findings of the replay (archive/PACKAGE.md lists them with the rest).
RESULT_INVALID = "auction_result_invalid"  # the signed result does not verify, or is another lot's
RESULT_MISMATCH = "auction_result_mismatch"  # the replay reaches another outcome, winner or price
BID_SIGNATURE = "auction_bid_signature"  # a bid's signature or certificate does not verify
BID_MISMATCH = "auction_bid_mismatch"  # the signed statement is not the row's number and amount
BID_SEQUENCE = "auction_bid_sequence"  # seq is not 1…n in order
BID_TOO_LOW = "auction_bid_too_low"  # below the starting price or the previous bid plus the increment
BID_LATE = "auction_bid_late"  # a countdown bid at or after the countdown in force ran out
BID_PHASE = "auction_bid_phase"  # a bid while bidding was not open, or by a buyer not admitted to it
COUNTDOWN_NOT_RESTARTED = "auction_countdown_not_restarted"
ENDED_EARLY = "auction_ended_early"  # the lot ended before its countdown ran out
END_MISMATCH = "auction_end_mismatch"  # the feed's or the result's end is not when the replay ends the lot
PERIOD_MISMATCH = "auction_period_mismatch"  # bidding opened, or the free period or listing closed, off its time
FEED_MISMATCH = "auction_feed_mismatch"  # the room's feed and the bids disagree
#: found against the lot's published terms (archive.package_auction_records)
ANNOUNCEMENT_INVALID = records.ANNOUNCEMENT_INVALID
ANNOUNCEMENT_MISMATCH = records.ANNOUNCEMENT_MISMATCH
RESERVE_MISMATCH = records.RESERVE_MISMATCH

REASONS = {"no_bid": "无人出价", "below_reserve": "最高报价低于底价"}
OPEN = ("listing", "free", "countdown")
#: the periods the room's clock keeps: announced, moved by an extension, shifted by a pause
PERIODS = ("bidding_starts_at", "free_ends_at")


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
        body = signed_body(pack, result_file["path"], platform, "auction_result")
        if body.get("auction") != code:
            raise Damage(RESULT_INVALID, f"是标的 {body.get('auction')} 的结果，不是本包的")
        report.add(what, True)
    except Exception as exc:
        report.add(what, False, describe(exc), RESULT_INVALID)
        return None
    try:
        bids: list[dict[str, Any]] = json.loads(pack.read(bids_file["path"]))
        feed: list[dict[str, Any]] = json.loads(pack.read(feed_file["path"]))
        regs_file, lot_file, log_file = one("auction_registrations"), one("auction_lot"), one("events")
        regs: list[dict[str, Any]] = json.loads(pack.read(regs_file["path"])) if regs_file else []
        facts: dict[str, Any] = json.loads(pack.read(lot_file["path"])) if lot_file else {}
        r = Replay(bids=len(bids))
        _check_bids(code, bids, regs, trust, r)
        _check_amounts(body, bids, r)
        announced = records.check_announcement(pack, one, listed, present, platform, body, facts, r.problem)
        _walk_feed(body, bids, feed, regs, facts, announced, r)
        reserve = records.check_reserve(pack, one, body, r.problem)
        if log_file is None:
            r.problem(records.RESULT_NOT_LOGGED, "档案包中没有审计日志，出价与结果无从对照")
        else:
            events = records.read_events(pack, log_file["path"], log_file["size"], code)
            ann_file = one("auction_announcement")
            ann_sm3 = sm3_hex(pack.read(ann_file["path"])) if ann_file else None
            signed = (sm3_hex(pack.read(result_file["path"])), ann_sm3)
            records.check_log(events, body, signed, bids, feed, regs, r.problem)
        _decide(body, bids, regs, reserve, r)
    except Exception as exc:
        report.add("竞价复算 (auction replay)", False, describe(exc), "malformed")
        return None
    for check, label in CHECKS:  # a line per finding, so that each is named
        found = [c for c in check if r.problems.get(c)]
        for c in found:
            report.add(label, False, "；".join(r.problems[c][:5]), c)
        if not found:
            report.add(label, True)
    differs = r.problems.get(RESULT_MISMATCH, [])
    report.add("竞价复算 (auction replay)", not differs, "；".join([r.summary(), *differs[:5]]), RESULT_MISMATCH)
    report.replay = r.summary()
    return r


#: the report's lines: the findings each one gathers
CHECKS = (
    ((BID_SIGNATURE, BID_MISMATCH), "出价签名 (bid signatures)"),
    ((BID_SEQUENCE,), "出价顺序 (bid order)"),
    ((BID_TOO_LOW,), "加价幅度 (increments)"),
    (
        (BID_PHASE, BID_LATE, COUNTDOWN_NOT_RESTARTED, ENDED_EARLY, END_MISMATCH, PERIOD_MISMATCH),
        "竞价阶段与限时竞价计时 (phases and countdown)",
    ),
    ((FEED_MISMATCH,), "竞价室记录 (room feed)"),
    (records.CODES, "审计日志对照 (audit log)"),
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
    return amount(applied[-1]["increment"])


def _check_amounts(body: dict[str, Any], bids: list[dict[str, Any]], r: Replay) -> None:
    """The first bid at least the starting price; each next at least the previous plus the increment."""
    increments = list(body["increments"])
    starting = amount(body["starting_price"])
    previous: Decimal | None = None
    for i, b in enumerate(bids, 1):
        try:
            value = amount(b["amount"])
        except Exception as exc:
            r.problem(BID_TOO_LOW, f"出价 {b.get('seq')} 金额无效：{describe(exc)}")
            continue
        minimum = starting if previous is None else previous + increment_for(increments, i)
        if value < minimum:
            r.problem(BID_TOO_LOW, f"出价 {b.get('seq')} 为 {value}，低于应价 {minimum}")
        previous = value


def _walk_feed(
    body: dict[str, Any],
    bids: list[dict[str, Any]],
    feed: list[dict[str, Any]],
    regs: list[dict[str, Any]],
    facts: dict[str, Any],
    announced: dict[str, Any] | None,
    r: Replay,
) -> None:
    """The room's feed in its one order: phases, pauses, each bid against the countdown in force,
    and the end the replay reaches held against the feed's and the signed result's."""
    seconds = dt.timedelta(seconds=int(body["countdown_seconds"]))
    timed = {g.get("bidding_number") for g in regs if g.get("wants_timed")}
    # The lot's periods as in force when the room moved: a pause shifts only what is still ahead
    # and nothing moves them after bidding opens, so the lot's final ones (lot.json) are those.
    start, free_end = (_at(facts[k]) if facts.get(k) else None for k in PERIODS)
    # The announced ones, moved as the room moved them, must come to the same.
    plan = {k: _at(announced[k]) for k in PERIODS} if announced is not None else None
    # a lot set up on the platform starts as a draft; one made otherwise, announced: the first
    # change says which
    state: str | None = None
    end: dt.datetime | None = None  # the countdown in force
    paused_at: dt.datetime | None = None
    ended: dt.datetime | None = None  # the feed's end
    closing: str | None = None  # the state the lot ended from
    due: dt.datetime | None = None  # when the replay ends it
    last_id, seen = 0, 0
    for ev in feed:
        if int(ev["id"]) <= last_id:
            r.problem(FEED_MISMATCH, f"记录 {ev['id']} 顺序错误")
        last_id, kind, p = int(ev["id"]), ev["kind"], ev["payload"]
        if kind == "extend" and plan is not None:
            plan = {k: _at(p[k]) for k in PERIODS}
        elif kind == "state":
            frm, to, at = p["from"], p["to"], _at(p["at"])
            if state is not None and frm != state:
                r.problem(FEED_MISMATCH, f"记录 {ev['id']}：由 {frm} 变更，但此前为 {state}")
            if to == "paused":
                paused_at = at
            elif frm == "paused" and paused_at is not None:
                if end is not None and end > paused_at:
                    end += at - paused_at  # the time left at the pause is kept
                if plan is not None:
                    plan = {k: v + (at - paused_at) if v > paused_at else v for k, v in plan.items()}
                paused_at = None
            elif frm == "announced" and to in OPEN and at != start:
                r.problem(PERIOD_MISMATCH, f"竞价应于 {start} 开始，实际开始于 {at.isoformat()}")
            elif frm in ("free", "listing") and to == "countdown" and at != free_end:
                r.problem(
                    PERIOD_MISMATCH, f"自由竞价或挂牌期应于 {free_end} 截止，实际于 {at.isoformat()} 进入限时竞价"
                )
            if to == "countdown" and frm != "paused":
                end = at + seconds
            if to in ("sold", "failed"):
                if ended is not None:
                    r.problem(FEED_MISMATCH, "竞价室记录中竞价结束了不止一次")
                ended, closing, due = at, state, _due(state, end, free_end)
                if due is not None and at < due:
                    r.problem(ENDED_EARLY, f"竞价应于 {due.isoformat()} 结束，实际结束于 {at.isoformat()}")
                elif due is not None and at > due:
                    r.problem(END_MISMATCH, f"竞价应于 {due.isoformat()} 结束，竞价室记录结束于 {at.isoformat()}")
            state = to
        elif kind == "bid":
            seen += 1
            seq = p.get("seq")
            b = bids[seen - 1] if seen <= len(bids) else None
            if seq != seen or b is None or b.get("seq") != seq:
                r.problem(FEED_MISMATCH, f"竞价室第 {seen} 次出价记录（序号 {seq}）与出价记录不符")
                continue
            if records.bid_key(p) != records.bid_key(b):
                r.problem(FEED_MISMATCH, f"出价 {seq} 的竞买号牌、金额、阶段或时间与竞价室记录不符")
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
    if plan is not None and (plan["bidding_starts_at"], plan["free_ends_at"]) != (start, free_end):
        r.problem(
            ANNOUNCEMENT_MISMATCH,
            f"公告的竞价时间经延期与暂停后应为 {plan['bidding_starts_at'].isoformat()} 至 "
            f"{plan['free_ends_at'].isoformat()}，标的信息为 {start} 至 {free_end}",
        )
    if ended is None:
        r.problem(FEED_MISMATCH, "竞价室记录中没有竞价结束")
        closing, due = state, _due(state, end, free_end)
    claimed = _at(body["ended_at"])
    if ended is not None and claimed != ended:
        r.problem(FEED_MISMATCH, f"竞价室记录的结束时间 {ended.isoformat()} 与结果 {body['ended_at']} 不符")
    if due is None:
        r.problem(END_MISMATCH, f"竞价在“{closing}”阶段结束，该阶段不会自行结束")
    elif claimed != due:
        r.problem(END_MISMATCH, f"签名结果的结束时间为 {body['ended_at']}，复算为 {due.isoformat()}")


def _due(state: str | None, countdown_end: dt.datetime | None, free_end: dt.datetime | None) -> dt.datetime | None:
    """When a lot in ``state`` ends by itself: when its countdown runs out, or a listing that does
    not go on to timed bidding at the listing's end (None: it does not end in that state)."""
    return {"countdown": countdown_end, "listing": free_end}.get(str(state))


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
        reserve = amount(body["reserve"]["price"])  # the commitment did not open (reported): judge by the claim
    if bids:
        last = bids[-1]
        r.highest = str(last["amount"])
        sold = reserve is None or amount(last["amount"]) >= reserve
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
