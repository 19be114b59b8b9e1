"""The document is served, and is valid OpenAPI 3.1."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from openapi_spec_validator import validate

from trading.apidocs.document import CACHE, build


def test_openapi_json_is_served_and_valid(doc_app: Flask) -> None:
    r = doc_app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    codes = {e["code"] for e in doc["components"]["schemas"]["Error"]["x-error-codes"]}
    assert {"not_found", "invalid_input", "deadline_passed"} <= codes


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {value["$ref"]} if isinstance(value.get("$ref"), str) else set().union(*map(_refs, value.values()))
    if isinstance(value, list):
        return set().union(*map(_refs, value))
    return set()


def test_documents_built_at_once_are_whole(doc_app: Flask) -> None:
    """spectree moves nested models out as it builds: four builds at once (a threaded server)
    each still find every schema their references name."""

    def one() -> dict[str, Any]:
        with doc_app.app_context():
            doc_app.extensions.pop(CACHE, None)
            return build(doc_app)

    with ThreadPoolExecutor(4) as pool:
        docs = list(pool.map(lambda _: one(), range(4)))
    for doc in docs:
        names = {f"#/components/schemas/{n}" for n in doc["components"]["schemas"]}
        assert _refs(doc) - names == set()
        assert doc["components"]["schemas"].keys() == docs[0]["components"]["schemas"].keys()
