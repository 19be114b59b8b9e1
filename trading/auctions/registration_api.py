"""The registration and deposit API (竞买申请、竞买保证金).

Buyers (AUCTION_BUY) apply, upload their qualification documents, report the deposit's transfer and
withdraw, each only for their own organisation's application; staff (AUCTION_MANAGE) review,
confirm and refund; staff and supervisors (AUCTION_READ) read a lot's list with who holds which
bidding number. The public learns only counts (``registrations.counts``, on the lot's page).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from archive import clock
from trading.accounts import web
from trading.accounts.models import Organisation, User
from trading.accounts.permissions import Permission, requires
from trading.auctions import deposits, registrations
from trading.auctions.models import Auction, AuctionDocument, DepositEntry, Registration
from trading.auctions.registration_schemas import (
    ApplyIn,
    DocumentOut,
    OwnRegistrationOut,
    ReferenceIn,
    RegistrationsOut,
    ReviewIn,
    StaffRegistrationOut,
)
from trading.auctions.rules import amount_text
from trading.core.apispec import documented
from trading.core.checked_download import checked_response
from trading.core.errors import InvalidInput, UnsupportedMediaType
from trading.core.services import object_store, services
from trading.tenders.documents import CreditBarred

api = Blueprint("auction_registrations_api", __name__, url_prefix="/api/v1")


#: room for the multipart envelope around one document of the largest size
ENVELOPE = 64 * 1024


# ---------------------------------------------------------------- shapes
def iso(value: Any) -> str | None:
    return clock.as_utc(value).isoformat() if value is not None else None


def document_json(d: AuctionDocument) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "size": d.size, "sm3": d.sm3, "uploaded_at": iso(d.uploaded_at)}


def entry_json(e: DepositEntry) -> dict[str, Any]:
    return {
        "kind": e.kind.value,
        "kind_label": e.kind.label,
        "amount": amount_text(e.amount),
        "reference": e.reference,
        "note": e.note,
        "at": iso(e.at),
        "due_by": iso(e.due_by),
    }


def ledger(reg: Registration) -> list[DepositEntry]:
    q = select(DepositEntry).where(DepositEntry.registration_id == reg.id).order_by(DepositEntry.id)
    return list(web.db().scalars(q))


def own_json(reg: Registration) -> dict[str, Any]:
    """An application as its own buyer sees it (and the first part of the platform's view)."""
    db = web.db()
    a = db.get(Auction, reg.auction_id)
    assert a is not None  # a foreign key
    return {
        "id": reg.id,
        "auction": a.code,
        "state": reg.state.value,
        "state_label": reg.state.label,
        "review_reason": reg.review_reason,
        "bidding_number": reg.bidding_number,
        "deposit_state": reg.deposit_state.value,
        "deposit_state_label": reg.deposit_state.label,
        "deposit": amount_text(a.deposit),
        "may_bid": reg.may_bid,
        "wants_timed": reg.wants_timed,
        "contact_name": reg.contact_name,
        "contact_phone": reg.contact_phone,
        "created_at": iso(reg.created_at),
        "documents": [document_json(d) for d in registrations.documents_of(db, reg)],
        "deposit_entries": [entry_json(e) for e in ledger(reg)],
    }


def staff_json(reg: Registration, due: deposits.RefundDue | None = None) -> dict[str, Any]:
    org = web.db().get(Organisation, reg.org_id)
    assert org is not None  # a foreign key
    return {
        **own_json(reg),
        "org_name": org.name,
        "org_credit_code": org.credit_code,
        "refund_due_by": iso(due.due_by) if due else None,
        "refund_overdue": due.overdue if due else False,
    }


def staff_list(a: Auction) -> dict[str, Any]:
    db = web.db()
    due = {d.registration.id: d for d in deposits.refunds_due(db, a)}
    return {
        "auction": a.code,
        "counts": registrations.counts(db, a),
        "items": [staff_json(r, due.get(r.id)) for r in registrations.registrations_of(db, a)],
    }


# ---------------------------------------------------------------- helpers of the views
def lot(code: str) -> Auction:
    return registrations.visible_lot(web.db(), code, web.current_user())


def mine(code: str, *, for_update: bool = False) -> tuple[Registration, User]:
    user = web.require_user()
    return registrations.require_own(web.db(), lot(code), user, for_update=for_update), user


def by_id(reg_id: int, *, for_update: bool = False) -> tuple[Registration, User]:
    user = web.require_user()
    return registrations.get_registration(web.db(), user, reg_id, for_update=for_update), user


def committed(body: dict[str, Any], status: int = 200) -> tuple[Response, int]:
    web.commit()
    return jsonify(body), status


def upload_part() -> tuple[str, Any]:
    """The multipart part ``file``: its name and its stream (the store bounds its size)."""
    request.max_content_length = registrations.MAX_DOCUMENT_BYTES + ENVELOPE
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("请以 multipart/form-data 上传文件（字段名 file）")
    part = request.files.get("file")
    if part is None or not part.filename:
        raise InvalidInput("请选择要上传的文件", fields={"file": "必填"})
    return part.filename, part.stream


def apply_from(code: str, data: ApplyIn) -> Registration:
    """Apply (the API and the page): a credit refusal's evidence is committed before it is told."""
    db, user = web.db(), web.require_user()
    a = lot(code)
    try:
        return registrations.apply(db, user, a, data.contact_name, data.contact_phone, keys=services(current_app).keys)
    except CreditBarred:
        web.commit()
        raise


def stream(reg: Registration, user: User, doc_id: int) -> Response:
    doc, handle = registrations.open_document(web.db(), object_store(current_app), user, reg, doc_id)
    web.commit()
    return checked_response(
        handle,
        sm3=doc.sm3,
        size=doc.size,
        what=f"auction document {doc.id}",
        on_damage=lambda _sm3, _size: None,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.name)}", "X-Content-SM3": doc.sm3},
    )


