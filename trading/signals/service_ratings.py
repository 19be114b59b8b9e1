"""好差评: the organisations a service was for rate it once it is over (1–5, a comment); the center
answers each 差评 within the supervision rule's limit; the aggregates are public.

The services and who may rate them (``Service``):

| service | subject | who | from when |
|---|---|---|---|
| 公告审核发布 | the tender's code | its tenderee (and agency) | the tender is published |
| 开标服务 | ``<code>/<lot number>`` | the ceremony's bidders and the tenderee | the ceremony closed (or failed) |
| 评标服务 | the evaluation's id | the tenderee (and agency) | the report is signed |
| 投诉处理 | the complaint's number | the complainant and the parties | decided, refused or withdrawn |

Complaints belong to the supervision stage, which comes after this one: it provides that service
through the hooks ``later_services`` and ``later_service`` (``trading.supervision.complaint_ratings``,
connected in ``trading.app.connect_stages``).

A rating is one per organisation per service (``uq_service_rating_rater``). A 差评 (score ≤ 2) gets
``answer_due`` (15 working days, ``ratings.ANSWER_WORKING_DAYS``) and its audit event starts the
supervision clock ``service_rating_answer``; the center's answer stops it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from archive.db import locked
from signing.digest import sm3_hex
from trading.accounts.models import User
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.hooks import Hook
from trading.evaluation.models import Evaluation
from trading.opening.models import Ceremony, CeremonyBidder, Stage
from trading.procedures.calendar import period_end
from trading.procedures.models import DayKind
from trading.procedures.operations import overrides
from trading.signals import ratings as rules
from trading.signals.expert_ratings import RATEABLE_STATES
from trading.signals.models import RaterRole, ServiceKind, ServiceRating
from trading.tenders.models import Lot, Tender

#: a ceremony is a service rendered once it closed, or failed (流标 at the opening)
OPENING_DONE = frozenset({Stage.CLOSED, Stage.FAILED})
#: how many services a pending list shows at most (the newest)
PENDING_LIMIT = 200


@dataclass(frozen=True)
class Service:
    """One service an organisation took part in, and whether it is over."""

    kind: ServiceKind
    subject: str
    tender_code: str | None
    title: str  # what it was, in words
    role: RaterRole  # how the organisation rates it
    ended_at: dt.datetime | None  # None: not over yet

    def as_json(self) -> dict[str, object]:
        return {
            "service": self.kind.value,
            "service_label": self.kind.label,
            "subject": self.subject,
            "tender": self.tender_code,
            "title": self.title,
            "role": self.role.value,
            "ended_at": clock.as_utc(self.ended_at).isoformat() if self.ended_at else None,
        }


#: the services of later stages one organisation took part in (ended or not)
later_services: Hook[[Session, int], list[Service]] = Hook("signals.later_services")
#: one service of a later stage by kind and subject, if the organisation took part in it
later_service: Hook[[Session, ServiceKind, str, int], Service | None] = Hook("signals.later_service")


def manages(t: Tender, org_id: int) -> bool:
    return org_id in (t.tenderee_org_id, t.agency_org_id)


def tender_title(t: Tender, lot: Lot | None = None) -> str:
    return f"《{t.title}》（{t.code}）" + (f"第{lot.number}标段" if lot is not None else "")


def publication(t: Tender) -> Service:
    return Service(
        ServiceKind.PUBLICATION_REVIEW,
        t.code,
        t.code,
        tender_title(t) + " 招标公告审核发布",
        RaterRole.TENDEREE,
        t.docs_issued_at,
    )


def opening(t: Tender, lot: Lot, c: Ceremony, org_id: int) -> Service:
    ended = (c.closed_at or c.stage_started_at) if c.stage in OPENING_DONE else None
    role = RaterRole.TENDEREE if manages(t, org_id) else RaterRole.BIDDER
    return Service(ServiceKind.OPENING, f"{t.code}/{lot.number}", t.code, tender_title(t, lot) + " 开标", role, ended)


def evaluation(t: Tender, lot: Lot, ev: Evaluation) -> Service:
    ended = ev.reported_at if ev.state in RATEABLE_STATES and ev.report_statement is not None else None
    return Service(
        ServiceKind.EVALUATION, str(ev.id), t.code, tender_title(t, lot) + " 评标", RaterRole.TENDEREE, ended
    )


def services_of(session: Session, org_id: int) -> list[Service]:
    """Every service ``org_id`` took part in, ended or not, newest first."""
    out: list[Service] = []
    managed = or_(Tender.tenderee_org_id == org_id, Tender.agency_org_id == org_id)
    for t in session.scalars(select(Tender).where(managed, Tender.docs_issued_at.is_not(None))):
        out.append(publication(t))
    bid_in = select(CeremonyBidder.ceremony_id).where(CeremonyBidder.org_id == org_id)
    q = (
        select(Tender, Lot, Ceremony)
        .join(Lot, Lot.tender_id == Tender.id)
        .join(Ceremony, Ceremony.lot_id == Lot.id)
        .where(or_(managed, Ceremony.id.in_(bid_in)), Ceremony.stage != Stage.CANCELLED)
    )
    for t, lot, c in session.execute(q):
        out.append(opening(t, lot, c, org_id))
    q2 = select(Tender, Lot, Evaluation).join(Lot, Lot.tender_id == Tender.id).join(Evaluation).where(managed)
    for t, lot, ev in session.execute(q2):
        out.append(evaluation(t, lot, ev))
    for more in later_services(session, org_id):
        out.extend(more)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(out, key=lambda s: clock.as_utc(s.ended_at) if s.ended_at else far, reverse=True)


def find_service(session: Session, kind: ServiceKind, subject: str, org_id: int) -> Service | None:
    """The service if ``org_id`` took part in it (ended or not), else None."""
    if kind is ServiceKind.PUBLICATION_REVIEW:
        t = session.scalar(select(Tender).where(Tender.code == subject))
        return publication(t) if t is not None and manages(t, org_id) else None
    if kind is ServiceKind.OPENING:
        code, _, number = subject.rpartition("/")
        if not (number.isascii() and number.isdigit() and len(number) <= 4):
            return None
        row = session.execute(
            select(Tender, Lot, Ceremony)
            .join(Lot, Lot.tender_id == Tender.id)
            .join(Ceremony, Ceremony.lot_id == Lot.id)
            .where(Tender.code == code, Lot.number == int(number), Ceremony.stage != Stage.CANCELLED)
        ).first()
        if row is None:
            return None
        t, lot, c = row
        bid = select(CeremonyBidder.id).where(CeremonyBidder.ceremony_id == c.id, CeremonyBidder.org_id == org_id)
        return opening(t, lot, c, org_id) if manages(t, org_id) or session.scalar(bid) is not None else None
    if kind is ServiceKind.EVALUATION:
        if not (subject.isascii() and subject.isdigit() and len(subject) <= 9):
            return None
        row2 = session.execute(
            select(Tender, Lot, Evaluation)
            .join(Lot, Lot.tender_id == Tender.id)
            .join(Evaluation)
            .where(Evaluation.id == int(subject))
        ).first()
        if row2 is None or not manages(row2[0], org_id):
            return None
        return evaluation(*row2)
    return next((s for s in later_service(session, kind, subject, org_id) if s is not None), None)


def rated_keys(session: Session, org_id: int) -> set[tuple[str, str]]:
    q = select(ServiceRating.service, ServiceRating.subject).where(ServiceRating.org_id == org_id)
    return {(k.value, s) for k, s in session.execute(q)}


def pending(session: Session, user: User) -> list[Service]:
    """The ended services the user's organisation may still rate, newest first."""
    if user.organisation_id is None:
        return []
    done = rated_keys(session, user.organisation_id)
    out = [
        s
        for s in services_of(session, user.organisation_id)
        if s.ended_at is not None and (s.kind.value, s.subject) not in done
    ]
    return out[:PENDING_LIMIT]


