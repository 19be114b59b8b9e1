"""A decryption worker that dies mid-job (SIGKILL, OOM) has its job queued again at once on
PostgreSQL, not ten minutes later: each worker holds an advisory lock on a connection of its own for
as long as it lives, and the other workers' sweep takes a job whose worker's lock is free. A job
whose worker still lives is its own for up to an hour; workers of older releases, which hold no
lock, keep the ten-minute rule."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from archive import clock
from archive.audit import AuditEvent
from tests.trading.opening.test_ceremony import open_tender, release
from tests.trading.opening.test_hostile_packages import decrypting
from trading.core.services import services
from trading.opening.decryption import claim, requeue_stale, run_pending
from trading.opening.models import CeremonyBidder, DecryptionJob, JobState, Outcome
from trading.opening.worker_liveness import LIVENESS_LOCK_CLASS, Liveness, liveness_key, worker_alive

pytestmark = pytest.mark.integration


def released(app: Flask) -> tuple[dict[str, Any], dt.datetime]:
    """A lot in its decryption window with one bidder's key released (one queued job)."""
    client, db = app.test_client(), app.extensions["ggzy.db"]
    with db.session() as session:
        t = open_tender(client, session, app, 3)  # fewer than three bids open nothing (招标投标法 28)
    at = t["deadline"] + dt.timedelta(seconds=1)
    with clock.frozen(at):
        decrypting(client, t)
        assert release(client, t, 0).status_code == 202
    return t, at


def gone(db: Any, worker: str) -> bool:
    """Whether ``worker``'s lock is free, waiting for it up to 10 s: PostgreSQL releases a lock when
    the session's server process has ended, a moment after its connection closed."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.session() as s:
            if not worker_alive(s, worker):
                return True
        time.sleep(0.05)
    return False


def count(db: Any, action: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


def test_a_dead_workers_job_is_queued_again_at_once(pg_app: Flask) -> None:
    db = pg_app.extensions["ggzy.db"]
    _, at = released(pg_app)
    first = Liveness(db.url)  # what the worker process holds while it runs
    first.hold()
    with clock.frozen(at), db.session() as s:
        assert claim(s, services(pg_app), first.worker) is not None
    with db.session() as s:
        assert worker_alive(s, first.worker)
        assert requeue_stale(s, at + dt.timedelta(minutes=59)) == 0  # it lives: its job is its own, even a slow one
    # its container is restarted: same host name, same pid; a new name all the same
    successor = Liveness(db.url)
    successor.hold()
    assert successor.worker != first.worker and successor.worker.rsplit(":", 1)[0] == first.worker.rsplit(":", 1)[0]
    first.close()  # the first dies: PostgreSQL drops its connection and the lock with it
    assert gone(db, first.worker)
    with db.session() as s:
        assert requeue_stale(s, at + dt.timedelta(seconds=2)) == 1
    with db.session() as s:
        job = s.scalars(select(DecryptionJob)).one()
        assert (job.state, job.worker, job.attempts) == (JobState.QUEUED, None, 1)
    assert count(db, "decryption.requeue") == 1
    with clock.frozen(at + dt.timedelta(seconds=3)):
        assert run_pending(db, services(pg_app), alive=successor) == 1  # the successor finishes it
    successor.close()
    with db.session() as s:
        job = s.scalars(select(DecryptionJob)).one()
        assert (job.state, job.worker, job.attempts) == (JobState.DONE, successor.worker, 2)
        seat = s.get(CeremonyBidder, job.ceremony_bidder_id)
        assert seat is not None and seat.outcome == Outcome.DECRYPTED
    assert count(db, "ceremony.decrypted") == 1


def test_a_worker_of_an_older_release_keeps_the_ten_minute_rule(pg_app: Flask) -> None:
    """Before the lock, workers named themselves host:pid and took none: during a rolling upgrade
    their jobs must not look abandoned to the new workers' sweep."""
    db = pg_app.extensions["ggzy.db"]
    _, at = released(pg_app)
    with clock.frozen(at), db.session() as s:
        assert claim(s, services(pg_app), "old-host:4242") is not None
    with db.session() as s:
        assert worker_alive(s, "old-host:4242")
        assert requeue_stale(s, at + dt.timedelta(minutes=9)) == 0
    with db.session() as s:
        assert requeue_stale(s, at + dt.timedelta(minutes=11)) == 1


def test_a_worker_cut_from_the_database_takes_its_lock_again_before_it_claims(pg_app: Flask) -> None:
    """A worker whose liveness connection was cut (the database restarted, a proxy dropped it)
    takes its lock again before it claims the next job, or every job it took would be requeued
    under it and set aside after three tries."""
    db = pg_app.extensions["ggzy.db"]
    _, at = released(pg_app)
    alive = Liveness(db.url)
    alive.hold()
    with db.engine.connect() as admin:  # the server ends the worker's session
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :c AND objid::bigint = CAST(:k AS bigint) & 4294967295"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"c": LIVENESS_LOCK_CLASS, "k": liveness_key(alive.worker)},
        )
        admin.commit()
    assert gone(db, alive.worker)
    with clock.frozen(at):
        assert run_pending(db, services(pg_app), alive=alive) == 1  # it notices before claiming
    with db.session() as s:
        assert worker_alive(s, alive.worker)
        job = s.scalars(select(DecryptionJob)).one()
        assert (job.state, job.worker, job.attempts) == (JobState.DONE, alive.worker, 1)
    alive.close()
