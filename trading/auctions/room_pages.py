"""The bidding room's pages (竞价室): the buyer's page (its own bidding number, the price, the next
acceptable bid, the server's time and countdown, every accepted bid, and a bid signed in the browser
with the buyer's key file), the public page (the same room without the form: numbers, never names)
and staff's console (pause with a reason, resume, the increment, and whose each number is).

Every page follows the room with ``static/auction.js``: the live server (``LIVE_URL``) when one runs,
else polling ``/api/v1/auctions/<code>/events?after=N``; either way a page that lost its connection
catches up on every event it missed when it comes back.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from trading.accounts import web
from trading.accounts.models import Organisation
from trading.accounts.permissions import Permission, requires
from trading.auctions import bidding, feed, room, room_api
from trading.auctions.models import Auction, Method, Registration, RegistrationState
from trading.core.errors import DomainError, InvalidInput
from trading.core.services import services

pages = Blueprint("auction_room", __name__, template_folder="templates")
#: how many of the latest bids a page draws at first (the script adds each new one)
SHOWN_BIDS = 200
DONE = {"pause": "竞价已暂停", "resume": "竞价已恢复", "increment": "加价幅度已调整"}


def room_context(a: Auction) -> dict[str, Any]:
    """What every room page draws at first and hands to ``auction.js`` (its data- attributes)."""
    db = web.db()
    state = feed.room_state(db, a)
    latest = max(0, a.current_seq - SHOWN_BIDS)
    bids = [feed.bid_out(b) for b in feed.bids_after(db, a, latest, SHOWN_BIDS)]
    method = bidding.procedure_of(db, a).method
    return {
        "a": a,
        "state": state,
        "bids": list(reversed(bids)),
        "listing": method is Method.LISTING,
        "room_data": {
            "code": a.code,
            "state": state,
            "bids": bids,
            "live": feed.live_stream(a, services(current_app).settings.live_url),
            "events_url": url_for("auction_room_api.events", code=a.code),
            "bids_url": url_for("auction_room_api.bids", code=a.code),
        },
    }


@pages.get("/auctions/<code>/watch")
@requires(Permission.PUBLIC)
def watch(code: str) -> str:
    """观看竞价: anyone, signed in or not; numbers, never names."""
    return render_template("auctions/watch.html", **room_context(room_api.public_lot(code)))


@pages.get("/auctions/<code>/room")
@requires(Permission.AUCTION_BUY)
def buyer_room(code: str) -> str:
    """The buyer's bidding page: its own number, and the form that signs a bid with its key file."""
    a = room_api.public_lot(code)
    reg = bidding.registration_of(web.db(), a, web.require_user())
    ctx = room_context(a)
    ctx["room_data"]["number"] = reg.bidding_number if reg is not None and reg.may_bid else None
    return render_template("auctions/room.html", reg=reg, why_not=why_not(reg), **ctx)


def why_not(reg: Registration | None) -> str | None:
    """Why this buyer may not bid here (None: it may)."""
    if reg is None:
        return "贵单位未申请竞买本标的"
    if reg.state is not RegistrationState.APPROVED:
        return f"贵单位的竞买申请{reg.state.label}"
    if not reg.may_bid:
        return f"竞买保证金{reg.deposit_state.label}，到账确认后才能出价"
    return None


# The buyer page's bid (auction.js): the API's own view, reached with the page's session and its
# CSRF token in X-CSRFToken; refusals answer in JSON (the script sends Accept: application/json).
@pages.post("/auctions/<code>/room/bid")
@requires(Permission.AUCTION_BUY)
def bid(code: str) -> ResponseReturnValue:
    return room_api.place(code)


@pages.post("/auctions/<code>/room/timed")
@requires(Permission.AUCTION_BUY)
def timed(code: str) -> ResponseReturnValue:
    def step() -> object:
        return bidding.request_timed(web.db(), services(current_app), web.require_user(), code)

    web.form_step(step, "已申请参加限时竞价", "未能申请")
    return redirect(url_for("auction_room.buyer_room", code=code))


def buyers_of(a: Auction) -> list[dict[str, Any]]:
    """Whose each bidding number is: for staff and supervisors only."""
    q = (
        select(Registration, Organisation)
        .join(Organisation, Organisation.id == Registration.org_id)
        .where(Registration.auction_id == a.id, Registration.bidding_number.is_not(None))
        .order_by(Registration.bidding_number)
    )
    return [
        {
            "number": r.bidding_number,
            "name": o.name,
            "credit_code": o.credit_code,
            "state_label": r.state.label,
            "deposit_label": r.deposit_state.label,
            "may_bid": r.may_bid,
            "wants_timed": r.wants_timed,
        }
        for r, o in web.db().execute(q)
    ]


@pages.get("/auctions/<code>/console")
@requires(Permission.AUCTION_READ)
def console(code: str) -> str:
    """Staff's console (supervisors read it): the room, its controls, and whose each number is."""
    a = bidding.get_auction(web.db(), code)
    buyers = buyers_of(a)
    ctx = room_context(a)
    ctx["room_data"]["names"] = {b["number"]: b["name"] for b in buyers}
    manage = web.has_permission(Permission.AUCTION_MANAGE.value)
    return render_template("auctions/room_console.html", buyers=buyers, manage=manage, **ctx)


@pages.post("/auctions/<code>/console/<action>")
@requires(Permission.AUCTION_MANAGE)
def control(code: str, action: str) -> ResponseReturnValue:
    db, staff, svc, form = web.db(), web.require_user(), services(current_app), request.form
    try:
        if action == "pause":
            room.pause(db, svc, staff, code, form.get("reason", ""))
        elif action == "resume":
            room.resume(db, svc, staff, code)
        elif action == "increment":
            room.change_increment(db, svc, staff, code, form.get("increment", ""), form.get("reason", ""))
        else:
            raise InvalidInput("未知操作")
        web.commit()
        flash(DONE[action])
    except DomainError as exc:
        db.rollback()
        flash(f"未执行：{exc.message}")
    return redirect(url_for("auction_room.console", code=code))
