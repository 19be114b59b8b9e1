"""The evaluation room over the API.

The room itself, its stage moves (``/evaluations/<id>/stages/<stage>``), its flags, copies and
report; its actions, one route per verb, are in ``room_verbs`` and the deprecated routes in
``room_aliases``. The tenderee names its representatives; bidders answer clarifications. What follows the report (publicity, award,
contract) belongs to the next stage, which serves the room's last action itself.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import select

from trading.accounts import web
from trading.accounts.models import User
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import Forbidden, InvalidInput, NotFound
from trading.core.services import services
from trading.evaluation import committee, compliance, room, scores
from trading.evaluation.api import load_lot
from trading.evaluation.models import Clarification, EvalState, Evaluation, Expert
from trading.evaluation.room_state import bid_copy_response, enter, load_evaluation, next_stages, room_json, viewer
from trading.evaluation.schemas import (
    ClarificationOut,
    ClarificationsOut,
    OpenIn,
    ReasonIn,
    RepresentativeIn,
    RepresentativesOut,
    RoomOfLotOut,
    RoomOut,
    TextIn,
)
from trading.opening.stage_routes import refuse_unless_next, unknown_stage
from trading.pki.trust import trust
from trading.tenders.models import Lot

api = Blueprint("evaluation_room_api", __name__, url_prefix="/api/v1")


@api.post("/tenders/<code>/lots/<int:number>/evaluation")
@requires(Permission.EXPERT_MANAGE)
@documented(
    "开启评标室",
    body=OpenIn,
    ok=RoomOut,
    status=201,
    errors=("already_open", "not_drawn", "committee_incomplete", "wrong_state"),
)
def open_room(code: str, number: int) -> tuple[Response, int]:
    data = web.json_body(OpenIn)
    ev = room.open_room(web.db(), web.require_user(), load_lot(code, number), data.z_limit, data.candidates)
    web.commit()
    return jsonify(room_json(ev, web.require_user())), 201


@api.get("/tenders/<code>/lots/<int:number>/evaluation")
@requires(Permission.PUBLIC)
@documented("标段的评标及其阶段", ok=RoomOfLotOut, errors=("not_started",))
def of_lot(code: str, number: int) -> Response:
    """Which evaluation a lot has and its stage (nothing more: the room is not public)."""
    ev = room.evaluation_of(web.db(), load_lot(code, number))
    return jsonify({"id": ev.id, "state": ev.state.value, "state_label": ev.state.label})


def managed_lot(code: str, number: int) -> Lot:
    """A lot, for the tenderee or its agency (who name the tenderee's representatives)."""
    lot = load_lot(code, number)
    if not lot.tender.can_manage(web.require_user()):
        raise Forbidden("只有本项目的招标人或招标代理机构可以指定招标人代表")
    return lot


def managed_evaluation(code: str, number: int, *, for_update: bool = False) -> Evaluation:
    """A lot's evaluation, for the tenderee or its agency."""
    ev = room.evaluation_of(web.db(), managed_lot(code, number))
    return load_evaluation(ev.id, for_update=True) if for_update else ev


def representatives_json(ev: Evaluation) -> dict[str, Any]:
    db = web.db()
    lot, tender = room.lot_and_tender(db, ev)
    named = [s for s in room.seats(db, ev, present=False) if s.representative]
    names = {e.id: e.name for e in db.scalars(select(Expert).where(Expert.id.in_([s.expert_id for s in named])))}
    return {
        "evaluation": ev.id,
        "state": ev.state.value,
        "state_label": ev.state.label,
        "required": lot.representative_seats,
        "named": [
            {
                "expert": s.expert_id,
                "name": names[s.expert_id],
                "signed_in": s.signed_in_at is not None,
                "pledged": s.pledged_at is not None,
                "recused": s.recused_at is not None,
                "recusal_reason": s.recusal_reason,
            }
            for s in named
        ],
        "eligible": [
            {"username": u.username, "name": u.display_name}
            for u in committee.eligible_representatives(db, tender, trust())
        ],
    }


@api.get("/tenders/<code>/lots/<int:number>/representatives")
@requires(Permission.TENDER_MANAGE)
@documented("招标人代表席位", ok=RepresentativesOut, errors=("not_started",))
def representatives(code: str, number: int) -> Response:
    return jsonify(representatives_json(managed_evaluation(code, number)))


def designate_by_username(code: str, number: int, username: str) -> Evaluation:
    """Name the account ``username`` to the lot's committee (the API and the page); not committed."""
    db = web.db()
    ev = managed_evaluation(code, number, for_update=True)
    rep = db.scalar(select(User).where(User.username == username))
    if rep is None:
        raise InvalidInput("该账户不存在", fields={"username": "招标人单位的账户"})
    committee.designate_representative(db, web.require_user(), ev, rep, trust())
    return ev


@api.post("/tenders/<code>/lots/<int:number>/representatives")
@requires(Permission.TENDER_MANAGE)
@documented(
    "指定招标人代表",
    body=RepresentativeIn,
    ok=RepresentativesOut,
    status=201,
    errors=("not_started", "not_eligible", "already_seated", "representatives_complete", "wrong_state"),
)
def designate(code: str, number: int) -> tuple[Response, int]:
    ev = designate_by_username(code, number, web.json_body(RepresentativeIn).username)
    web.commit()
    return jsonify(representatives_json(ev)), 201


@api.get("/evaluations/<int:evaluation_id>")
@requires(Permission.EVALUATION_ROOM)
@documented("评标室", ok=RoomOut, errors=("not_in_committee",))
def show(evaluation_id: int) -> Response:
    return jsonify(room_json(load_evaluation(evaluation_id), web.require_user()))


def stage_named(stage: str) -> EvalState:
    try:
        return EvalState(stage)
    except ValueError:
        raise unknown_stage(stage, [s.value for s in EvalState]) from None


@api.post("/evaluations/<int:evaluation_id>/stages/<stage>")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "进入指定的下一阶段（组长或交易中心）",
    ok=RoomOut,
    errors=(
        "stage_not_next",
        "unknown_stage",
        "wrong_state",
        "not_leader",
        "no_leader",
        "committee_incomplete",
        "votes_missing",
        "scores_missing",
        "flags_open",
        "evaluation_transition",
    ),
)
def enter_stage(evaluation_id: int, stage: str) -> Response:
    """The leader (or staff) moves the room into ``stage``: ``compliance`` (the review starts),
    ``scoring`` (the review closes), ``signing`` (the report is generated). Anything else than the
    next stage is refused with 409 ``stage_not_next``, naming the current stage and the allowed
    next ones; the step's own refusals (``votes_missing``, ``flags_open``…) keep their codes."""
    wanted = stage_named(stage)
    ev = load_evaluation(evaluation_id, for_update=True)
    refuse_unless_next("评标", ev.state.value, ev.state.label, wanted.value, next_stages(ev))
    ev = enter(ev, wanted)
    web.commit()
    return jsonify(room_json(ev, web.require_user()))


