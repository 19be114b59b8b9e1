"""Queueing and pushing the national records.

``collect`` reads the audit events up to the largest public signed checkpoint (never beyond: a
record is only built once its event can be proven), builds their records, seals each in its
envelope and queues it; the envelope is fixed then, so every retry sends the same bytes.

``push_due`` posts each due record to ``exchange_push_url`` in a transaction of its own. The
receiver's key is (PLATFORM_CODE, table, DATA_KEY, DATA_TIMESTAMP): the same record again is
acknowledged again, a different one under the same key is refused. Outcomes: 200/201 with a JSON
answer acknowledging this very envelope (its ``envelope_sm3``) → pushed; a redirect (never followed),
any other 2xx, the receiver unreachable, 5xx or 429 → failing, tried again after BACKOFF_BASE ×
2^(n−1) (at most BACKOFF_MAX), for as long as it takes; a named 4xx refusal → refused (final: the
receiver found something wrong; staff push it again by hand once it is understood). The state moves
only through ``lifecycle.move_record`` (each change with its audit event; a repeated failure of a
failing record writes none, it only moves its next attempt).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import SYSTEM, Actor, AuditEvent, record_event, write_pending
from archive.db import locked
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from trading.core.db import locked_singleton
from trading.core.scheduler import each_apart, error_summary
from trading.core.schemas import printable
from trading.core.services import Services
from trading.exchange.envelope import latest_checkpoint, seal
from trading.exchange.lifecycle import move_record
from trading.exchange.models import FAILING, PUSHED, QUEUED, REFUSED, ExchangeCursor, ExchangeRecord
from trading.exchange.records import SOURCES, build

log = logging.getLogger("ggzy.exchange")
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_MAX = dt.timedelta(hours=1)
BATCH = 500
TIMEOUT_SECONDS = 10
MAX_ANSWER = 64 << 10  # an acknowledgement is a few hundred bytes; a receiver's page is not read whole

#: (url, JSON body) → the receiver's answer; raises OSError when nothing answered
Transport = Callable[[str, bytes], "Reply"]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    location: str | None = None  # a redirect's target: named in last_error, never followed


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is not an acknowledgement: urllib would follow a 301/302 with a GET without the
    body (a login page's 200 would then count as pushed). It comes back as the 3xx it is."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _read_capped(resp: Any) -> bytes:
    data: bytes = resp.read(MAX_ANSWER + 1)
    if len(data) > MAX_ANSWER:
        raise OSError(f"answer over {MAX_ANSWER} bytes")
    return data


def http_post(url: str, body: bytes) -> Reply:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with _opener.open(req, timeout=TIMEOUT_SECONDS) as resp:
            return Reply(resp.status, _read_capped(resp))
    except urllib.error.HTTPError as exc:  # an answer, just not a 2xx (3xx included: not followed)
        with exc:
            return Reply(exc.code, _read_capped(exc), exc.headers.get("Location"))


def acknowledged(answer: bytes, body: bytes) -> bool:
    """The receiver's answer acknowledges exactly ``body``: JSON whose ``envelope_sm3`` is the SM3
    of the bytes sent, with status accepted or duplicate (``infra/reference_receiver``)."""
    try:
        parsed = json.loads(answer)
    except ValueError:
        return False
    return (
        isinstance(parsed, dict)
        and parsed.get("status") in ("accepted", "duplicate")
        and parsed.get("envelope_sm3") == sm3_hex(body)
    )


def _cursor(session: Session) -> ExchangeCursor:
    return locked_singleton(session, ExchangeCursor, seq=0)


def collect(session: Session, services: Services, now: dt.datetime, actor: Actor = SYSTEM) -> int:
    """Queue the records of every event not yet read and covered by a public signed checkpoint.
    An event whose records cannot be built is recorded (``exchange.build_failed``) and passed over:
    it must not stop the events after it. Returns how many records were queued."""
    cp = latest_checkpoint(session)
    cur = _cursor(session)
    if cp is None or cp.tree_size <= cur.seq:
        return 0
    platform_code = services.settings.platform_code
    queued = 0
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.seq > cur.seq, AuditEvent.seq <= cp.tree_size, AuditEvent.action.in_(SOURCES))
        .order_by(AuditEvent.seq)
        .limit(BATCH)
    ).all()
    for ev in events:
        write_pending(session)  # appends made before the savepoint must not be dropped with it
        try:
            with session.begin_nested():
                for built in build(session, ev, platform_code, services.store):
                    key = (built.table, built.fields["DATA_KEY"], built.fields["DATA_TIMESTAMP"])
                    exists = session.scalar(
                        select(ExchangeRecord.id).where(
                            ExchangeRecord.table_name == key[0],
                            ExchangeRecord.data_key == key[1],
                            ExchangeRecord.data_timestamp == key[2],
                        )
                    )
                    if exists is not None:
                        continue
                    source = built.source or ev
                    envelope = seal(session, source, built, cp, services.keys, now)
                    rec = ExchangeRecord(
                        table_name=key[0],
                        data_key=key[1],
                        data_timestamp=key[2],
                        tender_code=built.tender_code,
                        source_seq=source.seq,
                        envelope=canonical_json(envelope).decode("utf-8"),
                        state=QUEUED,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    session.add(rec)
                    session.flush()
                    record_event(
                        session,
                        actor,
                        "exchange.queue",
                        rec,
                        {"table": key[0], "data_key": key[1], "data_timestamp": key[2], "source_seq": source.seq},
                    )
                    queued += 1
        except Exception as exc:  # a broken event: recorded, and the others go on
            log.error("exchange: records of event %s not built", ev.seq, exc_info=exc)
            record_event(session, actor, "exchange.build_failed", ("audit_event", str(ev.seq)), error_summary(exc))
    # a full batch leaves the rest for the next run (a first run over a long history stays short)
    cur.seq = events[-1].seq if len(events) == BATCH else cp.tree_size
    return queued


@dataclass(frozen=True)
class Outcome:
    state: str
    detail: str | None = None
    receipt: str | None = None


def _outcome(transport: Transport, url: str, body: bytes) -> Outcome:
    try:
        reply = transport(url, body)
    except OSError as exc:
        return Outcome(FAILING, f"unreachable: {error_summary(exc)['message']}")
    status, text = reply.status, printable(reply.body.decode("utf-8", "replace")[:2000])
    if status in (200, 201) and acknowledged(reply.body, body):
        return Outcome(PUSHED, receipt=text)
    if 200 <= status < 300:  # a 2xx that does not acknowledge this envelope: not received
        return Outcome(FAILING, f"HTTP {status} not an acknowledgement of this record: {text}"[:400])
    if 300 <= status < 400:
        return Outcome(FAILING, f"HTTP {status} redirect to {printable(reply.location or '?')} (not followed)"[:400])
    try:
        parsed = json.loads(text)
        named = f"{parsed.get('code')}: {parsed.get('message')}" if isinstance(parsed, dict) else text
    except ValueError:
        named = text
    if 400 <= status < 500 and status != 429:
        return Outcome(REFUSED, f"HTTP {status} {named}"[:400])
    return Outcome(FAILING, f"HTTP {status} {named}"[:400])


def push_one(
    session: Session, rec: ExchangeRecord, url: str, transport: Transport, now: dt.datetime, actor: Actor = SYSTEM
) -> bool:
    """Post one record and record what came of it; True when the receiver acknowledged it."""
    out = _outcome(transport, url, rec.envelope.encode("utf-8"))
    if out.state == PUSHED:
        rec.pushed_at, rec.receipt, rec.last_error = now, out.receipt, None
        move_record(session, actor, rec, PUSHED, after_failures=rec.attempts)
        rec.attempts = 0
        return True
    rec.last_error = out.detail
    if out.state == REFUSED:
        move_record(session, actor, rec, REFUSED, error=out.detail)
        return False
    rec.attempts += 1
    rec.next_attempt_at = now + min(BACKOFF_BASE * 2 ** (rec.attempts - 1), BACKOFF_MAX)
    move_record(session, actor, rec, FAILING, error=out.detail)  # no event when it was failing already
    return False


def due(session: Session, now: dt.datetime, limit: int = 200) -> list[int]:
    return list(
        session.scalars(
            select(ExchangeRecord.id)
            .where(ExchangeRecord.state.in_((QUEUED, FAILING)), ExchangeRecord.next_attempt_at <= now)
            .order_by(ExchangeRecord.next_attempt_at, ExchangeRecord.id)
            .limit(limit)
        )
    )


def push_due(
    session: Session,
    services: Services,
    now: dt.datetime,
    transport: Transport = http_post,
    actor: Actor = SYSTEM,
    ids: list[int] | None = None,
) -> int:
    """Push every due record (or ``ids``), each in its own transaction. Stops early when the
    receiver cannot be reached at all (the rest would only wait for the same timeout); they stay
    due and go first at the next run. Returns how many were accepted."""
    url = services.settings.exchange_push_url
    if not url:
        return 0
    todo = due(session, now) if ids is None else ids
    unreachable = False

    def move(record_id: int) -> int:
        nonlocal unreachable
        if unreachable:
            return 0
        rec = session.scalar(locked(select(ExchangeRecord).where(ExchangeRecord.id == record_id)))
        if rec is None or rec.state == PUSHED:
            return 0
        ok = push_one(session, rec, url, transport, now, actor)
        unreachable = not ok and (rec.last_error or "").startswith("unreachable")
        return int(ok)

    return each_apart(session, todo, move, "exchange_push")


def requeue_refused(session: Session, now: dt.datetime, actor: Actor) -> int:
    """Staff's decision to send the refused records again (after the cause was fixed)."""
    n = 0
    for rec in session.scalars(select(ExchangeRecord).where(ExchangeRecord.state == REFUSED)):
        rec.next_attempt_at, rec.attempts = now, 0
        move_record(session, actor, rec, QUEUED)
        n += 1
    return n


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(ExchangeRecord.state, func.count()).group_by(ExchangeRecord.state)).all()
    return {state: 0 for state in (QUEUED, FAILING, PUSHED, REFUSED)} | {s: int(n) for s, n in rows}
