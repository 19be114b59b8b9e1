"""The remote evaluation room (远程评标): from the committee's sign-in to the signed report.

Stages (``EvalState``): sign-in (SM2 sign-in, signed recusal pledge or recusal, leader election)
→ compliance review by majority → scoring (each expert alone; nobody sees another's sheet before
submitting all of its own) → checks and report → every expert signs (or dissents in writing).
Staff open the room and may send a report back (评标回退), which starts a new round. The leader
(组长) or staff move the room on. Every step writes its audit event in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor, record_event
from archive.db import locked
from signing.certs import TrustStore
from signing.digest import sm3_stream
from signing.errors import ArchiveRefused
from signing.statements import (
    evaluation_pledge_statement,
    evaluation_report_statement,
    evaluation_signin_statement,
    sign_statement,
)
from trading.accounts.models import Organisation, Role, User
from trading.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from trading.evaluation import scoring
from trading.evaluation.models import (
    Clarification,
    ComplianceVote,
    Draw,
    DrawMember,
    EvalState,
    Evaluation,
    Expert,
    ExpertKind,
    Flag,
    MemberState,
    ReportSignature,
    ScoreSheet,
    Seat,
)
from trading.evaluation.watermark import seekable, watermark_zip
from trading.opening.models import Ceremony, CeremonyBidder, Outcome
from trading.opening.operations import credit_code_of, org_name
from trading.pki.operations import check_signature, registered_signing_cert
from trading.services import Services
from trading.tenders.lifecycle import move_lot
from trading.tenders.models import EvaluationMethod, Lot, LotState, Tender

DEFAULT_Z_LIMIT = 2.5


# ---------------------------------------------------------------- reading
def evaluation_of(session: Session, lot: Lot) -> Evaluation:
    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == lot.id))
    if ev is None:
        raise NotFound("本标段的评标尚未开始", code="not_started")
    return ev


def lot_and_tender(session: Session, ev: Evaluation) -> tuple[Lot, Tender]:
    lot = session.get(Lot, ev.lot_id)
    assert lot is not None
    tender = session.get(Tender, lot.tender_id)
    assert tender is not None
    return lot, tender


def seats(session: Session, ev: Evaluation, *, present: bool = True) -> list[Seat]:
    """The committee's seats; ``present`` leaves out experts who recused."""
    q = select(Seat).where(Seat.evaluation_id == ev.id)
    if present:
        q = q.where(Seat.recused_at.is_(None))
    return list(session.scalars(q.order_by(Seat.id)))


def bidders(session: Session, ev: Evaluation) -> list[CeremonyBidder]:
    """The bids under evaluation: those the opening decrypted."""
    q = (
        select(CeremonyBidder)
        .join(Ceremony, Ceremony.id == CeremonyBidder.ceremony_id)
        .where(Ceremony.lot_id == ev.lot_id, CeremonyBidder.outcome == Outcome.DECRYPTED)
        .order_by(CeremonyBidder.id)
    )
    return list(session.scalars(q))


def valid_bidders(session: Session, ev: Evaluation) -> list[CeremonyBidder]:
    """Those that passed the compliance review (all of them before it closes)."""
    result = ev.compliance or {}
    return [b for b in bidders(session, ev) if not result or result.get(str(b.id), {}).get("passed")]


def price_of(b: CeremonyBidder) -> Decimal:
    return Decimal(str((b.price_sheet or {})["price"]))


def my_seat(session: Session, user: User, ev: Evaluation, *, recused_too: bool = False) -> Seat:
    """The user's seat; one left by recusal counts only for reading what it saw (``recused_too``)."""
    seat = session.scalar(
        select(Seat)
        .join(Expert, Expert.id == Seat.expert_id)
        .where(Seat.evaluation_id == ev.id, Expert.user_id == user.id)
    )
    if seat is None or (seat.recused_at is not None and not recused_too):
        raise Forbidden("您不是本标段评标委员会成员", code="not_in_committee")
    return seat


def _in_state(ev: Evaluation, *states: EvalState) -> None:
    if ev.state not in states:
        raise Conflict(f"评标当前处于“{ev.state.label}”阶段，不能进行此操作", code="wrong_state")


