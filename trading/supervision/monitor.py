"""The supervisors' live monitor (实时监控): today's and coming openings and the evaluation rooms at
work, each with its stage, the next instant it counts down to, and the time-limit warnings of its
lot (read from ``SupervisionClock``, which the clocks sweep keeps).

Before the bid deadline it says only what the opening hall says to anyone: the room and its
opening time, never a number of bids or a bidder (招标投标法第二十二条). The rooms are linked for
watching: the ceremony room and the evaluation room show a supervisor the staff view without
their controls. Each room also says whether its lot is suspended (暂停) and which complaints (投诉)
concern it, with their state and finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.evaluation.models import EvalState, Evaluation
from trading.opening.ceremonies import viewer_scope
from trading.opening.hall import opening_hall
from trading.opening.models import FINAL_STAGES, Ceremony, Stage
from trading.opening.streams import MAX_ROOMS, Scopes
from trading.supervision.complaint_documents import complaints_of_lot
from trading.supervision.models import Colour
from trading.supervision.warnings import views_of_lots
from trading.tenders.models import Lot, LotState, Tender

LIMIT = 60
#: What the countdown of each running stage points at: the end of its window.
STAGE_ENDS = {
    Stage.SCHEDULED: "开标（投标截止）",
    Stage.SIGN_IN: "签到截止",
    Stage.BIDDERS: "投标人名单公布结束",
    Stage.DECRYPTING: "解密截止",
    Stage.READING: "唱标结束",
    Stage.CONFIRMING: "开标记录确认截止",
}


@dataclass
class Room:
    """One room on the monitor, as its JSON says it."""

    kind: str
    id: int
    tender: Tender
    lot: Lot
    stage: str
    stage_label: str
    deadline_passed: bool
    next_label: str | None = None
    next_at: dt.datetime | None = None
    paused: bool = False
    bids: int | None = None
    url: str | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    suspended: bool = False
    complaints: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "tender": self.tender.code,
            "title": self.tender.title,
            "lot": self.lot.number,
            "lot_name": self.lot.name,
            "stage": self.stage,
            "stage_label": self.stage_label,
            "deadline_passed": self.deadline_passed,
            "next_label": self.next_label,
            "next_at": self.next_at.isoformat() if self.next_at else None,
            "paused": self.paused,
            "bids": self.bids,
            "url": self.url,
            "warnings": self.warnings,
            "suspended": self.suspended,
            "complaints": self.complaints,
        }


def opening_room(c: Ceremony, tender: Tender, lot: Lot, now: dt.datetime) -> Room:
    """A ceremony on the monitor: its stage and window; the number of bids only once opened."""
    passed = tender.deadline_passed(now)
    room = Room("opening", c.id, tender, lot, c.stage.value, c.stage.label, passed)
    if c.stage is Stage.SCHEDULED:
        room.next_label, room.next_at = STAGE_ENDS[Stage.SCHEDULED], tender.bid_deadline
    elif c.paused_at is not None:
        room.paused = True
    elif c.stage not in FINAL_STAGES:
        room.next_label, room.next_at = STAGE_ENDS[c.stage], c.stage_ends_at
    if passed and c.stage is not Stage.SCHEDULED and c.stage is not Stage.FAILED and c.stage is not Stage.CANCELLED:
        room.bids = len(c.bidders)  # read out at the opening: public from the deadline on (Law 36)
    return room


def evaluation_room(ev: Evaluation, tender: Tender, lot: Lot, now: dt.datetime) -> Room:
    """An evaluation room on the monitor: its state and the instant its stage is bound by."""
    room = Room("evaluation", ev.id, tender, lot, ev.state.value, ev.state.label, True)
    if ev.suspended_at is not None:
        room.paused = True
    elif ev.state is EvalState.PUBLICITY and ev.publicity_ends_at is not None:
        room.next_label, room.next_at = "公示结束", ev.publicity_ends_at
    elif ev.state is EvalState.REPORTED:
        room.next_label, room.next_at = "中标候选人公示期限（评标报告后3日）", ev.publicity_due()
    room.bids = None  # the committee's work is the room's own; the monitor shows its stage
    return room


def warnings_of(session: Session, lot_ids: Iterable[int], now: dt.datetime) -> dict[int, list[dict[str, Any]]]:
    """Each lot's warnings: its running clocks, and those that ever turned yellow or red (红灯追责:
    a red light stays on the record after the act is done late), soonest due first, as the warning
    pages show them at ``now`` (``warnings.views_of_lots``: right between two sweeps)."""
    views = [v for v in views_of_lots(session, lot_ids, now) if v.running or v.worst is not Colour.GREEN]
    out: dict[int, list[dict[str, Any]]] = {}
    for v in sorted(views, key=lambda v: (v.due_at, v.id)):
        assert v.lot_id is not None
        out.setdefault(v.lot_id, []).append(
            {
                "id": v.id,
                "rule_code": v.rule.code,
                "title": v.rule.title,
                "colour": v.colour.value,
                "worst": v.worst.value,
                "paused": v.paused_since is not None,
                "due_at": v.due_at.isoformat(),
                "stopped": not v.running,
            }
        )
    return out


def _with_clock_deadline(room: Room, warnings: list[dict[str, Any]]) -> None:
    """A room without a deadline of its own counts down to its lot's soonest running time limit."""
    if room.next_at is not None or room.paused:
        return
    running = [w for w in warnings if not w["stopped"]]
    if running:
        room.next_label = f"{running[0]['title']}期限"
        room.next_at = dt.datetime.fromisoformat(running[0]["due_at"])


