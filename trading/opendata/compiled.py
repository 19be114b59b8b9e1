"""Records and packages: a tender's releases merged into its compiled release (the OCDS merge
routine, with the merge rules read from the vendored, patched schema), and the release and
record packages the API, the bulk files and the CLI hand out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from trading.opendata.build import instant
from trading.opendata.vendored import VERSION, extension_urls, release_schema

Json = dict[str, Any]
Path = tuple[str, ...]

PUBLISHER = {"name": "公共资源交易平台"}


@cache
def merge_rules() -> dict[Path, str]:
    """``omitWhenMerged`` and ``wholeListMerge`` by field path (OCDS 1.1 merging), as ocdsmerge reads them."""
    schema = release_schema()
    defs = schema["definitions"]

    def resolve(node: Json) -> Json:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def types(node: Json) -> list[str]:
        t = node.get("type", [])
        return [t] if isinstance(t, str) else list(t)

    rules: dict[Path, str] = {}

    def walk(props: Json, path: Path, seen: frozenset[str]) -> None:
        for key, raw in props.items():
            value = resolve(raw)
            here = (*path, key)
            ref = raw.get("$ref", "")
            if ref in seen:
                continue
            inner = seen | {ref} if ref else seen
            ts = types(value) or types(raw)
            if value.get("omitWhenMerged") or raw.get("omitWhenMerged"):
                rules[here] = "omitWhenMerged"
            elif "array" in ts and (value.get("wholeListMerge") or raw.get("wholeListMerge")):
                rules[here] = "wholeListMerge"
            elif "object" in ts and "properties" in value:
                walk(value["properties"], here, inner)
            elif "array" in ts and "items" in value:
                items = resolve(value["items"])
                item_ref = value["items"].get("$ref", "")
                if any(t != "object" for t in types(items)):
                    rules[here] = "wholeListMerge"
                elif "properties" in items:
                    if "id" not in items["properties"]:
                        rules[here] = "wholeListMerge"
                    elif item_ref not in seen:
                        walk(items["properties"], here, inner | {item_ref} if item_ref else inner)

    walk(schema["properties"], (), frozenset())
    return rules


def _merge(old: Any, new: Any, path: Path, rules: dict[Path, str]) -> Any:
    if isinstance(new, dict):
        base = dict(old) if isinstance(old, dict) else {}
        for key, value in new.items():
            here = (*path, key)
            rule = rules.get(here)
            if rule == "omitWhenMerged":
                continue
            if value is None:
                base.pop(key, None)
            elif isinstance(value, list) and rule != "wholeListMerge" and all(isinstance(i, dict) for i in value):
                base[key] = _merge_by_id(base.get(key), value, here, rules)
            else:
                base[key] = _merge(base.get(key), value, here, rules)
        return base
    return json.loads(json.dumps(new))


def _merge_by_id(old: Any, new: list[Json], path: Path, rules: dict[Path, str]) -> list[Json]:
    """Objects with the same ``id`` merge; new ids are appended in order of first appearance."""
    merged: dict[str, Json] = {str(i.get("id")): i for i in old} if isinstance(old, list) else {}
    for item in new:
        key = str(item.get("id"))
        merged[key] = _merge(merged.get(key), item, path, rules)
    return list(merged.values())


def compile_releases(releases: Iterable[Json]) -> Json:
    """The compiled release of one contracting process (its releases in date order, ties in the
    given order, as OCDS and ocdsmerge merge them)."""
    ordered = sorted(releases, key=lambda r: str(r["date"]))
    rules = merge_rules()
    data: Json = {}
    for r in ordered:
        body = {k: v for k, v in r.items() if k not in ("tag", "id", "date")}
        data = _merge(data, body, (), rules)
        data |= {"id": f"{r['ocid']}-{r['date']}", "date": r["date"], "ocid": r["ocid"]}
    data["tag"] = ["compiled"]
    return data


def record(releases: list[Json]) -> Json:
    return {"ocid": releases[0]["ocid"], "releases": releases, "compiledRelease": compile_releases(releases)}


def _package(uri: str, published: dt.datetime, policy: str | None) -> Json:
    pkg: Json = {
        "uri": uri,
        "version": VERSION,
        "publishedDate": instant(published),
        "publisher": dict(PUBLISHER),
        "extensions": extension_urls(),
    }
    if policy:
        pkg["publicationPolicy"] = policy  # the 开放数据 page, which says what is published and withheld
    return pkg


def release_package(
    uri: str, releases: list[Json], published: dt.datetime, links: Json | None = None, policy: str | None = None
) -> Json:
    pkg = _package(uri, published, policy) | {"releases": releases}
    if links:
        pkg["links"] = links
    return pkg


def record_package(uri: str, records: list[Json], published: dt.datetime, policy: str | None = None) -> Json:
    return _package(uri, published, policy) | {"records": records}


#: characters that some readers take for a line end: escaped, so a JSON Lines file keeps one
#: release per line for every reader (a title may hold them)
LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})


def dumps(value: Any) -> str:
    """The one JSON form releases are stored and served in (sorted keys, UTF-8 text; the Unicode
    line separators escaped, as JSON allows)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).translate(LINE_BREAKS)
