"""Guarantee pages: apply and follow one's own orders; a lot's guarantees once its bids are opened
(the tenderee's claim form sits there); an issuer's console of its orders and claims."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from trading.accounts import web
from trading.accounts.models import Organisation
from trading.accounts.permissions import Permission, requires
from trading.guarantees import bonds, orders
from trading.guarantees.api import issuers_json, lot_json, opened_lot, order_json
from trading.guarantees.issuers import issuer_api_user
from trading.guarantees.models import ClaimGround, Guarantee, GuaranteeClaim, GuaranteeOrder
from trading.guarantees.schemas import ApplyIn
from trading.tenders.loading import kek, load
from trading.tenders.models import Lot, Tender

pages = Blueprint("guarantees", __name__, template_folder="templates")


@pages.get("/guarantees")
@requires(Permission.TENDER_PARTICIPATE)
def my_page() -> str:
    db = web.db()
    mine = [order_json(db, o) for o in orders.my_orders(db, web.require_user())]
    return render_template("guarantees/guarantees.html", orders=mine, issuers=issuers_json(db), form=request.args)


@pages.post("/guarantees")
@requires(Permission.TENDER_PARTICIPATE)
def apply_page() -> ResponseReturnValue:
    def step() -> None:
        data = web.form_body(ApplyIn)
        tender = load(data.tender, for_update=True)
        orders.apply(web.db(), web.require_user(), tender, data.lot, data.issuer, kek=kek())

    if web.form_step(step, "保函申请已提交出具机构", "未提交"):
        return redirect(url_for("guarantees.my_page"))
    form = request.form
    return redirect(url_for("guarantees.my_page", tender=form.get("tender", ""), lot=form.get("lot", "")))


@pages.post("/guarantees/orders/<int:order_id>/cancel")
@requires(Permission.TENDER_PARTICIPATE)
def cancel_page(order_id: int) -> ResponseReturnValue:
    def step() -> None:
        db, user = web.db(), web.require_user()
        orders.cancel(db, user, orders.my_order(db, user, order_id), kek=kek())

    web.form_step(step, "保函申请已取消", "未取消")
    return redirect(url_for("guarantees.my_page"))


@pages.get("/tenders/<code>/lots/<int:number>/guarantees")
@requires(Permission.AUTHENTICATED)
def lot_page(code: str, number: int) -> str:
    db, user = web.db(), web.require_user()
    tender, lot = opened_lot(code, number, user)
    return render_template(
        "guarantees/lot_guarantees.html",
        tender=tender,
        lot=lot,
        items=[lot_json(db, g) for g in bonds.lot_guarantees(db, lot)],
        tenderee=tender.can_manage(user),
        grounds=list(ClaimGround),
    )


@pages.get("/issuer")
@requires(Permission.GUARANTEE_CONSOLE)
def issuer_console() -> str:
    db, user = web.db(), web.require_user()
    received = list(
        db.scalars(
            select(GuaranteeOrder)
            .where(GuaranteeOrder.issuer_org_id == user.organisation_id)
            .order_by(GuaranteeOrder.id.desc())
            .limit(200)
        )
    )
    rows = []
    for o in received:
        tender, lot = db.get(Tender, o.tender_id), db.get(Lot, o.lot_id)
        g = orders.guarantee_of(db, o)
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
    client = issuer_api_user(db, org) if org else None
    return render_template("guarantees/issuer.html", rows=rows, claims=claims, client=client)
