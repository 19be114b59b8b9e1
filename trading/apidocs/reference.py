"""The OpenAPI document turned into what the reference page shows: operations by tag, each with
its permission, parameters, bodies, examples and error codes; the schemas as field tables; the
error catalogue. Text with `backticks` is split into prose and code, as the page shows code apart."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from trading.accounts.models import ROLE_LABELS, Role

REF = "#/components/schemas/"
Segments = list[tuple[bool, str]]  # (is code, text)


LATIN = re.compile(r"[A-Za-z][A-Za-z0-9_\-./:*]*[A-Za-z0-9*]|[A-Za-z]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def segments(text: str) -> Segments:
    """``a `b` c`` as [(False, "a "), (True, "b"), (False, " c")]: the page puts code in <code>.
    The prose is Chinese: a Latin word in it is a name (a field, a format, a header) and is shown
    as code too; a text with no Chinese at all (a model's docstring, written for developers) is
    left to the JSON document."""
    if not CJK.search(text or ""):
        return []
    out: Segments = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2 == 1:
            out.append((True, part))
            continue
        at = 0
        for m in LATIN.finditer(part):
            out += [(False, part[at : m.start()]), (True, m.group())]
            at = m.end()
        out.append((False, part[at:]))
    return [(is_code, t) for is_code, t in out if t]


def type_text(schema: dict[str, Any]) -> tuple[str, str | None]:
    """A schema's type as a reader writes it, and the schema it links to (if one)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return name, name
    for key in ("anyOf", "oneOf"):
        if key in schema:
            shown = [type_text(s) for s in schema[key]]
            link = next((ref for _, ref in shown if ref), None)
            return " | ".join(t for t, _ in shown), link
    kind = schema.get("type")
    if kind == "array":
        inner, link = type_text(schema.get("items", {}))
        return f"{inner}[]", link
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"]), None
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False), None
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner, link = type_text(schema["additionalProperties"])
        return f"{{string: {inner}}}", link
    text = str(kind or "any")
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text, None


@dataclass
class Field:
    name: str
    type: str
    link: str | None
    required: bool
    about: Segments


@dataclass
class Operation:
    anchor: str
    method: str
    path: str
    summary: Segments
    permission: Segments
    roles: str
    parameters: list[Field]
    body_type: str | None
    body_link: str | None
    body_media: str | None
    example: str | None
    responses: list[tuple[str, str, str | None, Segments]]  # status, type, link, what
    errors: list[tuple[str, list[tuple[str, Segments]]]]  # status, [(code, its meaning)]
    deprecated: bool


@dataclass
class Tag:
    name: str
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Schema:
    name: str
    about: Segments
    fields: list[Field]
    enum: list[str]


def _fields(schema: dict[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        shown, link = type_text(prop)
        title = prop.get("title", "")
        if title == name.replace("_", " ").title():
            title = ""  # pydantic's own, made from the field's name: says nothing the name does not
        about = " · ".join(filter(None, [title, prop.get("description", "")]))
        out.append(Field(name, shown, link, name in required, segments(about)))
    return out


def _body(op: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    content = op.get("requestBody", {}).get("content", {})
    for media, item in content.items():
        shown, link = type_text(item.get("schema", {}))
        example = item.get("example")
        return shown, link, media, None if example is None else json.dumps(example, ensure_ascii=False, indent=2)
    return None, None, None, None


def _operation(path: str, method: str, op: dict[str, Any], meaning: dict[str, str]) -> Operation:
    params = [
        Field(
            f"{p['name']}（{'路径' if p['in'] == 'path' else '查询'}）",
            *type_text(p.get("schema", {})),
            bool(p.get("required")),
            segments(p.get("description", "")),
        )
        for p in op.get("parameters", [])
    ]
    responses: list[tuple[str, str, str | None, Segments]] = []
    errors: list[tuple[str, list[tuple[str, Segments]]]] = []
    for status, r in op.get("responses", {}).items():
        if "x-error-codes" in r:
            errors.append((status, [(c, segments(meaning.get(c, ""))) for c in r["x-error-codes"]]))
        elif status != "default":
            content: dict[str, Any] = r.get("content", {})
            media: str | None = next(iter(content), None)
            item: dict[str, Any] = content[media] if media else {}
            shown, link = type_text(item.get("schema", {})) if media else ("（无内容）", None)
            if media and media != "application/json":
                shown = media
            responses.append((status, shown, link, segments(r.get("description", ""))))
    body_type, body_link, body_media, example = _body(op)
    roles = "、".join(ROLE_LABELS[Role(r)] for r in op.get("x-roles", []))
    permission = op.get("description", "").split("\n\n", 1)[0]
    return Operation(
        op["operationId"],
        method.upper(),
        path,
        segments(op.get("summary", "")),
        segments(permission),
        roles,
        params,
        body_type,
        body_link,
        body_media,
        example,
        responses,
        errors,
        bool(op.get("deprecated")),
    )


def reference(doc: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of ``doc``."""
    catalogue = doc["components"]["schemas"]["Error"]["x-error-codes"]
    meaning = {e["code"]: e["meaning"] for e in catalogue}
    tags: dict[str, Tag] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            tag = (op.get("tags") or ["其他"])[0]
            tags.setdefault(tag, Tag(tag)).operations.append(_operation(path, method, op, meaning))
    schemas = [
        Schema(name, segments(s.get("description", "")), _fields(s), [str(v) for v in s.get("enum", [])])
        for name, s in sorted(doc["components"]["schemas"].items())
        if name != "Error"
    ]
    return {
        "intro": [segments(p) for p in doc["info"]["description"].split("\n\n")],
        "tags": sorted(tags.values(), key=lambda t: t.name),
        "schemas": schemas,
        "errors": [(e["code"], "/".join(map(str, e["statuses"])), segments(e["meaning"])) for e in catalogue],
        "count": sum(len(t.operations) for t in tags.values()),
    }
