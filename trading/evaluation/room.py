"""The remote evaluation room (远程评标): from the committee's sign-in to the signed report.

Stages (``EvalState``): sign-in (SM2 sign-in, signed recusal pledge or recusal, leader election)
→ compliance review by majority → scoring (each expert alone; nobody sees another's sheet before
submitting all of its own) → checks and report → every expert signs (or dissents in writing).
Staff open the room and may send a report back (评标回退), which starts a new round. The leader
(组长) or staff move the room on. Every step writes its audit event in the caller's transaction.

This module reads the room and opens it; the stages live in ``committee``, ``compliance``,
``scores``, ``signoff`` and ``copies``, and the state itself moves only through ``lifecycle``.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from trading.accounts.models import Role, User
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.evaluation.models import (
    Draw,
    DrawMember,
    EvalState,
    Evaluation,
    Expert,
    MemberState,
    Seat,
)
from trading.opening.models import Ceremony, CeremonyBidder, Outcome
from trading.tenders.models import Lot, LotState, Tender

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


def leader_or_staff(session: Session, user: User, ev: Evaluation) -> Actor:
    if Role.STAFF in user.roles:
        return user
    seat = my_seat(session, user, ev)
    if seat.expert_id != ev.leader_expert_id:
        raise Forbidden("只有评标委员会组长或交易中心工作人员可以推进评标", code="not_leader")
    seat.require_pledged()
    return user


def bidder(session: Session, ev: Evaluation, bidder_id: int, *, valid_only: bool = False) -> CeremonyBidder:
    pool = valid_bidders(session, ev) if valid_only else bidders(session, ev)
    b = next((b for b in pool if b.id == bidder_id), None)
    if b is None:
        raise NotFound("该投标人不在本次评审范围内", code="unknown_bidder")
    return b


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


def open_refusal(session: Session, lot: Lot) -> Conflict | None:
    """Why the room cannot be opened now (None: it can): the lot is not being evaluated, the room
    is open already, or the drawn committee is not whole and confirmed. The draw page shows it."""
    if lot.status is not LotState.EVALUATING:
        return Conflict("本标段不在评标阶段", code="wrong_state")
    if session.scalar(select(Evaluation.id).where(Evaluation.lot_id == lot.id)) is not None:
        return Conflict("本标段的评标室已开启", code="already_open")
    members = committee(session, lot)
    pending = session.scalar(
        select(DrawMember.id)
        .join(Draw, Draw.id == DrawMember.draw_id)
        .where(Draw.lot_id == lot.id, DrawMember.state == MemberState.INVITED)
    )
    required = drawn_required(session, lot)
    if not required:
        return Conflict("尚未从专家库抽取评标专家", code="committee_incomplete")
    if len(members) != required or pending is not None:
        return Conflict(
            f"评标委员会应有 {required} 名已确认的专家，目前 {len(members)} 名"
            + ("，尚有专家未答复" if pending is not None else ""),
            code="committee_incomplete",
        )
    return None


def open_room(session: Session, staff: User, lot: Lot, z_limit: float | None = None, candidates: int = 3) -> Evaluation:
    """Staff open the room once the whole committee confirmed; from now on staff see the names."""
    if Role.STAFF not in staff.roles:
        raise Forbidden("只有交易中心工作人员可以开启评标室")
    refusal = open_refusal(session, lot)
    if refusal is not None:
        raise refusal
    members = committee(session, lot)
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
