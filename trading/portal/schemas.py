"""The portal API's query and answer: the public search of published announcements."""

from __future__ import annotations

from pydantic import Field

from trading.core.apispec import Reply
from trading.core.schemas import Schema
from trading.tenders.models import AnnouncementKind, TenderCategory, TenderState
from trading.tenders.schemas import AnnouncementOut


class AnnouncementSearchQuery(Schema):
    q: str = Field(default="", max_length=100, title="关键词")
    category: TenderCategory | None = Field(default=None, title="类别")
    region: str = Field(default="", pattern=r"^\d{0,6}$", title="地区代码（2–6 位数字）")
    status: TenderState | None = Field(default=None, title="项目状态")
    kind: AnnouncementKind | None = Field(default=None, title="公告类型")
    page: int = Field(default=1, ge=1, le=10_000, title="页码")
    page_size: int = Field(default=20, ge=1, le=100, title="每页条数")


class TenderBriefOut(Reply):
    code: str
    title: str
    category: TenderCategory
    region: str
    status: TenderState


class ListedAnnouncementOut(AnnouncementOut):
    tender: TenderBriefOut


class AnnouncementsOut(Reply):
    items: list[ListedAnnouncementOut]
    page: int
    page_size: int
    has_more: bool
