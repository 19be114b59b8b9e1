"""Publishing: the sweep that turns new audit events into stored, immutable releases, the readers
of what is published, and the daily bulk files.

The sweep reads the trail after its cursor, finds the published tenders those events are about,
and for each (in a transaction of its own) stores the releases of its events not
stored yet: idempotent by source event (``ocds_release.source_seq`` is unique), so a sweep run
twice, or two sweeps, add nothing. A tender whose releases cannot be built is held
(``ocds_held``) and retried with a growing pause; its later events wait with it (the cursor moves
on: a retry rebuilds the tender from the trail), the other tenders go on.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event
from archive.objectstore import ObjectStore
from signing.digest import sm3_hex
from trading.core.scheduler import RETRY_BASE, error_summary
from trading.opendata import build, trail
from trading.opendata.compiled import dumps, record
from trading.opendata.models import OcdsBulk, OcdsCursor, OcdsHeld, OcdsRelease
from trading.tenders.models import Tender

log = logging.getLogger(__name__)

#: Events read per sweep: a long backlog is worked off over several sweeps.
BATCH = 5000
BULK_KINDS = ("releases", "records")
MAX_PAUSE = dt.timedelta(hours=1)


def cursor(session: Session) -> OcdsCursor:
    row = session.get(OcdsCursor, 1)
    if row is None:  # the migration inserts it; a test database made otherwise may lack it
        row = OcdsCursor(id=1, last_seq=0)
        session.add(row)
        session.flush()
    return row


def publish_tender(session: Session, tender_id: int, upto: int, prefix: str, now: dt.datetime) -> int:
    """Store the releases of the tender's events up to ``upto`` not stored yet; how many."""
    tender = session.get(Tender, tender_id)
    if tender is None or tender.docs_issued_at is None:
        return 0  # never published: nothing of it is open data
    done = set(session.scalars(select(OcdsRelease.source_seq).where(OcdsRelease.tender_id == tender_id)))
    made: list[str] = []
    for event, release in build.releases(session, tender, prefix, trail.tender_events(session, tender, upto)):
        if event.seq in done:
            continue
        text = dumps(release)
        session.add(
            OcdsRelease(
                release_id=release["id"],
                ocid=release["ocid"],
                tender_id=tender_id,
                source_seq=event.seq,
                tag=release["tag"][0],
                date=clock.as_utc(event.at),
                body=text,
                body_sm3=sm3_hex(text.encode()),
                published_at=now,
            )
        )
        made.append(release["id"])
    session.flush()
    if made:  # publishing is an act of the platform's too: the trail tells what was made public, when
        record_event(session, SYSTEM, "ocds.publish", tender, {"releases": made})
    return len(made)


def _attempt(session: Session, tender_id: int, upto: int, prefix: str, now: dt.datetime) -> int:
    held = session.get(OcdsHeld, tender_id)
    try:
        with session.begin_nested():
            made = publish_tender(session, tender_id, upto, prefix, now)
    except Exception as exc:  # one broken tender must hold up no other
        log.error("ocds: tender %s not published", tender_id, exc_info=exc)
        err = error_summary(exc)
        text = f"{err['error']}: {err['message']}"
        if held is None:
            held = OcdsHeld(tender_id=tender_id, failures=1, error=text, last_at=now)
            session.add(held)
        else:
            held.failures, held.error, held.last_at = held.failures + 1, text, now
        record_event(session, SYSTEM, "ocds.hold", ("tender", str(tender_id)), {"failures": held.failures, **err})
        return 0
    if held is not None:
        session.delete(held)
    return made


def retry_due(held: OcdsHeld, now: dt.datetime) -> bool:
    """A held tender is tried again after RETRY_BASE × 2^(n−1), at most an hour apart, never given
    up: its releases are owed to the public once whatever broke them is mended."""
    pause = min(RETRY_BASE * 2 ** (held.failures - 1), MAX_PAUSE)
    due: dt.datetime = clock.as_utc(held.last_at) + pause
    return now >= due


def sweep(session: Session, prefix: str, now: dt.datetime) -> int:
    """One pass of the scheduler's job: the new events' tenders and the held ones; releases made."""
    cur = cursor(session)
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.seq > cur.last_seq, AuditEvent.action.in_(trail.TRIGGERS))
        .order_by(AuditEvent.seq)
        .limit(BATCH)
    ).all()
    # the last trigger read, not the trail's head: an event appended meanwhile is read next time
    head = events[-1].seq if events else cur.last_seq
    held = {h.tender_id: h for h in session.scalars(select(OcdsHeld).order_by(OcdsHeld.tender_id))}
    tenders = [tid for tid, h in held.items() if retry_due(h, now)]
    for e in events:
        if trail.is_trigger(e):
            tid = trail.tender_of(session, e)
            if tid is not None and tid not in tenders and tid not in held:
                tenders.append(tid)
    session.commit()
    made, settled = 0, set()
    for tid in tenders:  # each in a transaction of its own (as ``scheduler.each_apart``)
        try:
            made += _attempt(session, tid, head, prefix, now)
            session.commit()
            settled.add(tid)  # built, or held for a retry: its events need not be read again
        except Exception as exc:  # contention, a lost connection: the next sweep reads them again
            session.rollback()
            log.warning("ocds: tender %s not published this time (%s)", tid, error_summary(exc)["message"])
    if settled >= set(tenders):  # one whose transaction failed (contention) is read again next time
        cur = cursor(session)
        cur.last_seq = max(cur.last_seq, head)
        session.commit()
    return made


