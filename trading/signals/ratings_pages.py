"""Ratings pages: 标后评价 for staff and tenderees, 好差评 for the people served, public aggregates.

- ``/evaluations/<id>/ratings``: the lot's sitting experts, a form per expert for the user's rater
  role, and the ratings so far (staff, the tenderee; supervisors read);
- ``/me/ratings``: 我的服务评价, the services the organisation may still rate, and its ratings;
- ``/ratings/answers``: the center's 差评 to answer (SERVICE_ANSWER);
- ``/ratings``: 服务评价, the public aggregates with their charts and the center's answers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from trading.accounts import web
from trading.accounts.form_errors import refusal_text
from trading.accounts.permissions import Permission, requires
from trading.core.charts import COLOURS, Point, bar_chart, line_chart, svg
from trading.core.errors import DomainError
from trading.evaluation.models import Expert
from trading.signals import expert_ratings, service_ratings
from trading.signals import ratings as rules
from trading.signals.models import ServiceKind, ServiceRating
from trading.signals.ratings_api import (
    aggregates_json,
    bad_ratings_json,
    evaluation_ratings_json,
    policy,
    read_month,
    service_rating_json,
)
from trading.signals.ratings_schemas import AnswerIn, ExpertRatingIn, ServiceRatingIn

pages = Blueprint("ratings", __name__, template_folder="templates")


# ---------------------------------------------------------------- experts
@pages.get("/evaluations/<int:ev_id>/ratings")
@requires(Permission.EVALUATION_ROOM)
def experts_page(ev_id: int, kept: dict[str, str] | None = None, error: str = "") -> str:
    """``kept``: a refused rating's form as sent, shown again with ``error`` (nothing typed is lost)."""
    db, user = web.db(), web.require_user()
    ev, tender = expert_ratings.evaluation_for(db, user, ev_id, rating=False)
    data = evaluation_ratings_json(db, user, ev, tender)
    return render_template(
        "ratings/experts.html",
        d=data,
        tender=tender,
        marks=rules.MARKS,
        below=rules.REASON_BELOW,
        policy=policy(),
        kept=kept or {},
        error=error,
    )


@pages.post("/evaluations/<int:ev_id>/ratings")
@requires(Permission.EXPERT_RATE)
def experts_submit(ev_id: int) -> ResponseReturnValue:
    db, user = web.db(), web.require_user()
    ev, tender = expert_ratings.evaluation_for(db, user, ev_id, rating=True)

    try:
        b = web.form_body(ExpertRatingIn)
        marks = expert_ratings.Marks(b.punctuality, b.diligence, b.quality, b.discipline, b.reasons)
        expert_ratings.rate_expert(db, user, ev, tender, b.expert_id, marks, policy=policy())
        web.commit()
    except DomainError as exc:
        db.rollback()
        kept = {k: request.form.get(k, "") for k in ("expert_id", "reasons", *rules.MARKS)}
        name = (
            db.scalar(select(Expert.name).where(Expert.id == int(kept["expert_id"])))
            if kept["expert_id"].isdigit()
            else None
        )
        who = f"对{name}的评价" if name else "评价"
        return experts_page(ev_id, kept, f"{who}未提交：{refusal_text(exc)}"), 422
    flash("评价已提交")
    return redirect(url_for("ratings.experts_page", ev_id=ev_id))


# ---------------------------------------------------------------- my services
@pages.get("/me/ratings")
@requires(Permission.SERVICE_RATE)
def mine_page() -> str:
    db, user = web.db(), web.require_user()
    rows: list[ServiceRating] = []
    if user.organisation_id is not None:
        q = select(ServiceRating).where(ServiceRating.org_id == user.organisation_id)
        rows = list(db.scalars(q.order_by(ServiceRating.id.desc()).limit(200)))
    return render_template(
        "ratings/mine.html",
        pending=service_ratings.pending(db, user),
        done=[service_rating_json(r) for r in rows],
        scores=rules.SCORE_LABELS,
        comment_max=rules.COMMENT_MAX,
        answer_days=rules.ANSWER_WORKING_DAYS,
    )


