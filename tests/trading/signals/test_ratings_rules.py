"""The ratings' rules as plain functions: marks and their reasons, an expert's standing over its
last ratings, the threshold's boundary, the suspension's period, the settings from the environment,
and the public aggregates' arithmetic."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from trading.core.formats import month_of
from trading.signals import ratings as r

UTC = dt.UTC
ALL = {"punctuality": 4, "diligence": 4, "quality": 4, "discipline": 4}


def test_a_mark_below_three_needs_a_reason_of_ten_to_five_hundred_characters() -> None:
    assert r.marks_errors(ALL, "") == {}
    assert r.marks_errors(ALL | {"quality": 3}, "") == {}  # 3 is not below 3
    low = ALL | {"discipline": 2}
    assert "评标纪律" in r.marks_errors(low, "")["reasons"]
    assert "reasons" in r.marks_errors(low, "太短了")  # 3 characters
    assert "reasons" in r.marks_errors(low, "   " + "迟到" + "   ")  # blanks do not count
    assert r.marks_errors(low, "评审中多次离席接听电话，影响进度") == {}
    assert "reasons" in r.marks_errors(ALL, "长" * 501)


@pytest.mark.parametrize("bad", [0, 6, -1, True, "3", None, 2.5])
def test_marks_are_whole_numbers_from_one_to_five(bad: object) -> None:
    marks: dict[str, Any] = ALL | {"diligence": bad}
    errors = r.marks_errors(marks, "理由足够长的一段说明文字")
    assert set(errors) == {"diligence"}


def test_a_rating_is_the_mean_of_its_marks_and_the_standing_the_mean_of_the_last_window() -> None:
    assert r.rating_average({"punctuality": 5, "diligence": 4, "quality": 3, "discipline": 1}) == Decimal("3.25")
    values = [Decimal(5), Decimal(1), Decimal(2), Decimal(3), Decimal(4), Decimal(2)]
    assert r.standing(values, 5) == Decimal("2.4")  # the oldest (5) is out of the window
    assert r.standing(values[:4], 5) is None  # fewer than the window: no standing yet
    assert r.standing(values, 1) == Decimal(2)


def test_the_threshold_is_strict() -> None:
    assert not r.suspends(Decimal("3.0"), Decimal("3.0"))
    assert r.suspends(Decimal("2.95"), Decimal("3.0"))
    assert not r.suspends(None, Decimal("3.0"))
    assert r.suspension_period(dt.date(2026, 12, 1), 90) == (dt.date(2026, 12, 1), dt.date(2027, 2, 28))


def test_the_settings_come_from_the_environment_within_bounds() -> None:
    assert r.policy_from({}) == r.Policy(5, Decimal("3.0"), 90)
    env = {r.ENV_WINDOW: "3", r.ENV_THRESHOLD: "2.5", r.ENV_DAYS: "30"}
    assert r.policy_from(env) == r.Policy(3, Decimal("2.5"), 30)
    for name, value in [
        (r.ENV_WINDOW, "0"),
        (r.ENV_WINDOW, "11"),
        (r.ENV_WINDOW, "５"),
        (r.ENV_THRESHOLD, "NaN"),
        (r.ENV_THRESHOLD, "5.1"),
        (r.ENV_THRESHOLD, "3,5"),
        (r.ENV_DAYS, "-1"),
        (r.ENV_DAYS, "1e3"),
    ]:
        with pytest.raises(r.PolicyError, match=name):
            r.policy_from({name: value})


def test_the_aggregates_count_average_bad_share_and_answers_on_time() -> None:
    jan = dt.datetime(2026, 1, 31, 17, 0, tzinfo=UTC)  # 2026-02-01 01:00 Beijing: February
    due = jan + dt.timedelta(days=20)
    facts = [
        r.RatingFact("opening", 5, jan - dt.timedelta(days=2), None, None),  # January
        r.RatingFact("opening", 4, jan, None, None),
        r.RatingFact("opening", 2, jan, due, due),  # answered exactly at the due instant: on time
        r.RatingFact("opening", 1, jan, due, due + dt.timedelta(seconds=1)),  # late
        r.RatingFact("opening", 1, jan, due, None),  # unanswered
        r.RatingFact("evaluation", 3, jan, None, None),
    ]
    cells = r.aggregate(facts)
    feb, whole = cells[("opening", "2026-02")], cells[("opening", "")]
    assert cells[("opening", "2026-01")].count == 1
    assert (feb.count, feb.total, feb.bad, feb.answered, feb.on_time) == (4, 8, 3, 2, 1)
    assert feb.average == Decimal(2) and feb.bad_share == Decimal("0.75")
    assert feb.on_time_share == Decimal(1) / 3
    assert whole.count == 5 and whole.average == Decimal("2.6")
    assert cells[("evaluation", "")].bad_share == 0 and cells[("evaluation", "")].on_time_share is None
    assert r.percent(Decimal("0.75")) == "75.0%" and r.percent(None) == "—"


def test_a_month_is_beijing_time() -> None:
    start, end = r.month_bounds("2026-12")
    assert start == dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC) and end == dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert month_of(start) == "2026-12" and month_of(end - dt.timedelta(seconds=1)) == "2026-12"


def test_a_tenderee_alone_never_suspends_an_expert() -> None:
    from trading.signals.models import RaterRole

    assert r.center_rated([RaterRole.TENDEREE, RaterRole.STAFF])
    assert not r.center_rated([RaterRole.TENDEREE] * 5)
