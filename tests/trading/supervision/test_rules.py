"""The seed rules at their boundaries (the last day, a holiday, a 调休 working day), the colour of a
clock at an instant, a pause, and the event tokens. Pure: no database.

The calendar of these tests: the National Day holiday 2026-10-01 (Thu) to 10-07 (Wed), with the
weekend days Sun 2026-09-27 and Sat 2026-10-10 worked (调休)."""

from __future__ import annotations

import datetime as dt

import pytest

from archive.clock import SHANGHAI
from trading.supervision.models import Colour, LimitUnit
from trading.supervision.rules import (
    SEED,
    SEED_BY_CODE,
    RuleTokenError,
    colour_at,
    due_instant,
    next_check,
    parse_actions,
    parse_token,
    period_end,
    resumed,
    yellow_instant,
)

HOLIDAYS = {dt.date(2026, 10, d): False for d in range(1, 8)}
CALENDAR = HOLIDAYS | {dt.date(2026, 9, 27): True, dt.date(2026, 10, 10): True}


def bj(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=SHANGHAI)


def end_of(day: str) -> dt.datetime:
    """24:00 Beijing of ``day``."""
    return bj(day, 0) + dt.timedelta(days=1)


# (rule, start day (10:00 Beijing), the last day of the period, calendar) — each rule: an ordinary
# week, a period that meets the holiday, and one where a 调休 Sunday/Saturday counts as worked
CASES = [
    # 3 calendar days: Mon → Thu; Mon 9-28 → Thu 10-1 is a holiday → Thu 10-8; Thu 9-24 → Sun 9-27 is worked
    *[
        (code, start, last, cal)
        for code in ("objection_answer", "publicity_start")
        for start, last, cal in (
            ("2026-09-21", "2026-09-24", CALENDAR),
            ("2026-09-28", "2026-10-08", CALENDAR),
            ("2026-09-24", "2026-09-27", CALENDAR),
            ("2026-09-24", "2026-09-28", HOLIDAYS),  # without the 调休 the Sunday is a day off: Monday
        )
    ],
    # 5 calendar days
    ("bond_release", "2026-09-23", "2026-09-28", CALENDAR),
    ("bond_release", "2026-09-26", "2026-10-08", CALENDAR),
    ("bond_release", "2026-09-22", "2026-09-27", CALENDAR),
    # 30 calendar days
    ("contract", "2026-08-03", "2026-09-02", CALENDAR),
    ("contract", "2026-09-01", "2026-10-08", CALENDAR),
    ("contract", "2026-08-28", "2026-09-27", CALENDAR),
    # 3 working days: Fri 9-25 → Sun 9-27 (调休), Mon, Tue; Tue 9-29 → Wed 9-30, Thu 10-8, Fri 10-9
    *[
        (code, start, last, cal)
        for code in ("staff_review", "complaint_accept_construction")
        for start, last, cal in (
            ("2026-09-14", "2026-09-17", CALENDAR),
            ("2026-09-25", "2026-09-29", CALENDAR),
            ("2026-09-25", "2026-09-30", HOLIDAYS),
            ("2026-09-29", "2026-10-09", CALENDAR),
        )
    ],
    # 5 working days: Mon 9-28 → 9-29, 9-30, 10-8, 10-9, Sat 10-10 (调休)
    *[
        (code, start, last, CALENDAR)
        for code in ("complaint_accept_procurement", "complaint_statement", "archive_package")
        for start, last in (("2026-09-14", "2026-09-21"), ("2026-09-28", "2026-10-10"))
    ],
    # 10 working days: the 10th is the 调休 Sunday; across the holiday
    ("award_after_publicity", "2026-09-14", "2026-09-27", CALENDAR),
    ("award_after_publicity", "2026-09-21", "2026-10-09", CALENDAR),
    # 30 working days
    *[
        (code, start, last, CALENDAR)
        for code in ("complaint_decide_construction", "complaint_decide_procurement")
        for start, last in (("2026-08-03", "2026-09-14"), ("2026-09-07", "2026-10-22"))
    ],
    # 15 working days: across the holiday, the 调休 Sunday counted
    *[
        ("service_rating_answer", s, e, CALENDAR)
        for s, e in (("2026-09-14", "2026-10-09"), ("2026-09-01", "2026-09-22"))
    ],
]


def test_every_seed_rule_has_a_boundary_case_and_its_source_quoted() -> None:
    assert {c[0] for c in CASES} == {r.code for r in SEED}
    for r in SEED:
        assert r.source and len(r.source_text) >= 20, r.code
        assert ("平台规定" in r.source) or ("第" in r.source and "条" in r.source), r.code
        assert 0 <= r.yellow_value < r.limit_value
        parse_actions(r.start_action)
        parse_actions(r.stop_actions, stop=True)
        assert len(r.start_action) <= 64 and len(r.stop_actions) <= 300 and len(r.source) <= 200
    # the numbers in the law's words are the limits
    assert "3日内作出答复" in SEED_BY_CODE["objection_answer"].source_text
    assert "30个工作日内" in SEED_BY_CODE["complaint_decide_procurement"].source_text
    assert "5日内" in SEED_BY_CODE["bond_release"].source_text
    assert "三十日内" in SEED_BY_CODE["contract"].source_text