def _leader_or_staff(session: Session, user: User, ev: Evaluation) -> Actor:
    if Role.STAFF in user.roles:
        return user
    seat = my_seat(session, user, ev)
    if seat.expert_id != ev.leader_expert_id:
        raise Forbidden("只有评标委员会组长或交易中心工作人员可以推进评标", code="not_leader")
    return user


# ---------------------------------------------------------------- opening the room
def committee(session: Session, lot: Lot) -> list[DrawMember]:
    """Confirmed members of every round, in seat order."""
    q = (
        select(DrawMember)
        .join(Draw, Draw.id == DrawMember.draw_id)
        .where(Draw.lot_id == lot.id, DrawMember.state == MemberState.CONFIRMED)
        .order_by(Draw.round, DrawMember.slot)
    )
    return list(session.scalars(q))


def drawn_required(session: Session, lot: Lot) -> int:
    """The committee's drawn seats: the first round's size."""
    first = session.scalar(select(Draw).where(Draw.lot_id == lot.id).order_by(Draw.round).limit(1))
    return len(first.result or []) if first else 0


def seats_required(session: Session, lot: Lot) -> int:
    """The whole committee (Law 37: five or more, an odd number): the drawn experts and the
    tenderee's representatives, who sit, vote, score and sign like them."""
    drawn = drawn_required(session, lot)
    return drawn + lot.representative_seats if drawn else 0


def open_room(session: Session, staff: User, lot: Lot, z_limit: float | None = None, candidates: int = 3) -> Evaluation:
    """Staff open the room once the whole committee confirmed; from now on staff see the names."""
    if Role.STAFF not in staff.roles:
        raise Forbidden("只有交易中心工作人员可以开启评标室")
    if lot.status is not LotState.EVALUATING:
        raise Conflict("本标段不在评标阶段", code="wrong_state")
    if session.scalar(select(Evaluation.id).where(Evaluation.lot_id == lot.id)) is not None:
        raise Conflict("本标段的评标室已开启", code="already_open")
    members = committee(session, lot)
    pending = session.scalar(
        select(DrawMember.id)
        .join(Draw, Draw.id == DrawMember.draw_id)
        .where(Draw.lot_id == lot.id, DrawMember.state == MemberState.INVITED)
    )
    required = drawn_required(session, lot)
    if not required or len(members) != required or pending is not None:
        raise Conflict(
            f"评标委员会应有 {required} 名已确认的专家，目前 {len(members)} 名"
            + ("，尚有专家未答复" if pending is not None else ""),
            code="committee_incomplete",
        )
    if not 1 <= candidates <= 3:
        raise InvalidInput("推荐的中标候选人应为 1–3 名", fields={"candidates": "1–3"})
    z = DEFAULT_Z_LIMIT if z_limit is None else z_limit
    if not 1.0 <= z <= 10.0:
        raise InvalidInput("离群阈值应在 1–10 个标准差之间", fields={"z_limit": "1–10"})
    ev = Evaluation(
        lot_id=lot.id,
        state=EvalState.SIGN_IN,
        round=1,
        z_limit=z,
        candidates=candidates,
        history=[],
        opened_at=clock.now(),
    )
    session.add(ev)
    session.flush()
    for m in members:
        session.add(Seat(evaluation_id=ev.id, expert_id=m.expert_id, member_id=m.id))
    session.flush()
    names = {e.id: e.name for e in session.scalars(select(Expert).where(Expert.id.in_([m.expert_id for m in members])))}
    record_event(
        session,
        staff,
        "evaluation.open",
        ev,
        {"lot": lot.id, "experts": [[m.expert_id, names[m.expert_id]] for m in members], "z_limit": str(z)},
    )
    return ev


