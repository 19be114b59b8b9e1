"""The document is served, and is valid OpenAPI 3.1."""

from __future__ import annotations

from flask import Flask
from openapi_spec_validator import validate


def test_openapi_json_is_served_and_valid(doc_app: Flask) -> None:
    r = doc_app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    codes = {e["code"] for e in doc["components"]["schemas"]["Error"]["x-error-codes"]}
    assert {"not_found", "invalid_input", "deadline_passed"} <= codes
