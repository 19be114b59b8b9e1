"""A lot's collusion signals (串标迹象) as pages, after its opening: for staff and supervisors
(SIGNALS_READ); the committee sees them as a panel of its room."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, render_template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trading.accounts import web
from trading.accounts.permissions import Permission, has, requires
from trading.evaluation.models import Evaluation
from trading.evaluation.room_state import load_evaluation
from trading.signals.api import review_json
from trading.signals.models import Signal, SignalKind, SignalReview, SignalRun
from trading.signals.reviews import describe_parts, record_review, signal_rows
from trading.signals.runs import computed_run, lot_named, signals_of
from trading.signals.schemas import ReviewIn
from trading.tenders.models import Lot, Tender

pages = Blueprint("signals", __name__, template_folder="templates")

#: The most lots the list shows (the newest first).
LISTED = 500


def run_list(session: Session) -> list[dict[str, Any]]:
    counts = select(Signal.run_id, func.count().label("n")).group_by(Signal.run_id).subquery()
    reviewed = select(SignalReview.run_id, func.count().label("r")).group_by(SignalReview.run_id).subquery()
    q = (
        select(SignalRun, Lot, Tender, func.coalesce(counts.c.n, 0), func.coalesce(reviewed.c.r, 0))
        .join(Lot, Lot.id == SignalRun.lot_id)
        .join(Tender, Tender.id == Lot.tender_id)
        .outerjoin(counts, counts.c.run_id == SignalRun.id)
        .outerjoin(reviewed, reviewed.c.run_id == SignalRun.id)
        .order_by(SignalRun.computed_at.desc(), SignalRun.id.desc())
        .limit(LISTED)
    )
    return [
        {"run": run, "lot": lot, "tender": tender, "signals": int(n), "reviews": int(r)}
        for run, lot, tender, n, r in session.execute(q).all()
    ]


@pages.get("/signals")
@requires(Permission.SIGNALS_READ)
def signal_list() -> str:
    return render_template("signals/list.html", runs=run_list(web.db()), listed=LISTED)


@pages.get("/signals/<tender_code>/<int:lot_number>")
@requires(Permission.SIGNALS_READ)
def lot_page(tender_code: str, lot_number: int) -> str:
    db = web.db()
    lot = lot_named(db, tender_code, lot_number)
    run = computed_run(db, lot)
    rows = signal_rows(db, signals_of(db, run))
    for r in rows:
        r["detail_parts"] = describe_parts(SignalKind(r["kind"]), r["evidence"])
        r["evidence_text"] = json.dumps(r["evidence"], ensure_ascii=False, indent=1, sort_keys=True)
    reviews = db.scalars(select(SignalReview).where(SignalReview.run_id == run.id).order_by(SignalReview.round)).all()
    tender = db.get(Tender, lot.tender_id)
    # the lot's evaluation room (the latest, if a re-evaluation opened another), for those who may enter it
    ev = None
    if has(web.require_user(), Permission.EVALUATION_ROOM):
        ev = db.scalar(select(Evaluation).where(Evaluation.lot_id == lot.id).order_by(Evaluation.id.desc()).limit(1))
    return render_template(
        "signals/lot.html", lot=lot, tender=tender, run=run, rows=rows, reviews=reviews, evaluation=ev
    )


@pages.post("/evaluations/<int:evaluation_id>/signals/review")
@requires(Permission.EVALUATION_ROOM)
def review_page(evaluation_id: int) -> tuple[Response, int]:
    """The room page's record of the committee's consideration (its session and X-CSRFToken; the
    API's route is the same act for a bearer token)."""
    data = web.json_body(ReviewIn)
    ev = load_evaluation(evaluation_id, for_update=True)
    r = record_review(web.db(), web.require_user(), ev, data.text)
    web.commit()
    return jsonify(review_json(r)), 201
