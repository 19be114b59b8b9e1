"""Sealed audit events: a bidder's steps before the deadline that would say who means to bid
(registration, document downloads, questions, guarantee orders) go into the trail so that no one
reading it before the deadline can tie an event to a tender or to a bidder (招标投标法第二十二条:
the tenderee may not disclose who obtained the documents; 实施条例第二十二条).

Each event carries only a fresh commitment c = SM3(nonce ‖ canonical facts) with a random 32-byte
nonce, the neutral actor ``sealed`` and the object ``sealed:<c[:32]>``: nothing repeats across
events and nothing in it is public. Its opening (nonce and facts: action, tender, lot, bidder and
what the action touched) is stored wrapped with the platform's key-encryption key, which the
database does not hold, and is published (``sealed.reveal``, one event per tender) once the
tender's bidding has closed, so that anyone can recompute every commitment.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, ActorRef, record_event
from archive.db import locked
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from trading.core.platform_keys import unwrap_secret, wrap_secret
from trading.core.scheduler import each_attempted
from trading.tenders.models import SealedOpening, Tender, TenderState

#: the one actor of every sealed event: no stable pseudonym
SEALED = ActorRef("sealed", "bidder")


def commitment_of(nonce: bytes, facts: dict[str, Any]) -> str:
    """c = SM3(nonce ‖ canonical JSON of the facts): what anyone recomputes from a published opening."""
    return sm3_hex(nonce + canonical_json(facts))


def _purpose(commitment: str) -> str:
    return f"sealed-opening:{commitment}"


def record_sealed(
    session: Session, kek: bytes, tender: Tender, credit_code: str, action: str, facts: dict[str, Any]
) -> str:
    """Write one sealed event of ``action`` for the bidder ``credit_code`` on ``tender``; returns c."""
    nonce = secrets.token_bytes(32)
    opened = {"action": action, "tender": tender.code, "bidder": credit_code, **facts}
    c = commitment_of(nonce, opened)
    box = wrap_secret(kek, canonical_json({"nonce": nonce.hex(), "facts": opened}), _purpose(c))
    session.add(SealedOpening(commitment=c, tender_id=tender.id, box=box, created_at=clock.now()))
    session.flush()
    record_event(session, SEALED, action, ("sealed", c[:32]), {"commitment": c})
    return c


def open_box(kek: bytes, row: SealedOpening) -> dict[str, Any]:
    opened: dict[str, Any] = json.loads(unwrap_secret(kek, row.box, _purpose(row.commitment)))
    return {"commitment": row.commitment, "nonce": opened["nonce"], "facts": opened["facts"]}


def verify_opening(opening: dict[str, Any]) -> bool:
    """Does a published opening match its commitment? (Anyone can run this on sealed.reveal.)"""
    try:
        nonce = bytes.fromhex(str(opening["nonce"]))
        return len(nonce) == 32 and commitment_of(nonce, dict(opening["facts"])) == opening["commitment"]
    except (KeyError, TypeError, ValueError):
        return False


def reveal(session: Session, kek: bytes, tender: Tender, now: dt.datetime) -> int:
    """Publish the openings of ``tender``'s sealed events not yet published, once bidding has
    closed (or the tender ended), in one ``sealed.reveal`` event; returns how many."""
    if tender.status in (TenderState.PUBLISHED, TenderState.SUSPENDED) or not tender.deadline_passed(now):
        return 0
    rows = session.scalars(
        locked(
            select(SealedOpening)
            .where(SealedOpening.tender_id == tender.id, SealedOpening.revealed_at.is_(None))
            .order_by(SealedOpening.created_at, SealedOpening.commitment)
        )
    ).all()
    if not rows:
        return 0
    openings = [open_box(kek, r) for r in rows]
    for r in rows:
        r.revealed_at = now
    session.flush()
    record_event(session, SYSTEM, "sealed.reveal", tender, {"tender": tender.code, "openings": openings})
    return len(rows)


def reveal_due(session: Session, kek: bytes, now: dt.datetime) -> int:
    """The scheduler's sweep: every tender past its deadline with openings still sealed, each in a
    transaction of its own (``each_apart``), so that one whose opening does not unwrap holds up no
    other tender's; its failure is the audit event ``sealed.reveal_failed``, retried with a pause
    up to a cap. Returns how many openings were published."""
    ids = session.scalars(
        select(SealedOpening.tender_id)
        .join(Tender, Tender.id == SealedOpening.tender_id)
        .where(SealedOpening.revealed_at.is_(None), Tender.deadline_passed_by(now))
        .distinct()
        .order_by(SealedOpening.tender_id)
    ).all()

    def reveal_one(tender_id: int) -> int:
        tender = session.get(Tender, tender_id)
        return 0 if tender is None else reveal(session, kek, tender, now)

    return each_attempted(
        session, ids, now, "reveal_sealed", "sealed.reveal_failed", lambda tid: ("tender", str(tid)), reveal_one
    )


def bidding_closed(session: Session, tender_code: str, now: dt.datetime) -> bool:
    """Whether ``tender_code``'s bid deadline has passed at ``now``: from then on who registered is
    no longer secret (the credit stage asks before it shows a registration's check)."""
    deadline = session.scalar(select(Tender.bid_deadline).where(Tender.code == tender_code))
    return deadline is not None and clock.as_utc(now) >= clock.as_utc(deadline)
