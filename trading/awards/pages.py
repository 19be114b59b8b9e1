"""Pages after the report: the public publicity page with the bidders' objection form and the
tenderee's answer, award and contract forms; the room's "publish the publicity" button; and the
tenderee's claim (its form sits on the lot's guarantee page)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from archive import clock
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.awards import award as aw
from trading.awards.api import publicity_json, start_publicity
from trading.awards.claims import bring_opening_up_to_date, file_claim
from trading.awards.schemas import ClaimIn
from trading.core.errors import DomainError
from trading.core.services import services
from trading.evaluation import room
from trading.evaluation.models import EvalState, Evaluation
from trading.evaluation.room_state import load_evaluation

pages = Blueprint("awards", __name__, template_folder="templates")


# The room script posts its actions to /evaluations/<id>/act/<action> (``evaluation_room.room_act``);
# this one static rule wins over that rule's variable part, so the publicity is published here.
@pages.post("/evaluations/<int:evaluation_id>/act/publicity")
@requires(Permission.EVALUATION_ROOM)
def room_publicity(evaluation_id: int) -> ResponseReturnValue:
    return start_publicity(evaluation_id)


@pages.get("/evaluations/<int:evaluation_id>/publicity")
@requires(Permission.PUBLIC)
def publicity_page(evaluation_id: int) -> str:
    db = web.db()
    ev = load_evaluation(evaluation_id)
    data = publicity_json(db, ev)
    user = web.current_user()
    lot, tender = room.lot_and_tender(db, ev)
    is_tenderee = tender.can_manage(user)
    is_bidder = user is not None and user.organisation_id in {b.org_id for b in room.bidders(db, ev)}
    now = clock.now()
    # what the page cannot do now, in the words of the rule that would refuse it
    object_why = aw.objection_refusal(db, user, ev, now)
    award_why = aw.award_refusal(db, ev, now) if ev.state is EvalState.PUBLICITY else None
    return render_template(
        "awards/publicity.html",
        ev=ev,
        p=data,
        is_tenderee=is_tenderee,
        is_bidder=is_bidder,
        lot=lot,
        object_why=object_why.message if object_why else None,
        award_why=award_why.message if award_why else None,
    )


def _publicity_action(evaluation_id: int, done: str, fn: Callable[[Evaluation], object]) -> ResponseReturnValue:
    db = web.db()
    try:
        ev = load_evaluation(evaluation_id, for_update=True)
        fn(ev)
        web.commit()
        flash(done)
    except DomainError as exc:
        db.rollback()
        flash(f"未完成：{exc.message}")
    return redirect(url_for("awards.publicity_page", evaluation_id=evaluation_id))


@pages.post("/evaluations/<int:evaluation_id>/publicity/object")
@requires(Permission.TENDER_PARTICIPATE)
def object_page(evaluation_id: int) -> ResponseReturnValue:
    return _publicity_action(
        evaluation_id,
        "异议已提交；招标人答复前暂停招标投标活动",
        lambda ev: aw.object_to(web.db(), web.require_user(), ev, request.form.get("text", "")),
    )


@pages.post("/evaluations/<int:evaluation_id>/publicity/answer/<int:objection_id>")
@requires(Permission.TENDER_MANAGE)
def answer_page(evaluation_id: int, objection_id: int) -> ResponseReturnValue:
    return _publicity_action(
        evaluation_id,
        "已答复异议",
        lambda ev: aw.answer_objection(web.db(), web.require_user(), ev, objection_id, request.form.get("text", "")),
    )


@pages.post("/evaluations/<int:evaluation_id>/publicity/award")
@requires(Permission.TENDER_MANAGE)
def award_page(evaluation_id: int) -> ResponseReturnValue:
    winner = web.form_int("winner")
    if winner is None:
        flash("未完成：请选择中标人")
        return redirect(url_for("awards.publicity_page", evaluation_id=evaluation_id))
    return _publicity_action(
        evaluation_id,
        "已确定中标人，中标结果公告与中标通知书已发出",
        lambda ev: aw.award(
            web.db(), web.require_user(), ev, services(current_app), winner, request.form.get("reason", "")
        ),
    )


@pages.post("/evaluations/<int:evaluation_id>/publicity/contract")
@requires(Permission.TENDER_MANAGE)
def contract_page(evaluation_id: int) -> ResponseReturnValue:
    return _publicity_action(
        evaluation_id,
        "已登记合同签订；中标人的保函将释放",
        lambda ev: aw.confirm_contract(web.db(), web.require_user(), ev),
    )


@pages.post("/guarantees/<int:guarantee_id>/claims")
@requires(Permission.TENDER_MANAGE)
def claim_page(guarantee_id: int) -> ResponseReturnValue:
    try:
        data = web.form_body(ClaimIn)
        bring_opening_up_to_date(web.db(), guarantee_id, services(current_app))
        web.commit_and_reread()
        file_claim(web.db(), web.require_user(), guarantee_id, data.ground, data.statement)
        web.commit()
        flash("索赔已提交，平台已转交出具机构")
    except DomainError as exc:
        web.db().rollback()
        flash(f"未提交：{exc.message}")
    back = request.referrer or ""
    return redirect(back if back.startswith(request.host_url) else url_for("home.index"))
