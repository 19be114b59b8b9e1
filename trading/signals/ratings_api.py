"""Ratings over the API: experts after an evaluation (标后评价) and the center's services (好差评).

- ``POST /api/v1/evaluations/{id}/ratings``: one rater's marks for one expert (staff, the tenderee);
- ``GET /api/v1/evaluations/{id}/ratings``: who rated whom (the raters and supervisors);
- ``POST /api/v1/ratings/services``: an organisation's rating of a service it had;
- ``GET /api/v1/me/ratings/pending``: the services the user's organisation may still rate;
- ``GET /api/v1/ratings/services/bad``, ``POST /api/v1/ratings/services/{id}/answer``: the center's 差评;
- ``GET /api/v1/ratings/services``: the public aggregates (no rater, no comment).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from trading.accounts import web
from trading.accounts.models import Organisation
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import InvalidInput
from trading.core.formats import decimal_text, month_of
from trading.core.services import services
from trading.credit.models import CreditEntry
from trading.evaluation.models import Evaluation, Expert
from trading.signals import expert_ratings, service_ratings
from trading.signals import ratings as rules
from trading.signals.models import ExpertRating, ServiceKind, ServiceRating
from trading.signals.ratings_schemas import (
    AggregatesOut,
    AggregatesQuery,
    AnswerIn,
    BadRatingOut,
    BadRatingsOut,
    EvaluationRatingsOut,
    ExpertRatedOut,
    ExpertRatingIn,
    PendingOut,
    ServiceRatingIn,
    ServiceRatingOut,
)
from trading.tenders.models import Tender

api = Blueprint("ratings_api", __name__, url_prefix="/api/v1")
MONTH = re.compile(r"^(19|20)\d\d-(0[1-9]|1[0-2])$", re.ASCII)
#: answered 差评 the public aggregates show at most (the newest)
PUBLIC_ANSWERS = 100


log = logging.getLogger("ggzy.ratings")


def policy() -> rules.Policy:
    """The expert-rating settings (``GGZY_RATING_*``; ``create_app`` refused to start with a bad one)."""
    return rules.policy_from(services(current_app).settings.ratings)


# ---------------------------------------------------------------- JSON of the rows
def expert_rating_json(r: ExpertRating, names: Mapping[int, str]) -> dict[str, Any]:
    marks = expert_ratings.marks_of(r)
    return {
        "id": r.id,
        "evaluation": r.evaluation_id,
        "expert": r.expert_id,
        "expert_name": names.get(r.expert_id, ""),
        "role": r.rater_role.value,
        "role_label": r.rater_role.label,
        **marks,
        "average": decimal_text(rules.rating_average(marks)),
        "reasons": r.reasons,
        "at": clock.as_utc(r.at).isoformat(),
    }


def evaluation_ratings_json(session: Session, user: Any, ev: Evaluation, tender: Tender) -> dict[str, Any]:
    lot, _ = expert_ratings.tender_of(session, ev)
    experts = expert_ratings.sitting_experts(session, ev)
    rows = expert_ratings.ratings_of(session, ev)
    rated: dict[int, list[str]] = {}
    for r in rows:
        rated.setdefault(r.expert_id, []).append(r.rater_role.value)
    names = {e.id: e.name for e in experts} | dict(
        session.execute(select(Expert.id, Expert.name).where(Expert.id.in_({r.expert_id for r in rows}))).all()
    )
    role = expert_ratings.rater_role(user, tender)
    return {
        "evaluation": ev.id,
        "tender": tender.code,
        "lot": lot.number,
        "state": ev.state.value,
        "open": ev.state in expert_ratings.RATEABLE_STATES and ev.report_statement is not None,
        "my_role": role.value if role else None,
        "experts": [{"id": e.id, "name": e.name, "rated_by": rated.get(e.id, [])} for e in experts],
        "ratings": [expert_rating_json(r, names) for r in rows],
    }


def service_rating_json(r: ServiceRating) -> dict[str, Any]:
    return {
        "id": r.id,
        "service": r.service.value,
        "service_label": r.service.label,
        "subject": r.subject,
        "tender": r.tender_code,
        "role": r.rater_role.value,
        "score": r.score,
        "score_label": rules.score_label(r.score),
        "comment": r.comment,
        "at": clock.as_utc(r.at).isoformat(),
        "bad": r.answer_due is not None,
        "answer_due": clock.as_utc(r.answer_due).isoformat() if r.answer_due else None,
        "answer": r.answer,
        "answered_at": clock.as_utc(r.answered_at).isoformat() if r.answered_at else None,
    }


def late(r: ServiceRating, now: dt.datetime) -> bool:
    if r.answer_due is None:
        return False
    return clock.as_utc(r.answered_at or now) > clock.as_utc(r.answer_due)


def bad_rating_json(r: ServiceRating, orgs: Mapping[int, str], now: dt.datetime) -> dict[str, Any]:
    return {**service_rating_json(r), "org_name": orgs.get(r.org_id, ""), "late": late(r, now)}


def bad_ratings_json(session: Session, *, open_only: bool = False) -> list[dict[str, Any]]:
    rows = service_ratings.bad_ratings(session, open_only=open_only)
    q = select(Organisation.id, Organisation.name).where(Organisation.id.in_({r.org_id for r in rows}))
    orgs = dict(session.execute(q).all())
    now = clock.now()
    return [bad_rating_json(r, orgs, now) for r in rows]


def read_month(args: Mapping[str, str]) -> str | None:
    raw = (args.get("month") or "").strip()
    if not raw:
        return None
    if not MONTH.match(raw):
        raise InvalidInput("月份应为 YYYY-MM", code="rating_month", fields={"month": "YYYY-MM"})
    return raw


def share(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value, 4)


def aggregates_json(session: Session, month: str | None) -> dict[str, Any]:
    """Per service and month, and every month together (``month`` ""); with ``month``, that month only."""
    cells = rules.aggregate(service_ratings.facts(session))
    order = {k.value: i for i, k in enumerate(ServiceKind)}
    chosen = sorted(
        (c for c in cells.values() if (c.month == month if month else True)),
        key=lambda c: (order.get(c.service, 99), c.month != "", c.month),
    )
    q = select(ServiceRating).where(ServiceRating.answered_at.is_not(None), ServiceRating.answer_due.is_not(None))
    if month:
        start, end = rules.month_bounds(month)
        q = q.where(ServiceRating.at >= start, ServiceRating.at < end)
    answered = list(session.scalars(q.order_by(ServiceRating.answered_at.desc()).limit(PUBLIC_ANSWERS)))
    return {
        "month": month,
        "cells": [
            {
                "service": c.service,
                "service_label": ServiceKind(c.service).label if c.service in order else c.service,
                "month": c.month,
                "count": c.count,
                "average": decimal_text(c.average) if c.average is not None else None,
                "bad": c.bad,
                "bad_share": share(c.bad_share),
                "answered": c.answered,
                "on_time": c.on_time,
                "on_time_share": share(c.on_time_share),
            }
            for c in chosen
        ],
        "answered": [
            {
                "service": r.service.value,
                "service_label": r.service.label,
                "month": month_of(clock.as_utc(r.at)),
                "score": r.score,
                "score_label": rules.score_label(r.score),
                "answer": r.answer or "",
                "answered_at": clock.as_utc(r.answered_at).isoformat() if r.answered_at else None,
                "on_time": not late(r, clock.now()),
            }
            for r in answered
        ],
    }


def rated_json(session: Session, row: ExpertRating, entry: CreditEntry | None) -> dict[str, Any]:
    name = session.scalar(select(Expert.name).where(Expert.id == row.expert_id)) or ""
    suspension = None
    if entry is not None:
        suspension = {
            "credit_entry": entry.id,
            "starts_on": entry.starts_on.isoformat(),
            "ends_on": entry.ends_on.isoformat() if entry.ends_on else None,
        }
    return {"rating": expert_rating_json(row, {row.expert_id: name}), "suspension": suspension}


# ---------------------------------------------------------------- experts
@api.post("/evaluations/<int:ev_id>/ratings")
@requires(Permission.EXPERT_RATE)
@documented(
    "标后评价：交易中心或招标人对一名评标专家的评价（守时、勤勉尽责、专业水平、评标纪律，1–5）",
    body=ExpertRatingIn,
    ok=ExpertRatedOut,
    status=201,
    errors=("not_found", "evaluation_not_reported", "expert_not_sitting", "already_rated", "invalid_input"),
)
def rate_expert(ev_id: int) -> tuple[Response, int]:
    """任一项低于 3 分须写明理由；该专家最近若干次评价的平均分低于阈值时，平台写入暂停抽取的信用记录。"""
    db, user = web.db(), web.require_user()
    body = web.json_body(ExpertRatingIn)
    ev, tender = expert_ratings.evaluation_for(db, user, ev_id, rating=True)
    marks = expert_ratings.Marks(body.punctuality, body.diligence, body.quality, body.discipline, body.reasons)
    row, entry = expert_ratings.rate_expert(db, user, ev, tender, body.expert_id, marks, policy=policy())
    out = rated_json(db, row, entry)
    web.commit()
    return jsonify(out), 201


@api.get("/evaluations/<int:ev_id>/ratings")
@requires(Permission.EVALUATION_ROOM)
@documented("标后评价：本次评标可评价的专家和已有的评价（交易中心、招标人、监督人员）", ok=EvaluationRatingsOut)
def evaluation_ratings(ev_id: int) -> Response:
    db, user = web.db(), web.require_user()
    ev, tender = expert_ratings.evaluation_for(db, user, ev_id, rating=False)
    return jsonify(evaluation_ratings_json(db, user, ev, tender))


# ---------------------------------------------------------------- services
@api.post("/ratings/services")
@requires(Permission.SERVICE_RATE)
@documented(
    "好差评：评价本单位参与的一项服务（服务结束后，每个单位一次）",
    body=ServiceRatingIn,
    ok=ServiceRatingOut,
    status=201,
    errors=("not_found", "service_not_ended", "already_rated", "invalid_input", "forbidden"),
)
def rate_service() -> tuple[Response, int]:
    """1–2 分为差评：交易中心须在 15 个工作日内核实并答复（监督规则“答复服务差评”计时）。"""
    db, user = web.db(), web.require_user()
    body = web.json_body(ServiceRatingIn)
    row = service_ratings.rate_service(db, user, body.service, body.subject, body.score, body.comment)
    out = service_rating_json(row)
    web.commit()
    return jsonify(out), 201


@api.get("/me/ratings/pending")
@requires(Permission.SERVICE_RATE)
@documented("好差评：本单位可以评价、尚未评价的服务", ok=PendingOut)
def pending() -> Response:
    db, user = web.db(), web.require_user()
    return jsonify({"items": [s.as_json() for s in service_ratings.pending(db, user)]})


@api.get("/ratings/services/bad")
@requires(Permission.SERVICE_ANSWER)
@documented("好差评：差评及其答复（交易中心），未答复的在前", ok=BadRatingsOut)
def bad_ratings() -> Response:
    return jsonify({"items": bad_ratings_json(web.db(), open_only=request.args.get("open") == "1")})


@api.post("/ratings/services/<int:rating_id>/answer")
@requires(Permission.SERVICE_ANSWER)
@documented(
    "好差评：交易中心答复一条差评（核实整改情况，10–1000 字）",
    body=AnswerIn,
    ok=BadRatingOut,
    errors=("not_found", "rating_not_bad", "rating_answered", "invalid_input"),
)
def answer(rating_id: int) -> Response:
    db, user = web.db(), web.require_user()
    text = web.json_body(AnswerIn).text
    row = service_ratings.answer_rating(db, user, rating_id, text)
    org = db.get(Organisation, row.org_id)
    out = bad_rating_json(row, {row.org_id: org.name if org else ""}, clock.now())
    web.commit()
    return jsonify(out)


@api.get("/ratings/services")
@requires(Permission.PUBLIC)
@documented(
    "服务评价（好差评）公开统计：各类服务按月的评价数、平均分、差评率、按时答复率，及已答复差评的答复",
    ok=AggregatesOut,
    query=AggregatesQuery,
    errors=("rating_month",),
)
def aggregates() -> Response:
    """不公开评价单位和评价意见。"""
    return jsonify(aggregates_json(web.db(), read_month(request.args)))
