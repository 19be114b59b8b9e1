"""Time-driven work: APScheduler under a database lease, so exactly one scheduler runs.

Jobs are *sweeps*: each selects what is due at ``now`` and calls the one transition function
for it, so a job that fires late, twice or not at all is harmless (every deadline is also
enforced when a request arrives). On start every job runs at once, which catches up anything
missed while no scheduler ran.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event, write_pending
from archive.db import locked
from trading.core.config import load_settings
from trading.core.db import Database
from trading.core.models import SchedulerLease
from trading.core.schemas import printable
from trading.core.services import Services

log = logging.getLogger("ggzy.scheduler")
JobFn = Callable[[Session, dt.datetime, Services], int]
T = TypeVar("T")
#: An item (a ceremony, a lot) whose automatic move failed this often is left for staff.
RETRY_CAP = 5
#: The wait before the n-th automatic retry is RETRY_BASE × 2^(n−1): a storage hiccup heals, and a
#: room whose every viewer's request retries does not reach the cap within seconds.
RETRY_BASE = dt.timedelta(seconds=15)
MESSAGE_LIMIT = 300


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


# ---------------------------------------------------------------- one item, one transaction
def error_summary(exc: BaseException) -> dict[str, str]:
    """The error's class and a short, printable message: messages may quote what a participant
    typed (reportlab quotes the paragraph it could not parse), so control characters (a forged
    log line) are shown escaped and the length is bounded."""
    text = printable(str(exc)[: MESSAGE_LIMIT * 2])
    return {"error": type(exc).__name__, "message": text[:MESSAGE_LIMIT]}


@dataclass(frozen=True)
class Failures:
    """The failed automatic moves of one item since it last moved (``count`` 0: none)."""

    count: int
    last_at: dt.datetime | None = None
    last: dict[str, Any] | None = None

    @property
    def capped(self) -> bool:
        return self.count >= RETRY_CAP

    def retry_due(self, now: dt.datetime) -> bool:
        """Whether an automatic attempt may run at ``now`` (staff's own attempt always may)."""
        if self.count == 0 or self.last_at is None:
            return True
        return not self.capped and now >= self.last_at + RETRY_BASE * 2 ** (self.count - 1)

    def to_json(self) -> dict[str, Any] | None:
        if not self.count:
            return None
        return {
            "failures": self.count,
            "cap": RETRY_CAP,
            "gave_up": self.capped,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            **(self.last or {}),
        }


def failures(
    session: Session, action: str, obj: tuple[str, str], since: dt.datetime | None = None, **match: str
) -> Failures:
    """``action`` events about ``obj`` (at or after ``since``, if given) whose payload has every
    ``match``. The audit trail is the record: no counter to keep in step with it."""
    q = select(AuditEvent.at, AuditEvent.payload).where(
        AuditEvent.action == action, AuditEvent.object_type == obj[0], AuditEvent.object_id == obj[1]
    )
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    rows = session.execute(q.order_by(AuditEvent.seq)).all()
    parsed = [(at, json.loads(raw)) for at, raw in rows]
    found = [(at, body) for at, body in parsed if all(body.get(k) == v for k, v in match.items())]
    if not found:
        return Failures(0)
    at, body = found[-1]
    return Failures(len(found), clock.as_utc(at), body)


def each_apart(session: Session, items: Iterable[T], move: Callable[[T], int], name: str) -> int:
    """Call ``move`` for each item in a transaction of its own, committed before the next begins,
    so one item that fails (or whose commit fails) neither undoes nor stops the others. ``move``
    records its own failures where it can (an audit event staff see); what still escapes it is
    rolled back and logged here, and the next sweep tries again. Returns the sum of what ``move``
    returned (True counts 1)."""
    session.commit()  # what the job did before is its own
    changed = 0
    for item in items:
        try:
            moved = move(item)
            session.commit()
            changed += int(moved)
        except OperationalError as exc:  # contention or a lost connection: nothing wrong with the item
            session.rollback()
            log.warning("%s: %r not moved this time (%s)", name, item, error_summary(exc)["message"])
        except Exception as exc:
            session.rollback()
            log.error("%s: %r failed: %s", name, item, error_summary(exc), exc_info=exc)
    return changed


def attempt(
    session: Session, action: str, obj: tuple[str, str], now: dt.datetime, move: Callable[[], int], **match: str
) -> int:
    """One item's automatic move (inside its own transaction: see ``each_apart``), in a savepoint.
    A failure is undone alone and, in the enclosing transaction, logged with its trace and recorded
    as an ``action`` audit event about ``obj`` (``match``, error class, short message, count,
    ``gave_up``): staff read it in the audit trail. The item is tried again after RETRY_BASE ×
    2^(n−1) and left alone after RETRY_CAP failures; ``match`` tells apart the moves one item
    makes in turn (an archive package per end state). Returns what ``move`` returned (0 when it
    did not run or failed). For items that move once: failures are counted over the whole trail."""
    before = failures(session, action, obj, None, **match)
    if not before.retry_due(now):
        return 0
    write_pending(session)  # appends made before the savepoint must not be dropped with it
    try:
        with session.begin_nested():
            return move()
    except OperationalError:
        raise  # contention or a lost connection: each_apart rolls back, the next sweep tries again
    except Exception as exc:  # a broken item: it must stop no other
        count = before.count + 1
        log.error("%s %s:%s (failure %s of %s)", action, obj[0], obj[1], count, RETRY_CAP, exc_info=exc)
        payload = {**match, **error_summary(exc), "failures": count, "gave_up": count >= RETRY_CAP}
        record_event(session, SYSTEM, action, obj, payload)
        return 0


def each_attempted(
    session: Session,
    items: Iterable[T],
    now: dt.datetime,
    job: str,
    failure: str,
    about: Callable[[T], tuple[str, str]],
    move: Callable[[T], int],
    match: Callable[[T], dict[str, str]] | None = None,
) -> int:
    """The shape of every sweep over independent items: each in its own transaction
    (``each_apart``), moved through ``attempt``, whose failure is the audit event ``failure``
    about ``about(item)`` (told apart by ``match(item)`` where one item moves more than once)."""
    return each_apart(
        session,
        items,
        lambda item: attempt(session, failure, about(item), now, lambda: move(item), **(match(item) if match else {})),
        job,
    )


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
        # the composition root imports every module with jobs first (``trading.app.import_job_modules``)
        self.jobs = JOBS if jobs is None else jobs
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._aps: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self.runs: dict[str, int] = {}
        #: waiting for another process's lease (logged once when it starts, and when it ends)
        self.standby = False

    def try_acquire(self) -> bool:
        """Take or renew the lease; False while another live scheduler holds it."""
        with self.database.session() as s:
            lease = s.execute(locked(select(SchedulerLease).where(SchedulerLease.id == 1))).scalar_one()
            now = clock.now()
            if lease.holder not in ("", self.holder) and lease.expires_at > now:
                if not self.standby:  # said once, when this process starts waiting
                    log.info(
                        "备用：租约由 %s 持有，它停止后接替 (standby: lease held by %s)", lease.holder, lease.holder
                    )
                self.standby = True
                return False
            if lease.holder != self.holder:
                log.info(
                    "已取得定时任务租约，开始运行定时任务 (lease acquired; previous holder: %s)", lease.holder or "—"
                )
                self.standby = False
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
