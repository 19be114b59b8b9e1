"""The bidding room's JSON API (竞价室): buyers' signed bids and the listing's request for timed
bidding, staff's pause, resume and increment, and the public reads of the bids and the feed (what a
page or ``ggzy-bid auction`` polls when it cannot follow the live server, and how it catches up)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from archive import clock
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.auctions import bidding, feed, room
from trading.auctions.models import Auction, AuctionState
from trading.auctions.room_schemas import (
    AfterQuery,
    BidIn,
    BidOut,
    BidsOut,
    EventsOut,
    IncrementIn,
    PauseIn,
    RoomOut,
    TimedOut,
)
from trading.core.apispec import documented
from trading.core.errors import NotFound
from trading.core.services import services

api = Blueprint("auction_room_api", __name__, url_prefix="/api/v1")

BID_ERRORS = (
    "auction_not_found",
    "not_a_buyer",
    "invalid_amount",
    "seen_seq_invalid",
    "certificate_missing",
    "certificate_expired",
    "certificate_revoked",
    "invalid_signature",
    "auction_not_started",
    "auction_paused",
    "bid_late",
    "auction_ended",
    "bid_too_low",
    "not_in_timed_bidding",
)
REASON_ERRORS = ("reason_required", "reason_too_long")


def public_lot(code: str) -> Auction:
    """The lot, if the asker may see it: announced lots are public, drafts only staff's."""
    a = bidding.get_auction(web.db(), code)
    if a.state is AuctionState.DRAFT and not web.has_permission(Permission.AUCTION_READ.value):
        raise NotFound("未找到该标的", code="auction_not_found")
    return a


def room_answer(a: Auction) -> Response:
    return jsonify(feed.room_state(web.db(), a))


@api.post("/auctions/<code>/bids")
@requires(Permission.AUCTION_BUY)
@documented(
    "出价（SM2 签名的出价声明；按数据库接受的顺序编号）",
    body=BidIn,
    ok=BidOut,
    status=201,
    errors=BID_ERRORS,
    example={"amount": "1010000.00", "seen_seq": 1, "signature": "MEUCIQ…"},
)
def place(code: str) -> tuple[Response, int]:
    """The buyer signs ``signing.statements.auction_bid_statement(code, bidding_number, amount,
    seen_seq)``. Accepted only at or above the minimum next bid; in the countdown each accepted bid
    restarts it. A bid that arrives after the countdown ran out is refused as late (``bid_late``)."""
    data = web.json_body(BidIn)
    bid = bidding.place_bid(
        web.db(), services(current_app), web.require_user(), code, data.amount, data.seen_seq, data.signature
    )
    web.commit()
    return jsonify(feed.bid_out(bid)), 201


@api.post("/auctions/<code>/timed")
@requires(Permission.AUCTION_BUY)
@documented(
    "挂牌：申请挂牌截止时参加限时竞价（两家及以上申请时转入限时竞价）",
    ok=TimedOut,
    errors=("auction_not_found", "not_a_buyer", "not_listing"),
)
def timed(code: str) -> Response:
    reg = bidding.request_timed(web.db(), services(current_app), web.require_user(), code)
    web.commit()
    return jsonify({"bidding_number": reg.bidding_number, "wants_timed": reg.wants_timed})


@api.post("/auctions/<code>/pause")
@requires(Permission.AUCTION_MANAGE)
@documented(
    "暂停竞价（技术故障，须写明原因；剩余时间保留）",
    body=PauseIn,
    ok=RoomOut,
    errors=("auction_not_found", "not_pausable", "auction_transition", *REASON_ERRORS),
)
def pause(code: str) -> Response:
    data = web.json_body(PauseIn)
    a = room.pause(web.db(), services(current_app), web.require_user(), code, data.reason)
    web.commit()
    return room_answer(a)


@api.post("/auctions/<code>/resume")
@requires(Permission.AUCTION_MANAGE)
@documented("恢复竞价（暂停前尚未到达的时间点顺延暂停的时长）", ok=RoomOut, errors=("auction_not_found", "not_paused"))
def resume(code: str) -> Response:
    a = room.resume(web.db(), services(current_app), web.require_user(), code)
    web.commit()
    return room_answer(a)


@api.post("/auctions/<code>/increment")
@requires(Permission.AUCTION_MANAGE)
@documented(
    "调整加价幅度（须写明原因；自下一次出价起适用）",
    body=IncrementIn,
    ok=RoomOut,
    errors=("auction_not_found", "invalid_amount", "not_adjustable", "increment_unchanged", *REASON_ERRORS),
)
def increment(code: str) -> Response:
    data = web.json_body(IncrementIn)
    a = room.change_increment(web.db(), services(current_app), web.require_user(), code, data.increment, data.reason)
    web.commit()
    return room_answer(a)


@api.get("/auctions/<code>/bids")
@requires(Permission.PUBLIC)
@documented(
    "已接受的出价（按序号；只有竞买号牌，没有名称）", ok=BidsOut, query=AfterQuery, errors=("auction_not_found",)
)
def bids(code: str) -> Response:
    a = public_lot(code)
    after = web.query_int("after", 0)
    rows = feed.bids_after(web.db(), a, after, feed.PAGE + 1)
    return jsonify(
        {
            "items": [feed.bid_out(b) for b in rows[: feed.PAGE]],
            "current_seq": a.current_seq,
            "more": len(rows) > feed.PAGE,
            "server_time": clock.now().isoformat(),
        }
    )


@api.get("/auctions/<code>/events")
@requires(Permission.PUBLIC)
@documented(
    "竞价室的公开事件（出价、阶段变化、暂停、调整加价幅度、结果）及当前状态；断线后按 after 补齐",
    ok=EventsOut,
    query=AfterQuery,
    errors=("auction_not_found",),
)
def events(code: str) -> Response:
    a = public_lot(code)
    after = web.query_int("after", 0)
    rows = feed.events_after(web.db(), a, after, feed.PAGE + 1)
    state = feed.room_state(web.db(), a)
    return jsonify(
        {
            "items": [feed.event_body(e) for e in rows[: feed.PAGE]],
            "more": len(rows) > feed.PAGE,
            "state": state,
            "server_time": state["server_time"],
        }
    )
