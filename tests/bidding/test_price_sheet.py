"""The price sheet is checked before sealing: only plain (ASCII) numbers, every declared field."""

import json

import pytest

from signing.price_sheet import PriceSheetError, build_price_sheet

DECLARED = [
    {"name": "duration_days", "label": "工期（日历天）", "kind": "integer"},
    {"name": "deposit", "label": "履约保证金", "kind": "amount"},
    {"name": "manager", "label": "项目经理", "kind": "text"},
]
GOOD = {"duration_days": "365", "deposit": "50000.00", "manager": "张工"}


def test_a_valid_sheet_is_canonical_json() -> None:
    sheet = json.loads(build_price_sheet("GGZY-2026-000001", 1, "12345678.90", GOOD, DECLARED))
    assert sheet == {
        "tender": "GGZY-2026-000001",
        "lot": 1,
        "price": "12345678.90",
        "fields": {"duration_days": 365, "deposit": "50000.00", "manager": "张工"},
    }


@pytest.mark.parametrize(
    ("price", "fields", "why"),
    [
        ("١٢٣", GOOD, "投标报价"),  # Arabic-Indic digits: a digit to Python, not a price
        ("0", GOOD, "投标报价"),
        ("1.234", GOOD, "投标报价"),
        ("100", GOOD | {"duration_days": "²"}, "工期"),  # isdigit() says yes, int() says no
        ("100", GOOD | {"duration_days": "9" * 5000}, "工期"),  # beyond int()'s digit limit
        ("100", GOOD | {"duration_days": "-1"}, "工期"),
        ("100", GOOD | {"deposit": "٥٠"}, "履约保证金"),
        ("100", GOOD | {"manager": ""}, "项目经理"),
        ("100", {k: v for k, v in GOOD.items() if k != "manager"}, "缺少字段"),
        ("100", GOOD | {"extra": "1"}, "未声明"),
    ],
)
def test_bad_values_are_refused_by_name(price: str, fields: dict[str, str], why: str) -> None:
    with pytest.raises(PriceSheetError, match=why):
        build_price_sheet("GGZY-2026-000001", 1, price, fields, DECLARED)
