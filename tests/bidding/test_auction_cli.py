"""``ggzy-bid auction`` against the app served on loopback (SQLite and PostgreSQL): a land lot set up
and published by staff through the API; two buyers apply from the terminal, staff approve them and
confirm their deposits; each sees its own bidding number; bids signed with the buyer's key file are
accepted in order, a low one is refused by name in Chinese, a bad amount is refused before anything
is sent; the countdown restarts with each bid; ``follow`` prints every bid by number, amount, time
and countdown until the lot is sold, and ``show`` the result with the reserve revealed."""

from __future__ import annotations

import datetime as dt
import pathlib
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from bidding.auction_result import bid_rows
from signing.canonical import canonical_json
from signing.certs import CertificateAuthority, Usage
from signing.digest import sm3_hex
from signing.statements import SignedStatement, reserve_commitment
from tests.bidding import test_bidder_actions
from tests.bidding.test_bidder_actions import KEY_PASSWORD, tool_for
from tests.factories import BidderKeys, api_token, make_bidder_with_keys, make_user, platform_keys
from trading.accounts.models import Organisation, Role
from trading.auctions.models import Auction, AuctionBid
from trading.pki.operations import current_certificate

served = test_bidder_actions.served  # the fixture: the real app on 127.0.0.1


def key_folder(session: Session, b: BidderKeys, folder: pathlib.Path) -> pathlib.Path:
    folder.mkdir()
    cert = current_certificate(session, b.user, Usage.SIGN)
    assert cert is not None
    (folder / "sign.key").write_bytes(b.sign_key.to_pem(KEY_PASSWORD.encode()))
    (folder / "sign.crt").write_bytes(cert.to_pem())
    return folder


def published_lot(client: FlaskClient, staff: dict[str, str], now: dt.datetime) -> dict[str, Any]:
    """A land auction announced now: registration for 20 days, bidding from the 21st day (39号令
    第十一条), free bidding for an hour, a reserve of 1,015,000.00."""
    starts = now + dt.timedelta(days=21)
    body = {
        "title": "福州市鼓楼区某地块国有建设用地使用权（命令行竞价）",
        "procedure_code": "land_auction",
        "region": "350102",
        "transferor": "福州市自然资源和规划局",
        "starting_price": "1000000.00",
        "increment": "10000.00",
        "deposit": "200000.00",
        "registration_ends_at": (now + dt.timedelta(days=20)).isoformat(),
        "bidding_starts_at": starts.isoformat(),
        "free_ends_at": (starts + dt.timedelta(hours=1)).isoformat(),
    }
    r = client.post("/api/v1/auctions", json=body, headers=staff)
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    r = client.post(f"/api/v1/auctions/{code}/publish", json={"reserve_price": "1015000.00"}, headers=staff)
    assert r.status_code == 200, r.get_json()
    return {"code": code, "starts": starts, "free_ends": starts + dt.timedelta(hours=1)}


