"""The apidocs JSON API: the OpenAPI 3.1 document itself, /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from trading.accounts.permissions import Permission, requires
from trading.apidocs.document import build
from trading.core.apispec import documented

api = Blueprint("apidocs_api", __name__, url_prefix="/api/v1")


@api.get("/openapi.json")
@requires(Permission.PUBLIC)
@documented("本接口的 OpenAPI 3.1 文档", ok="application/json")
def openapi_document() -> Response:
    """The same document for everyone: it describes every route, whoever may call it."""
    return jsonify(build(current_app))
