"""The audit log as a transparency log on SQLite and PostgreSQL: roots and proofs from the stored
subtrees, signed checkpoints, the deadline commitment, and verify-log finding every tampering."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from archive import clock
from archive import transparency as log
from archive.audit import ActorRef, AuditEvent, record_event
from archive.merkle import root_of, verify_consistency, verify_inclusion
from tests.factories import platform_keys
from tests.trading.opening.test_ceremony import open_tender
from trading.audit.tasks import sign_checkpoints_job
from trading.core.services import services

ACTOR = ActorRef("test", "tester")


def append(session: Session, n: int) -> None:
    for i in range(n):
        record_event(session, ACTOR, "test.event", ("test", str(i)), {"i": i})


def test_roots_and_proofs_from_the_stored_tree(session: Session) -> None:
    start = log.size(session)
    append(session, 37)
    size = log.size(session)
    leaves = list(session.scalars(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)))
    assert len(leaves) == size == start + 37
    for n in (1, 2, 3, size // 2, size - 1, size):
        assert log.root_at(session, n) == root_of(leaves[:n])
    root = log.root_at(session, size)
    for seq in (1, 2, size // 3, size - 1, size):
        assert verify_inclusion(seq - 1, size, leaves[seq - 1], log.inclusion_proof(session, seq, size), root)
    for old in (1, 5, size // 2, size):
        proof = log.consistency_proof(session, old, size)
        assert verify_consistency(old, size, log.root_at(session, old), root, proof)


def test_checkpoints_signed_and_verify_log_finds_tampering(session: Session, app: Flask) -> None:
    keys = platform_keys(app)
    append(session, 5)
    log.request_checkpoint(session, "test_moment", "test:1")
    append(session, 4)
    assert log.interval_checkpoint(session, dt.timedelta(seconds=0)) is not None
    assert log.sign_pending(session, keys.sign_key, keys.sign_cert) == 2
    assert log.sign_pending(session, keys.sign_key, keys.sign_cert) == 0  # nothing left to sign
    cps = log.signed_checkpoints(session)
    assert [c.reason for c in cps[-2:]] == ["test_moment", "interval"]
    body = log.verify_checkpoint(cps[-1].statement, keys.sign_cert)
    assert body["tree_size"] == log.size(session) and body["root_sm3"] == log.root_at(session, log.size(session)).hex()
    checked, problems = log.verify_log(session, keys.sign_cert)
    assert checked >= 2 and problems == []

    # one byte of a payload
    seq = cps[-1].tree_size - 1
    original = session.scalar(select(AuditEvent.payload).where(AuditEvent.seq == seq))
    session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(payload='{"i":99}'))
    assert any("altered" in p.problem for p in log.verify_log(session, keys.sign_cert)[1])
    session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(payload=original))
    # a replaced checkpoint root
    cp_id = cps[-1].id
    session.execute(update(log.LogCheckpoint).where(log.LogCheckpoint.id == cp_id).values(root_hash=bytes(32)))
    assert any("checkpoint" in p.where for p in log.verify_log(session, keys.sign_cert)[1])
    session.rollback()


def test_a_checkpoint_is_never_signed_before_an_event_it_covers(session: Session, app: Flask) -> None:
    """Two ways the signing instant could precede a covered event: the scheduler's job took its
    ``now`` before another process committed the event (seen on PostgreSQL with two schedulers),
    and the signer's clock lags the host that wrote the event. Either way verify-log must pass."""
    keys = platform_keys(app)
    start = clock.now() + dt.timedelta(hours=1)  # later than every event already in the log
    with clock.frozen(start) as frozen:
        job_started = clock.now()
        frozen.advance(seconds=3)  # an app process records and asks for a checkpoint meanwhile
        append(session, 2)
        log.request_checkpoint(session, "test_moment")
        frozen.advance(seconds=1)
        assert sign_checkpoints_job(session, job_started, services(app)) >= 1
        signed = log.signed_checkpoints(session)[-1]
        assert clock.as_utc(signed.signed_at) == start + dt.timedelta(seconds=4)  # read at signing

        append(session, 1)  # written on a host whose clock runs 2 s ahead of the signer's
        written = clock.as_utc(session.scalar(select(AuditEvent.at).order_by(AuditEvent.seq.desc()).limit(1)))
        log.request_checkpoint(session, "test_moment")
        frozen.set(written - dt.timedelta(seconds=2))
        log.sign_pending(session, keys.sign_key, keys.sign_cert)
        assert clock.as_utc(log.signed_checkpoints(session)[-1].signed_at) == written
        checked, problems = log.verify_log(session, keys.sign_cert)
    assert checked >= 2 and problems == []
    session.rollback()


def test_a_dropped_event_is_found(session: Session, app: Flask) -> None:
    keys = platform_keys(app)
    append(session, 6)
    log.request_checkpoint(session, "test_moment")
    log.sign_pending(session, keys.sign_key, keys.sign_cert)
    session.execute(delete(AuditEvent).where(AuditEvent.seq == log.size(session) - 2))
    problems = log.verify_log(session, keys.sign_cert)[1]
    assert any("missing" in p.problem for p in problems) and any(p.where.startswith("checkpoint") for p in problems)


def test_deadline_commitment_proves_each_bid(client: FlaskClient, session: Session, app: Flask) -> None:
    t: dict[str, Any] = open_tender(client, session, app, 3)
    code = t["code"]
    assert client.get(f"/api/v1/tenders/{code}/deadline-commitment").status_code == 404  # before the deadline
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        client.get(f"/api/v1/tenders/{code}")  # the deadline is enforced on the request: bidding closes
        assert sign_checkpoints_job(session, clock.now(), services(app)) >= 1
        session.commit()
        got = client.get(f"/api/v1/tenders/{code}/deadline-commitment").get_json()
    cp = got["checkpoint"]
    root = bytes.fromhex(cp["root_sm3"])
    assert len(got["bids"]) == 3
    for b in got["bids"]:
        leaf = session.scalar(select(AuditEvent.leaf_hash).where(AuditEvent.seq == b["seq"]))
        assert leaf is not None
        proof = [bytes.fromhex(h) for h in b["inclusion_proof"]]
        assert verify_inclusion(b["seq"] - 1, cp["tree_size"], leaf, proof, root)
    page = client.get(f"/tenders/{code}").get_data(as_text=True)
    assert "投标截止承诺" in page and got["bids"][0]["commitment"] in page
    # the log API: proofs only against signed sizes, bad input named
    r = client.get(f"/api/v1/log/inclusion?seq={got['bids'][0]['seq']}&size={cp['tree_size']}")
    assert r.status_code == 200 and r.get_json()["proof"] == got["bids"][0]["inclusion_proof"]
    assert client.get(f"/api/v1/log/inclusion?seq=1&size={cp['tree_size'] - 1}").status_code == 404
    assert client.get("/api/v1/log/inclusion?seq=x&size=1").status_code == 422
    sizes = [c["tree_size"] for c in client.get("/api/v1/log/checkpoints").get_json()["items"]]
    if len(sizes) >= 2:
        r = client.get(f"/api/v1/log/consistency?old={sizes[0]}&new={sizes[-1]}")
        assert r.status_code == 200
