"""What a room says of itself to whoever looks (the page, its script, the API, ``ggzy-bid``): the
stage and its window, the bidders and the price reading once they are public, the viewer's own seat
with what it may do now, and for staff the controls that would be refused, with the reason.

Codes stay codes; every code a person reads comes with its ``*_label`` from the label tables in
``trading.opening.models``, so that the room's script and ``ggzy-bid`` carry no table of their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from archive import clock
from trading.accounts import web
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.opening import bidders, ceremonies, controls, failures, joint, lifecycle
from trading.opening import display as ops
from trading.opening.models import FINAL_STAGES, Ceremony, Objection, Stage
from trading.tenders.models import Tender
from trading.tenders.shapes import iso


def ceremony_json(c: Ceremony, user: User | None) -> dict[str, Any]:
    db = web.db()
    tender, lot = ceremonies.tender_of(db, c), ceremonies.lot_of(db, c)
    out: dict[str, Any] = {
        "id": c.id,
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
        "deadline": iso(tender.bid_deadline),
        "server_time": iso(clock.now()),
        **lifecycle.stage_payload(c),
        "next_stages": lifecycle.next_stages(c.stage),  # what POST …/stages/{stage} accepts now
    }
    if has(user, Permission.CEREMONY_HOST):
        # what the host's buttons would meet now: the page disables them with these reasons
        out["controls"] = controls.host_refusals(db, c)
        out["advance_confirm"] = lifecycle.advance_confirmation(c.stage)
    if c.stage is Stage.SCHEDULED:
        return out  # before the opening nothing about the bids is said, not even their number
    opened = c.stage not in (Stage.FAILED, Stage.CANCELLED)
    if opened:
        out["bidders"] = ops.bidder_rows(db, c)
    if c.stage in (Stage.READING, Stage.CONFIRMING, Stage.CLOSED):
        out["table"] = ops.reading_table(db, c)
    out["record_sm3"], out["final_record_sm3"] = c.record_sm3, c.final_record_sm3
    staff, org = ceremonies.viewer_scope(db, c, user)
    if staff or org is not None:
        q = select(Objection).where(Objection.ceremony_id == c.id)
        out["objections"] = [
            {"id": o.id, "bidder": ops.org_name(db, o.org_id), "text": o.text, "answer": o.answer}
            for o in db.scalars(q.order_by(Objection.id))
        ]
    seat = ceremonies.my_seat(db, c, user)
    if seat is not None:
        # the attempt first, then the seat read again: a worker records both in one transaction,
        # so an attempt seen finished always comes with its outcome (never "done" and "pending")
        attempt = ceremonies.last_attempt(db, seat)
        db.refresh(seat)
        bid = ceremonies.bid_of(db, seat)
        out["me"] = {
            "credit_code": ops.credit_code_of(db, seat.org_id),
            "bidder": ops.credit_code_of(db, seat.org_id),  # deprecated name of credit_code (the room page reads it)
            "signed_in": seat.signed_in_at is not None,
            "outcome": seat.outcome.value,
            "outcome_label": seat.outcome.label,
            "confirmation": seat.confirmation.value if seat.confirmation else None,
            "confirmation_label": seat.confirmation.label if seat.confirmation else None,
            "ciphertext_sm3": bid.ciphertext_sm3,
            "header_sm3": bid.header_sm3,  # the room page checks the chosen sealed file against it
            "last_attempt": attempt,
            "actions": bidders.bidder_refusals(db, c, seat),
        }
    if staff:
        out["counts"] = ops.counts(c)
        # a stage change that failed (recorded; retried with a pause, then left to staff)
        failure = failures.advance_failures(db, c).to_json() if c.stage not in FINAL_STAGES else None
        if failure is not None:
            failure.pop("message", None)  # the error's own text stays in the audit event and the log
        out["advance_failure"] = failure
    if has(user, Permission.CEREMONY_HOST):
        out["set_aside"] = [h | {"set_aside_at": iso(h["set_aside_at"])} for h in bidders.set_aside_seats(db, c)]
    return out


def joint_json(tender: Tender, rooms: list[Ceremony], user: User | None) -> dict[str, Any]:
    live = joint.running(rooms)
    stages = {c.stage for c in live}
    lead = live[0] if len(stages) == 1 else None
    lots = [ceremony_json(c, user) for c in rooms]
    out: dict[str, Any] = {
        "tender": tender.code,
        "title": tender.title,
        "joint_opening": True,
        "deadline": iso(tender.bid_deadline),
        "server_time": iso(clock.now()),
        "stage": lead.stage.value if lead else None,
        "label": lead.stage.label if lead else _joint_label(rooms, live),
        "ends_at": iso(lead.stage_ends_at) if lead else None,
        "paused": bool(lead and lead.paused_at is not None),
        "lots": lots,
        # staff: every lot's failed stage change (the lot named), seen here where they drive the lots
        "advance_failures": [
            {"lot": lot["lot"], **lot["advance_failure"]} for lot in lots if lot.get("advance_failure")
        ],
    }
    if has(user, Permission.CEREMONY_HOST):
        out["controls"] = joint.host_refusals(web.db(), rooms)
        out["advance_confirm"] = lifecycle.advance_confirmation(lead.stage, len(live)) if lead else ""
    return out


def _joint_label(rooms: list[Ceremony], live: list[Ceremony]) -> str:
    if live:
        return "各标段阶段不一致"
    if any(c.stage is Stage.SCHEDULED for c in rooms):
        return Stage.SCHEDULED.label
    return "各标段开标已结束"
