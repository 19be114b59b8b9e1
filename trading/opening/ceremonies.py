"""The opening ceremonies: their creation (one per lot, with its own key), lookup, the caller's
seat and view of the live room, and the room's events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from archive.db import locked
from signing.sm2 import PrivateKey
from trading.accounts.models import Role, User
from trading.accounts.permissions import Permission, has
from trading.bids.models import Bid
from trading.core.config import Settings
from trading.core.errors import NotFound
from trading.opening.ceremony_key import seal_ceremony_key
from trading.opening.models import (
    Audience,
    Ceremony,
    CeremonyBidder,
    CeremonyEvent,
    DecryptionJob,
    Stage,
    reason_label,
)
from trading.procedures.operations import get_procedure
from trading.tenders.models import Lot, Tender

#: Stages whose windows are fixed here rather than by the procedure (staff usually move on sooner).
BIDDERS_MINUTES = 5
READING_MINUTES = 10


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
    return {
        "state": job.state.value,
        "state_label": job.state.label,
        "fault": job.fault.value if job.fault else None,
        "fault_label": job.fault.label if job.fault else None,
        "code": job.error_code,
        "code_label": reason_label(job.error_code),
    }


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
