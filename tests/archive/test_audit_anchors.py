"""Audit integrity between checkpoints: ``ggzy audit verify`` holds every event against the roots the
platform signed and against the copies of those checkpoints in the archive store (WORM), and the
scheduler anchors any growth of the log within seconds, so that whoever can write the database
(events, hash chain, Merkle nodes, checkpoint rows) cannot rewrite history unseen."""

from __future__ import annotations

import datetime as dt
import pathlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from archive import clock
from archive import transparency as log
from archive.audit import GENESIS, ActorRef, AuditEvent, AuditHead, MerkleNode, leaf_hash, record_event
from archive.merkle import pack_frontier, push
from signing.canonical import canonical_json
from signing.digest import sm3
from trading.audit.tasks import sign_checkpoints_job
from trading.cli import main
from trading.core.config import Settings, load_settings
from trading.core.db import Database, upgrade
from trading.core.scheduler import JOBS, LeaseScheduler
from trading.core.services import Services

ACTOR = ActorRef("user:7", "staff")


@dataclass
class Instance:
    settings: Settings
    database: Database
    services: Services


@pytest.fixture
def inst(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Instance]:
    """An instance of its own (SQLite file, filesystem archive store), as ``ggzy`` commands see it."""
    monkeypatch.setenv("GGZY_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("GGZY_ENV", "test")
    for var in ("DATABASE_URL", "OBJECT_STORE_URL", "ARCHIVE_STORE_URL", "SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    settings = load_settings()
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    yield Instance(settings, database, Services(settings))
    database.engine.dispose()


def events(db: Database, n: int, tag: str = "e") -> None:
    with db.session() as s:
        for i in range(n):
            record_event(s, ACTOR, "tender.step", ("tender", f"{tag}{i}"), {"i": i, "tag": tag})


def job(inst: Instance, at: dt.datetime) -> int:
    with clock.frozen(at), inst.database.session() as s:
        return sign_checkpoints_job(s, clock.now(), inst.services)


def forge(s: Session, seq: int, payload: dict[str, object] | None) -> None:
    """What an attacker with write access to the database does: edit (or delete) an event, then
    recompute every payload SM3, leaf, chain hash, Merkle node and the head after it, so that the
    hash chain and the stored tree are consistent again."""
    if payload is None:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == seq))
        for ev in s.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)).all():
            ev.seq -= 1  # close the gap
            s.flush()
    else:
        body = canonical_json(payload)
        s.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(payload=body.decode(), payload_sm3=sm3(body)))
    s.execute(delete(MerkleNode))
    chain, frontier, nodes = GENESIS, [], []
    for ev in s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all():
        ev.leaf_hash = leaf_hash(ev.canonical())
        chain = ev.chain_hash = sm3(chain + ev.leaf_hash)
        nodes += push(frontier, ev.leaf_hash, ev.seq - 1)
        last = ev.seq
    s.flush()
    s.add_all(MerkleNode(level=lv, index=i, hash=h) for lv, i, h in nodes)
    s.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=last, chain_hash=chain, frontier=pack_frontier(frontier))
    )
    s.commit()


def audit_verify() -> tuple[int, str]:
    r = CliRunner().invoke(main, ["audit", "verify"])
    return r.exit_code, r.output


