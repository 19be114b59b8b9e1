"""Bidder pages. Sealing happens on the bidder's own machine with ``ggzy-bid``, never here."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue

from trading.permissions import Permission, requires

bp = Blueprint("bidding", __name__, template_folder="templates")


@bp.get("/bidder/tool")
@requires(Permission.PUBLIC)
def tool_help() -> str:
    """How to install and use ggzy-bid (public: bidders read it before they register)."""
    return render_template("bidding/tool.html")


@bp.get("/my/bids")
@requires(Permission.TENDER_PARTICIPATE)
def my_bids() -> str:
    """The bidder's own bids and receipts (no one else can see them before the opening)."""
    from sqlalchemy import select

    from bidding.operations import my_bids as list_bids
    from trading import web
    from trading.tenders.models import Interest, Tender

    user = web.require_user()
    bids = list_bids(web.db(), user)
    tenders = {
        t.id: t
        for t in web.db().scalars(
            select(Tender)
            .join(Interest, Interest.tender_id == Tender.id)
            .where(Interest.org_id == user.organisation_id)
        )
    }
    return render_template("bidding/bids.html", bids=bids, tenders=tenders)


@bp.get("/my/bids/<ciphertext_sm3>/receipt.json")
@requires(Permission.TENDER_PARTICIPATE)
def receipt_file(ciphertext_sm3: str) -> Response:
    from bidding.operations import get_my_bid
    from trading import web

    bid = get_my_bid(web.db(), web.require_user(), ciphertext_sm3)
    resp = Response(bid.receipt, mimetype="application/json")
    resp.headers["Content-Disposition"] = f"attachment; filename=receipt-{ciphertext_sm3[:16]}.json"
    return resp


@bp.route("/receipts/verify", methods=["GET", "POST"])
@requires(Permission.PUBLIC)
def verify_receipt() -> ResponseReturnValue:
    """Anyone can check a receipt against the platform certificate, here or offline with ggzy-bid."""
    from flask import current_app, request

    from signing.errors import SigningError
    from signing.statements import SignedStatement
    from trading.platform_keys import load_platform_keys

    result, error = None, ""
    if request.method == "POST":
        raw = request.files.get("receipt")
        data = raw.read(100_000) if raw else (request.form.get("receipt_text") or "").encode()
        try:
            keys = load_platform_keys(current_app.extensions["ggzy.settings"])
            result = SignedStatement.from_json(data.strip()).verify(trusted=keys.sign_cert, expected_type="bid_receipt")
        except SigningError as exc:
            error = f"回执无效：{exc}"
    status = 422 if error else 200
    return render_template("bidding/verify.html", result=result, error=error), status