@api.post("/evaluations/<int:evaluation_id>/flags/<int:flag_id>/resolve")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "处理评审提示（写明理由）", body=ReasonIn, ok=RoomOut, errors=("already_resolved", "wrong_state", "not_leader")
)
def resolve(evaluation_id: int, flag_id: int) -> Response:
    ev = load_evaluation(evaluation_id, for_update=True)
    scores.resolve_flag(web.db(), web.require_user(), ev, flag_id, web.json_body(ReasonIn).reason)
    web.commit()
    return jsonify(room_json(ev, web.require_user()))


@api.get("/evaluations/<int:evaluation_id>/opening-seats/<int:opening_seat>/copy")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "投标文件的水印副本（每次下载编号并记录）",
    ok="application/zip",
    errors=("unknown_bidder", "not_a_package", "not_pledged", "not_in_committee", "wrong_state"),
)
def bid_copy(evaluation_id: int, opening_seat: int) -> Response:
    """A watermarked copy of the bid decrypted at ``opening_seat`` (the bidder's seat in the
    opening: ``bidders[].opening_seat`` of the room), each download numbered and logged."""
    return bid_copy_response(evaluation_id, opening_seat)


@api.get("/evaluations/<int:evaluation_id>/report.pdf")
@requires(Permission.EVALUATION_ROOM)
@documented("评标报告（PDF）", ok="application/pdf", errors=("not_in_committee",))
def report_pdf(evaluation_id: int) -> Response:
    ev = load_evaluation(evaluation_id)
    viewer(ev, web.require_user())
    if not ev.report_pdf_key:
        raise NotFound("评标报告尚未生成")
    return Response(services(current_app).store.read_bytes(ev.report_pdf_key), mimetype="application/pdf")


# ---------------------------------------------------------------- bidders
def _clarification_json(c: Clarification) -> dict[str, Any]:
    return {
        "id": c.id,
        "evaluation": c.evaluation_id,
        "question": c.question,
        "asked_at": c.asked_at.isoformat(),
        "deadline": c.deadline.isoformat(),
        "answer": c.answer,
        "answered_at": c.answered_at.isoformat() if c.answered_at else None,
    }


@api.get("/me/clarifications")
@requires(Permission.TENDER_PARTICIPATE)
@documented("本单位收到的澄清要求", ok=ClarificationsOut)
def my_clarifications() -> Response:
    items = compliance.clarifications_for_org(web.db(), web.require_user())
    return jsonify({"items": [_clarification_json(c) for c in items]})


@api.post("/clarifications/<int:clarification_id>/answer")
@requires(Permission.TENDER_PARTICIPATE)
@documented("答复澄清要求", body=TextIn, ok=ClarificationOut, errors=("already_answered", "too_late"))
def answer_clarification(clarification_id: int) -> Response:
    c = compliance.answer(web.db(), web.require_user(), clarification_id, web.json_body(TextIn).text)
    web.commit()
    return jsonify(_clarification_json(c))
