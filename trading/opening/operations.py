"""The opening ceremony's rules: stages and windows, sign-in, key release, classification, the
record's confirmation and objections.

Every stage change goes through ``_transition``, which writes the audit event and the live-room
event in the caller's transaction. Deadlines are enforced by ``ensure_current`` on every request
and by the scheduler's sweep, so a missed job changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor, record_event, write_pending
from archive.db import locked
from archive.transparency import request_checkpoint
from bidding.guarantees.operations import bond_status
from bidding.models import Bid, BidState
from signing.certs import TrustStore
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import (
    ceremony_decrypt_statement,
    ceremony_signin_statement,
    record_confirmation_statement,
)
from trading.accounts.models import Organisation, Role, User
from trading.config import Settings
from trading.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.opening.ceremony_key import seal_ceremony_key
from trading.opening.models import (
    FINAL_STAGES,
    Audience,
    Ceremony,
    CeremonyBidder,
    CeremonyEvent,
    Confirmation,
    DecryptionJob,
    Fault,
    JobState,
    Objection,
    Outcome,
    Stage,
)
from trading.permissions import Permission, has
from trading.pki.operations import check_signature, registered_signing_cert
from trading.procedures.operations import get_procedure
from trading.scheduler import RETRY_CAP, Failures, each_apart, error_summary, failures
from trading.services import Services
from trading.tenders.lifecycle import move_lot
from trading.tenders.models import Lot, LotState, Tender, TenderState

log = logging.getLogger("ggzy.opening")
#: Stages whose windows are fixed here rather than by the procedure (staff usually move on sooner).
BIDDERS_MINUTES = 5
READING_MINUTES = 10
MESSAGE_LIMIT = 300
OBJECTION_LIMIT = 1000
#: Moments after which a signed checkpoint is published (full trace: provable years later).
DECISIVE = {
    Stage.READING: "decryption_window_end",
    Stage.CONFIRMING: "opening_record",
    Stage.CLOSED: "opening_record_final",
    Stage.FAILED: "lot_failed",
    Stage.CANCELLED: "tender_terminated",
}
NEXT = {
    Stage.SIGN_IN: Stage.BIDDERS,
    Stage.BIDDERS: Stage.DECRYPTING,
    Stage.DECRYPTING: Stage.READING,
    Stage.READING: Stage.CONFIRMING,
    Stage.CONFIRMING: Stage.CLOSED,
}


# ---------------------------------------------------------------- creation and loading
def create_ceremonies(session: Session, tender: Tender, settings: Settings) -> list[Ceremony]:
    """One ceremony per lot, made when the tender is published; each gets its own SM2 key pair,
    whose private half is stored wrapped with the platform's KEK (``ceremony_key``), which
    ``settings`` locate."""
    proc = get_procedure(session, tender.procedure_code)
    windows = {
        Stage.SIGN_IN.value: proc.sign_in_minutes,
        Stage.BIDDERS.value: BIDDERS_MINUTES,
        Stage.DECRYPTING.value: proc.decryption_window_minutes,
        Stage.READING.value: READING_MINUTES,
        Stage.CONFIRMING.value: proc.confirmation_minutes,
    }
    made = []
    have = set(session.scalars(select(Ceremony.lot_id).where(Ceremony.tender_id == tender.id)))
    now = clock.now()
    for lot in tender.lots:
        if lot.id in have:
            continue
        key = PrivateKey.generate()
        c = Ceremony(
            tender_id=tender.id,
            lot_id=lot.id,
            stage=Stage.SCHEDULED,
            stage_started_at=now,
            stage_ends_at=tender.bid_deadline,
            windows=windows,
            public_key=key.public_key.point,
        )
        session.add(c)
        session.flush()
        c.private_key = seal_ceremony_key(settings, c.id, key)  # bound to its id, known from the flush
        record_event(
            session,
            SYSTEM,
            "ceremony.create",
            c,
            {"tender": tender.code, "lot": lot.number, "public_key": key.public_key.point.hex(), "windows": windows},
        )
        made.append(c)
    return made


def get_ceremony(session: Session, ceremony_id: int, *, for_update: bool = False) -> Ceremony:
    q = select(Ceremony).where(Ceremony.id == ceremony_id)
    if for_update:
        q = locked(q)
    c = session.scalar(q)
    if c is None:
        raise NotFound(f"开标室 {ceremony_id} 不存在")
    return c


def tender_of(session: Session, c: Ceremony) -> Tender:
    t = session.get(Tender, c.tender_id)
    assert t is not None
    return t


def lot_of(session: Session, c: Ceremony) -> Lot:
    lot = session.get(Lot, c.lot_id)
    assert lot is not None
    return lot


def ceremonies_of(session: Session, tender: Tender) -> list[Ceremony]:
    return list(session.scalars(select(Ceremony).where(Ceremony.tender_id == tender.id).order_by(Ceremony.id)))


def my_seat(session: Session, c: Ceremony, user: User | None) -> CeremonyBidder | None:
    """The caller's bidder row, once the ceremony has opened (before it, nobody has a seat)."""
    if user is None or user.organisation_id is None or Role.BIDDER not in user.roles:
        return None
    return session.scalar(
        select(CeremonyBidder).where(CeremonyBidder.ceremony_id == c.id, CeremonyBidder.org_id == user.organisation_id)
    )


