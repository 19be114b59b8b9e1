"""Complaints (投诉) to the supervising department once filed (``complaint_filing``): accepted or
refused, the procedure suspended and resumed, parties asked for statements, decided (属实 /
部分属实 / 不属实), or withdrawn by the complainant before the decision.

Operations take the actor, flush, write their audit event and never commit. ``move_complaint`` is
the one writer of ``Complaint.state``. Every step of the department produces a signed document
(``trading.supervision.complaint_documents``). Audit payloads carry no free text, only SM3s: the
words live in the rows and the documents. The time-limit clocks key on these events:
``complaint.file`` / ``accept`` / ``refuse`` / ``suspend`` / ``resume`` / ``decide`` / ``withdraw`` on
("complaint", id), ``complaint.ask`` / ``complaint.statement`` on ("complaint_statement", id).

Before the bid deadline the complainant's own acts (filing, evidence, withdrawal) carry the
neutral ``sealed`` actor in the trail, as a bidder's registration does: the trail must not tell
who means to bid (招标投标法第二十二条). The signed statement in the row names it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from signing.digest import sm3_hex
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.awards.award import extend_for_suspension
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.schemas import checked_text
from trading.core.services import Services
from trading.supervision.complaint_documents import issue_document
from trading.supervision.models import Complaint, ComplaintState, Finding, StatementRequest
from trading.tenders import notifications
from trading.tenders.models import Tender, TenderState
from trading.tenders.operations import ensure_current
from trading.tenders.sealed import SEALED
from trading.tenders.termination import SUSPENDABLE_LOTS, resume_lot, resume_tender, suspend_lot, suspend_tender

#: the allowed moves of ``Complaint.state`` (a decided, refused or withdrawn complaint is final)
COMPLAINT_MOVES: dict[ComplaintState, frozenset[ComplaintState]] = {
    ComplaintState.FILED: frozenset({ComplaintState.ACCEPTED, ComplaintState.REFUSED, ComplaintState.WITHDRAWN}),
    ComplaintState.ACCEPTED: frozenset({ComplaintState.DECIDED, ComplaintState.WITHDRAWN}),
    ComplaintState.REFUSED: frozenset(),
    ComplaintState.DECIDED: frozenset(),
    ComplaintState.WITHDRAWN: frozenset(),
}


def move_complaint(
    session: Session, actor: Actor, c: Complaint, to: ComplaintState, *, action: str, payload: Mapping[str, Any]
) -> None:
    """The one writer of ``Complaint.state``: a move the table forbids is 409 ``complaint_transition``."""
    frm = c.state
    check_move(c, to)
    c.state = to
    session.flush()
    record_event(session, actor, action, c, {"from": frm.value, "to": to.value, **payload})


def check_move(c: Complaint, to: ComplaintState) -> None:
    """Refuse (409 ``complaint_transition``) a move the table does not allow, before any work is done."""
    if to not in COMPLAINT_MOVES[c.state]:
        raise Conflict(f"投诉{c.state.label}，不能改为“{to.label}”", code="complaint_transition")


def is_suspended(c: Complaint) -> bool:
    """The procedure stands suspended by this complaint (suspended, not resumed since)."""
    return c.suspended_at is not None and (c.resumed_at is None or c.resumed_at < c.suspended_at)


def suspension_reason(c: Complaint) -> str:
    """The public reason on the tender or lot: fixed words naming the complaint (no free text)."""
    return f"行政监督部门处理投诉（{c.number}）期间暂停"


def bounded_text(value: str, field: str, low: int, high: int) -> str:
    text = (value or "").strip()
    if not low <= len(text) <= high:
        raise InvalidInput(f"应为 {low}–{high} 字", fields={field: f"{low}–{high} 字"})
    return checked_text(text, field)  # a page's form reaches here without the API's schema


def require_handler(user: User) -> None:
    if not has(user, Permission.COMPLAINT_HANDLE):
        raise Forbidden("只有行政监督部门可以处理投诉")


def require_state(c: Complaint, *allowed: ComplaintState) -> None:
    if c.state not in allowed:
        names = "、".join(s.label for s in allowed)
        raise Conflict(f"投诉{c.state.label}，此操作只能在“{names}”时进行", code="wrong_state")


def tender_of(session: Session, c: Complaint) -> Tender:
    tender = session.get(Tender, c.tender_id)
    assert tender is not None
    return tender


def complainant_actor(user: User, tender: Tender, now: dt.datetime) -> Actor:
    """Who the trail names for the complainant's own act: nobody (``sealed``) before the deadline."""
    return user if tender.deadline_passed(now) else SEALED


def party_shown(c: Complaint, tender: Tender, org_id: int, now: dt.datetime) -> int | str:
    """An asked party as the trail names it: the complainant's organisation only as "complainant"
    before the deadline (a request to it would otherwise say who complained, 招标投标法第二十二条)."""
    if org_id == c.complainant_org_id and not tender.deadline_passed(now):
        return "complainant"
    return org_id