def seat_replacement(session: Session, m: DrawMember) -> None:
    """A replacement who confirmed joins a room that is still signing in (called by ``respond``)."""
    d = session.get(Draw, m.draw_id)
    assert d is not None
    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == d.lot_id))
    if ev is None:
        return
    if ev.state is not EvalState.SIGN_IN:
        raise Conflict("评标已经开始，不能再加入评标委员会", code="wrong_state")
    seat = Seat(evaluation_id=ev.id, expert_id=m.expert_id, member_id=m.id)
    session.add(seat)
    session.flush()
    record_event(session, SYSTEM, "evaluation.seat", seat, {"evaluation": ev.id, "expert": m.expert_id})


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
    _in_state(ev, EvalState.SIGN_IN)
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
    _in_state(ev, EvalState.SIGN_IN)
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
    _in_state(ev, EvalState.SIGN_IN)
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
    _in_state(ev, EvalState.SIGN_IN)
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
    _in_state(ev, EvalState.SIGN_IN)
    seat = my_seat(session, user, ev)
    if seat.pledged_at is None:
        raise Conflict("签署回避承诺后才能推选组长", code="not_pledged")
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


def start_review(session: Session, user: User, ev: Evaluation) -> None:
    _in_state(ev, EvalState.SIGN_IN)
    actor = _leader_or_staff(session, user, ev)
    lot, _ = lot_and_tender(session, ev)
    present = seats(session, ev)
    ready = [s for s in present if s.pledged_at is not None]
    required = seats_required(session, lot)
    if len(ready) != required or len(present) != required:
        raise Conflict(
            f"评标委员会应有 {required} 名成员（其中招标人代表 {lot.representative_seats} 名）签到并签署回避承诺，"
            f"目前 {len(ready)} 名；回避的专家席位须先补抽，招标人代表须由招标人指定",
            code="committee_incomplete",
        )
    if ev.leader_expert_id is None:
        raise Conflict("尚未推选出评标委员会组长", code="no_leader")
    _move(session, actor, ev, EvalState.COMPLIANCE)


def _move(session: Session, actor: Actor, ev: Evaluation, to: EvalState, **extra: Any) -> None:
    before = ev.state
    ev.state = to
    session.flush()
    record_event(session, actor, "evaluation.stage", ev, {"from": before.value, "to": to.value, **extra})


# ---------------------------------------------------------------- compliance (资格/符合性审查)
def _bidder(session: Session, ev: Evaluation, bidder_id: int, *, valid_only: bool = False) -> CeremonyBidder:
    pool = valid_bidders(session, ev) if valid_only else bidders(session, ev)
    b = next((b for b in pool if b.id == bidder_id), None)
    if b is None:
        raise NotFound("该投标人不在本次评审范围内", code="unknown_bidder")
    return b


def vote_compliance(
    session: Session,
    user: User,
    ev: Evaluation,
    bidder_id: int,
    passed: bool,
    failed_items: list[str],
    reason: str,
) -> ComplianceVote:
    _in_state(ev, EvalState.COMPLIANCE)
    seat = my_seat(session, user, ev)
    _bidder(session, ev, bidder_id)
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
        {"expert": seat.expert_id, "bidder": bidder_id, "passed": passed, "failed_items": list(failed_items)},
    )
    return vote


def close_compliance(session: Session, user: User, ev: Evaluation) -> dict[str, Any]:
    """Every expert voted on every bid → each bid passes by majority. None passing: the committee
    rejects every bid and the lot fails (Reg 51); the tenderee tenders again."""
    _in_state(ev, EvalState.COMPLIANCE)
    actor = _leader_or_staff(session, user, ev)
    experts = [s.expert_id for s in seats(session, ev)]
    votes = session.scalars(
        select(ComplianceVote).where(ComplianceVote.evaluation_id == ev.id, ComplianceVote.round == ev.round)
    ).all()
    by_bidder: dict[int, dict[int, ComplianceVote]] = {}
    for v in votes:
        by_bidder.setdefault(v.bidder_id, {})[v.expert_id] = v
    result: dict[str, Any] = {}
    for b in bidders(session, ev):
        cast = by_bidder.get(b.id, {})
        missing = [x for x in experts if x not in cast]
        if missing:
            raise Conflict(
                f"尚有专家未完成对“{org_name(session, b.org_id)}”的审查（{len(missing)} 名）", code="votes_missing"
            )
        ballots = [cast[x] for x in experts]
        result[str(b.id)] = {
            "passed": scoring.majority([v.passed for v in ballots]),
            "votes": {str(v.expert_id): v.passed for v in ballots},
            "reasons": [v.reason for v in ballots if not v.passed and v.reason],
        }
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
        _move(session, actor, ev, EvalState.REPORTED, compliance=result, outcome="all_rejected")
        return result
    _move(session, actor, ev, EvalState.SCORING, compliance=result)
    return result


