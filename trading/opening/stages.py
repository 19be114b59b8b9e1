"""The ceremony's stage machine: opening at the deadline, each window's end and the move to the next
stage, classification of the bids not decrypted, cancellation.

Every stage change goes through ``trading.opening.lifecycle.move_ceremony``, which checks it
against the table of allowed moves and writes the audit event and the live-room event in the
caller's transaction. Deadlines are enforced by ``ensure_current`` on every request and by the
scheduler's sweep, so a missed job changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor, record_event
from archive.db import locked
from trading.bids.models import Bid, BidState
from trading.core.scheduler import error_summary
from trading.core.services import Services
from trading.opening.ceremonies import ceremonies_of, lot_of, tender_of
from trading.opening.display import bidder_rows, credit_code_of, reading_table
from trading.opening.failures import AdvanceFailed, advance_failures, group_step, step
from trading.opening.lifecycle import NEXT, move_ceremony
from trading.opening.models import (
    FINAL_STAGES,
    Ceremony,
    CeremonyBidder,
    Confirmation,
    DecryptionJob,
    Fault,
    JobState,
    Objection,
    Outcome,
    Stage,
)
from trading.opening.record import publish_record
from trading.procedures.operations import get_procedure
from trading.tenders.lifecycle import move_lot
from trading.tenders.models import LotState, Tender, TenderState
from trading.tenders.operations import close_bidding


def ensure_current(session: Session, c: Ceremony, services: Services, now: dt.datetime | None = None) -> Ceremony:
    """Bring the ceremony up to ``now``: open it at the deadline, close windows that have run out.
    A step that fails is undone and recorded (``step``); it is tried again after a pause, and after
    RETRY_CAP failures only by staff's own advance. The lots of a 合并开标 move together
    (``ensure_joint_current``)."""
    now = now or clock.now()
    tender = tender_of(session, c)
    if tender.joint_opening:
        ensure_joint_current(session, tender, ceremonies_of(session, tender), services, now)
        return c
    if c.stage is Stage.SCHEDULED:
        if tender.status is TenderState.TERMINATED:
            _cancel(session, c, now)
            return c
        close_bidding(session, tender, now)
        if tender.status is TenderState.BIDDING_CLOSED and tender.deadline_passed(now):
            if not advance_failures(session, c).retry_due(now):
                return c
            if not step(session, c, SYSTEM, lambda: _open(session, c, tender, now)):
                return c
    for _ in range(len(NEXT)):
        if c.stage in FINAL_STAGES or c.paused_at is not None or c.stage_ends_at is None or now < c.stage_ends_at:
            break
        if waiting_for(session, c) is not None:
            break  # e.g. decryptions submitted in time still running: the window closes after them
        if not advance_failures(session, c).retry_due(now):
            break
        if not step(session, c, SYSTEM, lambda: _advance(session, c, SYSTEM, services, now)):
            break
    return c


#: The order in which a ceremony's running stages follow one another.
ORDER = [Stage.SIGN_IN, *NEXT.values()]


def ensure_joint_current(
    session: Session, tender: Tender, rooms: list[Ceremony], services: Services, now: dt.datetime
) -> None:
    """合并开标: the lots open at the deadline together and every window closes for all running
    lots at one instant, in one savepoint: if one lot's step fails none moves, and the failure
    (recorded on that lot) is retried for the group with the pauses and cap of a single room. A
    lot that must still wait (decryptions running, objections unanswered, paused) holds them all.
    A lot with too few bids fails at the opening (its own step) and leaves the group."""
    scheduled = [c for c in rooms if c.stage is Stage.SCHEDULED]
    if scheduled:
        if tender.status is TenderState.TERMINATED:
            for c in scheduled:
                _cancel(session, c, now)
            return
        close_bidding(session, tender, now)
        if tender.status is not TenderState.BIDDING_CLOSED or not tender.deadline_passed(now):
            return
        if not all(advance_failures(session, c).retry_due(now) for c in scheduled):
            return
        opens = [(c, _opener(session, c, tender, now)) for c in scheduled]
        if group_step(session, SYSTEM, opens) is not None:
            return
    for _ in range(len(NEXT)):
        live = [c for c in rooms if c.stage not in FINAL_STAGES and c.stage is not Stage.SCHEDULED]
        if not live:
            break
        # lots that fell apart before (an older version moved them one by one) catch up first
        first = min(ORDER.index(c.stage) for c in live)
        group = [c for c in live if ORDER.index(c.stage) == first]
        if any(c.paused_at is not None or c.stage_ends_at is None or now < c.stage_ends_at for c in group):
            break
        if any(waiting_for(session, c) is not None for c in group):
            break  # e.g. decryptions submitted in time still running: every window closes after them
        if not all(advance_failures(session, c).retry_due(now) for c in group):
            break
        moves = [(c, _advancer(session, c, SYSTEM, services, now)) for c in group]
        if group_step(session, SYSTEM, moves) is not None:
            break


def _opener(session: Session, c: Ceremony, tender: Tender, now: dt.datetime) -> Callable[[], None]:
    return lambda: _open(session, c, tender, now)


def _advancer(session: Session, c: Ceremony, actor: Actor, services: Services, now: dt.datetime) -> Callable[[], None]:
    return lambda: _advance(session, c, actor, services, now)


def advance_together(
    session: Session,
    actor: Actor,
    rooms: list[Ceremony],
    services: Services,
    now: dt.datetime,
    then: Callable[[], None] | None = None,
) -> None:
    """Staff's advance of ``rooms`` (one lot, or every running lot of a 合并开标), all or none;
    ``then`` (their own audit event) only once all have moved. A failure is recorded in the
    caller's transaction, which must commit it, and raised as AdvanceFailed naming the lot."""
    moves = [(c, _advancer(session, c, actor, services, now)) for c in rooms]
    if then is not None:
        moves.append((rooms[-1], then))
    failure = group_step(session, actor, moves)
    if failure is not None:
        raise AdvanceFailed(failure)


