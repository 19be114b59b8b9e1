"""Compliance review (资格/符合性审查) by majority, and the clarifications (澄清) asked of bidders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from archive.db import locked
from trading.accounts.models import User
from trading.core.errors import Conflict, InvalidInput, NotFound
from trading.credit import checks
from trading.evaluation import credit_review, hooks, scoring
from trading.evaluation.lifecycle import move_evaluation, require_state
from trading.evaluation.models import (
    Clarification,
    ComplianceVote,
    EvalState,
    Evaluation,
)
from trading.evaluation.room import bidder, bidders, leader_or_staff, lot_and_tender, my_seat, seats
from trading.opening.display import org_name
from trading.opening.models import CeremonyBidder
from trading.tenders.lifecycle import move_lot
from trading.tenders.models import LotState

# ---------------------------------------------------------------- compliance (资格/符合性审查)


def vote_compliance(
    session: Session,
    user: User,
    ev: Evaluation,
    bidder_id: int,
    passed: bool,
    failed_items: list[str],
    reason: str,
) -> ComplianceVote:
    require_state(ev, EvalState.COMPLIANCE)
    seat = my_seat(session, user, ev)
    seat.require_pledged("进行资格/符合性审查")
    bidder(session, ev, bidder_id)
    lot, _ = lot_and_tender(session, ev)
    items = list(lot.criteria.get("compliance") or [])
    reason = (reason or "").strip()
    if not passed:
        unknown = [i for i in failed_items if i not in items]
        if unknown or (items and not failed_items) or not 2 <= len(reason) <= 500:
            raise InvalidInput(
                "不通过须列明未满足的审查项（招标文件所列）并说明理由（2–500 字）",
                fields={"failed_items": "、".join(items) or "—", "reason": "2–500 字"},
            )
    elif failed_items:
        raise InvalidInput("通过审查时不应列出未满足的审查项", fields={"failed_items": "应为空"})
    finding = credit_review.flagged(session, ev).get(bidder_id)
    if finding is not None and not 2 <= len(reason) <= 500:
        # the committee sees the finding and must say how it weighed it (财库〔2016〕125号)
        raise InvalidInput(
            f"该投标人有信用查询结果（{checks.result_label(finding)}），请在审查意见中说明理由（2–500 字）",
            code="credit_finding_unaddressed",
            fields={"reason": "2–500 字"},
        )
    q = select(ComplianceVote).where(
        ComplianceVote.evaluation_id == ev.id,
        ComplianceVote.round == ev.round,
        ComplianceVote.expert_id == seat.expert_id,
        ComplianceVote.bidder_id == bidder_id,
    )
    vote = session.scalar(q)
    if vote is None:
        vote = ComplianceVote(
            evaluation_id=ev.id, round=ev.round, expert_id=seat.expert_id, bidder_id=bidder_id, at=clock.now()
        )
        session.add(vote)
    vote.passed, vote.failed_items, vote.reason, vote.at = passed, list(failed_items), reason or None, clock.now()
    session.flush()
    record_event(
        session,
        user,
        "evaluation.compliance_vote",
        ev,
        {
            "expert": seat.expert_id,
            "bidder": bidder_id,
            "passed": passed,
            "failed_items": list(failed_items),
            **({"credit_check": finding.id, "reason": reason} if finding is not None else {}),
        },
    )
    return vote


def _ballots(session: Session, ev: Evaluation) -> dict[int, dict[int, ComplianceVote]]:
    """The round's votes: bidder → expert → vote."""
    votes = session.scalars(
        select(ComplianceVote).where(ComplianceVote.evaluation_id == ev.id, ComplianceVote.round == ev.round)
    ).all()
    by_bidder: dict[int, dict[int, ComplianceVote]] = {}
    for v in votes:
        by_bidder.setdefault(v.bidder_id, {})[v.expert_id] = v
    return by_bidder


def votes_refusal(session: Session, ev: Evaluation) -> Conflict | None:
    """Why the review cannot be closed yet (a member has not voted on a bid), or None:
    ``close_compliance`` raises it, the room shows it beside a disabled button."""
    experts = [s.expert_id for s in seats(session, ev)]
    by_bidder = _ballots(session, ev)
    for b in bidders(session, ev):
        missing = [x for x in experts if x not in by_bidder.get(b.id, {})]
        if missing:
            return Conflict(
                f"尚有专家未完成对“{org_name(session, b.org_id)}”的审查（{len(missing)} 名）", code="votes_missing"
            )
    unaddressed = credit_review.unaddressed(session, ev)
    if unaddressed is not None:
        return unaddressed
    return next((r for r in hooks.compliance_refusal(session, ev) if r is not None), None)