# ---------------------------------------------------------------- clarifications (澄清)
def ask(session: Session, user: User, ev: Evaluation, bidder_id: int, question: str, hours: int) -> Clarification:
    _in_state(ev, EvalState.COMPLIANCE, EvalState.SCORING)
    actor = _leader_or_staff(session, user, ev)
    _bidder(session, ev, bidder_id)
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


# ---------------------------------------------------------------- scoring
def _factors(lot: Lot) -> list[dict[str, Any]]:
    return list(lot.criteria.get("factors") or [])


def _parse_scores(lot: Lot, scores: dict[str, Any]) -> dict[str, Decimal]:
    factors = {f["name"]: int(f["weight"]) for f in _factors(lot)}
    if set(scores) != set(factors):
        raise InvalidInput(
            f"应对每个评分因素评分：{'、'.join(factors)}",
            fields={"scores": "、".join(factors)},
            code="factors_mismatch",
        )
    out = {}
    for name, raw in scores.items():
        try:
            v = Decimal(str(raw))
        except InvalidOperation:
            raise InvalidInput(f"“{name}”的得分不是数字", fields={name: "数字"}) from None
        if not v.is_finite() or v < 0 or v > factors[name] or v != v.quantize(scoring.CENT):
            raise InvalidInput(f"“{name}”的得分应在 0–{factors[name]} 之间，最多两位小数", fields={name: "分值"})
        out[name] = v
    return out


def submit_scores(
    session: Session, user: User, ev: Evaluation, bidder_id: int, scores: dict[str, Any], declared_total: Decimal
) -> ScoreSheet:
    """An expert's sheet for one bid; may be revised until the report is generated."""
    _in_state(ev, EvalState.SCORING)
    seat = my_seat(session, user, ev)
    lot, _ = lot_and_tender(session, ev)
    if lot.evaluation_method is EvaluationMethod.LOWEST_PRICE:
        raise Conflict("最低评标价法不设评分因素", code="no_factors")
    _bidder(session, ev, bidder_id, valid_only=True)
    parsed = _parse_scores(lot, scores)
    q = select(ScoreSheet).where(
        ScoreSheet.evaluation_id == ev.id,
        ScoreSheet.round == ev.round,
        ScoreSheet.expert_id == seat.expert_id,
        ScoreSheet.bidder_id == bidder_id,
    )
    sheet = session.scalar(q)
    revised = sheet is not None
    if sheet is None:
        sheet = ScoreSheet(evaluation_id=ev.id, round=ev.round, expert_id=seat.expert_id, bidder_id=bidder_id)
        session.add(sheet)
    sheet.scores = {k: str(v) for k, v in parsed.items()}
    sheet.declared_total, sheet.submitted_at = scoring.q2(Decimal(declared_total)), clock.now()
    session.flush()
    record_event(
        session,
        user,
        "evaluation.score_revise" if revised else "evaluation.score",
        sheet,
        {"bidder": bidder_id, "scores": sheet.scores, "declared_total": str(sheet.declared_total)},
    )
    return sheet


def sheets(session: Session, ev: Evaluation) -> list[ScoreSheet]:
    q = select(ScoreSheet).where(ScoreSheet.evaluation_id == ev.id, ScoreSheet.round == ev.round)
    return list(session.scalars(q.order_by(ScoreSheet.expert_id, ScoreSheet.bidder_id)))


def _complete(expert_id: int, all_sheets: list[ScoreSheet], valid: set[int]) -> bool:
    """The expert has a sheet for every bid under evaluation (``valid``: their ids)."""
    return valid <= {s.bidder_id for s in all_sheets if s.expert_id == expert_id}


def _valid_ids(session: Session, ev: Evaluation) -> set[int]:
    return {b.id for b in valid_bidders(session, ev)}


