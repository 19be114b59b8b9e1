"""The OpenAPI 3.1 document: spectree's description of the documented views, completed with what
only the app knows (each route's permission and who holds it), the named error codes of every
answer, binary media types and examples.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import Flask

from trading.accounts.models import ROLE_LABELS, Role
from trading.accounts.permissions import EVERY_USER, ROLE_PERMISSIONS, Permission, endpoint_rule
from trading.core.apispec import Operation, operation_of, reference
from trading.core.error_codes import ERROR_CODES
from trading.core.schemas import INT64_MAX

PREFIX = "/api/v1"
CACHE = "ggzy.openapi"
METHODS = ("get", "post", "put", "patch", "delete")
BEARER = "bearer"
ISSUER = "issuerSignature"
#: the codes every route of a kind may answer, besides those it names
SIGNED_IN_CODES = ("unauthenticated", "invalid_token", "forbidden")
BODY_CODES = ("unsupported_media_type", "malformed_json", "invalid_input", "bad_integer", "nul_character")
#: a path parameter with a slash in it (``%2F``) can reach another route, or none
PATH_CODES = ("not_found", "http_404", "http_405")
ISSUER_CODES = ("message_invalid", "message_stale", "message_replayed", "message_signature_invalid", "unknown_client")
#: any request: NUL is refused in its path and query (web._refuse_nul); a value no column can hold
#: (on PostgreSQL, an id beyond 2^31 - 1 in an integer column) is unstorable; contention and storage
ALWAYS_CODES = ("nul_character", "unstorable_input", "busy_retry", "storage_unavailable")

INTRO = """ggzy 公共资源交易平台的 JSON 接口（`/api/v1`），本文档由代码生成（`trading/core/apispec.py`），与运行中的代码一致。

认证：先以用户名和密码调用 `POST /api/v1/auth/token` 取得访问令牌（或用证书登录：`/api/v1/auth/challenge`、`/api/v1/auth/sm2`），之后每个请求带请求头 `Authorization: Bearer <令牌>`。每个接口注明所需权限（`x-permission`）和持有该权限的角色（`x-roles`）。保函出具机构的接口（`/api/v1/issuer/…`）不用令牌，而是对每个请求做 SM2 签名。

错误：所有错误的响应体都是 `{"error": {"code", "message", "fields"?, "field_labels"?}}`；`code` 是稳定的错误码（见错误码表及各接口的错误响应），`message` 是给人看的中文说明，可能改变。请求体的校验错误（422）在 `fields` 中按字段路径说明，在 `field_labels` 中给出字段的中文名称。

时间：带时区的 ISO 8601 字符串（UTC）；金额：十进制字符串，单位元。"""


def roles_holding(permission: Permission) -> list[Role]:
    """The roles whose users hold ``permission`` (every role, for what every signed-in user holds)."""
    if permission in EVERY_USER:
        return list(Role)
    return [role for role in Role if permission in ROLE_PERMISSIONS[role]]


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>", r"{\1}", rule)


def api_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(path in the document, method, endpoint) of every /api/v1 route."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        for method in sorted(rule.methods or ()):
            if method.lower() in METHODS:
                out.append((openapi_path(rule.rule), method.lower(), rule.endpoint))
    return sorted(out)


def media_schema(media_type: str) -> dict[str, Any]:
    """A non-model answer's schema: JSON of its own shape, a stream of server-sent events, or bytes."""
    if media_type.endswith("json"):
        return {"type": "object"}
    if media_type == "text/event-stream":
        return {
            "type": "object",
            "description": "服务器推送事件（SSE）：每个事件有 event 名称和 JSON 文本的 data",
            "properties": {"event": {"type": "string"}, "data": {"type": "string"}, "id": {"type": "string"}},
        }
    return {"type": "string", "format": "binary"}