def viewer_scope(session: Session, c: Ceremony, user: User | None) -> tuple[bool, int | None]:
    """(sees every event, the bidder whose own events it sees) for the live room."""
    if has(user, Permission.TENDER_READ_ALL):
        return True, None
    seat = my_seat(session, c, user)
    return False, seat.org_id if seat else None


def bid_of(session: Session, seat: CeremonyBidder) -> Bid:
    bid = session.get(Bid, seat.bid_id)
    assert bid is not None
    return bid


def last_attempt(session: Session, seat: CeremonyBidder) -> dict[str, Any] | None:
    """The bidder's own view of its latest decryption attempt (state, and why it failed)."""
    job = session.scalar(
        select(DecryptionJob)
        .where(DecryptionJob.ceremony_bidder_id == seat.id)
        .order_by(DecryptionJob.id.desc())
        .limit(1)
    )
    if job is None:
        return None
    return {"state": job.state.value, "fault": job.fault.value if job.fault else None, "code": job.error_code}


def _seat(session: Session, c: Ceremony, user: User) -> CeremonyBidder:
    seat = my_seat(session, c, user)
    if seat is None:
        raise Forbidden("贵单位在本标段没有有效投标", code="not_a_bidder")
    return seat


# ---------------------------------------------------------------- events
def add_event(
    session: Session,
    c: Ceremony,
    kind: str,
    payload: dict[str, Any],
    audience: Audience = Audience.PUBLIC,
    org_id: int | None = None,
) -> CeremonyEvent:
    ev = CeremonyEvent(
        ceremony_id=c.id, kind=kind, audience=audience, org_id=org_id, payload=payload, created_at=clock.now()
    )
    session.add(ev)
    session.flush()
    return ev


def _stage_payload(c: Ceremony) -> dict[str, Any]:
    return {
        "stage": c.stage.value,
        "label": c.stage.label,
        "started_at": c.stage_started_at.isoformat(),
        "ends_at": c.stage_ends_at.isoformat() if c.stage_ends_at else None,
        "paused": c.paused_at is not None,
        "remaining_seconds": c.remaining_seconds,
    }


def _transition(
    session: Session, c: Ceremony, to: Stage, actor: Actor, now: dt.datetime, payload: dict[str, Any] | None = None
) -> None:
    before = c.stage
    c.stage, c.stage_started_at = to, now
    c.stage_ends_at = None if to in FINAL_STAGES else now + c.window(to)
    c.paused_at, c.remaining_seconds = None, None
    body = {"from": before.value, "to": to.value, **(payload or {})}
    record_event(session, actor, f"ceremony.{to.value}", c, body)
    add_event(session, c, "stage", _stage_payload(c) | (payload or {}))
    if to in DECISIVE:
        request_checkpoint(session, DECISIVE[to], f"ceremony:{c.id}")


