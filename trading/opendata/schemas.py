"""What the opendata API answers, for the OpenAPI document. The releases and records themselves
are OCDS's (their schema is the vendored release schema, ``trading/opendata/vendor``), so they are
open objects here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from trading.core.apispec import Reply


class ReleasesQuery(BaseModel):
    since: str | None = Field(
        default=None, title="只要此时间及以后的发布（ISO 8601 日期或时间；不带时区按北京时间）", examples=["2026-12-01"]
    )
    after: int | None = Field(
        default=None, ge=0, le=2**31 - 1, title="翻页游标：上一页最后一条发布的序号（见 links.next）"
    )
    limit: int | None = Field(default=None, ge=1, le=500, title="每页条数，默认 100")


class Publisher(Reply):
    name: str


class PackageOut(Reply):
    uri: str
    version: str = Field(title="OCDS 版本", examples=["1.1"])
    publishedDate: str
    publisher: Publisher
    extensions: list[str] = Field(title="所用扩展的 extension.json 地址")
    publicationPolicy: str | None = Field(default=None, title="开放数据页：发布什么、不发布什么")


class Links(Reply):
    next: str | None = Field(default=None, title="下一页")


class ReleasePackageOut(PackageOut):
    """An OCDS release package (release-package-schema.json of OCDS 1.1.5)."""

    releases: list[dict[str, Any]] = Field(title="OCDS 发布（release），按发布顺序")
    links: Links | None = None


class RecordPackageOut(PackageOut):
    """An OCDS record package with one record: every release of the tender and the compiled release."""

    records: list[dict[str, Any]]


class BulkFile(Reply):
    day: str = Field(title="日期（北京时间），文件含此日结束前发布的全部内容")
    kind: str = Field(title="releases（全部发布）或 records（全部记录）")
    url: str
    sm3: str
    size: int
    count: int = Field(title="行数（JSON Lines）")
    created_at: str


class BulkFilesOut(Reply):
    items: list[BulkFile]
