"""The expert pool (评标专家库): staff keep it, each expert its own declarations (employers,
relations, availability), which the draw reads (``draws``, ``draw``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import Organisation, Role, User
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.credit.checks import draw_suspensions
from trading.evaluation import draw as rules
from trading.evaluation.models import (
    Draw,
    DrawMember,
    Expert,
    ExpertKind,
    MemberState,
)
from trading.evaluation.schemas import DeclarationIn, ExpertIn
from trading.tenders.models import Lot, Tender


def _declared(e: Expert, d: DeclarationIn) -> None:
    e.employer = d.employer
    e.history = [p.model_dump(by_alias=True) for p in d.history]
    e.relations = [r.model_dump(by_alias=True) for r in d.relations]
    e.available = d.available
    e.updated_at = clock.now()


def require_staff(user: User) -> None:
    if Role.STAFF not in user.roles:
        raise Forbidden("只有交易中心工作人员可以管理专家库和抽取专家")


def add_expert(session: Session, staff: User, data: ExpertIn) -> Expert:
    require_staff(staff)
    user_id = None
    if data.username:
        u = session.scalar(select(User).where(User.username == data.username))
        if u is None or Role.EXPERT not in u.roles:
            raise InvalidInput("该用户不存在或不是评标专家", fields={"username": "评标专家账户"})
        if session.scalar(select(Expert.id).where(Expert.user_id == u.id)) is not None:
            raise Conflict("该用户已在专家库中", code="duplicate_expert")
        user_id = u.id
    e = Expert(
        user_id=user_id,
        name=data.name,
        specialties=sorted(set(data.specialties)),
        region=data.region,
        suspended_until=data.suspended_until,
        employer=data.employer,
        history=[],
        relations=[],
        updated_at=clock.now(),
    )
    _declared(e, data)
    session.add(e)
    session.flush()
    record_event(session, staff, "expert.add", e, {"specialties": e.specialties, "region": e.region})
    return e


def my_expert(session: Session, user: User) -> Expert:
    e = session.scalar(select(Expert).where(Expert.user_id == user.id))
    if e is None:
        raise NotFound("您不在专家库中", code="not_an_expert")
    return e


def declare(session: Session, user: User, data: DeclarationIn) -> Expert:
    e = my_expert(session, user)
    _declared(e, data)
    record_event(session, user, "expert.declare", e, {"relations": len(e.relations), "available": e.available})
    return e


def pool(session: Session, on: dt.date | None = None) -> list[rules.Candidate]:
    """The pool as the draw reads it, with each expert's recent committees (one query for each).
    A disabled account (``set_user_active``) stays in the snapshot marked ``active: false``, so the
    published inputs say why that expert was not drawn rather than leaving it out unexplained.
    An expert's ``suspended_until`` is the later of the pool's own date and the credit register's
    draw suspensions in force on ``on`` (today, Beijing), an open-ended one as 9999-12-31: the
    snapshot carries the result, so ``ggzy draw verify`` recomputes the draw from it alone."""
    now = clock.now()
    on = on or clock.local(now).date()
    served: dict[int, list[dict[str, Any]]] = {}
    q = (
        select(DrawMember.expert_id, Organisation.credit_code, Draw.drawn_at)
        .join(Draw, Draw.id == DrawMember.draw_id)
        .join(Lot, Lot.id == Draw.lot_id)
        .join(Tender, Tender.id == Lot.tender_id)
        .join(Organisation, Organisation.id == Tender.tenderee_org_id)
        .where(DrawMember.state != MemberState.DECLINED, Draw.drawn_at.is_not(None))
    )
    for expert_id, tenderee, at in session.execute(q):
        assert at is not None
        served.setdefault(expert_id, []).append({"tenderee": tenderee, "on": clock.local(at).date().isoformat()})
    cols = (
        Expert.id,
        Expert.specialties,
        Expert.region,
        Expert.employer,
        Expert.history,
        Expert.relations,
        Expert.available,
        Expert.suspended_until,
        User.is_active,
    )
    rows = session.execute(
        select(*cols)
        .outerjoin(User, User.id == Expert.user_id)
        .where(Expert.kind == ExpertKind.POOL)
        .order_by(Expert.id)
    ).all()
    credit = draw_suspensions(session, [r[0] for r in rows], on, now)
    return [
        rules.Candidate(
            id=i,
            specialties=tuple(sp),
            region=region,
            employer=employer,
            history=tuple(history),
            relations=tuple(relations),
            available=available,
            suspended_until=later(suspended, credit.get(i)),
            served=tuple(served.get(i, ())),
            active=active is not False,  # None: an expert with no account, nothing to disable
        )
        for i, sp, region, employer, history, relations, available, suspended, active in rows
    ]


def later(own: dt.date | None, credit: dt.date | None) -> str | None:
    """The later of two suspension ends, as the snapshot writes it (``date.max`` is 9999-12-31)."""
    ends = [d for d in (own, credit) if d is not None]
    return max(ends).isoformat() if ends else None
