"""Pages of the evaluation: the room (staff and experts; its script posts the API's own actions
with the page's session and CSRF token and signs with the expert's key file in the browser), the
tenderee's representatives, and the bidders' clarification page. The publicity page and its forms
belong to the stage after the report."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from trading.accounts import web
from trading.accounts.models import Role
from trading.accounts.permissions import Permission, has, requires
from trading.core.errors import DomainError, InvalidInput
from trading.evaluation import charts, compliance, room
from trading.evaluation import room_api as rapi
from trading.evaluation.api import load_lot
from trading.evaluation.models import Evaluation
from trading.evaluation.room_state import act, load_evaluation, room_json

pages = Blueprint("evaluation_room", __name__)


def _float(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        raise InvalidInput("离群阈值应为数字", fields={"z_limit": "数字"}) from None


@pages.post("/tenders/<code>/lots/<int:number>/evaluation/open")
@requires(Permission.EXPERT_MANAGE)
def open_page(code: str, number: int) -> ResponseReturnValue:
    db = web.db()
    try:
        candidates = (web.form_int("candidates") or 0) if "candidates" in request.form else 3  # 0: refused by the rule
        ev = room.open_room(
            db, web.require_user(), load_lot(code, number), _float(request.form.get("z_limit")), candidates
        )
        web.commit()
    except DomainError as exc:
        db.rollback()
        flash(f"未开启：{exc.message}")
        return redirect(url_for("evaluation.draws_page", code=code, number=number))
    flash("评标室已开启，专家可以签到")
    return redirect(url_for("evaluation_room.room_page", evaluation_id=ev.id))


@pages.get("/evaluations/<int:evaluation_id>")
@requires(Permission.EVALUATION_ROOM)
def room_page(evaluation_id: int) -> str:
    ev = load_evaluation(evaluation_id)
    user = web.require_user()
    state = room_json(ev, user)
    chart = charts.svg(charts.layout(charts.room_marks(state)))
    # 标后评价 (the signals stage's page) once the report is signed: for those who rate or supervise
    rates = ev.state.value in ("reported", "publicity", "awarded") and (
        has(user, Permission.EXPERT_RATE) or has(user, Permission.SUPERVISION_READ)
    )
    return render_template(
        "evaluation/room.html",
        ev=ev,
        state=state,
        chart=chart,
        is_staff=Role.STAFF in user.roles,
        rates=rates,
        # the credit check's own page is for staff and supervisors, not the committee
        can_read_credit=has(user, Permission.CREDIT_READ),
    )


@pages.get("/evaluations/<int:evaluation_id>/scores.svg")
@requires(Permission.EVALUATION_ROOM)
def score_chart(evaluation_id: int) -> Response:
    """The room's score chart as its viewer may see it, for the room script to redraw (an empty
    drawing while there is nothing to show)."""
    state = room_json(load_evaluation(evaluation_id), web.require_user())
    chart = charts.svg(charts.layout(charts.room_marks(state)))
    empty = '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="score-chart" viewBox="0 0 1 1"></svg>'
    return Response(str(chart) or empty, mimetype="image/svg+xml")


@pages.get("/evaluations/<int:evaluation_id>/state")
@requires(Permission.EVALUATION_ROOM)
def room_state(evaluation_id: int) -> Response:
    return rapi.show(evaluation_id)


# The room script's actions: the API's views, with the page's session and X-CSRFToken.
@pages.post("/evaluations/<int:evaluation_id>/act/<action>")
@requires(Permission.EVALUATION_ROOM)
def room_act(evaluation_id: int, action: str) -> ResponseReturnValue:
    return act(evaluation_id, action)


@pages.post("/evaluations/<int:evaluation_id>/act/flags/<int:flag_id>/resolve")
@requires(Permission.EVALUATION_ROOM)
def room_resolve(evaluation_id: int, flag_id: int) -> ResponseReturnValue:
    return rapi.resolve(evaluation_id, flag_id)


@pages.get("/evaluations/<int:evaluation_id>/bids/<int:bidder_id>/copy")
@requires(Permission.EVALUATION_ROOM)
def bid_copy_page(evaluation_id: int, bidder_id: int) -> ResponseReturnValue:
    return rapi.bid_copy(evaluation_id, bidder_id)


@pages.get("/evaluations/<int:evaluation_id>/report.pdf")
@requires(Permission.EVALUATION_ROOM)
def report_pdf_page(evaluation_id: int) -> ResponseReturnValue:
    return rapi.report_pdf(evaluation_id)


# ---------------------------------------------------------------- the tenderee's representatives
@pages.get("/tenders/<code>/lots/<int:number>/representatives")
@requires(Permission.TENDER_MANAGE)
def representatives_page(code: str, number: int) -> str:
    lot = rapi.managed_lot(code, number)
    ev = web.db().scalar(select(Evaluation).where(Evaluation.lot_id == lot.id))
    data = rapi.representatives_json(ev) if ev is not None else None
    return render_template("evaluation/representatives.html", code=code, lot=lot, ev=ev, r=data)


@pages.post("/tenders/<code>/lots/<int:number>/representatives")
@requires(Permission.TENDER_MANAGE)
def designate_page(code: str, number: int) -> ResponseReturnValue:
    db = web.db()
    try:
        rapi.designate_by_username(code, number, request.form.get("username", "").strip())
        web.commit()
        flash("已指定招标人代表；请其以本人账户登录，进入评标室签到并签署回避承诺")
    except DomainError as exc:
        db.rollback()
        flash(f"未指定：{exc.message}")
    return redirect(url_for("evaluation_room.representatives_page", code=code, number=number))


# ---------------------------------------------------------------- bidders' clarifications
@pages.get("/clarifications")
@requires(Permission.TENDER_PARTICIPATE)
def clarifications_page() -> str:
    items = compliance.clarifications_for_org(web.db(), web.require_user())
    return render_template("evaluation/clarifications.html", items=items)


@pages.post("/clarifications/<int:clarification_id>/answer")
@requires(Permission.TENDER_PARTICIPATE)
def clarification_answer_page(clarification_id: int) -> ResponseReturnValue:
    db = web.db()
    try:
        compliance.answer(db, web.require_user(), clarification_id, request.form.get("answer", ""))
        web.commit()
        flash("澄清答复已提交")
    except DomainError as exc:
        db.rollback()
        flash(f"未提交：{exc.message}")
    return redirect(url_for("evaluation_room.clarifications_page"))
