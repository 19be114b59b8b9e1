"""A lot's collusion signals (串标迹象) over the API: for staff, supervisors and the lot's committee,
only after its opening; and the committee's record of how it considered them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.accounts import web
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has, requires
from trading.core.apispec import documented
from trading.core.errors import Forbidden
from trading.evaluation.models import Evaluation
from trading.evaluation.room import my_seat
from trading.evaluation.room_state import load_evaluation
from trading.signals.models import SignalReview, SignalRun
from trading.signals.reviews import record_review, signal_rows
from trading.signals.runs import computed_run, lot_named, signals_of
from trading.signals.schemas import ReviewIn, ReviewOut, SignalsOut
from trading.tenders.models import Lot, Tender
from trading.tenders.shapes import iso

api = Blueprint("signals_api", __name__, url_prefix="/api/v1")


def may_read(session: Session, user: User, lot: Lot) -> None:
    """Staff and supervisors (SIGNALS_READ), or a member seated on this lot's committee."""
    if has(user, Permission.SIGNALS_READ):
        return
    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == lot.id))
    if ev is None:
        raise Forbidden("您不是本标段评标委员会成员", code="not_in_committee")
    my_seat(session, user, ev)


def run_json(session: Session, lot: Lot, run: SignalRun) -> dict[str, Any]:
    tender = session.get(Tender, lot.tender_id)
    assert tender is not None
    reviews = session.scalars(
        select(SignalReview).where(SignalReview.run_id == run.id).order_by(SignalReview.round)
    ).all()
    return {
        "tender": tender.code,
        "lot": lot.number,
        "computed_at": iso(run.computed_at),
        "bids": run.bids,
        "files": run.files,
        "skipped": run.skipped,
        "statement": run.statement,
        "statement_sm3": run.statement_sm3,
        "items": signal_rows(session, signals_of(session, run)),
        "reviews": [review_json(r) for r in reviews],
    }


def review_json(r: SignalReview) -> dict[str, Any]:
    return {"evaluation_id": r.evaluation_id, "round": r.round, "text": r.text, "at": iso(r.at)}


@api.get("/lots/<tender_code>/<int:lot_number>/signals")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "标段的串标迹象（开标解密后计算；工作人员、监督人员与本标段评标委员会可见）",
    ok=SignalsOut,
    errors=("not_found", "signals_not_computed", "not_in_committee"),
)
def lot_signals(tender_code: str, lot_number: int) -> Response:
    """Before the signals are computed the answer is 404 ``signals_not_computed`` whether or not the
    lot has bids: nothing about the bids shows before the opening."""
    db, user = web.db(), web.require_user()
    lot = lot_named(db, tender_code, lot_number)
    may_read(db, user, lot)
    return jsonify(run_json(db, lot, computed_run(db, lot)))


@api.post("/evaluations/<int:evaluation_id>/signals/review")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "记录评标委员会对串标迹象的研判意见（组长或工作人员，每轮一次）",
    body=ReviewIn,
    ok=ReviewOut,
    status=201,
    errors=(
        "not_found",
        "signals_not_computed",
        "signals_already_reviewed",
        "not_leader",
        "not_in_committee",
        "wrong_state",
    ),
    example={"text": "经评标委员会逐项核查，两家投标人使用同一网络地址上传系同一写字楼共用网络，已要求澄清。"},
)
def review(evaluation_id: int) -> tuple[Response, int]:
    data = web.json_body(ReviewIn)
    ev = load_evaluation(evaluation_id, for_update=True)
    r = record_review(web.db(), web.require_user(), ev, data.text)
    web.commit()
    return jsonify(review_json(r)), 201
