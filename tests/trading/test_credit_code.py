import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.accounts.credit_code import CHARSET, check_character, credit_code_problem

REAL = ["91350100M000100Y43", "91110000802100433B", "91440300708461136T"]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid(code: str) -> None:
    assert credit_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("9135010", "18 位"),
        ("91350100M000100Y4I", "字符"),
        ("Z1350100M000100Y43", "字符"),
        ("H1350100M000100Y43", "第 1 位"),
        ("9135AB00M000100Y43", "行政区划"),
        ("91350100M000100Y44", "校验位"),
    ],
)
def test_invalid_codes_name_the_reason(code: str, reason: str) -> None:
    problem = credit_code_problem(code)
    assert problem is not None and reason in problem


body = st.tuples(
    st.sampled_from("123456789ANY"),
    st.sampled_from(CHARSET),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(CHARSET, min_size=9, max_size=9),
).map("".join)


@given(body, st.integers(0, 16), st.sampled_from(CHARSET))
def test_any_single_substitution_is_caught(first17: str, pos: int, new: str) -> None:
    """31 is prime and no weight is 0 mod 31, so changing any one of the first 17 characters changes the check."""
    code = first17 + check_character(first17)
    assert credit_code_problem(code) is None
    changed = code[:pos] + new + code[pos + 1 :]
    if changed != code and changed[0] in "123456789ABCDEFGNY" and changed[2:8].isdigit():
        assert credit_code_problem(changed) == "统一社会信用代码校验位错误"
