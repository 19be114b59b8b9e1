"""The lots' JSON API (产权交易标的): the public list and detail, documents, and staff's setup.

Everyone reads announced lots (a draft only staff and supervisors, AUCTION_READ): prices, periods,
the reserve's commitment ``reserve_sm3``, the room's state and the server's time, and how many buyers
were approved, never who. The reserve's price and salt appear only once the lot has ended, with the
result's summary. Staff (AUCTION_MANAGE) create and edit drafts, upload their documents, publish
(with the reserve price, committed and never stored in clear), cancel before the bidding, and extend
a disclosure.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from sqlalchemy import func, select

from archive import clock
from archive.audit import ActorRef
from trading.accounts import web
from trading.accounts.models import User
from trading.accounts.permissions import Permission, requires
from trading.accounts.regions import region_name
from trading.auctions import documents, feed, results, rules, setup
from trading.auctions.bidding import advance, get_auction
from trading.auctions.lifecycle import iso
from trading.auctions.models import Auction, AuctionDocument, AuctionProcedure, AuctionState
from trading.auctions.registrations import counts, visible_lot
from trading.auctions.schemas import (
    AuctionIn,
    AuctionListOut,
    AuctionOut,
    AuctionsQuery,
    CancelIn,
    DocumentOut,
    ExtendIn,
    PublishIn,
    SignedFileOut,
    example_lot,
)
from trading.core.apispec import documented
from trading.core.checked_download import checked_response
from trading.core.db import Database
from trading.core.errors import InvalidInput, NotFound, UnsupportedMediaType
from trading.core.schemas import parse
from trading.core.services import object_store, services
from trading.tenders.models import CATEGORY_LABELS, TenderCategory

api = Blueprint("auctions_api", __name__, url_prefix="/api/v1")

S = AuctionState
PAGE_SIZE = 20
#: room for the multipart envelope around a document of the largest size
ENVELOPE = 64 * 1024
#: the categories rights are traded in (产权与资源交易)
RIGHTS = (TenderCategory.LAND_USE, TenderCategory.MINING, TenderCategory.STATE_PROPERTY, TenderCategory.EMISSION)
LOT_ERRORS = ("auction_not_found",)
SETUP_ERRORS = ("auction_not_found", "wrong_state", "bad_integer", "control_character")


# ---------------------------------------------------------------- shapes
def money(value: Any) -> str | None:
    return None if value is None else rules.amount_text(value)


def category_label(code: str) -> str:
    try:
        return CATEGORY_LABELS[TenderCategory(code)]
    except ValueError:
        return code


def summary_json(a: Auction, proc: AuctionProcedure) -> dict[str, Any]:
    return {
        "code": a.code,
        "title": a.title,
        "method": proc.method.value,
        "method_label": proc.method.label,
        "category": a.category,
        "category_label": category_label(a.category),
        "region": a.region,
        "region_name": region_name(a.region),
        "state": a.state.value,
        "state_label": a.state.label,
        "starting_price": rules.amount_text(a.starting_price),
        "current_price": money(a.current_price),
        "bidding_starts_at": iso(a.bidding_starts_at),
        "free_ends_at": iso(a.free_ends_at),
    }


def document_json(a: Auction, d: AuctionDocument) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "size": d.size,
        "sm3": d.sm3,
        "uploaded_at": iso(d.uploaded_at),
        "url": url_for("auctions_api.document", code=a.code, document_id=d.id),
    }


def revealed_reserve(a: Auction) -> dict[str, str] | None:
    """The reserve's price and salt: only once the lot has ended (and only if it had one)."""
    if not a.state.ended or a.reserve_price is None or a.reserve_salt is None or a.reserve_sm3 is None:
        return None
    return {
        "price": rules.amount_text(a.reserve_price),
        "salt": a.reserve_salt,
        "check": "SM3(盐值‖底价) = reserve_sm3：盐值与底价文字直接相连（UTF-8），再计算 SM3",
    }


def result_summary(a: Auction) -> dict[str, Any] | None:
    body = results.result_body(a)
    if body is None:
        return None
    return {
        "outcome": body["outcome"],
        "reason": body.get("reason"),
        "final_price": body["final_price"],
        "highest": body.get("highest"),
        "winner": body["winner"],
        "bids": body["bids"],
        "bids_sm3": body["bids_sm3"],
        "ended_at": body["ended_at"],
        "publicity_ends_at": body["publicity_ends_at"],
        "result_sm3": a.result_sm3,
    }


def next_minimum(a: Auction) -> str | None:
    """The lowest bid the room would accept now, while the lot is announced or bidding."""
    if a.state.ended or a.state is S.DRAFT:
        return None
    return rules.amount_text(rules.minimum_next(a.starting_price, a.increment, a.current_price))