def test_register_bid_refuse_and_follow_from_the_terminal(
    client: FlaskClient, session: Session, app: Flask, served: str, tmp_path: pathlib.Path
) -> None:
    staff_user = make_user(session, Role.STAFF)
    buyers = [make_bidder_with_keys(session, app) for _ in range(2)]
    session.commit()
    staff = api_token(client, staff_user.username)
    heads = [api_token(client, b.user.username) for b in buyers]
    keys = [key_folder(session, b, tmp_path / f"keys{i}") for i, b in enumerate(buyers)]
    run = [tool_for(served, h, tmp_path) for h in heads]
    anyone = tool_for(served, {"Authorization": "Bearer none"}, tmp_path, GGZY_TOKEN="")
    start = clock.now().replace(microsecond=0)
    with clock.frozen(start) as moved:
        lot = published_lot(client, staff, start)
        code = lot["code"]
        assert code in anyone("auction", "list")
        shown = anyone("auction", "show", code)
        assert (
            "公告中" in shown and "1,000,000.00 元" in shown and "底价承诺 SM3" in shown and "（结束时公开）" in shown
        )
        starts = f"{clock.local(lot['starts']):%Y-%m-%d %H:%M:%S}"
        assert f"距竞价开始 21 天 0 小时 0 分（至 {starts}）" in shown  # days, and no seconds, when that long

        # --- apply from the terminal; staff approve and confirm the deposits through the API
        assert "联系电话" in run[0](
            "auction", "register", code, "--contact-name", "王五", "--contact-phone", "电话", code=2
        )
        for i, each in enumerate(run):
            out = each("auction", "register", code, "--contact-name", f"联系人{i}", "--contact-phone", "0591-88880000")
            assert "竞买申请已提交" in out and "待审核" in out
        assert "暂不能出价" in run[0]("auction", "status", code)
        assert "已报告汇款" in run[0]("auction", "deposit", code, "--reference", "ICBC-20261206-0001")
        items = client.get(f"/api/v1/auctions/{code}/registrations", headers=staff).get_json()["items"]
        for reg in items:
            base = f"/api/v1/auction-registrations/{reg['id']}"
            answer = client.post(f"{base}/review", json={"approve": True, "reason": ""}, headers=staff)
            assert answer.status_code == 200, answer.get_json()
            answer = client.post(f"{base}/deposit/confirm", json={"reference": f"BANK-{reg['id']}"}, headers=staff)
            assert answer.status_code == 200, answer.get_json()
        numbers = []
        for each in run:
            status = each("auction", "status", code)
            assert "审核通过" in status and "已到账" in status and "可以出价" in status
            found = re.search(r"竞买号牌：(\d{4})（只有贵单位和平台知道）", status)
            assert found is not None, status
            numbers.append(found.group(1))
        assert "ICBC-20261206-0001" in run[0]("auction", "status", code)  # the ledger's lines

        # --- before the bidding starts: refused by name
        out = run[0]("auction", "bid", code, "--amount", "1000000", "--keys", str(keys[0]), code=2)
        assert "竞价尚未开始" in out and "[auction_not_started]" in out

        # --- free bidding
        moved.set(lot["starts"] + dt.timedelta(seconds=5))
        out = run[0]("auction", "bid", code, "--amount", "1000000", "--keys", str(keys[0]))
        assert f"第 1 次出价，号牌 {numbers[0]}，1,000,000.00 元" in out and "出价已接受" in out
        out = run[1]("auction", "bid", code, "--amount", "1005000.00", "--keys", str(keys[1]), code=2)
        assert "出价未被接受：出价低于当前最低应价" in out and "1,010,000.00" in out and "[bid_too_low]" in out
        for bad, why in (("12.345", "两位小数"), ("1,010,000", "不是数字"), ("-1", "正数")):
            out = run[1]("auction", "bid", code, "--amount", bad, "--keys", str(keys[1]), code=2)
            assert why in out
        assert "之一" in run[1]("auction", "bid", code, "--keys", str(keys[1]), code=2)
        assert "之一" in run[1]("auction", "bid", code, "--minimum", "--amount", "1", "--keys", str(keys[1]), code=2)
        out = run[1]("auction", "bid", code, "--minimum", "--keys", str(keys[1]))
        assert f"第 2 次出价，号牌 {numbers[1]}，1,010,000.00 元" in out
        shown = anyone("auction", "show", code)
        assert "当前价：1,010,000.00 元（第 2 次出价）" in shown and "最低应价：1,020,000.00 元" in shown
        assert "距自由竞价结束 59 分 55 秒" in shown  # the server's clock: 5 s into the hour of free bidding
        # a raise below the increment could only be refused: refused here, before the key is read
        empty = tmp_path / "no-keys"
        empty.mkdir()
        out = run[1]("auction", "bid", code, "--raise-by", "5000", "--keys", str(empty), code=2)
        assert "加价 5,000.00 元低于本标的当前的加价幅度 10,000.00 元" in out and "最低应价 1,020,000.00 元" in out
        assert "缺少证书" not in out

        # --- the countdown: each accepted bid restarts it
        moved.set(lot["free_ends"] + dt.timedelta(seconds=10))
        assert "限时竞价" in anyone("auction", "show", code)
        moved.advance(seconds=60)
        out = run[0]("auction", "bid", code, "--raise-by", "20000", "--keys", str(keys[0]))
        ends = clock.now() + dt.timedelta(seconds=300)
        assert (
            "第 3 次出价" in out
            and "1,030,000.00 元" in out
            and f"倒计时至 {clock.local(ends):%Y-%m-%d %H:%M:%S}" in out
        )

        # --- the countdown runs out: the lot is sold; follow shows it all and stops
        moved.advance(seconds=301)
        out = anyone("auction", "follow", code, "--poll")
    lines = [line for line in out.splitlines() if "次出价" in line]
    assert [line.split("\t")[1] for line in lines] == [f"号牌 {n}" for n in (numbers[0], numbers[1], numbers[0])]
    assert lines[2].split("\t")[2] == "1,030,000.00 元" and "倒计时至" in lines[2]
    assert "进入“自由竞价”" in out and "进入“限时竞价”" in out
    assert f"竞价结束：成交，成交价 1,030,000.00 元，竞得人号牌 {numbers[0]}" in out and "竞价已结束" in out
    winner = session.get(Organisation, buyers[0].user.organisation_id)
    assert winner is not None and winner.name not in out  # numbers, never names, in the room's feed

    shown = anyone("auction", "show", code)
    assert "结果：成交，成交价 1,030,000.00 元，共 3 次出价" in shown and winner.name in shown
    salt = re.search(r"盐值 ([0-9a-f]{32})", shown)
    sm3 = re.search(r"底价承诺 SM3：([0-9a-f]{64})", shown)
    assert salt and sm3 and "底价 1,015,000.00 元" in shown
    assert reserve_commitment("1015000.00", salt.group(1)) == sm3.group(1)  # the reserve opens its commitment
    status = run[0]("auction", "status", code)
    assert "已转为成交价款" in status

    # --- anyone checks the signed result with the root certificate and the public bids
    root = tmp_path / "root.pem"
    root.write_bytes(platform_keys(app).ca.cert.to_pem())
    saved = tmp_path / "结果.json"
    checked = anyone("auction", "result", code, "--ca", str(root), "--out", str(saved))
    assert "平台签名有效" in checked and "结果：成交，成交价 1,030,000.00 元，共 3 次出价" in checked
    sold = session.scalars(select(Auction).where(Auction.code == code)).one()
    assert sold.result_sm3 and f"结果声明 SM3：{sold.result_sm3}\n" in checked and "与平台公布的一致" in checked
    assert "SM3(盐值‖底价) 与发布时公布的承诺一致" in checked and winner.name in checked
    assert (
        SignedStatement.from_json(saved.read_bytes()).verify(trust=platform_keys(app).trust)["type"] == "auction_result"
    )
    # bids_sm3 is recomputable from the public fields once each bid names the seq it had seen: the
    # command recomputes it whenever the platform lists them, and says plainly when it cannot
    public = client.get(f"/api/v1/auctions/{code}/bids").get_json()["items"]
    if all("seen_seq" in b for b in public):
        assert "由公开的 3 次出价（号牌、金额、所见序号、接受时间）重算的全部出价摘要与签名结果一致" in checked
    else:
        assert "无法由它们重算全部出价摘要（bids_sm3）" in checked
    seen = dict(
        session.execute(select(AuctionBid.seq, AuctionBid.seen_seq).join(Auction).where(Auction.code == code)).all()
    )
    body = SignedStatement.from_json(saved.read_bytes()).body
    assert (
        sm3_hex(canonical_json(bid_rows(code, [{**b, "seen_seq": seen[b["seq"]]} for b in public]))) == body["bids_sm3"]
    )
    other = tmp_path / "other.pem"
    other.write_bytes(CertificateAuthority.create("别的根证书", now=clock.now()).cert.to_pem())
    assert "证书" in anyone("auction", "result", code, "--ca", str(other), code=2)  # not the platform's root