# ---------------------------------------------------------------- buyers
@api.post("/auctions/<code>/registrations")
@requires(Permission.AUCTION_BUY)
@documented(
    "提交竞买申请（提交时查询信用记录；被限制的单位不能申请）",
    body=ApplyIn,
    ok=OwnRegistrationOut,
    status=201,
    errors=("not_found", "credit_barred", "control_character"),
    example={"contact_name": "王五", "contact_phone": "+86-591-88880000"},
)
def apply(code: str) -> tuple[Response, int]:
    data = web.json_body(ApplyIn) if request.get_data(cache=True) else ApplyIn(contact_name="", contact_phone="")
    reg = apply_from(code, data)
    return committed(own_json(reg), 201)


@api.get("/auctions/<code>/registration")
@requires(Permission.AUCTION_BUY)
@documented("本单位的竞买申请（状态、竞买号牌、保证金）", ok=OwnRegistrationOut, errors=("not_found",))
def own(code: str) -> Response:
    reg, _ = mine(code)
    return jsonify(own_json(reg))


@api.post("/auctions/<code>/registration/documents")
@requires(Permission.AUCTION_BUY)
@documented(
    "上传竞买申请材料（multipart，字段 file，每个不超过 20 兆字节）",
    raw="multipart/form-data",
    ok=DocumentOut,
    status=201,
    errors=("not_found", "unsupported_media_type", "http_413", "control_character"),
)
def upload(code: str) -> tuple[Response, int]:
    name, src = upload_part()
    reg, user = mine(code, for_update=True)
    doc = registrations.upload_document(web.db(), object_store(current_app), user, reg, name, src)
    return committed(document_json(doc), 201)


@api.post("/auctions/<code>/registration/deposit")
@requires(Permission.AUCTION_BUY)
@documented("报告已汇出保证金（银行流水号）", body=ReferenceIn, ok=OwnRegistrationOut, errors=("not_found",))
def report(code: str) -> tuple[Response, int]:
    data = web.json_body(ReferenceIn)
    reg, user = mine(code)
    deposits.report_transfer(web.db(), user, reg, data.reference)
    return committed(own_json(reg))


@api.post("/auctions/<code>/registration/withdraw")
@requires(Permission.AUCTION_BUY)
@documented("撤回竞买申请（报名截止前、出价前）", ok=OwnRegistrationOut, errors=("not_found",))
def withdraw(code: str) -> tuple[Response, int]:
    reg, user = mine(code)
    registrations.withdraw(web.db(), user, reg)
    return committed(own_json(reg))


@api.get("/auction-registrations/<int:reg_id>/documents/<int:doc_id>")
@requires(Permission.AUTHENTICATED)
@documented("下载竞买申请材料（本单位或平台）", ok="application/octet-stream", errors=("not_found",))
def download(reg_id: int, doc_id: int) -> Response:
    reg, user = by_id(reg_id)
    return stream(reg, user, doc_id)


# ---------------------------------------------------------------- staff and supervisors
@api.get("/auctions/<code>/registrations")
@requires(Permission.AUCTION_READ)
@documented("标的的竞买申请（单位、竞买号牌、保证金、待退还）", ok=RegistrationsOut, errors=("not_found",))
def listing(code: str) -> Response:
    return jsonify(staff_list(lot(code)))


@api.post("/auction-registrations/<int:reg_id>/review")
@requires(Permission.AUCTION_MANAGE)
@documented(
    "资格审核（通过时抽取竞买号牌）",
    body=ReviewIn,
    ok=StaffRegistrationOut,
    errors=("not_found", "invalid_input"),
    example={"approve": False, "reason": "未提交授权委托书"},
)
def review(reg_id: int) -> tuple[Response, int]:
    data = web.json_body(ReviewIn)
    reg, user = by_id(reg_id, for_update=True)
    registrations.review(web.db(), user, reg, data.approve, data.reason)
    return committed(staff_json(reg))


@api.post("/auction-registrations/<int:reg_id>/deposit/confirm")
@requires(Permission.AUCTION_MANAGE)
@documented("确认保证金到账（银行流水号）", body=ReferenceIn, ok=StaffRegistrationOut, errors=("not_found",))
def confirm(reg_id: int) -> tuple[Response, int]:
    data = web.json_body(ReferenceIn)
    reg, user = by_id(reg_id)
    deposits.confirm(web.db(), user, reg, data.reference)
    return committed(staff_json(reg))


@api.post("/auction-registrations/<int:reg_id>/deposit/refund")
@requires(Permission.AUCTION_MANAGE)
@documented("登记退还保证金（退款流水号）", body=ReferenceIn, ok=StaffRegistrationOut, errors=("not_found",))
def refund(reg_id: int) -> tuple[Response, int]:
    data = web.json_body(ReferenceIn)
    reg, user = by_id(reg_id)
    deposits.refund(web.db(), user, reg, data.reference)
    return committed(staff_json(reg))
