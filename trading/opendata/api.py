"""The opendata JSON API: OCDS releases (paged, a release package), a tender's record (a record
package) and the daily bulk files. Open data: anyone may read it; only published tenders have
releases (``publish.publish_tender``)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from archive import clock
from signing.digest import sm3_hex
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import InvalidInput, NotFound
from trading.core.services import services
from trading.opendata import publish
from trading.opendata.compiled import record, record_package, release_package
from trading.opendata.models import OcdsBulk
from trading.opendata.schemas import BulkFilesOut, RecordPackageOut, ReleasePackageOut, ReleasesQuery

api = Blueprint("opendata_api", __name__, url_prefix="/api/v1")

PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
OCID = re.compile(r"^[A-Za-z0-9-]{1,80}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_since(raw: str | None) -> dt.datetime | None:
    """``since``: an ISO 8601 date or instant; without an offset it is Beijing time."""
    if raw is None or raw == "":
        return None
    if len(raw) > 40 or "\x00" in raw:
        raise InvalidInput("since 应为 ISO 8601 日期或时间", fields={"since": "ISO 8601 日期或时间"})
    try:
        if len(raw) == 10:
            at = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time())
        else:
            at = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=clock.SHANGHAI)
        return at.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            "since 应为 ISO 8601 日期或时间，例如 2026-12-01 或 2026-12-01T08:00:00+08:00",
            fields={"since": "ISO 8601 日期或时间"},
        ) from None


def parse_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} 应为 {low}–{high} 的整数", fields={name: f"{low}–{high} 的整数"})
    return int(raw)


def policy() -> str:
    return url_for("opendata.index", _external=True)


@api.get("/ocds/releases")
@requires(Permission.PUBLIC)
@documented("OCDS 发布包（分页）", ok=ReleasePackageOut, query=ReleasesQuery, errors=("invalid_input",))
def releases() -> Response:
    """Releases in publication order, a page at a time: ``links.next`` carries the cursor."""
    since_raw = request.args.get("since")
    since = parse_since(since_raw)
    after = parse_int("after", 0, 0, 2**31 - 1)  # the id column is a 32-bit integer
    limit = parse_int("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    rows = publish.release_rows(web.db(), since, after, limit)
    links: dict[str, str] = {}
    if len(rows) == limit:
        args: dict[str, Any] = {"after": rows[-1].id, "limit": limit}
        if since_raw:
            args["since"] = since_raw
        links["next"] = url_for("opendata_api.releases", _external=True, **args)
    pkg = release_package(request.url, [json.loads(r.body) for r in rows], clock.now(), links, policy())
    return jsonify(pkg)


@api.get("/ocds/records/<ocid>")
@requires(Permission.PUBLIC)
@documented("一个项目的 OCDS 记录包", ok=RecordPackageOut, errors=("invalid_input",))
def record_of(ocid: str) -> Response:
    if not OCID.match(ocid):
        raise InvalidInput("ocid 格式不正确", fields={"ocid": "如 ocds-ggzy00-GGZY-2026-000001"})
    found = publish.releases_of(web.db(), ocid)
    if not found:
        raise NotFound("没有这个 ocid 的开放数据（项目未发布或编号有误）")
    return jsonify(record_package(request.url, [record(found)], clock.now(), policy()))


def bulk_json(b: OcdsBulk) -> dict[str, object]:
    return {
        "day": b.day.isoformat(),
        "kind": b.kind,
        "url": url_for("opendata_api.bulk_file", day=b.day.isoformat(), kind=b.kind, _external=True),
        "sm3": b.sm3,
        "size": b.size,
        "count": b.count,
        "created_at": clock.as_utc(b.created_at).isoformat(),
    }


@api.get("/ocds/bulk")
@requires(Permission.PUBLIC)
@documented("每日批量文件列表", ok=BulkFilesOut)
def bulk_list() -> Response:
    """The daily bulk files (JSON Lines, gzip), newest first."""
    return jsonify({"items": [bulk_json(b) for b in publish.bulk_files(web.db())]})


@api.get("/ocds/bulk/<day>/<kind>.jsonl.gz")
@requires(Permission.PUBLIC)
@documented("下载一个批量文件（JSON Lines，gzip）", ok="application/gzip")
def bulk_file(day: str, kind: str) -> Response:
    if not DAY.match(day) or kind not in publish.BULK_KINDS:
        raise NotFound("没有这个批量文件")
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise NotFound("没有这个批量文件") from None
    found = publish.bulk_file(web.db(), when, kind)
    if found is None:
        raise NotFound("没有这个批量文件")
    data = services(current_app).store.read_bytes(found.object_key)
    if sm3_hex(data) != found.sm3:
        raise NotFound("批量文件已损坏，请稍后再试")
    name = f"ocds-{kind}-{day}.jsonl.gz"
    return Response(
        data, mimetype="application/gzip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
