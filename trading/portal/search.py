"""The public portal: search published announcements (with the bigram terms each one stores,
``trading.tenders.search``), the query string it reads, and the Atom feed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import String, or_, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, selectinload

from trading.accounts.regions import known_regions
from trading.core.errors import InvalidInput
from trading.core.schemas import whole_number
from trading.tenders.models import (
    CATEGORY_LABELS,
    KIND_LABELS,
    STATE_LABELS,
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    Tender,
    TenderCategory,
    TenderState,
)
from trading.tenders.search import query_terms


def search_choices() -> dict[str, Any]:
    """What the search form offers to choose from, by name (the form shows no codes)."""
    regions = known_regions()
    return {
        "categories": CATEGORY_LABELS,
        "states": STATE_LABELS,
        "kinds": KIND_LABELS,
        "regions": regions,
        "region_codes": {code for code, _ in regions},
    }


@dataclass(frozen=True)
class PortalQuery:
    q: str = ""
    category: TenderCategory | None = None
    region: str = ""  # a prefix of the division code: "35" province, "3501" city, "350102" district
    status: TenderState | None = None
    kind: AnnouncementKind | None = None
    page: int = 1
    page_size: int = 20


E = TypeVar("E", bound=Enum)


#: the query string's parameters as the search form names them (errors name these, not the keys)
PARAMETERS = {
    "category": "类别",
    "region": "地区",
    "status": "项目状态",
    "kind": "公告类型",
    "page": "页码",
    "page_size": "每页条数",
}


def _number(args: Mapping[str, str], name: str, default: str, maximum: int) -> int:
    try:
        return whole_number(args.get(name, "") or default, name, minimum=1, maximum=maximum)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{PARAMETERS[name]}应为 1–{maximum} 之间的整数", code="bad_integer", fields=exc.fields
        ) from None


def portal_query(args: Mapping[str, str]) -> PortalQuery:
    """The query string of the portal page and of ``/api/v1/announcements``, checked; a bad value
    is a named 422 in Chinese, its field keyed by the parameter."""

    def enum(cls: type[E], name: str) -> E | None:
        raw = args.get(name, "")
        if not raw:
            return None
        try:
            return cls(raw)
        except ValueError:
            raise InvalidInput(f"{PARAMETERS[name]}不是可选的值", fields={name: "取值无效"}) from None

    region = args.get("region", "")
    if region and (not region.isdigit() or len(region) > 6):
        raise InvalidInput("地区代码应为 2–6 位数字", fields={"region": "格式不正确"})
    return PortalQuery(
        q=args.get("q", "")[:100],
        category=enum(TenderCategory, "category"),
        region=region,
        status=enum(TenderState, "status"),
        kind=enum(AnnouncementKind, "kind"),
        page=_number(args, "page", "1", 10_000),
        page_size=_number(args, "page_size", "20", 100),
    )


def like_pattern(text: str) -> str:
    """``text`` as an ILIKE pattern matching it anywhere, its wildcards escaped (``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session: Session, pq: PortalQuery) -> tuple[list[tuple[Announcement, Tender]], bool]:
    """Published announcements, newest first; returns one page and whether more follow."""
    stmt = (
        select(Announcement, Tender)
        .join(Tender, Tender.id == Announcement.tender_id)
        .where(Announcement.status == AnnouncementState.PUBLISHED)
        .options(selectinload(Tender.lots))  # each row shows its tender's estimate
    )
    if pq.category is not None:
        stmt = stmt.where(Tender.category == pq.category)
    if pq.region:
        # 350100 (a city) also matches its districts 3501xx; 35 matches the whole province.
        stmt = stmt.where(Tender.region.like(pq.region.rstrip("0") + "%"))
    if pq.status is not None:
        stmt = stmt.where(Tender.status == pq.status)
    if pq.kind is not None:
        stmt = stmt.where(Announcement.kind == pq.kind)
    text = pq.q.strip()
    if text:
        phrase = or_(
            Announcement.title.ilike(like_pattern(text), escape="\\"),
            Announcement.body.ilike(like_pattern(text), escape="\\"),
            Tender.code.ilike(like_pattern(text), escape="\\"),
        )
        terms = query_terms(text)
        if session.get_bind().dialect.name == "postgresql" and terms:
            # The column is a JSON variant in the model; on PostgreSQL it is text[] with a GIN index.
            array = type_coerce(Announcement.search_terms, postgresql.ARRAY(String(40)))
            stmt = stmt.where(array.contains(terms), phrase)
        else:
            stmt = stmt.where(phrase)
    stmt = stmt.order_by(Announcement.published_at.desc(), Announcement.id.desc())
    stmt = stmt.offset((pq.page - 1) * pq.page_size).limit(pq.page_size + 1)
    rows = [(a, t) for a, t in session.execute(stmt)]
    return rows[: pq.page_size], len(rows) > pq.page_size


def atom(rows: list[tuple[Announcement, Tender]], base_url: str, updated: str) -> bytes:
    ns = "http://www.w3.org/2005/Atom"
    feed = ET.Element("feed", xmlns=ns)
    ET.SubElement(feed, "title").text = "公共资源交易平台 · 公告"
    ET.SubElement(feed, "id").text = f"{base_url}/feed.atom"
    ET.SubElement(feed, "updated").text = updated
    ET.SubElement(feed, "link", rel="self", href=f"{base_url}/feed.atom")
    for a, t in rows:
        e = ET.SubElement(feed, "entry")
        ET.SubElement(e, "title").text = a.title
        ET.SubElement(e, "id").text = f"{base_url}/announcements/{a.id}"
        ET.SubElement(e, "link", href=f"{base_url}/announcements/{a.id}")
        assert a.published_at is not None
        ET.SubElement(e, "updated").text = a.published_at.isoformat()
        ET.SubElement(e, "category", term=t.category.value, label=t.category.label)
        ET.SubElement(e, "summary").text = a.body[:500]
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