def error_schema() -> dict[str, Any]:
    catalogue = "\n".join(
        f"- `{code}`（{'/'.join(map(str, e.statuses))}）：{e.meaning}" for code, e in ERROR_CODES.items()
    )
    return {
        "type": "object",
        "title": "Error",
        "description": "错误响应。",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "稳定的错误码：\n" + catalogue},
                    "message": {"type": "string", "description": "给人看的中文说明"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "各字段的错误，按请求中的路径（如 lots.0.name）",
                    },
                    "field_labels": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "同样的路径的中文名称（如 第1标段 · 标段名称）",
                    },
                    "current": {"description": "（部分错误）当前状态"},
                    "allowed": {"description": "（部分错误）可以进入的状态"},
                    "rows": {
                        "type": "array",
                        "description": "（信用名单导入）有误的行：行号（0 为整个文件）、字段和原因",
                        "items": {
                            "type": "object",
                            "required": ["row", "field", "message"],
                            "properties": {
                                "row": {"type": "integer"},
                                "field": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
        "x-error-codes": [
            {"code": c, "statuses": list(e.statuses), "meaning": e.meaning} for c, e in ERROR_CODES.items()
        ],
    }


def _codes_for(op: Operation, permission: Permission | None, has_body: bool, has_path: bool) -> list[str]:
    codes: list[str] = []
    if permission is Permission.ISSUER_SIGNED:
        codes += ISSUER_CODES
    elif permission is not None and permission is not Permission.PUBLIC:
        codes += SIGNED_IN_CODES
    if has_body:
        codes += BODY_CODES
    if has_path:
        codes += PATH_CODES
    codes += op.errors
    codes += ALWAYS_CODES
    return list(dict.fromkeys(codes))


def _error_responses(codes: list[str]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        for status in ERROR_CODES[code].statuses:
            by_status.setdefault(status, []).append(code)
    out: dict[str, Any] = {}
    for status in sorted(by_status):
        listed = by_status[status]
        out[str(status)] = {
            "description": "；".join(f"`{c}`：{ERROR_CODES[c].meaning}" for c in listed),
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "examples": {
                        c: {"value": {"error": {"code": c, "message": ERROR_CODES[c].meaning}}} for c in listed
                    },
                }
            },
            "x-error-codes": listed,
        }
    return out


def _permission_text(permission: Permission | None) -> str:
    if permission is None:
        return "未声明权限（将被拒绝）。"
    if permission is Permission.PUBLIC:
        return "权限：公开，无需登录。"
    if permission is Permission.ISSUER_SIGNED:
        return "权限：保函出具机构的接口客户端，每个请求带 SM2 签名（X-GGZY-* 头），不用访问令牌。"
    roles = "、".join(ROLE_LABELS[r] for r in roles_holding(permission))
    return f"权限：`{permission.value}`（{roles}）。"


def _complete(entry: dict[str, Any], op: Operation, permission: Permission | None, endpoint: str) -> None:
    entry["operationId"] = endpoint.replace(".", "__")
    entry["summary"] = op.summary
    described = entry.get("description") or ""
    if described.startswith(op.summary):
        described = ""
    entry["description"] = "\n\n".join(filter(None, [_permission_text(permission), described]))
    if permission is not None:
        entry["x-permission"] = permission.value
        entry["x-roles"] = [r.value for r in roles_holding(permission)] if permission is not Permission.PUBLIC else []
    if permission is Permission.PUBLIC:
        entry["security"] = [{}, {BEARER: []}]
    elif permission is Permission.ISSUER_SIGNED:
        entry["security"] = [{ISSUER: []}]
    else:
        entry["security"] = [{BEARER: []}]
    for param in entry.get("parameters", []):
        if param.get("in") == "path" and param["schema"].get("type") == "integer":
            param["schema"] = {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX}
        if param.get("in") == "path" and not param.get("description"):
            param.pop("description", None)
    has_path = any(p.get("in") == "path" for p in entry.get("parameters", []))
    if op.raw is not None:
        entry["requestBody"] = {
            "required": True,
            "content": {op.raw: {"schema": {"type": "string", "format": "binary"}}},
        }
    body = entry.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and op.example is not None:
        body["example"] = dict(op.example)
    responses: dict[str, Any] = entry.setdefault("responses", {})
    ok = responses.setdefault(str(op.status), {"description": op.summary})
    ok["description"] = op.summary
    if op.media_type is not None:
        schema = media_schema(op.media_type)
        ok["content"] = {op.media_type: {"schema": schema}}
    for status, text in op.also.items():
        responses[str(status)] = {"description": text}
    responses.update(_error_responses(_codes_for(op, permission, body is not None or op.raw is not None, has_path)))
    responses["default"] = {
        "description": "其他错误（见 Error 模式中的错误码）",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build(app: Flask) -> dict[str, Any]:
    """The document for ``app``'s routes (call it in an app context). Built once per app and kept
    (about a second of work, on a public route); built again if routes were added since. Callers
    must not change it: copy it first."""
    rules = len(list(app.url_map.iter_rules()))
    kept: tuple[int, dict[str, Any]] | None = app.extensions.get(CACHE)
    if kept is None or kept[0] != rules:
        kept = (rules, _build(app))
        app.extensions[CACHE] = kept
    return kept[1]


def _build(app: Flask) -> dict[str, Any]:
    spec = copy.deepcopy(reference.document())
    paths: dict[str, Any] = {}
    for path, method, endpoint in api_routes(app):
        view = app.view_functions.get(endpoint)
        op = operation_of(view)
        entry = spec["paths"].get(path, {}).get(method)
        if op is None or entry is None:
            continue
        _complete(entry, op, endpoint_rule(app, endpoint), endpoint)
        paths.setdefault(path, {})[method] = entry
    spec["paths"] = paths
    spec["info"]["description"] = INTRO
    spec["servers"] = [{"url": "/", "description": "本平台"}]
    spec["security"] = [{BEARER: []}]
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = error_schema()
    components["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/token 取得的访问令牌"},
        ISSUER: {
            "type": "apiKey",
            "in": "header",
            "name": "X-GGZY-Signature",
            "description": "保函出具机构：X-GGZY-Client、X-GGZY-Timestamp、X-GGZY-Nonce 与对它们及请求体的 SM2 签名",
        },
    }
    spec["tags"] = sorted(spec.get("tags", []), key=lambda t: str(t.get("name")))
    return spec


def undocumented(app: Flask) -> list[str]:
    """``METHOD path (endpoint)`` of every /api/v1 route the document leaves out or gives no response."""
    doc = build(app)
    missing = []
    for path, method, endpoint in api_routes(app):
        entry = doc["paths"].get(path, {}).get(method)
        if entry is None or not entry.get("responses"):
            missing.append(f"{method.upper()} {path} ({endpoint})")
    return missing