def auction_json(a: Auction) -> dict[str, Any]:
    """The lot as everyone may read it (nothing of the reserve but its commitment before the end)."""
    db = web.db()
    proc = db.get(AuctionProcedure, a.procedure_code)
    assert proc is not None
    buyers = counts(db, a)
    return {
        **summary_json(a, proc),
        "procedure_code": proc.code,
        "procedure_name": proc.name,
        "transferor": a.transferor,
        "description": a.description,
        "qualification": a.qualification,
        "increment": rules.amount_text(a.increment),
        "deposit": rules.amount_text(a.deposit),
        "currency": a.currency,
        "reserve_sm3": a.reserve_sm3,
        "reserve": revealed_reserve(a),
        "minimum_next": next_minimum(a),
        "current_seq": a.current_seq,
        "countdown_seconds": a.countdown_seconds,
        "countdown_ends_at": iso(a.countdown_ends_at),
        "paused": a.state is S.PAUSED,
        "periods": setup.periods(a),
        "server_time": clock.now().isoformat(),
        "live": feed.live_stream(a, services(current_app).settings.live_url),
        "documents": [document_json(a, d) for d in documents.lot_documents(db, a)],
        "buyers_approved": buyers["approved"],
        "buyers_ready": buyers["may_bid"],
        "announcement_sm3": setup.announcement_sm3(a),
        "result": result_summary(a),
    }


# ---------------------------------------------------------------- loading
def due(a: Auction) -> bool:
    """Whether a move of the clock is due and not yet written (the sweep may be late)."""
    now = clock.now()
    return (
        (a.state is S.ANNOUNCED and now >= a.bidding_starts_at)
        or (a.state in (S.FREE, S.LISTING) and now >= a.free_ends_at)
        or (a.state is S.COUNTDOWN and a.countdown_ends_at is not None and now >= a.countdown_ends_at)
    )


def current_lot(code: str) -> Auction:
    """A lot the asker may see, with any move whose time has passed written down first, so that a
    page never shows a state the server's clock has left (correctness never waits for the sweep)."""
    a = visible_lot(web.db(), code, web.current_user())
    if due(a):
        locked_lot = get_auction(web.db(), code, for_update=True)
        if advance(web.db(), services(current_app), locked_lot, clock.now()):
            web.commit_and_reread()
        else:
            web.db().rollback()
        a = get_auction(web.db(), code)
    return a


def find_lots(args: dict[str, str], user: User | None) -> tuple[list[Auction], int, int, int]:
    """(lots, total, page, pages): newest first; drafts only for those who read every lot."""
    q = parse(AuctionsQuery, args)
    if q.category is not None and q.category not in {c.value for c in RIGHTS}:
        raise InvalidInput("不是产权交易的类别", fields={"category": "应为 land_use、mining、state_property、emission"})
    where = []
    if q.category is not None:
        where.append(Auction.category == q.category)
    if q.state is not None:
        where.append(Auction.state == q.state)
    if not web.has_permission(Permission.AUCTION_READ.value):
        where.append(Auction.state != S.DRAFT)
    db = web.db()
    total = int(db.scalar(select(func.count()).select_from(Auction).where(*where)) or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(q.page or 1, pages)
    rows = db.scalars(
        select(Auction).where(*where).order_by(Auction.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    )
    return list(rows), total, page, pages


def procedures_by_code() -> dict[str, AuctionProcedure]:
    return {p.code: p for p in web.db().scalars(select(AuctionProcedure))}


def query_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if isinstance(v, str) and v != ""}


# ---------------------------------------------------------------- documents
def document_response(a: Auction, d: AuctionDocument) -> Response:
    """The document's bytes, checked against its SM3 as they stream (a damaged stored object breaks
    the transfer off and is recorded as ``auction_document.read_damaged``)."""
    database: Database = current_app.extensions["ggzy.db"]
    ids, who = (a.id, d.id), web.actor()
    actor = ActorRef(who.actor_id, who.actor_role)  # read now: the request's rows are not the damage's session's

    def damaged(served_sm3: str, served_size: int) -> None:
        with database.session() as s:
            lot, doc = s.get(Auction, ids[0]), s.get(AuctionDocument, ids[1])
            assert lot is not None and doc is not None
            documents.record_damaged_read(s, actor, lot, doc, served_sm3, served_size)

    return checked_response(
        documents.open_document(object_store(current_app), d),
        sm3=d.sm3,
        size=d.size,
        what=f"auction document {d.id}",
        on_damage=damaged,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(d.name)}", "X-Content-SM3": d.sm3},
    )


def upload_part(a: Auction) -> AuctionDocument:
    """The multipart part ``file`` (optionally renamed by the field ``name``), stored (not committed)."""
    request.max_content_length = documents.MAX_DOCUMENT_BYTES + ENVELOPE
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("请以 multipart/form-data 上传文件（字段名 file）")
    part = request.files.get("file")
    if part is None or not part.filename:
        raise InvalidInput("请选择要上传的文件", fields={"file": "必填"})
    name = request.form.get("name") or part.filename
    return documents.upload_document(web.db(), object_store(current_app), web.require_user(), a, name, part.stream)


