"""多标段合并开标: the lots of a tender opened together, in one room.

Each lot keeps its own ceremony: its bidders, its key, its record and its archive package (the
opening record of a lot is the lot's). With ``Tender.joint_opening`` staff drive the lots from one
room, all at once and all or none, so their stages move together; and a window closes for every
lot at the same instant, because a lot that must still wait (decryptions running, objections not
answered) holds the others, and the lots move in one savepoint: if one lot's step fails, none
moves (``stages.ensure_joint_current``). So the price reading of every lot is
published at one moment, as in a room where the lots are opened together. A lot with too few bids
fails at the deadline on its own, and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from archive.db import locked
from trading.accounts.models import User
from trading.core.errors import Conflict, NotFound
from trading.core.services import Services
from trading.opening import ceremonies, controls, stages
from trading.opening.models import FINAL_STAGES, Ceremony, Stage
from trading.tenders.models import Tender


def members(session: Session, tender: Tender, services: Services, *, for_update: bool = False) -> list[Ceremony]:
    """The tender's ceremonies, brought up to now; locked in id order (the order every writer uses)."""
    if not tender.joint_opening:
        raise NotFound("本项目各标段分别开标，没有合并开标室", code="not_joint")
    q = select(Ceremony).where(Ceremony.tender_id == tender.id).order_by(Ceremony.id)
    if for_update:
        q = locked(q)
    rooms = list(session.scalars(q))
    stages.ensure_joint_current(session, tender, rooms, services, clock.now())
    return rooms


def running(rooms: list[Ceremony]) -> list[Ceremony]:
    return [c for c in rooms if c.stage not in FINAL_STAGES and c.stage is not Stage.SCHEDULED]


def group_refusal(
    session: Session, rooms: list[Ceremony], refusal: Callable[[Ceremony], Conflict | None]
) -> Conflict | None:
    """Why one control may not act on the running lots now, naming each lot that refuses it (None:
    it may): the joint room disables its button with this reason, and the control raises it."""
    live = running(rooms)
    if not live:
        return Conflict("没有进行中的标段", code="wrong_stage")
    if len({c.stage for c in live}) > 1:
        return Conflict("各标段阶段不一致，不能合并操作", code="stages_differ")
    refused = [(c, r) for c in live if (r := refusal(c)) is not None]
    if not refused:
        return None
    text = "；".join(f"第{ceremonies.lot_of(session, c).number}标段{r.message}" for c, r in refused)
    return Conflict(text, code=refused[0][1].code)


def _all_or_none(
    session: Session, rooms: list[Ceremony], refusal: Callable[[Ceremony], Conflict | None]
) -> list[Ceremony]:
    """The running lots, once every one of them may take the control; else the Conflict naming each lot."""
    refused = group_refusal(session, rooms, refusal)
    if refused is not None:
        raise refused
    return running(rooms)


def host_refusals(session: Session, rooms: list[Ceremony]) -> dict[str, str | None]:
    """Each joint control's refusal now (None: allowed), for the joint room's buttons."""
    refusals = {
        "advance": group_refusal(session, rooms, lambda c: controls.advance_refusal(session, c)),
        "pause": group_refusal(session, rooms, controls.pause_refusal),
        "resume": group_refusal(session, rooms, controls.resume_refusal),
        "extend": group_refusal(session, rooms, controls.running_refusal),
    }
    return {action: r.message if r is not None else None for action, r in refusals.items()}


def _record(session: Session, staff: User, tender: Tender, action: str, live: list[Ceremony], **extra: object) -> None:
    lots = [ceremonies.lot_of(session, c).number for c in live]
    record_event(
        session, staff, f"opening.joint_{action}", tender, {"lots": lots, "stage": live[0].stage.value, **extra}
    )


def advance(session: Session, staff: User, tender: Tender, services: Services) -> list[Ceremony]:
    """Every running lot to its next stage, or none of them (with each lot's reason)."""
    controls.require_host(staff)
    live = _all_or_none(
        session, members(session, tender, services, for_update=True), lambda c: controls.advance_refusal(session, c)
    )
    # all or none: a lot whose step fails is recorded (AdvanceFailed, which the caller commits)
    # and no lot moves, nor is the joint advance itself recorded
    stages.advance_together(
        session, staff, live, services, clock.now(), then=lambda: _record(session, staff, tender, "advance", live)
    )
    return live


def pause(session: Session, staff: User, tender: Tender, services: Services, reason: str) -> list[Ceremony]:
    controls.require_host(staff)
    text = controls.reason_text(reason)
    live = _all_or_none(session, members(session, tender, services, for_update=True), controls.pause_refusal)
    _record(session, staff, tender, "pause", live, reason=text)
    now = clock.now()
    for c in live:
        controls.do_pause(session, staff, c, text, now)
    return live


def resume(session: Session, staff: User, tender: Tender, services: Services) -> list[Ceremony]:
    controls.require_host(staff)
    live = _all_or_none(session, members(session, tender, services, for_update=True), controls.resume_refusal)
    _record(session, staff, tender, "resume", live)
    now = clock.now()
    for c in live:
        controls.do_resume(session, staff, c, now)
    return live


def extend(
    session: Session, staff: User, tender: Tender, services: Services, minutes: int, reason: str
) -> list[Ceremony]:
    controls.require_host(staff)
    text = controls.reason_text(reason)
    controls.check_minutes(minutes)
    rooms = members(session, tender, services, for_update=True)
    live = _all_or_none(session, rooms, controls.running_refusal)
    _record(session, staff, tender, "extend", live, minutes=minutes, reason=text)
    for c in live:
        controls.do_extend(session, staff, c, minutes, text)
    return live