def visible_sheets(
    session: Session, user: User, ev: Evaluation, every: list[ScoreSheet] | None = None
) -> list[ScoreSheet]:
    """An expert sees its own sheets, and everybody's once all of its own are in (评分独立).
    ``every``: the round's sheets, when the caller has them already."""
    seat = my_seat(session, user, ev)
    every = sheets(session, ev) if every is None else every
    if ev.state is not EvalState.SCORING or _complete(seat.expert_id, every, _valid_ids(session, ev)):
        return every
    return [s for s in every if s.expert_id == seat.expert_id]


def _as_rule_sheets(rows: list[ScoreSheet]) -> list[scoring.Sheet]:
    return [
        scoring.Sheet(r.expert_id, r.bidder_id, {k: Decimal(v) for k, v in r.scores.items()}, r.declared_total)
        for r in rows
    ]


def _require_all_scored(session: Session, ev: Evaluation, rows: list[ScoreSheet]) -> None:
    lot, _ = lot_and_tender(session, ev)
    if lot.evaluation_method is EvaluationMethod.LOWEST_PRICE:
        return
    valid = _valid_ids(session, ev)
    late = [s.expert_id for s in seats(session, ev) if not _complete(s.expert_id, rows, valid)]
    if late:
        raise Conflict(f"尚有 {len(late)} 名专家未完成评分", code="scores_missing")


def run_checks(session: Session, user: User, ev: Evaluation, *, record_unchanged: bool = True) -> list[Flag]:
    """Recompute the findings of the current round: new ones are raised, vanished ones cleared
    (an expert revised); a resolution stays with its finding. A run that changes nothing is
    recorded only when asked for (the leader's own run, not the recheck before the report)."""
    _in_state(ev, EvalState.SCORING)
    actor = _leader_or_staff(session, user, ev)
    rows = sheets(session, ev)
    _require_all_scored(session, ev, rows)
    lot, _ = lot_and_tender(session, ev)
    objective = [f["name"] for f in _factors(lot) if f.get("objective")]
    findings = {f.key: f for f in scoring.checks(_as_rule_sheets(rows), objective, ev.z_limit)}
    existing = {
        f.key: f for f in session.scalars(select(Flag).where(Flag.evaluation_id == ev.id, Flag.round == ev.round))
    }
    now = clock.now()
    raised, cleared = [], []
    for key, f in findings.items():
        flag = existing.get(key)
        if flag is None:
            flag = Flag(
                evaluation_id=ev.id,
                round=ev.round,
                key=key,
                kind=f.kind,
                expert_id=f.expert,
                bidder_id=f.bidder,
                factor=f.factor,
                detail=f.detail,
                raised_at=now,
            )
            session.add(flag)
            raised.append(key)
        elif flag.cleared_at is not None:
            flag.cleared_at = None
            raised.append(key)
    for key, flag in existing.items():
        if key not in findings and flag.cleared_at is None:
            flag.cleared_at = now
            cleared.append(key)
    session.flush()
    if raised or cleared or record_unchanged:
        payload = {"round": ev.round, "raised": raised, "cleared": cleared}
        record_event(session, actor, "evaluation.checks", ev, payload)
    return flags(session, ev)


def flags(session: Session, ev: Evaluation) -> list[Flag]:
    q = select(Flag).where(Flag.evaluation_id == ev.id, Flag.round == ev.round).order_by(Flag.id)
    return list(session.scalars(q))


def open_flags(session: Session, ev: Evaluation) -> list[Flag]:
    return [f for f in flags(session, ev) if f.cleared_at is None and f.resolution is None]


def resolve_flag(session: Session, user: User, ev: Evaluation, flag_id: int, reason: str) -> Flag:
    """The leader records why a flagged score stands (after the committee discussed it)."""
    _in_state(ev, EvalState.SCORING)
    actor = _leader_or_staff(session, user, ev)
    flag = session.get(Flag, flag_id)
    if flag is None or flag.evaluation_id != ev.id or flag.round != ev.round:
        raise NotFound("提示不存在")
    if flag.resolution is not None or flag.cleared_at is not None:
        raise Conflict("该提示已处理", code="already_resolved")
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput("请记录讨论结论与理由（5–2000 字）", fields={"reason": "5–2000 字"})
    flag.resolution, flag.resolved_by_user_id, flag.resolved_at = reason, user.id, clock.now()
    record_event(session, actor, "evaluation.flag_resolve", flag, {"key": flag.key, "reason": reason})
    return flag