@pytest.mark.parametrize(("code", "start", "last", "cal"), CASES)
def test_the_limit_ends_at_midnight_of_its_last_day(code: str, start: str, last: str, cal: dict[dt.date, bool]) -> None:
    rule = SEED_BY_CODE[code]
    t0 = bj(start)
    due = due_instant(t0, rule, cal)
    assert due == end_of(last)
    yellow = yellow_instant(t0, rule, cal)
    assert t0 < yellow < due
    assert colour_at(yellow, due, None, due - dt.timedelta(microseconds=1)) is Colour.YELLOW
    assert colour_at(yellow, due, None, due) is Colour.RED  # done at 24:00 is late
    assert colour_at(yellow, due, None, yellow - dt.timedelta(microseconds=1)) is Colour.GREEN


def test_yellow_is_the_limit_shortened_without_the_holiday_extension() -> None:
    rule = SEED_BY_CODE["objection_answer"]  # 3 days, yellow 1 day before
    t0 = bj("2026-09-21")
    assert yellow_instant(t0, rule, CALENDAR) == end_of("2026-09-23")
    # the period meets the holiday: the limit moves to 10-8, the warning still starts after day 2
    t0 = bj("2026-09-28")
    assert yellow_instant(t0, rule, CALENDAR) == end_of("2026-09-30")
    assert due_instant(t0, rule, CALENDAR) == end_of("2026-10-08")
    # working days: 2 working days before the 3rd is the end of the 1st (before the weekend)
    t0 = bj("2026-09-17")  # Thu: Fri 9-18, (Sun 9-27 is far) Mon 9-21, Tue 9-22
    staff = SEED_BY_CODE["staff_review"]
    assert yellow_instant(t0, staff, CALENDAR) == end_of("2026-09-18")
    assert due_instant(t0, staff, CALENDAR) == end_of("2026-09-22")


def test_a_start_late_at_night_or_on_a_day_off_counts_from_the_next_day() -> None:
    rule = SEED_BY_CODE["staff_review"]  # 3 working days
    # Friday 23:59 Beijing is Friday: Mon, Tue, Wed
    assert due_instant(bj("2026-09-18", 23), rule, {}) == end_of("2026-09-23")
    # Saturday 00:30 Beijing (Friday 16:30 UTC) is Saturday: Mon, Tue, Wed too
    sat = dt.datetime(2026, 9, 18, 16, 30, tzinfo=dt.UTC)
    assert due_instant(sat, rule, {}) == end_of("2026-09-23")


def test_hours_and_a_yellow_span_as_long_as_the_limit() -> None:
    t0 = bj("2026-10-01")
    assert period_end(t0, 48, LimitUnit.HOURS, CALENDAR) == t0 + dt.timedelta(hours=48)  # holidays do not matter

    class Rule:
        limit_value, limit_unit, yellow_value = 24, LimitUnit.HOURS, 24

    assert yellow_instant(t0, Rule(), {}) == t0  # yellow from the start
    assert colour_at(t0, t0 + dt.timedelta(hours=24), None, t0) is Colour.YELLOW


def test_a_paused_clock_keeps_its_colour_and_resumes_later_by_the_pause() -> None:
    t0 = bj("2026-09-21")
    yellow, due = t0 + dt.timedelta(days=2), t0 + dt.timedelta(days=3)
    paused_at = t0 + dt.timedelta(days=1)
    # a week later it would be red; paused, it is still green
    assert colour_at(yellow, due, paused_at, t0 + dt.timedelta(days=8)) is Colour.GREEN
    y2, d2 = resumed(yellow, due, dt.timedelta(days=7))
    assert (y2, d2) == (yellow + dt.timedelta(days=7), due + dt.timedelta(days=7))
    assert colour_at(y2, d2, None, t0 + dt.timedelta(days=8, hours=12)) is Colour.GREEN
    assert next_check(Colour.GREEN, y2, d2) == y2
    assert next_check(Colour.YELLOW, y2, d2) == d2
    assert next_check(Colour.RED, y2, d2) is None


def test_tokens_are_read_and_unknown_ones_refused() -> None:
    m = parse_token("evaluation.stage[to=reported]")
    assert m.matches("evaluation.stage", {"to": "reported"}, lambda g: False)
    assert not m.matches("evaluation.stage", {"to": "scoring"}, lambda g: True)
    g = parse_token("lot.fail[@package]")
    asked: list[str] = []

    def holds(guard: str) -> bool:
        asked.append(guard)
        return True

    assert g.matches("lot.fail", {}, holds)
    assert asked == ["package"]
    assert parse_token("complaint.withdraw[@complaint]", stop=True).complaint_scope
    for bad in ("lot", "lot.award[", "lot.fail[@nonsense]", "lot.fail[to=a b]", "complaint.withdraw[@complaint]"):
        with pytest.raises(RuleTokenError):
            parse_token(bad)
