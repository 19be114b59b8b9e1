"""Region codes (GB/T 2260) shown as names."""

from __future__ import annotations

import pytest

from trading.accounts.regions import CITIES, DISTRICTS, PROVINCES, region_name


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("350000", "福建省"),
        ("350100", "福州市"),
        ("350102", "福州市鼓楼区"),
        ("350181", "福州市福清市"),
        ("350203", "厦门市思明区"),
        ("350405", "三明市沙县区"),
        ("110000", "北京市"),
        ("110100", "北京市"),
        ("650000", "新疆维吾尔自治区"),
        ("820000", "澳门特别行政区"),
    ],
)
def test_known_codes_are_named(code: str, name: str) -> None:
    assert region_name(code) == name


@pytest.mark.parametrize("code", ["999999", "350199", "359900", "12345", "abcdef", "", "3501001", "<b>"])
def test_an_unknown_code_is_shown_as_itself(code: str) -> None:
    assert region_name(code) == code


def test_none_is_empty() -> None:
    assert region_name(None) == ""


def test_every_fujian_city_has_districts_and_the_table_is_consistent() -> None:
    fujian = {code for code in CITIES if code.startswith("35")}
    assert len(fujian) == 9
    for city in fujian:
        assert any(d[:4] == city[:4] for d in DISTRICTS), city
    # Every district's city is known, and no name is blank.
    assert all(d[:4] + "00" in CITIES and d[:2] in PROVINCES for d in DISTRICTS)
    assert len(PROVINCES) == 34
    assert all(name for name in [*PROVINCES.values(), *CITIES.values(), *DISTRICTS.values()])