# ---------------------------------------------------------------- public routes
@api.get("/auctions")
@requires(Permission.PUBLIC)
@documented("产权交易标的列表（按类别、状态筛选，分页，最新的在前）", ok=AuctionListOut, query=AuctionsQuery)
def lots() -> Response:
    rows, total, page, pages = find_lots(query_args(), web.current_user())
    procs = procedures_by_code()
    items = [summary_json(a, procs[a.procedure_code]) for a in rows]
    return jsonify({"items": items, "total": total, "page": page, "pages": pages})


@api.get("/auctions/<code>")
@requires(Permission.PUBLIC)
@documented(
    "标的详情：价格、底价承诺、竞价状态、服务器时间、文件；结束后公开底价和结果", ok=AuctionOut, errors=LOT_ERRORS
)
def lot(code: str) -> Response:
    return jsonify(auction_json(current_lot(code)))


@api.get("/auctions/<code>/announcement")
@requires(Permission.PUBLIC)
@documented("平台签名的标的公告（auction_announcement，可用平台证书离线核验）", ok=SignedFileOut, errors=LOT_ERRORS)
def announcement(code: str) -> Response:
    a = visible_lot(web.db(), code, web.current_user())
    if a.announcement_statement is None:
        raise NotFound("标的尚未发布", code="auction_not_found")
    return Response(a.announcement_statement, mimetype="application/json")


@api.get("/auctions/<code>/documents/<int:document_id>")
@requires(Permission.PUBLIC)
@documented(
    "下载标的文件（按登记的 SM3 校验后发送）", ok="application/octet-stream", errors=(*LOT_ERRORS, "document_damaged")
)
def document(code: str, document_id: int) -> Response:
    a = visible_lot(web.db(), code, web.current_user())
    return document_response(a, documents.get_document(web.db(), a, document_id))


# ---------------------------------------------------------------- staff routes
@api.post("/auctions")
@requires(Permission.AUCTION_MANAGE)
@documented("创建标的（草稿）", body=AuctionIn, ok=AuctionOut, status=201, example=example_lot())
def create() -> tuple[Response, int]:
    a = setup.create_draft(web.db(), web.require_user(), web.json_body(AuctionIn))
    web.commit()
    return jsonify(auction_json(a)), 201


@api.put("/auctions/<code>")
@requires(Permission.AUCTION_MANAGE)
@documented("修改标的草稿", body=AuctionIn, ok=AuctionOut, errors=SETUP_ERRORS, example=example_lot())
def update(code: str) -> Response:
    a = setup.update_draft(web.db(), web.require_user(), code, web.json_body(AuctionIn))
    web.commit()
    return jsonify(auction_json(a))


@api.post("/auctions/<code>/documents")
@requires(Permission.AUCTION_MANAGE)
@documented(
    "上传标的文件（草稿期间；multipart 字段 file，可选字段 name）",
    raw="multipart/form-data",
    ok=DocumentOut,
    status=201,
    errors=(*SETUP_ERRORS, "bad_file_name", "object_too_large", "http_413", "unsupported_media_type"),
)
def upload(code: str) -> tuple[Response, int]:
    a = get_auction(web.db(), code, for_update=True)
    d = upload_part(a)
    web.commit()
    return jsonify(document_json(a, d)), 201


@api.post("/auctions/<code>/publish")
@requires(Permission.AUCTION_MANAGE)
@documented(
    "发布标的：核对公告期和挂牌（披露）期，承诺底价（只公开 SM3），平台签名公告",
    body=PublishIn,
    ok=AuctionOut,
    errors=(*SETUP_ERRORS, "auction_periods", "invalid_amount", "auction_transition"),
    example={"reserve_price": "130000000.00"},
)
def publish(code: str) -> Response:
    data = web.json_body(PublishIn)
    a = setup.publish(web.db(), services(current_app), web.require_user(), code, data.reserve_price)
    web.commit()
    return jsonify(auction_json(a))


@api.post("/auctions/<code>/cancel")
@requires(Permission.AUCTION_MANAGE)
@documented("终止标的（竞价开始前）", body=CancelIn, ok=AuctionOut, errors=(*SETUP_ERRORS, "auction_transition"))
def cancel(code: str) -> Response:
    data = web.json_body(CancelIn)
    a = setup.cancel(web.db(), services(current_app), web.require_user(), code, data.reason)
    web.commit()
    return jsonify(auction_json(a))


@api.post("/auctions/<code>/extend")
@requires(Permission.AUCTION_MANAGE)
@documented(
    "延长信息披露期（产权转让；竞价开始前，每次不少于规定的工作日数）",
    body=ExtendIn,
    ok=AuctionOut,
    errors=SETUP_ERRORS,
    example={"days": 5, "reason": "信息披露期内未征集到意向受让方，延长信息披露期"},
)
def extend(code: str) -> Response:
    data = web.json_body(ExtendIn)
    a = setup.extend(web.db(), services(current_app), web.require_user(), code, data.days, data.reason)
    web.commit()
    return jsonify(auction_json(a))
