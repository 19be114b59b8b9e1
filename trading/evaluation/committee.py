"""The committee in the evaluation room: the tenderee's representatives, sign-in, the signed
recusal pledge or recusal, the leader's election, and the start of the review.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from signing.certs import TrustStore
from signing.statements import (
    evaluation_pledge_statement,
    evaluation_report_statement,
    evaluation_signin_statement,
)
from trading.accounts.models import Organisation, Role, User
from trading.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from trading.core.platform_keys import PlatformKeys
from trading.evaluation import credit_review
from trading.evaluation.lifecycle import move_evaluation, require_state
from trading.evaluation.models import (
    DrawMember,
    EvalState,
    Evaluation,
    Expert,
    ExpertKind,
    MemberState,
    Seat,
)
from trading.evaluation.room import (
    bidders,
    leader_or_staff,
    lot_and_tender,
    my_seat,
    seats,
    seats_required,
)
from trading.opening.display import credit_code_of
from trading.pki.operations import check_signature, registered_signing_cert
from trading.tenders.models import Tender


def representative_refusal(session: Session, tender: Tender, rep: User, trust: TrustStore) -> str | None:
    """Why ``rep`` cannot sit for the tenderee (None when it can): an active tenderee account of the
    tenderee's own organisation, with a valid registered UKey (it signs in, pledges and signs the
    report with it)."""
    if rep.organisation_id != tender.tenderee_org_id or Role.TENDEREE not in rep.roles or not rep.is_active:
        return "招标人代表应为招标人单位的招标人账户"
    try:
        registered_signing_cert(session, rep, trust)
    except DomainError:
        return "该人员尚未登记有效的签名证书（UKey），不能签到和签署评标报告"
    return None


def eligible_representatives(session: Session, tender: Tender, trust: TrustStore) -> list[User]:
    users = session.scalars(select(User).where(User.organisation_id == tender.tenderee_org_id).order_by(User.id))
    return [u for u in users if representative_refusal(session, tender, u, trust) is None]


def designate_representative(session: Session, user: User, ev: Evaluation, rep: User, trust: TrustStore) -> Seat:
    """The tenderee (or its agency) names one of the tenderee's own people to the committee
    (招标人代表, Law 37) while the room is signing in; the representative then signs in, pledges,
    votes, scores and signs the report with its own UKey, like the drawn experts."""
    require_state(ev, EvalState.SIGN_IN)
    lot, tender = lot_and_tender(session, ev)
    if not tender.can_manage(user):
        raise Forbidden("只有本项目的招标人或招标代理机构可以指定招标人代表")
    if (why := representative_refusal(session, tender, rep, trust)) is not None:
        raise InvalidInput(why, fields={"username": why}, code="not_eligible")
    named = [s for s in seats(session, ev) if s.representative]
    if len(named) >= lot.representative_seats:
        raise Conflict(
            f"本标段的评标委员会设招标人代表 {lot.representative_seats} 名，已经指定", code="representatives_complete"
        )
    e = session.scalar(select(Expert).where(Expert.user_id == rep.id))
    if e is None:
        tenderee = session.get(Organisation, tender.tenderee_org_id)
        assert tenderee is not None
        e = Expert(
            user_id=rep.id,
            kind=ExpertKind.REPRESENTATIVE,
            name=rep.display_name,
            specialties=[],
            region=lot.region,
            employer=tenderee.credit_code,
            history=[],
            relations=[],
            available=False,
            updated_at=clock.now(),
        )
        session.add(e)
        session.flush()
    if session.scalar(select(Seat.id).where(Seat.evaluation_id == ev.id, Seat.expert_id == e.id)) is not None:
        raise Conflict("此人已在本标段的评标委员会中（回避后不能再被指定）", code="already_seated")
    seat = Seat(evaluation_id=ev.id, expert_id=e.id, member_id=None, representative=True, designated_by_user_id=user.id)
    session.add(seat)
    session.flush()
    record_event(
        session, user, "evaluation.representative", seat, {"evaluation": ev.id, "expert": e.id, "name": e.name}
    )
    return seat


# ---------------------------------------------------------------- sign-in, pledge, leader
def statements_for(session: Session, ev: Evaluation, expert_id: int) -> dict[str, Any]:
    """What the expert's key signs in this room (the page and ``ggzy-bid`` sign exactly these)."""
    lot, tender = lot_and_tender(session, ev)
    out: dict[str, Any] = {
        "signin": evaluation_signin_statement(ev.id, tender.code, lot.number, expert_id).decode(),
        "pledge": evaluation_pledge_statement(
            ev.id, expert_id, [credit_code_of(session, b.org_id) for b in bidders(session, ev)]
        ).decode(),
    }
    if ev.report_sm3:
        out["report"] = evaluation_report_statement(ev.id, ev.round, expert_id, ev.report_sm3, "").decode()
    return out


