"""After the report, over the API: the candidates' publicity, objections, the award, the contract
and the tenderee's claim against a bidder's guarantee.

Staff publish the publicity from the room (``/evaluations/<id>/publicity``, beside the room's own
actions); bidders object while it runs; the tenderee answers objections, awards, records the
contract and claims; anyone reads the publicity, the result and the award notice.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.orm import Session

from archive import clock
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.awards import award as aw
from trading.awards.claims import bring_opening_up_to_date, file_claim
from trading.awards.schemas import (
    AwardIn,
    ClaimFiledOut,
    ClaimIn,
    ObjectionRaisedOut,
    PublicityOut,
    PublicityStartedOut,
)
from trading.core.apispec import documented
from trading.core.errors import NotFound
from trading.core.services import services
from trading.evaluation import room
from trading.evaluation.models import EvalState, Evaluation
from trading.evaluation.room_state import load_evaluation, room_json
from trading.evaluation.schemas import TextIn

api = Blueprint("awards_api", __name__, url_prefix="/api/v1")


def publicity_json(session: Session, ev: Evaluation) -> dict[str, Any]:
    """What the public sees: nothing before the publicity; then candidates, objections (without
    who raised them), the result and the notice's signed statement."""
    if ev.state not in (EvalState.PUBLICITY, EvalState.AWARDED) or ev.report is None:
        raise NotFound("本标段尚未公示中标候选人", code="not_public")
    lot, tender = room.lot_and_tender(session, ev)
    now = clock.now()
    return {
        "evaluation": ev.id,
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
        "state": ev.state.value,
        "state_label": ev.state.label,
        "candidates": ev.report["candidates"],
        "announcement": ev.publicity_announcement_id,
        "ends_at": ev.publicity_ends_at.isoformat() if ev.publicity_ends_at else None,
        "ended": bool(ev.publicity_ends_at and now >= ev.publicity_ends_at and ev.suspended_at is None),
        "suspended": ev.suspended_at is not None,
        "objections": [
            {
                "id": o.id,
                "text": o.text,
                "raised_at": o.created_at.isoformat(),
                "answer_due": o.answer_due.isoformat(),
                "answer": o.answer,
                "answered_at": o.answered_at.isoformat() if o.answered_at else None,
            }
            for o in aw.objections(session, ev)
        ],
        "winner": ev.winner_bidder_id,
        "awarded_at": ev.awarded_at.isoformat() if ev.awarded_at else None,
        "award_reason": ev.award_reason,
        "notice_statement": ev.notice_statement,
        "contract_signed_at": ev.contract_signed_at.isoformat() if ev.contract_signed_at else None,
    }


# ---------------------------------------------------------------- staff, from the room
def start_publicity(evaluation_id: int) -> Response:
    """Publish the candidates' publicity (the API and the room page alike); answers with the room."""
    db, user = web.db(), web.require_user()
    ev = load_evaluation(evaluation_id, for_update=True)
    announcement = aw.start_publicity(db, user, ev)
    web.commit()
    return jsonify(room_json(ev, user) | {"announcement": announcement.id})


@api.post("/evaluations/<int:evaluation_id>/publicity")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "发布中标候选人公示", ok=PublicityStartedOut, errors=("not_started", "wrong_state", "evaluation_transition")
)
def publicity_start(evaluation_id: int) -> Response:
    return start_publicity(evaluation_id)


# ---------------------------------------------------------------- bidders
@api.post("/evaluations/<int:evaluation_id>/objections")
@requires(Permission.TENDER_PARTICIPATE)
@documented(
    "对中标候选人提出异议",
    body=TextIn,
    ok=ObjectionRaisedOut,
    status=201,
    errors=("not_started", "not_a_bidder", "out_of_time", "wrong_state"),
    example={"text": "第一中标候选人的项目经理有在建工程，不符合招标文件要求。"},
)
def object_to(evaluation_id: int) -> tuple[Response, int]:
    ev = load_evaluation(evaluation_id, for_update=True)
    o = aw.object_to(web.db(), web.require_user(), ev, web.json_body(TextIn).text)
    web.commit()
    return jsonify({"id": o.id, "answer_due": o.answer_due.isoformat()}), 201


