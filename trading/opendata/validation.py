"""Validation of releases and packages on the vendored OCDS schemas (JSON Schema Draft 4, as OCDS
uses), with the extensions merge-patched in. ``jsonschema`` is a development dependency: only the
CLI (``ggzy ocds validate``) and the tests import this module."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from trading.opendata.vendored import RELEASE_SCHEMA_URL, package_schema, release_schema


def _registry() -> Registry[Any]:
    patched = release_schema()
    return Registry().with_resources([(RELEASE_SCHEMA_URL, Resource.from_contents(patched, DRAFT4))])


def release_validator() -> Draft4Validator:
    return Draft4Validator(release_schema(), format_checker=Draft4Validator.FORMAT_CHECKER)


def package_validator(kind: str) -> Draft4Validator:
    """``release-package`` or ``record-package``: its releases are checked on the patched schema."""
    return Draft4Validator(package_schema(kind), registry=_registry(), format_checker=Draft4Validator.FORMAT_CHECKER)


def errors(validator: Draft4Validator, value: Any, limit: int = 20) -> list[str]:
    """Each error as ``path: message``, at most ``limit``."""
    found = []
    for e in validator.iter_errors(value):
        found.append(f"{'/'.join(str(p) for p in e.absolute_path) or '$'}: {e.message[:300]}")
        if len(found) >= limit:
            break
    return found


def check(value: Any) -> list[str]:
    """The errors of a release package, a record package, a record or a release (told apart by shape)."""
    if isinstance(value, dict) and "releases" in value and "uri" in value:
        return errors(package_validator("release-package"), value)
    if isinstance(value, dict) and "records" in value:
        return errors(package_validator("record-package"), value)
    if isinstance(value, dict) and "compiledRelease" in value:
        return errors(package_validator("record-package"), {**_stub(), "records": [value]})
    return errors(release_validator(), value)


def _stub() -> dict[str, Any]:
    return {"uri": "urn:x", "publisher": {"name": "x"}, "publishedDate": "2026-01-01T00:00:00Z", "version": "1.1"}
