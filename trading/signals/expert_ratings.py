"""标后评价: the center's staff and the lot's tenderee rate each pool expert who sat on a committee,
once the report is signed; an expert whose standing falls below the threshold is suspended from
draws by a credit entry (``trading.signals.ratings`` holds the rules and their sources).

Who is rated: the committee's pool experts who signed in and did not recuse. A tenderee's own
representatives (招标人代表) are the tenderee's people, not the pool's; an expert who recused did
what the law asks (实施条例第四十六条) and did not review the bids, so diligence and quality cannot be
judged (a recusal that should have come earlier is a credit proposal, ``ProposalKind.RECUSAL_FAILURE``).

Who rates: a user who reviews tenders (the center, ``TENDER_REVIEW``) rates as 交易中心; a user who
manages the tender (``Tender.can_manage``) as 招标人. One rating per rater role per expert per
evaluation (``uq_expert_rating_rater``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from archive.db import locked
from signing.digest import sm3_hex
from trading.accounts.models import Organisation, OrgKind, User
from trading.accounts.permissions import Permission, has
from trading.core.errors import Conflict, InvalidInput, NotFound
from trading.core.formats import decimal_text
from trading.credit.checks import draw_suspensions, facts_of
from trading.credit.entries import NewEntry, add_entry
from trading.credit.models import CreditEntry, CreditList, Measure, SubjectKind
from trading.credit.rules import NATIONWIDE, in_force
from trading.evaluation.models import EvalState, Evaluation, Expert, ExpertKind, Seat
from trading.signals import ratings as rules
from trading.signals.models import ExpertRating, RaterRole
from trading.tenders.models import Lot, Tender

#: the evaluation has a signed report (评标报告全体签署) from these states on
RATEABLE_STATES = frozenset({EvalState.REPORTED, EvalState.PUBLICITY, EvalState.AWARDED})
#: the credit feed of the suspensions ratings bring
SOURCE = "rating"


@dataclass(frozen=True)
class Marks:
    punctuality: int
    diligence: int
    quality: int
    discipline: int
    reasons: str = ""

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in rules.MARKS}


def tender_of(session: Session, ev: Evaluation) -> tuple[Lot, Tender]:
    lot = session.get_one(Lot, ev.lot_id)
    return lot, session.get_one(Tender, lot.tender_id)


def rater_role(user: User, tender: Tender) -> RaterRole | None:
    """How ``user`` rates this tender's experts, or None: the center first (a staff member is never
    the tenderee's user)."""
    if not has(user, Permission.EXPERT_RATE):
        return None
    if has(user, Permission.TENDER_REVIEW):
        return RaterRole.STAFF
    return RaterRole.TENDEREE if tender.can_manage(user) else None


def may_read(user: User, tender: Tender) -> bool:
    """Who sees who rated whom: the raters, and supervisors (who read every evaluation)."""
    return rater_role(user, tender) is not None or has(user, Permission.SUPERVISION_READ)


def evaluation_for(session: Session, user: User, ev_id: int, *, rating: bool) -> tuple[Evaluation, Tender]:
    """The evaluation if ``user`` may rate (``rating``) or read its ratings; 404 otherwise (a
    tenderee learns nothing of another's lots)."""
    ev = session.get(Evaluation, ev_id)
    if ev is not None:
        _, tender = tender_of(session, ev)
        allowed = rater_role(user, tender) is not None if rating else may_read(user, tender)
        if allowed:
            return ev, tender
    raise NotFound("评标不存在，或您无权评价其专家")


def sitting_experts(session: Session, ev: Evaluation) -> list[Expert]:
    """The pool experts who sat: signed in, did not recuse, not the tenderee's representatives."""
    q = (
        select(Expert)
        .join(Seat, Seat.expert_id == Expert.id)
        .where(
            Seat.evaluation_id == ev.id,
            Seat.representative.is_(False),
            Seat.recused_at.is_(None),
            Seat.signed_in_at.is_not(None),
            Expert.kind == ExpertKind.POOL,
        )
        .order_by(Seat.id)
    )
    return list(session.scalars(q))


def ratings_of(session: Session, ev: Evaluation) -> list[ExpertRating]:
    q = select(ExpertRating).where(ExpertRating.evaluation_id == ev.id)
    return list(session.scalars(q.order_by(ExpertRating.expert_id, ExpertRating.rater_role)))