def rooms(
    session: Session, user: User | None, now: dt.datetime, url: Callable[[str, int], str | None]
) -> tuple[list[Room], list[Room]]:
    """(openings, evaluations) at ``now``: today's rooms, those running and those to come, then the
    evaluation rooms not yet awarded; ``url(kind, id)`` links each room its viewer may open."""
    hall = opening_hall(session, now)
    openings: list[Room] = []
    seen: set[int] = set()
    for group in (hall.today_rooms, hall.running, hall.upcoming):
        for t in group:
            for r in t.rooms:
                if r.ceremony.id not in seen:
                    seen.add(r.ceremony.id)
                    openings.append(opening_room(r.ceremony, t.tender, r.lot, now))
    openings = openings[:LIMIT]
    evaluations = [
        evaluation_room(ev, tender, lot, now)
        for ev, lot, tender in session.execute(
            select(Evaluation, Lot, Tender)
            .join(Lot, Lot.id == Evaluation.lot_id)
            .join(Tender, Tender.id == Lot.tender_id)
            .where(Evaluation.state != EvalState.AWARDED, Lot.status != LotState.FAILED)
            .order_by(Evaluation.opened_at.desc())
            .limit(LIMIT)
        )
    ]
    found = warnings_of(session, [r.lot.id for r in [*openings, *evaluations]], now)
    for room in [*openings, *evaluations]:
        room.warnings = found.get(room.lot.id, [])
        room.suspended = room.lot.suspended_at is not None
        room.complaints = [
            {
                "id": c.id,
                "number": c.number,
                "state": c.state.value,
                "state_label": c.state.label,
                "finding_label": c.finding.label if c.finding else None,
            }
            for c in complaints_of_lot(session, room.lot.id)
        ]
        _with_clock_deadline(room, room.warnings)
        room.url = url(room.kind, room.id)
    return openings, evaluations


def live_scopes(session: Session, user: User | None, openings: list[Room]) -> Scopes:
    """The rooms the page follows live (at most MAX_ROOMS, running or about to open), each with
    what its viewer may see there (the ceremony room's own rule)."""
    scopes: Scopes = {}
    for room in openings:
        if room.stage in {s.value for s in FINAL_STAGES}:
            continue
        c = session.get(Ceremony, room.id)
        if c is not None:
            scopes[c.id] = viewer_scope(session, c, user)
        if len(scopes) >= MAX_ROOMS:
            break
    return scopes


def monitor_json(
    session: Session,
    user: User | None,
    now: dt.datetime,
    url: Callable[[str, int], str | None],
    live: Callable[[Scopes], dict[str, str] | None],
) -> dict[str, Any]:
    """The monitor as the page and the API give it (``live`` signs the ticket for the live server)."""
    openings, evaluations = rooms(session, user, now, url)
    scopes = live_scopes(session, user, openings)
    return {
        "server_time": now.isoformat(),
        "today": clock.local(now).date().isoformat(),
        "openings": [r.to_json() for r in openings],
        "evaluations": [r.to_json() for r in evaluations],
        "live": live(scopes) if scopes else None,
    }


def may_open_evaluation(user: User | None) -> bool:
    """The evaluation room is the committee's and staff's to act in, and supervisors' to watch
    (EVALUATION_ROOM; every act there asks for a seat or staff)."""
    return has(user, Permission.EVALUATION_ROOM)
