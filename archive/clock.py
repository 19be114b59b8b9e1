"""The one platform clock. Every instant is UTC; pages show Asia/Shanghai.

All code asks ``now()``; tests move time with ``set_clock``/``frozen``. (It lives here, in
the lowest package that records time, so that ``archive`` and ``trading`` share one clock.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

UTC = dt.UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _system() -> dt.datetime:
    return dt.datetime.now(UTC)


_source: Callable[[], dt.datetime] = _system


def now() -> dt.datetime:
    """The current platform time (aware, UTC)."""
    return _source()


def set_clock(source: Callable[[], dt.datetime] | None) -> None:
    """Replace the time source (None restores the system clock)."""
    global _source
    _source = source or _system


class FrozenClock:
    """A clock for tests that only moves when told to."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("clock times must be timezone-aware")
        self.current = start.astimezone(UTC)

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current

    def set(self, at: dt.datetime) -> None:
        self.current = at.astimezone(UTC)


@contextmanager
def frozen(start: dt.datetime) -> Iterator[FrozenClock]:
    clock = FrozenClock(start)
    previous = _source
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC; naive values (as SQLite returns them) are taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local(value: dt.datetime) -> dt.datetime:
    return as_utc(value).astimezone(SHANGHAI)
