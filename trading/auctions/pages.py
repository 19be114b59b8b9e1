"""The lots' pages (产权交易): the public list and a lot's page, and staff's setup forms.

- ``/auctions``: announced lots by category and state; ``/auctions/<code>``: a lot's terms, periods,
  the reserve's commitment and how to check it once it is revealed, the room's state and the
  server's time, the documents, how many buyers were approved (never who); links to follow the room
  (``/auctions/<code>/watch``) and, for buyers, to register and to bid.
- ``/auctions/manage`` (staff and supervisors): every lot, drafts too; ``/auctions/new`` and
  ``/auctions/<code>/setup`` (staff): the draft's form, its documents, publication with the reserve
  price, cancellation, a disclosure's extension.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import ValidationError

from archive import clock
from signing.statements import reserve_commitment
from trading.accounts import web
from trading.accounts.form_errors import field_lines, refusal_text
from trading.accounts.permissions import Permission, requires
from trading.accounts.regions import known_regions
from trading.auctions import api, documents, setup
from trading.auctions.bidding import get_auction
from trading.auctions.models import AUCTION_STATE_LABELS, Auction, AuctionProcedure, AuctionState
from trading.auctions.registrations import counts, visible_lot
from trading.auctions.schemas import AuctionIn, CancelIn, ExtendIn
from trading.audit.pages import page_numbers
from trading.core.csrf import checks_own_csrf
from trading.core.errors import DomainError
from trading.core.schemas import parse
from trading.core.services import services
from trading.tenders.forms import LOCAL_INPUT, local_input

pages = Blueprint("auctions", __name__, template_folder="templates")
UPLOAD_VIEW = "trading.auctions.pages.upload_page"
checks_own_csrf(pages, UPLOAD_VIEW)  # a document may be 50 MiB: the view checks its token itself
S = AuctionState
REGIONS = known_regions()
FIELDS = ("title", "procedure_code", "region", "transferor", "description", "qualification")
AMOUNTS = ("starting_price", "increment", "deposit")
INSTANTS = ("registration_ends_at", "bidding_starts_at", "free_ends_at")


# ---------------------------------------------------------------- forms
def instant_text(raw: str) -> str:
    """A datetime-local value (Beijing time, no zone) as an ISO instant; anything else as sent, for
    the schema to refuse by name."""
    if LOCAL_INPUT.fullmatch(raw):
        return f"{raw}:00+08:00" if len(raw) == 16 else f"{raw}+08:00"
    return raw


def lot_from_form(form: MultiDict[str, str]) -> AuctionIn:
    data: dict[str, Any] = {k: form.get(k, "") for k in (*FIELDS, *AMOUNTS)}
    for k in INSTANTS:
        raw = form.get(k, "").strip()
        if raw:
            data[k] = instant_text(raw)
    return parse(AuctionIn, {k: v for k, v in data.items() if v != "" or k in ("description", "qualification")})


def form_of(a: Auction) -> dict[str, str]:
    """A lot's values as its form shows them (times in Beijing time)."""
    out = {k: str(getattr(a, k)) for k in FIELDS}
    out |= {k: api.money(getattr(a, k)) or "" for k in AMOUNTS}
    out |= {k: local_input(getattr(a, k)) for k in INSTANTS}
    return out


def blank_form() -> dict[str, str]:
    """A new lot's suggestions: bidding 21 days from today at 09:00, registration closing the day
    before at 17:00 (Beijing time); staff change them as the lot needs."""
    today = clock.local(clock.now()).date()
    start = dt.datetime.combine(today + dt.timedelta(days=21), dt.time(9, 0))
    ends = dt.datetime.combine(today + dt.timedelta(days=20), dt.time(17, 0))
    return {
        "procedure_code": "land_auction",
        "region": "350100",
        "bidding_starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "registration_ends_at": ends.strftime("%Y-%m-%dT%H:%M"),
    }


def procedures() -> list[AuctionProcedure]:
    return list(web.db().scalars(select(AuctionProcedure).order_by(AuctionProcedure.code)))


def edit_form(form: dict[str, str], a: Auction | None, exc: DomainError | None = None) -> ResponseReturnValue:
    html = render_template(
        "auctions/setup.html",
        a=a,
        form=form,
        procedures=procedures(),
        regions=REGIONS,
        error=exc.message if exc else "",
        lines=field_lines(exc, AuctionIn) if exc else [],
        **(setup_context(a) if a is not None else {}),
    )
    return html, exc.status if exc else 200


def setup_context(a: Auction) -> dict[str, Any]:
    proc = web.db().get(AuctionProcedure, a.procedure_code)
    return {"proc": proc, "docs": documents.lot_documents(web.db(), a), "max_mib": documents.MAX_DOCUMENT_BYTES >> 20}


def step(code: str, action: Callable[[], object], done: str, refused: str) -> ResponseReturnValue:
    """One of the setup page's actions: committed and told, or rolled back and told why."""
    web.form_step(action, done, refused)
    return redirect(url_for("auctions.setup_page", code=code))


# ---------------------------------------------------------------- public
@pages.get("/auctions")
@requires(Permission.PUBLIC)
def list_page() -> ResponseReturnValue:
    args = api.query_args()
    try:
        rows, total, page, pages_ = api.find_lots(args, web.current_user())
    except DomainError as exc:
        return render_list([], 0, 1, 1, args, exc.message), exc.status
    return render_list(rows, total, page, pages_, args)


