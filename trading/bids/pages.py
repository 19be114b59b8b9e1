"""Bidder pages. Sealing happens on the bidder's own machine with ``ggzy-bid``, never here."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue

from trading.accounts.permissions import Permission, requires

bp = Blueprint("bidding", __name__, template_folder="templates")


@bp.get("/bidder/tool")
@requires(Permission.PUBLIC)
def tool_help() -> str:
    """How to install and use ggzy-bid (public: bidders read it before they register)."""
    return render_template("bidding/tool.html")


@bp.get("/my/bids")
@requires(Permission.TENDER_PARTICIPATE)
def my_bids() -> str:
    """The bidder's own bids and receipts (no one else can see them before the opening), and its
    unfinished uploads, each with a button to give it up (they count against its caps)."""
    from sqlalchemy import select

    from trading.accounts import web
    from trading.bids.api import upload_json
    from trading.bids.operations import my_bids as list_bids
    from trading.bids.operations import open_uploads
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
    uploads = [upload_json(u) for u in open_uploads(web.db(), user)]
    return render_template("bidding/bids.html", bids=bids, tenders=tenders, uploads=uploads)


@bp.post("/my/bids/uploads/<upload_id>/abandon")
@requires(Permission.TENDER_PARTICIPATE)
def abandon_upload_page(upload_id: str) -> ResponseReturnValue:
    """放弃 an unfinished upload from the page, as ``ggzy-bid uploads abandon`` does."""
    from flask import flash, redirect, url_for

    from trading.accounts import web
    from trading.bids import operations as ops
    from trading.bids.api import staging
    from trading.core.errors import DomainError

    try:
        upload = ops.get_upload(web.db(), web.require_user(), upload_id, for_update=True)
        ops.abandon_upload(web.db(), staging(), upload)
        web.commit()
        flash("已放弃该上传，平台已删除收到的数据")
    except DomainError as exc:
        web.db().rollback()
        flash(f"未放弃：{exc.message}")
    return redirect(url_for("bidding.my_bids"))


@bp.get("/my/bids/<ciphertext_sm3>/receipt.json")
@requires(Permission.TENDER_PARTICIPATE)
def receipt_file(ciphertext_sm3: str) -> Response:
    from trading.accounts import web
    from trading.bids.operations import get_my_bid

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
    from trading.core.platform_keys import load_platform_keys

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
