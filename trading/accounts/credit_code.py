"""统一社会信用代码 (unified social credit code), GB 32100-2015: 18 characters, last is a check."""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authority (登记管理部门) codes allowed in position 1.
AUTHORITIES = "123456789ABCDEFGNY"


def check_character(first17: str) -> str:
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """None when valid, else the reason in Chinese."""
    if len(code) != 18:
        return "统一社会信用代码应为 18 位"
    if any(c not in CHARSET for c in code):
        return "统一社会信用代码含有不允许的字符（只允许数字和除 I、O、S、V、Z 外的大写字母）"
    if code[0] not in AUTHORITIES:
        return "统一社会信用代码第 1 位（登记管理部门代码）无效"
    if not code[2:8].isdigit():
        return "统一社会信用代码第 3–8 位应为行政区划代码"
    if check_character(code[:17]) != code[17]:
        return "统一社会信用代码校验位错误"
    return None


def normalise(code: str) -> str:
    return code.strip().upper()
