"""The host's controls: ending a window early, pausing, resuming and extending it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import Role, User
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.schemas import checked_text
from trading.core.services import Services
from trading.opening.ceremonies import add_event, tender_of
from trading.opening.lifecycle import stage_payload
from trading.opening.models import (
    FINAL_STAGES,
    Ceremony,
    Outcome,
    Stage,
)
from trading.opening.stages import advance_together, waiting_for


def _early_block(session: Session, c: Ceremony) -> str | None:
    """Why staff may not end the current window before its time (None: they may)."""
    seats = c.bidders
    if c.stage is Stage.SIGN_IN and any(s.signed_in_at is None for s in seats):
        return "尚有投标人未签到，签到时间未到不能提前结束"
    if c.stage is Stage.DECRYPTING and any(s.outcome is Outcome.PENDING for s in seats):
        return "尚有投标文件未解密，解密时间未到不能提前结束"
    if c.stage is Stage.CONFIRMING and any(s.confirmation is None for s in seats if s.outcome is Outcome.DECRYPTED):
        return "尚有投标人未确认开标记录，确认时间未到不能提前结束"
    return waiting_for(session, c)


def require_host(user: User) -> None:
    if Role.STAFF not in user.roles:
        raise Forbidden("只有交易中心工作人员可以主持开标")


def running_refusal(c: Ceremony) -> Conflict | None:
    """Why no control applies to the room now: it has not opened, or it has ended."""
    if c.stage is Stage.SCHEDULED:
        return Conflict("投标截止时间未到，开标尚未开始", code="wrong_stage")
    if c.stage in FINAL_STAGES:
        return Conflict(f"本标段{c.stage.label}，不能再操作", code="wrong_stage")
    return None


def _refuse(refusal: Conflict | None) -> None:
    if refusal is not None:
        raise refusal


def _require_separate(session: Session, c: Ceremony) -> None:
    if tender_of(session, c).joint_opening:
        raise Conflict("本项目各标段合并开标，请在合并开标室操作", code="joint_opening")


def advance_refusal(session: Session, c: Ceremony) -> Conflict | None:
    """Why staff may not end this lot's window now (None: they may), where nobody would lose a
    right by it. The room page disables 进入下一阶段 with this reason; ``check_advance`` raises it."""
    refusal = running_refusal(c)
    if refusal is not None:
        return refusal
    if c.paused_at is not None:
        return Conflict("开标已暂停，请先继续", code="paused")
    # a window that has run out and still stands failed to close by itself: only what holds every
    # window (decryptions running, objections unanswered) holds staff's own try
    overdue = c.stage_ends_at is not None and clock.now() >= c.stage_ends_at
    reason = waiting_for(session, c) if overdue else _early_block(session, c)
    return Conflict(reason, code="stage_not_done") if reason is not None else None


def check_advance(session: Session, c: Ceremony) -> None:
    _refuse(advance_refusal(session, c))


def advance(session: Session, staff: User, c: Ceremony, services: Services) -> None:
    """Staff end the current window early (进入下一阶段)."""
    require_host(staff)
    _require_separate(session, c)
    check_advance(session, c)
    advance_together(session, staff, [c], services, clock.now())


def pause_refusal(c: Ceremony) -> Conflict | None:
    refusal = running_refusal(c)
    if refusal is None and c.paused_at is not None:
        return Conflict("已经暂停", code="paused")
    return refusal


def resume_refusal(c: Ceremony) -> Conflict | None:
    refusal = running_refusal(c)
    if refusal is None and (c.paused_at is None or c.remaining_seconds is None):
        return Conflict("没有暂停", code="not_paused")
    return refusal


def host_refusals(session: Session, c: Ceremony) -> dict[str, str | None]:
    """Each host control's refusal now (None: allowed), from the rules the controls apply: what
    the room page shows beside a disabled button."""
    refusals = {
        "advance": advance_refusal(session, c),
        "pause": pause_refusal(c),
        "resume": resume_refusal(c),
        "extend": running_refusal(c),
    }
    return {action: r.message if r is not None else None for action, r in refusals.items()}


def check_pause(c: Ceremony) -> None:
    _refuse(pause_refusal(c))


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
    add_event(session, c, "stage", stage_payload(c) | {"note": f"暂停：{reason}"})


def pause(session: Session, staff: User, c: Ceremony, reason: str) -> None:
    require_host(staff)
    _require_separate(session, c)
    check_pause(c)
    do_pause(session, staff, c, reason_text(reason), clock.now())


def check_resume(c: Ceremony) -> None:
    _refuse(resume_refusal(c))


def do_resume(session: Session, staff: User, c: Ceremony, now: dt.datetime) -> None:
    assert c.remaining_seconds is not None
    c.stage_ends_at = now + dt.timedelta(seconds=c.remaining_seconds)
    c.paused_at, c.remaining_seconds = None, None
    record_event(session, staff, "ceremony.resume", c, {"stage": c.stage.value, "ends_at": c.stage_ends_at.isoformat()})
    add_event(session, c, "stage", stage_payload(c) | {"note": "继续"})


def resume(session: Session, staff: User, c: Ceremony) -> None:
    require_host(staff)
    _require_separate(session, c)
    check_resume(c)
    do_resume(session, staff, c, clock.now())


def check_minutes(minutes: int) -> None:
    if not 1 <= minutes <= 240:
        raise InvalidInput("延长时间应为 1–240 分钟", fields={"minutes": "1–240"})


def check_extend(c: Ceremony, minutes: int) -> None:
    _refuse(running_refusal(c))
    check_minutes(minutes)


def do_extend(session: Session, staff: User, c: Ceremony, minutes: int, reason: str) -> None:
    if c.paused_at is not None:
        assert c.remaining_seconds is not None
        c.remaining_seconds += minutes * 60
    else:
        assert c.stage_ends_at is not None
        c.stage_ends_at += dt.timedelta(minutes=minutes)
    record_event(session, staff, "ceremony.extend", c, {"stage": c.stage.value, "minutes": minutes, "reason": reason})
    add_event(session, c, "stage", stage_payload(c) | {"note": f"延长 {minutes} 分钟：{reason}"})


def extend(session: Session, staff: User, c: Ceremony, minutes: int, reason: str) -> None:
    require_host(staff)
    _require_separate(session, c)
    check_extend(c, minutes)
    do_extend(session, staff, c, minutes, reason_text(reason))


def reason_text(text: str) -> str:
    """A host's reason, from a page's form or the API alike: no control or bidi characters (the
    room's public log shows it), 2–500 characters."""
    text = checked_text(text or "", "reason").strip()
    if not 2 <= len(text) <= 500:
        raise InvalidInput("请填写原因（2–500 字）", fields={"reason": "2–500 字"})
    return text
