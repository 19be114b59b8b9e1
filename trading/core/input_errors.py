"""How a refused input is told to a person: the field named as the form names it, the reason in Chinese.

A field's name comes from its schema's pydantic ``title`` (``Field(title="估算价")``), read along the
error's path: ``("lots", 0, "estimated_price")`` in ``TenderIn`` is ``第1标段 · 估算价`` when the list
``lots`` is titled 标段 (a list's item is numbered with the list's title: 第1标段, 第2评分因素;
``第1项`` where the list has none). A field with no title is shown by its path, so a missing title
shows up on the page rather than a wrong name. The reason is pydantic's error type in Chinese, with
its limits (``不能超过 200 个字符``); a schema's own ``ValueError`` is already Chinese and is shown as
it is. A pattern cannot be read by a person: a field with one may say what it expects with
``json_schema_extra={"hint": "6 位数字"}``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

SEPARATOR = " · "

#: pydantic's error types (pydantic_core ErrorType) in Chinese; ``{name}`` is the error's context
MESSAGES: dict[str, str] = {
    "missing": "必填",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文字",
    "string_sub_type": "应为文字",
    "string_unicode": "应为文字",
    "enum": "不是可选的值",
    "literal_error": "不是可选的值",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "int_parsing_size": "整数超出范围",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字",
    "decimal_parsing": "应为数字，例如 12800000.00",
    "decimal_type": "应为数字，例如 12800000.00",
    "decimal_max_digits": "数字不能超过 {max_digits} 位",
    "decimal_max_places": "小数不能超过 {decimal_places} 位",
    "decimal_whole_digits": "整数部分不能超过 {whole_digits} 位",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "multiple_of": "应为 {multiple_of} 的整数倍",
    "list_type": "应为一组值",
    "tuple_type": "应为一组值",
    "set_type": "应为一组值",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "extra_forbidden": "不是可填写的字段",
    "bool_parsing": "应为“是”或“否”",
    "bool_type": "应为“是”或“否”",
    "dict_type": "格式不正确",
    "model_type": "格式不正确",
    "model_attributes_type": "格式不正确",
    "datetime_parsing": "日期时间格式不正确，例如 2026-12-20T09:30:00+08:00",
    "datetime_from_date_parsing": "日期时间格式不正确，例如 2026-12-20T09:30:00+08:00",
    "datetime_type": "日期时间格式不正确，例如 2026-12-20T09:30:00+08:00",
    "date_parsing": "日期格式不正确，例如 2026-12-20",
    "date_from_datetime_parsing": "日期格式不正确，例如 2026-12-20",
    "date_from_datetime_inexact": "应为日期，不含时间",
    "date_type": "日期格式不正确，例如 2026-12-20",
    "time_parsing": "时间格式不正确，例如 09:30",
    "time_type": "时间格式不正确，例如 09:30",
    "timezone_aware": "时间必须带时区，例如 +08:00",
    "timezone_naive": "时间不能带时区",
    "datetime_past": "应为已过去的时间",
    "datetime_future": "应为将来的时间",
    "date_past": "应为已过去的日期",
    "date_future": "应为将来的日期",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "url_parsing": "网址格式不正确",
    "url_type": "网址格式不正确",
    "url_scheme": "网址格式不正确",
    "uuid_parsing": "格式不正确",
    "uuid_type": "格式不正确",
    "bytes_type": "格式不正确",
    "none_required": "应为空",
    "union_tag_invalid": "类型不正确",
    "union_tag_not_found": "缺少类型",
}
OTHERWISE = "取值无效"


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Optional[X]`` as ``X``; ``Annotated[X, …]`` as ``X``; other unions as they are."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    found = _unwrap(annotation)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _field(model: type[BaseModel], name: str) -> FieldInfo | None:
    field = model.model_fields.get(name)
    if field is not None:
        return field
    return next((f for f in model.model_fields.values() if name in (f.alias, f.validation_alias)), None)


def _walk(model: type[BaseModel], loc: Sequence[int | str]) -> tuple[list[str], FieldInfo | None, Any]:
    """The names along ``loc``, the last field met and the annotation ``loc`` ends at."""
    parts: list[str] = []
    annotation: Any = model
    field: FieldInfo | None = None
    list_title: str | None = None
    for step in loc:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        current = _model(annotation)
        if isinstance(step, int) and origin in (list, tuple, set, frozenset, Sequence):
            if list_title is not None and parts and parts[-1] == list_title:
                parts.pop()  # 标段 then 0 is read 第1标段, not 标段 · 第1项
            parts.append(f"第{step + 1}{list_title or '项'}")
            args = typing.get_args(annotation)
            annotation = args[0] if args else Any
            list_title = None
            continue
        if origin in (dict, Mapping):
            args = typing.get_args(annotation)
            parts.append(str(step))
            annotation = args[1] if len(args) == 2 else Any
            list_title = None
            continue
        if current is not None and isinstance(step, str):
            field = _field(current, step)
            if field is None:
                continue  # a union member's tag, which names no field
            title = field.title or step
            parts.append(title)
            annotation = field.annotation
            list_title = field.title
            continue
        # a union member's tag (``int``, ``function-after[…]``): it names nothing a person wrote
    return parts, field, annotation


def field_label(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """``("lots", 0, "estimated_price")`` → ``第1标段 · 估算价``; empty for the request as a whole."""
    return SEPARATOR.join(_walk(model, loc)[0])


def path_label(model: type[BaseModel], path: str) -> str:
    """``field_label`` for a dotted path as the API's ``fields`` keys are written (``lots.0.name``)."""
    loc: list[int | str] = [int(p) if p.isdigit() else p for p in path.split(".") if p]
    if loc and loc[0] == "body":
        loc = loc[1:]
    return field_label(model, loc)


def _choices(annotation: Any) -> str | None:
    """An enum's labels (``货物、工程、服务``) where its members have a ``label``."""
    found = _unwrap(annotation)
    if isinstance(found, type) and issubclass(found, Enum):
        labels = [getattr(m, "label", None) for m in found]
        if all(isinstance(x, str) for x in labels):
            return "、".join(str(x) for x in labels)
    return None


def error_message(error: Mapping[str, Any], model: type[BaseModel] | None = None) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in Chinese."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and ctx.get("error"):
        return str(ctx["error"]).removeprefix("Assertion failed, ")
    field: FieldInfo | None = None
    annotation: Any = None
    if model is not None:
        _, field, annotation = _walk(model, tuple(error.get("loc", ())))
    if kind in ("enum", "literal_error"):
        choices = _choices(annotation)
        if choices:
            return f"应为以下之一：{choices}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "不能为空"
    if kind == "string_pattern_mismatch" and field is not None:
        extra = field.json_schema_extra
        hint = extra.get("hint") if isinstance(extra, dict) else None
        if isinstance(hint, str):
            return f"格式不正确，应为{hint}"
    template = MESSAGES.get(kind)
    if template is None:
        return OTHERWISE
    try:
        return template.format(**{k: str(v) for k, v in ctx.items()})
    except (KeyError, IndexError):  # a context pydantic did not give: no half sentence
        return OTHERWISE


def hint(text: str) -> dict[str, Any]:
    """``json_schema_extra`` for a field with a pattern: what a person should type (``6 位数字``)."""
    return {"hint": text}