# ---------------------------------------------------------------- time
class AdvanceFailed(Conflict):
    """A stage change that failed for a reason of ours (its record could not be built, the store
    did not answer): the ceremony stays where it was, and staff are told by name. The message is
    for staff (which lot, which audit event); the error class is a detail for technical support,
    and its text stays in the audit event and the log."""

    code = "advance_failed"

    def __init__(self, info: dict[str, Any]) -> None:
        lot = f"第 {info['lot']} 标段" if info.get("lot") else ""
        seq = f"，已记录为审计事件 #{info['seq']}" if info.get("seq") else ""
        super().__init__(f"开标室{lot}未能进入下一阶段（系统内部错误{seq}）；请联系平台技术支持处理后再试")
        self.info = info

    @property
    def error(self) -> str:
        return str(self.info.get("error", ""))

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["error"]["detail"] = {"error": self.error, "lot": self.info.get("lot"), "seq": self.info.get("seq")}
        return body


def advance_failures(session: Session, c: Ceremony) -> Failures:
    """The failed attempts to move the ceremony on from its current stage (a stage only moves
    forward, so they are the failure events since it began that name it)."""
    return failures(session, "ceremony.advance_failed", c.audit_ref, c.stage_started_at, stage=c.stage.value)


def _record_failure(
    session: Session, c: Ceremony, actor: Actor, exc: BaseException, group: list[int] | None = None
) -> dict[str, Any]:
    """After the failed step was undone: an audit event (the count of failures is read back from
    them), a line in the log, and a note in the room for staff. Returns what staff are told."""
    info = exc.info if isinstance(exc, AdvanceFailed) else error_summary(exc)
    count = advance_failures(session, c).count + 1
    cause = exc.__cause__ if isinstance(exc, AdvanceFailed) and exc.__cause__ is not None else exc
    lot = lot_of(session, c).number
    log.error(
        "ceremony %s (lot %s) could not leave %s (failure %s of %s)",
        c.id,
        lot,
        c.stage.value,
        count,
        RETRY_CAP,
        exc_info=cause,
    )
    payload: dict[str, Any] = {
        "stage": c.stage.value,
        "error": info["error"],
        "message": info["message"],
        "lot": lot,
        "failures": count,
        "gave_up": count >= RETRY_CAP,
    }
    if group:
        payload["joint_lots"] = group  # 合并开标: none of these lots moved
    seq = record_event(session, actor, "ceremony.advance_failed", c, payload)
    add_event(session, c, "advance_failed", payload | {"seq": seq}, Audience.STAFF)
    return payload | {"seq": seq}


def _group_step(
    session: Session, actor: Actor, moves: list[tuple[Ceremony, Callable[[], None]]]
) -> dict[str, Any] | None:
    """Stage changes that stand or fall together, in one savepoint: all done (None), or all undone
    and the failing lot's failure recorded (what staff are told). One lot's step is the group of
    one; the lots of a 合并开标 are one group, so their prices are published together or not at all."""
    write_pending(session)  # appends made before the savepoint must not be dropped with it
    failed: list[Ceremony] = []
    try:
        with session.begin_nested():
            for c, move in moves:
                failed[:] = [c]
                move()
        return None
    except OperationalError:
        raise  # contention: the request answers busy_retry, the sweep tries again
    except Exception as exc:  # the rules were checked before: this is ours, and must stop no one else
        group = [lot_of(session, c).number for c, _ in moves] if len(moves) > 1 else None
        return _record_failure(session, failed[0] if failed else moves[0][0], actor, exc, group)


def _step(session: Session, c: Ceremony, actor: Actor, move: Callable[[], None]) -> bool:
    """One stage change in a savepoint of its own: done, or undone alone and recorded (False)."""
    return _group_step(session, actor, [(c, move)]) is None


def ensure_current(session: Session, c: Ceremony, services: Services, now: dt.datetime | None = None) -> Ceremony:
    """Bring the ceremony up to ``now``: open it at the deadline, close windows that have run out.
    A step that fails is undone and recorded (``_step``); it is tried again after a pause, and after
    RETRY_CAP failures only by staff's own advance. The lots of a 合并开标 move together
    (``ensure_joint_current``)."""
    from trading.tenders.operations import close_bidding

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
            if not _step(session, c, SYSTEM, lambda: _open(session, c, tender, now)):
                return c
    for _ in range(len(NEXT)):
        if c.stage in FINAL_STAGES or c.paused_at is not None or c.stage_ends_at is None or now < c.stage_ends_at:
            break
        if _waiting_for(session, c) is not None:
            break  # e.g. decryptions submitted in time still running: the window closes after them
        if not advance_failures(session, c).retry_due(now):
            break
        if not _step(session, c, SYSTEM, lambda: _advance(session, c, SYSTEM, services, now)):
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
    from trading.tenders.operations import close_bidding

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
        if _group_step(session, SYSTEM, opens) is not None:
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
        if any(_waiting_for(session, c) is not None for c in group):
            break  # e.g. decryptions submitted in time still running: every window closes after them
        if not all(advance_failures(session, c).retry_due(now) for c in group):
            break
        moves = [(c, _advancer(session, c, SYSTEM, services, now)) for c in group]
        if _group_step(session, SYSTEM, moves) is not None:
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
    failure = _group_step(session, actor, moves)
    if failure is not None:
        raise AdvanceFailed(failure)


