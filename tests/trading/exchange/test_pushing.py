"""A push counts only when the receiver acknowledges the very envelope sent: a redirect (to a login
page, say) is not followed and not counted, nor a 2xx that does not name the envelope's SM3, nor an
answer too large to be one; the record's state moves only through ``lifecycle.move_record``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent
from signing.digest import sm3_hex
from tests.trading.exchange.test_exchange import pushing_to
from trading.exchange.lifecycle import RecordTransition, move_record
from trading.exchange.models import FAILING, PUSHED, QUEUED, REFUSED, ExchangeRecord
from trading.exchange.pushing import MAX_ANSWER, push_due

ENVELOPE = '{"format":"ggzy-exchange/1","table":"TENDER_PROJECT"}'


def a_record(session: Session, state: str = QUEUED) -> ExchangeRecord:
    now = clock.now()
    rec = ExchangeRecord(
        table_name="TENDER_PROJECT",
        data_key="T-1",
        data_timestamp=now.isoformat(),
        tender_code="T-1",
        source_seq=1,
        envelope=ENVELOPE,
        state=state,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(rec)
    session.commit()
    return rec


class Answers(BaseHTTPRequestHandler):
    """Answers a push as ``server.mode`` says; a GET is the login page a redirect would land on."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append(self.command)  # type: ignore[attr-defined]
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/login?next=\x1b[2J")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer: dict[str, Any] = {"status": "accepted", "table": "TENDER_PROJECT"}
        if mode in ("ack", "huge"):
            answer["envelope_sm3"] = sm3_hex(body)
        if mode == "other_ack":
            answer["envelope_sm3"] = sm3_hex(body + b" ")
        if mode == "huge":
            answer["padding"] = "x" * MAX_ANSWER
        data = json.dumps(answer).encode()
        self.send_response(204 if mode == "no_content" else 200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.seen.append(self.command)  # type: ignore[attr-defined]
        data = b"<html>login</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    server.seen, server.mode = [], "ack"  # type: ignore[attr-defined]
    Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("redirect", "HTTP 302 redirect to /login?next=\\x1b[2J (not followed)"),
        ("plain", "HTTP 200 not an acknowledgement of this record"),
        ("other_ack", "HTTP 200 not an acknowledgement of this record"),
        ("no_content", "HTTP 204 not an acknowledgement of this record"),
        ("huge", f"answer over {MAX_ANSWER} bytes"),
    ],
)
def test_only_an_acknowledgement_of_this_envelope_counts(
    session: Session, app: Flask, receiver: ThreadingHTTPServer, mode: str, error: str
) -> None:
    rec = a_record(session)
    svc = pushing_to(app, f"http://127.0.0.1:{receiver.server_address[1]}/records")
    receiver.mode = mode  # type: ignore[attr-defined]
    now = clock.now()
    assert push_due(session, svc, now) == 0
    session.refresh(rec)
    assert rec.state == FAILING and rec.last_error and error in rec.last_error, rec.last_error
    assert receiver.seen == ["POST"]  # type: ignore[attr-defined]  # the redirect was not followed
    assert "\x1b" not in rec.last_error
    receiver.mode = "ack"  # type: ignore[attr-defined]
    assert push_due(session, svc, now + dt.timedelta(minutes=1)) == 1
    session.refresh(rec)
    assert rec.state == PUSHED and rec.last_error is None and rec.attempts == 0
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("exchange.%"))).all()
    assert actions == ["exchange.push_failed", "exchange.pushed"]


def test_a_record_moves_only_where_its_life_allows(session: Session) -> None:
    rec = a_record(session, PUSHED)
    with pytest.raises(RecordTransition) as caught:
        move_record(session, SYSTEM, rec, QUEUED)
    assert caught.value.code == "exchange_transition" and rec.state == PUSHED
    other = a_record_refused(session)
    assert move_record(session, SYSTEM, other, QUEUED) and other.state == QUEUED
    assert move_record(session, SYSTEM, other, FAILING)
    assert not move_record(session, SYSTEM, other, FAILING)  # failing again: no move, no event
    session.commit()
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert [a for a in actions if a.startswith("exchange.")] == ["exchange.requeue", "exchange.push_failed"]


def a_record_refused(session: Session) -> ExchangeRecord:
    rec = a_record(session, REFUSED)
    rec.data_key = "T-2"
    session.commit()
    return rec
