"""Every duration rule, calendar and working days, with holidays and 调休 weekend workdays."""

import datetime as dt

import pytest

from archive.clock import SHANGHAI
from trading.procedures.calendar import add_days, days_between, earliest_deadline, is_working_day
from trading.procedures.models import DayKind

BJ = SHANGHAI


def at(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=BJ).astimezone(dt.UTC)


# 2026 National Day: 10-01..10-07 off, Sunday 09-27 and Saturday 10-10 worked (illustrative).
HOLIDAYS = {dt.date(2026, 10, d): False for d in range(1, 8)} | {
    dt.date(2026, 9, 27): True,
    dt.date(2026, 10, 10): True,
}


def test_law_24_twenty_calendar_days() -> None:
    issued = at(2026, 11, 2, 17, 30)
    assert days_between(issued, at(2026, 11, 22, 9), DayKind.CALENDAR, {}) == 20
    assert days_between(issued, at(2026, 11, 21, 23, 59), DayKind.CALENDAR, {}) == 19
    assert earliest_deadline(issued, 20, DayKind.CALENDAR, {}) == dt.date(2026, 11, 22)


def test_dates_are_beijing_dates_not_utc() -> None:
    # 2026-11-02 00:30 Beijing is still 11-01 in UTC: the count uses the Beijing date.
    issued = dt.datetime(2026, 11, 2, 0, 30, tzinfo=BJ)
    assert days_between(issued, dt.datetime(2026, 11, 22, 0, 10, tzinfo=BJ), DayKind.CALENDAR, {}) == 20


def test_law_23_fifteen_days_amendment_lead() -> None:
    assert days_between(at(2026, 12, 1), at(2026, 12, 16), DayKind.CALENDAR, {}) == 15
    assert days_between(at(2026, 12, 2), at(2026, 12, 16), DayKind.CALENDAR, {}) == 14


def test_working_days_skip_weekends_and_holidays() -> None:
    assert not is_working_day(dt.date(2026, 10, 1), HOLIDAYS)
    assert is_working_day(dt.date(2026, 9, 27), HOLIDAYS)  # a Sunday worked (调休)
    assert not is_working_day(dt.date(2026, 11, 21), {})  # Saturday
    # Fri 09-25 → next days: Sat off, Sun 27 worked(1), Mon 28(2), Tue 29(3), Wed 30(4), 1–7 off, Thu 8(5)
    assert days_between(at(2026, 9, 25), at(2026, 10, 8), DayKind.WORKING, HOLIDAYS) == 5
    assert add_days(at(2026, 9, 25), 5, DayKind.WORKING, HOLIDAYS) == at(2026, 10, 8)
    assert add_days(at(2026, 9, 30), 2, DayKind.WORKING, HOLIDAYS) == at(2026, 10, 9)


def test_state_property_twenty_working_days() -> None:
    issued = at(2026, 11, 2)  # Monday
    assert earliest_deadline(issued, 20, DayKind.WORKING, {}) == dt.date(2026, 11, 30)


@pytest.mark.parametrize("n", [0, 1, 3, 10, 20, 45])
def test_add_then_count_round_trips(n: int) -> None:
    for kind in DayKind:
        start = at(2026, 9, 24, 15)
        assert days_between(start, add_days(start, n, kind, HOLIDAYS), kind, HOLIDAYS) == n


def test_backwards_is_negative() -> None:
    assert days_between(at(2026, 11, 22), at(2026, 11, 20), DayKind.CALENDAR, {}) == -2