def due(session: Session, now: dt.datetime) -> list[int]:
    """The ceremonies whose window has run out (ids, read without a lock)."""
    return list(
        session.scalars(
            select(Ceremony.id)
            .where(
                Ceremony.stage.not_in([s.value for s in FINAL_STAGES]),
                Ceremony.paused_at.is_(None),
                Ceremony.stage_ends_at <= now,
            )
            .order_by(Ceremony.id)
        )
    )


def catch_up(session: Session, ids: list[int], services: Services, now: dt.datetime) -> int:
    """The scheduler's move of one room, or of every lot of a 合并开标 at once (how many rooms
    changed stage). Rooms a request holds are skipped (a group if any of its lots is held): that
    request brings them up to now, or the next sweep does."""
    rooms = list(
        session.scalars(locked(select(Ceremony).where(Ceremony.id.in_(ids)).order_by(Ceremony.id), skip_locked=True))
    )
    if len(rooms) < len(ids):
        return 0
    before = {c.id: c.stage for c in rooms}
    ensure_current(session, rooms[0], services, now)
    return sum(c.stage is not before[c.id] for c in rooms)


def sweep_items(session: Session, ids: list[int]) -> list[list[int]]:
    """What the sweep moves, each in a transaction of its own: a room, or all the lots of a
    合并开标 with a room among ``ids`` (one item, so that they never move apart)."""
    items: list[list[int]] = []
    seen: set[int] = set()
    for cid in ids:
        tender = tender_of(session, get_ceremony(session, cid))
        if not tender.joint_opening:
            items.append([cid])
        elif tender.id not in seen:
            seen.add(tender.id)
            items.append([other.id for other in ceremonies_of(session, tender)])
    return items


def sweep(session: Session, now: dt.datetime, services: Services) -> int:
    """The scheduler's job: every ceremony whose window has run out, each in a transaction of its
    own (committed as it goes), so that one room that cannot move never holds up another; the lots
    of a 合并开标 are one item, all or none."""
    items = sweep_items(session, due(session, now))
    return each_apart(session, items, lambda ids: catch_up(session, ids, services, now), "ceremonies")


