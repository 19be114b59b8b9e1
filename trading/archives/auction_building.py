"""Building and storing an auction lot's archive package.

A lot is archived once it has ended (sold, failed or cancelled) and a signed checkpoint covers its
last audit event: the checkpoint the end asks for (``auction:<code>``) normally, or any later public
one. Every event of the lot up to it goes in with its inclusion proof, and the package is written
to the archive store with COMPLIANCE retention (``ARCHIVE_RETENTION_YEARS``), like a tender lot's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive import package as pkg
from archive import transparency as log
from trading.archives.auction_contents import collect, last_event
from trading.archives.building import store_package
from trading.archives.models import ArchivePackage
from trading.auctions.models import Auction, AuctionState
from trading.core.errors import Conflict
from trading.core.scheduler import each_attempted
from trading.core.services import Services

#: the package's end state (``ArchivePackage.reason``) for each end of a lot
REASONS = {AuctionState.SOLD: "sold", AuctionState.FAILED: "unsold", AuctionState.CANCELLED: "cancelled"}
ENDED = tuple(REASONS)


def covering_checkpoint(session: Session, a: Auction) -> log.CheckpointView | None:
    """The earliest public signed checkpoint that covers the lot's last audit event, if any."""
    last = last_event(session, a)
    covering = [cp for cp in log.signed_checkpoints(session, public=True) if cp.tree_size >= last]
    return min(covering, key=lambda cp: cp.tree_size) if covering else None


def build_for(
    session: Session, a: Auction, services: Services, now: dt.datetime | None = None
) -> ArchivePackage | None:
    """Build and store the lot's package (None when it has one, or no signed checkpoint covers it yet)."""
    now = now or clock.now()
    if a.state not in ENDED:
        raise Conflict("竞价尚未结束，不能归档", code="not_ended")
    reason = REASONS[a.state]
    have = select(ArchivePackage.id).where(ArchivePackage.auction_id == a.id, ArchivePackage.reason == reason)
    if session.scalar(have) is not None:
        return None
    cp = covering_checkpoint(session, a)
    if cp is None:
        return None
    entries = collect(session, a, services.store, cp.tree_size)
    entries.append(pkg.bytes_entry("log/checkpoint.sig.json", "checkpoint", "checkpoint", cp.statement.encode()))
    header = {
        "auction": a.code,
        "title": a.title,
        "procedure": a.procedure_code,
        "end_state": reason,
        "checkpoint": {"id": cp.id, "tree_size": cp.tree_size, "root_sm3": cp.root.hex()},
    }
    return store_package(
        session,
        services,
        entries,
        header,
        now,
        cp.tree_size,
        {"auction_id": a.id, "reason": reason},
        {"auction": a.code},
    )


def build_due(session: Session, services: Services, now: dt.datetime) -> int:
    """The scheduler's job: every ended lot without its package, each in a transaction of its own; a
    lot whose package cannot be built is the audit event ``archive.build_failed`` about the lot,
    retried with a pause up to a cap, and holds up no other lot's."""
    have = select(ArchivePackage.auction_id).where(ArchivePackage.auction_id.is_not(None))
    due = session.execute(
        select(Auction.id, Auction.code)
        .where(Auction.state.in_([s.value for s in ENDED]), Auction.id.not_in(have))
        .order_by(Auction.id)
    ).all()

    def build_one(auction_id: int) -> bool:
        a = session.get(Auction, auction_id)
        return a is not None and build_for(session, a, services, now) is not None

    return each_attempted(
        session,
        [(i, code) for i, code in due],
        now,
        "build_archives",
        "archive.build_failed",
        lambda item: ("auction", item[1]),
        lambda item: build_one(item[0]),
    )