# ---------------------------------------------------------------- report and signatures
def generate_report(session: Session, user: User, ev: Evaluation, services: Services) -> dict[str, Any]:
    """Checks again (under the room's lock: a score revised since the last run is seen); with
    every flag resolved or gone, the report is built, stored and put to the committee for signature."""
    from trading.evaluation import report as rep

    _in_state(ev, EvalState.SCORING)
    actor = _leader_or_staff(session, user, ev)
    run_checks(session, user, ev, record_unchanged=False)
    still = open_flags(session, ev)
    if still:
        raise Conflict(
            f"尚有 {len(still)} 项评审提示未处理（须修正评分或记录理由）后才能生成评标报告", code="flags_open"
        )
    report = rep.build_report(session, ev)
    stored = rep.store_report(services, report)
    ev.report, ev.report_sm3, ev.report_pdf_key = report, stored["json_sm3"], stored["pdf_key"]
    _move(session, actor, ev, EvalState.SIGNING, report_sm3=ev.report_sm3, pdf_sm3=stored["pdf_sm3"])
    return report


def sign_report(
    session: Session, user: User, ev: Evaluation, signature: str, dissent: str, trust: TrustStore, services: Services
) -> ReportSignature:
    _in_state(ev, EvalState.SIGNING)
    seat = my_seat(session, user, ev)
    assert ev.report_sm3 is not None
    dissent = (dissent or "").strip()
    if dissent and not 5 <= len(dissent) <= 5000:
        raise InvalidInput("不同意见应写明理由（5–5000 字）", fields={"dissent": "5–5000 字"})
    done = session.scalar(
        select(ReportSignature.id).where(
            ReportSignature.evaluation_id == ev.id,
            ReportSignature.round == ev.round,
            ReportSignature.expert_id == seat.expert_id,
        )
    )
    if done is not None:
        raise Conflict("您已签署本轮评标报告", code="already_signed")
    cert = registered_signing_cert(session, user, trust)
    message = evaluation_report_statement(ev.id, ev.round, seat.expert_id, ev.report_sm3, dissent)
    check_signature(cert, message, signature, "评标报告")
    sig = ReportSignature(
        evaluation_id=ev.id,
        round=ev.round,
        expert_id=seat.expert_id,
        report_sm3=ev.report_sm3,
        agree=not dissent,
        dissent=dissent or None,
        signature=signature,
        signed_at=clock.now(),
    )
    session.add(sig)
    session.flush()
    record_event(
        session,
        user,
        "evaluation.report_sign",
        ev,
        {"expert": seat.expert_id, "report_sm3": ev.report_sm3, "agree": sig.agree, "fingerprint": cert.fingerprint},
    )
    signed = signatures(session, ev)
    if len(signed) == len(seats(session, ev)):
        body = {
            "evaluation": ev.id,
            "round": ev.round,
            "report_sm3": ev.report_sm3,
            "signatures": [
                {"expert": s.expert_id, "agree": s.agree, "dissent": s.dissent, "signature": s.signature}
                for s in signed
            ],
        }
        st = sign_statement(
            "evaluation_report", body, key=services.keys.sign_key, cert=services.keys.sign_cert, now=clock.now()
        )
        ev.report_statement = st.to_json().decode()
        ev.reported_at, ev.publicity_late_at = clock.now(), None
        _move(
            session, SYSTEM, ev, EvalState.REPORTED, report_sm3=ev.report_sm3, dissents=sum(not s.agree for s in signed)
        )
    return sig


def signatures(session: Session, ev: Evaluation) -> list[ReportSignature]:
    q = select(ReportSignature).where(ReportSignature.evaluation_id == ev.id, ReportSignature.round == ev.round)
    return list(session.scalars(q.order_by(ReportSignature.id)))


