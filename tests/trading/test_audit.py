"""The hash-chained audit trail: appends, tamper detection, and concurrent appends on PostgreSQL."""

import threading

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archive.audit import ActorRef, AuditEvent, leaf_hash, record_event, verify_chain
from tests.conftest import fresh_pg_database

ACTOR = ActorRef("user:1", "staff")


def test_events_chain_and_verify(session: Session) -> None:
    seqs = [
        record_event(session, ACTOR, "tender.publish", ("tender", str(i)), {"n": i, "名称": "某工程"}) for i in range(5)
    ]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    ev = session.get(AuditEvent, seqs[1])  # written by the flush this query makes
    assert ev is not None and ev.leaf_hash == leaf_hash(ev.canonical())
    assert verify_chain(session) == []


@pytest.mark.parametrize("tamper", ["payload", "action", "delete", "chain"])
def test_tampering_is_detected(session: Session, tamper: str) -> None:
    seqs = [record_event(session, ACTOR, "bid.submit", ("bid", str(i)), {"i": i}) for i in range(4)]
    session.commit()  # tampering comes after the fact
    target_seq = seqs[1]
    if tamper == "payload":
        session.execute(update(AuditEvent).where(AuditEvent.seq == target_seq).values(payload='{"i":99}'))
    elif tamper == "action":
        session.execute(update(AuditEvent).where(AuditEvent.seq == target_seq).values(action="bid.withdraw"))
    elif tamper == "delete":
        session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": target_seq})
    else:
        session.execute(update(AuditEvent).where(AuditEvent.seq == target_seq).values(chain_hash=bytes(32)))
    session.expire_all()
    problems = verify_chain(session)
    assert problems and any(p.seq in (target_seq, target_seq + 1) for p in problems)


def test_non_canonical_payload_refused(session: Session) -> None:
    from signing.errors import StatementError

    with pytest.raises(StatementError):
        record_event(session, ACTOR, "x.y", ("x", "1"), {"price": 1.5})


@pytest.mark.integration
def test_concurrent_appends_are_gap_free_on_postgresql() -> None:
    with fresh_pg_database("ggzy_appends") as url:  # its commits stay out of the worker's database
        concurrent_appends(url)


def concurrent_appends(url: str) -> None:
    from trading.core.db import Database, upgrade

    upgrade(url)
    database = Database(url)
    engine: Engine = database.engine
    with database.session() as s:
        start = s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(40):
                with database.session() as s:
                    record_event(s, ActorRef(f"user:{k}", "bidder"), "bid.submit", ("bid", f"{k}-{i}"), {"k": k})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with database.session() as s:
        seqs = list(s.scalars(select(AuditEvent.seq).where(AuditEvent.seq > start).order_by(AuditEvent.seq)))
        assert seqs == list(range(start + 1, start + 241))
        assert verify_chain(s) == []
    engine.dispose()
