"""A decryption worker that dies mid-job (SIGKILL, OOM) has its job queued again at once on
PostgreSQL, not ten minutes later: each worker holds an advisory lock on a connection of its own for
as long as it lives, and the other workers' sweep takes a job whose worker's lock is free. A job
whose worker still lives is left alone, however long it runs."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import func, select

from archive import clock
from archive.audit import AuditEvent
from tests.trading.opening.test_ceremony import open_tender, release
from tests.trading.opening.test_hostile_packages import decrypting
from trading.core.services import services
from trading.opening.decryption import LIVENESS_LOCK_CLASS, Liveness, claim, requeue_stale, run_pending, worker_alive
from trading.opening.models import CeremonyBidder, DecryptionJob, JobState, Outcome

pytestmark = pytest.mark.integration


def test_a_dead_workers_job_is_queued_again_at_once(pg_app: Flask) -> None:
    client, db = pg_app.test_client(), pg_app.extensions["ggzy.db"]
    with db.session() as session:
        t = open_tender(client, session, pg_app, 3)  # fewer than three bids open nothing (招标投标法 28)
    at = t["deadline"] + dt.timedelta(seconds=1)
    with clock.frozen(at):
        decrypting(client, t)
        assert release(client, t, 0).status_code == 202
    worker = "host-a:4242"
    alive = Liveness(db.engine, worker)  # what the worker process holds while it runs
    alive.hold()
    with clock.frozen(at), db.session() as s:
        assert claim(s, services(pg_app), worker) is not None
    with db.session() as s:
        assert worker_alive(s, worker)
        assert requeue_stale(s, at + dt.timedelta(minutes=9)) == 0  # it lives: its job is its own
    alive.release()  # it dies: PostgreSQL drops its connection and the lock with it
    with db.session() as s:
        assert not worker_alive(s, worker)
        assert requeue_stale(s, at + dt.timedelta(seconds=2)) == 1
    with db.session() as s:
        job = s.scalars(select(DecryptionJob)).one()
        assert (job.state, job.worker, job.attempts) == (JobState.QUEUED, None, 1)
        requeued = s.scalar(select(func.count()).where(AuditEvent.action == "decryption.requeue"))
        assert requeued == 1
    with clock.frozen(at + dt.timedelta(seconds=3)):
        assert run_pending(db, services(pg_app), "host-b:77") == 1  # another worker finishes it
    with db.session() as s:
        job = s.scalars(select(DecryptionJob)).one()
        assert (job.state, job.worker, job.attempts) == (JobState.DONE, "host-b:77", 2)
        seat = s.get(CeremonyBidder, job.ceremony_bidder_id)
        assert seat is not None and seat.outcome == Outcome.DECRYPTED
        decrypted = s.scalar(select(func.count()).where(AuditEvent.action == "ceremony.decrypted"))
        assert decrypted == 1


def test_a_worker_cut_from_the_database_takes_its_lock_again(pg_app: Flask) -> None:
    """A worker whose liveness connection was cut (the database restarted, a proxy dropped it)
    takes its lock again before it claims the next job, or every job it took would be requeued
    under it and set aside after three tries."""
    from sqlalchemy import text

    db = pg_app.extensions["ggzy.db"]
    alive = Liveness(db.engine, "host-c:9")
    alive.hold()
    with db.engine.connect() as admin:  # the server ends the worker's session
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND classid = :c AND granted"
            ),
            {"c": LIVENESS_LOCK_CLASS},
        )
        admin.commit()
    with db.session() as s:
        assert not worker_alive(s, "host-c:9")
    alive.hold()  # notices, and takes it again
    with db.session() as s:
        assert worker_alive(s, "host-c:9")
    alive.release()
