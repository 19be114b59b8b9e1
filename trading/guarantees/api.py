"""Guarantees for bidders, tenderees, staff and supervisors (bearer tokens, ``/api/v1``), and
their pages: apply and follow one's own orders; a lot's guarantees once its bids are opened;
an issuer's console of its orders."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field
from sqlalchemy import select

from archive import clock
from archive.db import locked
from trading.accounts import web
from trading.accounts.models import Organisation, User
from trading.accounts.permissions import Permission, has, requires
from trading.core.errors import DomainError, Forbidden, NotFound
from trading.core.schemas import Schema
from trading.guarantees import operations as ops
from trading.guarantees.issuer_api import guarantee_json
from trading.guarantees.models import Guarantee, GuaranteeClaim, GuaranteeOrder
from trading.tenders.loading import kek, load
from trading.tenders.models import Lot, Tender

api = Blueprint("guarantees_api", __name__, url_prefix="/api/v1")
pages = Blueprint("guarantees", __name__)  # templates: bidding/templates, served by the bidding blueprint


class ApplyIn(Schema):
    tender: str = Field(min_length=4, max_length=32)
    lot: int = Field(ge=1, le=50)
    issuer: str = Field(min_length=18, max_length=18, description="出具机构的统一社会信用代码")


def order_json(db: Any, o: GuaranteeOrder) -> dict[str, Any]:
    """An order as its bidder sees it (and nobody else before the opening)."""
    tender, lot, issuer = db.get(Tender, o.tender_id), db.get(Lot, o.lot_id), db.get(Organisation, o.issuer_org_id)
    g = ops.guarantee_of(db, o)
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


def issuers_json(db: Any) -> list[dict[str, str]]:
    return [{"credit_code": o.credit_code, "name": o.name} for o in ops.open_issuers(db)]


@api.get("/guarantees/issuers")
@requires(Permission.TENDER_PARTICIPATE)
def issuers() -> Response:
    return jsonify({"items": issuers_json(web.db())})


@api.post("/guarantees")
@requires(Permission.TENDER_PARTICIPATE)
def apply() -> tuple[Response, int]:
    data = web.json_body(ApplyIn)
    tender = load(data.tender, for_update=True)
    o = ops.apply(web.db(), web.require_user(), tender, data.lot, data.issuer, kek=kek())
    web.commit()
    return jsonify(order_json(web.db(), o)), 201


@api.get("/guarantees/mine")
@requires(Permission.TENDER_PARTICIPATE)
def mine() -> Response:
    db = web.db()
    return jsonify({"items": [order_json(db, o) for o in ops.my_orders(db, web.require_user())]})


def _my_order(order_id: int) -> GuaranteeOrder:
    o = web.db().scalar(locked(select(GuaranteeOrder).where(GuaranteeOrder.id == order_id)))
    if o is None or o.org_id != web.require_user().organisation_id:
        raise NotFound("保函申请不存在")
    return o


@api.post("/guarantees/orders/<int:order_id>/cancel")
@requires(Permission.TENDER_PARTICIPATE)
def cancel(order_id: int) -> Response:
    o = _my_order(order_id)
    ops.cancel(web.db(), web.require_user(), o, kek=kek())
    web.commit()
    return jsonify(order_json(web.db(), o))


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


def lot_json(db: Any, g: Guarantee) -> dict[str, Any]:
    principal = db.get(Organisation, g.org_id)
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
def lot_guarantees(code: str, number: int) -> Response:
    db = web.db()
    _, lot = opened_lot(code, number, web.require_user())
    return jsonify({"items": [lot_json(db, g) for g in ops.lot_guarantees(db, lot)]})


# ---------------------------------------------------------------- pages
@pages.get("/guarantees")
@requires(Permission.TENDER_PARTICIPATE)
def my_page() -> str:
    db = web.db()
    orders = [order_json(db, o) for o in ops.my_orders(db, web.require_user())]
    return render_template("bidding/guarantees.html", orders=orders, issuers=issuers_json(db), form=request.args)


@pages.post("/guarantees")
@requires(Permission.TENDER_PARTICIPATE)
def apply_page() -> ResponseReturnValue:
    form = request.form
    try:
        data = web.form_body(ApplyIn)
        tender = load(data.tender, for_update=True)
        ops.apply(web.db(), web.require_user(), tender, data.lot, data.issuer, kek=kek())
        web.commit()
        flash("保函申请已提交出具机构")
    except DomainError as exc:
        web.db().rollback()
        flash(f"未提交：{exc.message}")
        return redirect(url_for("guarantees.my_page", tender=form.get("tender", ""), lot=form.get("lot", "")))
    return redirect(url_for("guarantees.my_page"))


@pages.post("/guarantees/orders/<int:order_id>/cancel")
@requires(Permission.TENDER_PARTICIPATE)
def cancel_page(order_id: int) -> ResponseReturnValue:
    try:
        ops.cancel(web.db(), web.require_user(), _my_order(order_id), kek=kek())
        web.commit()
        flash("保函申请已取消")
    except DomainError as exc:
        web.db().rollback()
        flash(f"未取消：{exc.message}")
    return redirect(url_for("guarantees.my_page"))


@pages.get("/tenders/<code>/lots/<int:number>/guarantees")
@requires(Permission.AUTHENTICATED)
def lot_page(code: str, number: int) -> str:
    db, user = web.db(), web.require_user()
    tender, lot = opened_lot(code, number, user)
    return render_template(
        "bidding/lot_guarantees.html",
        tender=tender,
        lot=lot,
        items=[lot_json(db, g) for g in ops.lot_guarantees(db, lot)],
        tenderee=tender.can_manage(user),
    )


@pages.get("/issuer")
@requires(Permission.GUARANTEE_CONSOLE)
def issuer_console() -> str:
    db, user = web.db(), web.require_user()
    orders = list(
        db.scalars(
            select(GuaranteeOrder)
            .where(GuaranteeOrder.issuer_org_id == user.organisation_id)
            .order_by(GuaranteeOrder.id.desc())
            .limit(200)
        )
    )
    rows = []
    for o in orders:
        tender, lot = db.get(Tender, o.tender_id), db.get(Lot, o.lot_id)
        g = ops.guarantee_of(db, o)
        rows.append(
            {"order": o, "tender": tender, "lot": lot, "guarantee": g, "principal": db.get(Organisation, o.org_id)}
        )
    claims = list(
        db.scalars(
            select(GuaranteeClaim)
            .join(Guarantee, Guarantee.id == GuaranteeClaim.guarantee_id)
            .where(Guarantee.issuer_org_id == user.organisation_id)
            .order_by(GuaranteeClaim.id.desc())
        )
    )
    org = db.get(Organisation, user.organisation_id)
    client = ops.issuer_api_user(db, org) if org else None
    return render_template("bidding/issuer.html", rows=rows, claims=claims, client=client)
