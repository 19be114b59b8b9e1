"""Canonical JSON: the byte form that every platform signature covers.

Rules (documented in ENVELOPE.md): UTF-8, object keys sorted by code point, no insignificant
white space, no floats (amounts are decimal strings or integers), strings as JSON escapes
only where JSON requires them. Two implementations that follow these rules produce the
same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from signing.errors import StatementError


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, float):
        raise StatementError(f"{path}: 不允许浮点数，请用字符串表示金额 (floats are not canonical)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise StatementError(f"{path}: keys must be strings")
            _check(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]")
    elif not (value is None or isinstance(value, bool | int | str)):
        raise StatementError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """Canonical UTF-8 bytes of a JSON value (dict, list, str, int, bool, None)."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_canonical(data: bytes) -> Any:
    """Parse and insist the input was canonical (so a signature covers exactly what is read)."""
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_reject_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatementError("不是有效的 JSON (not valid JSON)") from exc
    if canonical_json(value) != data:
        raise StatementError("JSON 不是规范形式 (JSON is not in canonical form)")
    return value


def _reject_float(text: str) -> Any:
    raise StatementError("不允许浮点数 (floats are not canonical)")
