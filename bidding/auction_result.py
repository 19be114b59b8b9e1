"""Checking a lot's result as any outsider can, with the platform's root certificate and the public
API alone: the platform's signature on the result (``auction_result``, format ``ggzy-auction-result/1``),
the reserve price's reveal against the commitment published with the lot (SM3 of salt ‖ price), the
digest of every accepted bid against the public list of bids (``bids_sm3``), and the outcome the bids
decide (the highest bid wins if it is not below the reserve). The archive package's replay
(``ggzy archive verify``) goes further: every signature, increment and countdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bidding.auction import detail, lot_path
from bidding.client import Requester
from signing.canonical import canonical_json
from signing.certs import TrustStore
from signing.digest import sm3_hex
from signing.statements import SignedStatement, auction_bid_statement, reserve_commitment

RESULT_TYPE = "auction_result"
RESULT_FORMAT = "ggzy-auction-result/1"


class ResultProblem(Exception):
    """The result does not hold up: ``code`` names the check, the message says it in Chinese."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} [{code}]")
        self.code, self.message = code, message


@dataclass(frozen=True)
class CheckedResult:
    body: dict[str, Any]  # the signed body
    signed_at: str
    statement: bytes  # the signed file as the platform serves it (canonical JSON)
    bids: list[dict[str, Any]]  # the public list, in order
    bids_checked: bool  # whether ``bids_sm3`` could be recomputed (each bid names its ``seen_seq``)
    result_sm3: str  # SM3 of the signed file, computed here
    published_sm3: bool  # whether the platform published it too (the PDF and the audit trail name it)


def all_bids(client: Requester, code: str) -> list[dict[str, Any]]:
    """Every accepted bid, page after page (``more``), in ``seq`` order; a bid the platform lists
    without its number, amount or time (or with one that is not what it should be) is refused."""
    out: list[dict[str, Any]] = []
    while True:
        got = client.request("GET", f"{lot_path(code)}/bids?after={len(out)}")
        items = got.get("items") if isinstance(got, dict) else None
        if not isinstance(items, list) or not all(isinstance(b, dict) for b in items):
            raise ResultProblem("bids_malformed", "平台的出价列表不是出价的列表")
        page = [_checked_bid(dict(b), len(out) + i + 1) for i, b in enumerate(items)]
        out += page
        if not got.get("more") or not page:
            return out


def _checked_bid(b: dict[str, Any], place: int) -> dict[str, Any]:
    fields_ok = (
        isinstance(b.get("seq"), int)
        and all(isinstance(b.get(k), str) for k in ("bidding_number", "amount", "accepted_at"))
        and ("seen_seq" not in b or (type(b["seen_seq"]) is int and 0 <= b["seen_seq"] < b["seq"]))
    )
    try:
        amount_ok = fields_ok and Decimal(b["amount"]).is_finite()
    except InvalidOperation:
        amount_ok = False
    if not amount_ok:
        raise ResultProblem(
            "bids_malformed", f"平台列出的第 {place} 次出价缺少或写错了序号、号牌、金额、所见序号或时间"
        )
    return b


def bid_rows(code: str, bids: list[dict[str, Any]]) -> list[list[Any]]:
    """What ``bids_sm3`` digests: [seq, bidding number, amount, SM3 of the signed statement, accepted
    at] for every bid, the statement rebuilt from the public fields (``seen_seq`` included)."""
    return [
        [
            b["seq"],
            b["bidding_number"],
            b["amount"],
            sm3_hex(auction_bid_statement(code, b["bidding_number"], b["amount"], int(b["seen_seq"]))),
            b["accepted_at"],
        ]
        for b in bids
    ]


def check_result(client: Requester, code: str, trust: TrustStore) -> CheckedResult:
    """The lot's result, checked; ``ResultProblem`` (or the signing package's error for a bad
    signature or certificate) when any part does not hold. ``bids_sm3`` is recomputed whenever the
    public bids name the bid each buyer had seen (``seen_seq``); without it, only their count and
    order are checked, and ``bids_checked`` says so."""
    got = client.request("GET", f"{lot_path(code)}/result")
    if not isinstance(got, dict) or not isinstance(got.get("statement"), str):
        raise ResultProblem("result_malformed", "平台的回复中没有签名的结果文件")
    raw = got["statement"].encode()
    content = SignedStatement.from_json(raw).verify(trust=trust, expected_type=RESULT_TYPE)
    body: dict[str, Any] = content["body"]
    if body.get("format") != RESULT_FORMAT or body.get("auction") != code:
        raise ResultProblem("result_other_lot", f"签名结果不是本标的的（{RESULT_FORMAT}）")
    digest = sm3_hex(raw)
    if got.get("result_sm3") and got["result_sm3"] != digest:  # what the PDF and the trail name
        raise ResultProblem("result_sm3_mismatch", "平台公布的结果声明 SM3 与签名文件本身算出的不同")
    _check_reserve(body, detail(client, code).get("reserve_sm3"))
    bids = all_bids(client, code)
    if [b.get("seq") for b in bids] != list(range(1, len(bids) + 1)) or len(bids) != body.get("bids"):
        raise ResultProblem(
            "bids_mismatch", f"公开的出价（{len(bids)} 次）与签名结果的出价次数（{body.get('bids')}）不符"
        )
    checkable = all("seen_seq" in b for b in bids)
    if checkable and sm3_hex(canonical_json(bid_rows(code, bids))) != body.get("bids_sm3"):
        raise ResultProblem("bids_sm3_mismatch", "公开的出价与签名结果中的全部出价摘要（bids_sm3）不符")
    _check_outcome(body, bids)
    published = bool(got.get("result_sm3"))
    return CheckedResult(body, str(content["signed_at"]), raw, bids, checkable, digest, published)


def _check_reserve(body: dict[str, Any], published: object) -> None:
    reserve = body.get("reserve")
    if reserve is None:
        if published:
            raise ResultProblem("reserve_missing", "标的公布了底价承诺，签名结果却没有揭示底价")
        return
    if reserve.get("sm3") != published:
        raise ResultProblem("reserve_mismatch", "签名结果中的底价承诺与标的公布的不同")
    if reserve_commitment(str(reserve.get("price")), str(reserve.get("salt"))) != published:
        raise ResultProblem("reserve_mismatch", "揭示的底价和盐值算出的 SM3 与公布的底价承诺不符")


def _check_outcome(body: dict[str, Any], bids: list[dict[str, Any]]) -> None:
    """What the bids decide: the highest (last) bid wins if it is not below the reserve."""
    last = bids[-1] if bids else None
    reserve = body.get("reserve")
    sold = last is not None and (reserve is None or Decimal(last["amount"]) >= Decimal(str(reserve["price"])))
    winner = body.get("winner") or {}
    expected = ("sold", last["amount"], last["bidding_number"]) if sold and last else ("failed", None, None)
    if (body.get("outcome"), body.get("final_price"), winner.get("bidding_number")) != expected:
        raise ResultProblem("outcome_mismatch", "按公开的出价和底价，结果应为：" + _said(expected))


def _said(expected: tuple[str, str | None, str | None]) -> str:
    outcome, price, number = expected
    return f"成交，成交价 {price} 元，竞得号牌 {number}" if outcome == "sold" else "流拍"
