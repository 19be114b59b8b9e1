"""What bidders do in the room: sign-in and key release with their signing key, the record's
confirmation, objections (and the host's answers), and the room's chat."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from signing.certs import TrustStore
from signing.digest import sm3_hex
from signing.statements import (
    ceremony_decrypt_statement,
    ceremony_signin_statement,
    record_confirmation_statement,
)
from trading.accounts.models import Role, User
from trading.bids.models import Bid
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.opening.ceremonies import add_event, lot_of, my_seat, tender_of
from trading.opening.controls import reason_text, require_host
from trading.opening.display import credit_code_of, org_name
from trading.opening.models import (
    FINAL_STAGES,
    LIFTED,
    WORKER_CRASHED,
    Audience,
    Ceremony,
    CeremonyBidder,
    CeremonyEvent,
    Confirmation,
    DecryptionJob,
    JobState,
    Objection,
    Outcome,
    Stage,
)
from trading.pki.operations import check_signature, registered_signing_cert

MESSAGE_LIMIT = 300


OBJECTION_LIMIT = 1000


def _seat(session: Session, c: Ceremony, user: User) -> CeremonyBidder:
    seat = my_seat(session, c, user)
    if seat is None:
        raise Forbidden("贵单位在本标段没有有效投标", code="not_a_bidder")
    return seat


def _refuse(refusal: Conflict | None) -> None:
    if refusal is not None:
        raise refusal


def _verify_user_signature(session: Session, user: User, message: bytes, signature_b64: str, trust: TrustStore) -> None:
    check_signature(registered_signing_cert(session, user, trust), message, signature_b64, "开标操作")


def signin_refusal(c: Ceremony) -> Conflict | None:
    if c.stage is not Stage.SIGN_IN:
        return Conflict(f"当前为{c.stage.label}阶段，不在签到时间内", code="wrong_stage")
    return None


def sign_in(session: Session, user: User, c: Ceremony, signature_b64: str, trust: TrustStore) -> CeremonyBidder:
    """签到 with the bidder's signing key (UKey), over a statement naming this ceremony."""
    seat = _seat(session, c, user)
    _refuse(signin_refusal(c))
    if seat.signed_in_at is not None:
        return seat
    tender, lot = tender_of(session, c), lot_of(session, c)
    statement = ceremony_signin_statement(c.id, tender.code, lot.number, credit_code_of(session, seat.org_id))
    _verify_user_signature(session, user, statement, signature_b64, trust)
    seat.signed_in_at, seat.sign_in_signature = clock.now(), signature_b64
    record_event(session, user, "ceremony.sign_in", c, {"bidder": credit_code_of(session, seat.org_id)})
    add_event(session, c, "sign_in", {"bidder": org_name(session, seat.org_id), "at": seat.signed_in_at.isoformat()})
    return seat


#: Releases of one seat's key set aside as ``worker_crashed`` after which it may not release again.
MAX_SET_ASIDE = 2


def decrypt_refusal(session: Session, c: Ceremony, seat: CeremonyBidder) -> Conflict | None:
    """Why this bidder may not release its key now (None: it may)."""
    now = clock.now()
    if c.stage is not Stage.DECRYPTING or c.paused_at is not None or (c.stage_ends_at and now >= c.stage_ends_at):
        return Conflict(f"当前为{c.stage.label}阶段，不在解密时间内", code="wrong_stage")
    if seat.signed_in_at is None:
        return Conflict("未签到，不能解密", code="not_signed_in")
    if seat.outcome is Outcome.DECRYPTED:
        return Conflict("投标文件已解密", code="already_decrypted")
    if session.scalar(
        select(func.count())
        .select_from(DecryptionJob)
        .where(
            DecryptionJob.ceremony_bidder_id == seat.id, DecryptionJob.state.in_([JobState.QUEUED, JobState.RUNNING])
        )
    ):
        return Conflict("上一次解密仍在处理中", code="decryption_running")
    if held_back(session, seat):
        # each release may cost up to three worker processes (MAX_ATTEMPTS); a package that keeps
        # killing them is not run again and again while the other bidders wait for theirs
        return Conflict(
            "平台解密进程多次中断（平台原因），贵单位的密钥暂不受理，待交易中心核查后准许再次提交；"
            "可在“与主持人交流”联系主持人。解密时间结束仍未准许的，按平台原因撤回，不是贵单位的责任",
            code="decryption_set_aside",
        )
    return None


def held_back(session: Session, seat: CeremonyBidder) -> bool:
    """Whether this seat may not release its key until staff lift the hold: ``MAX_SET_ASIDE``
    releases set aside, or, once staff have lifted it (``lift_set_aside``), one more since."""
    q = select(func.count()).where(
        DecryptionJob.ceremony_bidder_id == seat.id, DecryptionJob.error_code == WORKER_CRASHED
    )
    if seat.set_aside_lifted_through is not None:
        q = q.where(DecryptionJob.id > seat.set_aside_lifted_through)
    return (session.scalar(q) or 0) >= (MAX_SET_ASIDE if seat.set_aside_lifted_through is None else 1)


def lift_refusal(session: Session, c: Ceremony, seat: CeremonyBidder) -> Conflict | None:
    """Why staff may not let this seat release its key again now (None: they may)."""
    if c.stage is not Stage.DECRYPTING:
        return Conflict(f"当前为{c.stage.label}阶段，只能在解密阶段准许再次解密", code="wrong_stage")
    ran_out = (
        c.remaining_seconds == 0
        if c.paused_at is not None
        else c.stage_ends_at is not None and clock.now() >= c.stage_ends_at
    )
    if ran_out:
        # the room waits for other bidders' jobs, but no key is taken now: a lift would promise one
        return Conflict("解密时间已结束，不能再准许提交密钥（可先延长本阶段）", code="wrong_stage")
    if seat.outcome is not Outcome.PENDING or not held_back(session, seat):
        return Conflict("该投标人的解密没有被搁置", code="not_set_aside")
    return None


