"""Statements (书面说明): the department asks a party — the tenderee, its agency, a bidder of the lot
or the complainant — for a written statement by the date the ``complaint_statement`` rule in force
sets (财政部令第94号第二十二条: 5 working days), and the party answers. Each is a signed document and
an audit event; before the deadline the complainant is named in neither (招标投标法第二十二条)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from signing.digest import sm3_hex
from trading.accounts.models import User
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.services import Services
from trading.opening.models import Ceremony, CeremonyBidder
from trading.supervision.complaint_documents import issue_document

#: the allowed moves of ``Complaint.state`` (a decided, refused or withdrawn complaint is final)
from trading.supervision.complaints import (
    bounded_text,
    complainant_actor,
    managers_and,
    party_shown,
    require_handler,
    require_state,
    tender_of,
)
from trading.supervision.models import Complaint, ComplaintState, StatementRequest
from trading.supervision.rulebook import limit_due
from trading.tenders import notifications


def parties(session: Session, c: Complaint, now: dt.datetime) -> list[int]:
    """Who may be asked for a statement: the tenderee, its agency, the complainant and, after the
    deadline (before it, who bids is secret), the bidders of the complaint's lot(s)."""
    tender = tender_of(session, c)
    orgs = set(managers_and(tender, c.complainant_org_id))
    if tender.deadline_passed(now):
        q = select(CeremonyBidder.org_id).join(Ceremony, Ceremony.id == CeremonyBidder.ceremony_id)
        q = q.where(Ceremony.tender_id == tender.id)
        if c.lot_id is not None:
            q = q.where(Ceremony.lot_id == c.lot_id)
        orgs |= set(session.scalars(q))
    return sorted(orgs)


def ask_statement(
    session: Session, services: Services, user: User, c: Complaint, org_id: int, question: str
) -> StatementRequest:
    """要求说明: a party is asked for a written statement by the date the ``complaint_statement`` rule
    in force sets (财政部令第94号第二十二条: 5 working days)."""
    require_handler(user)
    require_state(c, ComplaintState.ACCEPTED)
    question = bounded_text(question, "question", 5, 5000)
    now = clock.now()
    if org_id not in parties(session, c, now):
        raise InvalidInput(
            "只能要求招标人、代理机构、本标段投标人或投诉人说明", code="not_a_party", fields={"org": "不是当事人"}
        )
    tender = tender_of(session, c)
    due = limit_due(session, "complaint_statement", now)
    r = StatementRequest(complaint_id=c.id, org_id=org_id, question=question, asked_at=now, due_at=due)
    session.add(r)
    session.flush()
    doc = issue_document(
        session,
        services,
        user,
        c,
        "request",
        [
            ("需要说明的事项", question),
            ("期限", f"请于 {clock.local(due):%Y-%m-%d %H:%M}（北京时间）前在平台提交书面说明。"),
        ],
        now,
        org_id=org_id,
    )
    record_event(
        session,
        user,
        "complaint.ask",
        r,
        {
            "complaint": c.id,
            "org": party_shown(c, tender, org_id, now),
            "due_at": due.isoformat(),
            "question_sm3": sm3_hex(question.encode()),
            "document": doc.sm3,
        },
    )
    notifications.notify_orgs(
        session,
        tender,
        [org_id],
        f"行政监督部门就投诉 {c.number} 要求贵单位于 {clock.local(due):%Y-%m-%d} 前作出书面说明。",
    )
    return r


def answer_statement(
    session: Session, services: Services, user: User, r: StatementRequest, text: str
) -> StatementRequest:
    """A party's written statement (any user of the asked organisation); late ones are kept, marked."""
    if user.organisation_id != r.org_id:
        raise Forbidden("只有被要求说明的机构可以答复")
    if r.answer is not None:
        raise Conflict("已经提交说明", code="already_answered")
    c = session.get(Complaint, r.complaint_id)
    assert c is not None
    require_state(c, ComplaintState.ACCEPTED)
    text = bounded_text(text, "text", 5, 10_000)
    now = clock.now()
    tender = tender_of(session, c)
    # the complainant answering is the complainant acting: unnamed in the trail before the deadline
    actor = complainant_actor(user, tender, now) if r.org_id == c.complainant_org_id else user
    r.answer, r.answered_at, r.answered_by_user_id = text, now, user.id
    session.flush()
    doc = issue_document(
        session, services, actor, c, "statement", [("需要说明的事项", r.question), ("说明", text)], now, org_id=r.org_id
    )
    record_event(
        session,
        actor,
        "complaint.statement",
        r,
        {
            "complaint": c.id,
            "org": party_shown(c, tender, r.org_id, now),
            "late": now > r.due_at,
            "text_sm3": sm3_hex(text.encode()),
            "document": doc.sm3,
        },
    )
    return r
