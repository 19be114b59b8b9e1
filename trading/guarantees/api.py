"""Guarantees for bidders, tenderees, staff and supervisors (bearer tokens, ``/api/v1``): apply and
follow one's own orders; a lot's guarantees once its bids are opened."""

from __future__ import annotations

import logging
import pathlib
import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from signing.digest import sm3_hex
from trading.accounts import web
from trading.accounts.models import Organisation, User
from trading.accounts.permissions import Permission, has, requires
from trading.core.apispec import documented
from trading.core.errors import Forbidden, NotFound, StoredObjectDamaged
from trading.core.services import services
from trading.guarantees import bonds, orders
from trading.guarantees.issuer_api import guarantee_json
from trading.guarantees.issuers import open_issuers, organisation
from trading.guarantees.models import Guarantee, GuaranteeClaim, GuaranteeOrder
from trading.guarantees.schemas import ApplyIn, IssuersOut, LotGuaranteesOut, OrderOut, OrdersOut
from trading.tenders.loading import kek, load
from trading.tenders.models import Lot, Tender

log = logging.getLogger("ggzy.downloads")
api = Blueprint("guarantees_api", __name__, url_prefix="/api/v1")


def order_json(db: Session, o: GuaranteeOrder) -> dict[str, Any]:
    """An order as its bidder sees it (and nobody else before the opening)."""
    tender, lot = db.get(Tender, o.tender_id), db.get(Lot, o.lot_id)
    issuer = organisation(db, o.issuer_org_id)
    assert tender is not None and lot is not None
    g = orders.guarantee_of(db, o)
    return {
        "id": o.id,
        "tender": tender.code,
        "tender_title": tender.title,
        "lot": lot.number,
        "issuer": {"credit_code": issuer.credit_code, "name": issuer.name},
        "state": o.state.value,
        "state_label": o.state.label,
        "amount": str(o.amount),
        "valid_until": o.valid_until.isoformat(),
        "reject_reason": o.reject_reason,
        "last_refusal": o.last_refusal,
        "guarantee": guarantee_json(db, g) if g else None,
    }


def issuers_json(db: Session) -> list[dict[str, str]]:
    return [{"credit_code": o.credit_code, "name": o.name} for o in open_issuers(db)]


@api.get("/guarantees/issuers")
@requires(Permission.TENDER_PARTICIPATE)
@documented("可以申请电子保函的出具机构", ok=IssuersOut)
def issuers() -> Response:
    return jsonify({"items": issuers_json(web.db())})


@api.post("/guarantees")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "申请电子投标保函",
    body=ApplyIn,
    ok=OrderOut,
    status=201,
    errors=(
        "not_found",
        "no_such_lot",
        "no_bond",
        "not_registered",
        "duplicate_order",
        "unknown_issuer",
        "deadline_passed",
        "wrong_state",
        "issuer_not_connected",
    ),
    example={"tender": "GGZY-2026-000001", "lot": 1, "issuer": "91350100M000100Y43"},
)
def apply() -> tuple[Response, int]:
    data = web.json_body(ApplyIn)
    tender = load(data.tender, for_update=True)
    o = orders.apply(web.db(), web.require_user(), tender, data.lot, data.issuer, kek=kek())
    web.commit()
    return jsonify(order_json(web.db(), o)), 201


@api.get("/guarantees/mine")
@requires(Permission.TENDER_PARTICIPATE)
@documented("本单位的保函申请", ok=OrdersOut)
def mine() -> Response:
    db = web.db()
    return jsonify({"items": [order_json(db, o) for o in orders.my_orders(db, web.require_user())]})


@api.post("/guarantees/orders/<int:order_id>/cancel")
@requires(Permission.TENDER_PARTICIPATE)
@documented("撤销保函申请", ok=OrderOut, errors=("no_such_order", "order_transition", "wrong_state"))
def cancel(order_id: int) -> Response:
    db, user = web.db(), web.require_user()
    o = orders.my_order(db, user, order_id)
    orders.cancel(db, user, o, kek=kek())
    web.commit()
    return jsonify(order_json(db, o))