def rate_expert(
    session: Session,
    user: User,
    ev: Evaluation,
    tender: Tender,
    expert_id: int,
    marks: Marks,
    *,
    policy: rules.Policy,
    now: dt.datetime | None = None,
) -> tuple[ExpertRating, CreditEntry | None]:
    """Record ``user``'s rating of one sitting expert (flushed, with its audit event) and, when the
    expert's standing falls below the threshold, the suspension entry it brings."""
    now = now or clock.now()
    role = rater_role(user, tender)
    if role is None:
        raise NotFound("评标不存在，或您无权评价其专家")
    if ev.state not in RATEABLE_STATES or ev.report_statement is None:
        raise Conflict("评标报告全体签署后才能评价专家", code="evaluation_not_reported")
    expert = next((e for e in sitting_experts(session, ev) if e.id == expert_id), None)
    if expert is None:
        raise InvalidInput(
            "该专家不是本次评标委员会中签到且未回避的评标专家",
            code="expert_not_sitting",
            fields={"expert_id": "不在可评价的专家中"},
        )
    errors = rules.marks_errors(marks.as_dict(), marks.reasons)
    if errors:
        raise InvalidInput("评价未通过校验", fields=errors)
    taken = select(ExpertRating.id).where(
        ExpertRating.evaluation_id == ev.id, ExpertRating.expert_id == expert.id, ExpertRating.rater_role == role
    )
    if session.scalar(taken) is not None:
        raise Conflict(f"{role.label}已评价过该专家", code="already_rated")
    row = ExpertRating(
        evaluation_id=ev.id,
        expert_id=expert.id,
        rater_role=role,
        user_id=user.id,
        reasons=marks.reasons.strip(),
        at=now,
        **marks.as_dict(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # a second rater of the same role got there first
        raise Conflict(f"{role.label}已评价过该专家", code="already_rated") from exc
    record_event(
        session,
        user,
        "expert_rating.rate",
        row,
        {
            "evaluation": ev.id,
            "expert": expert.id,
            "role": role.value,
            **marks.as_dict(),
            "reasons_sm3": sm3_hex(row.reasons.encode()) if row.reasons else None,
        },
    )
    return row, suspend_if_below(session, expert, row, policy, now)


def recent_values(session: Session, expert_id: int, limit: int) -> list[tuple[int, Decimal, RaterRole]]:
    """The expert's last ``limit`` ratings (id, value, who rated), oldest first."""
    q = (
        select(ExpertRating)
        .where(ExpertRating.expert_id == expert_id)
        .order_by(ExpertRating.at.desc(), ExpertRating.id.desc())
        .limit(limit)
    )
    rows = list(session.scalars(q))
    return [(r.id, rules.rating_average(marks_of(r)), r.rater_role) for r in reversed(rows)]


def marks_of(r: ExpertRating) -> dict[str, int]:
    return {k: getattr(r, k) for k in rules.MARKS}


def center_name(session: Session) -> str:
    name = session.scalar(
        select(Organisation.name).where(Organisation.kind == OrgKind.TRADING_CENTER).order_by(Organisation.id)
    )
    return name or "公共资源交易中心"


def suspend_if_below(
    session: Session, expert: Expert, rating: ExpertRating, policy: rules.Policy, now: dt.datetime
) -> CreditEntry | None:
    """The suspension entry when the expert's standing is below the threshold and no suspension
    from ratings holds today (one at a time: the next rating after it ends is measured again)."""
    # the expert's row locked: two raters finishing at once must not both write a suspension
    session.scalar(locked(select(Expert.id).where(Expert.id == expert.id)))
    recent = recent_values(session, expert.id, policy.window)
    value = rules.standing([v for _, v, _ in recent], policy.window)
    if not rules.suspends(value, policy.threshold) or not rules.center_rated([r for _, _, r in recent]):
        return None
    today = clock.local(now).date()
    running = session.scalars(
        select(CreditEntry).where(
            CreditEntry.source == SOURCE,
            CreditEntry.subject_kind == SubjectKind.EXPERT,
            CreditEntry.subject_id == str(expert.id),
        )
    )
    if any(in_force(facts_of(e), today, now) for e in running):
        return None
    starts, ends = rules.suspension_period(today, policy.days)
    ids = ",".join(str(i) for i, _, _ in recent)
    new = NewEntry(
        subject_kind=SubjectKind.EXPERT,
        subject_id=str(expert.id),
        subject_name=expert.name,
        list_kind=CreditList.PLATFORM,
        measure=Measure.DRAW_SUSPENSION,
        region=NATIONWIDE,
        category=None,
        starts_on=starts,
        ends_on=ends,
        authority=center_name(session),
        document_no=f"标后评价 {ids}"[:100],
        facts=(
            f"最近 {policy.window} 次标后评价平均 {decimal_text(value)} 分，低于 {decimal_text(policy.threshold, 1)} 分"
            f"（评价编号 {ids}），暂停抽取 {policy.days} 日"
        ),
        source=SOURCE,
        source_ref=f"rating:{expert.id}:{rating.id}",
    )
    entry, _ = add_entry(session, SYSTEM, new, user_id=None, import_id=None, now=now)
    return entry


@dataclass(frozen=True)
class Standing:
    expert_id: int
    name: str
    count: int
    value: Decimal | None
    suspended_until: dt.date | None


def standings(session: Session, policy: rules.Policy, now: dt.datetime | None = None) -> list[Standing]:
    """Every rated expert's standing, with the suspension from credit that holds today."""
    now = now or clock.now()
    by_expert: dict[int, list[ExpertRating]] = {}
    for r in session.scalars(select(ExpertRating).order_by(ExpertRating.at, ExpertRating.id)):
        by_expert.setdefault(r.expert_id, []).append(r)
    names = dict(session.execute(select(Expert.id, Expert.name).where(Expert.id.in_(by_expert))).all())
    held = draw_suspensions(session, by_expert, clock.local(now).date(), now)
    return [
        Standing(
            i,
            names.get(i, ""),
            len(rs),
            rules.standing([rules.rating_average(marks_of(r)) for r in rs], policy.window),
            held.get(i),
        )
        for i, rs in sorted(by_expert.items())
    ]