def test_an_edited_payload_with_a_recomputed_chain_fails_audit_verify(inst: Instance) -> None:
    now = clock.now() + dt.timedelta(minutes=1)
    events(inst.database, 6)
    assert job(inst, now) == 1
    assert audit_verify()[0] == 0
    with inst.database.session() as s:
        forge(s, 3, {"i": 99, "tag": "e"})
        assert log.verify_chain(s) == []  # the forgery is complete: the chain alone accepts it
    code, out = audit_verify()
    assert code == 1 and "root mismatch" in out and "Traceback" not in out, out


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_an_event_after_the_last_checkpoint_is_anchored_within_seconds(inst: Instance, tamper: str) -> None:
    """The window in which an event is not yet under a signed root: the job runs every 2 s and
    anchors any growth at least CHECKPOINT_ANCHOR_SECONDS after the last checkpoint."""
    window = JOBS["sign_checkpoints"].every_seconds + inst.settings.checkpoint_anchor_seconds
    assert window <= 4
    t0 = clock.now() + dt.timedelta(minutes=1)  # checkpoints are signed after the events they cover
    events(inst.database, 5, "before")
    assert job(inst, t0) == 1  # the last checkpoint before the events under attack
    events(inst.database, 3, "after")  # …an ordinary (not decisive) event right after it
    assert job(inst, t0 + dt.timedelta(seconds=window)) == 1  # the scheduler's next runs anchor it
    with inst.database.session() as s:
        size = log.size(s)
        anchors = [c for c in log.signed_checkpoints(s) if c.reason == log.ANCHOR]
        assert anchors and anchors[-1].tree_size == size
        forge(s, size - 1, {"i": 0, "tag": "rewritten"} if tamper == "edit" else None)
    code, out = audit_verify()
    assert code == 1 and ("root mismatch" in out or "log truncated" in out), out
    assert CliRunner().invoke(main, ["archive", "verify-log"]).exit_code == 1


def test_rewritten_or_deleted_checkpoints_disagree_with_the_stored_copies(inst: Instance) -> None:
    t0 = clock.now() + dt.timedelta(minutes=1)  # checkpoints are signed after the events they cover
    for k in range(3):
        events(inst.database, 4, f"r{k}")
        assert job(inst, t0 + dt.timedelta(seconds=10 * k)) == 1
    with inst.database.session() as s:
        cps = log.signed_checkpoints(s)
        stored, problems = log.stored_checkpoints(inst.services.archive_store, inst.services.keys.sign_cert)
        assert problems == [] and {c.body["id"] for c in stored} == {c.id for c in cps}
        for c in stored:  # each copy is retained (COMPLIANCE) in the WORM store
            meta = inst.services.archive_store.stat(c.key)
            assert meta is not None and meta.retain_until is not None and meta.retain_until > t0
    r = CliRunner().invoke(main, ["archive", "verify-log"])
    assert r.exit_code == 0, r.output

    # a checkpoint row swapped for another validly signed one
    with inst.database.session() as s:
        first, second = cps[0], cps[1]
        s.execute(
            update(log.LogCheckpoint)
            .where(log.LogCheckpoint.id == first.id)
            .values(statement=second.statement, tree_size=second.tree_size, root_hash=second.root)
        )
        s.commit()
    r = CliRunner().invoke(main, ["archive", "verify-log"])
    assert r.exit_code == 1 and f"checkpoint {first.id}" in r.output and "stored copy" in r.output, r.output
    with inst.database.session() as s:
        s.execute(
            update(log.LogCheckpoint)
            .where(log.LogCheckpoint.id == first.id)
            .values(statement=first.statement, tree_size=first.tree_size, root_hash=first.root)
        )
        s.commit()
    assert CliRunner().invoke(main, ["archive", "verify-log"]).exit_code == 0

    # an event rewritten, chain recomputed, and every checkpoint row that covered it deleted
    with inst.database.session() as s:
        forge(s, 2, {"i": 42, "tag": "r0"})
        s.execute(delete(log.LogCheckpoint))
        s.commit()
        _, found = log.verify_log(s, inst.services.keys.sign_cert)
        assert found == []  # the database alone now tells a consistent story…
    r = CliRunner().invoke(main, ["archive", "verify-log"])
    out = r.output
    assert r.exit_code == 1 and "missing from the database" in out and "root mismatch" in out, (
        out
    )  # …the store does not
    assert audit_verify()[0] == 1


def test_the_scheduler_anchors_a_decisive_event_within_seconds(inst: Instance) -> None:
    """Real time, the real scheduler: after a decisive moment and after plain growth, a signed,
    stored checkpoint covers the event within the window."""
    sched = LeaseScheduler(inst.database, jobs={"sign_checkpoints": JOBS["sign_checkpoints"]}, services=inst.services)
    sched.start()
    try:
        for decisive in (True, False):
            with inst.database.session() as s:
                record_event(s, ACTOR, "bid.deadline", ("tender", "1"), {"decisive": decisive})
                if decisive:
                    log.request_checkpoint(s, "bid_deadline", "tender:1")
                s.flush()
                size = log.size(s)
            start = time.monotonic()
            while time.monotonic() - start < 8:
                with inst.database.session() as s:
                    if any(c.tree_size >= size for c in log.signed_checkpoints(s)):
                        break
                time.sleep(0.1)
            elapsed = time.monotonic() - start
            assert elapsed < 5, (decisive, elapsed)
    finally:
        sched.shutdown()
    stored, _ = log.stored_checkpoints(inst.services.archive_store, inst.services.keys.sign_cert)
    assert max(c.body["tree_size"] for c in stored) >= size