def send_back(session: Session, staff: User, ev: Evaluation, reason: str, to: str = "scoring") -> None:
    """评标回退: staff return a report not yet publicised (a calculation error, a missed rule…).
    A new round starts; the compliance result is kept when going back to scoring, and every
    expert's sheets are carried over to be revised, never silently changed."""
    if Role.STAFF not in staff.roles:
        raise Forbidden("只有交易中心工作人员可以退回评标")
    _in_state(ev, EvalState.SIGNING, EvalState.REPORTED)
    if ev.compliance and not any(r["passed"] for r in ev.compliance.values()):
        raise Conflict("全部投标已被否决，不能回退", code="wrong_state")
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput("请写明退回理由（5–2000 字）", fields={"reason": "5–2000 字"})
    if to not in ("scoring", "compliance"):
        raise InvalidInput("退回到 scoring（详细评审）或 compliance（资格/符合性审查）", fields={"to": "阶段"})
    old = ev.round
    carried = sheets(session, ev) if to == "scoring" else []
    ev.history = [
        *ev.history,
        {"round": old, "reason": reason, "report_sm3": ev.report_sm3, "at": clock.now().isoformat()},
    ]
    ev.round = old + 1
    ev.report = ev.report_sm3 = ev.report_pdf_key = ev.report_statement = None
    ev.reported_at = ev.publicity_late_at = None
    if to == "compliance":
        ev.compliance = None
    for s in carried:
        session.add(
            ScoreSheet(
                evaluation_id=ev.id,
                round=ev.round,
                expert_id=s.expert_id,
                bidder_id=s.bidder_id,
                scores=dict(s.scores),
                declared_total=s.declared_total,
                submitted_at=s.submitted_at,
            )
        )
    _move(
        session,
        staff,
        ev,
        EvalState.SCORING if to == "scoring" else EvalState.COMPLIANCE,
        reason=reason,
        round=ev.round,
    )


# ---------------------------------------------------------------- the opened bids
@dataclass
class BidCopy:
    """An expert's watermarked copy: an open, already unlinked temporary file, at its start."""

    name: str
    file: BinaryIO
    size: int


def bid_copy(session: Session, user: User, ev: Evaluation, bidder_id: int, services: Services) -> BidCopy:
    """A watermarked copy of an opened bid for a committee member who signed the pledge; every
    download is an audit event naming the copy's SM3 and number. Built on disk, never in memory:
    bids may be gigabytes (``MAX_BID_BYTES``)."""
    _in_state(ev, EvalState.COMPLIANCE, EvalState.SCORING, EvalState.SIGNING)
    seat = my_seat(session, user, ev)
    if seat.pledged_at is None:
        raise Forbidden("签署回避承诺后才能查阅投标文件", code="not_pledged")
    b = _bidder(session, ev, bidder_id)
    if not b.plaintext_key:
        raise NotFound("该投标文件没有解密副本")
    expert = session.get(Expert, seat.expert_id)
    assert expert is not None
    number = secrets.token_hex(4)
    text = f"评标专用 专家 {expert.name}（{expert.id}） {clock.local(clock.now()):%Y-%m-%d %H:%M} 编号 {number}"
    # not a with-block: the file outlives this call; the response streams it, then closes it
    copy = tempfile.TemporaryFile(prefix="copy-", dir=services.scratch)  # noqa: SIM115
    unstamped: list[str] = []
    try:
        with services.store.open(b.plaintext_key) as stored, seekable(stored, services.scratch) as src:
            stamped = watermark_zip(src, copy, text, unstamped)
        copy.seek(0)
        digest, size = sm3_stream(copy)
        copy.seek(0)
    except ArchiveRefused as exc:
        copy.close()
        if exc.code == "archive_unreadable":
            raise Conflict("该投标文件不是有效的文件包（zip），无法生成水印副本", code="not_a_package") from None
        raise Conflict(f"该投标文件包超出读取限制，无法生成水印副本：{exc}", code=exc.code) from None
    except BaseException:
        copy.close()
        raise
    record_event(
        session,
        user,
        "evaluation.bid_access",
        ev,
        {
            "expert": seat.expert_id,
            "bidder": b.id,
            "copy": number,
            "copy_sm3": digest.hex(),
            "pdfs_stamped": stamped,
            "pdfs_unstamped": unstamped,
        },
    )
    return BidCopy(f"bid-{ev.id}-{b.id}-{number}.zip", copy, size)
