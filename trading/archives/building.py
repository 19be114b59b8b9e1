"""Building and storing a lot's archive package.

A package is built once the lot has reached an end state (the opening closed, the lot failed, the
tender was terminated; again once it is awarded) and the checkpoint asked for at that moment has
been signed: every event of the lot up to it goes in with its inclusion proof. The package is
written to the archive store with COMPLIANCE retention (``ARCHIVE_RETENTION_YEARS``).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive import package as pkg
from archive import transparency as log
from archive.audit import SYSTEM, record_event
from trading.archives.contents import collect
from trading.archives.models import ArchivePackage
from trading.core.errors import Conflict
from trading.core.scheduler import each_attempted
from trading.core.services import Services
from trading.evaluation.models import EvalState, Evaluation
from trading.opening.models import FINAL_STAGES, Ceremony, Stage
from trading.tenders.models import Lot, Tender

REASONS = {Stage.CLOSED: "opened", Stage.FAILED: "failed", Stage.CANCELLED: "cancelled"}


def _end_of(session: Session, c: Ceremony) -> tuple[str, str]:
    """(the package's end state, the checkpoint subject its log must be signed under)."""
    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == c.lot_id, Evaluation.state == EvalState.AWARDED))
    if ev is not None:
        return "awarded", f"evaluation:{ev.id}"
    return REASONS[c.stage], f"ceremony:{c.id}"


def _checkpoint_for(session: Session, subject: str) -> log.CheckpointView | None:
    cps = log.signed_checkpoints(session, subject)
    return max(cps, key=lambda cp: cp.tree_size) if cps else None


def build_for(
    session: Session, c: Ceremony, services: Services, now: dt.datetime | None = None
) -> ArchivePackage | None:
    """Build and store the lot's package (None while its closing checkpoint is not yet signed)."""
    now = now or clock.now()
    if c.stage not in FINAL_STAGES:
        raise Conflict("开标尚未结束，不能归档", code="not_ended")
    reason, subject = _end_of(session, c)
    have = select(ArchivePackage.id).where(ArchivePackage.lot_id == c.lot_id, ArchivePackage.reason == reason)
    if session.scalar(have) is not None:
        return None
    cp = _checkpoint_for(session, subject)
    if cp is None:
        return None
    tender = session.get(Tender, c.tender_id)
    lot = session.get(Lot, c.lot_id)
    assert tender is not None and lot is not None
    entries = collect(session, c, services, cp.tree_size)
    entries.append(pkg.bytes_entry("log/checkpoint.sig.json", "checkpoint", "checkpoint", cp.statement.encode()))
    header = {
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
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
        {"tender_id": tender.id, "lot_id": lot.id, "ceremony_id": c.id, "reason": reason},
        {"tender": tender.code, "lot": lot.number},
    )


def store_package(
    session: Session,
    services: Services,
    entries: list[pkg.Entry],
    header: dict[str, Any],
    now: dt.datetime,
    tree_size: int,
    subject: dict[str, Any],
    named: dict[str, Any],
) -> ArchivePackage:
    """Sign and write a package of ``entries`` to the archive store with COMPLIANCE retention, and
    record it: the one way a package is stored, for a tender's lot and an auction's alike.
    ``subject`` holds its row's subject columns and reason; ``named`` what its audit event names."""
    keys = services.keys
    fd, tmp = tempfile.mkstemp(prefix="archive-", dir=services.scratch)
    try:
        with os.fdopen(fd, "w+b") as f:
            manifest = pkg.build(f, entries, header, key=keys.sign_key, cert=keys.sign_cert, root=keys.ca.cert, now=now)
            f.seek(0)
            stored = services.archive_store.put_stream(f)
    finally:
        os.unlink(tmp)
    retain = now + dt.timedelta(days=365 * services.settings.archive_retention_years + 4)
    services.archive_store.set_retention(stored.key, retain)
    row = ArchivePackage(
        **subject,
        object_key=stored.key,
        sm3=stored.sm3,
        size=stored.size,
        files=len(manifest["files"]),
        tree_size=tree_size,
        built_at=now,
        retain_until=retain,
        legal_hold=False,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        SYSTEM,
        "archive.build",
        row,
        {**named, "sm3": stored.sm3, "files": row.files, "retain_until": retain.isoformat()},
    )
    return row


def build_due(session: Session, services: Services, now: dt.datetime) -> int:
    """The scheduler's job: every ended lot without a package whose checkpoint is signed, each in
    a transaction of its own (``each_apart``), so that a lot whose package cannot be built (a file
    the store does not give back, an unreadable row) holds up no other lot's; its failure is the
    audit event ``archive.build_failed`` about the lot, retried with a pause up to a cap."""
    # an auction lot's package has no tender lot: NOT IN over a NULL would match nothing
    have = select(ArchivePackage.lot_id).where(ArchivePackage.lot_id.is_not(None))
    ended = session.execute(
        select(Ceremony.id, Ceremony.lot_id)
        .where(Ceremony.stage.in_([s.value for s in FINAL_STAGES]), Ceremony.lot_id.not_in(have))
        .order_by(Ceremony.id)
    ).all()
    awarded = session.execute(
        select(Ceremony.id, Ceremony.lot_id)
        .join(Evaluation, Evaluation.lot_id == Ceremony.lot_id)
        .where(
            Evaluation.state == EvalState.AWARDED,
            Ceremony.lot_id.not_in(
                select(ArchivePackage.lot_id).where(
                    ArchivePackage.reason == "awarded", ArchivePackage.lot_id.is_not(None)
                )
            ),
        )
        .order_by(Ceremony.id)
    ).all()
    # the end state the package is for: a lot archived at its end is archived again once awarded
    due = [(cid, lot_id, "end") for cid, lot_id in ended] + [(cid, lot_id, "awarded") for cid, lot_id in awarded]

    def build_one(ceremony_id: int) -> bool:
        c = session.get(Ceremony, ceremony_id)
        return c is not None and build_for(session, c, services, now) is not None

    return each_attempted(
        session,
        due,
        now,
        "build_archives",
        "archive.build_failed",
        lambda item: ("lot", str(item[1])),
        lambda item: build_one(item[0]),
        match=lambda item: {"package": item[2]},
    )