def lift_set_aside(session: Session, staff: User, c: Ceremony, credit_code: str, reason: str) -> CeremonyBidder:
    """Staff, having looked into why the decryption workers died (a host out of memory, say, not
    the package), let one bidder release its key once more in the window that is left (one
    release: up to ``MAX_ATTEMPTS`` workers; set aside again, it needs another lift).
    《电子招标投标办法》第三十一条 makes a bid left undecrypted for a cause not the bidder's a
    withdrawal (撤回), for which the bidder may claim its loss: a platform fault put right within
    the window costs it nothing. Staff give the reason; it is public in the room's log, and the
    audit trail keeps it with the staff member."""
    require_host(staff)  # in a joint opening too: seats are each lot's, in the lot's own room
    seat = next((s for s in c.bidders if credit_code_of(session, s.org_id) == credit_code), None)
    if seat is None:
        raise NotFound("本标段没有该投标人", code="no_such_seat")
    _refuse(lift_refusal(session, c, seat))
    reason = reason_text(reason)
    seat.set_aside_lifted_through = session.scalar(
        select(func.max(DecryptionJob.id)).where(DecryptionJob.ceremony_bidder_id == seat.id)
    )
    record_event(session, staff, "decryption.set_aside_lift", c, {"bidder": credit_code, "reason": reason})
    name = org_name(session, seat.org_id)
    add_event(session, c, "decryption", {"bidder": name, "state": LIFTED, "note": f"准许{name}再次提交密钥：{reason}"})
    return seat


def set_aside_seats(session: Session, c: Ceremony) -> list[dict[str, Any]]:
    """The seats held back now, with their last job set aside (when, and what the sweep wrote),
    for the host's page and state (staff only)."""
    if c.stage is not Stage.DECRYPTING:
        return []
    held = []
    for s in c.bidders:
        if s.outcome is not Outcome.PENDING or not held_back(session, s):
            continue
        last = session.scalars(
            select(DecryptionJob)
            .where(DecryptionJob.ceremony_bidder_id == s.id, DecryptionJob.error_code == WORKER_CRASHED)
            .order_by(DecryptionJob.id.desc())
            .limit(1)
        ).one()
        held.append(
            {
                "credit_code": credit_code_of(session, s.org_id),
                "bidder": org_name(session, s.org_id),
                "set_aside_at": last.finished_at,
                "detail": last.error_detail,
            }
        )
    return held


def submit_decryption(
    session: Session, user: User, c: Ceremony, wrapped_key: bytes, signature_b64: str, trust: TrustStore
) -> DecryptionJob:
    """The bidder releases its bid's key, SM2-encrypted to the ceremony key; a worker decrypts."""
    seat = _seat(session, c, user)
    now = clock.now()
    _refuse(decrypt_refusal(session, c, seat))
    if not 97 <= len(wrapped_key) <= 200:
        raise InvalidInput("密钥密文长度不对", code="bad_wrapped_key")
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


def confirm_refusal(c: Ceremony, seat: CeremonyBidder) -> Conflict | None:
    if c.stage is not Stage.CONFIRMING:
        return Conflict(f"当前为{c.stage.label}阶段，不在确认时间内", code="wrong_stage")
    if seat.outcome is not Outcome.DECRYPTED:
        return Conflict("贵单位投标文件未解密，无需确认开标记录", code="not_opened")
    if seat.confirmation is not None:
        return Conflict("已确认开标记录", code="already_confirmed")
    return None


def confirm_record(session: Session, user: User, c: Ceremony, signature_b64: str, trust: TrustStore) -> CeremonyBidder:
    seat = _seat(session, c, user)
    _refuse(confirm_refusal(c, seat))
    assert c.record_sm3 is not None
    bidder = credit_code_of(session, seat.org_id)
    _verify_user_signature(
        session, user, record_confirmation_statement(c.id, bidder, c.record_sm3), signature_b64, trust
    )
    seat.confirmation, seat.confirmed_at, seat.confirmation_signature = Confirmation.SIGNED, clock.now(), signature_b64
    record_event(session, user, "ceremony.confirm", c, {"bidder": bidder, "record_sm3": c.record_sm3})
    add_event(session, c, "confirmation", {"bidder": org_name(session, seat.org_id)})
    return seat


def objection_refusal(c: Ceremony) -> Conflict | None:
    """异议 may be raised from the bidder list until the record is closed (Reg 44)."""
    if c.stage not in (Stage.BIDDERS, Stage.DECRYPTING, Stage.READING, Stage.CONFIRMING):
        return Conflict(f"当前为{c.stage.label}阶段，不能提出异议", code="wrong_stage")
    return None


def bidder_refusals(session: Session, c: Ceremony, seat: CeremonyBidder) -> dict[str, str | None]:
    """Each of the bidder's room actions' refusal now (None: allowed), from the rules the actions
    apply: what the room page shows beside a disabled button."""
    refusals = {
        "signin": Conflict("贵单位已签到", code="signed_in") if seat.signed_in_at else signin_refusal(c),
        "decrypt": decrypt_refusal(session, c, seat),
        "confirm": confirm_refusal(c, seat),
        "object": objection_refusal(c),
    }
    return {action: r.message if r is not None else None for action, r in refusals.items()}


def raise_objection(session: Session, user: User, c: Ceremony, text: str) -> Objection:
    """异议 during the ceremony (Reg 44), from the bidder list until the record is closed."""
    seat = _seat(session, c, user)
    _refuse(objection_refusal(c))
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
