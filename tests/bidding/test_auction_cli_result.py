"""``ggzy-bid auction result``: a lot's signed result checked as an outsider would, with the
platform's root certificate and the public API alone; the result statement's SM3 computed from the
signed file and held to what the platform publishes; the bids' digest recomputed whenever the public
bids name the bid each buyer had seen, and said plainly to be unchecked when they do not; each part
that does not hold refused by its name."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from typing import Any

import pytest

from bidding.auction_result import ResultProblem, bid_rows, check_result
from signing.canonical import canonical_json
from signing.certs import CertificateAuthority, TrustStore, Usage
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import reserve_commitment, sign_statement
from tests.bidding.hostile_server import as_json, serving
from tests.bidding.test_auction_cli_feed import CODE, english, lots_client, tool


def signed_result(
    shown: dict[str, Any] | None = None, published_sm3: dict[str, Any] | None = None, **change: Any
) -> dict[str, Any]:
    """A platform (a CA of the test's own and its signing certificate) and a result it signed for
    three bids and a reserve of 1,015,000.00, with ``change`` made to the body before signing,
    ``shown`` over each public bid and ``published_sm3`` over the result's answer."""
    shown = shown or {}
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
    result = {"statement": statement.to_json().decode(), "result_sm3": sm3_hex(statement.to_json())}
    return {
        "trust": TrustStore((ca.cert,)),
        "ca": ca,
        "result_sm3": result["result_sm3"],
        "routes": {
            f"/api/v1/auctions/{CODE}/result": as_json(result | (published_sm3 or {})),
            f"/api/v1/auctions/{CODE}": as_json({"code": CODE, "reserve_sm3": published}),
            f"/api/v1/auctions/{CODE}/bids": as_json({"items": [b | shown for b in bids], "more": False}),
        },
    }


def test_a_result_that_holds_up_is_checked_whole(tmp_path: pathlib.Path) -> None:
    r = signed_result()
    with serving(r["routes"]) as url:
        checked = check_result(lots_client(url), CODE, r["trust"])
        root = tmp_path / "root.pem"
        root.write_bytes(r["ca"].cert.to_pem())
        out = tool(url)("auction", "result", CODE, "--ca", str(root))
    assert checked.bids_checked and checked.body["final_price"] == "1030000.00" and len(checked.bids) == 3
    assert checked.result_sm3 == r["result_sm3"] and checked.published_sm3
    assert f"结果声明 SM3：{r['result_sm3']}\n" in out and "结果声明 SM3 由签名文件算出，与平台公布的一致" in out
    assert "由公开的 3 次出价（号牌、金额、所见序号、接受时间）重算的全部出价摘要与签名结果一致" in out
    assert not english(out)


def test_without_the_seen_seq_the_bids_digest_is_said_to_be_unchecked(tmp_path: pathlib.Path) -> None:
    r = signed_result(bids_sm3="0" * 64)  # a wrong digest cannot be told without each bid's seen_seq
    routes = dict(r["routes"])
    bids = [
        {k: v for k, v in b.items() if k != "seen_seq"}
        for b in json.loads(routes[f"/api/v1/auctions/{CODE}/bids"][2])["items"]
    ]
    routes[f"/api/v1/auctions/{CODE}/bids"] = as_json({"items": bids, "more": False})
    root = tmp_path / "root.pem"
    root.write_bytes(r["ca"].cert.to_pem())
    with serving(routes) as url:
        checked = check_result(lots_client(url), CODE, r["trust"])
        out = tool(url)("auction", "result", CODE, "--ca", str(root))
    assert not checked.bids_checked
    assert (
        "没有写明各次出价时所见的序号，无法由它们重算全部出价摘要（bids_sm3）" in out
        and "重算的全部出价摘要与" not in out
    )


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
        ({"published_sm3": {"result_sm3": "0" * 64}}, "result_sm3_mismatch"),
        ({"published_sm3": {"statement": None}}, "result_malformed"),
        ({"shown": {"seen_seq": "1"}}, "bids_malformed"),
        ({"shown": {"seen_seq": 7}}, "bids_malformed"),  # a bid cannot have seen a later one
        ({"shown": {"amount": "lots"}}, "bids_malformed"),
        ({"shown": {"bidding_number": None}}, "bids_malformed"),
    ],
)
def test_a_result_that_does_not_hold_up_is_refused_by_name(change: dict[str, Any], code: str) -> None:
    r = signed_result(**change)
    with serving(r["routes"]) as url, pytest.raises(ResultProblem) as refused:
        check_result(lots_client(url), CODE, r["trust"])
    assert refused.value.code == code
