"""The one way a page tells a refused input: each field by the name its form shows, the reason in Chinese.

``DomainError.fields`` is keyed by the request's paths (``lots.0.name``), the API's contract and
what a template looks up to mark a field; a person reads ``第1标段 · 标段名称：不能为空``. The names
come from the schema the request was parsed with (``trading.core.input_errors``): ``parse`` names
what pydantic refused, and a rule's own refusal (``fields={"username": "已存在"}``) is named from the
schema the page's form was read with (``web.form_body`` remembers it for the request).
"""

from __future__ import annotations

from flask import g, has_app_context
from pydantic import BaseModel

from trading.core.errors import DomainError
from trading.core.input_errors import path_label

WHOLE = "表单"


def remember_form_model(model: type[BaseModel]) -> None:
    """The schema this request's form was parsed with, to name the fields of a later refusal."""
    if has_app_context():
        g.form_model = model


def _form_model() -> type[BaseModel] | None:
    model = g.get("form_model") if has_app_context() else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def field_errors(exc: DomainError, model: type[BaseModel] | None = None) -> dict[str, str]:
    """``exc.fields`` keyed by what a person reads (``第1标段 · 估算价`` → ``应大于 0``), in order.
    A field no schema names keeps its path; the request as a whole (a rule across fields) is ``表单``."""
    model = model or _form_model()
    out: dict[str, str] = {}
    for key, message in exc.fields.items():
        name = exc.names.get(key) or (path_label(model, key) if model is not None else "")
        if not name:
            name = WHOLE if key in ("body", "") else key
        out[name] = f"{out[name]}；{message}" if name in out else message
    return out


def field_lines(exc: DomainError, model: type[BaseModel] | None = None) -> list[str]:
    """``field_errors`` as lines: ``第1标段 · 估算价：应大于 0``."""
    return [f"{name}：{message}" for name, message in field_errors(exc, model).items()]


def refusal_text(exc: DomainError, model: type[BaseModel] | None = None) -> str:
    """The refusal in one sentence, for a flash message: ``输入有误…（名称：不能为空；…）``."""
    lines = field_lines(exc, model)
    return f"{exc.message}（{'；'.join(lines)}）" if lines else exc.message
