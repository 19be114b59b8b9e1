"""The national data-exchange records of a whole tender: built from the audit events once a signed
checkpoint covers them, pushed to the reference receiver (a real HTTP server), which verifies every
proof; a record changed in transit is refused by name; retries are idempotent; a receiver that is
down is caught up with; nothing sealed is reported before the opening."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import pathlib
import socket
from collections import Counter
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive import transparency as log
from archive.audit import SYSTEM, AuditEvent
from infra.reference_receiver.receiver import Receiver, serve
from infra.reference_receiver.store import ReceiverStore
from signing.canonical import canonical_json
from tests.factories import api_token, make_user, page_login
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_cli import demo_environment
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_publicity, finish_award
from trading.accounts.models import Role
from trading.cli import main
from trading.cli.common import database, settings
from trading.core.services import Services, services
from trading.exchange.envelope import seal
from trading.exchange.models import FAILING, PUSHED, QUEUED, REFUSED, ExchangeRecord
from trading.exchange.pushing import BACKOFF_BASE, collect, http_post, push_due, requeue_refused
from trading.exchange.records import FIXED, IDENTITY, NOT_PROVEN, Built

WHOLE_TENDER = {
    "TENDER_PROJECT",
    "BID_SECTION",
    "TENDER_BULLETIN",
    "BID_OPEN_DETAIL",
    "EVALUATION_SCORE_DETAIL",
    "WIN_CANDIDATE_BULLETIN",
    "WIN_BID_BULLETIN",
}


def checkpoint(session: Session, app: Flask) -> None:
    """What the scheduler does every few minutes: a public checkpoint, signed."""
    keys = services(app).keys
    log.request_checkpoint(session, "interval")
    log.sign_pending(session, keys.sign_key, keys.sign_cert)
    session.commit()


def queue(session: Session, app: Flask) -> int:
    n = collect(session, services(app), clock.now())
    session.commit()
    return n


def pushing_to(app: Flask, url: str) -> Services:
    return Services(dataclasses.replace(services(app).settings, exchange_push_url=url))


def envelopes(session: Session) -> list[dict[str, Any]]:
    return [json.loads(r.envelope) for r in session.scalars(select(ExchangeRecord).order_by(ExchangeRecord.id))]


def awarded(client: FlaskClient, session: Session, app: Flask, t: dict[str, Any]) -> None:
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_publicity(client, session, app, t)
        finish_award(client, t, got, moment)
        checkpoint(session, app)


def test_a_whole_tender_is_pushed_and_every_proof_verifies(client: FlaskClient, session: Session, app: Flask) -> None:
    """One tender from publication to award (kept to one, for time): nothing sealed before the
    opening; the receiver down, then up; one record refused, fixed and sent again; every record
    accepted and verified; changes in transit refused; retries idempotent."""
    t = open_tender(client, session, app, 3)
    checkpoint(session, app)
    assert queue(session, app) == 3  # the tender, its lot and its announcement
    before = canonical_json(envelopes(session)).decode()
    for b in t["bidders"]:  # nothing sealed before the opening: not who bid, not even how many
        org = b.user.organisation
        assert org.credit_code not in before and org.name not in before
    assert {e["table"] for e in envelopes(session)} == {"TENDER_PROJECT", "BID_SECTION", "TENDER_BULLETIN"}

    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_publicity(client, session, app, t)
        checkpoint(session, app)
        n = 3 + queue(session, app)
        publicised = {e["table"] for e in envelopes(session)}
        assert "BID_OPEN_DETAIL" in publicised and "WIN_CANDIDATE_BULLETIN" in publicised
        assert "EVALUATION_SCORE_DETAIL" not in publicised  # the committee stays secret until the award
        finish_award(client, t, got, moment)
        checkpoint(session, app)
    n += queue(session, app)
    port = free_port()
    with clock.frozen(t["deadline"] + dt.timedelta(days=5)):  # after every record was queued
        rec, server = a_receiver_down_is_caught_up_with_and_one_refusal_holds_up_nothing(session, app, n, port)
    url = f"http://127.0.0.1:{port}/records"
    try:
        rows = session.scalars(select(ExchangeRecord)).all()
        assert {r.state for r in rows} == {PUSHED} and len(rows) == n
        kept = rec.store.records()
        assert len(kept) == n
        tables = Counter(g["table"] for g in kept)
        assert set(tables) == WHOLE_TENDER
        assert tables["BID_OPEN_DETAIL"] == 3 and tables["EVALUATION_SCORE_DETAIL"] == 15  # 5 members × 3 bids
        win = next(g["record"] for g in kept if g["table"] == "WIN_BID_BULLETIN")
        lot = next(g["record"] for g in kept if g["table"] == "BID_SECTION")
        code = t["code"]
        assert win["TENDER_PROJECT_CODE"] == code and win["BID_SECTION_CODE"] == f"{code}001"
        assert win["UNIFIED_DEAL_CODE"] == lot["UNIFIED_DEAL_CODE"] == f"DEMO00000000000000{code.replace('-', '')}001"
        opened = {
            g["record"]["BIDDER_ORG_CODE"]: g["record"]["BID_PRICE"] for g in kept if g["table"] == "BID_OPEN_DETAIL"
        }
        assert opened[win["WIN_BIDDER_CODE"]] == win["BID_AMOUNT"]
        for r in rows:  # each record's DATA_TIMESTAMP is its source event's time
            at = session.scalar(select(AuditEvent.at).where(AuditEvent.seq == r.source_seq))
            assert at is not None and clock.as_utc(at).isoformat(timespec="microseconds") == r.data_timestamp

        # staff see it; a bidder does not
        staff = make_user(session, Role.STAFF)
        hs = api_token(client, staff.username)
        body = client.get("/api/v1/exchange/records", headers=hs).get_json()
        assert body["counts"]["pushed"] == n and len(body["records"]) == n
        one = client.get(f"/api/v1/exchange/records/{rows[0].id}", headers=hs).get_json()
        assert one["envelope"]["proof"]["checkpoint"]
        assert client.get("/api/v1/exchange/records?state=nonsense", headers=hs).status_code == 422
        page_login(client, staff.username)
        html = client.get("/exchange").get_data(as_text=True)
        assert f"已推送 {n} 条" in html and "WIN_BID_BULLETIN" in html
        assert "推送的信封" in client.get(f"/exchange/{rows[0].id}").get_data(as_text=True)
        client.get("/logout")
        hb = api_token(client, t["bidders"][0].user.username)
        assert client.get("/api/v1/exchange/records", headers=hb).status_code == 403

        changes_in_transit_are_refused_and_retries_idempotent(session, app, rec, url, t)
    finally:
        server.shutdown()
        server.server_close()


def changes_in_transit_are_refused_and_retries_idempotent(
    session: Session, app: Flask, rec: Receiver, url: str, t: dict[str, Any]
) -> None:
    by_table = {e["table"]: e for e in envelopes(session)}
    win = by_table["WIN_BID_BULLETIN"]

    def send(env: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        reply = http_post(url, canonical_json(env))
        return reply.status, json.loads(reply.body)

    def changed(env: dict[str, Any], edit: Any) -> dict[str, Any]:
        out = copy.deepcopy(env)
        edit(out)
        return out

    cases = [
        (lambda e: e["record"].update(BID_AMOUNT="1.00"), "record_altered"),
        (lambda e: e["record"].update(DATA_TIMESTAMP="2030-01-01T00:00:00.000000+00:00"), "record_altered"),
        (lambda e: e["source"].update(payload=e["source"]["payload"].replace("0", "1", 1)), "payload_altered"),
        (lambda e: e["source"]["event"].update(actor="someone-else"), "record_altered"),
        (lambda e: e["proof"].update(hashes=e["proof"]["hashes"][:-1]), "inclusion_failed"),
        (lambda e: e["proof"].update(checkpoint=e["signature"]), "bad_checkpoint"),
        (lambda e: e.update(signature=by_table["TENDER_PROJECT"]["signature"]), "record_altered"),
        (lambda e: e.pop("proof"), "malformed_envelope"),
    ]
    for edit, code in cases:
        status, body = send(changed(win, edit))
        assert (status, body["code"]) == (422, code), (code, body)
    opening = by_table["BID_OPEN_DETAIL"]  # a document the event names by SM3, changed
    status, body = send(changed(opening, lambda e: e["source"].update(attachment=e["source"]["attachment"] + " ")))
    assert (status, body["code"]) == (422, "attachment_altered")
    assert len(rec.store.refusals()) == len(cases) + 2  # and the one refused earlier

    # the platform's record again (its retry): acknowledged again, stored once
    status, body = send(win)
    assert (status, body["status"]) == (200, "duplicate")
    assert len(rec.store.records("WIN_BID_BULLETIN")) == 1
    # a different record, properly signed, under the same key (table, DATA_KEY, DATA_TIMESTAMP)
    other = by_table["TENDER_PROJECT"]["record"] | {"TENDER_PROJECT_NAME": "另一个名称"}
    status, body = send(signed_by_platform(session, app, by_table["TENDER_PROJECT"], other))
    assert (status, body["code"]) == (409, "conflicting_record")
    # the platform itself signing a record its log disagrees with: each bound field is refused
    lies = [(win, "OTHER_CONTENT", "伪造的理由"), (win, "BID_AMOUNT", "1.00")]
    if "CONTENT" in opening["source"]["bindings"]:
        lies.append((opening, "CONTENT", '{"工期":"1"}'))
    for env, name, value in lies:
        status, body = send(signed_by_platform(session, app, env, env["record"] | {name: value}))
        assert (status, body["code"]) == (422, "record_mismatch") and name in body["message"], (name, body)
    # every field is bound to the log, an identity or fixed value, or listed as not proven
    for env in by_table.values():
        unbound = set(env["record"]) - set(env["source"]["bindings"]) - IDENTITY - FIXED
        assert unbound <= NOT_PROVEN[env["table"]], (env["table"], unbound - NOT_PROVEN[env["table"]])


def signed_by_platform(session: Session, app: Flask, env: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """``record`` sealed by the platform's key in the envelope of ``env``'s event, with its bindings."""
    ev = session.scalar(select(AuditEvent).where(AuditEvent.seq == env["source"]["event"]["seq"]))
    assert ev is not None
    src = env["source"]
    built = Built(env["table"], record, record["TENDER_PROJECT_CODE"], src["attachment"], src["attachment_of"])
    built.bindings = src["bindings"]
    cp = max(log.signed_checkpoints(session, public=True), key=lambda c: c.tree_size)
    return seal(session, ev, built, cp, services(app).keys, clock.now())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def a_receiver_down_is_caught_up_with_and_one_refusal_holds_up_nothing(
    session: Session, app: Flask, n: int, port: int
) -> tuple[Receiver, ThreadingHTTPServer]:
    """Pushed while nobody listens, then to the receiver once it is up; one record damaged at rest
    is refused by name while the rest go through, then fixed and sent again by staff. Returns the
    receiver, still serving."""
    svc = pushing_to(app, f"http://127.0.0.1:{port}/records")
    now = clock.now()
    assert push_due(session, svc, now) == 0  # nobody listens
    rows = session.scalars(select(ExchangeRecord).order_by(ExchangeRecord.id)).all()
    assert rows[0].state == FAILING and rows[0].next_attempt_at == now + BACKOFF_BASE
    assert all(r.state in (FAILING, QUEUED) for r in rows)  # the sweep stopped at the first: all would wait
    assert push_due(session, svc, now + dt.timedelta(seconds=1)) == 0
    assert rows[0].attempts == 1  # not due again before its back-off; the next one was tried instead
    assert rows[1].state == FAILING and rows[1].attempts == 1

    # one record damaged at rest: the receiver refuses it, the others go through
    bad = rows[2]
    env = json.loads(bad.envelope)
    env["record"]["DATA_KEY"] += "x"
    bad.envelope = canonical_json(env).decode()
    session.commit()
    r = Receiver(ReceiverStore(":memory:"), services(app).keys.sign_cert, services(app).settings.platform_code)
    server = serve(r, port=port)
    later = now + dt.timedelta(minutes=5)
    assert push_due(session, svc, later) == n - 1
    session.expire_all()
    states = Counter(x.state for x in session.scalars(select(ExchangeRecord)))
    assert states == {PUSHED: n - 1, REFUSED: 1}
    refused = session.get(ExchangeRecord, bad.id)
    assert refused is not None and refused.last_error and "record_altered" in refused.last_error
    assert len(r.store.records()) == n - 1
    # staff put the record right and send it again
    env["record"]["DATA_KEY"] = env["record"]["DATA_KEY"][:-1]
    refused.envelope = canonical_json(env).decode()
    assert requeue_refused(session, later, SYSTEM) == 1
    session.commit()
    assert push_due(session, svc, later) == 1
    actions = Counter(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("exchange.%"))))
    assert actions == {
        "exchange.queue": n,
        "exchange.push_failed": 2,
        "exchange.refused": 1,
        "exchange.requeue": 1,
        "exchange.pushed": n,
    }
    return r, server


def test_the_commands_on_an_empty_instance(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ggzy exchange status | export | push`` on a new instance: nothing to report, and no push
    without a receiver's address."""
    demo_environment(monkeypatch, tmp_path / "instance")
    monkeypatch.delenv("EXCHANGE_PUSH_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    r = runner.invoke(main, ["exchange", "status"])
    assert r.exit_code == 0 and "已推送 0　待推送 0　失败待重试 0　被拒收 0" in r.output, r.output
    out = tmp_path / "records.jsonl"
    r = runner.invoke(main, ["exchange", "export", "-o", str(out)])
    assert r.exit_code == 0 and out.read_text() == "", r.output
    r = runner.invoke(main, ["exchange", "push"])
    assert r.exit_code != 0 and "EXCHANGE_PUSH_URL" in r.output

    # what a hostile receiver answered is shown escaped, never as terminal control sequences
    with database(settings()).session() as session:
        now = clock.now()
        hostile = "HTTP 422 x: \x1b]0;pwned\x07\x1b[2J\x9b31m\u202egnp.exe"
        session.add(
            ExchangeRecord(
                table_name="TENDER_PROJECT",
                data_key="T-1",
                data_timestamp=now.isoformat(),
                tender_code="T-1",
                source_seq=1,
                envelope="{}",
                state=REFUSED,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                last_error=hostile,
            )
        )
        session.commit()
    for args in (["exchange", "status"], ["exchange", "status", "--json"]):
        r = runner.invoke(main, args)
        assert r.exit_code == 0, r.output
        assert not any(ch in r.output for ch in "\x1b\x07\x9b\u202e"), r.output
        assert "\\x1b]0;pwned" in r.output and "\\u202egnp.exe" in r.output, r.output