@pages.post("/me/ratings")
@requires(Permission.SERVICE_RATE)
def mine_submit() -> ResponseReturnValue:
    db, user = web.db(), web.require_user()

    def step() -> None:
        b = web.form_body(ServiceRatingIn)
        service_ratings.rate_service(db, user, b.service, b.subject, b.score, b.comment)

    web.form_step(step, "评价已提交，感谢您的评价", "未提交")
    return redirect(url_for("ratings.mine_page"))


# ---------------------------------------------------------------- the center's answers
@pages.get("/ratings/answers")
@requires(Permission.SERVICE_ANSWER)
def answers_page() -> str:
    open_only = request.args.get("open") == "1"
    return render_template(
        "ratings/answers.html",
        items=bad_ratings_json(web.db(), open_only=open_only),
        open_only=open_only,
        limits=(rules.ANSWER_MIN, rules.ANSWER_MAX),
    )


@pages.post("/ratings/answers/<int:rating_id>")
@requires(Permission.SERVICE_ANSWER)
def answer_submit(rating_id: int) -> ResponseReturnValue:
    db, user = web.db(), web.require_user()

    def step() -> None:
        service_ratings.answer_rating(db, user, rating_id, web.form_body(AnswerIn).text)

    web.form_step(step, "答复已提交", "未提交")
    return redirect(url_for("ratings.answers_page"))


# ---------------------------------------------------------------- public
def charts_of(data: dict[str, Any]) -> list[tuple[str, Markup]]:
    """The average by service (bars), the 差评率 by service (bars), and (over every month) the
    number of ratings by month (a line)."""
    cells: list[dict[str, Any]] = data["cells"]
    whole = [c for c in cells if c["month"] == (data["month"] or "")]
    averages = [Point(c["service_label"], Decimal(c["average"]), c["average"]) for c in whole if c["average"]]
    bad = [
        Point(c["service_label"], Decimal(c["bad_share"]) * 100, rules.percent(Decimal(c["bad_share"])))
        for c in whole
        if c["bad_share"] is not None
    ]
    months: dict[str, int] = {}
    for c in cells:
        if c["month"] and not data["month"]:
            months[c["month"]] = months.get(c["month"], 0) + int(c["count"])
    counts = [Point(m, Decimal(n), f"{n} 条") for m, n in sorted(months.items())]
    out = [
        ("各类服务平均分（1–5）", svg(bar_chart("各类服务平均分（1–5）", averages), "chart-average")),
        ("各类服务差评率（%）", svg(bar_chart("各类服务差评率（%）", bad, COLOURS[2]), "chart-bad")),
    ]
    if len(counts) > 1:
        out.append(("各月评价数", svg(line_chart("各月评价数", counts, COLOURS[1]), "chart-months")))
    elif counts:  # one month so far: its count as a bar (a line needs two points)
        out.append(("各月评价数", svg(bar_chart("各月评价数", counts, COLOURS[1]), "chart-months")))
    return out


@pages.app_template_filter("rating_subject")
def rating_subject(subject: str) -> str:
    """A service's subject as people read it: ``GGZY-2026-000003/1`` → ``GGZY-2026-000003 第1标段``."""
    code, slash, lot = subject.partition("/")
    return f"{code} 第{lot}标段" if slash and lot.isdigit() else subject


@pages.get("/ratings")
@requires(Permission.PUBLIC)
def public_page() -> str:
    month = read_month(request.args)
    data = aggregates_json(web.db(), month)
    return render_template(
        "ratings/public.html",
        d=data,
        month=month or "",
        charts=charts_of(data),
        kinds=ServiceKind,
        percent=lambda v: rules.percent(Decimal(v)) if v is not None else "—",
        answer_days=rules.ANSWER_WORKING_DAYS,
    )