def _cancel(session: Session, c: Ceremony, now: dt.datetime) -> None:
    c.private_key = None
    move_lot(session, SYSTEM, lot_of(session, c), LotState.TERMINATED, reason="招标项目已终止", now=now)
    move_ceremony(session, SYSTEM, c, Stage.CANCELLED, now=now, detail={"reason": "招标项目已终止"})


def cancel_for_termination(session: Session, tender: Tender) -> None:
    """终止招标 before the deadline: its rooms will not open; the lots end terminated (and are archived)."""
    now = clock.now()
    for c in ceremonies_of(session, tender):
        if c.stage is Stage.SCHEDULED:
            _cancel(session, c, now)


def _open(session: Session, c: Ceremony, tender: Tender, now: dt.datetime) -> None:
    """At the deadline: the live bids become the ceremony's bidders, or the lot fails (流标)."""
    session.execute(locked(select(Tender.id).where(Tender.id == tender.id)))
    bids = list(
        session.scalars(
            select(Bid).where(Bid.lot_id == c.lot_id, Bid.status == BidState.ACCEPTED).order_by(Bid.received_at)
        )
    )
    proc = get_procedure(session, tender.procedure_code)
    c.opened_at = now
    lot = lot_of(session, c)
    if len(bids) < proc.min_valid_bids:
        c.private_key = None
        move_ceremony(
            session,
            SYSTEM,
            c,
            Stage.FAILED,
            now=now,
            detail={"bids": len(bids), "minimum": proc.min_valid_bids, "reason": "投标人少于规定数量，不予开标"},
        )
        # Who bid stays secret: the failure is told by its count only (Law 22, Reg 44).
        move_lot(
            session,
            SYSTEM,
            lot,
            LotState.FAILED,
            reason=(
                f"于投标截止时收到有效投标 {len(bids)} 个，少于规定的 {proc.min_valid_bids} 个"
                f"（投标人不足{proc.min_valid_bids}家），依据《招标投标法》第二十八条、《实施条例》第四十四条不予开标"
            ),
            now=now,
            detail={"bids": len(bids), "minimum": proc.min_valid_bids},
        )
        return
    for b in bids:
        session.add(CeremonyBidder(ceremony_id=c.id, bid_id=b.id, org_id=b.org_id, outcome=Outcome.PENDING))
    session.flush()
    # From here on who bid is no longer secret: the opening names the bidders (Law 36).
    move_ceremony(
        session,
        SYSTEM,
        c,
        Stage.SIGN_IN,
        now=now,
        detail={"bids": len(bids), "ciphertext_sm3": [b.ciphertext_sm3 for b in bids]},
    )
    move_lot(session, SYSTEM, lot, LotState.OPENING, reason=None, now=now)