# ---------------------------------------------------------------------- reading
def release_rows(
    session: Session, since: dt.datetime | None, after: int, limit: int, ocid: str | None = None
) -> Sequence[OcdsRelease]:
    """Releases in publication order after row ``after`` (the page cursor), dated at or after ``since``."""
    q = select(OcdsRelease).where(OcdsRelease.id > after)
    if since is not None:
        q = q.where(OcdsRelease.date >= since)
    if ocid is not None:
        q = q.where(OcdsRelease.ocid == ocid)
    return session.scalars(q.order_by(OcdsRelease.id).limit(limit)).all()


def releases_of(session: Session, ocid: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(OcdsRelease).where(OcdsRelease.ocid == ocid).order_by(OcdsRelease.source_seq))
    return [json.loads(r.body) for r in rows]


def has_releases(session: Session, tender_id: int) -> bool:
    return session.scalar(select(OcdsRelease.id).where(OcdsRelease.tender_id == tender_id).limit(1)) is not None


def ocids(session: Session) -> list[str]:
    return list(session.scalars(select(OcdsRelease.ocid).group_by(OcdsRelease.ocid).order_by(OcdsRelease.ocid)))


def tender_ocids(session: Session) -> dict[int, str]:
    rows = session.execute(select(OcdsRelease.tender_id, OcdsRelease.ocid).distinct())
    return {tid: o for tid, o in rows}


# ---------------------------------------------------------------------- bulk
#: how many finished days the bulk job writes when it finds them missing
BULK_CATCH_UP_DAYS = 31


def day_end(day: dt.date) -> dt.datetime:
    """The end of a Beijing day, in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=clock.SHANGHAI).astimezone(dt.UTC)


def lines(session: Session, kind: str, until: dt.datetime) -> Iterator[str]:
    """JSON Lines of the bulk file: one release, or one record, per line, in a stable order."""
    rows = session.scalars(
        select(OcdsRelease).where(OcdsRelease.published_at < until).order_by(OcdsRelease.ocid, OcdsRelease.source_seq)
    )
    if kind == "releases":
        for r in rows:
            yield r.body
        return
    current: list[dict[str, Any]] = []
    for r in rows:
        if current and current[0]["ocid"] != r.ocid:
            yield dumps(record(current))
            current = []
        current.append(json.loads(r.body))
    if current:
        yield dumps(record(current))


def gzip_lines(items: Iterator[str]) -> tuple[bytes, int]:
    """Gzip with no name and no time in its header: the same lines give the same bytes."""
    buf = io.BytesIO()
    count = 0
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        for line in items:
            gz.write(line.encode() + b"\n")
            count += 1
    return buf.getvalue(), count


def write_bulk(session: Session, store: ObjectStore, day: dt.date, now: dt.datetime) -> int:
    """The day's bulk files, once: a day already written is left alone. How many were written."""
    made = 0
    for kind in BULK_KINDS:
        if bulk_file(session, day, kind) is not None:
            continue
        data, count = gzip_lines(lines(session, kind, day_end(day)))
        stored = store.put_bytes(data)
        bulk = OcdsBulk(
            day=day, kind=kind, object_key=stored.key, sm3=stored.sm3, size=len(data), count=count, created_at=now
        )
        session.add(bulk)
        session.flush()
        record_event(
            session,
            SYSTEM,
            "ocds.bulk",
            bulk,
            {"day": day.isoformat(), "kind": kind, "sm3": stored.sm3, "count": count},
        )
        made += 1
    session.flush()
    return made


def bulk_due(session: Session, store: ObjectStore, now: dt.datetime) -> int:
    """Each finished day's files (Beijing) not written yet, from the first day anything was
    published up to yesterday: a scheduler that was down over midnight catches up (at most
    ``BULK_CATCH_UP_DAYS`` back; ``ggzy ocds bulk --day`` writes an older one)."""
    first = session.scalar(select(func.min(OcdsRelease.published_at)))
    if first is None:
        return 0
    yesterday = clock.local(now).date() - dt.timedelta(days=1)
    day = max(clock.local(clock.as_utc(first)).date(), yesterday - dt.timedelta(days=BULK_CATCH_UP_DAYS))
    made = 0
    while day <= yesterday:
        made += write_bulk(session, store, day, now)
        day += dt.timedelta(days=1)
    return made


def bulk_files(session: Session, limit: int = 60) -> Sequence[OcdsBulk]:
    return session.scalars(select(OcdsBulk).order_by(OcdsBulk.day.desc(), OcdsBulk.kind).limit(limit)).all()


def bulk_file(session: Session, day: dt.date, kind: str) -> OcdsBulk | None:
    return session.scalar(select(OcdsBulk).where(OcdsBulk.day == day, OcdsBulk.kind == kind))
