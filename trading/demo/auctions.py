"""Rights trading in the demo (产权交易): a land lot in its listing period with two quotes, an
emission-rights lot bid for, sold and archived in the history, and a share transfer whose online
bidding opens two minutes after the demo starts, where ``bidder1`` may bid at once.

Every act goes through the API as its role would make it, at the instant it happens: the history's
lots under its frozen clock, the live lot at the real clock. The procedures they use are demo-only
rows (their periods are minutes, their names and sources say so); the real ones (39号令, 32号令)
are beside them on the procedures page.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import ActorRef, record_event
from archive.clock import FrozenClock
from signing.sm2 import PrivateKey
from signing.statements import auction_bid_statement
from trading.auctions.models import AuctionProcedure, Method
from trading.demo.actors import Actor
from trading.demo.scheduler import History

DEMO_LISTING = "demo_land_listing"
DEMO_ONLINE = "demo_online"
DEMO_EMISSION = "demo_emission"
DEMO_SOURCE = "演示数据，不适用于真实项目（真实标的适用国土资源部令第39号、国资委 财政部令第32号）"
PROCEDURES = (
    # code, name, method, category, listing days, free minutes, countdown seconds
    (DEMO_LISTING, "演示用国有建设用地使用权挂牌（仅演示实例）", Method.LISTING, "land_use", 10, 0, 300),
    (DEMO_ONLINE, "演示用国有产权网络竞价（仅演示实例）", Method.ONLINE, "state_property", 0, 30, 60),
    (DEMO_EMISSION, "演示用排污权网络竞价（仅演示实例）", Method.ONLINE, "emission", 0, 10, 60),
)


def ensure_procedures(session: Session) -> None:
    """The demo's procedures: no announcement period, so its lots can open within the demo."""
    for code, name, method, category, listing, free, countdown in PROCEDURES:
        if session.get(AuctionProcedure, code) is not None:
            continue
        session.add(
            AuctionProcedure(
                code=code,
                name=name,
                method=method,
                category=category,
                day_kind="calendar",
                min_announcement_days=0,
                min_listing_days=listing,
                extension_days=0,
                free_minutes=free,
                countdown_seconds=countdown,
                publicity_days=5,
                refund_days=5,
                source=DEMO_SOURCE,
            )
        )
        session.flush()
        record_event(
            session, ActorRef("cli:demo-seed", "admin"), "procedure.create", ("procedure", code), {"code": code}
        )
    session.commit()


def lot(staff: Actor, body: dict[str, Any], reserve: str | None) -> str:
    code = str(staff.call("POST", "/api/v1/auctions", expect=201, json=body)["code"])
    staff.call("POST", f"/api/v1/auctions/{code}/publish", json={"reserve_price": reserve})
    return code


def buyers(staff: Actor, code: str, who: list[Actor], contacts: list[tuple[str, str]]) -> dict[str, str]:
    """Each applies, staff approve (a number is drawn), it reports its transfer, staff confirm it."""
    numbers = {}
    for b, (name, phone) in zip(who, contacts, strict=True):
        reg = b.call(
            "POST",
            f"/api/v1/auctions/{code}/registrations",
            expect=201,
            json={"contact_name": name, "contact_phone": phone},
        )
        staff.call("POST", f"/api/v1/auction-registrations/{reg['id']}/review", json={"approve": True, "reason": ""})
        b.call("POST", f"/api/v1/auctions/{code}/registration/deposit", json={"reference": f"DEMO{reg['id']:06d}"})
        staff.call(
            "POST",
            f"/api/v1/auction-registrations/{reg['id']}/deposit/confirm",
            json={"reference": f"DEMO{reg['id']:06d}"},
        )
        numbers[b.username] = str(b.call("GET", f"/api/v1/auctions/{code}/registration")["bidding_number"])
    return numbers


def bid(b: Actor, key: PrivateKey, code: str, number: str, amount: str) -> dict[str, Any]:
    """What ``ggzy-bid auction bid`` does: sign the number, the amount and the last bid seen."""
    seen = int(b.call("GET", f"/api/v1/auctions/{code}")["current_seq"])
    sig = base64.b64encode(key.sign(auction_bid_statement(code, number, amount, seen))).decode()
    out: dict[str, Any] = b.call(
        "POST", f"/api/v1/auctions/{code}/bids", expect=201, json={"amount": amount, "seen_seq": seen, "signature": sig}
    )
    return out


def local_text(at: dt.datetime) -> str:
    return f"{clock.local(at):%m-%d %H:%M}"


