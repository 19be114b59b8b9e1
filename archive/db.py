"""Archive metadata: its own declarative base, shared column types, and the one way to lock rows."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from archive.clock import as_utc

if TYPE_CHECKING:
    from sqlalchemy import Select

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC instants on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: platform instants are aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else as_utc(value)


class ArchiveBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


def locked(stmt: SelectT, *, skip_locked: bool = False, of: Any = None) -> SelectT:
    """``stmt`` with FOR UPDATE, its rows read as the lock finds them. Without populate_existing a
    row the session already holds keeps the values it had before the lock was granted (the
    identity map never overwrites loaded attributes), and a transition checked against them could
    run twice. Every locked read of ours goes through here."""
    return stmt.with_for_update(skip_locked=skip_locked, of=of).execution_options(populate_existing=True)
