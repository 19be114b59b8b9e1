"""Time-driven work: APScheduler under a database lease, so exactly one scheduler runs.

Jobs are *sweeps*: each selects what is due at ``now`` and calls the one transition function
for it, so a job that fires late, twice or not at all is harmless (every deadline is also
enforced when a request arrives). On start every job runs at once, which catches up anything
missed while no scheduler ran.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from archive.db import locked
from trading.accounts.models import LoginAttempt
from trading.config import load_settings
from trading.db import Database
from trading.scheduler_models import SchedulerLease
from trading.services import Services

log = logging.getLogger("ggzy.scheduler")
JobFn = Callable[[Session, dt.datetime, Services], int]


@dataclass(frozen=True)
class Job:
    name: str
    fn: JobFn
    every_seconds: int


JOBS: dict[str, Job] = {}


def job(name: str, every_seconds: int) -> Callable[[JobFn], JobFn]:
    """Register a sweep; it returns how many things it changed."""

    def register(fn: JobFn) -> JobFn:
        JOBS[name] = Job(name, fn, every_seconds)
        return fn

    return register


@job("prune_login_attempts", every_seconds=3600)
def prune_login_attempts(session: Session, now: dt.datetime, services: Services) -> int:
    """Login attempts only matter for the rate-limit window; keep 30 days for investigations."""
    cutoff = now - dt.timedelta(days=30)
    result = cast("CursorResult[Any]", session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff)))
    n = result.rowcount
    if n:
        record_event(
            session, SYSTEM, "login_attempt.prune", ("login_attempt", "*"), {"before": cutoff.isoformat(), "count": n}
        )
    return int(n)


def load_jobs() -> dict[str, Job]:
    """Every module that registers jobs is imported by the composition root."""
    from trading.app import import_job_modules

    import_job_modules()
    return JOBS


class LeaseScheduler:
    """Holds the single scheduler lease while it runs the registered jobs."""

    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: int = 30,
        jobs: dict[str, Job] | None = None,
        services: Services | None = None,
    ) -> None:
        self.database = database
        self.services = services or Services(load_settings())
        self.lease_seconds = lease_seconds
        if jobs is None:
            load_jobs()
        self.jobs = JOBS if jobs is None else jobs
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._aps: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self.runs: dict[str, int] = {}

    def try_acquire(self) -> bool:
        """Take or renew the lease; False while another live scheduler holds it."""
        with self.database.session() as s:
            lease = s.execute(locked(select(SchedulerLease).where(SchedulerLease.id == 1))).scalar_one()
            now = clock.now()
            if lease.holder not in ("", self.holder) and lease.expires_at > now:
                return False
            if lease.holder != self.holder:
                lease.acquired_at = now
                record_event(
                    s,
                    SYSTEM,
                    "scheduler.acquire",
                    ("scheduler", "1"),
                    {"holder": self.holder, "previous": lease.holder},
                )
            lease.holder = self.holder
            lease.expires_at = now + dt.timedelta(seconds=self.lease_seconds)
            return True

    def release(self) -> None:
        with self.database.session() as s:
            lease = s.execute(locked(select(SchedulerLease).where(SchedulerLease.id == 1))).scalar_one()
            if lease.holder == self.holder:
                lease.holder = ""
                lease.expires_at = clock.now()

    def run_job(self, name: str) -> int | None:
        """Run one job if (and only if) this process holds the lease."""
        with self._lock:
            if not self.try_acquire():
                return None
            j = self.jobs[name]
            try:
                with self.database.session() as s:
                    changed = j.fn(s, clock.now(), self.services)
            except Exception:
                log.exception("job %s failed; it will run again at its next interval", name)
                return None
            self.runs[name] = self.runs.get(name, 0) + 1
            return changed

    def run_all_due(self) -> dict[str, int | None]:
        """The catch-up at start: every job once."""
        return {name: self.run_job(name) for name in self.jobs}

    def start(self) -> None:
        aps = BackgroundScheduler(timezone=dt.UTC)
        start = dt.datetime.now(dt.UTC)
        for name, j in self.jobs.items():
            aps.add_job(
                self.run_job,
                IntervalTrigger(seconds=j.every_seconds),
                args=[name],
                id=name,
                next_run_time=start,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        aps.add_job(
            self.try_acquire,
            IntervalTrigger(seconds=max(1, self.lease_seconds // 3)),
            id="_lease",
            coalesce=True,
            max_instances=1,
        )
        aps.start()
        self._aps = aps

    def shutdown(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=True)
            self._aps = None
        self.release()
