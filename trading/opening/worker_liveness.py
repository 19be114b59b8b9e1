"""A decryption worker's liveness on PostgreSQL: each worker process holds an advisory lock under
a name of its own for as long as it lives, so that the other workers can tell at once that a job's
worker is gone (``trading.opening.decryption.requeue_stale``) rather than after ten minutes."""

from __future__ import annotations

import os
import re
import secrets
import socket

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from signing.digest import sm3

#: The first key of the PostgreSQL advisory locks that say a worker process lives ("ggzy").
LIVENESS_LOCK_CLASS = 0x67677A79


def worker_name() -> str:
    """A worker process's name, ``host:pid:token``. The random token tells apart two processes of
    the same host name and pid (a container restarted by its policy has both again). A name of
    this form says that its process holds its liveness lock; workers of releases before the lock
    named themselves ``host:pid`` (and are treated as holding none)."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"  # fits worker's 80


def holds_liveness(worker: str | None) -> bool:
    """Whether the worker of this name holds a liveness lock while it lives (``worker_name``): the
    name ends in a pid and an 8-digit hex token (a pid alone never has 8 digits of hex after it)."""
    return worker is not None and re.fullmatch(r".+:\d+:[0-9a-f]{8}", worker) is not None


def liveness_key(worker: str) -> int:
    """The second key of ``worker``'s liveness lock: 32 bits of the SM3 of its name."""
    return int.from_bytes(sm3(worker.encode())[:4], "big", signed=True)


class Liveness:
    """A worker's liveness lock (PostgreSQL) on a connection of its own, outside the process's
    pool: PostgreSQL drops the lock with the connection when the process dies (SIGKILL, OOM), or
    when the server's keepalive finds its host gone (set to about a minute on this connection),
    which ``worker_alive`` sees. Elsewhere it does nothing."""

    def __init__(self, url: str) -> None:
        self.worker = worker_name()
        self._engine = (
            create_engine(
                url,
                poolclass=NullPool,
                # the client's side too: a silently dropped network fails the next check in about a
                # minute, not TCP's fifteen; the name lets a reaper of idle sessions leave it alone
                connect_args={
                    "application_name": "ggzy-liveness",
                    "connect_timeout": 10,
                    "keepalives": 1,
                    "keepalives_idle": 30,
                    "keepalives_interval": 10,
                    "keepalives_count": 3,
                },
            )
            if url.startswith("postgresql")
            else None
        )
        self._conn: Connection | None = None

    def hold(self) -> None:
        """Take the lock, or check that it is still held; called before each claim, since a worker
        whose connection was cut would otherwise see every job it takes requeued under it."""
        if self._engine is None:
            return
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return
            except DBAPIError:
                self.release()  # cut: the lock went with it; take it again on a new connection
        conn = self._engine.connect()
        try:
            for setting in (
                "tcp_keepalives_idle = 30",
                "tcp_keepalives_interval = 10",
                "tcp_keepalives_count = 3",
                "idle_session_timeout = 0",  # idle between checks by design
            ):
                conn.execute(text(f"SET {setting}"))
            # never waits: a lock held by another session is a 32-bit key shared by chance, and
            # a new name settles it
            while not conn.scalar(
                text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": LIVENESS_LOCK_CLASS, "k": liveness_key(self.worker)}
            ):
                self.worker = worker_name()
            conn.commit()  # a session-level lock: it outlives this transaction, not the connection
        except BaseException:
            conn.invalidate()
            raise
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.invalidate()  # closed: the lock ends with the session
            self._conn = None

    def close(self) -> None:
        self.release()
        if self._engine is not None:
            self._engine.dispose()


def worker_alive(session: Session, worker: str | None) -> bool:
    """Whether the process that took a job still runs, when that can be told: on PostgreSQL, for a
    worker that holds a liveness lock (``Liveness``), if this transaction can take its lock, nobody
    holds it (the transaction's lock ends with it). Otherwise assume it lives."""
    if not holds_liveness(worker) or session.get_bind().dialect.name != "postgresql":
        return True
    assert worker is not None
    got = session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:c, :k)"), {"c": LIVENESS_LOCK_CLASS, "k": liveness_key(worker)}
    )
    return not got
