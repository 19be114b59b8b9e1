"""One scheduler per deployment (a lease in the database); jobs are idempotent and catch up on start."""

import datetime as dt
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from trading.accounts.models import LoginAttempt
from trading.accounts.tasks import prune_login_attempts
from trading.core.config import load_settings
from trading.core.db import Database, upgrade
from trading.core.scheduler import Job, LeaseScheduler
from trading.core.services import Services


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    upgrade(db_url)
    d = Database(db_url)
    with d.session() as s:  # start each test with a free lease
        from trading.core.models import SchedulerLease

        lease = s.get(SchedulerLease, 1)
        assert lease is not None
        lease.holder, lease.expires_at = "", clock.now() - dt.timedelta(seconds=1)
    yield d
    d.engine.dispose()


def test_only_one_scheduler_holds_the_lease(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ggzy.scheduler")
    calls: list[str] = []
    jobs = {"j": Job("j", lambda s, now, services: calls.append("j") or 1, 60)}
    a = LeaseScheduler(database, lease_seconds=30, jobs=jobs)
    b = LeaseScheduler(database, lease_seconds=30, jobs=jobs)
    assert a.try_acquire() and not b.try_acquire()
    assert a.run_job("j") == 1 and b.run_job("j") is None
    assert calls == ["j"]
    assert not b.try_acquire()  # still waiting: said once
    with clock.frozen(clock.now() + dt.timedelta(seconds=31)):  # a died: its lease runs out, b takes over
        assert b.try_acquire() and not a.try_acquire()
    b.release()
    said = [r.getMessage() for r in caplog.records if r.name == "ggzy.scheduler"]
    assert said == [
        "已取得定时任务租约，开始运行定时任务 (lease acquired; previous holder: —)",
        f"备用：租约由 {a.holder} 持有，它停止后接替 (standby: lease held by {a.holder})",
        f"已取得定时任务租约，开始运行定时任务 (lease acquired; previous holder: {a.holder})",
        f"备用：租约由 {b.holder} 持有，它停止后接替 (standby: lease held by {b.holder})",
    ]


def test_start_catches_up_and_failures_are_contained(database: Database) -> None:
    ran: list[str] = []

    def boom(s: Session, now: dt.datetime, services: Services) -> int:
        raise RuntimeError("storage down")

    jobs = {"ok": Job("ok", lambda s, now, services: ran.append("ok") or 0, 3600), "boom": Job("boom", boom, 3600)}
    sched = LeaseScheduler(database, jobs=jobs)
    assert sched.run_all_due() == {"ok": 0, "boom": None}
    assert ran == ["ok"]
    sched.release()


def test_apscheduler_runs_jobs_immediately_on_start(database: Database) -> None:
    import threading

    done = threading.Event()
    jobs = {"tick": Job("tick", lambda s, now, services: done.set() or 0, 3600)}
    sched = LeaseScheduler(database, jobs=jobs)
    sched.start()
    try:
        assert done.wait(10), "job did not run at start"
    finally:
        sched.shutdown()


def test_prune_is_idempotent(session: Session) -> None:
    now = clock.now()
    session.add_all(
        [
            LoginAttempt(username="a", ip="1", at=now - dt.timedelta(days=40), success=False),
            LoginAttempt(username="b", ip="1", at=now - dt.timedelta(days=1), success=False),
        ]
    )
    session.flush()
    assert prune_login_attempts(session, now, Services(load_settings())) == 1
    assert prune_login_attempts(session, now, Services(load_settings())) == 0  # running twice is harmless
    assert session.scalar(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)) == "login_attempt.prune"
