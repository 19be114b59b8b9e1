"""What every tender operation shares: loading a tender, the guards, the tender announcement, and
the bid deadline (投标截止): its legal minimum, and closing bidding once it has passed.

The operations themselves live by subject: ``drafting`` (create, edit), ``publication`` (submit,
review, publish), ``amendments`` (变更/澄清), ``termination`` (suspend, resume, terminate). Each
status change goes through ``trading.tenders.lifecycle`` and appends its audit event in the
caller's transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor
from archive.db import locked
from archive.transparency import request_checkpoint
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.scheduler import each_attempted
from trading.procedures.calendar import add_days, days_between
from trading.procedures.operations import get_procedure, overrides
from trading.tenders.lifecycle import move_tender
from trading.tenders.models import Announcement, AnnouncementKind, Tender, TenderState


# ---------------------------------------------------------------- loading and guards
def get_tender(session: Session, code: str, *, for_update: bool = False) -> Tender:
    q = select(Tender).where(Tender.code == code)
    if for_update:
        q = locked(q)
    tender = session.scalar(q)
    if tender is None:
        raise NotFound(f"招标项目 {code} 不存在")
    return tender


def visible_tender(session: Session, code: str, user: User | None) -> Tender:
    """A tender the user may see: public ones, or any for its managers and the platform's staff."""
    tender = get_tender(session, code)
    if tender.is_public or tender.can_manage(user) or has(user, Permission.TENDER_READ_ALL):
        return tender
    raise NotFound(f"招标项目 {code} 不存在")  # drafts of others are not even confirmed to exist


def require_manager(tender: Tender, user: User) -> None:
    if not tender.can_manage(user):
        raise Forbidden("只有本项目的招标人或其委托的代理机构可以操作")


def require_state(tender: Tender, *allowed: TenderState) -> None:
    if tender.status not in allowed:
        names = "、".join(s.label for s in allowed)
        raise Conflict(f"项目当前状态为“{tender.status.label}”，此操作只允许在“{names}”状态进行", code="wrong_state")


# ---------------------------------------------------------------- deadlines
#: How far ahead a deadline may be set. The law sets a shortest bid period (Law 24) and no
#: longest, but a bid stays valid at most a year here (``TenderIn.bid_validity_days``) and a
#: deadline years away is a mistyped year, which would hold the tender open unseen.
HORIZON = dt.timedelta(days=366)


def horizon_problem(now: dt.datetime, deadline: dt.datetime) -> str | None:
    """Why ``deadline`` is too far ahead of ``now`` (``HORIZON``), or None."""
    if deadline - now > HORIZON:
        latest = clock.local(now + HORIZON).date()
        return f"投标截止时间不得晚于一年以后（{latest:%Y-%m-%d}），请检查年份"
    return None


def deadline_problem(
    session: Session, procedure_code: str, issued_at: dt.datetime, deadline: dt.datetime
) -> str | None:
    """Why documents issued at ``issued_at`` may not close at ``deadline`` (Law 24: at least
    ``min_bid_days`` between them), or None when they may. Pages ask it to disable a button."""
    proc = get_procedure(session, procedure_code)
    if deadline <= issued_at:
        return "投标截止时间必须晚于现在"
    far = horizon_problem(issued_at, deadline)
    if far is not None:
        return far
    days = days_between(issued_at, deadline, proc.day_kind, overrides(session))
    if days < proc.min_bid_days:
        unit = "日" if proc.day_kind.value == "calendar" else "个工作日"
        earliest = clock.local(add_days(issued_at, proc.min_bid_days, proc.day_kind, overrides(session))).date()
        return (
            f"{proc.name}自招标文件发出之日至投标截止不得少于 {proc.min_bid_days} {unit}，"
            f"今天发布时投标截止最早为 {earliest:%Y-%m-%d}"
        )
    return None


def check_deadline(session: Session, procedure_code: str, issued_at: dt.datetime, deadline: dt.datetime) -> None:
    """Law 24: at least ``min_bid_days`` from the day documents are issued to the deadline."""
    problem = deadline_problem(session, procedure_code, issued_at, deadline)
    if problem is not None:
        if deadline <= issued_at:
            short = "已过去"
        else:
            short = "超过一年" if horizon_problem(issued_at, deadline) else "时间太短"
        raise InvalidInput(problem, code="bad_deadline", fields={"bid_deadline": short})


def close_bidding(session: Session, tender: Tender, now: dt.datetime | None = None, actor: Actor = SYSTEM) -> bool:
    """PUBLISHED → BIDDING_CLOSED once the deadline has passed. Idempotent: False when nothing to do."""
    now = now or clock.now()
    if tender.status is not TenderState.PUBLISHED or not tender.deadline_passed(now):
        return False
    tender.closed_at = now
    move_tender(
        session,
        actor,
        tender,
        TenderState.BIDDING_CLOSED,
        action="tender.bidding_close",
        detail={"deadline": tender.bid_deadline.isoformat(), "closed_at": now.isoformat()},
    )
    # the deadline commitment: a signed checkpoint over every accepted bid's commitment
    request_checkpoint(session, "bid_deadline", f"tender:{tender.code}")
    return True


def ensure_current(session: Session, tender: Tender) -> Tender:
    """Enforce the deadline on every request that touches a tender, whether or not the job ran."""
    close_bidding(session, tender)
    return tender


def close_due(session: Session, now: dt.datetime) -> int:
    """The scheduler's sweep: close every tender whose deadline has passed, each in a transaction
    of its own (``each_apart``), so that a tender that cannot close (an unreadable row) holds up no
    other; its failure is the audit event ``tender.close_failed``, retried with a pause up to a cap."""
    due = session.scalars(
        select(Tender.id)
        .where(Tender.status == TenderState.PUBLISHED, Tender.deadline_passed_by(now))
        .order_by(Tender.id)
    ).all()

    def close_one(tender_id: int) -> bool:
        # a tender a request holds is skipped: every request enforces the deadline itself
        # (ensure_current), and the next sweep closes it
        tender = session.scalar(locked(select(Tender).where(Tender.id == tender_id), skip_locked=True))
        return tender is not None and close_bidding(session, tender, now)

    return each_attempted(
        session, due, now, "close_bidding", "tender.close_failed", lambda tid: ("tender", str(tid)), close_one
    )


def tender_announcement(tender: Tender) -> Announcement:
    for a in tender.announcements:
        if a.kind is AnnouncementKind.TENDER:
            return a
    raise NotFound("招标公告不存在")
