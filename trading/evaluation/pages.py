"""Pages for the draw: staff commit, run and replace a lot's rounds; experts keep their
declarations and answer their invitations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.accounts.regions import region_name
from trading.core.errors import DomainError, InvalidInput
from trading.core.platform_keys import key_encryption_key
from trading.core.schemas import parse
from trading.core.services import services
from trading.evaluation import declarations, draws, experts, room
from trading.evaluation import draw as rules
from trading.evaluation.api import draw_json, load_draw, load_lot
from trading.evaluation.models import Evaluation, MemberState
from trading.evaluation.schemas import SlotIn
from trading.procedures.specialties import specialty_name

pages = Blueprint("evaluation", __name__, template_folder="templates")


@pages.context_processor
def names() -> dict[str, Any]:
    """Codes as people read them: a specialty's and a region's name."""
    return {"specialty_name": specialty_name, "region_name": region_name}


@pages.get("/tenders/<code>/lots/<int:number>/draws")
@requires(Permission.EXPERT_MANAGE)
def draws_page(code: str, number: int) -> str:
    db, lot = web.db(), load_lot(code, number)
    rounds = [draw_json(d) for d in draws.draws_of(db, lot)]
    evaluation = db.scalar(select(Evaluation).where(Evaluation.lot_id == lot.id))
    # each step the page offers, with the reason the operation would give for refusing it now
    why = {
        "commit": draws.commit_refusal(db, lot),
        "replace": draws.replace_refusal(db, lot),
        "open": room.open_refusal(db, lot) if evaluation is None else None,
    }
    return render_template(
        "evaluation/draws.html",
        code=code,
        lot=lot,
        rounds=rounds,
        evaluation=evaluation,
        why={k: v.message if v else None for k, v in why.items()},
        member_labels={m.value: m.label for m in MemberState},
    )


@pages.post("/tenders/<code>/lots/<int:number>/draws/<action>")
@requires(Permission.EXPERT_MANAGE)
def draw_action(code: str, number: int, action: str) -> ResponseReturnValue:
    db, staff, store = web.db(), web.require_user(), services(current_app).store
    kek = key_encryption_key(services(current_app).settings)
    try:
        lot = load_lot(code, number)
        if action == "commit":
            draws.commit_draw(db, staff, store, lot, draws.venue_slots(lot, _sub_venues(request.form)), kek=kek)
            flash("已公布本轮抽取的快照与种子承诺（SM3），可以抽取")
        elif action == "run":
            draws.run_draw(db, staff, store, load_draw(web.form_int("draw") or 0, for_update=True), kek=kek)
            flash("已抽取并通知专家（姓名在评标开始前保密）")
        elif action == "replace":
            draws.replace_declined(db, staff, store, lot, kek=kek)
            flash("已公布补抽的快照与种子承诺")
        else:
            raise InvalidInput("未知操作")
        web.commit()
    except DomainError as exc:
        db.rollback()
        flash(f"未执行：{exc.message}")
    return redirect(url_for("evaluation.draws_page", code=code, number=number))


def _sub_venues(form: MultiDict[str, str]) -> list[rules.Slot]:
    """The commit form's sub-venue rows (副场); blank rows are skipped."""
    rows = zip(form.getlist("sub_region"), form.getlist("sub_specialty"), form.getlist("sub_count"), strict=False)
    slots = []
    for row, (region, specialty, count) in enumerate(rows, start=1):
        if region.strip() or count.strip():
            try:
                s = parse(SlotIn, {"region": region, "specialty": specialty, "count": count})
            except InvalidInput:
                raise InvalidInput(f"副场第 {row} 行：地区代码应为 6 位数字，人数应为 1–51 的整数") from None
            slots.append(rules.Slot(s.region, s.specialty, s.count))
    return slots


@pages.get("/expert")
@requires(Permission.EXPERT_SELF)
def expert_page() -> str:
    return _expert_view(None)


def _expert_view(form: declarations.Form | None) -> str:
    """The expert's page: its invitations and its declaration form (as stored, or as posted)."""
    db, user = web.db(), web.require_user()
    try:
        me = experts.my_expert(db, user)
        invitations = draws.my_invitations(db, user)
    except DomainError:
        me, invitations = None, []
    lots = {d.lot_id for m, d in invitations if m.state is MemberState.CONFIRMED}
    rooms = {
        ev.lot_id: ev for ev in (db.scalars(select(Evaluation).where(Evaluation.lot_id.in_(lots))) if lots else [])
    }
    if me is not None and form is None:
        form = declarations.of_expert(me)
    return render_template(
        "evaluation/expert.html",
        me=me,
        invitations=invitations,
        rooms=rooms,
        form=form,
        kinds=declarations.KIND_LABELS,
        max_rows=declarations.MAX_ROWS,
    )


@pages.post("/expert/declarations")
@requires(Permission.EXPERT_SELF)
def declare_page() -> ResponseReturnValue:
    """Save the declaration, or (``action`` add / remove-N) draw the form again with a row more or
    less; a refused form comes back as typed, each row with what is wrong with it."""
    form = declarations.of_post(request.form)
    action = request.form.get("action", "save")
    if action != "save":
        return _expert_view(declarations.edit(form, action))
    data = declarations.check(form)
    if data is None:
        return _expert_view(form), 400
    try:
        experts.declare(web.db(), web.require_user(), data)
        web.commit()
    except DomainError as exc:
        web.db().rollback()
        form.error = exc.message
        return _expert_view(form), exc.status
    flash("申报已更新")
    return redirect(url_for("evaluation.expert_page"))


@pages.post("/expert/invitations/<int:member_id>")
@requires(Permission.EXPERT_SELF)
def respond_page(member_id: int) -> ResponseReturnValue:
    try:
        accept = request.form.get("accept") == "1"
        draws.respond(web.db(), web.require_user(), member_id, accept, request.form.get("reason", ""))
        web.commit()
        flash("已确认参加评标" if accept else "已答复不能参加")
    except DomainError as exc:
        web.db().rollback()
        flash(f"未答复：{exc.message}")
    return redirect(url_for("evaluation.expert_page"))