# ---------------------------------------------------------------- the tenderee
@api.post("/evaluations/<int:evaluation_id>/objections/<int:objection_id>/answer")
@requires(Permission.TENDER_MANAGE)
@documented(
    "答复异议",
    body=TextIn,
    ok=PublicityOut,
    errors=("not_started", "forbidden", "already_answered", "too_late"),
    example={"text": "经核查，该项目经理的在建工程已于开标前竣工验收，异议不成立。"},
)
def answer_objection(evaluation_id: int, objection_id: int) -> Response:
    ev = load_evaluation(evaluation_id, for_update=True)
    aw.answer_objection(web.db(), web.require_user(), ev, objection_id, web.json_body(TextIn).text)
    web.commit()
    return jsonify(publicity_json(web.db(), ev))


@api.post("/evaluations/<int:evaluation_id>/award")
@requires(Permission.TENDER_MANAGE)
@documented(
    "定标并发出中标通知书",
    body=AwardIn,
    ok=PublicityOut,
    errors=("not_started", "forbidden", "wrong_state", "objection_open", "publicity_running", "invalid_input"),
    example={"winner": 12, "reason": ""},
)
def award(evaluation_id: int) -> Response:
    ev = load_evaluation(evaluation_id, for_update=True)
    data = web.json_body(AwardIn)
    aw.award(web.db(), web.require_user(), ev, services(current_app), data.winner, data.reason)
    web.commit()
    return jsonify(publicity_json(web.db(), ev))


@api.post("/evaluations/<int:evaluation_id>/contract")
@requires(Permission.TENDER_MANAGE)
@documented("确认合同已签订", ok=PublicityOut, errors=("not_started", "forbidden", "wrong_state", "already_signed"))
def contract(evaluation_id: int) -> Response:
    ev = load_evaluation(evaluation_id, for_update=True)
    aw.confirm_contract(web.db(), web.require_user(), ev)
    web.commit()
    return jsonify(publicity_json(web.db(), ev))


@api.post("/guarantees/<int:guarantee_id>/claims")
@requires(Permission.TENDER_MANAGE)
@documented(
    "对投标保函提出索赔",
    body=ClaimIn,
    ok=ClaimFiledOut,
    status=201,
    errors=("no_such_guarantee", "forbidden", "before_opening", "no_grounds", "out_of_time", "wrong_state"),
    example={"ground": "withdrew_after_deadline", "statement": "该投标人在投标截止后撤销投标文件。"},
)
def claim(guarantee_id: int) -> tuple[Response, int]:
    data = web.json_body(ClaimIn)
    bring_opening_up_to_date(web.db(), guarantee_id, services(current_app))
    web.commit_and_reread()
    c = file_claim(web.db(), web.require_user(), guarantee_id, data.ground, data.statement)
    web.commit()
    return jsonify({"id": c.id, "state": c.state.value, "evidence": c.evidence}), 201


# ---------------------------------------------------------------- public
@api.get("/evaluations/<int:evaluation_id>/publicity")
@requires(Permission.PUBLIC)
@documented("中标候选人公示与结果", ok=PublicityOut, errors=("not_started", "not_public"))
def publicity(evaluation_id: int) -> Response:
    return jsonify(publicity_json(web.db(), load_evaluation(evaluation_id)))


@api.get("/evaluations/<int:evaluation_id>/notice.pdf")
@requires(Permission.PUBLIC)
@documented("中标通知书（PDF）", ok="application/pdf", errors=("not_started",))
def notice_pdf(evaluation_id: int) -> Response:
    ev = load_evaluation(evaluation_id)
    if not ev.notice_key:
        raise NotFound("中标通知书尚未发出")
    return Response(services(current_app).store.read_bytes(ev.notice_key), mimetype="application/pdf")


@api.get("/evaluations/<int:evaluation_id>/notice.sig")
@requires(Permission.PUBLIC)
@documented("中标通知书的平台签名文件（按字节原样核验）", ok="application/octet-stream", errors=("not_started",))
def notice_sig(evaluation_id: int) -> Response:
    """The award notice's detached signed statement, byte for byte as signed (as ``record.sig``):
    canonical JSON ``statement`` (base64 of the signed bytes: type award_notice, signed_at, body
    with the notice's facts and ``pdf_sm3``, the SM3 of ``notice.pdf``), ``signature`` (SM2, DER,
    base64) and ``signer_cert`` (DER, base64). It is the ``notice_statement`` of the publicity."""
    ev = load_evaluation(evaluation_id)
    if not ev.notice_statement:
        raise NotFound("中标通知书尚未发出")
    return Response(
        ev.notice_statement.encode(),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="award-notice-{ev.id}.sig"'},
    )