@api.get("/guarantees/orders/<int:order_id>/document")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "下载本单位已开具的保函文件（按字节原样，X-Document-SM3 为平台核验的 SM3）",
    ok="application/octet-stream",
    errors=("no_such_order", "no_document", "document_damaged"),
)
def document(order_id: int) -> Response:
    """The bidder's copy of its issued guarantee (PDF/OFD), byte for byte as the issuer sent it.
    Another organisation's order is 404 ``no_such_order`` (who applied is secret); a sealed lot's
    document comes with the issuer's reveal at the opening: 404 ``no_document`` until then."""
    db, user = web.db(), web.require_user()
    o = db.get(GuaranteeOrder, order_id)
    if o is None or user.organisation_id is None or o.org_id != user.organisation_id:
        raise NotFound("保函申请不存在", code="no_such_order")
    g = orders.guarantee_of(db, o)
    if g is None or g.document_key is None:
        raise NotFound("该申请还没有可下载的保函文件（未开具，或加密保函在开标揭示前）", code="no_document")
    data = services(current_app).store.read_bytes(g.document_key)
    if sm3_hex(data) != g.document_sm3:  # served only as the bytes the platform verified
        log.error("guarantee document %s of order %s damaged in storage", g.document_key, o.id)
        raise StoredObjectDamaged("保函文件在平台存储中已损坏，暂不能下载；平台运维已收到记录")
    name = g.document_name or f"guarantee-{o.id}.pdf"
    suffix = pathlib.PurePath(name).suffix
    fallback = f"guarantee-{o.id}{suffix if re.fullmatch(r'[.][A-Za-z0-9]{1,8}', suffix) else ''}"
    return Response(
        data,
        mimetype="application/octet-stream",
        headers={
            # RFC 6266: the ASCII fallback for old clients, filename* for the Chinese name
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
            "X-Document-SM3": g.document_sm3,
        },
    )


def opened_lot(code: str, number: int, user: User) -> tuple[Tender, Lot]:
    """A lot whose guarantees this user may see: staff and supervisors, or the tender's own
    tenderee or agency, and only once the bids are opened (who bid is secret until then)."""
    tender = load(code)
    lot = next((lot for lot in tender.lots if lot.number == number), None)
    if lot is None:
        raise NotFound(f"第{number}标段不存在")
    if not (has(user, Permission.GUARANTEE_READ) or tender.can_manage(user)):
        raise Forbidden("只有交易中心、监督人员和本项目招标人可以查看标段的保函")
    if not tender.deadline_passed(clock.now()):
        raise Forbidden("开标前不公开投标人及其保函", code="before_opening")
    return tender, lot


def lot_json(db: Session, g: Guarantee) -> dict[str, Any]:
    principal = db.get(Organisation, g.org_id)
    assert principal is not None
    claims = db.scalars(select(GuaranteeClaim).where(GuaranteeClaim.guarantee_id == g.id).order_by(GuaranteeClaim.id))
    return {
        **guarantee_json(db, g),
        "principal": {"credit_code": principal.credit_code, "name": principal.name},
        "claims": [
            {
                "id": c.id,
                "ground": c.ground.value,
                "ground_label": c.ground.label,
                "state": c.state.value,
                "state_label": c.state.label,
                "answer": c.answer,
                "paid_amount": str(c.paid_amount) if c.paid_amount is not None else None,
            }
            for c in claims
        ],
    }


@api.get("/tenders/<code>/lots/<int:number>/guarantees")
@requires(Permission.AUTHENTICATED)
@documented("标段的保函（开标后）", ok=LotGuaranteesOut, errors=("forbidden", "before_opening"))
def lot_guarantees(code: str, number: int) -> Response:
    db = web.db()
    _, lot = opened_lot(code, number, web.require_user())
    return jsonify({"items": [lot_json(db, g) for g in bonds.lot_guarantees(db, lot)]})
