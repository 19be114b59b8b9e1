"""What a viewer of one room, or of several rooms at once (合并开标), sees of their events, and where
a stream resumes.

A viewer's scope is per room: a bidder of lot 1 sees lot 1's room events but only the public
events of lot 2. A stream of one room uses the event id as its SSE id (``Last-Event-ID: 812``). A
stream of several rooms cannot: event ids are allocated across rooms and committed in any order,
so "after 812" could skip an event of another room committed later with a lower id. Its SSE id is
a cursor with each room's position instead (``12:812,13:790``), which the browser sends back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.core.errors import InvalidInput
from trading.core.schemas import whole_number
from trading.opening.models import EVENT_KIND_LABELS, LIFTED, CeremonyEvent, JobState, Outcome, can_see, reason_label

Scope = tuple[bool, int | None]  # (staff or supervisor, the viewer's bidder organisation in this room)
Scopes = dict[int, Scope]  # ceremony id → scope
MAX_ROOMS = 50  # a tender has at most 50 lots


def format_cursor(positions: dict[int, int]) -> str:
    return ",".join(f"{c}:{n}" for c, n in sorted(positions.items()))


def parse_position(text: str | None, rooms: list[int]) -> dict[int, int]:
    """Where each room resumes: a plain event id applies to every room, a cursor names each one."""
    positions = dict.fromkeys(rooms, 0)
    text = (text or "").strip()
    if not text:
        return positions
    try:
        if ":" not in text:
            return dict.fromkeys(rooms, whole_number(text, "Last-Event-ID"))
        for part in text.split(",")[: MAX_ROOMS + 1]:
            room, _, n = part.partition(":")
            room_id, after = whole_number(room, "Last-Event-ID"), whole_number(n, "Last-Event-ID")
            if room_id in positions:
                positions[room_id] = after
    except ValueError:
        raise InvalidInput("Last-Event-ID 应为整数或开标室位置（如 12:812,13:790）") from None
    return positions


def visible_events(session: Session, scopes: Scopes, after: dict[int, int]) -> list[CeremonyEvent]:
    """The rooms' events after each room's position that a viewer of these scopes may see, in id order."""
    if not scopes:
        return []
    q = select(CeremonyEvent).where(
        CeremonyEvent.ceremony_id.in_(list(scopes)), CeremonyEvent.id > min(after.get(c, 0) for c in scopes)
    )
    return [
        e
        for e in session.scalars(q.order_by(CeremonyEvent.id))
        if e.id > after.get(e.ceremony_id, 0) and can_see(e.audience.value, e.org_id, *scopes[e.ceremony_id])
    ]


def event_body(ev: CeremonyEvent) -> dict[str, Any]:
    """An event as the room pages and ``ggzy-bid`` read it (the ceremony names the lot's room),
    with the words for its codes (``kind_label``; a decryption's ``state_label`` and ``code_label``)
    added here, when it is read, so that events stored before a label changed read the same."""
    body = {"id": ev.id, "ceremony": ev.ceremony_id, "kind": ev.kind, "at": ev.created_at.isoformat(), **ev.payload}
    body["kind_label"] = EVENT_KIND_LABELS.get(ev.kind, ev.kind)
    state = ev.payload.get("state")
    if ev.kind == "decryption" and isinstance(state, str):
        body["state_label"] = _state_label(state)
        body["code_label"] = reason_label(ev.payload.get("code"))
    return body


def _state_label(state: str) -> str:
    """A decryption event's state: a job's (queued, failed) or, once decrypted, the bid's outcome."""
    if state in {s.value for s in JobState}:
        return JobState(state).label
    if state in {o.value for o in Outcome}:
        return Outcome(state).label
    if state == LIFTED:
        return "准许再次解密"
    return state