def _cancel(session: Session, c: Ceremony, now: dt.datetime) -> None:
    c.private_key = None
    move_lot(session, SYSTEM, lot_of(session, c), LotState.TERMINATED, reason="招标项目已终止", now=now)
    _transition(session, c, Stage.CANCELLED, SYSTEM, now, {"reason": "招标项目已终止"})


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
        _transition(
            session,
            c,
            Stage.FAILED,
            SYSTEM,
            now,
            {"bids": len(bids), "minimum": proc.min_valid_bids, "reason": "投标人少于规定数量，不予开标"},
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
    _transition(
        session,
        c,
        Stage.SIGN_IN,
        SYSTEM,
        now,
        {"bids": len(bids), "ciphertext_sm3": [b.ciphertext_sm3 for b in bids]},
    )


def _waiting_for(session: Session, c: Ceremony) -> str | None:
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


def _early_block(session: Session, c: Ceremony) -> str | None:
    """Why staff may not end the current window before its time (None: they may)."""
    seats = c.bidders
    if c.stage is Stage.SIGN_IN and any(s.signed_in_at is None for s in seats):
        return "尚有投标人未签到，签到时间未到不能提前结束"
    if c.stage is Stage.DECRYPTING and any(s.outcome is Outcome.PENDING for s in seats):
        return "尚有投标文件未解密，解密时间未到不能提前结束"
    if c.stage is Stage.CONFIRMING and any(s.confirmation is None for s in seats if s.outcome is Outcome.DECRYPTED):
        return "尚有投标人未确认开标记录，确认时间未到不能提前结束"
    return _waiting_for(session, c)


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
        _transition(session, c, to, actor, now, {"bidders": bidder_rows(session, c)})
    elif to is Stage.DECRYPTING:
        _transition(session, c, to, actor, now)
    elif to is Stage.READING:
        _classify(session, c, now)
        _transition(session, c, to, actor, now, {"table": reading_table(session, c)})
    elif to is Stage.CONFIRMING:
        from trading.opening.record import publish_record

        publish_record(session, c, services, now, final=False)
        _transition(session, c, to, actor, now, {"record_sm3": c.record_sm3})
    else:
        from trading.opening.record import publish_record

        for seat in c.bidders:
            if seat.outcome is Outcome.DECRYPTED and seat.confirmation is None:
                seat.confirmation, seat.confirmed_at = Confirmation.DEEMED, now
        session.flush()
        publish_record(session, c, services, now, final=True)
        c.closed_at = now
        c.private_key = None  # its work is done; nobody can unwrap the released keys again
        move_lot(session, actor, lot_of(session, c), LotState.EVALUATING, reason="开标结束", now=now)
        _transition(session, c, to, actor, now, {"record_sm3": c.final_record_sm3})


# ---------------------------------------------------------------- staff controls
def require_host(user: User) -> None:
    if Role.STAFF not in user.roles:
        raise Forbidden("只有交易中心工作人员可以主持开标")


def _require_running(c: Ceremony) -> None:
    if c.stage in FINAL_STAGES or c.stage is Stage.SCHEDULED:
        raise Conflict(f"开标{c.stage.label}，不能操作", code="wrong_stage")


def _require_separate(session: Session, c: Ceremony) -> None:
    if tender_of(session, c).joint_opening:
        raise Conflict("本项目各标段合并开标，请在合并开标室操作", code="joint_opening")


def check_advance(session: Session, c: Ceremony) -> None:
    """Why staff may not end this lot's window now (raises), where nobody would lose a right by it."""
    _require_running(c)
    if c.paused_at is not None:
        raise Conflict("开标已暂停，请先继续", code="paused")
    # a window that has run out and still stands failed to close by itself: only what holds every
    # window (decryptions running, objections unanswered) holds staff's own try
    overdue = c.stage_ends_at is not None and clock.now() >= c.stage_ends_at
    reason = _waiting_for(session, c) if overdue else _early_block(session, c)
    if reason is not None:
        raise Conflict(reason, code="stage_not_done")


def advance(session: Session, staff: User, c: Ceremony, services: Services) -> None:
    """Staff end the current window early (进入下一阶段)."""
    require_host(staff)
    _require_separate(session, c)
    check_advance(session, c)
    advance_together(session, staff, [c], services, clock.now())


def check_pause(c: Ceremony) -> None:
    _require_running(c)
    if c.paused_at is not None:
        raise Conflict("已经暂停", code="paused")


def do_pause(session: Session, staff: User, c: Ceremony, reason: str, now: dt.datetime) -> None:
    assert c.stage_ends_at is not None
    c.remaining_seconds = max(0, int((c.stage_ends_at - now).total_seconds()))
    c.paused_at, c.stage_ends_at = now, None
    record_event(
        session,
        staff,
        "ceremony.pause",
        c,
        {"stage": c.stage.value, "remaining": c.remaining_seconds, "reason": reason},
    )
    add_event(session, c, "stage", _stage_payload(c) | {"note": f"暂停：{reason}"})


def pause(session: Session, staff: User, c: Ceremony, reason: str) -> None:
    require_host(staff)
    _require_separate(session, c)
    check_pause(c)
    do_pause(session, staff, c, reason_text(reason), clock.now())


def check_resume(c: Ceremony) -> None:
    _require_running(c)
    if c.paused_at is None or c.remaining_seconds is None:
        raise Conflict("没有暂停", code="not_paused")


def do_resume(session: Session, staff: User, c: Ceremony, now: dt.datetime) -> None:
    assert c.remaining_seconds is not None
    c.stage_ends_at = now + dt.timedelta(seconds=c.remaining_seconds)
    c.paused_at, c.remaining_seconds = None, None
    record_event(session, staff, "ceremony.resume", c, {"stage": c.stage.value, "ends_at": c.stage_ends_at.isoformat()})
    add_event(session, c, "stage", _stage_payload(c) | {"note": "继续"})


def resume(session: Session, staff: User, c: Ceremony) -> None:
    require_host(staff)
    _require_separate(session, c)
    check_resume(c)
    do_resume(session, staff, c, clock.now())


def check_extend(c: Ceremony, minutes: int) -> None:
    _require_running(c)
    if not 1 <= minutes <= 240:
        raise InvalidInput("延长时间应为 1–240 分钟", fields={"minutes": "1–240"})


def do_extend(session: Session, staff: User, c: Ceremony, minutes: int, reason: str) -> None:
    if c.paused_at is not None:
        assert c.remaining_seconds is not None
        c.remaining_seconds += minutes * 60
    else:
        assert c.stage_ends_at is not None
        c.stage_ends_at += dt.timedelta(minutes=minutes)
    record_event(session, staff, "ceremony.extend", c, {"stage": c.stage.value, "minutes": minutes, "reason": reason})
    add_event(session, c, "stage", _stage_payload(c) | {"note": f"延长 {minutes} 分钟：{reason}"})


def extend(session: Session, staff: User, c: Ceremony, minutes: int, reason: str) -> None:
    require_host(staff)
    _require_separate(session, c)
    check_extend(c, minutes)
    do_extend(session, staff, c, minutes, reason_text(reason))


def reason_text(text: str) -> str:
    text = (text or "").strip()
    if not 2 <= len(text) <= 500:
        raise InvalidInput("请填写原因（2–500 字）", fields={"reason": "2–500 字"})
    return text


# ---------------------------------------------------------------- bidders
def _verify_user_signature(session: Session, user: User, message: bytes, signature_b64: str, trust: TrustStore) -> None:
    check_signature(registered_signing_cert(session, user, trust), message, signature_b64, "开标操作")


def credit_code_of(session: Session, org_id: int) -> str:
    org = session.get(Organisation, org_id)
    assert org is not None and org.credit_code is not None
    return org.credit_code


def sign_in(session: Session, user: User, c: Ceremony, signature_b64: str, trust: TrustStore) -> CeremonyBidder:
    """签到 with the bidder's signing key (UKey), over a statement naming this ceremony."""
    seat = _seat(session, c, user)
    if c.stage is not Stage.SIGN_IN:
        raise Conflict(f"当前为{c.stage.label}阶段，不在签到时间内", code="wrong_stage")
    if seat.signed_in_at is not None:
        return seat
    tender, lot = tender_of(session, c), lot_of(session, c)
    statement = ceremony_signin_statement(c.id, tender.code, lot.number, credit_code_of(session, seat.org_id))
    _verify_user_signature(session, user, statement, signature_b64, trust)
    seat.signed_in_at, seat.sign_in_signature = clock.now(), signature_b64
    record_event(session, user, "ceremony.sign_in", c, {"bidder": credit_code_of(session, seat.org_id)})
    add_event(session, c, "sign_in", {"bidder": org_name(session, seat.org_id), "at": seat.signed_in_at.isoformat()})
    return seat


def submit_decryption(
    session: Session, user: User, c: Ceremony, wrapped_key: bytes, signature_b64: str, trust: TrustStore
) -> DecryptionJob:
    """The bidder releases its bid's key, SM2-encrypted to the ceremony key; a worker decrypts."""
    seat = _seat(session, c, user)
    now = clock.now()
    if c.stage is not Stage.DECRYPTING or c.paused_at is not None or (c.stage_ends_at and now >= c.stage_ends_at):
        raise Conflict(f"当前为{c.stage.label}阶段，不在解密时间内", code="wrong_stage")
    if seat.signed_in_at is None:
        raise Conflict("未签到，不能解密", code="not_signed_in")
    if seat.outcome is Outcome.DECRYPTED:
        raise Conflict("投标文件已解密", code="already_decrypted")
    if not 97 <= len(wrapped_key) <= 200:
        raise InvalidInput("密钥密文长度不对", code="bad_wrapped_key")
    if session.scalar(
        select(func.count())
        .select_from(DecryptionJob)
        .where(
            DecryptionJob.ceremony_bidder_id == seat.id, DecryptionJob.state.in_([JobState.QUEUED, JobState.RUNNING])
        )
    ):
        raise Conflict("上一次解密仍在处理中", code="decryption_running")
    bid = session.get(Bid, seat.bid_id)
    assert bid is not None
    bidder = credit_code_of(session, seat.org_id)
    statement = ceremony_decrypt_statement(c.id, bidder, bid.ciphertext_sm3, sm3_hex(wrapped_key))
    _verify_user_signature(session, user, statement, signature_b64, trust)
    job = DecryptionJob(
        ceremony_bidder_id=seat.id,
        state=JobState.QUEUED,
        wrapped_key=wrapped_key,
        signature=signature_b64,
        created_at=now,
    )
    session.add(job)
    session.flush()
    record_event(
        session,
        user,
        "ceremony.key_release",
        c,
        {"bidder": bidder, "job": job.id, "wrapped_key_sm3": sm3_hex(wrapped_key)},
    )
    add_event(session, c, "decryption", {"bidder": org_name(session, seat.org_id), "state": "queued"})
    return job


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


def confirm_record(session: Session, user: User, c: Ceremony, signature_b64: str, trust: TrustStore) -> CeremonyBidder:
    seat = _seat(session, c, user)
    if c.stage is not Stage.CONFIRMING:
        raise Conflict(f"当前为{c.stage.label}阶段，不在确认时间内", code="wrong_stage")
    if seat.outcome is not Outcome.DECRYPTED:
        raise Conflict("贵单位投标文件未解密，无需确认开标记录", code="not_opened")
    if seat.confirmation is not None:
        raise Conflict("已确认开标记录", code="already_confirmed")
    assert c.record_sm3 is not None
    bidder = credit_code_of(session, seat.org_id)
    _verify_user_signature(
        session, user, record_confirmation_statement(c.id, bidder, c.record_sm3), signature_b64, trust
    )
    seat.confirmation, seat.confirmed_at, seat.confirmation_signature = Confirmation.SIGNED, clock.now(), signature_b64
    record_event(session, user, "ceremony.confirm", c, {"bidder": bidder, "record_sm3": c.record_sm3})
    add_event(session, c, "confirmation", {"bidder": org_name(session, seat.org_id)})
    return seat


def raise_objection(session: Session, user: User, c: Ceremony, text: str) -> Objection:
    """异议 during the ceremony (Reg 44), from the bidder list until the record is closed."""
    seat = _seat(session, c, user)
    if c.stage not in (Stage.BIDDERS, Stage.DECRYPTING, Stage.READING, Stage.CONFIRMING):
        raise Conflict(f"当前为{c.stage.label}阶段，不能提出异议", code="wrong_stage")
    text = (text or "").strip()
    if not 2 <= len(text) <= OBJECTION_LIMIT:
        raise InvalidInput(f"异议内容应为 2–{OBJECTION_LIMIT} 字", fields={"text": f"2–{OBJECTION_LIMIT} 字"})
    obj = Objection(ceremony_id=c.id, org_id=seat.org_id, user_id=user.id, text=text, created_at=clock.now())
    session.add(obj)
    session.flush()
    record_event(
        session,
        user,
        "ceremony.objection",
        c,
        {"objection": obj.id, "bidder": credit_code_of(session, seat.org_id), "text": text},
    )
    add_event(
        session, c, "objection", {"id": obj.id, "bidder": org_name(session, seat.org_id), "text": text}, Audience.ROOM
    )
    return obj


def answer_objection(session: Session, staff: User, c: Ceremony, objection_id: int, answer: str) -> Objection:
    require_host(staff)
    obj = session.get(Objection, objection_id)
    if obj is None or obj.ceremony_id != c.id:
        raise NotFound("异议不存在")
    if obj.answered_at is not None:
        raise Conflict("该异议已答复", code="already_answered")
    if c.stage in FINAL_STAGES:
        raise Conflict("开标已结束", code="wrong_stage")
    answer = (answer or "").strip()
    if not 2 <= len(answer) <= OBJECTION_LIMIT:
        raise InvalidInput(f"答复内容应为 2–{OBJECTION_LIMIT} 字", fields={"answer": f"2–{OBJECTION_LIMIT} 字"})
    obj.answer, obj.answered_by_user_id, obj.answered_at = answer, staff.id, clock.now()
    record_event(session, staff, "ceremony.objection_answer", c, {"objection": obj.id, "answer": answer})
    add_event(session, c, "objection_answer", {"id": obj.id, "answer": answer}, Audience.ROOM)
    return obj


def post_message(session: Session, user: User, c: Ceremony, text: str) -> CeremonyEvent:
    """The room's chat: bidders write to the host (only the host sees it); the host writes to all."""
    text = (text or "").strip()
    if not 1 <= len(text) <= MESSAGE_LIMIT:
        raise InvalidInput(f"消息应为 1–{MESSAGE_LIMIT} 字", fields={"text": f"1–{MESSAGE_LIMIT} 字"})
    if c.stage in FINAL_STAGES or c.stage is Stage.SCHEDULED:
        raise Conflict("开标室未开放", code="wrong_stage")
    if Role.STAFF in user.roles:
        ev = add_event(session, c, "chat", {"from": "主持人", "text": text}, Audience.ROOM)
    else:
        seat = _seat(session, c, user)
        name = org_name(session, seat.org_id)
        ev = add_event(session, c, "chat", {"from": name, "text": text}, Audience.BIDDER, seat.org_id)
    record_event(session, user, "ceremony.message", c, {"event": ev.id, "text_sm3": sm3_hex(text.encode())})
    return ev


# ---------------------------------------------------------------- what the room shows
def org_name(session: Session, org_id: int) -> str:
    org = session.get(Organisation, org_id)
    return org.name if org else str(org_id)


def bidder_rows(session: Session, c: Ceremony) -> list[dict[str, Any]]:
    return [
        {"bidder": org_name(session, s.org_id), "signed_in": s.signed_in_at is not None, "outcome": s.outcome.label}
        for s in c.bidders
    ]


def reading_table(session: Session, c: Ceremony) -> list[dict[str, Any]]:
    """唱标: every bidder and its price sheet, published at once when the window closes."""
    rows = []
    for s in c.bidders:
        sheet = s.price_sheet or {}
        rows.append(
            {
                "bidder": org_name(session, s.org_id),
                "credit_code": credit_code_of(session, s.org_id),
                "outcome": s.outcome.value,
                "outcome_label": s.outcome.label,
                "reason": s.outcome_reason,
                "price": sheet.get("price"),
                "fields": sheet.get("fields", {}),
                "bond": bond_status(session, c.lot_id, s.org_id)["label"],  # 保证金, from the e-guarantee module
            }
        )
    return rows


def counts(c: Ceremony) -> dict[str, int]:
    out = {o.value: 0 for o in Outcome}
    for s in c.bidders:
        out[s.outcome.value] += 1
    return out


# ---------------------------------------------------------------- the deadline commitment
def deadline_commitment(session: Session, tender: Tender) -> dict[str, Any] | None:
    """After the deadline: the signed checkpoint taken at it, and each accepted bid's commitment
    (ciphertext SM3, SM3 of the receipt) with its event's inclusion proof, so that every bidder can
    prove its bid was in the set that was opened."""
    from archive.audit import AuditEvent
    from archive.transparency import inclusion_proof, signed_checkpoints

    if tender.closed_at is None:
        return None
    cps = [c for c in signed_checkpoints(session, f"tender:{tender.code}") if c.reason == "bid_deadline"]
    if not cps:
        return None
    cp = cps[0]
    bids = session.scalars(
        select(Bid).where(Bid.tender_id == tender.id, Bid.status == BidState.ACCEPTED).order_by(Bid.received_at)
    ).all()
    out = []
    for b in bids:
        commitment = b.commitment
        seq = session.scalar(
            select(AuditEvent.seq).where(AuditEvent.action == "bid.submit", AuditEvent.object_id == commitment[:32])
        )
        proof = inclusion_proof(session, seq, cp.tree_size) if seq is not None and seq <= cp.tree_size else []
        out.append(
            {
                "ciphertext_sm3": b.ciphertext_sm3,
                "commitment": commitment,
                "seq": seq,
                "inclusion_proof": [h.hex() for h in proof],
            }
        )
    return {
        "checkpoint": {
            "id": cp.id,
            "tree_size": cp.tree_size,
            "root_sm3": cp.root.hex(),
            "signed_at": cp.signed_at.isoformat(),
            "statement": cp.statement,
        },
        "bids": out,
    }