def sign_in(session: Session, user: User, ev: Evaluation, signature: str, trust: TrustStore) -> Seat:
    require_state(ev, EvalState.SIGN_IN)
    seat = my_seat(session, user, ev)
    if seat.signed_in_at is not None:
        raise Conflict("您已签到", code="already_signed_in")
    lot, tender = lot_and_tender(session, ev)
    cert = registered_signing_cert(session, user, trust)
    check_signature(
        cert, evaluation_signin_statement(ev.id, tender.code, lot.number, seat.expert_id), signature, "签到"
    )
    seat.signed_in_at, seat.signin_signature = clock.now(), signature
    record_event(session, user, "evaluation.signin", seat, {"evaluation": ev.id, "fingerprint": cert.fingerprint})
    return seat


def pledge(session: Session, user: User, ev: Evaluation, signature: str, trust: TrustStore) -> Seat:
    """The signed recusal pledge, against the named bidders; needed before any bid is shown."""
    require_state(ev, EvalState.SIGN_IN)
    seat = my_seat(session, user, ev)
    if seat.signed_in_at is None:
        raise Conflict("请先签到", code="not_signed_in")
    if seat.pledged_at is not None:
        raise Conflict("您已签署回避承诺", code="already_pledged")
    codes = [credit_code_of(session, b.org_id) for b in bidders(session, ev)]
    cert = registered_signing_cert(session, user, trust)
    check_signature(cert, evaluation_pledge_statement(ev.id, seat.expert_id, codes), signature, "回避承诺")
    seat.pledged_at, seat.pledge_signature = clock.now(), signature
    record_event(session, user, "evaluation.pledge", seat, {"evaluation": ev.id, "bidders": sorted(codes)})
    return seat


def recuse(session: Session, user: User, ev: Evaluation, reason: str) -> Seat:
    """A member with an interest in a bidder withdraws (Reg 46): staff draw a replacement for an
    expert, the tenderee names another representative for one of its own."""
    require_state(ev, EvalState.SIGN_IN)
    seat = my_seat(session, user, ev)
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 300:
        raise InvalidInput("请说明回避的原因（2–300 字）", fields={"reason": "2–300 字"})
    seat.recused_at, seat.recusal_reason, seat.leader_vote = clock.now(), reason, None
    if seat.member_id is not None:
        member = session.get(DrawMember, seat.member_id)
        assert member is not None
        member.state, member.reason, member.answered_at = MemberState.RECUSED, reason, seat.recused_at
    for s in seats(session, ev):  # votes for the expert who left no longer count
        if s.leader_vote == seat.expert_id:
            s.leader_vote = None
    if ev.leader_expert_id == seat.expert_id:
        ev.leader_expert_id = None
    record_event(session, user, "evaluation.recuse", seat, {"evaluation": ev.id, "reason": reason})
    return seat


def vote_leader(session: Session, user: User, ev: Evaluation, candidate: int) -> Seat:
    """Each pledged expert votes; more than half of the committee elects the leader (组长)."""
    require_state(ev, EvalState.SIGN_IN)
    seat = my_seat(session, user, ev)
    seat.require_pledged("推选组长")
    present = seats(session, ev)
    target = next((s for s in present if s.expert_id == candidate), None)
    if target is None or target.pledged_at is None:
        raise InvalidInput("只能推选已签署回避承诺的委员会成员", fields={"candidate": "委员会成员"})
    lot, tender = lot_and_tender(session, ev)
    if target.representative and tender.category.government_procurement:
        raise InvalidInput("采购人代表不得担任评标委员会组长（财库〔2012〕69号）", fields={"candidate": "评审专家"})
    seat.leader_vote = candidate
    session.flush()
    votes = sum(1 for s in present if s.leader_vote == candidate)
    payload: dict[str, Any] = {"evaluation": ev.id, "candidate": candidate}
    if votes * 2 > seats_required(session, lot) and ev.leader_expert_id != candidate:
        ev.leader_expert_id = candidate
        payload["elected"] = candidate
    record_event(session, user, "evaluation.vote_leader", seat, payload)
    return seat


def review_refusal(session: Session, ev: Evaluation) -> Conflict | None:
    """Why the review cannot start yet (the whole committee signed in and pledged, a leader
    elected), or None: ``start_review`` raises it, the room shows it beside a disabled button."""
    lot, _ = lot_and_tender(session, ev)
    present = seats(session, ev)
    ready = [s for s in present if s.pledged_at is not None]
    required = seats_required(session, lot)
    if len(ready) != required or len(present) != required:
        return Conflict(
            f"评标委员会应有 {required} 名成员（其中招标人代表 {lot.representative_seats} 名）签到并签署回避承诺，"
            f"目前 {len(ready)} 名；回避的专家席位须先补抽，招标人代表须由招标人指定",
            code="committee_incomplete",
        )
    if ev.leader_expert_id is None:
        return Conflict("尚未推选出评标委员会组长", code="no_leader")
    return None


def start_review(session: Session, user: User, ev: Evaluation, *, keys: PlatformKeys) -> None:
    """The compliance review starts: every bidder's credit is checked now (财库〔2016〕125号: the
    result at evaluation time counts), in the same transaction."""
    require_state(ev, EvalState.SIGN_IN)
    actor = leader_or_staff(session, user, ev)
    refusal = review_refusal(session, ev)
    if refusal is not None:
        raise refusal
    move_evaluation(session, actor, ev, EvalState.COMPLIANCE)
    credit_review.check_bidders(session, keys, actor, ev)