def managers_and(tender: Tender, *orgs: int | None) -> list[int]:
    """The tenderee, its agency and ``orgs``, once each."""
    return sorted({o for o in (tender.tenderee_org_id, tender.agency_org_id, *orgs) if o is not None})


# ---------------------------------------------------------------- the department
def accept_complaint(session: Session, services: Services, user: User, c: Complaint, note: str = "") -> Complaint:
    """受理 (实施条例第六十一条; 94号令第二十一条): within the acceptance limit, with a 受理通知书."""
    require_handler(user)
    check_move(c, ComplaintState.ACCEPTED)
    note = bounded_text(note, "note", 0, 2000)
    now = clock.now()
    tender = tender_of(session, c)
    c.accepted_at, c.handler_user_id = now, user.id
    doc = issue_document(
        session,
        services,
        user,
        c,
        "acceptance",
        [("受理意见", note or "本投诉符合受理条件，决定受理。")],
        now,
    )
    move_complaint(
        session,
        user,
        c,
        ComplaintState.ACCEPTED,
        action="complaint.accept",
        payload={"kind": c.kind.value, "document": doc.sm3},
    )
    notifications.notify_orgs(
        session,
        tender,
        managers_and(tender, c.complainant_org_id),
        f"投诉 {c.number}（《{tender.title}》）已由行政监督部门受理。",
    )
    return c


def refuse_complaint(session: Session, services: Services, user: User, c: Complaint, reason: str) -> Complaint:
    """不予受理, with the reasons in writing (七部委令第11号第十一条; 94号令第二十一条)."""
    require_handler(user)
    check_move(c, ComplaintState.REFUSED)
    reason = bounded_text(reason, "reason", 5, 5000)
    now = clock.now()
    tender = tender_of(session, c)
    c.refused_at, c.refusal_reason, c.handler_user_id = now, reason, user.id
    doc = issue_document(session, services, user, c, "refusal", [("不予受理的理由", reason)], now)
    move_complaint(
        session,
        user,
        c,
        ComplaintState.REFUSED,
        action="complaint.refuse",
        payload={"kind": c.kind.value, "reason_sm3": sm3_hex(reason.encode()), "document": doc.sm3},
    )
    notifications.notify_orgs(
        session, tender, [c.complainant_org_id], f"投诉 {c.number} 不予受理，理由见不予受理通知书。"
    )
    return c


def suspend_procedure(session: Session, services: Services, user: User, c: Complaint, reason: str) -> Complaint:
    """责令暂停 (实施条例第六十二条; 94号令第二十八条): before the bid deadline the whole tender
    (``suspend_tender``: the deadline stops); after it the complaint's lot, or every lot still being
    decided when it names none (``suspend_lot``: the award waits)."""
    require_handler(user)
    require_state(c, ComplaintState.ACCEPTED)
    if is_suspended(c):
        raise Conflict("本投诉已暂停招标投标（采购）活动", code="complaint_suspended")
    reason = bounded_text(reason, "reason", 5, 5000)
    tender = tender_of(session, c)
    ensure_current(session, tender)
    now = clock.now()
    words = suspension_reason(c)
    lots: list[int] = []
    if tender.status is TenderState.PUBLISHED and not tender.deadline_passed(now):
        suspend_tender(session, user, tender, words)
        notifications.notify_interested(session, tender, f"《{tender.title}》（{tender.code}）{words}。")
        scope = "tender"
    else:
        targets = [x for x in tender.lots if c.lot_id in (None, x.id)]
        targets = [x for x in targets if x.status in SUSPENDABLE_LOTS and x.suspended_at is None]
        if not targets:
            raise Conflict("没有可以暂停的标段（未开标、已定标、已终止或已暂停）", code="nothing_to_suspend")
        for lot in targets:
            suspend_lot(session, user, lot, words, complaint=c.number)
            lots.append(lot.id)
        scope = "lots"
    c.suspended_at = now
    doc = issue_document(session, services, user, c, "suspension", [("暂停的理由", reason)], now)
    record_event(
        session,
        user,
        "complaint.suspend",
        c,
        {
            "scope": scope,
            "tender": tender.code,
            "lots": lots,
            "reason_sm3": sm3_hex(reason.encode()),
            "document": doc.sm3,
        },
    )
    notifications.notify_orgs(session, tender, managers_and(tender, c.complainant_org_id), f"{words}。")
    return c