def waiting_for(session: Session, c: Ceremony) -> str | None:
    """Why the current stage may not end yet, whatever the clock says (None: it may)."""
    if c.stage is Stage.DECRYPTING:
        busy = session.scalar(
            select(func.count())
            .select_from(DecryptionJob)
            .join(CeremonyBidder, CeremonyBidder.id == DecryptionJob.ceremony_bidder_id)
            .where(CeremonyBidder.ceremony_id == c.id, DecryptionJob.state.in_([JobState.QUEUED, JobState.RUNNING]))
        )
        if busy:
            return f"还有 {busy} 个解密任务在处理"
    if c.stage is Stage.CONFIRMING:
        open_ = session.scalar(
            select(func.count())
            .select_from(Objection)
            .where(Objection.ceremony_id == c.id, Objection.answered_at.is_(None))
        )
        if open_:
            return f"还有 {open_} 条异议未答复"
    return None


def _advance(session: Session, c: Ceremony, actor: Actor, services: Services, now: dt.datetime) -> None:
    """The ceremony to its next stage; a failure that is not a rule's refusal is named (AdvanceFailed)."""
    try:
        _advance_to_next(session, c, actor, services, now)
    except (AdvanceFailed, OperationalError):
        raise
    except Exception as exc:
        raise AdvanceFailed(error_summary(exc)) from exc


def _advance_to_next(session: Session, c: Ceremony, actor: Actor, services: Services, now: dt.datetime) -> None:
    to = NEXT[c.stage]
    if to is Stage.BIDDERS:
        move_ceremony(session, actor, c, to, now=now, detail={"bidders": bidder_rows(session, c)})
    elif to is Stage.DECRYPTING:
        move_ceremony(session, actor, c, to, now=now)
    elif to is Stage.READING:
        _classify(session, c, now)
        move_ceremony(session, actor, c, to, now=now, detail={"table": reading_table(session, c)})
    elif to is Stage.CONFIRMING:
        publish_record(session, c, services, now, final=False)
        move_ceremony(session, actor, c, to, now=now, detail={"record_sm3": c.record_sm3})
    else:
        for seat in c.bidders:
            if seat.outcome is Outcome.DECRYPTED and seat.confirmation is None:
                seat.confirmation, seat.confirmed_at = Confirmation.DEEMED, now
        session.flush()
        publish_record(session, c, services, now, final=True)
        c.closed_at = now
        c.private_key = None  # its work is done; nobody can unwrap the released keys again
        move_lot(session, actor, lot_of(session, c), LotState.EVALUATING, reason="开标结束", now=now)
        move_ceremony(session, actor, c, to, now=now, detail={"record_sm3": c.final_record_sm3})


def _classify(session: Session, c: Ceremony, now: dt.datetime) -> None:
    """At the end of the window: every bid not decrypted is 撤销 (the bidder's doing) or 撤回
    (the platform's), from the evidence of its attempts (EB 31). The seats are read from the
    database, not from what this session may hold: a worker may have recorded a decryption since
    (the caller has seen that no job is still queued or running)."""
    seats = session.scalars(
        select(CeremonyBidder)
        .where(CeremonyBidder.ceremony_id == c.id)
        .order_by(CeremonyBidder.id)
        .execution_options(populate_existing=True)
    ).all()
    for seat in seats:
        if seat.outcome is not Outcome.PENDING:
            continue
        last = session.scalar(
            select(DecryptionJob)
            .where(DecryptionJob.ceremony_bidder_id == seat.id)
            .order_by(DecryptionJob.id.desc())
            .limit(1)
        )
        if seat.signed_in_at is None:
            seat.outcome, seat.outcome_reason = Outcome.REVOKED, "not_signed_in"
        elif last is None:
            seat.outcome, seat.outcome_reason = Outcome.REVOKED, "no_key_released"
        elif last.fault is Fault.PLATFORM:
            seat.outcome, seat.outcome_reason = Outcome.WITHDRAWN, last.error_code
        else:
            seat.outcome, seat.outcome_reason = Outcome.REVOKED, last.error_code or "no_key_released"
        record_event(
            session,
            SYSTEM,
            "ceremony.classify",
            c,
            {
                "bidder": credit_code_of(session, seat.org_id),
                "outcome": seat.outcome.value,
                "reason": seat.outcome_reason,
            },
        )
    session.flush()
