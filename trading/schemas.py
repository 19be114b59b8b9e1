"""Request parsing shared by the API and the pages: pydantic models, errors in Chinese."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from trading.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "必填",
    "string_too_short": "太短",
    "string_too_long": "太长",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文本",
    "enum": "取值无效",
    "literal_error": "取值无效",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "list_type": "应为列表",
    "too_short": "至少需要一项",
    "extra_forbidden": "不允许的字段",
    "bool_parsing": "应为是/否",
    "bool_type": "应为是/否",
    "greater_than": "数值太小",
    "less_than_equal": "数值太大",
    "value_error": "取值无效",
    "datetime_from_date_parsing": "日期时间格式不正确",
    "datetime_parsing": "日期时间格式不正确",
}


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


#: PostgreSQL's text cannot hold NUL (0x00); it is refused alike on every database.
NUL_REFUSED = "输入不能包含空字符（NUL, 0x00）"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse(model: type[M], data: Any) -> M:
    """Validate ``data``; raise InvalidInput with a message per field."""
    if not isinstance(data, dict):
        raise InvalidInput("请求内容应为 JSON 对象 (body must be a JSON object)")
    if _has_nul(data):
        raise InvalidInput(NUL_REFUSED, code="nul_character")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "body"
            msg = err.get("ctx", {}).get("error") if err["type"] == "value_error" else None
            fields[name] = str(msg or _MESSAGES.get(err["type"], "取值无效"))
        raise InvalidInput("输入有误，请检查标出的字段", fields=fields) from None
