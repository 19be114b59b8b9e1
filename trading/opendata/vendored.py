"""The OCDS schemas vendored under ``vendor/`` (these machines cannot fetch them at run time): the
release schema of OCDS 1.1.5 with our extensions merge-patched in, as OCDS tooling does (RFC 7386,
the extension's ``release-schema.json`` applied to the standard's), and the package schemas."""

from __future__ import annotations

import copy
import json
import pathlib
from functools import cache
from typing import Any

VENDOR = pathlib.Path(__file__).resolve().parent / "vendor"
VERSION = "1.1"
SCHEMA_TAG = "1__1__5"
RELEASE_SCHEMA_URL = f"https://standard.open-contracting.org/schema/{SCHEMA_TAG}/release-schema.json"
RELEASE_PACKAGE_SCHEMA_URL = f"https://standard.open-contracting.org/schema/{SCHEMA_TAG}/release-package-schema.json"
RECORD_PACKAGE_SCHEMA_URL = f"https://standard.open-contracting.org/schema/{SCHEMA_TAG}/record-package-schema.json"

#: folder under vendor/extensions → the extension.json URL a package declares in ``extensions``.
EXTENSIONS: dict[str, str] = {
    "ocds_lots_extension": (
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/extension.json"
    ),
    "ocds_bid_extension": (
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json"
    ),
    "ocds_complaint_extension": (
        "https://raw.githubusercontent.com/openprocurement/ocds_complaint_extension/"
        "6491488ba45ac68dce6f513cdf61d0b1e2c5f23d/extension.json"
    ),
}


def _load(path: pathlib.Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@cache
def _release_schema() -> str:
    schema = _load(VENDOR / "standard" / "release-schema.json")
    for name in EXTENSIONS:
        schema = merge_patch(schema, _load(VENDOR / "extensions" / name / "release-schema.json"))
    return json.dumps(schema)


def release_schema() -> dict[str, Any]:
    """The patched release schema (a fresh copy: callers may change it)."""
    found: dict[str, Any] = json.loads(_release_schema())
    return found


def package_schema(kind: str) -> dict[str, Any]:
    """``release-package`` or ``record-package``, as vendored."""
    return _load(VENDOR / "standard" / f"{kind}-schema.json")


def extension_urls() -> list[str]:
    return list(EXTENSIONS.values())