def close_compliance(session: Session, user: User, ev: Evaluation) -> dict[str, Any]:
    """Every expert voted on every bid → each bid passes by majority. None passing: the committee
    rejects every bid and the lot fails (Reg 51); the tenderee tenders again."""
    require_state(ev, EvalState.COMPLIANCE)
    actor = leader_or_staff(session, user, ev)
    refusal = votes_refusal(session, ev)
    if refusal is not None:
        raise refusal
    experts = [s.expert_id for s in seats(session, ev)]
    by_bidder = _ballots(session, ev)
    flags = credit_review.flagged(session, ev)
    result: dict[str, Any] = {}
    for b in bidders(session, ev):
        cast = by_bidder.get(b.id, {})
        ballots = [cast[x] for x in experts]
        result[str(b.id)] = {
            "passed": scoring.majority([v.passed for v in ballots]),
            "votes": {str(v.expert_id): v.passed for v in ballots},
            "reasons": [v.reason for v in ballots if not v.passed and v.reason],
        }
        if b.id in flags:
            # how the members who passed the bid weighed its credit finding (failing ones are in "reasons")
            result[str(b.id)]["credit_reasons"] = [v.reason for v in ballots if v.passed and v.reason]
    ev.compliance = result
    passing = sum(1 for r in result.values() if r["passed"])
    if passing == 0:
        lot, _ = lot_and_tender(session, ev)
        move_lot(
            session,
            actor,
            lot,
            LotState.FAILED,
            reason="经评标委员会评审，所有投标均被否决（《招标投标法》第四十二条、《实施条例》第五十一条）",
            now=clock.now(),
            detail={"evaluation": ev.id},
        )
        move_evaluation(session, actor, ev, EvalState.REPORTED, compliance=result, outcome="all_rejected")
        return result
    move_evaluation(session, actor, ev, EvalState.SCORING, compliance=result)
    return result


# ---------------------------------------------------------------- clarifications (澄清)
def ask(session: Session, user: User, ev: Evaluation, bidder_id: int, question: str, hours: int) -> Clarification:
    require_state(ev, EvalState.COMPLIANCE, EvalState.SCORING)
    actor = leader_or_staff(session, user, ev)
    bidder(session, ev, bidder_id)
    question = (question or "").strip()
    if not 5 <= len(question) <= 2000 or not 1 <= hours <= 72:
        raise InvalidInput(
            "澄清问题应为 5–2000 字，答复时限 1–72 小时", fields={"question": "5–2000 字", "hours": "1–72"}
        )
    now = clock.now()
    c = Clarification(
        evaluation_id=ev.id,
        bidder_id=bidder_id,
        question=question,
        asked_at=now,
        deadline=now + dt.timedelta(hours=hours),
    )
    session.add(c)
    session.flush()
    record_event(session, actor, "evaluation.clarify_ask", c, {"bidder": bidder_id, "deadline": c.deadline.isoformat()})
    return c


def clarifications_for_org(session: Session, user: User) -> list[Clarification]:
    q = (
        select(Clarification)
        .join(CeremonyBidder, CeremonyBidder.id == Clarification.bidder_id)
        .where(CeremonyBidder.org_id == user.organisation_id)
    )
    return list(session.scalars(q.order_by(Clarification.id.desc())))


def answer(session: Session, user: User, clarification_id: int, text: str) -> Clarification:
    c = session.scalar(locked(select(Clarification).where(Clarification.id == clarification_id)))
    b = session.get(CeremonyBidder, c.bidder_id) if c else None
    if c is None or b is None or b.org_id != user.organisation_id:
        raise NotFound("澄清要求不存在")
    if c.answer is not None:
        raise Conflict("该澄清已答复", code="already_answered")
    if clock.now() > c.deadline:
        raise Conflict("已超过答复时限", code="too_late")
    text = (text or "").strip()
    if not 2 <= len(text) <= 20_000:
        raise InvalidInput("答复内容应为 2–20000 字", fields={"answer": "2–20000 字"})
    c.answer, c.answered_at, c.answered_by_user_id = text, clock.now(), user.id
    record_event(session, user, "evaluation.clarify_answer", c, {"bidder": c.bidder_id})
    return c
