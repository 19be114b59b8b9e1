"""Amounts for people: thousands separators and capital numerals (大写) as bank practice writes them."""

import datetime as dt
from decimal import Decimal

import pytest

from trading.core.formats import amount_in_words, local_time, money


@pytest.mark.parametrize(
    ("value", "figures", "words"),
    [
        ("12800000.00", "12,800,000.00", "人民币壹仟贰佰捌拾万元整"),
        ("1005.30", "1,005.30", "人民币壹仟零伍元叁角"),
        ("0.05", "0.05", "人民币伍分"),
        ("10.07", "10.07", "人民币壹拾元零柒分"),
        ("100000001", "100,000,001.00", "人民币壹亿零壹元整"),
        ("10010000", "10,010,000.00", "人民币壹仟零壹万元整"),
        ("120050000.10", "120,050,000.10", "人民币壹亿贰仟零伍万元壹角"),
        ("100001000", "100,001,000.00", "人民币壹亿零壹仟元整"),
        ("0", "0.00", "人民币零元整"),
        (Decimal("99.90"), "99.90", "人民币玖拾玖元玖角"),
    ],
)
def test_amounts_in_figures_and_words(value: str | Decimal, figures: str, words: str) -> None:
    assert money(value) == figures
    assert amount_in_words(value) == words


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", "1e30"])
def test_what_is_not_an_amount_is_never_written_as_one(bad: str) -> None:
    assert amount_in_words(bad) == ""
    assert money(bad) == bad


def test_local_time_is_beijing() -> None:
    instant = dt.datetime(2026, 12, 3, 18, 8, tzinfo=dt.UTC)
    assert local_time(instant) == "2026-12-04 02:08:00"
    assert local_time(instant.isoformat(), seconds=False) == "2026-12-04 02:08"
    assert local_time(None) == ""


@pytest.mark.parametrize(
    ("value", "figures"), [("8999999.995", "8,999,999.995"), ("-0.004", "-0.004"), ("1.5", "1.50")]
)
def test_an_amount_is_never_rounded(value: str, figures: str) -> None:
    """Two prices that differ never read the same; 大写 stops at 分, so a finer amount has none."""
    assert money(value) == figures
    assert amount_in_words(value) == ("人民币壹元伍角" if value == "1.5" else "")


def test_an_instant_at_the_edge_of_time_is_shown_not_a_500() -> None:
    assert local_time(dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)) == "9999-12-31 23:00（UTC）"