def test_anchors_stay_out_of_the_public_api(inst: Instance) -> None:
    from trading.app import create_app

    t0 = clock.now() + dt.timedelta(minutes=1)  # checkpoints are signed after the events they cover
    events(inst.database, 3)
    job(inst, t0)  # the first checkpoint is a public interval one
    events(inst.database, 2, "x")
    job(inst, t0 + dt.timedelta(seconds=3))  # an anchor
    client = create_app(inst.settings).test_client()
    items = client.get("/api/v1/log/checkpoints").get_json()["items"]
    assert [i["reason"] for i in items] == ["interval"]
    with inst.database.session() as s:
        anchor = log.signed_checkpoints(s)[-1]
        assert anchor.reason == log.ANCHOR
        assert log.verify_checkpoint(anchor.statement, inst.services.keys.sign_cert)["id"] == anchor.id
    assert client.get(f"/api/v1/log/inclusion?seq=1&size={anchor.tree_size}").status_code == 404


def append_forged(s: Session, at: dt.datetime) -> int:
    """What a database writer does: append an event of its own making with the time it likes,
    then make the chain, the tree and the head agree with it (``forge``)."""
    seq = log.size(s) + 1
    payload = {"i": 0, "tag": "forged"}
    body = canonical_json(payload)
    s.add(
        AuditEvent(
            seq=seq,
            at=at,
            actor_id="user:7",
            actor_role="staff",
            action="tender.step",
            object_type="tender",
            object_id="forged",
            payload=body.decode(),
            payload_sm3=sm3(body),
            leaf_hash=bytes(32),
            chain_hash=bytes(32),
        )
    )
    s.flush()
    forge(s, seq, payload)
    return seq


def test_a_backdated_forged_event_is_a_finding_even_once_signed(inst: Instance) -> None:
    """An appended event 3 days before its predecessor, then signed by the next anchor: `ggzy
    audit verify` said intact (nothing checked that event times never go backwards)."""
    events(inst.database, 3)
    with inst.database.session() as s:
        before = clock.as_utc(s.scalars(select(AuditEvent.at).order_by(AuditEvent.seq.desc()).limit(1)).one())
        seq = append_forged(s, before - dt.timedelta(days=3))
    assert job(inst, clock.now() + dt.timedelta(seconds=5)) == 1  # the anchor signs the forgery
    code, out = audit_verify()
    assert code == 1 and f"event {seq}" in out and "event time goes backwards" in out, out
    assert CliRunner().invoke(main, ["archive", "verify-log"]).exit_code == 1


def test_an_event_later_than_the_checkpoint_that_covers_it_is_a_finding(inst: Instance) -> None:
    events(inst.database, 3)
    signed = clock.now() + dt.timedelta(seconds=5)
    with inst.database.session() as s:
        seq = append_forged(s, signed + dt.timedelta(hours=1))
    assert job(inst, signed) == 1
    code, out = audit_verify()
    assert code == 1 and f"event {seq}" in out and "later than the signed checkpoint" in out, out


def test_times_stay_in_order_when_the_clock_steps_back(inst: Instance) -> None:
    """Times are taken under the head's lock and never before the previous event's."""
    events(inst.database, 2, "now")
    with clock.frozen(clock.now() - dt.timedelta(days=3)):
        events(inst.database, 2, "stepped-back")
    with inst.database.session() as s:
        times = [clock.as_utc(t) for t in s.scalars(select(AuditEvent.at).order_by(AuditEvent.seq))]
        assert times == sorted(times)
    assert job(inst, clock.now() + dt.timedelta(seconds=5)) == 1
    assert audit_verify()[0] == 0
