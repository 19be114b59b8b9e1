"""The platform database: declarative base, engine set-up, one session per request, migrations."""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import Enum, MetaData, create_engine, event, inspect, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

from archive.db import NAMING_CONVENTION, UTCDateTime, locked

if TYPE_CHECKING:
    from trading.core.config import Settings

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


def make_engine(url: str, **kw: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kw)
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


def _sqlite_setup(engine: Engine) -> None:
    """Foreign keys on, WAL, and BEGIN IMMEDIATE so that writers queue instead of failing late.

    pysqlite's own transaction handling is switched off (the SQLAlchemy-documented recipe), which
    also makes SAVEPOINTs work for the tests' per-test rollback.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Engine and session factory of one app (kept in ``app.extensions``)."""

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 10) -> None:
        self.url = url
        pool = {} if url.startswith("sqlite") else {"pool_size": pool_size, "max_overflow": max_overflow}
        self.engine = make_engine(url, **pool)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def of(cls, settings: Settings) -> Database:
        """The database of a platform process: its connections at most DATABASE_POOL_SIZE +
        DATABASE_MAX_OVERFLOW (infra/DEPLOY.md adds them up over the processes)."""
        return cls(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work outside a request (CLI, scheduler): commit on success, roll back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or update the schema: the only way the schema is ever made, tests included."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


@contextmanager
def trail_reader(url: str) -> Iterator[Session | None]:
    """A read-only look at the database's audit trail, None when there is none to read (no SQLite
    file, which asking does not create, or no ``audit_event`` table). A plain engine on one
    connection: the platform's SQLite engine begins every transaction IMMEDIATE, which would wait
    behind a writer, and this only reads."""
    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not pathlib.Path(file).exists():
        yield None
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        if not inspect(engine).has_table("audit_event"):
            yield None
            return
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def has_history(url: str) -> bool:
    """Whether the database already holds an audit trail: a platform that signed things with keys
    that must be restored, never made anew (an empty or absent schema holds none)."""
    with trail_reader(url) as session:
        return session is not None and session.scalar(text("SELECT 1 FROM audit_event LIMIT 1")) is not None


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def enum_values(enum: type[StrEnum]) -> list[str]:
    """An enum column stores the members' values (``"awarded"``), not their names."""
    return [m.value for m in enum]


def enum_column(cls: type[StrEnum], length: int = 20, *, checked: bool = True) -> Enum:
    """A column of ``cls``'s values as a plain string; ``checked`` adds the CHECK constraint that
    refuses any other value (the states of every lifecycle have one)."""
    return Enum(cls, native_enum=False, length=length, values_callable=enum_values, create_constraint=checked)


M = TypeVar("M", bound="Base")


def locked_singleton(session: Session, model: type[M], **initial: Any) -> M:
    """A one-row table's row (id 1), locked for the transaction, made with ``initial`` the first time:
    a sweep's read cursor, whose lock serialises two sweeps."""
    row = session.scalar(locked(select(model).where(model.__table__.c.id == 1)))
    if row is None:
        row = model(id=1, **initial)
        session.add(row)
        session.flush()
    return row