def resume_procedure(
    session: Session, services: Services, user: User, c: Complaint, new_deadline: dt.datetime | None = None
) -> Complaint:
    """恢复: lift this complaint's suspension; a tender suspended before its deadline resumes with a
    new deadline (``resume_tender``), each suspended lot with ``resume_lot``."""
    require_handler(user)
    if not is_suspended(c):
        raise Conflict("本投诉没有暂停招标投标（采购）活动", code="complaint_not_suspended")
    tender = tender_of(session, c)
    words = suspension_reason(c)
    now = clock.now()
    lots: list[int] = []
    moved = tender.status is TenderState.SUSPENDED and tender.status_reason == words
    if not moved and new_deadline is not None:
        raise InvalidInput(
            "本投诉暂停的是开标后的标段，恢复时不改投标截止时间", fields={"new_deadline": "投标截止前暂停的项目才填写"}
        )
    if moved:
        if new_deadline is None:
            raise InvalidInput("恢复投标截止前暂停的项目须确定新的投标截止时间", fields={"new_deadline": "必填"})
        resume_tender(session, user, tender, clock.as_utc(new_deadline))
        notifications.notify_interested(
            session, tender, f"《{tender.title}》（{tender.code}）恢复招标，投标截止时间已调整。"
        )
    for lot in tender.lots:
        if lot.suspended_at is not None and lot.suspension_reason == words:
            since = clock.as_utc(lot.suspended_at)
            resume_lot(session, user, lot, complaint=c.number)
            extend_for_suspension(session, user, lot, since, now)
            lots.append(lot.id)
    c.resumed_at = now
    deadline = tender.bid_deadline.isoformat() if moved else None
    doc = issue_document(
        session,
        services,
        user,
        c,
        "resumption",
        [
            (
                "恢复",
                "自本通知签发之时起恢复招标投标（采购）活动。"
                + (
                    f"新的投标截止时间：{clock.local(tender.bid_deadline):%Y-%m-%d %H:%M}（北京时间）。"
                    if deadline
                    else ""
                ),
            )
        ],
        now,
    )
    record_event(
        session,
        user,
        "complaint.resume",
        c,
        {"tender": tender.code, "lots": lots, "deadline": deadline, "document": doc.sm3},
    )
    notifications.notify_orgs(
        session, tender, managers_and(tender, c.complainant_org_id), f"投诉 {c.number} 的暂停已解除。"
    )
    return c


def decide_complaint(
    session: Session, services: Services, user: User, c: Complaint, finding: Finding, decision: str, measures: str = ""
) -> Complaint:
    """处理决定 (实施条例第六十一条; 七部委令第11号第二十条; 94号令第二十九条至第三十二条): 属实, 部分属实 or
    不属实, with reasons, and the measures ordered when (partly) upheld. A suspension stays until the
    department resumes the procedure (its measures may come first)."""
    require_handler(user)
    check_move(c, ComplaintState.DECIDED)
    decision = bounded_text(decision, "decision", 10, 10_000)
    measures = (measures or "").strip()
    if finding is not Finding.DISMISSED:
        measures = bounded_text(measures, "measures", 5, 5000)
    now = clock.now()
    tender = tender_of(session, c)
    c.decided_at, c.finding, c.decision, c.measures, c.handler_user_id = (
        now,
        finding,
        decision,
        measures or None,
        user.id,
    )
    sections = [("处理结论", f"投诉{finding.label}。"), ("理由", decision)]
    doc = issue_document(
        session,
        services,
        user,
        c,
        "decision",
        sections + ([("责令采取的措施", measures)] if measures else []),
        now,
        extra={"finding": finding.value},
    )
    move_complaint(
        session,
        user,
        c,
        ComplaintState.DECIDED,
        action="complaint.decide",
        payload={
            "finding": finding.value,
            "kind": c.kind.value,
            "decision_sm3": sm3_hex(decision.encode()),
            "document": doc.sm3,
        },
    )
    asked = [r.org_id for r in session.scalars(select(StatementRequest).where(StatementRequest.complaint_id == c.id))]
    notifications.notify_orgs(
        session,
        tender,
        managers_and(tender, c.complainant_org_id, *asked),
        f"投诉 {c.number}（《{tender.title}》）已作出处理决定：{finding.label}。",
    )
    return c


def withdraw_complaint(session: Session, services: Services, user: User, c: Complaint, reason: str) -> Complaint:
    """撤回 before the decision, in writing with reasons (94号令第三十条; 七部委令第11号第十八条). A
    suspension stays until the department resumes the procedure."""
    if user.organisation_id != c.complainant_org_id or not has(user, Permission.COMPLAINT_FILE):
        raise Forbidden("只有投诉人可以撤回投诉")
    check_move(c, ComplaintState.WITHDRAWN)
    reason = bounded_text(reason, "reason", 5, 2000)
    now = clock.now()
    tender = tender_of(session, c)
    actor = complainant_actor(user, tender, now)
    was = c.state
    move_complaint(
        session,
        actor,
        c,
        ComplaintState.WITHDRAWN,
        action="complaint.withdraw",
        payload={"reason_sm3": sm3_hex(reason.encode())},
    )
    issue_document(session, services, actor, c, "withdrawal", [("撤回理由", reason)], now)
    if was is ComplaintState.ACCEPTED:
        notifications.notify_managers(session, tender, f"投诉 {c.number} 已由投诉人撤回，投诉处理终止。")
    return c
