"""The exchange pages for staff and supervisors: what was pushed to the upper platform, what waits
(with the time of its next attempt), what was refused (with the receiver's named reason)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.services import services
from trading.exchange.api import page_arg
from trading.exchange.status import STATE_LABELS, TABLE_LABELS, get_record, listing

pages = Blueprint("exchange", __name__, template_folder="templates")


@pages.get("/exchange")
@requires(Permission.AUDIT_READ)
def list_page() -> str:
    state, tender = request.args.get("state") or None, (request.args.get("tender") or "").strip() or None
    page = page_arg()
    rows, counts = listing(web.db(), state, tender, page)
    settings = services(current_app).settings
    return render_template(
        "exchange/list.html",
        rows=rows,
        counts=counts,
        state=state,
        tender=tender or "",
        page=page,
        states=STATE_LABELS,
        tables=TABLE_LABELS,
        push_url=settings.exchange_push_url,
        platform_code=settings.platform_code,
    )


@pages.get("/exchange/<int:record_id>")
@requires(Permission.AUDIT_READ)
def detail_page(record_id: int) -> str:
    rec = get_record(web.db(), record_id)
    return render_template("exchange/detail.html", r=rec, states=STATE_LABELS, tables=TABLE_LABELS)
