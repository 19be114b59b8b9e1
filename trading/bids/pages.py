"""Bidder pages. Sealing happens on the bidder's own machine with ``ggzy-bid``, never here."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from signing.errors import SigningError
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.bids import receipts, uploads
from trading.bids.api import platform_keys, staging, upload_json
from trading.tenders.models import Interest, Lot, Tender

# The endpoints keep the name "bidding" (bidding.my_bids, ...): the portal and its pages link to them.
pages = Blueprint("bidding", __name__, template_folder="templates")


@pages.get("/bidder/tool")
@requires(Permission.PUBLIC)
def tool_help() -> str:
    """How to install and use ggzy-bid for a whole round (public: bidders read it before they
    register), with the platform's root certificate the checks need and its SM3 to compare."""
    return render_template("bids/tool.html", root=platform_keys().ca.cert)


@pages.get("/bidder/tool/root.pem")
@requires(Permission.PUBLIC)
def root_certificate() -> Response:
    """The platform's root certificate (PEM): what ``ggzy-bid verify | unseal | receipt verify``
    and ``download --ca`` check against. Its SM3 is on the tool page, to compare it by another way."""
    resp = Response(platform_keys().ca.cert.to_pem(), mimetype="application/x-pem-file")
    resp.headers["Content-Disposition"] = "attachment; filename=root.pem"
    return resp


@pages.get("/my/bids")
@requires(Permission.TENDER_PARTICIPATE)
def my_bids() -> str:
    """The bidder's own bids and receipts (no one else can see them before the opening), and its
    unfinished uploads, each with a button to give it up (they count against its caps)."""
    user = web.require_user()
    db = web.db()
    tenders = {
        t.id: t
        for t in db.scalars(
            select(Tender)
            .join(Interest, Interest.tender_id == Tender.id)
            .where(Interest.org_id == user.organisation_id)
        )
    }
    # each bid with its tender and lot: two bids of one tender differ by their lot
    bids = [(b, db.get(Tender, b.tender_id), db.get(Lot, b.lot_id)) for b in receipts.my_bids(db, user)]
    unfinished = [upload_json(u) for u in uploads.open_uploads(db, user)]
    return render_template("bids/bids.html", bids=bids, tenders=tenders, uploads=unfinished)


@pages.post("/my/bids/uploads/<upload_id>/abandon")
@requires(Permission.TENDER_PARTICIPATE)
def abandon_upload_page(upload_id: str) -> ResponseReturnValue:
    """放弃 an unfinished upload from the page, as ``ggzy-bid uploads abandon`` does."""

    def step() -> None:
        upload = uploads.get_upload(web.db(), web.require_user(), upload_id, for_update=True)
        uploads.abandon_upload(web.db(), staging(), upload)

    web.form_step(step, "已放弃该上传，平台已删除收到的数据", "未放弃")
    return redirect(url_for("bidding.my_bids"))


@pages.get("/my/bids/<ciphertext_sm3>/receipt.json")
@requires(Permission.TENDER_PARTICIPATE)
def receipt_file(ciphertext_sm3: str) -> Response:
    """The receipt (a detached signed statement) as the exact bytes the platform stored: served
    as octet-stream, like ``record.sig``, so nothing on the way re-encodes what is verified."""
    bid = receipts.get_my_bid(web.db(), web.require_user(), ciphertext_sm3)
    resp = Response(bid.receipt.encode(), mimetype="application/octet-stream")
    resp.headers["Content-Disposition"] = f'attachment; filename="receipt-{ciphertext_sm3[:16]}.json"'
    return resp


@pages.route("/receipts/verify", methods=["GET", "POST"])
@requires(Permission.PUBLIC)
def verify_receipt() -> ResponseReturnValue:
    """Anyone can check a receipt against the platform certificate, here or offline with ggzy-bid."""
    result, error = None, ""
    if request.method == "POST":
        raw = request.files.get("receipt")
        data = raw.read(100_000) if raw else (request.form.get("receipt_text") or "").encode()
        try:
            result = receipts.verify_receipt(platform_keys(), data)
        except SigningError as exc:
            error = f"回执无效：{exc}"
    status = 422 if error else 200
    return render_template("bids/verify.html", result=result, error=error), status