def history_lots(
    staff: Actor, bidders: list[Actor], keys: list[PrivateKey], moment: FrozenClock, history: History
) -> list[str]:
    """In the history: the land listing (quotes by bidder2 and bidder3; its 10-day listing runs past
    the demo's start) and an emission-rights lot sold to bidder1 in timed bidding."""
    now = moment.current
    end = (now + dt.timedelta(days=11)).replace(minute=0, second=0, microsecond=0)
    land = lot(
        staff,
        {
            "title": "福州市晋安区鼓山镇 2026-18 号地块国有建设用地使用权（演示）",
            "procedure_code": DEMO_LISTING,
            "region": "350111",
            "transferor": "福州市自然资源和规划局",
            "description": "宗地面积 23,456 平方米，用途为城镇住宅用地，出让年限 70 年，容积率不大于 2.5。",
            "qualification": "中华人民共和国境内的法人和其他组织（法律法规另有规定的除外）。",
            "starting_price": "120000000.00",
            "increment": "1000000.00",
            "deposit": "24000000.00",
            "registration_ends_at": (end - dt.timedelta(days=1)).isoformat(),
            "bidding_starts_at": (now + dt.timedelta(minutes=10)).isoformat(),
            "free_ends_at": end.isoformat(),
        },
        "130000000.00",
    )
    moment.advance(minutes=2)
    numbers = buyers(staff, land, bidders[1:3], [("陈经理", "13800000002"), ("林经理", "13800000003")])
    moment.advance(minutes=10)
    bid(bidders[1], keys[1], land, numbers["bidder2"], "120000000.00")
    moment.advance(minutes=25)
    bid(bidders[2], keys[2], land, numbers["bidder3"], "121000000.00")

    moment.advance(minutes=5)
    now = moment.current
    emission = lot(
        staff,
        {
            "title": "化学需氧量排污权 50 吨/年（2027 年度）（演示）",
            "procedure_code": DEMO_EMISSION,
            "region": "350100",
            "transferor": "福州市生态环境局",
            "description": "排污权指标 50 吨/年，使用期限至 2027 年 12 月 31 日。",
            "qualification": "持有排污许可证的福州市辖区内排污单位。",
            "starting_price": "600000.00",
            "increment": "10000.00",
            "deposit": "60000.00",
            "registration_ends_at": (now + dt.timedelta(minutes=20)).isoformat(),
            "bidding_starts_at": (now + dt.timedelta(minutes=30)).isoformat(),
            "free_ends_at": (now + dt.timedelta(minutes=40)).isoformat(),
        },
        "620000.00",
    )
    moment.advance(minutes=3)
    e_numbers = buyers(
        staff, emission, [bidders[0], bidders[2]], [("王经理", "13800000001"), ("林经理", "13800000003")]
    )
    moment.advance(minutes=28)
    bid(bidders[0], keys[0], emission, e_numbers["bidder1"], "600000.00")
    moment.advance(minutes=4)
    bid(bidders[2], keys[2], emission, e_numbers["bidder3"], "620000.00")
    moment.advance(minutes=5, seconds=30)  # in the countdown (from the free period's end, 60 s)
    bid(bidders[0], keys[0], emission, e_numbers["bidder1"], "640000.00")
    history.run(moment, "auction_clock", 61)  # the countdown ran out: sold to bidder1
    history.run(moment, "auction_result_pdfs", 5)
    history.archive(moment)
    return [
        f"{land} 挂牌出让中（演示）：bidder2、bidder3 已报价，挂牌至 {local_text(end)}；bidder1 可在 /auctions/{land} 申请竞买",
        f"{emission} 排污权已在限时竞价中成交给 bidder1（号牌 {e_numbers['bidder1']}），成交确认书和档案包见 /auctions/{emission}/result",
    ]


def live_lot(staff: Actor, bidders: list[Actor]) -> list[str]:
    """At the real clock: a share transfer whose bidding opens two minutes after the demo starts;
    bidder1 and bidder2 are approved with their deposits confirmed. Free bidding runs half an hour,
    then each bid restarts a one-minute countdown (with no bid in the room it fails, 流拍)."""
    now = clock.now()
    opens = (now + dt.timedelta(minutes=2)).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    code = lot(
        staff,
        {
            "title": "福州某国有企业持有的福州榕城物流有限公司 30% 股权（演示）",
            "procedure_code": DEMO_ONLINE,
            "region": "350100",
            "transferor": "福州市国有资产投资发展集团有限公司",
            "description": "转让标的为福州榕城物流有限公司 30% 股权，评估值 2,950 万元。",
            "qualification": "依法设立并有效存续的企业法人，具有良好的财务状况和支付能力。",
            "starting_price": "29500000.00",
            "increment": "100000.00",
            "deposit": "3000000.00",
            "registration_ends_at": (opens - dt.timedelta(seconds=30)).isoformat(),
            "bidding_starts_at": opens.isoformat(),
            "free_ends_at": (opens + dt.timedelta(minutes=30)).isoformat(),
        },
        None,
    )
    numbers = buyers(staff, code, bidders[0:2], [("王经理", "13800000001"), ("陈经理", "13800000002")])
    return [
        f"{code} 网络竞价 {local_text(opens)} 开始（约两分钟后），自由竞价 30 分钟后进入限时竞价（每次出价重新计时"
        f" 60 秒）：以 bidder1 登录进入 /auctions/{code}/room 出价（号牌 {numbers['bidder1']}），公众在"
        f" /auctions/{code}/watch 旁观"
    ]