def render_list(rows: list[Auction], total: int, page: int, pages_: int, args: dict[str, str], error: str = "") -> str:
    procs = api.procedures_by_code()
    kept: dict[str, Any] = {k: v for k, v in args.items() if k in ("category", "state")}
    links = [(n, url_for("auctions.list_page", page=n, **kept) if n else None) for n in page_numbers(page, pages_)]
    return render_template(
        "auctions/list.html",
        rows=[(a, procs[a.procedure_code]) for a in rows],
        total=total,
        page=page,
        links=links,
        form=args,
        error=error,
        categories=[(c.value, api.category_label(c.value)) for c in api.RIGHTS],
        states=[(s.value, AUCTION_STATE_LABELS[s]) for s in S if s is not S.DRAFT],
        category_label=api.category_label,
    )


@pages.get("/auctions/<code>")
@requires(Permission.PUBLIC)
def lot_page(code: str) -> str:
    a = api.current_lot(code)
    db = web.db()
    proc = db.get(AuctionProcedure, a.procedure_code)
    reserve = api.revealed_reserve(a)
    return render_template(
        "auctions/detail.html",
        a=a,
        proc=proc,
        docs=documents.lot_documents(db, a),
        buyers=counts(db, a),
        reserve=reserve,
        reserve_opens=reserve is not None and reserve_commitment(reserve["price"], reserve["salt"]) == a.reserve_sm3,
        result=api.result_summary(a),
        minimum_next=api.next_minimum(a),
        announcement_sm3=setup.announcement_sm3(a),
        server_time=clock.now(),
        category_label=api.category_label(a.category),
    )


@pages.get("/auctions/<code>/documents/<int:document_id>")
@requires(Permission.PUBLIC)
def document_page(code: str, document_id: int) -> ResponseReturnValue:
    a = visible_lot(web.db(), code, web.current_user())
    return api.document_response(a, documents.get_document(web.db(), a, document_id))


# ---------------------------------------------------------------- staff
@pages.get("/auctions/manage")
@requires(Permission.AUCTION_READ)
def manage_page() -> str:
    db = web.db()
    rows = db.scalars(select(Auction).order_by(Auction.id.desc()).limit(200))
    procs = api.procedures_by_code()
    return render_template("auctions/manage.html", rows=[(a, procs[a.procedure_code]) for a in rows])


@pages.get("/auctions/new")
@requires(Permission.AUCTION_MANAGE)
def new_page() -> ResponseReturnValue:
    return edit_form(blank_form(), None)


@pages.post("/auctions/new")
@requires(Permission.AUCTION_MANAGE)
def create_page() -> ResponseReturnValue:
    try:
        a = setup.create_draft(web.db(), web.require_user(), lot_from_form(request.form))
    except DomainError as exc:
        web.db().rollback()
        return edit_form(dict(request.form), None, exc)
    web.commit()
    flash(f"已创建标的 {a.code}（草稿）：请上传标的文件，核对后发布")
    return redirect(url_for("auctions.setup_page", code=a.code))


@pages.get("/auctions/<code>/setup")
@requires(Permission.AUCTION_MANAGE)
def setup_page(code: str) -> ResponseReturnValue:
    a = get_auction(web.db(), code)
    return edit_form(form_of(a), a)


@pages.post("/auctions/<code>/setup")
@requires(Permission.AUCTION_MANAGE)
def update_page(code: str) -> ResponseReturnValue:
    try:
        setup.update_draft(web.db(), web.require_user(), code, lot_from_form(request.form))
    except DomainError as exc:
        web.db().rollback()
        return edit_form(dict(request.form), get_auction(web.db(), code), exc)
    web.commit()
    flash("已保存标的草稿")
    return redirect(url_for("auctions.setup_page", code=code))


@pages.post("/auctions/<code>/setup/documents")
@requires(Permission.AUCTION_MANAGE)
def upload_page(code: str) -> ResponseReturnValue:
    request.max_content_length = documents.MAX_DOCUMENT_BYTES + api.ENVELOPE
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        flash("未上传：页面已过期或缺少安全令牌，请刷新后重试")
        return redirect(url_for("auctions.setup_page", code=code))
    try:
        doc = api.upload_part(get_auction(web.db(), code, for_update=True))
        web.commit()
    except DomainError as exc:
        web.db().rollback()
        flash(f"未上传：{refusal_text(exc)}")
        return redirect(url_for("auctions.setup_page", code=code))
    flash(f"已上传“{doc.name}”（SM3 {doc.sm3}）")
    return redirect(url_for("auctions.setup_page", code=code))


@pages.post("/auctions/<code>/setup/publish")
@requires(Permission.AUCTION_MANAGE)
def publish_page(code: str) -> ResponseReturnValue:
    price = request.form.get("reserve_price", "")
    return step(
        code,
        lambda: setup.publish(web.db(), services(current_app), web.require_user(), code, price),
        "标的已发布：公告已由平台签名" + ("，底价只公开其 SM3 承诺，结束后公开" if price.strip() else ""),
        "未发布",
    )


@pages.post("/auctions/<code>/setup/cancel")
@requires(Permission.AUCTION_MANAGE)
def cancel_page(code: str) -> ResponseReturnValue:
    def act() -> object:
        data = parse(CancelIn, {"reason": request.form.get("reason", "")})
        return setup.cancel(web.db(), services(current_app), web.require_user(), code, data.reason)

    return step(code, act, "标的已终止", "未终止")


@pages.post("/auctions/<code>/setup/extend")
@requires(Permission.AUCTION_MANAGE)
def extend_page(code: str) -> ResponseReturnValue:
    def act() -> object:
        data = parse(ExtendIn, {"days": request.form.get("days", ""), "reason": request.form.get("reason", "")})
        return setup.extend(web.db(), services(current_app), web.require_user(), code, data.days, data.reason)

    return step(code, act, "信息披露期已延长", "未延期")
