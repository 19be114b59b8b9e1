"""Calendar-day and working-day arithmetic in Beijing time, with the editable holiday calendar.

Durations follow 招标投标法 usage: "at least N days from A to B" means the calendar date of B
in Asia/Shanghai is at least N days after the date of A (the day of A itself is not counted).
Working days count the days after A up to and including B that are working days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from archive.clock import SHANGHAI, local
from trading.procedures.models import DayKind

Overrides = Mapping[dt.date, bool]  # date → is a working day


def is_working_day(day: dt.date, overrides: Overrides) -> bool:
    if day in overrides:
        return overrides[day]
    return day.weekday() < 5


def days_between(a: dt.datetime, b: dt.datetime, kind: DayKind, overrides: Overrides) -> int:
    """Days from instant ``a`` to instant ``b`` (Beijing dates), calendar or working."""
    da, db = local(a).date(), local(b).date()
    if kind is DayKind.CALENDAR:
        return (db - da).days
    if db <= da:
        return -(da - db).days if db < da else 0
    n, d = 0, da
    while d < db:
        d += dt.timedelta(days=1)
        n += is_working_day(d, overrides)
    return n


def add_days(a: dt.datetime, n: int, kind: DayKind, overrides: Overrides) -> dt.datetime:
    """The same Beijing clock time ``n`` (calendar or working) days after ``a``."""
    la = local(a)
    if kind is DayKind.CALENDAR:
        target = la.date() + dt.timedelta(days=n)
    else:
        target, left = la.date(), n
        while left > 0:
            target += dt.timedelta(days=1)
            left -= is_working_day(target, overrides)
    return la.replace(year=target.year, month=target.month, day=target.day).astimezone(dt.UTC)


def earliest_deadline(issued_at: dt.datetime, min_days: int, kind: DayKind, overrides: Overrides) -> dt.date:
    """The first Beijing date a deadline may fall on."""
    return local(add_days(issued_at, min_days, kind, overrides)).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """24:00 Beijing time of ``day`` (the instant its next day begins), in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)


def period_end(start: dt.datetime, n: int, kind: DayKind, overrides: Overrides, *, extend: bool = True) -> dt.datetime:
    """When a period of ``n`` (calendar or working) days from ``start`` is over: the day of ``start``
    is not counted and the period ends at 24:00 of its last day; a calendar period whose last day is
    a rest day or a holiday ends with the next working day (``extend``) (《民法典》第二百零一条、
    第二百零三条). The one count of "within N days" limits: objections' answers, complaints' windows
    and the supervision clocks."""
    last = local(add_days(start, n, kind, overrides)).date()
    if kind is DayKind.CALENDAR and extend:
        while not is_working_day(last, overrides):
            last += dt.timedelta(days=1)
    return end_of_day(last)