def answer_due(session: Session, at: dt.datetime) -> dt.datetime:
    return period_end(at, rules.ANSWER_WORKING_DAYS, DayKind.WORKING, overrides(session))


def rate_service(
    session: Session,
    user: User,
    kind: ServiceKind,
    subject: str,
    score: int,
    comment: str,
    now: dt.datetime | None = None,
) -> ServiceRating:
    """The organisation's rating of one service it took part in, once that service is over."""
    now = now or clock.now()
    if user.organisation_id is None:
        raise Forbidden("只有单位用户可以评价服务")
    service = find_service(session, kind, subject, user.organisation_id)
    if service is None:
        raise NotFound("没有找到您参与的这项服务")
    if service.ended_at is None:
        raise Conflict("该服务尚未结束，结束后才能评价", code="service_not_ended")
    if not rules.MARK_MIN <= score <= rules.MARK_MAX:
        raise InvalidInput("评分应为 1–5", fields={"score": "1–5"})
    text = comment.strip()
    if len(text) > rules.COMMENT_MAX:
        raise InvalidInput(
            f"评价意见不超过 {rules.COMMENT_MAX} 字", fields={"comment": f"不超过 {rules.COMMENT_MAX} 字"}
        )
    taken = select(ServiceRating.id).where(
        ServiceRating.service == kind, ServiceRating.subject == subject, ServiceRating.org_id == user.organisation_id
    )
    if session.scalar(taken) is not None:
        raise Conflict("本单位已评价过这项服务", code="already_rated")
    bad = rules.is_bad(score)
    row = ServiceRating(
        service=kind,
        subject=subject,
        tender_code=service.tender_code,
        org_id=user.organisation_id,
        user_id=user.id,
        rater_role=service.role,
        score=score,
        comment=text,
        at=now,
        answer_due=answer_due(session, now) if bad else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # another user of the organisation got there first
        raise Conflict("本单位已评价过这项服务", code="already_rated") from exc
    record_event(
        session,
        user,
        "service_rating.rate",
        row,
        {
            "service": kind.value,
            "subject": subject,
            "tender": service.tender_code,
            "role": service.role.value,
            "score": score,
            "bad": bad,
            "comment_sm3": sm3_hex(text.encode()) if text else None,
            "answer_due": clock.as_utc(row.answer_due).isoformat() if row.answer_due else None,
        },
    )
    return row


def answer_rating(
    session: Session, user: User, rating_id: int, text: str, now: dt.datetime | None = None
) -> ServiceRating:
    """The center's answer to a 差评 (核实整改情况), once."""
    now = now or clock.now()
    # locked: two staff answering at once must not both pass the check below
    row = session.scalar(locked(select(ServiceRating).where(ServiceRating.id == rating_id)))
    if row is None:
        raise NotFound("评价不存在")
    if row.answer_due is None:
        raise Conflict("只有差评需要答复", code="rating_not_bad")
    if row.answered_at is not None:
        raise Conflict("该差评已答复", code="rating_answered")
    body = text.strip()
    if not rules.ANSWER_MIN <= len(body) <= rules.ANSWER_MAX:
        limits = f"{rules.ANSWER_MIN}–{rules.ANSWER_MAX} 字"
        raise InvalidInput(f"答复应为 {limits}", fields={"text": limits})
    row.answer, row.answered_by_user_id, row.answered_at = body, user.id, now
    session.flush()
    late = now > clock.as_utc(row.answer_due)
    record_event(session, user, "service_rating.answer", row, {"text_sm3": sm3_hex(body.encode()), "late": late})
    return row


def bad_ratings(session: Session, *, open_only: bool = False, limit: int = 500) -> list[ServiceRating]:
    """The 差评, the unanswered first (by due), then the answered (newest first)."""
    q = select(ServiceRating).where(ServiceRating.answer_due.is_not(None))
    if open_only:
        q = q.where(ServiceRating.answered_at.is_(None))
    rows = list(session.scalars(q.order_by(ServiceRating.id.desc()).limit(limit)))
    return sorted(rows, key=lambda r: (r.answered_at is not None, clock.as_utc(r.answer_due or r.at)))


def facts(session: Session) -> list[rules.RatingFact]:
    q = select(
        ServiceRating.service,
        ServiceRating.score,
        ServiceRating.at,
        ServiceRating.answer_due,
        ServiceRating.answered_at,
    )
    return [
        rules.RatingFact(
            k.value,
            score,
            clock.as_utc(at),
            clock.as_utc(due) if due else None,
            clock.as_utc(answered) if answered else None,
        )
        for k, score, at, due, answered in session.execute(q)
    ]
