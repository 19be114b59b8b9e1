"""The specialty names: one table, every code of the demo and the tests named, unknown codes kept."""

from __future__ import annotations

import re

from trading.procedures.specialties import SPECIALTY_NAMES, specialty_label, specialty_name


def test_codes_used_by_the_demo_and_tests_have_names() -> None:
    assert specialty_name("A01") == "规划"
    assert specialty_name("A08") == "工程施工"
    assert specialty_name("B02") == "医疗器械"
    assert specialty_label("C06") == "服务 · 法律"


def test_unknown_code_is_shown_as_it_is() -> None:
    assert specialty_name("Z99") == "Z99"
    assert specialty_label("Z99") == "Z99"


def test_every_code_has_the_pool_shape() -> None:
    """The pool and the draw accept ``[A-Z][0-9]{2}`` (evaluation.schemas.CODE)."""
    assert all(re.fullmatch(r"[ABC][0-9]{2}", code) for code in SPECIALTY_NAMES)
    assert len(set(SPECIALTY_NAMES.values())) == len(SPECIALTY_NAMES)
